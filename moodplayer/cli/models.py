"""``moodplayer train`` and ``moodplayer evaluate``: build a model, and measure one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from moodplayer.cli.app import app


def _progress():
    """A rich progress bar on stderr showing epoch, loss and validation UAR."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from moodplayer.console import err

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}  val UAR {task.fields[uar]:.1%}"),
        TimeElapsedColumn(),
        console=err,
    )


@app.command()
def train(
    data_dir: Path = typer.Argument(..., help="Labelled speech: a RAVDESS/TESS/CREMA-D/SAVEE/EmoDB tree or one folder per emotion."),
    out: Optional[Path] = typer.Option(None, "--out", help="Model file to write (default: models/emotion-lstm.safetensors)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (weights, batches, augmentation)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Most epochs per training run (early stopping may end sooner)."),
    folds: int = typer.Option(1, "--folds", help="Speaker folds to cross-validate first (1 = none)."),
    jobs: int = typer.Option(2, "--jobs", help="Folds trained at once, one CPU core each."),
    speaker_pattern: Optional[str] = typer.Option(None, "--speaker-pattern", help="Regex on file names whose first group is the speaker (folder-per-label trees)."),
) -> None:
    """Train the emotion model on DATA_DIR, split by speaker.

    With --folds K the speakers are split into K groups and each group is scored
    by a model trained without it (mean ± std of accuracy and UAR); then the
    final model is trained on all speakers but a few validation speakers, which
    choose the best epoch and calibrate the confidence.
    """
    import time
    from dataclasses import replace

    import torch

    from moodplayer.console import err, out as stdout
    from moodplayer.datasets import discover, speakers
    from moodplayer.errors import MoodplayerError
    from moodplayer.features import FeatureConfig
    from moodplayer.paths import default_model_path
    from moodplayer.train import Recipe, make_examples

    # One thread per training process: this small net gains nothing from a second
    # one (measured: 4.5 s/epoch either way), and oneDNN's start-up is far slower with two.
    torch.set_num_threads(1)
    config = FeatureConfig()
    recipe = Recipe() if epochs is None else replace(Recipe(), epochs=epochs)
    clips = discover(data_dir, speaker_pattern)
    with err.status(f"features of {len(clips)} clips (cached after the first run)…"):
        examples = make_examples(clips, config, recipe.speeds)
    if not examples:
        raise MoodplayerError(f"no clip in {data_dir} has one of the eight emotions and audible speech")
    err.print(f"{len(examples)} clips, {len(speakers(examples))} speakers")
    cv = None
    if folds > 1:
        cv = _cross_validate(examples, folds, recipe, seed, jobs)
        stdout.print(
            f"{folds}-fold by speaker: accuracy {cv['accuracy_mean']:.1%} ± {cv['accuracy_std']:.1%}, "
            f"UAR {cv['uar_mean']:.1%} ± {cv['uar_std']:.1%}"
        )
    start = time.perf_counter()
    path = _train_final(examples, clips, data_dir, out or default_model_path(), recipe, config, seed, cv)
    stdout.print(f"saved {path} (trained in {time.perf_counter() - start:.0f} s)")


def _cross_validate(examples, folds, recipe, seed, jobs) -> dict:
    from moodplayer.train import cross_validate

    with _progress() as progress:
        tasks = {i: progress.add_task(f"fold {i}", total=recipe.epochs, loss=0.0, uar=0.0) for i in range(1, folds + 1)}

        def report(fold, epoch, total, loss, val_uar):
            progress.update(tasks[fold], completed=epoch, loss=loss, uar=val_uar)

        def on_fold(i, result):
            progress.update(tasks[i], completed=recipe.epochs)
            progress.console.print(
                f"fold {i} ({', '.join(result['test_speakers'])}): accuracy {result['accuracy']:.1%}, "
                f"UAR {result['uar']:.1%} (best epoch {result['best_epoch']}, {result['seconds']:.0f} s)"
            )

        return cross_validate(examples, folds, recipe, seed, jobs, report, on_fold)


def _train_final(examples, clips, data_dir, path, recipe, config, seed, cv) -> Path:
    import datetime

    from moodplayer.datasets import speakers
    from moodplayer.emotions import EMOTIONS
    from moodplayer.model import count_parameters, save_model
    from moodplayer.train import train_split

    names = speakers(examples)
    with _progress() as progress:
        task = progress.add_task("final model", total=recipe.epochs, loss=0.0, uar=0.0)
        net, info = train_split(
            examples, names, recipe, seed, lambda e, n, loss, u: progress.update(task, completed=e, loss=loss, uar=u)
        )
    metadata = {
        "labels": list(EMOTIONS),
        "features": config.to_dict(),
        "normalisation": "per-utterance mean/variance of the log-mels (a voice profile may replace it)",
        "model": net.config.to_dict(),
        "parameters": count_parameters(net),
        "recipe": {**recipe.to_dict(), "seed": seed},
        "temperature": info.pop("temperature"),
        "data": {
            "root": str(Path(data_dir).resolve()),
            "corpora": sorted({c.corpus for c in clips}),
            "clips": len(examples),
            "speakers": names,
        },
        "split": {
            "train": [s for s in names if s not in info["validation_speakers"]],
            "validation": info["validation_speakers"],
        },
        "training": info,
        "cross_validation": cv,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    save_model(path, net.state_dict(), metadata)
    return Path(path)


@app.command()
def evaluate(
    data_dir: Path = typer.Argument(..., help="Labelled speech to score the model on."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model file (default: the shipped one)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with all the figures."),
    speaker_pattern: Optional[str] = typer.Option(None, "--speaker-pattern", help="Regex on file names whose first group is the speaker (folder-per-label trees)."),
) -> None:
    """Score a model on DATA_DIR: accuracy, UAR, per-class precision/recall, confusion.

    Every clip goes through the same path as `detect`; a clip with no audible
    speech counts as an error ("no-speech"). Score only speakers the model was
    not trained on (its metadata lists them) for a figure that means anything.
    """
    from moodplayer.classifier import Classifier
    from moodplayer.datasets import discover
    from moodplayer.errors import AudioError
    from moodplayer.paths import default_model_path
    from moodplayer.train import scores

    classifier = Classifier.load(model)
    clips = discover(data_dir, speaker_pattern)
    predicted = []
    for clip in clips:
        try:
            predicted.append(classifier.predict_file(clip.path).emotion)
        except AudioError:
            predicted.append("no-speech")
    result = {"data": str(data_dir), "model": str(model or default_model_path()), **scores([c.label for c in clips], predicted)}
    result["speakers"] = len({c.speaker for c in clips})
    if as_json:
        print(json.dumps(result))
    else:
        _print_scores(result)


def _print_scores(result: dict) -> None:
    from rich.table import Table

    from moodplayer.console import out

    out.print(
        f"{result['n']} clips, {result['speakers']} speakers: accuracy {result['accuracy']:.1%}, UAR {result['uar']:.1%}"
    )
    per_class = Table("emotion", "precision", "recall", "n", title="per class")
    for label, row in result["per_class"].items():
        per_class.add_row(label, f"{row['precision']:.1%}", f"{row['recall']:.1%}", str(row["n"]))
    out.print(per_class)
    labels = result["confusion"]["labels"]
    confusion = Table("true \\ predicted", *[label[:5] for label in labels], title="confusion")
    for label, row in zip(labels, result["confusion"]["matrix"]):
        if sum(row):
            confusion.add_row(label, *[str(v) if v else "·" for v in row])
    out.print(confusion)
