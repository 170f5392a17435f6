"""Model versions: every trained model kept in ``<home>/models/``, one of them in force.

A version is a model file pair as :mod:`moodplayer.voice.model` writes it
(``v3.safetensors`` + ``v3.json``, the sidecar carrying the weights' sha256)
whose metadata also says where it came from (``version``: kind, parent, date,
scores). The model shipped in the repository is the version ``shipped``; it
is read, never written.

Which version is in force is the pointer file ``active.json`` (the active ID
and the IDs active before it), replaced atomically and only after the new
version's files are complete: a crash mid-save leaves the previous model in
force. When the active version turns out unusable (truncated, overwritten, or
a file that passes its checksum but does not load as a model), the most recent
good version before it is used, with a warning, and finally the shipped model.
A version is put in force only once it has loaded and heard the bundled sample
voice (:func:`check`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moodplayer.errors import ModelError
from moodplayer.files import utc_now

if TYPE_CHECKING:
    from moodplayer.voice.model import Model

log = logging.getLogger(__name__)

SHIPPED = "shipped"
POINTER = "active.json"
_ID = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class Version:
    """A version as listed: its ID, files, metadata, and why it cannot be used (if so)."""

    id: str
    path: Path
    metadata: dict
    problem: str | None

    @property
    def info(self) -> dict:
        """The ``version`` block of the metadata (kind, parent, created, scores)."""
        return self.metadata.get("version", {}) if self.id != SHIPPED else {"kind": "shipped", "parent": None}


def models_dir() -> Path:
    from moodplayer.paths import home

    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def weights_path(version_id: str) -> Path:
    """The safetensors file of a version (``shipped``: the repository's model)."""
    from moodplayer.paths import default_model_path

    if version_id == SHIPPED:
        return default_model_path()
    if not _ID.match(version_id):
        raise ModelError(f"{version_id!r} is not a model version (versions are {SHIPPED}, v1, v2, …)")
    return models_dir() / f"{version_id}.safetensors"


def problem(path: Path) -> str | None:
    """Why a model file cannot be used (missing, damaged, foreign, not a model), or None if it loads."""
    from moodplayer.voice.model import load_model

    try:
        load_model(path)
    except ModelError as exc:
        return str(exc)
    return None


def check(path: Path) -> None:
    """Load a model file and hear the bundled sample voice with it; :class:`ModelError` unless it
    gives a verdict (eight finite probabilities): what a version must pass to be put in force."""
    import numpy as np

    from moodplayer.demo import SAMPLE_VOICE
    from moodplayer.voice.classifier import Classifier

    prediction = Classifier.load(path).predict_file(SAMPLE_VOICE)
    if not np.all(np.isfinite(list(prediction.probabilities.values()))):
        raise ModelError(f"model file {path} gives no verdict (its probabilities are not numbers)")


def get(version_id: str) -> Version:
    """A version, usable or not; :class:`ModelError` if there is no such version."""
    path = weights_path(version_id)
    if not path.is_file() and not path.with_suffix(".json").is_file():
        raise ModelError(f"no model version {version_id!r} (see: moodplayer model list)")
    trouble = problem(path)
    metadata = {} if trouble else json.loads(path.with_suffix(".json").read_text())
    return Version(version_id, path, metadata, trouble)


def all_versions() -> list[Version]:
    """The shipped model, then every stored version by number (damaged ones included, with their problem)."""
    numbers = {int(m.group(1)) for p in models_dir().glob("v*.*") if (m := _ID.match(p.stem))}
    return [get(SHIPPED), *(get(f"v{n}") for n in sorted(numbers))]


# --- the active pointer --------------------------------------------------------------------


def _read_pointer() -> dict:
    """``{"active": id, "history": [older ids]}``; the shipped model when there is no (readable) pointer."""
    path = models_dir() / POINTER
    if not path.is_file():
        return {"active": SHIPPED, "history": []}
    try:
        pointer = json.loads(path.read_text())
        ids = [pointer["active"], *pointer["history"]]
        if all(isinstance(i, str) and (i == SHIPPED or _ID.match(i)) for i in ids):
            return pointer
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    log.warning(f"{path} is damaged; using the shipped model (choose another with: moodplayer model use VERSION)")
    return {"active": SHIPPED, "history": []}


def _write_pointer(active: str, history: list[str]) -> None:
    from moodplayer.files import atomic_write

    body = {"active": active, "history": history, "changed": utc_now()}
    atomic_write(models_dir() / POINTER, (json.dumps(body, indent=2) + "\n").encode())


def active_id() -> str:
    """The version the user chose last (whether or not its file is still good)."""
    return _read_pointer()["active"]


def active_model_path() -> Path:
    """The model file to use: the active version's, or the latest good one before it, with a warning."""
    return resolve_active()[1]


def resolve_active() -> tuple[str, Path]:
    """The ID and file of the version in force (see :func:`load_active`)."""
    version_id, _, _ = load_active()
    return version_id, weights_path(version_id)


def load_active() -> tuple[str, Model, dict]:
    """The version in force, loaded: (ID, net, metadata). One that does not load (damaged,
    not a model) is passed over with a warning, for the versions active before it, most
    recent first, then the shipped model."""
    from moodplayer.voice.model import load_model

    pointer = _read_pointer()
    trouble = None
    for version_id in dict.fromkeys([pointer["active"], *reversed(pointer["history"]), SHIPPED]):
        try:
            net, metadata = load_model(weights_path(version_id))
        except ModelError as exc:
            trouble = trouble or str(exc)
            continue
        if trouble:
            log.warning(f"model version {pointer['active']} is unusable ({trouble}); using {version_id} instead")
        return version_id, net, metadata
    raise ModelError(f"no usable model: {trouble}")


def use(version_id: str) -> Version:
    """Put a version in force once it loads and hears the sample voice (:func:`check`); the one it
    replaces can be rolled back to."""
    version = get(version_id)
    try:
        if version.problem:
            raise ModelError(version.problem)
        check(version.path)
    except ModelError as exc:
        raise ModelError(f"model version {version_id} cannot be used: {exc}") from None
    pointer = _read_pointer()
    if pointer["active"] != version_id:
        _write_pointer(version_id, [*pointer["history"], pointer["active"]])
    return version


def rollback() -> tuple[str, str]:
    """Go back to the version active before this one, skipping damaged ones; returns (from, to)."""
    pointer = _read_pointer()
    history = list(pointer["history"])
    while history:
        previous = history.pop()
        if problem(weights_path(previous)) is None:
            _write_pointer(previous, history)
            return pointer["active"], previous
    raise ModelError(f"nothing to roll back to: {pointer['active']} is the first model version used")


# --- creating and exporting versions --------------------------------------------------------


def save(state: dict, metadata: dict, kind: str, parent: str | None, scores: dict | None = None) -> str:
    """Store trained weights as a new version (not yet in force); returns its ID."""
    from moodplayer.voice.model import save_model

    version_id = _next_id()
    info = {"id": version_id, "kind": kind, "parent": parent, "created": utc_now(), "scores": scores or {}}
    save_model(weights_path(version_id), state, {**metadata, "version": info})
    return version_id


@dataclass(frozen=True)
class Trained:
    """A model ``train`` made, stored as a version: how it and the version in force scored on its
    validation speakers' clips (UAR; ``None`` without any), and whether it is in force now."""

    id: str
    parent: str
    speakers: list[str]
    uar: float | None
    parent_uar: float | None
    in_force: bool


def add_trained(net, metadata: dict, validation: Sequence, force: bool = False) -> Trained:
    """Store a model ``train`` made as a new version, child of the version in force, and put it in
    force only if it scores at least as well as that one on the new model's ``validation``
    speakers' clips (both heard as ``detect`` hears a file), or with ``force``.

    The shipped model is never written here: rebuilding it is ``train --out``.
    """
    from moodplayer.voice.classifier import Classifier

    parent, parent_net, parent_metadata = load_active()
    uar = validation_uar(Classifier(net.eval(), metadata), validation)
    parent_uar = validation_uar(Classifier(parent_net, parent_metadata), validation)
    speakers = sorted({clip.speaker for clip in validation})
    scores = {"validation_uar": uar, "parent_validation_uar": parent_uar, "validation_speakers": speakers}
    version_id = save(net.state_dict(), metadata, kind="trained", parent=parent, scores=scores)
    better = uar is not None and parent_uar is not None and uar >= parent_uar
    if better or force:
        use(version_id)
    return Trained(version_id, parent, speakers, uar, parent_uar, better or force)


def validation_uar(classifier, clips: Sequence) -> float | None:
    """A model's unweighted average recall on labelled clips, a clip without speech counting as an
    error, as ``evaluate`` scores them (training.evaluation.judge); ``None`` for no clips."""
    from moodplayer.voice.training.evaluation import hearings, judge

    if not clips:
        return None
    return judge(classifier.net, hearings(classifier, clips))["uar"]


def import_file(path: Path) -> str:
    """Copy a model file made elsewhere (``moodplayer train --out``) in as a new version."""
    from moodplayer.files import atomic_write
    from moodplayer.voice.model import read_metadata

    path = Path(path)
    check(path)
    metadata = read_metadata(path)
    version_id = _next_id()
    info = {"id": version_id, "kind": "imported", "parent": None, "created": utc_now(), "source": str(path.resolve())}
    target = weights_path(version_id)
    atomic_write(target, path.read_bytes())
    atomic_write(target.with_suffix(".json"), (json.dumps({**metadata, "version": info}, indent=2) + "\n").encode())
    return version_id


def export(version_id: str, target: Path) -> Path:
    """Write a good version to ``target`` (``.safetensors``) with its sidecar, for use elsewhere."""
    from moodplayer.files import atomic_write
    from moodplayer.voice.model import sidecar_path

    target = Path(target)
    if target.suffix != ".safetensors":
        raise ModelError(f"export to a .safetensors file (its metadata goes next to it as .json), not {target.name}")
    version = get(version_id)
    if version.problem:
        raise ModelError(f"model version {version_id} cannot be exported: {version.problem}")
    metadata = json.loads(version.path.with_suffix(".json").read_bytes())
    metadata.get("version", {}).pop("source", None)  # where it was imported from: this machine's path
    atomic_write(target, version.path.read_bytes(), parents=False)
    atomic_write(sidecar_path(target), (json.dumps(metadata, indent=2) + "\n").encode(), parents=False)
    return target


def _next_id() -> str:
    numbers = [int(m.group(1)) for p in models_dir().glob("v*") if (m := _ID.match(p.name.split(".")[0]))]
    return f"v{max(numbers, default=0) + 1}"
