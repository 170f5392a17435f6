"""Training and scoring, always by speaker.

Emotion corpora have few speakers and many clips each; a split by clip puts
every test voice in training too and inflates accuracy by 30-50 points. So
everything here splits by speaker: cross-validation holds out whole groups of
speakers (RAVDESS actors 01-04, 05-08, ... in turn), and calibration (and
early stopping, when asked for) use *validation speakers* carved from the
training speakers, never the test fold.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import AudioError, MoodplayerError, NoSpeechError
from moodplayer.voice.datasets import Clip, speakers
from moodplayer.voice.features import EnrolmentShift, FeatureConfig, Stats, cold_start, extract

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
    # Degraded copies of each clip to draw from in training only (train.degraded_features): rooms,
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

    def to_dict(self) -> dict:
        return asdict(self)

    def member_typical(self, member: int) -> bool:
        """Whether ensemble member ``member`` scales cold-start clips by the typical spread."""
        return bool(self.typical_spread) and self.typical_spread[member % len(self.typical_spread)]


@dataclass
class Example:
    """A clip's raw features (as recorded, speed-perturbed, then degraded copies) with their statistics."""

    versions: tuple[np.ndarray, ...]
    stats: tuple[Stats, ...]
    label: int
    speaker: str
    name: str  # the file name: enrolment takes a speaker's first neutral clips by name
    n_views: int = 1  # the leading versions the product hears the clip as: as recorded, then any test-time speeds
    n_recorded: int = 1  # the leading versions that are the recording itself, as recorded or at a speed

    @property
    def views(self) -> tuple[np.ndarray, ...]:
        """The versions the product hears a clip as (classifier.view_logits); the rest are for training only."""
        return self.versions[: self.n_views]

    def normalised(
        self, profile: Stats | None = None, version: int = 0, typical_var: np.ndarray | None = None
    ) -> np.ndarray:
        """Normalised by a voice profile, or at cold start (see features.cold_start)."""
        return (profile or cold_start(self.stats[version], typical_var)).normalise(self.versions[version])


#: speaker → voice profile; ``None`` means every clip is normalised at cold start.
Profiles = dict[str, Stats] | None


# --- features, with a cache ---------------------------------------------------------------


def cached(path: Path, kind: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()`` for an audio file, cached under ``kind`` while the file is unchanged.

    The key is the file's resolved path, modification time and size, and
    ``kind`` (which names the feature settings): editing or replacing a file,
    or changing a setting, computes afresh.
    """
    import io

    from moodplayer.files import atomic_write
    from moodplayer.paths import cache_dir

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}".encode()).hexdigest()[:24]
    file = cache_dir() / "features" / kind / f"{key}.npy"
    if file.is_file():
        try:
            return np.load(file)
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    value = compute()
    buffer = io.BytesIO()
    np.save(buffer, value)
    atomic_write(file, buffer.getvalue())
    return value


def clip_features(clip: Clip, config: FeatureConfig, speed: float = 1.0) -> np.ndarray:
    """Raw (un-normalised) features of a clip played at ``speed`` (see features.extract), cached."""
    from moodplayer.voice.audio import load_audio

    def compute() -> np.ndarray:
        return extract(load_audio(clip.path, config.sample_rate), config, speed)

    return cached(clip.path, f"{config.key()}-speed{speed}", compute)


#: Bumped whenever the way training copies are degraded changes (it keys their cache).
DEGRADATION_VERSION = 3


def degraded_features(clip: Clip, config: FeatureConfig, copy: int) -> np.ndarray:
    """Raw features of degraded copy ``copy`` of a clip, cached.

    Half the copies are heard in a room (:meth:`rooms.Room.draw`: RT60 0.2-1.0 s, the
    microphone 0.3-3 m from the talker), every copy in
    coloured noise, white hiss to brown rumble, 5-25 dB below the speech, and half
    of them then through a narrow channel, a phone line or a headset's link (a
    band-pass from 100-400 Hz to 3-7 kHz: RAVDESS's studio passes 50 Hz-8 kHz, and a
    model that never hears a narrow channel fails on a phone line). The draws
    come from a generator seeded by the file name and ``copy``, so every run hears
    the same copies. :class:`NoSpeechError` if no speech is found in the copy any
    more; that answer is cached too (as zero frames), so no run computes it twice.
    """
    from moodplayer.voice.audio import band_limited, coloured_noise, load_audio, with_noise
    from moodplayer.voice.rooms import Room, in_room

    def compute() -> np.ndarray:
        samples = load_audio(clip.path, config.sample_rate)
        seed = int(hashlib.sha256(f"{clip.path.name}|{copy}".encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng(seed)
        if rng.random() < 0.5:
            samples = in_room(samples, Room.draw(rng), rng)
        exponent, snr_db = rng.uniform(0.0, 2.0), rng.uniform(5.0, 25.0)
        samples = with_noise(samples, coloured_noise(samples.size, exponent, rng), snr_db)
        if rng.random() < 0.5:
            samples = band_limited(samples, rng.uniform(100.0, 400.0), rng.uniform(3000.0, 7000.0))
        try:
            return extract(samples, config)
        except NoSpeechError:
            return np.zeros((0, config.dims), np.float32)

    features = cached(clip.path, f"{config.key()}-degraded{DEGRADATION_VERSION}-{copy}", compute)
    if not len(features):
        raise NoSpeechError(f"no speech heard in degraded copy {copy} of {clip.path}")
    return features


def make_examples(
    clips: Sequence[Clip],
    config: FeatureConfig,
    speeds: Sequence[float] = (),
    degraded_copies: int = 0,
    speed_views: bool = True,
) -> list[Example]:
    """Examples of the clips whose label is one of the eight; clips without speech are skipped.

    ``speeds`` adds speed-perturbed versions and ``degraded_copies`` degraded ones that training draws
    from; ``speed_views``: whether the model also hears a clip at ``speeds`` (its views, see Example).
    """
    examples = []
    for clip in clips:
        if clip.label not in EMOTIONS:
            continue
        try:
            raw = [clip_features(clip, config, speed) for speed in (1.0, *speeds)]
        except AudioError:
            continue
        degraded = _heard_copies(clip, config, degraded_copies)
        stats = tuple(Stats.of(r) for r in (*raw, *degraded))
        label = EMOTIONS.index(clip.label)
        views = len(raw) if speed_views else 1
        examples.append(Example((*raw, *degraded), stats, label, clip.speaker, clip.path.name, views, len(raw)))
    return examples


def _heard_copies(clip: Clip, config: FeatureConfig, copies: int) -> list[np.ndarray]:
    """The clip's degraded copies in which speech is still found. The product refuses the others as
    "no speech" (some 5 % of RAVDESS's clips at the lowest SNRs), so the net need not learn them, and
    the clip itself is kept: dropping it would change which clips the actor folds score."""
    heard = []
    for index in range(copies):
        try:
            heard.append(degraded_features(clip, config, index))
        except NoSpeechError:
            pass
    return heard


# --- speaker splits ----------------------------------------------------------------------


def speaker_folds(names: Sequence[str], k: int) -> list[list[str]]:
    """``k`` groups of consecutive speakers (sorted): RAVDESS 01-20, k=5 → 01-04, 05-08, …"""
    names = sorted(names)
    if k < 2 or len(names) < k:
        raise MoodplayerError(f"{k} folds need at least {max(k, 2)} speakers; the data has {len(names)}")
    bounds = np.linspace(0, len(names), k + 1).round().astype(int)
    return [names[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def validation_speakers(names: Sequence[str], fraction: float) -> list[str]:
    """The last speakers of the (sorted) training speakers, to stop early and calibrate on.

    RAVDESS alternates male/female actors, so the last two are one of each.
    """
    names = sorted(names)
    if len(names) < 2:
        raise MoodplayerError(
            "training needs at least 2 speakers (one to validate on); for a folder-per-label tree, "
            "name the speaker with --speaker-pattern"
        )
    count = min(len(names) - 1, max(1, round(fraction * len(names))))
    return names[-count:]


# --- the training loop -------------------------------------------------------------------


class _Augmenter:
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


def class_prior(examples: Sequence[Example]) -> tuple[float, ...]:
    """How often each emotion occurs among ``examples`` (a class with no clips counts as one, so
    its log stays finite)."""
    counts = np.maximum(np.bincount([ex.label for ex in examples], minlength=len(EMOTIONS)), 1)
    return tuple(round(float(c), 6) for c in counts / counts.sum())


def typical_variance(examples: Sequence[Example]) -> np.ndarray:
    """Each column's within-clip variance averaged over the clips as recorded: the spread a clip
    heard without a profile is scaled by (features.cold_start)."""
    return np.mean([ex.stats[0].floored_var for ex in examples], axis=0)


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


def predict_logits(
    net,
    examples: Sequence[Example],
    profiles: Profiles = None,
    batch_size: int = 64,
    every_view: bool = True,
    norms: dict | None = None,
) -> np.ndarray:
    """Logits for whole clips, in order, as the product computes them (classifier.view_logits): each
    clip heard as recorded and at the speeds it was also extracted at, normalised at cold start and, when
    its speaker has one, by a voice profile and (``norms``: speaker → the voice's batch-norm statistics)
    batch norms moved to that voice. ``every_view=False``: as recorded only (cheaper)."""
    from moodplayer.voice.classifier import view_logits

    logits = np.zeros((len(examples), len(EMOTIONS)), np.float32)
    voices: dict[str | None, list[int]] = {}  # a batch shares its batch norms: one voice's clips, or cold ones
    for i, ex in enumerate(examples):
        voices.setdefault(ex.speaker if norms and ex.speaker in norms else None, []).append(i)
    for speaker, indices in voices.items():
        for start in range(0, len(indices), batch_size):
            chunk = [examples[i] for i in indices[start : start + batch_size]]
            views = [ex.views if every_view else ex.views[:1] for ex in chunk]
            stats = [profiles.get(ex.speaker) if profiles else None for ex in chunk]
            logits[indices[start : start + batch_size]] = view_logits(
                net, views, stats, norms[speaker] if speaker is not None else None
            )
    return logits


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
    from torch import nn

    from moodplayer.voice.model import EmotionNet, ModelConfig, pad_batch

    seed += member
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    typical = typical_variance(train) if recipe.member_typical(member) else None
    n_inputs = train[0].versions[0].shape[1]
    config = ModelConfig(
        n_inputs=n_inputs,
        n_classes=len(EMOTIONS),
        typical_spread=(typical is not None,),
        class_prior=class_prior(train),
    )
    net = EmotionNet(config)
    if typical is not None:
        net.typical_var.copy_(torch.from_numpy(typical))
    augment = _Augmenter(train, recipe, rng, typical)
    steps = math.ceil(len(train) / recipe.batch_size)
    # foreach: the same updates to the bit as the per-parameter loop PyTorch picks on CPU, in fewer calls
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, foreach=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.epochs * steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    if recipe.patience and not valid:
        raise MoodplayerError("early stopping (patience) needs validation speakers")
    valid_labels = np.array([ex.label for ex in valid])
    low_precision = recipe.bfloat16 and native_bfloat16()
    kept = (-1.0, 0, None)  # (validation UAR, epoch, weights when not the current ones)
    for epoch in range(1, recipe.epochs + 1):
        net.train()
        views = [augment(ex) for ex in train]
        total = 0.0
        for batch in similar_length_batches([len(v) for v in views], recipe.batch_size, rng):
            x, lengths = pad_batch([views[j] for j in batch])
            y = torch.tensor([train[j].label for j in batch])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low_precision):
                loss = _loss(net, loss_fn, x, lengths, y, recipe.mixup, rng)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item()
        val_uar = uar(valid_labels, predict_logits(net, valid, every_view=False).argmax(axis=1)) if valid else math.nan
        if report:
            report(epoch, recipe.epochs, total / steps, val_uar)
        if not recipe.patience:
            kept = (val_uar, epoch, None)
        elif val_uar > kept[0]:
            kept = (val_uar, epoch, copy.deepcopy(net.state_dict()))
        elif epoch - kept[1] >= recipe.patience:
            break
    if kept[2] is not None:
        net.load_state_dict(kept[2])
    net.eval()
    val_uar = None if math.isnan(kept[0]) else round(kept[0], 4)
    return net, {
        "kept_epoch": kept[1],
        "validation_uar": val_uar,
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


def _loss(net, loss_fn, x, lengths, y, mixup: float, rng: np.random.Generator):
    """Cross-entropy, on a mixup of the batch with a shuffled copy of itself when ``mixup`` > 0."""
    import torch

    if mixup <= 0:
        return loss_fn(net(x, lengths), y)
    lam = float(rng.beta(mixup, mixup))
    perm = torch.from_numpy(rng.permutation(len(y)))
    logits = net(lam * x + (1 - lam) * x[perm], torch.maximum(lengths, lengths[perm]))
    return lam * loss_fn(logits, y) + (1 - lam) * loss_fn(logits, y[perm])


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


# --- metrics -----------------------------------------------------------------------------


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


def closed_set(true: Sequence[str], probabilities: Sequence[np.ndarray | None], labels: Sequence[str]) -> dict | None:
    """Accuracy and UAR with each verdict chosen among the model's emotions that the corpus holds.

    The open-set figures (:func:`scores`) count a verdict of an emotion the corpus lacks as an
    error, as they must: CREMA-D has no calm or surprised clips, and a user may well sound calm.
    Papers that test across corpora score the emotions both share, so this figure sits beside
    the open-set one for comparing with them. A clip with no speech (``None``) and a label the
    model lacks stay errors. ``None`` when the corpus holds all of the model's emotions, or none.
    """
    present = set(true)
    held = [label for label in labels if label in present]
    if len(held) in (0, len(labels)):
        return None
    allowed = np.array([label in held for label in labels])
    predicted = [
        "no-speech" if p is None else labels[int(np.argmax(np.where(allowed, p, -np.inf)))] for p in probabilities
    ]
    result = scores(true, predicted)
    return {"emotions": held, "accuracy": result["accuracy"], "uar": result["uar"]}


# --- protocols ---------------------------------------------------------------------------


def split_sets(examples: Sequence[Example], train_speakers: Sequence[str], recipe: Recipe, validate: bool = True):
    """(training clips, validation clips, validation speakers) of ``train_speakers``; with
    ``validate=False`` every speaker trains and there are no validation clips."""
    valid_names = sorted(validation_speakers(train_speakers, recipe.validation_fraction)) if validate else []
    train_set = [ex for ex in examples if ex.speaker in train_speakers and ex.speaker not in valid_names]
    valid_set = [ex for ex in examples if ex.speaker in valid_names]
    return train_set, valid_set, valid_names


def assemble(nets: list, runs: list[dict], valid_set: Sequence[Example], valid_names: list[str]):
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
):
    """Train on ``train_speakers`` minus validation speakers; returns (model, info).

    With ``recipe.ensemble`` > 1 that many nets are trained (seeds ``seed``,
    ``seed + 1``, …; ``jobs`` at once) and averaged; ``report`` then counts
    epochs across them. The temperature is fitted to the whole model on the
    validation speakers.
    """
    if jobs > 1 and recipe.ensemble > 1:
        split_report = report and (lambda _, *args: report(*args))
        built = train_models(examples, [list(train_speakers)], recipe, seed, jobs, split_report)
        return built[0]
    train_set, valid_set, valid_names = split_sets(examples, train_speakers, recipe)
    nets, runs = [], []
    for member in range(recipe.ensemble):
        offset = member * recipe.epochs
        member_report = report and (lambda e, n, loss, u, o=offset: report(o + e, n * recipe.ensemble, loss, u))
        net, run = fit(train_set, valid_set, recipe, seed, member_report, member)
        nets.append(net)
        runs.append(run)
    return assemble(nets, runs, valid_set, valid_names)


def adapt_plan(
    items: Sequence[tuple[str, str, str]], mode: str, seed: int = 0
) -> tuple[dict[str, list[int]], list[int]]:
    """Which clips build each speaker's voice profile under an ``--adapt`` mode, and which are scored.

    ``items`` are (speaker, label, file name) per clip; returns speaker →
    enrolment indices, and the indices to score. ``none``: no profile (cold
    start), every clip scored. ``neutral:N``: each speaker's first N neutral
    clips by name are the enrolment and are not scored. ``history:N``: N of the
    speaker's clips drawn with a fixed seed, labels unused, stand for N past
    listens; every clip is scored. Either, followed by ``/stats``: the same
    clips, the profile's feature statistics only (see :func:`moves_batch_norms`).
    """
    profile, _, variant = mode.partition("/")
    kind, _, count = profile.partition(":")
    if kind == "none" and not count and not variant:
        return {}, list(range(len(items)))
    if kind not in ("neutral", "history") or not count.isdigit() or int(count) < 1 or variant not in ("", "stats"):
        raise MoodplayerError(
            f"--adapt {mode!r} is not one of none, neutral:N, history:N (N ≥ 1), each optionally /stats"
        )
    rng = np.random.default_rng(seed)
    enrol, scored = {}, []
    for name in sorted({speaker for speaker, _, _ in items}):
        own = [i for i, item in enumerate(items) if item[0] == name]
        if kind == "history":
            chosen = sorted(rng.choice(own, size=min(int(count), len(own)), replace=False).tolist())
            scored += own
        else:
            chosen = sorted((i for i in own if items[i][1] == "neutral"), key=lambda i: items[i][2])[: int(count)]
            scored += [i for i in own if i not in chosen]
        if chosen:
            enrol[name] = chosen
    return enrol, sorted(scored)


def moves_batch_norms(mode: str) -> bool:
    """Whether an ``--adapt`` mode's profiles move the model's batch norms to each voice, as the
    product's do; ``…/stats`` modes use the profile's feature statistics alone, to measure what
    moving them adds."""
    return not mode.endswith("/stats")


def enrolment_shift(examples: Sequence[Example]) -> EnrolmentShift | None:
    """What moves a neutral enrolment's statistics to the speaker's overall ones, on average over
    the speakers (see :class:`EnrolmentShift`); ``None`` if no speaker has neutral clips."""
    neutral = EMOTIONS.index("neutral")
    mean_shifts, log_var_shifts = [], []
    for name in speakers(examples):
        own = [ex.stats[0] for ex in examples if ex.speaker == name]
        calm = [ex.stats[0] for ex in examples if ex.speaker == name and ex.label == neutral]
        if calm:
            everything, enrolled = Stats.combine(own), Stats.combine(calm)
            mean_shifts.append(everything.mean - enrolled.mean)
            log_var_shifts.append(np.log(everything.floored_var) - np.log(enrolled.floored_var))
    if not mean_shifts:
        return None
    return EnrolmentShift(np.mean(mean_shifts, axis=0), np.mean(log_var_shifts, axis=0))


def training_voices(examples: Sequence[Example], config: FeatureConfig) -> dict:
    """Where the training speakers' voices sit, so ``voice show`` can place a user among them:
    the mean and spread over speakers of each one's average log-mel spectrum, and each one's
    typical pitch (Hz, sorted)."""
    per_speaker = np.stack(
        [Stats.combine([ex.stats[0] for ex in examples if ex.speaker == name]).mean for name in speakers(examples)]
    )
    spectra = per_speaker[:, : config.n_mels]
    summary = {
        "spectrum_mean": [round(float(v), 3) for v in spectra.mean(axis=0)],
        "spectrum_std": [round(float(v), 3) for v in spectra.std(axis=0)],
    }
    if config.pitch:
        summary["pitch_hz"] = sorted(round(float(np.exp(v)), 1) for v in per_speaker[:, config.n_mels])
    return summary


def enrolled_profiles(profiles: dict[str, Stats], mode: str, shift: EnrolmentShift | None) -> dict[str, Stats]:
    """The ``--adapt`` profiles as the product would use them: ``neutral:N`` enrolments moved by
    the model's ``shift`` (as a ``voice enroll`` profile is), other modes' as they are."""
    if shift is None or not mode.startswith("neutral"):
        return profiles
    return {name: shift.apply(stats) for name, stats in profiles.items()}


def voice_norms(net, clips: Sequence[Example], profile: Stats):
    """What the net's batch norms hear in a speaker's profile clips normalised by that ``profile``, as
    ``voice enroll`` gathers them (classifier.heard_norms), for AdaBN at scoring time."""
    from moodplayer.voice.classifier import heard_norms

    return heard_norms(net, [ex.views for ex in clips], profile)


def score(
    net, examples: Sequence[Example], mode: str = "none", seed: int = 0, shift: EnrolmentShift | None = None
) -> dict:
    """Scores of a net on some speakers' clips under an ``--adapt`` mode.

    ``neutral:N`` enrolments are moved by ``shift`` (learnt from the net's
    training speakers), as the product moves a ``voice enroll`` profile, and
    the net's batch norms are moved to each speaker's enrolment (not in
    ``…/stats`` modes), as a profile moves them.
    """
    enrol, order = adapt_plan([(ex.speaker, EMOTIONS[ex.label], ex.name) for ex in examples], mode, seed)
    profiles = {name: Stats.combine([examples[i].stats[0] for i in chosen]) for name, chosen in enrol.items()}
    profiles = enrolled_profiles(profiles, mode, shift)
    norms = {}
    if moves_batch_norms(mode):
        norms = {name: voice_norms(net, [examples[i] for i in enrol[name]], stats) for name, stats in profiles.items()}
    scored = [examples[i] for i in order]
    predicted = predict_logits(net, scored, profiles, norms=norms).argmax(axis=1)
    return scores([EMOTIONS[ex.label] for ex in scored], [EMOTIONS[p] for p in predicted])


def fold_result(
    examples: Sequence[Example], test_names: Sequence[str], model, info: dict, adapt: Sequence[str], seed: int
) -> dict:
    """A fold's scores on its held-out speakers under each ``adapt`` mode (the first is the headline)."""
    train_names = [s for s in speakers(examples) if s not in test_names]
    test = [ex for ex in examples if ex.speaker in test_names]
    shift = enrolment_shift([ex for ex in examples if ex.speaker in train_names])
    modes = {mode: score(model, test, mode, seed, shift) for mode in adapt}
    first = modes[adapt[0]]
    return {
        "test_speakers": list(test_names),
        "accuracy": first["accuracy"],
        "uar": first["uar"],
        "n": first["n"],
        "adapt": {mode: {k: r[k] for k in ("accuracy", "uar", "n")} for mode, r in modes.items()},
        **info,
    }


#: What forked workers inherit (examples are large; forking shares them for free).
_SHARED: dict = {}


def _member_worker(split: int, member: int, train_speakers: list[str]):
    """Train one member of one model; returns (net, run summary with its seconds)."""
    import torch

    torch.set_num_threads(1)
    examples, recipe = _SHARED["examples"], _SHARED["recipe"]
    start = time.perf_counter()
    train_set, valid_set, _ = split_sets(examples, train_speakers, recipe, _SHARED["validate"])
    report = lambda *args: _SHARED["queue"].put((split, *args))  # noqa: E731
    net, run = fit(train_set, valid_set, recipe, _SHARED["seed"], report, member)
    return net, {**run, "seconds": time.perf_counter() - start}


def train_models(
    examples: Sequence[Example],
    splits: Sequence[Sequence[str]],
    recipe: Recipe,
    seed: int,
    jobs: int,
    report: Callable[[int, int, int, float, float], None] | None = None,
    on_model: Callable[[int, object, dict], None] | None = None,
    validate: bool = True,
) -> dict[int, tuple]:
    """One model per list of training speakers in ``splits``; returns index → (model, info).

    ``validate=False``: no validation speakers are held out (see :func:`split_sets`).

    Every member of every model is one task; ``jobs`` tasks train at once in
    forked processes, one thread each (the net is too small to use more than
    one core well). ``report`` gets (index, epochs done, epochs, loss,
    validation UAR); ``on_model`` each (index, model, info) as it completes.
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


def _assemble_members(examples, train_speakers, trained, recipe, validate: bool) -> tuple:
    """One model from its trained members (in seed order), with its training seconds summed."""
    nets, runs = zip(*trained)
    _, valid_set, valid_names = split_sets(examples, train_speakers, recipe, validate)
    order = np.argsort([run["seed"] for run in runs])
    model, info = assemble([nets[j] for j in order], [runs[j] for j in order], valid_set, valid_names)
    return model, {**info, "seconds": round(sum(run["seconds"] for run in runs), 1)}


def cross_validate(
    examples: Sequence[Example],
    k: int,
    recipe: Recipe,
    seed: int = 0,
    jobs: int = 1,
    report: Callable[[int, int, int, float, float], None] | None = None,
    on_fold: Callable[[int, dict], None] | None = None,
    adapt: Sequence[str] = ("none",),
) -> dict:
    """Speaker k-fold cross-validation: each fold's speakers are scored by a model that never heard them.

    A fold's model trains on every other speaker (no validation speakers: nothing of
    the fold model needs calibrating to be scored). The members of all folds' models
    train ``jobs`` at a time (:func:`train_models`).
    ``report`` gets (fold, epochs done, epochs, loss, validation UAR);
    ``on_fold`` each fold's result as it completes.
    """
    folds = speaker_folds(speakers(examples), k)
    for mode in adapt:
        adapt_plan([], mode)  # a bad mode fails now, not after an hour of training
    results: dict[int, dict] = {}

    def scored(i: int, model, info: dict) -> None:
        results[i + 1] = {"fold": i + 1, **fold_result(examples, folds[i], model, info, adapt, seed)}
        if on_fold:
            on_fold(i + 1, results[i + 1])

    splits = [[s for s in speakers(examples) if s not in names] for names in folds]
    fold_report = report and (lambda i, *args: report(i + 1, *args))
    train_models(examples, splits, recipe, seed, jobs, fold_report, scored, validate=False)
    return summarise([results[i] for i in sorted(results)])


def summarise(folds: list[dict]) -> dict:
    """Mean ± std over folds of accuracy and UAR (and of each adapt mode's, when scored)."""

    def mean_std(values) -> tuple[float, float]:
        values = np.array(list(values))
        return round(float(values.mean()), 4), round(float(values.std()), 4)

    summary: dict = {"folds": folds}
    for metric in ("accuracy", "uar"):
        summary[f"{metric}_mean"], summary[f"{metric}_std"] = mean_std(f[metric] for f in folds)
    if "adapt" in folds[0]:
        summary["adapt"] = {
            mode: {
                f"{metric}_{stat}": value
                for metric in ("accuracy", "uar")
                for stat, value in zip(("mean", "std"), mean_std(f["adapt"][mode][metric] for f in folds))
            }
            for mode in folds[0]["adapt"]
        }
    return summary


# --- the classic baseline ----------------------------------------------------------------

CLASSIC_KIND = "classic180-v1"


def classic_features(clip: Clip) -> np.ndarray:
    """The blog-post recipe's 180 numbers: means of 40 MFCC, 12 chroma and 128 mel bands (whole clip)."""

    def compute() -> np.ndarray:
        import librosa

        from moodplayer.voice.audio import SAMPLE_RATE, load_audio

        samples = load_audio(clip.path)
        stft = np.abs(librosa.stft(samples))
        return np.concatenate(
            [
                librosa.feature.mfcc(y=samples, sr=SAMPLE_RATE, n_mfcc=40).mean(axis=1),
                librosa.feature.chroma_stft(S=stft, sr=SAMPLE_RATE).mean(axis=1),
                librosa.feature.melspectrogram(y=samples, sr=SAMPLE_RATE).mean(axis=1),
            ]
        ).astype(np.float32)

    return cached(clip.path, CLASSIC_KIND, compute)


def baseline_cross_validate(clips: Sequence[Clip], k: int, seed: int = 0) -> dict:
    """The classic recipe (180 features, StandardScaler, MLP of 300) on the same speaker folds."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clips = [c for c in clips if c.label in EMOTIONS]
    x = np.stack([classic_features(c) for c in clips])
    y = np.array([EMOTIONS.index(c.label) for c in clips])
    who = np.array([c.speaker for c in clips])
    results = []
    for i, test_names in enumerate(speaker_folds(speakers(clips), k), 1):
        test = np.isin(who, test_names)
        mlp = MLPClassifier(
            hidden_layer_sizes=(300,),
            alpha=0.01,
            batch_size=256,
            learning_rate="adaptive",
            max_iter=500,
            random_state=seed,
        )
        model = make_pipeline(StandardScaler(), mlp).fit(x[~test], y[~test])
        fold = scores([EMOTIONS[t] for t in y[test]], [EMOTIONS[p] for p in model.predict(x[test])])
        results.append({"fold": i, "test_speakers": list(test_names), **{m: fold[m] for m in ("accuracy", "uar", "n")}})
    return summarise(results)
