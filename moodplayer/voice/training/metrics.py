"""Figures of a classifier's verdicts: accuracy, UAR, per-class precision and recall, the confusion
matrix, the closed-set figures of a corpus that lacks some emotions, and means over folds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from moodplayer.emotions import EMOTIONS


def uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted average recall: mean per-class recall over the classes present."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls)) if recalls else 0.0


def scores(true: Sequence[str], predicted: Sequence[str]) -> dict:
    """Accuracy, UAR, per-class precision/recall and the confusion matrix of string labels.

    Rows and columns are the eight emotions followed by any other label that
    occurs (a corpus label outside the eight, "no-speech"), so nothing is hidden.
    """
    extra = sorted((set(true) | set(predicted)) - set(EMOTIONS))
    labels = list(EMOTIONS) + extra
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(true, predicted):
        matrix[index[t], index[p]] += 1
    n = int(matrix.sum())
    per_class = {}
    for i, label in enumerate(labels):
        support, predicted_as = int(matrix[i].sum()), int(matrix[:, i].sum())
        if support == 0 and predicted_as == 0:
            continue
        per_class[label] = {
            "precision": round(matrix[i, i] / predicted_as, 4) if predicted_as else 0.0,
            "recall": round(matrix[i, i] / support, 4) if support else 0.0,
            "n": support,
        }
    recalls = [v["recall"] for v in per_class.values() if v["n"]]
    return {
        "accuracy": round(float(np.trace(matrix)) / n, 4) if n else 0.0,
        "uar": round(float(np.mean(recalls)), 4) if recalls else 0.0,
        "n": n,
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def closed_set(
    true: Sequence[str],
    probabilities: Sequence[np.ndarray | None],
    labels: Sequence[str],
    known: Sequence[str] | None = None,
) -> dict | None:
    """Accuracy and UAR with each verdict chosen among the emotions both the corpus and the model hold.

    The open-set figures (:func:`scores`) count a verdict of an emotion the corpus lacks as an
    error, as they must: CREMA-D has no calm or surprised clips, and a user may well sound calm.
    Papers that test across corpora score the emotions both share, so this figure sits beside
    the open-set one for comparing with them. ``known``: the model's emotions that its training
    data held (default: all its ``labels``); clips of the others are left out (``n`` says how many
    are scored). A clip with no speech (``None``) and a label outside the model's stay errors.
    ``None`` when the corpus and the model share every emotion, or none.
    ``probabilities`` may as well be logits: only their order counts.
    """
    taught = set(labels if known is None else known)
    present = set(true)
    held = [label for label in labels if label in present and label in taught]
    scored = [i for i, label in enumerate(true) if label in taught or label not in labels]
    if not held or (len(held) == len(labels) and len(scored) == len(true)):
        return None
    allowed = np.array([label in held for label in labels])
    predicted = [
        "no-speech" if p is None else labels[int(np.argmax(np.where(allowed, p, -np.inf)))]
        for p in (probabilities[i] for i in scored)
    ]
    result = scores([true[i] for i in scored], predicted)
    return {"emotions": held, "accuracy": result["accuracy"], "uar": result["uar"], "n": result["n"]}


def _mean_std(values: Iterable[float]) -> tuple[float, float]:
    array = np.array(list(values))
    return round(float(array.mean()), 4), round(float(array.std()), 4)


def summarise(folds: list[dict]) -> dict:
    """Mean ± std over folds of accuracy and UAR (and of each adapt mode's, when scored)."""
    summary: dict = {"folds": folds}
    for metric in ("accuracy", "uar"):
        summary[f"{metric}_mean"], summary[f"{metric}_std"] = _mean_std(f[metric] for f in folds)
    if "adapt" in folds[0]:
        summary["adapt"] = {
            mode: {
                f"{metric}_{stat}": value
                for metric in ("accuracy", "uar")
                for stat, value in zip(("mean", "std"), _mean_std(f["adapt"][mode][metric] for f in folds))
            }
            for mode in folds[0]["adapt"]
        }
    return summary
