"""What checking the whole library on open costs (`PRAGMA quick_check`, see music/library/database.py).

Every command that opens the library reads all of its pages once, so that a
database with damaged pages is refused before anything reads or writes it.
This builds a library of N tracks (long paths and tags, as a scan stores
them) and D detections, checkpoints it, and times the check and a whole
`Library.open()`, each the best of a few runs (the file is in the page cache,
as it is for a command run after another).

    python bench/library_check.py [--tracks 50000] [--detections 3000]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moodplayer.music.library import Library, database  # noqa: E402


def build(path: Path, tracks: int, detections: int) -> None:
    with Library.open(path) as lib:
        lib.store_scanned(
            [
                {
                    "location": f"/home/someone/Music/Artist {n // 100}/Album {n // 10}/{n:05d} A Track.flac",
                    "title": f"A Track With A Name {n}",
                    "artist": f"Artist {n // 100}",
                    "album": f"Album {n // 10}",
                    "duration": 200.0,
                    "size": 5_000_000,
                    "mtime": 1.0,
                }
                for n in range(tracks)
            ]
        )
        with lib.transaction():
            for _ in range(detections):
                lib.record_detection("happy", {"happy": 0.9, "sad": 0.1}, 0.1, 0.2, "match", "a playlist", "microphone")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def best_ms(run, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--detections", type=int, default=3_000)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "moodplayer.db"
    build(path, args.tracks, args.detections)
    conn = sqlite3.connect(path)
    check = best_ms(lambda: conn.execute("PRAGMA quick_check(3)").fetchall())
    conn.close()
    opened = best_ms(lambda: Library.open(path).close())
    database.QUICK_CHECK_BYTES = 0  # as if the library were too large to check
    unchecked = best_ms(lambda: Library.open(path).close())
    print(
        f"{args.tracks} tracks, {args.detections} detections, {path.stat().st_size / 1e6:.1f} MB: "
        f"quick_check {check:.1f} ms; Library.open() {opened:.1f} ms with it, {unchecked:.1f} ms without"
    )


if __name__ == "__main__":
    main()
