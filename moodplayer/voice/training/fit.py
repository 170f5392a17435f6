"""The training loop: how a model is trained (:class:`Recipe`), the views it trains on
(:class:`Augmenter`), and one member's fit."""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import MoodplayerError
from moodplayer.voice.features import Stats
from moodplayer.voice.training.evaluation import predict_logits
from moodplayer.voice.training.examples import Example, class_prior, corpus_classes, typical_variance
from moodplayer.voice.training.metrics import uar

#: Called after each epoch with (epoch, epochs, train loss, validation UAR).
Report = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class Recipe:
    """How a model is trained; stored in its metadata."""

    epochs: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    # Epochs without a better validation UAR before stopping and keeping the best epoch; 0 trains
    # every epoch and keeps the last, which measured better on the actor folds: the one-cycle
    # schedule ends annealed, and two validation speakers are a noisy judge of epochs.
    patience: int = 0
    crop_frames: int = 300  # random 3 s crops in training; whole clips at test time
    freq_masks: int = 2
    freq_mask_width: int = 8
    time_masks: int = 2
    time_mask_width: int = 20
    mixup: float = 0.0  # Beta(a, a) mixing of pairs of clips and their labels; 0 = off
    speaker_norm: float = 0.5  # share of clips normalised by some of their speaker's clips, not their own
    speeds: tuple[float, ...] = (0.9, 1.1)  # speed-perturbed copies of each clip to draw from
    # Whether the model also hears each clip at ``speeds`` when it classifies it (test-time
    # augmentation, classifier.view_logits). With four nets averaged it does not pay for three times
    # the features and twice the forward pass (docs/experiments.md).
    speed_views: bool = False
    # Degraded copies of each clip to draw from in training only (examples.degraded_features): rooms,
    # fans, cheap microphones and phone lines, which RAVDESS's studio has none of.
    degraded_copies: int = 2
    # Of the final model's speakers, at least one, held out to calibrate its confidence (and to stop
    # early, with patience). Cross-validation's fold models hold out none: they need no calibration to
    # be scored, and every speaker more helps (docs/experiments.md).
    validation_fraction: float = 0.1
    ensemble: int = 4  # nets trained from seeds seed, seed+1, …; the model averages their logits
    # Training's forward passes in bfloat16 (torch.autocast) only where the CPU computes it natively
    # (AVX512-BF16): faster training, same accuracy (docs/experiments.md); weights, optimiser and
    # inference stay float32.
    bfloat16: bool = True
    # Per member, cycled: whether a clip heard without a profile is scaled by the training clips'
    # typical spread or by its own (features.cold_start). Members that hear clips differently err on
    # different clips, and their average gains more than seeds alone give (docs/experiments.md).
    typical_spread: tuple[bool, ...] = (False, True)
    # Per epoch, each speaker's clips drawn at most this many times the median speaker's count (0: all
    # of everyone's), so a corpus of few speakers and many clips each (TESS: 2 speakers, 1,400 clips
    # each) weighs as the speakers it has, not as its clips; every speaker of RAVDESS is at the median.
    speaker_share: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    def member_typical(self, member: int) -> bool:
        """Whether ensemble member ``member`` scales cold-start clips by the typical spread."""
        return bool(self.typical_spread) and self.typical_spread[member % len(self.typical_spread)]


class Augmenter:
    """Draws one training view of a clip: a version (as recorded, a speed or a degraded copy, equally
    often), a normalisation, a crop, SpecAugment.

    With probability ``recipe.speaker_norm`` the clip is normalised by the
    statistics of a random subset (1 to all) of its speaker's clips in the same
    version, as a voice profile would; otherwise at cold start, by its own mean and
    ``typical_var`` or its own variance (features.cold_start). Trained on both,
    the net works at cold start and improves as a user's profile fills up.
    Degraded copies are always drawn at cold start: each is in a room and noise
    of its own, while a user's profile is gathered where the user speaks, and
    statistics pooled over unrelated rooms teach the nets to trust a profile less
    (docs/experiments.md).
    """

    def __init__(
        self, examples: Sequence[Example], recipe: Recipe, rng: np.random.Generator, typical_var: np.ndarray | None
    ):
        self.recipe, self.rng, self.typical_var = recipe, rng, typical_var
        parts: dict[tuple[str, int], list[Stats]] = {}
        for ex in examples:
            for v, stats in enumerate(ex.stats[: ex.n_recorded]):
                parts.setdefault((ex.speaker, v), []).append(stats)
        self.pools = {key: Stats.stack(pool) for key, pool in parts.items()}  # (speaker, version) → its clips' stats

    def __call__(self, ex: Example) -> np.ndarray:
        recipe, rng = self.recipe, self.rng
        v = int(rng.integers(0, len(ex.versions)))
        profile = None
        if rng.random() < recipe.speaker_norm and v < ex.n_recorded:
            pool = self.pools[(ex.speaker, v)]
            size = len(pool[0])
            chosen = rng.choice(size, size=int(rng.integers(1, size + 1)), replace=False)
            profile = Stats.combine_stacked(*(rows[chosen] for rows in pool))
        x = ex.normalised(profile, v, self.typical_var)
        if x.shape[0] > recipe.crop_frames:
            start = rng.integers(0, x.shape[0] - recipe.crop_frames + 1)
            x = x[start : start + recipe.crop_frames]
        return _spec_augment(x, recipe, rng)


def _spec_augment(x: np.ndarray, recipe: Recipe, rng: np.random.Generator) -> np.ndarray:
    """Zero (= the mean, after normalisation) a few random bands and stretches of time."""
    x = x.copy()
    frames, bands = x.shape
    for _ in range(recipe.freq_masks):
        width = rng.integers(0, recipe.freq_mask_width + 1)
        start = rng.integers(0, bands - width + 1)
        x[:, start : start + width] = 0.0
    for _ in range(recipe.time_masks):
        width = min(frames // 4, rng.integers(0, recipe.time_mask_width + 1))
        start = rng.integers(0, frames - width + 1)
        x[start : start + width] = 0.0
    return x


def speaker_draws(examples: Sequence[Example], share: float) -> dict[str, int]:
    """Per speaker, how many of their clips one epoch draws (see Recipe.speaker_share)."""
    counts = Counter(ex.speaker for ex in examples)
    if share <= 0:
        return dict(counts)
    most = math.ceil(share * float(np.median(list(counts.values()))))
    return {name: min(count, most) for name, count in counts.items()}


class EpochDraws:
    """Which training clips each epoch trains on: every clip, or each speaker's share of theirs
    (:func:`speaker_draws`) drawn afresh each epoch."""

    def __init__(self, examples: Sequence[Example], share: float):
        self.draws = speaker_draws(examples, share)
        self.own: dict[str, list[int]] = {}
        for i, ex in enumerate(examples):
            self.own.setdefault(ex.speaker, []).append(i)
        self.everyone = all(self.draws[name] == len(own) for name, own in self.own.items())

    @property
    def size(self) -> int:
        return sum(self.draws.values())

    def weights(self, examples: Sequence[Example]) -> np.ndarray | None:
        """How often each clip is trained on per epoch, on average (``None``: every clip once)."""
        if self.everyone:
            return None
        return np.array([self.draws[ex.speaker] / len(self.own[ex.speaker]) for ex in examples])

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        if self.everyone:
            return np.arange(self.size)
        chosen = [rng.choice(own, self.draws[name], replace=False) for name, own in sorted(self.own.items())]
        return np.sort(np.concatenate(chosen))


def held_masks(examples: Sequence[Example]):
    """Per clip, the emotions its corpus holds (a (clips, classes) bool tensor), or ``None`` where
    every clip's corpus holds every emotion."""
    import torch

    held = corpus_classes(examples)
    if all(mask.all() for mask in held.values()):
        return None
    return torch.from_numpy(np.stack([held[ex.corpus] for ex in examples]))


def masked_cross_entropy(logits, labels, held, smoothing: float):
    """Cross-entropy with label smoothing over the emotions each clip's corpus holds (``held``, a
    bool per clip and emotion): a clip of a corpus without calm never teaches the net "not calm"."""
    import torch

    log_p = torch.log_softmax(logits.float().masked_fill(~held, float("-inf")), dim=1)
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)
    spread = -log_p.masked_fill(~held, 0.0).sum(dim=1) / held.sum(dim=1)
    return ((1 - smoothing) * nll + smoothing * spread).mean()


def optimiser_step(optimiser, net, loss) -> None:
    """One step down ``loss``'s gradient, its norm clipped to 5 (a long clip's LSTM gradient can spike)."""
    from torch import nn

    optimiser.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 5.0)
    optimiser.step()


def fit(
    train: Sequence[Example],
    valid: Sequence[Example],
    recipe: Recipe,
    seed: int = 0,
    report: Report | None = None,
    member: int = 0,
):
    """Train member ``member`` of an ensemble (seed ``seed + member``); returns it with a summary.

    AdamW with a one-cycle schedule and label smoothing. Keeps the last
    epoch, or with ``recipe.patience`` the best validation-UAR epoch, stopping
    after that many epochs without a better one.
    """
    import torch

    from moodplayer.voice.model import EmotionNet, ModelConfig, pad_batch

    seed += member
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    draw = EpochDraws(train, recipe.speaker_share)
    weights = draw.weights(train)
    typical = typical_variance(train, weights) if recipe.member_typical(member) else None
    n_inputs = train[0].versions[0].shape[1]
    config = ModelConfig(
        n_inputs=n_inputs,
        n_classes=len(EMOTIONS),
        typical_spread=(typical is not None,),
        class_prior=class_prior(train, weights),
    )
    net = EmotionNet(config)
    if typical is not None:
        net.typical_var.copy_(torch.from_numpy(typical))
    augment = Augmenter(train, recipe, rng, typical)
    held = held_masks(train)
    steps = math.ceil(draw.size / recipe.batch_size)
    # foreach: the same updates to the bit as the per-parameter loop PyTorch picks on CPU, in fewer calls
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, foreach=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.epochs * steps)
    if recipe.patience and not valid:
        raise MoodplayerError("early stopping (patience) needs validation speakers")
    valid_labels = np.array([ex.label for ex in valid])
    low_precision = recipe.bfloat16 and native_bfloat16()
    best_uar, best_epoch, best_state = -1.0, 0, None  # the epoch kept, and its weights when not the current ones
    for epoch in range(1, recipe.epochs + 1):
        net.train()
        drawn = draw(rng)
        views = [augment(train[i]) for i in drawn]
        total = 0.0
        for batch in similar_length_batches([len(v) for v in views], recipe.batch_size, rng):
            x, lengths = pad_batch([views[j] for j in batch])
            clips = drawn[batch]
            y = torch.tensor([train[i].label for i in clips])
            batch_held = None if held is None else held[torch.from_numpy(clips)]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low_precision):
                loss = _loss(net, x, lengths, y, batch_held, recipe, rng)
            optimiser_step(opt, net, loss)
            sched.step()
            total += loss.item()
        val_uar = uar(valid_labels, predict_logits(net, valid, every_view=False).argmax(axis=1)) if valid else math.nan
        if report:
            report(epoch, recipe.epochs, total / steps, val_uar)
        if not recipe.patience:
            best_uar, best_epoch = val_uar, epoch
        elif val_uar > best_uar:
            best_uar, best_epoch, best_state = val_uar, epoch, copy.deepcopy(net.state_dict())
        elif epoch - best_epoch >= recipe.patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, {
        "kept_epoch": best_epoch,
        "validation_uar": None if math.isnan(best_uar) else round(best_uar, 4),
        "epochs_run": epoch,
        "seed": seed,
        "bfloat16": low_precision,
    }


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16, torch's own check), where autocast
    to it pays; elsewhere a recipe's ``bfloat16`` leaves training in float32."""
    import torch

    return torch.cpu._is_avx512_bf16_supported()


#: How far (in frames) lengths are jittered before batching clips of similar length: enough that
#: batches differ from epoch to epoch, little enough that padding stays half of random batches'.
LENGTH_JITTER = 25


def similar_length_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices in batches of clips of about the same length, the batches in random order.

    A batch is padded to its longest clip, and the LSTM runs over the padding
    too (see model.BiLSTM); random batches of RAVDESS clips are about a third
    padding, length-sorted ones (with jitter) under a sixth, so an epoch is cheaper.
    """
    order = np.argsort(np.asarray(lengths) + rng.uniform(-LENGTH_JITTER, LENGTH_JITTER, len(lengths)))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _loss(net, x, lengths, y, held, recipe: Recipe, rng: np.random.Generator):
    """Cross-entropy with label smoothing, over the emotions each clip's corpus holds where ``held``
    says (see :func:`held_masks`), on a mixup of the batch with a shuffled copy of itself when
    ``recipe.mixup`` > 0."""
    import torch

    def cross_entropy(logits, labels, mask):
        if mask is None:
            return torch.nn.functional.cross_entropy(logits, labels, label_smoothing=recipe.label_smoothing)
        return masked_cross_entropy(logits, labels, mask, recipe.label_smoothing)

    if recipe.mixup <= 0:
        return cross_entropy(net(x, lengths), y, held)
    lam = float(rng.beta(recipe.mixup, recipe.mixup))
    perm = torch.from_numpy(rng.permutation(len(y)))
    logits = net(lam * x + (1 - lam) * x[perm], torch.maximum(lengths, lengths[perm]))
    held_perm = None if held is None else held[perm]
    return lam * cross_entropy(logits, y, held) + (1 - lam) * cross_entropy(logits, y[perm], held_perm)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature that minimises validation NLL (calibrated confidence)."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.5), np.log(5.0), 60)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return round(best_t, 4)
