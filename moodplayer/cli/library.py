"""``moodplayer library …``: scan music folders, find missing files, fill mood playlists, list the
tracks' moods, and train and score the music-mood model behind them.

``list`` shows where the music-mood model placed each track and the mood it
sits nearest to; ``train`` makes a model from labelled music and says how it
scores on artists it never heard; ``evaluate`` scores a model (and the
hand-written formula) on a labelled folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import JSON_HELP, markup_safe, open_library, print_json, say_verbatim
from moodplayer.ui.views import count

library_app = typer.Typer(
    help="Scan music folders, list their moods, fill mood playlists, train the music-mood model.",
    no_args_is_help=True,
)
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
    track give its tempo, energy, brightness and mode, and the music-mood
    model places it on the valence/arousal plane (see `library list`). Tracks
    analysed by another model are analysed again. Unreadable files are skipped
    and counted; files the library knew under FOLDERS that are gone are marked missing.
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
        print_json(
            {
                "found": report.found,
                "unchanged": report.unchanged,
                "stored": report.stored,
                "skipped": len(report.failures),
                "missing": report.vanished,
                "failures": [{"file": f, "reason": r} for f, r in report.failures],
            }
        )
        return
    for path, reason in report.failures:
        warn(f"skipped {path}: {reason}")
    out.print(
        f"{count(report.found, 'file')}: {report.stored} added or updated, {report.unchanged} unchanged, "
        f"{len(report.failures)} skipped, {report.vanished} newly missing"
    )


@library_app.command("missing")
def missing(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Check every file in the library; list (and flag) those that are gone.

    Missing tracks stay in their playlists, so nothing is lost when a drive
    is unplugged; they are flagged again as present once they are back.
    """
    from moodplayer.text import shown
    from moodplayer.ui.console import out

    with open_library() as lib:
        gone = lib.check_missing()
    if as_json:
        print_json([t.location for t in gone])
        return
    for track in gone:
        out.print(shown(track.location), markup=False)
    say_verbatim(f"{count(len(gone), 'missing file')}")


@library_app.command("autoplaylists")
def autoplaylists(
    size: int = typer.Option(25, "--size", min=1, help="Tracks each mood playlist gets from the analysis."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Fill each mood's playlist with the scanned tracks that sit nearest that mood.

    A track goes to the mood whose valence/arousal point (see `moodplayer
    moods`) is nearest, and to a second mood only when that one is nearly as
    near, so two moods share only music that lies between them. Tracks you
    added to a mood playlist by hand stay; tracks you removed are never put
    back. Says what each playlist gained and lost. Run `moodplayer library scan` first.
    """
    from moodplayer.music.autoplaylists import autoplaylists as fill

    with open_library() as lib:
        filled = fill(lib, size)
    if as_json:
        print_json({emotion: _fill_json(fill) for emotion, fill in filled.items()})
        return
    _print_fills(filled)


def _fill_json(fill) -> dict:
    return {
        "playlist": fill.playlist,
        "tracks": fill.tracks,
        "added": [t.location for t in fill.added],
        "removed": [t.location for t in fill.removed],
    }


def _print_fills(filled: dict) -> None:
    from rich.table import Table

    from moodplayer.ui.console import out

    table = Table("mood", "playlist", "tracks", "added", "taken out")
    for emotion, fill in filled.items():
        table.add_row(
            emotion, markup_safe(fill.playlist), str(fill.tracks), f"+{len(fill.added)}", f"-{len(fill.removed)}"
        )
    out.print(table)
    added = sum(len(fill.added) for fill in filled.values())
    removed = sum(len(fill.removed) for fill in filled.values())
    changed = f"{count(added, 'entry', 'entries')} added and {removed} taken out"
    say_verbatim(changed if added or removed else "no playlist changed")


QUADRANT_NAMES = ("Q1 happy", "Q2 angry", "Q3 sad", "Q4 calm")


@library_app.command("list")
def list_tracks(
    query: str | None = typer.Argument(None, help="Show tracks whose artist, title, album or path contains this."),
    mood: str | None = typer.Option(None, "--mood", help="Only tracks that belong to this mood's autoplaylist."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the library's tracks with their valence, arousal and nearest mood.

    Valence and arousal (-1..1) are where `library scan`'s music-mood model
    placed each track; its mood is the one whose point (see `moodplayer
    moods`) lies nearest. With --mood, tracks nearly as near that mood as
    their own are listed too, as `library autoplaylists` counts them.
    """
    from moodplayer.emotions import parse_emotion
    from moodplayer.errors import LibraryError
    from moodplayer.mood import nearest_moods

    try:
        wanted = parse_emotion(mood) if mood else None
    except ValueError as exc:
        raise LibraryError(str(exc)) from None
    with open_library() as lib:
        tracks, points = lib.library_tracks(query), lib.mood_points()
    rows = []
    for track, missing in tracks:
        moods = [m for m, _ in nearest_moods(track.valence, track.arousal, points)] if track.valence is not None else []
        if wanted is None or wanted in moods:
            rows.append((track, missing, moods[0] if moods else None))
    if as_json:
        print_json([_track_json(*row) for row in rows])
        return
    _print_tracks(rows, query, wanted)


def _track_json(track, missing: bool, mood: str | None) -> dict:
    return {
        "location": track.location,
        "artist": track.artist,
        "title": track.title,
        "album": track.album,
        "duration": track.duration,
        "valence": track.valence,
        "arousal": track.arousal,
        "mood": mood,
        "missing": missing,
    }


def _print_tracks(rows: list, query: str | None, mood: str | None) -> None:
    """A table that fits 80 columns: text columns shrink with an ellipsis, numbers stay whole."""
    from rich import box
    from rich.table import Table

    from moodplayer.ui.console import out
    from moodplayer.ui.views import EMOTION_STYLE, clock

    if not rows:
        say_verbatim(
            "no tracks match"
            if query or mood
            else "the library is empty; add music with: moodplayer library scan FOLDER"
        )
        return
    marked = any(missing for _, missing, _ in rows)
    caption = f"{len(rows)} track{'s' if len(rows) != 1 else ''}" + ("; ✗ the file is missing" if marked else "")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, caption=caption, expand=True)
    for header, share in (("artist", 3), ("title", 4), ("album", 2)):
        table.add_column(header, overflow="ellipsis", no_wrap=True, ratio=share)
    table.add_column("time", justify="right", no_wrap=True, min_width=5)
    table.add_column("val", justify="right", no_wrap=True, min_width=5)
    table.add_column("aro", justify="right", no_wrap=True, min_width=5)
    table.add_column("mood", no_wrap=True, min_width=9)
    for track, missing, nearest in rows:
        title = ("[red]✗[/] " if missing else "") + markup_safe(track.title or track.display_title)
        table.add_row(
            markup_safe(track.artist),
            title,
            markup_safe(track.album),
            clock(track.duration),
            f"{track.valence:+.2f}" if track.valence is not None else "",
            f"{track.arousal:+.2f}" if track.arousal is not None else "",
            f"[{EMOTION_STYLE[nearest]}]{nearest}[/]" if nearest else "[dim]–[/]",
        )
    out.print(table)


@library_app.command("train")
def train(
    data_dir: Path = typer.Argument(..., help="A folder of clips with labels.csv (file, quadrant Q1-Q4, artist)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Model file to write (default: your own, which library scan then uses)."
    ),
    folds: int = typer.Option(5, "--folds", min=2, help="Artist-disjoint folds for the scores."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: CPU cores)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Train the music-mood model on labelled music, scored on artists held out.

    Extracts each clip's features (cached), scores the model, a reference
    recipe (logistic regression on librosa's usual summary features) and the
    hand-written formula on the same artist-disjoint folds, then fits the
    model on every clip and writes it with its scores. A re-scan of the
    library analyses every track again with the new model.
    """
    from moodplayer import paths
    from moodplayer.music.mood_training import train as run_training

    output = output or paths.trained_music_model_path()
    with _progress("extracting features") as advance:
        metadata = run_training(data_dir, output, folds=folds, jobs=jobs, progress=advance)
    if as_json:
        print_json({"path": str(output), **metadata})
        return
    _print_cross_validation(metadata["evaluation"], metadata["features"]["count"])
    in_use = output.resolve() == paths.music_model_path().resolve()
    say_verbatim(
        f"wrote {output} ({output.stat().st_size / 1024:.0f} KB)" + ("; library scan uses it" if in_use else "")
    )


def _print_cross_validation(evaluation: dict, features: int) -> None:
    from rich.table import Table

    from moodplayer.ui.console import out

    table = Table("recipe", "quadrant", "valence sign", "arousal sign", caption=evaluation["folds"])
    for name, label in (
        ("model", f"model, {features} features"),
        ("reference", "reference recipe"),
        ("formula", "hand-written formula"),
    ):
        scores = evaluation[name]
        table.add_row(label, *(_percent(scores, key) for key in ("quadrant", "valence", "arousal")))
    out.print(table)


def _percent(scores: dict, key: str) -> str:
    """The mean over folds, with the folds' range."""
    per_fold = [100 * fold[key] for fold in scores["per_fold"]]
    return f"{100 * scores[key]:.1f} % ({min(per_fold):.0f}-{max(per_fold):.0f})"


@library_app.command("evaluate")
def evaluate(
    data_dir: Path = typer.Argument(..., help="A folder of clips with labels.csv (file, quadrant Q1-Q4)."),
    model: Path | None = typer.Option(None, "--model", help="Model file (default: the one library scan uses)."),
    baseline: bool = typer.Option(False, "--baseline", help="Also score the hand-written formula on the same clips."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: CPU cores)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Score the music-mood model on labelled music: quadrant and sign accuracy, confusion.

    The quadrant is read from the signs of the valence and arousal the model
    gives, as `library scan` stores them. Clips the model was trained on are
    counted and flagged: scores on them overstate what it does on new music.
    """
    from moodplayer import paths
    from moodplayer.music import mood_model
    from moodplayer.music.mood_training import evaluate as run_evaluation
    from moodplayer.ui.console import warn

    loaded = mood_model.load(model or paths.music_model_path())
    with _progress("extracting features") as advance:
        result = run_evaluation(data_dir, loaded, baseline=baseline, jobs=jobs, progress=advance)
    if as_json:
        print_json(result)
        return
    if result["trained_on"]:
        warn(f"the model was trained on {result['trained_on']} of these clips: these are not held-out scores")
    _print_scores(result)


def _print_scores(result: dict) -> None:
    from rich.table import Table

    from moodplayer.ui.console import out

    scored = [("model", result["scores"])] + ([("formula", result["baseline"])] if "baseline" in result else [])
    table = Table("", "quadrant", "valence sign", "arousal sign", caption=count(result["scores"]["clips"], "clip"))
    for name, scores in scored:
        table.add_row(name, *(f"{scores[key]:.1%}" for key in ("quadrant", "valence", "arousal")))
    out.print(table)
    for name, scores in scored:
        confusion = Table("true \\ heard", *QUADRANT_NAMES, title=f"{name}: confusion")
        for label, row in zip(QUADRANT_NAMES, scores["confusion"]):
            confusion.add_row(label, *map(str, row))
        out.print(confusion)
