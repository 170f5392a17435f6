"""``moodplayer playlist …``: create, fill, reorder, import and export playlists.

Thin commands: arguments are expanded and checked here, everything stored
goes through :class:`moodplayer.music.library.Library`, and what it returns is
shown with rich (or as JSON with ``--json``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import JSON_HELP, markup_safe, open_library, print_json, say_verbatim
from moodplayer.ui.views import count

playlist_app = typer.Typer(help="Create, fill, reorder, import and export playlists.", no_args_is_help=True)
app.add_typer(playlist_app, name="playlist")


@playlist_app.command("create")
def create(name: str = typer.Argument(..., help="Name of the new playlist.")) -> None:
    """Create an empty playlist."""
    with open_library() as lib:
        lib.create_playlist(name)
    say_verbatim(f"created playlist '{name}'")


@playlist_app.command("rename")
def rename(
    old: str = typer.Argument(..., help="Current name."), new: str = typer.Argument(..., help="New name.")
) -> None:
    """Rename a playlist; its mood mappings follow it."""
    with open_library() as lib:
        lib.rename_playlist(old, new)
    say_verbatim(f"renamed '{old}' to '{new}'")


@playlist_app.command("delete")
def delete(name: str = typer.Argument(..., help="Playlist to delete.")) -> None:
    """Delete a playlist (its tracks stay in the library)."""
    with open_library() as lib:
        lib.delete_playlist(name)
    say_verbatim(f"deleted playlist '{name}'")


@playlist_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List playlists with their track counts, durations and moods."""
    from rich.table import Table

    from moodplayer.ui.console import out

    with open_library() as lib:
        playlists = lib.playlists()
    if as_json:
        print_json(playlists)
        return
    if not playlists:
        say_verbatim("no playlists yet; create one with: moodplayer playlist create NAME")
        return
    from moodplayer.ui.views import clock

    table = Table("playlist", "tracks", "duration", "moods")
    for p in playlists:
        table.add_row(markup_safe(p["name"]), str(p["tracks"]), clock(p["duration"] or None), ", ".join(p["moods"]))
    out.print(table)


@playlist_app.command("show")
def show(
    name: str = typer.Argument(..., help="Playlist name, or a mood (shows its playlist)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a playlist's tracks in order, with durations and the total."""
    with open_library() as lib:
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
        print_json({"name": name, "duration": round(total, 3), "tracks": rows})
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
        title=markup_safe(name),
        caption=f"{count(len(entries), 'track')}, {clock(total or None)}",
    )
    for e in entries:
        title = markup_safe(e.track.title or e.track.display_title)
        if e.missing:
            title += " [red](missing)[/]"
        table.add_row(
            str(e.position), title, markup_safe(e.track.artist), markup_safe(e.track.album), clock(e.track.duration)
        )
    out.print(table)


@playlist_app.command("add")
def add(
    name: str = typer.Argument(..., help="Playlist to append to."),
    items: list[str] = typer.Argument(
        ..., metavar="ITEM", help="Files, folders (searched recursively), globs, http(s) URLs."
    ),
) -> None:
    """Append music to a playlist, in the order given (folders sorted by path)."""
    from moodplayer.music.scan import describe, expand_items

    rows = describe(expand_items(items))
    with open_library() as lib:
        added = lib.add_tracks(name, rows)
    say_verbatim(f"added {count(len(added), 'track')} to '{name}'")


@playlist_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Playlist to remove from."),
    positions: list[int] = typer.Argument(
        ..., metavar="POSITION", help="1-based positions, as `playlist show` numbers them."
    ),
) -> None:
    """Remove entries by position (the files and other playlists are untouched)."""
    with open_library() as lib:
        removed = lib.remove_entries(name, positions)
    say_verbatim(f"removed {count(removed, 'entry', 'entries')} from '{name}'")


@playlist_app.command("move")
def move(
    name: str = typer.Argument(..., help="Playlist to reorder."),
    source: int = typer.Argument(..., help="Position of the entry to move."),
    target: int = typer.Argument(..., help="Position it should end up at."),
) -> None:
    """Move one entry to another position."""
    with open_library() as lib:
        lib.move_entry(name, source, target)
    say_verbatim(f"moved entry {source} of '{name}' to {target}")


@playlist_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="An .m3u or .m3u8 file."),
    name: str | None = typer.Option(None, "--name", help="Playlist name (default: the file's name)."),
) -> None:
    """Import an M3U playlist; entries not found are reported and kept as missing, entries that
    are not audio files (a text file, a folder, a device) are reported and left out."""
    from moodplayer.errors import LibraryError
    from moodplayer.music.m3u import read_m3u
    from moodplayer.music.scan import describe
    from moodplayer.ui.console import warn

    entries = read_m3u(file)
    kept = [e for e in entries if e.audio]
    name = name or file.stem
    with open_library() as lib, lib.transaction():
        if name.lower() in (p["name"].lower() for p in lib.playlists()):
            raise LibraryError(f"a playlist named '{name}' already exists; choose another name with --name")
        lib.create_playlist(name)
        lib.add_tracks(name, describe([e.track for e in kept]))
    for entry in entries:
        if not entry.audio:
            warn(f"not an audio file, left out: {entry.written}")
        elif not entry.found:
            warn(f"not found, kept as missing: {entry.written}")
    missing, left_out = sum(not e.found for e in kept), len(entries) - len(kept)
    notes = [f"{missing} missing"] * bool(missing) + [f"{left_out} left out"] * bool(left_out)
    imported = count(len(kept), "entry", "entries")
    say_verbatim(f"imported {imported} into '{name}'" + (f" ({', '.join(notes)})" if notes else ""))


@playlist_app.command("export")
def export(
    name: str = typer.Argument(..., help="Playlist (or mood) to export."),
    file: Path = typer.Argument(..., help="The .m3u/.m3u8 file to write (replaced atomically), or - for stdout."),
    parents: bool = typer.Option(False, "--parents", help="Create FILE's folder (and any above it) if missing."),
) -> None:
    """Write a playlist as extended M3U; files under FILE's folder get relative paths.

    FILE's folder must exist (a typo in it should not create a new tree of
    folders), unless --parents is given.
    """
    from moodplayer.errors import MoodplayerError
    from moodplayer.music.m3u import write_m3u

    folder = file.absolute().parent
    if not folder.is_dir():
        if not parents or folder.exists():
            raise MoodplayerError(f"there is no folder {folder} to write into; create it, or add --parents")
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise MoodplayerError(f"cannot create the folder {folder}: {exc.strerror}") from None
    with open_library() as lib:
        name = lib.resolve(name)
        tracks = lib.tracks(name)
    write_m3u(file, tracks)
    written = count(len(tracks), "entry", "entries")
    say_verbatim(f"wrote {written} of '{name}' to {'standard output' if str(file) == '-' else file}")
