"""``moodplayer library …``: scan music folders, find missing files, fill mood playlists."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import JSON_HELP, markup_safe, open_library, say_verbatim

library_app = typer.Typer(help="Scan music folders, find missing files, fill mood playlists.", no_args_is_help=True)
app.add_typer(library_app, name="library")


@library_app.command("scan")
def scan(
    folders: list[Path] = typer.Argument(
        ..., metavar="FOLDER", help="Music folders, searched recursively (symlinks followed)."
    ),
    analysis: bool = typer.Option(
        True, "--analysis/--no-analysis", help="Estimate each track's mood from its audio (slower) or read tags only."
    ),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: CPU cores)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add music under FOLDERS to the library; unchanged files are skipped.

    Tags are read with mutagen; with analysis, 30 s from the middle of each
    track give its tempo, energy, brightness and mode, and from them a
    valence/arousal estimate. Unreadable files are skipped and counted; files
    the library knew under FOLDERS that are gone are marked missing.
    """
    from moodplayer.music.scan import scan as run_scan

    with open_library() as lib, _progress("scanning") as advance:
        report = run_scan(lib, [str(f) for f in folders], analysis=analysis, jobs=jobs, progress=advance)
    _print_scan(report, as_json)


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, giving a ``(done, total)`` callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from moodplayer.ui.console import err

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def _print_scan(report, as_json: bool) -> None:
    from moodplayer.ui.console import out, warn

    if as_json:
        print(
            json.dumps(
                {
                    "found": report.found,
                    "unchanged": report.unchanged,
                    "stored": report.stored,
                    "skipped": len(report.failures),
                    "missing": report.vanished,
                    "failures": [{"file": f, "reason": r} for f, r in report.failures],
                },
                ensure_ascii=False,
            )
        )
        return
    for path, reason in report.failures:
        warn(f"skipped {markup_safe(path)}: {markup_safe(reason)}")
    out.print(
        f"{report.found} files: {report.stored} added or updated, {report.unchanged} unchanged, "
        f"{len(report.failures)} skipped, {report.vanished} newly missing"
    )


@library_app.command("missing")
def missing(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Check every file in the library; list (and flag) those that are gone.

    Missing tracks stay in their playlists, so nothing is lost when a drive
    is unplugged; they are flagged again as present once they are back.
    """
    from moodplayer.ui.console import out

    with open_library() as lib:
        gone = lib.check_missing()
    if as_json:
        print(json.dumps([t.location for t in gone], ensure_ascii=False))
        return
    for track in gone:
        out.print(track.location, markup=False)
    say_verbatim(f"{len(gone)} missing files")


@library_app.command("autoplaylists")
def autoplaylists(
    size: int = typer.Option(25, "--size", min=1, help="Tracks each mood playlist gets from the analysis."),
) -> None:
    """Fill each mood's playlist with the scanned tracks closest to the mood's valence/arousal.

    Tracks you added to a mood playlist by hand stay; tracks you removed are
    never put back. Run `moodplayer library scan` first.
    """
    from moodplayer.ui.console import out
    from moodplayer.ui.views import mood_table

    with open_library() as lib:
        filled = lib.autoplaylists(size)
        counts = {p["name"]: p["tracks"] for p in lib.playlists()}
        points = lib.mood_points()
    out.print(mood_table({emotion: [f"{name} ({counts[name]})"] for emotion, name in filled.items()}, points))
