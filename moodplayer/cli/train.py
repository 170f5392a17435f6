"""``moodplayer train`` and ``moodplayer evaluate``: build a model, and measure one.

``train --personal`` (:func:`train_personal`) adapts the model in force to the
user's sample store and stores the result as a new model version.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import MODEL_HELP, SPEAKER_PATTERN_HELP, say
from moodplayer.ui.views import count


def _progress(loss: bool = True, uar: bool = True):
    """A rich progress bar on stderr showing epoch, loss and validation UAR (or only one of them)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from moodplayer.ui.console import err

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            ("loss {task.fields[loss]:.3f}  " if loss else "") + ("val UAR {task.fields[uar]:.1%}" if uar else "")
        ),
        TimeElapsedColumn(),
        console=err,
    )


@app.command()
def train(
    data_dirs: list[Path] | None = typer.Argument(
        None,
        help=(
            "Labelled speech, one folder per corpus: RAVDESS/TESS/CREMA-D/SAVEE/EmoDB trees or one folder "
            "per emotion; several train one model, each corpus's clips never teaching the emotions it lacks."
        ),
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help=(
            "Write the model to this file instead of adding it as a model version "
            "(models/emotion-lstm.safetensors rebuilds the shipped model: make model)."
        ),
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (weights, batches, augmentation)."),
    epochs: int | None = typer.Option(
        None, "--epochs", help="Most epochs per training run (early stopping may end sooner)."
    ),
    ensemble: int | None = typer.Option(
        None,
        "--ensemble",
        min=1,
        max=8,
        help="Nets to train from successive seeds and average (default: the recipe's).",
    ),
    folds: int = typer.Option(1, "--folds", help="Speaker folds to cross-validate first (1 = none)."),
    jobs: int = typer.Option(
        2, "--jobs", help="Nets trained at once (folds, ensemble members, tuning trials), one CPU core each."
    ),
    adapt: list[str] = typer.Option(
        ["none"],
        "--adapt",
        help=(
            "With --folds: also score held-out speakers with voice profiles (neutral:N, history:N; "
            "add /stats for the feature statistics alone, batch norms unmoved, /always to use each "
            "profile fully however far it is trusted); repeatable."
        ),
    ),
    baseline: bool = typer.Option(
        False, "--baseline", help="With --folds: also cross-validate the classic 180-feature MLP on the same folds."
    ),
    speaker_pattern: str | None = typer.Option(None, "--speaker-pattern", help=SPEAKER_PATTERN_HELP),
    tune: int = typer.Option(
        0,
        "--tune",
        help=(
            "First try N recipes (Optuna; trial 0 is the default), each scored on the validation speakers; "
            "train with the best."
        ),
    ),
    personal: bool = typer.Option(
        False, "--personal", help="Instead: adapt the model in force to your own samples (moodplayer record)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Put the new model in force even if it scored worse (on its validation speakers; --personal: your clips).",
    ),
) -> None:
    """Train the emotion model on one or more corpora, split by speaker (or, with --personal, adapt it to you).

    With --folds K the speakers are split into K groups and each group is scored
    by a model trained on all the other speakers (mean ± std of accuracy and
    UAR); then the final model is trained on all speakers but a few validation
    speakers, which calibrate the confidence. It is added as a new model version
    (see `moodplayer model list`) and put in force only if it scores at least as
    well as the model in force on those validation speakers; --out writes a file
    instead.
    """
    if personal:
        train_personal(force=force, seed=seed)
        return
    if not data_dirs:
        raise typer.BadParameter("give the labelled speech to train on, or --personal", param_hint="DATA_DIR")

    import time
    from dataclasses import replace

    import torch

    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.console import err
    from moodplayer.ui.console import out as stdout
    from moodplayer.voice.datasets import read_corpora, speakers
    from moodplayer.voice.features import FeatureConfig
    from moodplayer.voice.training.examples import make_examples
    from moodplayer.voice.training.fit import Recipe

    # One thread per training process: this small net gains nothing from a second
    # one, and oneDNN's start-up is far slower with two.
    torch.set_num_threads(1)
    config = FeatureConfig()
    default = Recipe()
    recipe = replace(default, epochs=epochs or default.epochs, ensemble=ensemble or default.ensemble)
    corpora = read_corpora(data_dirs, speaker_pattern)
    clips = [clip for corpus in corpora for clip in corpus.clips]
    with err.status(f"features of {count(len(clips), 'clip')} (cached after the first run)…"):
        examples = make_examples(clips, config, recipe.speeds, recipe.degraded_copies, recipe.speed_views)
    if not examples:
        folders = ", ".join(str(folder) for folder in data_dirs)
        raise MoodplayerError(f"no clip in {folders} has one of the eight emotions and audible speech")
    err.print(f"{count(len(examples), 'clip')}, {count(len(speakers(examples)), 'speaker')}")
    tuning = None
    if tune > 0:
        recipe, trials = _tune(examples, tune, recipe, seed, jobs)
        tuning = {"objective": "best validation UAR", "trials": trials, "chosen": recipe.to_dict()}
    cv = None
    if folds > 1:
        modes = list(dict.fromkeys(["none", *adapt]))
        started = time.perf_counter()
        cv = _cross_validate(examples, folds, recipe, seed, jobs, modes)
        cv["seconds"] = round(time.perf_counter() - started)
        rows = {f"adapt {mode}": figures for mode, figures in cv["adapt"].items()}
        if baseline:
            from moodplayer.voice.training.baseline import baseline_cross_validate

            with err.status("the classic 180-feature MLP on the same folds…"):
                cv["baseline"] = baseline_cross_validate(clips, folds, seed)
            rows["classic 180-feature MLP"] = cv["baseline"]
        for name, figures in rows.items():
            stdout.print(
                f"{folds}-fold by speaker, {name}: accuracy {figures['accuracy_mean']:.1%} ± "
                f"{figures['accuracy_std']:.1%}, UAR {figures['uar_mean']:.1%} ± {figures['uar_std']:.1%}"
            )
        stdout.print(f"cross-validation took {cv['seconds'] / 60:.1f} min ({count(jobs, 'job')})")
    start = time.perf_counter()
    net, metadata = _train_final(examples, corpora, recipe, config, seed, cv, tuning, jobs)
    trained = f"trained in {time.perf_counter() - start:.0f} s"
    if out is not None:
        from moodplayer.voice.model import save_model

        save_model(out, net.state_dict(), metadata)
        stdout.print(f"saved {out} ({trained})")
        return
    validation = [clip for clip in clips if clip.speaker in metadata["split"]["validation"]]
    _add_version(net, metadata, validation, force, trained)


def _add_version(net, metadata: dict, validation: list, force: bool, trained: str) -> None:
    """Keep a trained model as a new version; in force only if it is no worse (or ``force``)."""
    from moodplayer.errors import ModelError
    from moodplayer.ui.console import err
    from moodplayer.ui.console import out as stdout
    from moodplayer.voice import model_versions as versions

    with err.status("scoring it and the model in force on its validation speakers…"):
        added = versions.add_trained(net, metadata, validation, force)
    uar = lambda value: "–" if value is None else f"{value:.1%}"  # noqa: E731
    speakers = ", ".join(added.speakers) or "no speakers"
    stdout.print(
        f"added model {added.id} ({trained}): validation UAR {uar(added.uar)} on {speakers}, "
        f"against {uar(added.parent_uar)} for {added.parent}, the model in force",
        soft_wrap=True,
    )
    if not added.in_force:
        raise ModelError(
            f"{added.id} is not better on its validation speakers, so {added.parent} stays in force; "
            f"use it anyway with: moodplayer model use {added.id} (or train with --force)"
        )
    stdout.print(f"now using model {added.id} (undo with: moodplayer model rollback)")


def _tune(examples, trials, recipe, seed, jobs):
    """Run the recipe search with a progress bar; prints each trial and returns (best recipe, trials)."""
    from moodplayer.ui.console import out as stdout
    from moodplayer.voice.training.tune import tune

    with _progress(loss=False) as progress:
        task = progress.add_task("tuning", total=trials, uar=0.0)

        def on_trial(number, fields, value):
            progress.update(task, advance=1, uar=value)
            drawn = ", ".join(f"{k} {v:.3g}" for k, v in fields.items())
            progress.console.print(f"trial {number}: validation UAR {value:.1%} ({drawn})")

        best, results = tune(examples, trials, recipe, seed, jobs, on_trial)
    stdout.print(f"best of {count(trials, 'trial')}: validation UAR {max(r['validation_uar'] for r in results):.1%}")
    return best, results


def _cross_validate(examples, folds, recipe, seed, jobs, modes) -> dict:
    from moodplayer.voice.training.crossval import cross_validate

    with _progress(uar=False) as progress:  # fold models hold out no validation speakers
        epochs = recipe.epochs * recipe.ensemble
        tasks = {i: progress.add_task(f"fold {i}", total=epochs, loss=0.0, uar=0.0) for i in range(1, folds + 1)}

        def report(fold, epoch, total, loss, _val_uar):
            progress.update(tasks[fold], completed=epoch, loss=loss)

        def on_fold(i, result, _model):
            progress.update(tasks[i], completed=epochs)
            progress.console.print(
                f"fold {i} ({', '.join(result['test_speakers'])}): accuracy {result['accuracy']:.1%}, "
                f"UAR {result['uar']:.1%}"
                + "".join(f"; {m} {r['accuracy']:.1%}" for m, r in result["adapt"].items() if m != "none")
                + f" (epoch {result['kept_epoch']}, {result['seconds']:.0f} s)"
            )

        return cross_validate(examples, folds, recipe, seed, jobs, report, on_fold, modes)


def _train_final(examples, corpora, recipe, config, seed, cv, tuning, jobs) -> tuple:
    """The final model and its metadata (a dict): trained on every speaker but the validation ones."""
    from moodplayer.voice.training.final import train_final

    with _progress() as progress:
        task = progress.add_task("final model", total=recipe.epochs * recipe.ensemble, loss=0.0, uar=0.0)
        report = lambda e, n, loss, u: progress.update(task, completed=e, loss=loss, uar=u)  # noqa: E731
        net, metadata = train_final(examples, corpora, recipe, config, seed, report, jobs, cv, tuning)
    return net, metadata.to_dict()


@app.command()
def evaluate(
    data_dir: Path = typer.Argument(..., help="Labelled speech to score the model on."),
    model: Path | None = typer.Option(None, "--model", help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with all the figures."),
    speaker_pattern: str | None = typer.Option(None, "--speaker-pattern", help=SPEAKER_PATTERN_HELP),
    baseline: bool = typer.Option(
        False, "--baseline", help="Also cross-validate the classic 180-feature MLP on DATA_DIR's speakers."
    ),
    folds: int = typer.Option(5, "--folds", help="Speaker folds for --baseline."),
    adapt: str = typer.Option(
        "none",
        "--adapt",
        help=(
            "Voice profiles per speaker: none, neutral:N (first N neutral clips enrol, not scored) or "
            "history:N (N clips drawn at random); add /stats for the profile's feature statistics alone "
            "(batch norms unmoved), /always to use each profile fully however far it is trusted."
        ),
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for history:N draws and the baseline."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the confusion matrix into this PNG file."),
) -> None:
    """Score a model on DATA_DIR: accuracy, UAR, per-class precision/recall, confusion.

    Every clip goes through the same path as `detect`; a clip with no audible
    speech counts as an error ("no-speech"), and so does a verdict of an emotion
    the data lacks; where the data lacks some, each clip is also scored among the
    emotions it holds ("closed_set" in --json). Score only speakers the model was
    not trained on (its metadata lists them) for a figure that means anything.
    With --baseline, the classic recipe (means of 40 MFCC + 12 chroma + 128 mel,
    scaled, MLP of 300) is cross-validated on DATA_DIR with speaker folds and
    shown beside the model's own cross-validation from its metadata.
    """
    from moodplayer.voice.classifier import Classifier
    from moodplayer.voice.datasets import discover
    from moodplayer.voice.training.evaluation import hearings, judge

    classifier = Classifier.load(model)
    clips = discover(data_dir, speaker_pattern)
    scored = judge(classifier.net, hearings(classifier, clips), adapt, seed, classifier.enrolment_shift)
    result = {"data": str(data_dir), "model": str(classifier.path), "adapt": adapt, **scored}
    result["speakers"] = len({c.speaker for c in clips})
    if baseline:
        from moodplayer.ui.console import err
        from moodplayer.voice.training.baseline import baseline_cross_validate

        with err.status("classic 180-feature baseline, by speaker folds…"):
            result["baseline"] = baseline_cross_validate(clips, folds)
        result["model_cross_validation"] = classifier.metadata.get("cross_validation")
    if plot is not None:
        _plot_confusion(result, plot)
    if as_json:
        print(json.dumps(result))
    else:
        _print_scores(result)
        if baseline:
            _print_side_by_side(result["model_cross_validation"], result["baseline"])


def _print_scores(result: dict) -> None:
    from rich.table import Table

    from moodplayer.ui.console import out

    out.print(
        f"{count(result['n'], 'clip')}, {count(result['speakers'], 'speaker')}: "
        f"accuracy {result['accuracy']:.1%}, UAR {result['uar']:.1%}"
    )
    if "closed_set" in result:
        held = result["closed_set"]
        out.print(
            f"among the {count(len(held['emotions']), 'emotion')} the data holds: "
            f"accuracy {held['accuracy']:.1%}, UAR {held['uar']:.1%}"
        )
    if "profile_trust" in result:
        trust = result["profile_trust"]
        out.print(
            f"voice profiles trusted {trust['trusted']:.0%} on average"
            + ("" if trust["applied"] else " (not applied: /always)")
            + f": {count(trust['full'], 'speaker')} fully, {trust['partial']} partly, {trust['none']} not at all"
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


def _print_side_by_side(model_cv: dict | None, baseline: dict) -> None:
    """Fold by fold: the model's cross-validation (from its metadata) beside the baseline's."""
    from rich.table import Table

    from moodplayer.ui.console import out

    table = Table("fold", "test speakers", "LSTM acc", "LSTM UAR", "180-MLP acc", "180-MLP UAR", title="speaker folds")
    model_folds = {f["fold"]: f for f in (model_cv or {}).get("folds", [])}
    for fold in baseline["folds"]:
        ours = model_folds.get(fold["fold"])
        if ours is None or ours["test_speakers"] != fold["test_speakers"]:
            ours = {}
        table.add_row(
            str(fold["fold"]),
            f"{fold['test_speakers'][0]}…{fold['test_speakers'][-1]}",
            f"{ours['accuracy']:.1%}" if ours else "—",
            f"{ours['uar']:.1%}" if ours else "—",
            f"{fold['accuracy']:.1%}",
            f"{fold['uar']:.1%}",
        )
    mean = lambda cv, m: f"{cv[m + '_mean']:.1%} ± {cv[m + '_std']:.1%}"  # noqa: E731
    table.add_row(
        "mean",
        "",
        mean(model_cv, "accuracy") if model_cv else "—",
        mean(model_cv, "uar") if model_cv else "—",
        mean(baseline, "accuracy"),
        mean(baseline, "uar"),
    )
    out.print(table)


def _plot_confusion(result: dict, path: Path) -> None:
    """The confusion matrix as a PNG, rows normalised to recall."""
    import numpy as np

    from moodplayer.ui.views import new_figure, save_figure

    labels = result["confusion"]["labels"]
    matrix = np.array(result["confusion"]["matrix"], dtype=float)
    recall = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = new_figure(7.0, 6.0)
    ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), clips in np.ndenumerate(matrix):
        if clips:
            ax.text(j, i, int(clips), ha="center", va="center", color="white" if recall[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        f"accuracy {result['accuracy']:.1%}, UAR {result['uar']:.1%} (n={result['n']}, adapt {result['adapt']})"
    )
    save_figure(fig, path)


def train_personal(force: bool = False, seed: int = 0, recipe=None) -> str:
    """Adapt the model in force to the sample store, show how it scored, and put it in force unless it
    got worse (finetune.keep_or_refuse); returns the new version's ID."""
    from moodplayer.ui.console import out
    from moodplayer.voice import finetune as personal

    adaptation = personal.adapt_in_force(seed, recipe or personal.TuneRecipe(), say)
    report = adaptation.report
    out.print(
        f"accuracy on your own clips ({report['folds']}-fold, {count(report['n'], 'clip')}): "
        f"{report['before']:.0%} before → {report['after']:.0%} after ({report['seconds']:.0f} s)"
    )
    personal.keep_or_refuse(adaptation, force)
    out.print(f"now using model {adaptation.version} (undo with: moodplayer model rollback)")
    return adaptation.version
