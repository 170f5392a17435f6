"""The music-mood model: which quadrant of the valence/arousal plane a track sits in, and where.

A multinomial logistic regression over the standardised features of
:mod:`moodplayer.music.mood_features`, held as four numpy arrays (feature
means and spreads, the 4 × n weights, the 4 biases). Its probabilities of the
four Russell quadrants (Q1 happy/excited, Q2 angry/tense, Q3 sad, Q4 calm)
give the point the library stores::

    valence = P(Q1) + P(Q4) - P(Q2) - P(Q3)
    arousal = P(Q1) + P(Q2) - P(Q3) - P(Q4)

both in -1…1, 0 the boundary between quadrants, so a track the model is
sure of sits near a corner and an ambiguous one near the middle. Inference is
numpy only; sklearn fits the arrays at training time
(:mod:`moodplayer.music.mood_training`).

On disk a model is a safetensors file of the arrays and a JSON sidecar (how
it was trained, on what, its scores, the arrays' sha256), written atomically;
loading checks the checksum and that the model was trained on this feature
extraction.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moodplayer.errors import ModelError
from moodplayer.files import read_checksummed, save_checksummed

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np

FORMAT = "moodplayer-music-mood/1"
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
#: Each quadrant's (valence, arousal) signs.
QUADRANT_SIGNS = ((1, 1), (-1, 1), (-1, -1), (1, -1))
ARRAYS = ("mean", "std", "weights", "bias")
REQUIRED_METADATA = ("features", "labels", "training")


@dataclass(frozen=True)
class MoodModel:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (4, features)
    bias: np.ndarray
    metadata: dict

    @property
    def version(self) -> str:
        """What a stored analysis was made with: the feature extraction and these exact weights."""
        return f"{self.metadata['features']['version']}+{self.metadata['weights_sha256'][:12]}"

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(Q1…Q4) for each row of ``features`` (n × features, or one vector)."""
        import numpy as np

        z = (np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.mean) / self.std
        logits = z @ self.weights.T.astype(np.float64) + self.bias
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Valence and arousal (each -1…1) for each row of ``features``."""
        return valence_arousal(self.probabilities(features))


def valence_arousal(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The point of each row of quadrant probabilities: the sign-weighted sum of each axis."""
    import numpy as np

    signs = np.array(QUADRANT_SIGNS, dtype=np.float64)
    return probabilities @ signs[:, 0], probabilities @ signs[:, 1]


def quadrant_of(valence, arousal):
    """Quadrant index (0 = Q1 … 3 = Q4) from the signs of valence and arousal (arrays or floats)."""
    import numpy as np

    v, a = np.asarray(valence) > 0, np.asarray(arousal) > 0
    return np.where(a, np.where(v, 0, 1), np.where(v, 3, 2))


def save(path: Path, arrays: dict[str, np.ndarray], metadata: dict) -> dict:
    """Write the arrays (float32 safetensors) and the metadata sidecar; returns the metadata written."""
    import numpy as np
    from safetensors.numpy import save as to_bytes

    blob = to_bytes({name: np.ascontiguousarray(arrays[name], dtype=np.float32) for name in ARRAYS})
    return save_checksummed(path, blob, {**metadata, "format": FORMAT, "labels": list(QUADRANTS)})


def load(path: Path) -> MoodModel:
    """A saved model, verified: one-line :class:`ModelError` for a missing, damaged or foreign file."""
    import numpy as np
    from safetensors import SafetensorError
    from safetensors.numpy import load as from_bytes

    from moodplayer.music.mood_features import FEATURES_VERSION

    blob, metadata = read_checksummed(path, FORMAT, REQUIRED_METADATA)
    trained_on = metadata["features"].get("version") if isinstance(metadata["features"], dict) else None
    if trained_on != FEATURES_VERSION:
        raise ModelError(
            f"music model {path} was trained on features {trained_on!r}, this moodplayer extracts "
            f"{FEATURES_VERSION!r}; retrain it with: moodplayer library train DATA_DIR"
        )
    try:
        arrays = from_bytes(blob)
        model = MoodModel(**{name: arrays[name].astype(np.float64) for name in ARRAYS}, metadata=metadata)
        count = int(metadata["features"]["count"])
        if model.weights.shape != (len(QUADRANTS), count) or {model.mean.shape, model.std.shape} != {(count,)}:
            raise ValueError("shapes")
    except (SafetensorError, KeyError, ValueError, TypeError) as exc:
        log.debug("music model %s: %s: %s", path, type(exc).__name__, exc)  # shown with --debug
        raise ModelError(
            f"music model {path} does not match its metadata; restore the pair or retrain it "
            "(moodplayer library train DATA_DIR)"
        ) from None
    return model


@functools.lru_cache(maxsize=4)
def load_once(path: str, size: int, mtime_ns: int) -> MoodModel:
    """:func:`load`, once per file version in a process (a scan worker loads it for its first track)."""
    return load(Path(path))


def cached(path: Path) -> MoodModel:
    """The model at ``path``, loaded (and verified) again only when the file changed."""
    try:
        st = Path(path).stat()
    except OSError:
        raise ModelError(f"model file {path} not found") from None
    return load_once(str(path), st.st_size, st.st_mtime_ns)
