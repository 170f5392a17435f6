"""Training models in a pool of worker processes, one ensemble member per task.

The net is too small to use more than one core well, so every member of every
model is a task of its own, ``jobs`` of them at once in forked processes of
one thread each; forking shares the (large) examples with the workers for free.
A model is assembled from its members as soon as the last one finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from moodplayer.voice.training.evaluation import predict_logits
from moodplayer.voice.training.examples import Example
from moodplayer.voice.training.fit import Recipe, Report, fit, fit_temperature
from moodplayer.voice.training.metrics import uar
from moodplayer.voice.training.splits import split_sets

#: Called as members train with (model index, epochs done, epochs, loss, validation UAR).
PoolReport = Callable[[int, int, int, float, float], None]
#: Called with (model index, model, info) as each model is assembled.
OnModel = Callable[[int, object, dict], None]

#: What forked workers inherit (examples are large; forking shares them for free).
_SHARED: dict = {}


def _member_worker(split: int, member: int, train_speakers: list[str]):
    """Train one member of one model; returns (net, run summary with its seconds)."""
    import torch

    torch.set_num_threads(1)
    examples, recipe = _SHARED["examples"], _SHARED["recipe"]
    start = time.perf_counter()
    train_set, valid_set, _ = split_sets(examples, train_speakers, recipe.validation_fraction, _SHARED["validate"])

    def report(*args) -> None:
        _SHARED["queue"].put((split, *args))

    net, run = fit(train_set, valid_set, recipe, _SHARED["seed"], report, member)
    return net, {**run, "seconds": time.perf_counter() - start}


def train_models(
    examples: Sequence[Example],
    splits: Sequence[Sequence[str]],
    recipe: Recipe,
    seed: int,
    jobs: int,
    report: PoolReport | None = None,
    on_model: OnModel | None = None,
    validate: bool = True,
) -> dict[int, tuple]:
    """One model per list of training speakers in ``splits``; returns index → (model, info).

    ``validate=False``: no validation speakers are held out (see splits.split_sets).
    ``jobs`` members train at once; ``report`` gets (index, epochs done, epochs,
    loss, validation UAR); ``on_model`` each (index, model, info) as it completes.
    """
    import multiprocessing
    import queue as queue_module
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    _SHARED.update(examples=examples, recipe=recipe, seed=seed, validate=validate, queue=context.Queue())
    trained: dict[int, list] = {i: [] for i in range(len(splits))}
    done = dict.fromkeys(trained, 0)
    built: dict[int, tuple] = {}
    try:
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
            pending = {
                pool.submit(_member_worker, i, member, list(names)): i
                for i, names in enumerate(splits)  # a model's members one after another: models finish in turn
                for member in range(recipe.ensemble)
            }
            while pending:
                try:
                    index, _, epochs, loss, val_uar = _SHARED["queue"].get(timeout=0.2)
                    done[index] += 1
                    if report:
                        report(index, done[index], epochs * recipe.ensemble, loss, val_uar)
                except queue_module.Empty:
                    pass
                for future in [f for f in pending if f.done()]:
                    i = pending.pop(future)
                    trained[i].append(future.result())
                    if len(trained[i]) == recipe.ensemble:
                        built[i] = _assemble_members(examples, splits[i], trained[i], recipe, validate)
                        if on_model:
                            on_model(i, *built[i])
    finally:
        _SHARED.clear()
    return built


def _assemble_members(examples, train_speakers, trained, recipe: Recipe, validate: bool) -> tuple:
    """One model from its trained members (in seed order), with its training seconds summed."""
    nets, runs = zip(*trained)
    _, valid_set, valid_names = split_sets(examples, train_speakers, recipe.validation_fraction, validate)
    order = np.argsort([run["seed"] for run in runs])
    model, info = assemble([nets[j] for j in order], [runs[j] for j in order], valid_set, valid_names)
    return model, {**info, "seconds": round(sum(run["seconds"] for run in runs), 1)}


def assemble(nets: list, runs: list[dict], valid_set: Sequence[Example], valid_names: list[str]) -> tuple:
    """One model from the trained members, its temperature fitted on the validation clips (``None``
    without any); returns (model, info)."""
    from moodplayer.voice.model import ensemble_of

    model = ensemble_of(nets)
    info = (
        runs[0]
        if len(runs) == 1
        else {
            "kept_epoch": [run["kept_epoch"] for run in runs],
            "epochs_run": [run["epochs_run"] for run in runs],
            "bfloat16": all(run["bfloat16"] for run in runs),
        }
    )
    if not valid_set:
        return model, {**info, "validation_uar": None, "validation_speakers": [], "temperature": None}
    labels = np.array([ex.label for ex in valid_set])
    logits = predict_logits(model, valid_set)
    if len(runs) > 1:
        info["validation_uar"] = round(uar(labels, logits.argmax(axis=1)), 4)
    return model, {**info, "validation_speakers": valid_names, "temperature": fit_temperature(logits, labels)}


def train_split(
    examples: Sequence[Example],
    train_speakers: Sequence[str],
    recipe: Recipe,
    seed: int,
    report: Report | None,
    jobs: int = 1,
) -> tuple:
    """Train on ``train_speakers`` minus validation speakers; returns (model, info).

    With ``recipe.ensemble`` > 1 that many nets are trained (seeds ``seed``,
    ``seed + 1``, …; ``jobs`` at once) and averaged; ``report`` then counts
    epochs across them. The temperature is fitted to the whole model on the
    validation speakers.
    """
    if jobs > 1 and recipe.ensemble > 1:
        pool_report: PoolReport | None = None
        if report:
            pool_report = lambda _, done, total, loss, val_uar: report(done, total, loss, val_uar)  # noqa: E731
        return train_models(examples, [list(train_speakers)], recipe, seed, jobs, pool_report)[0]
    train_set, valid_set, valid_names = split_sets(examples, train_speakers, recipe.validation_fraction)
    nets, runs = [], []
    for member in range(recipe.ensemble):
        member_report: Report | None = None
        if report:
            offset, total = member * recipe.epochs, recipe.epochs * recipe.ensemble
            member_report = lambda e, _, loss, u, o=offset, n=total: report(o + e, n, loss, u)  # noqa: E731
        net, run = fit(train_set, valid_set, recipe, seed, member_report, member)
        nets.append(net)
        runs.append(run)
    return assemble(nets, runs, valid_set, valid_names)
