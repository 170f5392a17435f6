"""Fine-tuning a model on the user's own voice, without forgetting everyone else's.

A few dozen clips are far too few to train on alone: the net would memorise
them. So adaptation starts from the current model and stays near it:

- batch-norm statistics are kept (a few clips would skew them), and an L2-SP
  penalty pulls every weight toward its base value (Li et al. 2018), with a
  small learning rate and a fixed handful of epochs (freezing the CNN
  front-end as well is an option; it adapts less, as bench/personal.py shows);
- when the base model's training corpus is on disk, each epoch *rehearses* a
  sample of it next to the user's clips, so the other voices are not forgotten.

Whether it helped is measured on the user's own clips by stratified k-fold
(each fold is scored by a model fine-tuned without it), against the base
model on the same clips; a worse result is refused unless forced.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import MoodplayerError
from moodplayer.text import count

if TYPE_CHECKING:
    from moodplayer.voice.model import ModelMetadata

#: Called with a short line of progress ("fold 2/3 …").
Say = Callable[[str], None]


class PersonalError(MoodplayerError):
    """Too few personal clips to adapt to, or an adaptation that made things worse."""


@dataclass(frozen=True)
class TuneRecipe:
    """How the model is adapted; stored in the new version's metadata."""

    epochs: int = 10
    lr: float = 5e-4
    batch_size: int = 16
    l2sp: float = 1e-3  # weight of Σ‖w − w_base‖² in the loss
    rehearsal: float = 2.0  # base-corpus clips per personal clip in each epoch
    freeze_front: bool = False  # True: only the LSTM, attention and head move
    folds: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


def fine_tune(
    base,
    personal: Sequence,
    rehearsal: Sequence,
    recipe: TuneRecipe = TuneRecipe(),
    seed: int = 0,
    profiles: bool = False,
):
    """A copy of ``base`` adapted to the ``personal`` examples (``rehearsal``: base-corpus examples, may be empty).

    Each member of an ensemble is tuned on its own (seeds ``seed``, ``seed + 1``,
    …), as it was trained: members may normalise a cold-start clip differently
    (features.cold_start), so each must hear the clips its own way.
    """
    from moodplayer.voice.model import ensemble_of, members_of

    return ensemble_of(
        [_fine_tune_net(net, personal, rehearsal, recipe, seed + i, profiles) for i, net in enumerate(members_of(base))]
    )


def _fine_tune_net(base, personal: Sequence, rehearsal: Sequence, recipe: TuneRecipe, seed: int, profiles: bool):
    """A copy of one net adapted to the personal examples.

    Clips are augmented as in training: one of their speed versions (when
    extracted at the model's speeds, as ``train --personal`` does), crops,
    SpecAugment, and, for a model trained for voice profiles (``profiles``),
    half of them normalised by a subset of their own speaker's clips, as a
    profile would.
    """
    import torch
    from torch import nn

    from moodplayer.voice.model import pad_batch, typical_var
    from moodplayer.voice.training.fit import Augmenter, Recipe, optimiser_step

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = copy.deepcopy(base)
    anchor = {name: p.detach().clone() for name, p in base.named_parameters()}
    if recipe.freeze_front:
        for p in net.front.parameters():
            p.requires_grad_(False)
    trainable = [(name, p) for name, p in net.named_parameters() if p.requires_grad]
    opt = torch.optim.Adam([p for _, p in trainable], lr=recipe.lr)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    recipe_like_base = replace(Recipe(), speaker_norm=0.5 if profiles else 0.0)
    augment = Augmenter([*personal, *rehearsal], recipe_like_base, rng, typical_var(base))
    n_rehearse = min(len(rehearsal), round(recipe.rehearsal * len(personal)))
    for _ in range(recipe.epochs):
        drawn = [rehearsal[i] for i in rng.choice(len(rehearsal), n_rehearse, replace=False)] if n_rehearse else []
        epoch = list(personal) + drawn
        order = rng.permutation(len(epoch))
        _train_mode(net)
        for start in range(0, len(epoch), recipe.batch_size):
            batch = [epoch[j] for j in order[start : start + recipe.batch_size]]
            x, lengths = pad_batch([augment(ex) for ex in batch])
            penalty = sum(((p - anchor[name]) ** 2).sum() for name, p in trainable)
            loss = loss_fn(net(x, lengths), torch.tensor([ex.label for ex in batch])) + recipe.l2sp * penalty
            optimiser_step(opt, net, loss)
    return net.eval()


def _train_mode(net) -> None:
    """Dropout on, but batch norm keeps the base statistics (a few clips would skew them)."""
    from torch import nn

    net.train()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.eval()


def stratified_folds(labels: Sequence[int], k: int, seed: int = 0) -> list[np.ndarray]:
    """``k`` index sets with each emotion dealt out evenly (round-robin after a shuffle)."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    turn = 0
    for label in sorted(set(labels)):
        members = rng.permutation([i for i, y in enumerate(labels) if y == label])
        for i in members:
            folds[turn % k].append(int(i))
            turn += 1
    return [np.array(sorted(f)) for f in folds]


def accuracy(net, examples: Sequence, profile=None) -> float:
    """Share of ``examples`` classified right, normalised by ``profile`` (a speaker's Stats) or per clip."""
    from moodplayer.voice.training.evaluation import predict_logits

    if not examples:
        return 0.0
    profiles = {ex.speaker: profile for ex in examples} if profile is not None else None
    predicted = predict_logits(net, examples, profiles).argmax(axis=1)
    return float(np.mean(predicted == np.array([ex.label for ex in examples])))


def profile_of(examples: Sequence):
    """The voice profile of a set of clips: the statistics of all their frames."""
    from moodplayer.voice.features import Stats

    return Stats.combine([ex.stats[0] for ex in examples])


def cross_validate(
    base,
    personal: Sequence,
    rehearsal: Sequence,
    recipe: TuneRecipe,
    seed: int = 0,
    say: Say | None = None,
    profiles: bool = False,
) -> dict:
    """Before/after accuracy on the user's clips, each fold scored by a model tuned without it.

    With ``profiles`` (a model trained for voice profiles) each fold is
    normalised by the profile of the other folds' clips, as ``listen`` would
    with a profile built from them; otherwise each clip at cold start.
    """
    labels = np.array([ex.label for ex in personal])
    right_before = right_after = 0.0
    folds = stratified_folds(labels.tolist(), recipe.folds, seed)
    for i, held in enumerate(folds, 1):
        if say:
            say(f"fold {i}/{len(folds)}: tuning on {count(len(personal) - len(held), 'clip')}, scoring {len(held)}")
        rest = [personal[j] for j in range(len(personal)) if j not in set(held.tolist())]
        scored = [personal[j] for j in held]
        profile = profile_of(rest) if profiles else None
        tuned = fine_tune(base, rest, rehearsal, recipe, seed + i, profiles)
        right_before += accuracy(base, scored, profile) * len(held)
        right_after += accuracy(tuned, scored, profile) * len(held)
    return {
        "before": round(right_before / labels.size, 4),
        "after": round(right_after / labels.size, 4),
        "n": int(labels.size),
        "folds": len(folds),
        "normalisation": "voice profile" if profiles else "per clip",
    }


def check_enough(personal: Sequence, folds: int) -> None:
    """At least two emotions, and enough clips that every fold has some to score."""
    emotions = {EMOTIONS[ex.label] for ex in personal}
    if len(emotions) < 2 or len(personal) < 2 * folds:
        are = "is" if len(personal) == 1 else "are"
        raise PersonalError(
            f"{count(len(personal), 'personal clip')} of {count(len(emotions), 'emotion')} {are} too few to adapt to; "
            f"record at least {2 * folds} clips of two or more emotions (moodplayer record --emotion LABEL)"
        )


def rehearsal_examples(metadata: ModelMetadata, count: int, seed: int = 0) -> list:
    """A random sample of the base model's training corpora, or nothing when none is on disk."""
    from moodplayer.voice.datasets import discover
    from moodplayer.voice.training.examples import make_examples

    trained_on = set(metadata.split.get("train", []))
    if count == 0:
        return []
    clips = []
    for root in metadata.data_roots:
        try:
            clips += [c for c in discover(root) if c.speaker in trained_on]
        except MoodplayerError:  # the folder is there but no longer holds the corpus
            pass
    if not clips:
        return []
    chosen = np.random.default_rng(seed).choice(len(clips), min(count, len(clips)), replace=False)
    return make_examples([clips[i] for i in sorted(chosen)], metadata.features)


def adapt(
    base,
    metadata: ModelMetadata,
    personal: Sequence,
    recipe: TuneRecipe = TuneRecipe(),
    seed: int = 0,
    say: Say | None = None,
):
    """Cross-validate the adaptation, then tune on all the user's clips: returns (net, report).

    The report holds the before/after accuracies, how many clips were
    rehearsed, and the seconds it all took.
    """
    start = time.perf_counter()
    check_enough(personal, recipe.folds)
    rehearsal = rehearsal_examples(metadata, round(recipe.rehearsal * len(personal) * 2), seed)
    if say:
        say(f"{count(len(personal), 'personal clip')}, {count(len(rehearsal), 'base-corpus clip')} to rehearse")
    profiles = metadata.trained_for_profiles
    report = cross_validate(base, personal, rehearsal, recipe, seed, say, profiles)
    if say:
        say("tuning on all personal clips")
    net = fine_tune(base, personal, rehearsal, recipe, seed, profiles)
    report.update(rehearsed=len(rehearsal), seconds=round(time.perf_counter() - start, 1))
    return net, report


# --- the model in force, adapted: kept or refused ------------------------------------------


@dataclass(frozen=True)
class Adaptation:
    """A personal model stored as a version, with how it and the model it adapted scored on the user's clips."""

    version: str
    parent: str
    report: dict

    @property
    def worse(self) -> bool:
        return self.report["after"] < self.report["before"]


def adapt_in_force(seed: int = 0, recipe: TuneRecipe = TuneRecipe(), say: Say | None = None) -> Adaptation:
    """Adapt the model in force to the sample store and store the result as a new version, not yet
    in force (see :func:`keep_or_refuse`)."""
    import torch

    from moodplayer.voice import model_versions as versions
    from moodplayer.voice import sample_store as store
    from moodplayer.voice.model import ModelMetadata, load_model
    from moodplayer.voice.training.examples import make_examples

    torch.set_num_threads(1)  # as training: this small net gains nothing from more
    parent, path = versions.resolve_active()
    base, document = load_model(path)
    metadata = ModelMetadata.from_dict(document)
    # The user's clips also at the speeds the model was trained at (fine-tuning draws from them as training
    # did), and heard as the model hears every clip: at those speeds too only if it has speed views.
    views = metadata.test_time_speeds
    speeds = metadata.recipe.get("speeds", views)
    examples = make_examples(store.clips(), metadata.features, speeds, speed_views=bool(views))
    net, report = adapt(base, metadata, examples, recipe, seed, say)
    adapted = {k: v for k, v in document.items() if k not in ("version", "format", "weights_sha256")}
    adapted["personal"] = {**report, "recipe": recipe.to_dict()}
    scores = {"personal_before": report["before"], "personal_after": report["after"]}
    version = versions.save(net.state_dict(), adapted, kind="personal", parent=parent, scores=scores)
    return Adaptation(version, parent, report)


def keep_or_refuse(adaptation: Adaptation, force: bool = False) -> None:
    """Put an adapted version in force unless it scored worse on the user's clips than the model it
    adapted (``force``: even then). A refused version stays stored, to be tried with ``model use``."""
    from moodplayer.voice import model_versions as versions

    if adaptation.worse and not force:
        raise PersonalError(
            f"the adapted model ({adaptation.version}) is worse on your clips, so {adaptation.parent} stays in "
            f"force; record more clips, or use it anyway with: moodplayer model use {adaptation.version}"
        )
    versions.use(adaptation.version)
