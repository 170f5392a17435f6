"""Benchmark `moodplayer library scan` on a generated library, idle and beside busy processes.

Two figures, each idle and, with ``--busy N``, beside N busy-loop processes
(started and stopped here; see bench/busy.py):

1. first scan, with analysis, of N tracks of real music: the clips of
   ``--music DIR`` (default: ../shared/data/music-4q) one after another, 2 to
   6 minutes long, as mp3, ogg and flac; without them, the demo pieces
   (moodplayer/demo.py) repeated to three minutes in mixed formats (mp3, ogg,
   flac, opus, m4a). Tracks per second (targets on 2 cores: >= 5 idle, >= 2.5
   beside two busy processes);
2. re-scan of an unchanged 1,000-track library (target: <= 1 s).

Each scan runs the real command in a fresh process, as a user would, so the
times include start-up and the worker pool; the files are encoded with ffmpeg.

Wall-clock rates depend on what else the machine runs, so the CPU time one
track costs (tags, decoding the excerpt, analysis; ffmpeg included) is also
measured in this process, which no other load can inflate.

    python bench/scan.py [--tracks 40] [--library 1000] [--jobs N] [--music DIR] [--busy N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from busy import busy_loops, conditions  # noqa: E402

from moodplayer import demo, paths  # noqa: E402
from moodplayer.music.scan import ScanJob, examine  # noqa: E402

FORMATS = ("mp3", "ogg", "flac", "opus", "m4a")
MUSIC_4Q = REPO.parent / "shared/data/music-4q"


def render(spec: dict, seconds: float, target: Path, number: int) -> None:
    """One demo piece looped to ``seconds``, encoded (and tagged) by ffmpeg from its extension."""
    piece = demo.synthesise(spec)
    samples = np.tile(piece, int(np.ceil(seconds * demo.RATE / piece.size)))[: int(seconds * demo.RATE)]
    encode(samples, demo.RATE, target, f"{spec['title']} {number}")


def render_music(clips: list[Path], seconds: float, target: Path, number: int) -> None:
    """Real music: clips of a labelled folder one after another up to ``seconds``, encoded and tagged."""
    parts, rate, total = [], 48_000, 0
    for clip in clips:
        audio, rate = sf.read(clip, dtype="float32", always_2d=True)
        parts.append(audio.mean(axis=1))
        total += parts[-1].size
        if total >= seconds * rate:
            break
    encode(np.concatenate(parts)[: int(seconds * rate)], rate, target, f"Song {number}")


def encode(samples: np.ndarray, rate: int, target: Path, title: str) -> None:
    """Encode (and tag) with ffmpeg, the format from the target's extension."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        sf.write(wav.name, samples, rate)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", wav.name]
            + ["-metadata", f"title={title}", "-metadata", "artist=Bench", str(target)],
            check=True,
        )


def generate(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` distinct files, formats and pieces taken in turn."""
    specs = demo.load_definitions()["tracks"]
    jobs = [(specs[n % len(specs)], seconds) for n in range(count)]
    return _encode_all(folder, render, jobs, FORMATS)


def generate_music(folder: Path, count: int, clips: Path) -> list[Path]:
    """``count`` tracks of 2 to 6 minutes (mp3, ogg, flac in turn) made of a labelled folder's clips."""
    files = sorted(clips.glob("*/*.*"))
    per_track = 12  # 12 clips of 30 s: enough for the longest track
    jobs = [(files[n * per_track : (n + 1) * per_track], 120 + (n * 67) % 241) for n in range(count)]
    return _encode_all(folder, render_music, jobs, ("mp3", "ogg", "flac"))


def _encode_all(folder: Path, make, jobs: list[tuple], formats: tuple[str, ...]) -> list[Path]:
    folder.mkdir(parents=True)
    targets = [folder / f"{n:04d}.{formats[n % len(formats)]}" for n in range(len(jobs))]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda n: make(jobs[n][0], jobs[n][1], targets[n], n), range(len(jobs))))
    return targets


def link_library(sources: list[Path], folder: Path, count: int) -> None:
    """A ``count``-file library made of hard links to ``sources`` (one folder per 100)."""
    for n in range(count):
        source = sources[n % len(sources)]
        target = folder / f"disc{n // 100:02d}" / f"{n:04d}{source.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)


def timed_scan(folder: Path, home: Path, jobs: int | None) -> tuple[float, dict]:
    command = [sys.executable, "-m", "moodplayer", "library", "scan", str(folder), "--json"]
    command += ["--jobs", str(jobs)] if jobs else []
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "MOODPLAYER_HOME": str(home)}
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"scan failed: {result.stderr.strip()}")
    return elapsed, json.loads(result.stdout)


def cpu_per_track(tracks: list[Path]) -> float:
    """Mean CPU seconds (this process and its ffmpeg children) to examine one track."""
    model = str(paths.music_model_path())
    examine(ScanJob(str(tracks[0]), tracks[0].stat().st_size, 0.0, model))  # imports and first-call costs
    start = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    for track in tracks:
        examine(ScanJob(str(track), track.stat().st_size, 0.0, model))
    end = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (end[1].ru_utime + end[1].ru_stime) - (start[1].ru_utime + start[1].ru_stime)
    return (end[0] - start[0] + children) / len(tracks)


def bytecode_installed() -> bool:
    """Whether the scan workers' biggest import has its bytecode on disk (make setup writes it)."""
    import importlib.util

    import librosa

    return Path(importlib.util.cache_from_source(librosa.__file__)).is_file()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=40, help="tracks for the first-scan figure")
    parser.add_argument("--library", type=int, default=1000, help="tracks in the re-scanned library")
    parser.add_argument("--jobs", type=int, default=None, help="scan worker processes (default: all cores)")
    parser.add_argument(
        "--music",
        type=Path,
        default=MUSIC_4Q if MUSIC_4Q.is_dir() else None,
        help="make the first-scan tracks (2-6 min) of this folder's clips (default: music-4q where present)",
    )
    parser.add_argument("--busy", type=int, default=0, help="also scan beside N busy-loop processes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="moodplayer-bench-") as tmp, busy_loops(args.busy) as loops:
        root = Path(tmp)
        started = time.perf_counter()
        if args.music:
            tracks = generate_music(root / "first", args.tracks, args.music)
        else:
            tracks = generate(root / "first", args.tracks, seconds=180.0)
        clips = generate(root / "clips", 20, seconds=5.0)
        link_library(clips, root / "library", args.library)
        kind = f"2-6 minute tracks of {args.music}" if args.music else "three-minute tracks"
        took = time.perf_counter() - started
        print(f"generated {args.tracks} {kind} and a {args.library}-track library in {took:.0f} s")
        elapsed, _ = timed_scan(root / "library", root / "home-library", args.jobs)
        print(f"first scan of the {args.library}-track library: {elapsed:.1f} s")

        for name, busy in conditions(args.busy):
            with loops.running(busy):
                elapsed, report = timed_scan(root / "first", root / f"home-{name.replace(' ', '-')}", args.jobs)
                print(
                    f"{name:7} first scan with analysis: {report['stored']} of {len(tracks)} tracks in "
                    f"{elapsed:.1f} s = {report['stored'] / elapsed:.1f} tracks/s"
                )
                elapsed, report = timed_scan(root / "library", root / "home-library", args.jobs)
                assert report["unchanged"] == args.library and report["stored"] == 0, report
                print(f"{name:7} re-scan of the unchanged {args.library}-track library: {elapsed:.2f} s")
        cpu = cpu_per_track(tracks[:20])
    print(
        f"CPU per track: {cpu * 1000:.0f} ms (mean of {min(20, len(tracks))}, formats mixed) "
        f"= {2 / cpu:.1f} tracks/s on 2 free cores, before start-up"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine's other work included)")
    if sys.dont_write_bytecode and not sys.pycache_prefix and not bytecode_installed():
        print(
            "note: this Python writes no bytecode (PYTHONDONTWRITEBYTECODE) and none is installed "
            "(make setup writes it): each worker compiled its modules at start-up"
        )
    print("targets on 2 cores: first scan >= 5 tracks/s idle and >= 2.5 beside 2 busy; re-scan <= 1 s")
    print(
        f"cores: {os.cpu_count()}, jobs: {args.jobs or 'all'}; command: python bench/scan.py "
        f"--tracks {args.tracks} --library {args.library}"
        + (f" --jobs {args.jobs}" if args.jobs else "")
        + (f" --music {args.music}" if args.music else "")
        + (f" --busy {args.busy}" if args.busy else "")
    )


if __name__ == "__main__":
    main()
