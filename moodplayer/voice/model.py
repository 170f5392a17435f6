"""The emotion network, and saving/loading it safely.

The net is deliberately small (a few hundred thousand parameters) so it runs
in a few milliseconds on one CPU core: a 1-D convolutional front-end learns
local spectral patterns and halves the frame rate twice, a bidirectional LSTM
follows the contour of the utterance, and attention pooling lets it weigh the
frames that carry emotion (a stressed syllable) over the rest.

On disk a model is two files: the weights as safetensors (no pickle: loading
a model never runs code) and a JSON sidecar with everything needed to use and
trust it (feature settings, labels, the training recipe, data and scores, and
the sha256 of the weights). Both are written atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from moodplayer.errors import ModelError
from moodplayer.files import read_checksummed, read_sidecar, save_checksummed
from moodplayer.files import sidecar_path as sidecar_path  # where a model's metadata lives, for its users
from moodplayer.paths import data_folder
from moodplayer.voice.features import EnrolmentShift, FeatureConfig

log = logging.getLogger(__name__)

#: Inputs are zero-padded to a multiple of this many frames. oneDNN compiles kernels
#: for every new input length (0.1-3 s each); with lengths rounded up, a few dozen
#: shapes cover all clips and the compiled kernels are reused.
PAD_FRAMES = 32

#: Bumped whenever the architecture or the metadata change incompatibly.
FORMAT = "moodplayer-emotion-lstm/1"
#: What every use of a model reads from its metadata.
REQUIRED_METADATA = ("labels", "features", "model")


@dataclass(frozen=True)
class ModelConfig:
    """The architecture; stored in the metadata so a file rebuilds its own net."""

    n_inputs: int = 64
    n_classes: int = 8
    channels: int = 96
    hidden: int = 96
    dropout: float = 0.3
    members: int = 1  # nets trained from different seeds, their logits averaged (see Ensemble)
    # Per member: whether it scales a clip heard without a voice profile by its training clips'
    # typical within-clip variance (features.cold_start; kept in the `typical_var` buffer, saved with
    # the weights) rather than by the clip's own. Older models: () — each clip by its own.
    typical_spread: tuple[bool, ...] = ()
    # How often each class occurred among the training clips. Its log is taken off the model's logits
    # (classifier.view_logits: post-hoc logit adjustment), so a clip is judged by how each emotion
    # sounds and not by how often the training corpus happened to hold it (RAVDESS has half as many
    # neutral clips as of each other emotion; other corpora, and everyday speech, have more). A class
    # no training corpus held has 0 and is never predicted (log_prior). Older models: () — no adjustment.
    class_prior: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(
            **{
                **data,
                "typical_spread": tuple(data.get("typical_spread", ())),
                "class_prior": tuple(data.get("class_prior", ())),
            }
        )


#: The mean and variance a batch-norm layer normalises by: per channel, or per clip and channel.
Norm = tuple[torch.Tensor, torch.Tensor]


class ConvBlock(nn.Sequential):
    """Conv over time → batch norm → ReLU (the caller masks padding, then halves the frame rate).

    ``norm``: the mean and variance to normalise by instead of the layer's
    running statistics (a speaker's, see :func:`speaker_norm`): per channel, or
    per clip of the batch and channel.
    ``heard``: a list that the conv's output, what batch norm normalises, is
    appended to (see :func:`batch_norm_inputs`).
    """

    def __init__(self, n_in: int, n_out: int, kernel: int):
        super().__init__(
            nn.Conv1d(n_in, n_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(n_out),
            nn.ReLU(),
        )

    def forward(self, h: torch.Tensor, norm: Norm | None = None, heard: list | None = None) -> torch.Tensor:
        conv, batch_norm, relu = cast(nn.Conv1d, self[0]), cast(nn.BatchNorm1d, self[1]), self[2]
        h = _conv_frames(conv, h)
        if heard is not None:
            heard.append(h)
        if norm is None:
            return relu(batch_norm(h))
        mean, var = norm
        scale = batch_norm.weight * torch.rsqrt(var + batch_norm.eps)
        return relu(h * scale.unsqueeze(-1) + (batch_norm.bias - mean * scale).unsqueeze(-1))


def _conv_frames(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """``conv(h)`` for (batch, channels, frames) ``h``, returned contiguous.

    Under training's bfloat16 autocast it runs as a 2-D convolution of height 1,
    so that an ``h`` stored frames-major (the features: a transposed view of
    (batch, frames, bands)) reaches oneDNN as the channels-last input its bfloat16
    kernels want; ``conv1d`` would copy it to channels-first and oneDNN back again,
    in both passes. This trains the same weights to the bit, faster (docs/experiments.md). In
    float32 (inference) ``conv1d``'s own path is the faster one, and is used. The output is made contiguous
    for batch norm, whose channels-last kernel sums in another order."""
    if not torch.is_autocast_enabled("cpu"):
        return conv(h)
    weight = conv.weight.unsqueeze(2)
    return (
        nn.functional.conv2d(h.unsqueeze(2), weight, conv.bias, padding=(0, int(conv.padding[0])))
        .squeeze(2)
        .contiguous()
    )


class BiLSTM(nn.Module):
    """A bidirectional LSTM over a zero-padded batch that pads, never packs.

    On CPU a packed sequence runs about twice as slow as a padded batch (it
    loops over shrinking sub-batches); here each direction is one padded pass.
    The backward direction reads each clip reversed *within its own length*, so
    a clip's states never see padding: it scores the same alone or in a batch,
    exactly as with packing. Outputs at padded frames are left as computed (the
    caller masks them). Loads the weights of ``nn.LSTM(bidirectional=True)``
    (models saved before this class) under the same names' old spelling.
    """

    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        self.ahead = nn.LSTM(n_in, hidden, batch_first=True)
        self.back = nn.LSTM(n_in, hidden, batch_first=True)
        self.register_load_state_dict_pre_hook(_rename_packed_lstm_weights)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        reverse = _reversal(lengths, x.shape[1])
        ahead, _ = self.ahead(x)
        back, _ = self.back(_gather_frames(x, reverse))
        return torch.cat([ahead, _gather_frames(back, reverse)], dim=2)


def _reversal(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(batch, frames) frame indices that reverse each clip within its length (padding stays put)."""
    t = torch.arange(frames)[None, :]
    return torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)


def _gather_frames(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[b, index[b, t]]`` for (batch, frames, features) ``x``."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[2]))


def _rename_packed_lstm_weights(module, state_dict, prefix, *_) -> None:
    """``lstm.weight_ih_l0`` → ``lstm.ahead.weight_ih_l0``, ``…_l0_reverse`` → ``lstm.back.…_l0``."""
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        if prefix + name in state_dict:
            state_dict[f"{prefix}ahead.{name}"] = state_dict.pop(prefix + name)
            state_dict[f"{prefix}back.{name}"] = state_dict.pop(f"{prefix}{name}_reverse")


class EmotionNet(nn.Module):
    """CNN front-end → BiLSTM → attention pooling → class logits.

    Padding never leaks into a clip's result: padded frames are zeroed after
    each convolution, never read by the LSTM (see BiLSTM) and masked out of attention,
    so a clip scores the same alone or in a padded batch.
    """

    typical_var: torch.Tensor  # a buffer, where the net scales cold-start clips by the typical spread

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        self.front = nn.ModuleList(
            [ConvBlock(config.n_inputs, config.channels, 5), ConvBlock(config.channels, config.channels, 3)]
        )
        self.lstm = BiLSTM(config.channels, config.hidden)
        self.attention = nn.Linear(2 * config.hidden, 1)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(2 * config.hidden, config.n_classes))
        if self.typical:
            self.register_buffer("typical_var", torch.ones(config.n_inputs))

    @property
    def typical(self) -> bool:
        """Whether this net scales cold-start clips by the typical spread (see ModelConfig)."""
        return bool(self.config.typical_spread) and self.config.typical_spread[0]

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        norms: Sequence[Norm] = (),
    ) -> torch.Tensor:
        """``x``: (batch, frames, n_inputs), zero-padded; ``lengths``: true frame counts;
        ``norms``: see :meth:`front_pass`."""
        batch, frames, _ = x.shape
        if lengths is None:
            lengths = torch.full((batch,), frames, dtype=torch.long)
        h, lengths = self.front_pass(x, lengths, norms)
        h = self.lstm(h, lengths)
        scores = self.attention(h).squeeze(-1).masked_fill(~_mask(lengths, h.shape[1]), float("-inf"))
        pooled = (torch.softmax(scores, dim=1).unsqueeze(-1) * h).sum(dim=1)
        return self.head(pooled)

    def front_pass(
        self, x: torch.Tensor, lengths: torch.Tensor, norms: Sequence[Norm] = (), heard: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The convolutional front-end: (batch, frames / 4, channels), and the clips' lengths there.

        ``norms``: for the first ``len(norms)`` blocks, what their batch norms
        normalise by instead of the running statistics (see :class:`ConvBlock`);
        ``heard``: collects what each block's batch norm normalises, as
        (frames, channels) at the clips' real frames only.
        """
        h = x.transpose(1, 2)
        for k, block in enumerate(self.front):
            mask = _mask(lengths, h.shape[2])
            h = block(h, norms[k] if k < len(norms) else None, heard) * mask.unsqueeze(1)
            if heard is not None:
                heard[-1] = heard[-1].transpose(1, 2)[mask]
            h = _halve_frames(h)
            lengths = (lengths + 1) // 2
        return h.transpose(1, 2), lengths


class Ensemble(nn.Module):
    """A few EmotionNets trained from different seeds, their logits averaged.

    On a corpus this small one net's accuracy on unseen speakers swings by
    several points with its seed; the average of a few is steadier and
    better, for a forward pass that stays a few milliseconds. Members may
    normalise a cold-start clip differently (``config.typical_spread``): they
    then err on different clips, and their average gains more (docs/experiments.md). So
    the ensemble has no ``forward`` of one input for all: classifier.view_logits
    feeds each member the clip normalised its way and averages their logits.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(
            EmotionNet(replace(config, members=1, typical_spread=config.typical_spread[i : i + 1]))
            for i in range(config.members)
        )


#: A model as trained and loaded: one net, or an ensemble of them.
Model = EmotionNet | Ensemble


def build(config: ModelConfig) -> Model:
    """The net a config describes: one EmotionNet, or an Ensemble of ``config.members``."""
    return EmotionNet(config) if config.members == 1 else Ensemble(config)


def ensemble_of(nets: list[EmotionNet]) -> Model:
    """Trained nets as one model (a lone net stays itself)."""
    if len(nets) == 1:
        return nets[0]
    ensemble = Ensemble(replace(nets[0].config, members=len(nets), typical_spread=tuple(net.typical for net in nets)))
    for member, net in zip(ensemble.members, nets):
        member.load_state_dict(net.state_dict())
    return ensemble.eval()


def members_of(net: Model) -> list[EmotionNet]:
    """The nets whose logits a model averages (a lone net is its own only member)."""
    return [cast(EmotionNet, member) for member in net.members] if isinstance(net, Ensemble) else [net]


def log_prior(net: Model) -> np.ndarray:
    """What classifier.view_logits takes off a model's logits: the log of its training class
    prior (see ModelConfig.class_prior); zeros for a model that records none. A class the
    training data never held (prior 0) gets +inf: its logit becomes -inf, and it is never predicted."""
    prior = np.array(net.config.class_prior or [1.0] * net.config.n_classes, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(prior > 0, np.log(prior), np.inf)


def typical_var(net: EmotionNet) -> np.ndarray | None:
    """The typical within-clip variance a net scales cold-start clips by, or ``None`` (each clip by
    its own variance)."""
    return net.typical_var.numpy().astype(np.float64) if net.typical else None


def batch_norm_inputs(
    net: EmotionNet, x: torch.Tensor, lengths: torch.Tensor, norms: Sequence[Norm] = ()
) -> list[np.ndarray]:
    """What each front block's batch norm normalises in a padded batch (``norms``: see
    :meth:`EmotionNet.front_pass`), as (frames, channels) at the clips' real frames only: the
    same as each clip alone would give."""
    heard: list[torch.Tensor] = []
    with torch.inference_mode():
        net.front_pass(x, lengths, norms, heard)
    return [frames.numpy() for frames in heard]


def running_norm(net: EmotionNet, block: int) -> Norm:
    """Front ``block``'s batch-norm mean and variance as trained: the training speakers'."""
    batch_norm = cast(nn.BatchNorm1d, cast(ConvBlock, net.front[block])[1])
    return cast(torch.Tensor, batch_norm.running_mean), cast(torch.Tensor, batch_norm.running_var)


def speaker_norm(net: EmotionNet, block: int, mean: np.ndarray, var: np.ndarray, weight: float) -> Norm:
    """Front ``block``'s batch-norm mean and variance moved ``weight`` of the way from the
    training speakers' (:func:`running_norm`) to a speaker's own (AdaBN)."""
    trained_mean, trained_var = running_norm(net, block)
    return (
        torch.lerp(trained_mean, torch.from_numpy(mean).float(), weight),
        torch.lerp(trained_var, torch.from_numpy(var).float(), weight),
    )


def pad_frames(frames: int) -> int:
    """``frames`` rounded up to a multiple of :data:`PAD_FRAMES`."""
    return -(-frames // PAD_FRAMES) * PAD_FRAMES


def pad_batch(feats: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips of (frames, features) zero-padded into one batch tensor, with their true lengths."""
    lengths = torch.tensor([f.shape[0] for f in feats])
    batch = np.zeros((len(feats), pad_frames(int(lengths.max())), feats[0].shape[1]), np.float32)
    for i, f in enumerate(feats):
        batch[i, : f.shape[0]] = f
    return torch.from_numpy(batch), lengths


def _halve_frames(h: torch.Tensor) -> torch.Tensor:
    """The larger of each pair of frames of (batch, channels, frames) ``h``, an odd last frame
    alone: ``max_pool1d(h, 2, ceil_mode=True)``, the same values and, ties to the first frame, the
    same gradients, bit for bit, for ``h`` ≥ 0 (a ReLU's output: a zero appended never wins).

    max_pool1d keeps an index per output for its backward pass, which is slow on CPU in
    bfloat16; this pairwise maximum is not (docs/experiments.md)."""
    if h.shape[2] % 2:
        h = nn.functional.pad(h, (0, 1))
    first, second = h[..., 0::2], h[..., 1::2]
    return torch.where(first >= second, first, second)


def _mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(batch, frames) True where a frame is part of the clip."""
    return torch.arange(frames)[None, :] < lengths[:, None]


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# --- files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelMetadata:
    """What a model's JSON sidecar says: everything needed to use and trust the weights beside it.

    Training writes it (:meth:`to_dict`) and the classifier, fine-tuning and the
    commands read it (:meth:`from_dict`, which also reads older models' sidecars,
    lacking keys added since). Keys it does not name (a version's ``version``
    block, a personal model's ``personal`` report) are kept in ``extra``.
    """

    labels: tuple[str, ...]
    features: FeatureConfig
    model: ModelConfig
    #: How clips are normalised, in words.
    normalisation: str = ""
    #: Whether the model learned from speaker-normalised features, so a voice profile helps it.
    speaker_normalisation: bool = False
    #: Speeds a clip is also heard at, besides as recorded (classifier.view_logits).
    test_time_speeds: tuple[float, ...] = ()
    parameters: int = 0
    recipe: dict = field(default_factory=dict)
    #: The softmax temperature fitted on the validation speakers (``None``: not calibrated).
    temperature: float | None = None
    #: Below this confidence a prediction is flagged uncertain (``None``: the classifier's default).
    uncertain_below: float | None = None
    #: Moves a neutral enrolment to the speaker's everyday statistics (``None``: no neutral data).
    enrolment_shift: EnrolmentShift | None = None
    #: Where the training speakers' voices sit (training.examples.training_voices).
    training_voices: dict | None = None
    #: The training data: its corpora, clips and speakers.
    data: dict = field(default_factory=dict)
    #: Which speakers trained and which validated.
    split: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    cross_validation: dict | None = None
    tuning: dict | None = None
    created: str = ""
    #: Set when the model is saved (see :func:`save_model`).
    weights_sha256: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The sidecar's JSON document."""
        document: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        document.update(
            labels=list(self.labels),
            features=self.features.to_dict(),
            model=self.model.to_dict(),
            test_time_speeds=list(self.test_time_speeds),
            enrolment_shift=self.enrolment_shift.to_dict() if self.enrolment_shift else None,
        )
        if self.uncertain_below is None:
            del document["uncertain_below"]
        if not self.weights_sha256:
            del document["weights_sha256"]
        return {**document, **self.extra}

    @classmethod
    def from_dict(cls, document: dict) -> ModelMetadata:
        named = {f.name for f in fields(cls)} - {"extra"}
        known = {key: value for key, value in document.items() if key in named}
        shift = known.get("enrolment_shift")
        return cls(
            **{
                **known,
                "labels": tuple(known["labels"]),
                "features": FeatureConfig.from_dict(known["features"]),
                "model": ModelConfig.from_dict(known["model"]),
                "test_time_speeds": tuple(known.get("test_time_speeds", ())),
                "enrolment_shift": EnrolmentShift.from_dict(shift) if shift else None,
            },
            extra={key: value for key, value in document.items() if key not in named},
        )

    @property
    def data_roots(self) -> list[Path]:
        """The folders of the training corpora found on this machine (paths.data_folder); an older
        model names one ``root``."""
        corpora = self.data.get("corpora", [])
        if corpora and isinstance(corpora[0], dict):
            named = [corpus["root"] for corpus in corpora]
        else:
            named = [self.data["root"]] if self.data.get("root") else []
        return [folder for folder in map(data_folder, named) if folder is not None]

    @property
    def trained_for_profiles(self) -> bool:
        """Whether the model learned from speaker-normalised features too, so voice profiles help it."""
        return self.speaker_normalisation or self.recipe.get("speaker_norm", 0) > 0


def save_model(path: Path, state: dict[str, torch.Tensor], metadata: dict) -> dict:
    """Save weights (safetensors) and metadata (JSON sidecar with their sha256); returns the metadata written."""
    from safetensors.torch import save

    blob = save({k: v.detach().contiguous().cpu() for k, v in state.items()}, metadata={"format": FORMAT})
    return save_checksummed(path, blob, {**metadata, "format": FORMAT})


def read_metadata(path: Path) -> dict:
    """The sidecar of a model file, checked for the fields every user of it needs."""
    return read_sidecar(path, FORMAT, REQUIRED_METADATA)


def load_model(path: Path) -> tuple[Model, dict]:
    """The net (in eval mode) and metadata of a saved model.

    Raises :class:`ModelError` with one line for a missing file, a damaged
    or truncated one (checksum), or metadata this code cannot use.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    blob, metadata = read_checksummed(path, FORMAT, REQUIRED_METADATA)
    try:
        state = load(blob)
        net = build(ModelConfig.from_dict(metadata["model"]))
        net.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        log.debug("model file %s: %s: %s", path, type(exc).__name__, exc)  # shown with --debug
        raise ModelError(
            f"model file {path} does not match its metadata (its weights are not the network the metadata "
            "describes); restore the pair or retrain"
        ) from None
    if not all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()):
        raise ModelError(f"model file {path} holds invalid (NaN/inf) weights")
    return net.eval(), metadata
