"""How the shipped model holds up when the recording is not a studio one.

    python bench/robustness.py [DATA_DIR] [--model PATH] [--speakers ID ...] [--seed 0]

Scores speakers the model never trained on (by default its validation speakers,
RAVDESS actors 19 and 20) through ``Classifier.predict`` — the path of
``listen`` and ``detect``, cold start — once as recorded and once under each
degradation a real microphone or room brings: a quieter input (10, 20, 40 dB), pink noise and
babble at 20 and 10 dB SNR (relative to the speech, not the whole clip),
three rooms and a diffuse reverberation, a telephone channel and a 24 kb/s MP3.
Prints accuracy, UAR and how many clips were refused as "no speech" per condition.

Babble is the sum of six clips of speakers the scored ones are not (actors
01-06), so the model has heard those voices but never these mixtures.
"""

from __future__ import annotations

import argparse
import functools
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moodplayer.voice.audio import SAMPLE_RATE  # noqa: E402  (after the path insert above)
from moodplayer.voice.rooms import Room, in_room, reverberate  # noqa: E402

Degradation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def babble_maker(data: Path) -> Callable[[int], np.ndarray]:
    """Several voices talking at once: six other speakers' clips, each at the same level, summed."""
    from moodplayer.voice.audio import load_audio

    voices = [load_audio(path) for path in sorted(data.glob("Actor_0[1-6]/*-01-01-01.flac"))[:6]]
    voices = [v / (np.sqrt(np.mean(np.square(v))) + 1e-9) for v in voices]

    def babble(size: int) -> np.ndarray:
        return sum(np.resize(v, size) for v in voices)

    return babble


#: Rooms of fixed shape, none of them drawn in training (rooms.Room.draw draws at random).
ROOMS = {
    "room: desk, 0.5 m, RT60 0.4 s": Room((4.0, 3.5, 2.7), (1.8, 1.4, 1.2), (1.8, 1.9, 1.0), 0.4),
    "room: lounge, 2 m, RT60 0.6 s": Room((6.0, 4.5, 2.7), (1.5, 2.0, 1.6), (3.4, 2.4, 1.0), 0.6),
    "room: hall, 4 m, RT60 1.0 s": Room((12.0, 8.0, 4.0), (3.0, 3.0, 1.7), (6.8, 4.0, 1.2), 1.0),
}


def diffuse_reverberation(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reverberation alone, RT60 0.5 s, with the direct sound 28 dB below it: a talker some twenty
    times farther away than the distance where direct and reflected sound are equal, as if the
    room's walls were the only way the voice arrives: the far end of what a room does, beside the
    rooms of fixed shape."""
    t = np.arange(int(0.5 * SAMPLE_RATE)) / SAMPLE_RATE
    response = rng.standard_normal(t.size) * 10 ** (-6 * t)
    response[0] = 1.0
    return reverberate(samples, response)


def telephone(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The narrow band of a phone line: 300-3400 Hz, sampled at 8 kHz, back to 16 kHz."""
    from moodplayer.voice.audio import band_limited, to_sample_rate

    return to_sample_rate(to_sample_rate(band_limited(samples, 300, 3400), SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)


def mp3(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The clip through libsndfile's MP3 encoder at a constant 24 kb/s (16 kHz mono), a low-bitrate voice note."""
    import soundfile as sf

    buffer = io.BytesIO()
    # libsndfile maps the level linearly onto MPEG-2 layer III's 8-160 kb/s: 0.9 is 24 kb/s.
    sf.write(buffer, samples, SAMPLE_RATE, format="MP3", bitrate_mode="CONSTANT", compression_level=0.9)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    return decoded


def _in_room(x: np.ndarray, rng: np.random.Generator, room: Room) -> np.ndarray:
    return in_room(x, room, rng)


def conditions(data: Path) -> dict[str, Degradation]:
    """Each condition's name and what it does to a clip."""
    from moodplayer.voice.audio import coloured_noise, with_noise

    babble = babble_maker(data)
    rooms = {name: functools.partial(_in_room, room=room) for name, room in ROOMS.items()}
    return {
        "as recorded": lambda x, rng: x,
        "10 dB quieter": lambda x, rng: (x * 10 ** (-10 / 20)).astype(np.float32),
        "20 dB quieter": lambda x, rng: (x * 0.1).astype(np.float32),
        "40 dB quieter": lambda x, rng: (x * 0.01).astype(np.float32),
        "pink noise, 20 dB SNR": lambda x, rng: with_noise(x, coloured_noise(x.size, 1.0, rng), 20),
        "pink noise, 10 dB SNR": lambda x, rng: with_noise(x, coloured_noise(x.size, 1.0, rng), 10),
        "babble, 20 dB SNR": lambda x, rng: with_noise(x, babble(x.size), 20),
        "babble, 10 dB SNR": lambda x, rng: with_noise(x, babble(x.size), 10),
        **rooms,
        "diffuse reverberation, RT60 0.5 s": diffuse_reverberation,
        "telephone band": telephone,
        "MP3, 24 kb/s": mp3,
    }


def score(classifier, clips, degrade: Degradation, seed: int) -> dict:
    """Accuracy, UAR and refusals of the classifier on degraded clips (a refusal counts as wrong)."""
    from moodplayer.errors import NoSpeechError
    from moodplayer.voice.audio import load_audio

    rng = np.random.default_rng(seed)
    truth, guess, refused = [], [], 0
    for clip in clips:
        truth.append(clip.label)
        try:
            guess.append(classifier.predict(degrade(load_audio(clip.path), rng)).emotion)
        except NoSpeechError:
            guess.append(None)
            refused += 1
    truth, guess = np.array(truth), np.array(guess, dtype=object)
    recalls = [np.mean(guess[truth == label] == label) for label in np.unique(truth)]
    return {"accuracy": float(np.mean(guess == truth)), "uar": float(np.mean(recalls)), "no_speech": refused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=REPO.parent / "shared/data/ravdess-16k")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument(
        "--speakers", nargs="+", default=None, help="speaker IDs to score (default: the model's validation speakers)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from moodplayer.voice.classifier import Classifier
    from moodplayer.voice.datasets import discover

    torch.set_num_threads(1)
    classifier = Classifier.load(args.model)
    speakers = args.speakers or classifier.metadata["split"]["validation"]
    clips = [clip for clip in discover(args.data) if clip.speaker in speakers]
    print(f"{len(clips)} clips of {', '.join(speakers)} (never trained on), cold start")
    print(f"{'condition':<36}{'accuracy':>9}{'UAR':>8}{'no speech':>11}")
    for name, degrade in conditions(args.data).items():
        result = score(classifier, clips, degrade, args.seed)
        print(f"{name:<36}{result['accuracy']:>9.1%}{result['uar']:>8.1%}{result['no_speech']:>11}", flush=True)


if __name__ == "__main__":
    main()
