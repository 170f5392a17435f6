"""``moodplayer playlist …``, ``moodplayer moods`` and ``moodplayer library …``.

Thin commands: arguments are expanded and checked here, everything stored
goes through :class:`moodplayer.music.library.Library`, and what it returns is
shown with rich (or as JSON with ``--json``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

from moodplayer.cli.app import app

playlist_app = typer.Typer(help="Create, fill, reorder, import and export playlists.", no_args_is_help=True)
library_app = typer.Typer(help="Scan music folders, find missing files, fill mood playlists.", no_args_is_help=True)
app.add_typer(playlist_app, name="playlist")
app.add_typer(library_app, name="library")

JSON_HELP = "Print JSON only."


def _open():
    from moodplayer.music.library import Library

    return Library.open()


def _say(message: str) -> None:
    """A message on stderr, printed as is: names and paths may hold ``[brackets]``."""
    from moodplayer.ui.console import err

    err.print(message, markup=False, soft_wrap=True)


def _text(value) -> str:
    """User data (tags, names, paths) made safe to put in rich markup."""
    from rich.markup import escape

    return escape(str(value)) if value else ""


# -- playlist -----------------------------------------------------------------------


@playlist_app.command("create")
def create(name: str = typer.Argument(..., help="Name of the new playlist.")) -> None:
    """Create an empty playlist."""
    with _open() as lib:
        lib.create_playlist(name)
    _say(f"created playlist '{name}'")


@playlist_app.command("rename")
def rename(
    old: str = typer.Argument(..., help="Current name."), new: str = typer.Argument(..., help="New name.")
) -> None:
    """Rename a playlist; its mood mappings follow it."""
    with _open() as lib:
        lib.rename_playlist(old, new)
    _say(f"renamed '{old}' to '{new}'")


@playlist_app.command("delete")
def delete(name: str = typer.Argument(..., help="Playlist to delete.")) -> None:
    """Delete a playlist (its tracks stay in the library)."""
    with _open() as lib:
        lib.delete_playlist(name)
    _say(f"deleted playlist '{name}'")


@playlist_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List playlists with their track counts, durations and moods."""
    from rich.table import Table

    from moodplayer.ui.console import out

    with _open() as lib:
        playlists = lib.playlists()
    if as_json:
        print(json.dumps(playlists, ensure_ascii=False))
        return
    if not playlists:
        _say("no playlists yet; create one with: moodplayer playlist create NAME")
        return
    from moodplayer.ui.views import clock

    table = Table("playlist", "tracks", "duration", "moods")
    for p in playlists:
        table.add_row(_text(p["name"]), str(p["tracks"]), clock(p["duration"] or None), ", ".join(p["moods"]))
    out.print(table)


@playlist_app.command("show")
def show(
    name: str = typer.Argument(..., help="Playlist name, or a mood (shows its playlist)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a playlist's tracks in order, with durations and the total."""
    with _open() as lib:
        name = lib.resolve(name)
        entries = lib.entries(name)
    total = sum(e.track.duration or 0 for e in entries)
    if as_json:
        rows = [
            {
                "position": e.position,
                "location": e.track.location,
                "title": e.track.title,
                "artist": e.track.artist,
                "album": e.track.album,
                "duration": e.track.duration,
                "missing": e.missing,
            }
            for e in entries
        ]
        print(json.dumps({"name": name, "duration": round(total, 3), "tracks": rows}, ensure_ascii=False))
        return
    _print_entries(name, entries, total)


def _print_entries(name: str, entries, total: float) -> None:
    from rich.table import Table

    from moodplayer.ui.console import out
    from moodplayer.ui.views import clock

    table = Table(
        "#",
        "title",
        "artist",
        "album",
        "time",
        title=_text(name),
        caption=f"{len(entries)} tracks, {clock(total or None)}",
    )
    for e in entries:
        title = _text(e.track.title or e.track.display_title)
        if e.missing:
            title += " [red](missing)[/]"
        table.add_row(str(e.position), title, _text(e.track.artist), _text(e.track.album), clock(e.track.duration))
    out.print(table)


@playlist_app.command("add")
def add(
    name: str = typer.Argument(..., help="Playlist to append to."),
    items: list[str] = typer.Argument(
        ..., metavar="ITEM", help="Files, folders (searched recursively), globs, http(s) URLs."
    ),
) -> None:
    """Append music to a playlist, in the order given (folders sorted by path)."""
    from moodplayer.music.scan import expand_items

    locations = expand_items(items)
    with _open() as lib:
        added = lib.add_tracks(name, locations)
    _say(f"added {len(added)} tracks to '{name}'")


@playlist_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Playlist to remove from."),
    positions: list[int] = typer.Argument(
        ..., metavar="POSITION", help="1-based positions, as `playlist show` numbers them."
    ),
) -> None:
    """Remove entries by position (the files and other playlists are untouched)."""
    with _open() as lib:
        count = lib.remove_entries(name, positions)
    _say(f"removed {count} entries from '{name}'")


@playlist_app.command("move")
def move(
    name: str = typer.Argument(..., help="Playlist to reorder."),
    source: int = typer.Argument(..., help="Position of the entry to move."),
    target: int = typer.Argument(..., help="Position it should end up at."),
) -> None:
    """Move one entry to another position."""
    with _open() as lib:
        lib.move_entry(name, source, target)
    _say(f"moved entry {source} of '{name}' to {target}")


@playlist_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="An .m3u or .m3u8 file."),
    name: str | None = typer.Option(None, "--name", help="Playlist name (default: the file's name)."),
) -> None:
    """Import an M3U playlist; entries not found are reported and kept as missing."""
    from moodplayer.errors import LibraryError
    from moodplayer.music.m3u import read_m3u
    from moodplayer.ui.console import warn

    entries = read_m3u(file)
    name = name or file.stem
    with _open() as lib, lib.transaction():
        if name.lower() in (p["name"].lower() for p in lib.playlists()):
            raise LibraryError(f"a playlist named '{name}' already exists; choose another name with --name")
        lib.create_playlist(name)
        lib.add_tracks(name, [e.track for e in entries])
    missing = [e for e in entries if not e.found]
    for entry in missing:
        warn(f"not found, kept as missing: {_text(entry.written)}")
    _say(f"imported {len(entries)} entries into '{name}'" + (f" ({len(missing)} missing)" if missing else ""))


@playlist_app.command("export")
def export(
    name: str = typer.Argument(..., help="Playlist (or mood) to export."),
    file: Path = typer.Argument(..., help="The .m3u/.m3u8 file to write (replaced atomically)."),
) -> None:
    """Write a playlist as extended M3U; files under FILE's folder get relative paths."""
    from moodplayer.music.m3u import write_m3u

    with _open() as lib:
        name = lib.resolve(name)
        tracks = lib.tracks(name)
    write_m3u(file, tracks)
    _say(f"wrote {len(tracks)} entries of '{name}' to {file}")


# -- moods --------------------------------------------------------------------------


@app.command("moods")
def moods(
    set_: tuple[str, str] | None = typer.Option(
        None, "--set", metavar="EMOTION PLAYLIST", help="Make EMOTION play PLAYLIST (only it)."
    ),
    add_: tuple[str, str] | None = typer.Option(
        None, "--add", metavar="EMOTION PLAYLIST", help="Also play PLAYLIST for EMOTION."
    ),
    clear: str | None = typer.Option(None, "--clear", metavar="EMOTION", help="Map EMOTION to nothing."),
    point: tuple[str, float, float] | None = typer.Option(
        None, "--point", metavar="EMOTION VALENCE AROUSAL", help="Move EMOTION's point (each in -1..1)."
    ),
    reset_point: str | None = typer.Option(
        None, "--reset-point", metavar="EMOTION", help="Put EMOTION's point back at its default."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show (and with options, change) which playlists each mood plays.

    Each mood also has a point on the valence/arousal plane (by default its
    place on Russell's circumplex) that `library autoplaylists` fills its
    playlist from: the tracks whose estimated valence/arousal lie closest.
    """
    with _open() as lib:
        if reset_point:
            lib.set_mood_point(reset_point, None)
        if point:
            lib.set_mood_point(*point)
        if clear:
            lib.unmap_mood(clear)
        if set_:
            lib.set_mood_playlists(set_[0], [set_[1]])
        if add_:
            lib.map_mood(*add_)
        mapping, points = lib.mood_map(), lib.mood_points()
    _print_moods(mapping, points, as_json)


def _print_moods(mapping: dict, points: dict, as_json: bool) -> None:
    from rich.table import Table

    from moodplayer.emotions import EMOTIONS
    from moodplayer.ui.console import out

    if as_json:
        rows = {
            e: {"playlists": mapping.get(e, []), "valence": points[e][0], "arousal": points[e][1]} for e in EMOTIONS
        }
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("mood", "valence", "arousal", "playlists")
    for emotion in EMOTIONS:
        valence, arousal = points[emotion]
        playlists = ", ".join(_text(name) for name in mapping.get(emotion, [])) or "[dim]–[/]"
        table.add_row(emotion, f"{valence:+.2f}", f"{arousal:+.2f}", playlists)
    out.print(table)


# -- library --------------------------------------------------------------------------


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

    with _open() as lib, _progress("scanning") as advance:
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
        warn(f"skipped {_text(path)}: {_text(reason)}")
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

    with _open() as lib:
        gone = lib.check_missing()
    if as_json:
        print(json.dumps([t.location for t in gone], ensure_ascii=False))
        return
    for track in gone:
        out.print(track.location, markup=False)
    _say(f"{len(gone)} missing files")


@library_app.command("autoplaylists")
def autoplaylists(
    size: int = typer.Option(25, "--size", min=1, help="Tracks each mood playlist gets from the analysis."),
) -> None:
    """Fill each mood's playlist with the scanned tracks closest to the mood's valence/arousal.

    Tracks you added to a mood playlist by hand stay; tracks you removed are
    never put back. Run `moodplayer library scan` first.
    """
    with _open() as lib:
        filled = lib.autoplaylists(size)
        counts = {p["name"]: p["tracks"] for p in lib.playlists()}
        points = lib.mood_points()
    _print_moods({emotion: [f"{name} ({counts[name]})"] for emotion, name in filled.items()}, points, False)
