"""``moodplayer record``, ``moodplayer samples …`` and ``moodplayer model …``: the user's own voice.

Recording and the feedback of ``listen`` fill one sample store
(:mod:`moodplayer.voice.sample_store`); ``train --personal`` (:func:`train_personal`)
adapts the model in force to it and stores the result as a new model version
(:mod:`moodplayer.voice.model_versions`), which ``model`` lists, switches and rolls back.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app

samples_app = typer.Typer(help="List, play and delete your recorded voice samples.", no_args_is_help=True)
model_app = typer.Typer(help="Model versions: list them, switch, roll back, export.", no_args_is_help=True)
app.add_typer(samples_app, name="samples")
app.add_typer(model_app, name="model")

#: Short, emotionally neutral sentences (RAVDESS's two, and more like them) to read in the asked emotion.
PROMPTS = (
    "Kids are talking by the door.",
    "Dogs are sitting by the door.",
    "The train leaves at seven tonight.",
    "I put the keys on the table.",
    "The meeting moved to Thursday.",
    "There is a letter in the box.",
    "We walked along the river.",
    "The shop closes at six.",
    "She painted the fence blue.",
    "My phone is in the other room.",
)
#: Recordings in a row with no speech before ``record`` gives up.
MAX_SILENT_TRIES = 3


@app.command()
def record(
    emotion: str = typer.Option(
        ...,
        "--emotion",
        "-e",
        help="The emotion to speak in (neutral, calm, happy, sad, angry, fearful, disgust, surprised).",
    ),
    count: int = typer.Option(5, "--count", "-n", min=1, max=100, help="How many clips to record."),
    seconds: float = typer.Option(
        6.0, "--seconds", "-s", min=1.0, max=30.0, help="Longest clip; it stops early when you stop speaking."
    ),
    device: str | None = typer.Option(
        None, "--device", "-d", help="Input device (index or name; see `moodplayer devices`)."
    ),
) -> None:
    """Record your voice reading short sentences in one emotion, for `train --personal`.

    Each clip is kept as soon as it is recorded: Ctrl-C stops, keeping the clips
    already saved. A recording with no speech in it is asked for again.
    """
    from moodplayer.emotions import parse_emotion

    try:
        emotion = parse_emotion(emotion)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--emotion") from None
    from moodplayer.voice import sample_store as store

    first = len(store.all_samples())  # vary the sentences from one run of `record` to the next
    saved = 0
    try:
        while saved < count:
            sentence = PROMPTS[(first + saved) % len(PROMPTS)]
            sample = _record_one(emotion, sentence, f"{saved + 1}/{count}", seconds, device)
            saved += 1
            _say(f"saved sample {sample.id} ({sample.emotion}, {sample.duration:.1f} s)")
    finally:
        if saved < count:
            _say(f"kept the {saved} clip(s) recorded before stopping")
    _say(f"{count} {emotion} clip(s) saved; see them with: moodplayer samples list")


def _record_one(emotion: str, sentence: str, progress: str, seconds: float, device: str | None):
    """Prompt, record and store one clip, asking again while no speech is heard."""
    from moodplayer.cli.listen import device_arg
    from moodplayer.errors import NoSpeechError
    from moodplayer.ui.meter import record_with_meter
    from moodplayer.voice import sample_store as store

    for _ in range(MAX_SILENT_TRIES):
        _say(f"[{progress}] say, sounding [bold]{emotion}[/]:  “{sentence}”")
        _wait_until_ready()
        clip = record_with_meter(seconds, device=device_arg(device))
        try:
            return store.add(clip, emotion, "recorded", prompt=sentence)
        except NoSpeechError:
            _say("no speech heard; let's try that one again (speak up, or move closer to the microphone)")
    raise NoSpeechError(
        f"no speech heard in {MAX_SILENT_TRIES} recordings in a row; check the microphone (moodplayer devices)"
    )


def _wait_until_ready() -> None:
    """At a terminal, recording starts when the user presses Enter; piped, it starts at once."""
    import sys

    from moodplayer.ui.console import err

    if sys.stdin.isatty():
        err.input("  press Enter, then speak… ")


def _say(message: str) -> None:
    from moodplayer.ui.console import err

    err.print(message)


# -- samples --------------------------------------------------------------------------------


@samples_app.command("list")
def samples_list(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Your voice samples: ID, emotion, where each came from, length and date."""
    from collections import Counter

    from rich.table import Table

    from moodplayer.ui.console import out
    from moodplayer.voice import sample_store as store

    found = store.all_samples()
    if as_json:
        print(json.dumps([s.to_dict() for s in found]))
        return
    table = Table("id", "emotion", "source", "seconds", "recorded")
    for s in found:
        table.add_row(str(s.id), s.emotion, s.source, f"{s.duration:.1f}", s.created.replace("T", " ")[:16])
    out.print(table)
    counts = Counter(s.emotion for s in found)
    out.print(
        f"{len(found)} clips" + (": " + ", ".join(f"{e} {n}" for e, n in sorted(counts.items())) if found else "")
    )


@samples_app.command("play")
def samples_play(
    sample_id: int = typer.Argument(..., help="The sample's ID (see `moodplayer samples list`)."),
    aout: str | None = typer.Option(None, "--aout", help="VLC audio output (e.g. pulse, alsa, dummy)."),
) -> None:
    """Play one of your voice samples."""
    from moodplayer.music.player import Player
    from moodplayer.music.track import Track
    from moodplayer.ui.tui import run_now_playing
    from moodplayer.voice import sample_store as store

    sample = store.get(sample_id)
    title = f"sample {sample.id} ({sample.emotion})"
    player = Player([Track(str(sample.path), title=title, duration=sample.duration)], aout=aout, name=title)
    run_now_playing(player, title=title)


@samples_app.command("delete")
def samples_delete(
    sample_id: int = typer.Argument(..., help="The sample's ID (see `moodplayer samples list`)."),
) -> None:
    """Delete one of your voice samples."""
    from moodplayer.voice import sample_store as store

    sample = store.delete(sample_id)
    _say(f"deleted sample {sample.id} ({sample.emotion})")


# -- model versions -------------------------------------------------------------------------


@model_app.command("list")
def model_list(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Every model version: which is in force, kind, date, parent, scores, and whether its file is intact."""
    from rich.table import Table

    from moodplayer.ui.console import out
    from moodplayer.voice import model_versions as versions

    active = versions.active_id()
    rows = [_version_row(v, active) for v in versions.all_versions()]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("", "version", "kind", "created", "parent", "scores", "file")
    for row in rows:
        table.add_row(
            "*" if row["active"] else "",
            row["id"],
            row["kind"],
            row["created"][:16].replace("T", " "),
            row["parent"] or "",
            _scores_text(row["scores"]),
            row["problem"] or "ok",
        )
    out.print(table)


def _version_row(version, active: str) -> dict:
    info = version.info
    scores = dict(info.get("scores", {}))
    if "training" in version.metadata and info.get("kind") != "personal":  # a personal one inherits its base's
        scores.setdefault("validation_uar", version.metadata["training"].get("validation_uar"))
    return {
        "id": version.id,
        "active": version.id == active,
        "kind": info.get("kind", "?"),
        "created": info.get("created") or version.metadata.get("created", ""),
        "parent": info.get("parent"),
        "scores": scores,
        "problem": version.problem,
        "path": str(version.path),
    }


def _scores_text(scores: dict) -> str:
    parts = []
    if "personal_before" in scores:
        parts.append(f"your clips {scores['personal_before']:.0%} → {scores['personal_after']:.0%}")
    if scores.get("validation_uar") is not None:
        parts.append(f"validation UAR {scores['validation_uar']:.0%}")
    return "; ".join(parts)


@model_app.command("use")
def model_use(
    version: str = typer.Argument(
        ..., help="A version from `moodplayer model list`, or a model file to add as a new version."
    ),
) -> None:
    """Put a model version in force (a .safetensors file is first added as a new version)."""
    from moodplayer.voice import model_versions as versions

    if version.endswith(".safetensors"):
        version = versions.import_file(Path(version))
        _say(f"added {version}")
    versions.use(version)
    _say(f"now using model {version}")


@model_app.command("rollback")
def model_rollback() -> None:
    """Go back to the model version that was in force before this one."""
    from moodplayer.voice import model_versions as versions

    old, new = versions.rollback()
    _say(f"rolled back from {old} to {new}")


@model_app.command("export")
def model_export(
    version: str = typer.Argument(..., help="A version from `moodplayer model list`."),
    target: Path = typer.Argument(..., help="The .safetensors file to write (its .json goes next to it)."),
) -> None:
    """Copy a model version to a file, for use elsewhere (`--model FILE`)."""
    from moodplayer.voice import model_versions as versions

    _say(f"exported {version} to {versions.export(version, target)}")


# -- personal training ----------------------------------------------------------------------


def train_personal(force: bool = False, seed: int = 0, recipe=None) -> str:
    """Adapt the model in force to the sample store; keep it in force only if it did not get worse.

    The new model is always stored as a version (so a refused one can still be
    tried with ``model use``); returns its ID.
    """
    import torch

    from moodplayer.ui.console import out
    from moodplayer.voice import finetune as personal
    from moodplayer.voice import model_versions as versions
    from moodplayer.voice import sample_store as store
    from moodplayer.voice.features import FeatureConfig
    from moodplayer.voice.model import load_model
    from moodplayer.voice.train import make_examples

    torch.set_num_threads(1)  # as `train`: this small net gains nothing from more
    parent, path = versions.resolve_active()
    base, metadata = load_model(path)
    # The user's clips also at the speeds the model was trained at (fine-tuning draws from them as training
    # did), and heard as the model hears every clip: at those speeds too only if it has speed views.
    views = metadata.get("test_time_speeds", ())
    speeds = metadata.get("recipe", {}).get("speeds", views)
    examples = make_examples(
        store.clips(), FeatureConfig.from_dict(metadata["features"]), speeds, speed_views=bool(views)
    )
    net, report = personal.adapt(base, metadata, examples, recipe or personal.TuneRecipe(), seed, _say)
    out.print(
        f"accuracy on your own clips ({report['folds']}-fold, {report['n']} clips): "
        f"{report['before']:.0%} before → {report['after']:.0%} after ({report['seconds']:.0f} s)"
    )
    new_metadata = {k: v for k, v in metadata.items() if k not in ("version", "format", "weights_sha256")}
    new_metadata["personal"] = {**report, "recipe": (recipe or personal.TuneRecipe()).to_dict()}
    scores = {"personal_before": report["before"], "personal_after": report["after"]}
    version = versions.save(net.state_dict(), new_metadata, kind="personal", parent=parent, scores=scores)
    if report["after"] < report["before"] and not force:
        raise personal.PersonalError(
            f"the adapted model ({version}) is worse on your clips, so {parent} stays in force; "
            f"record more clips, or use it anyway with: moodplayer model use {version}"
        )
    versions.use(version)
    out.print(f"now using model {version} (undo with: moodplayer model rollback)")
    return version
