"""How the shipped model holds up when the recording is not a studio one.

    python bench/robustness.py [DATA_DIR] [--model PATH] [--speakers ID ...] [--seed 0] [--rooms-only] [--grid]

Scores speakers the model never trained on (by default its validation speakers,
RAVDESS actors 19 and 20) through ``Classifier.predict`` — the path of
``listen`` and ``detect``, cold start — once as recorded and once under each
degradation a real microphone or room brings: a quieter input (10, 20, 40 dB), pink noise and
babble at 20 and 10 dB SNR (relative to the speech, not the whole clip),
three rooms and a diffuse reverberation, a telephone channel and a 24 kb/s MP3.
``--grid`` adds rooms across the RT60s and direct-to-reverberant ratios of homes and offices
(0.2-1.2 s, +10 to -12 dB); ``--rooms-only`` scores the clips as recorded and in the rooms alone.

Prints, per condition, accuracy, its drop against the clips as recorded (scored in the same run),
UAR, how many clips were refused as "no speech", and each emotion's recall, so that one emotion
lost in a room shows; then the rooms' mean and worst, and each emotion's recall as recorded
against its mean over the rooms. The command is printed beside the figures.

Babble is the sum of six clips of speakers the scored ones are not (actors
01-06), so the model has heard those voices but never these mixtures.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import io
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moodplayer.voice.audio import SAMPLE_RATE  # noqa: E402  (after the path insert above)
from moodplayer.voice.rooms import (  # noqa: E402
    Room,
    in_room,
    reverberate,
    room_response,
    with_direct_to_reverberant,
)

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


#: The grid of ``--grid``: RT60s (seconds) from a furnished bedroom to a bare stairwell, and
#: direct-to-reverberant ratios (dB) from a laptop at arm's length to a talker in the next room.
GRID_RT60 = (0.2, 0.5, 0.8, 1.2)
GRID_DRR = (10.0, 0.0, -6.0, -12.0)


def _in_room(x: np.ndarray, rng: np.random.Generator, room: Room, drr_db: float | None = None) -> np.ndarray:
    if drr_db is None:
        return in_room(x, room, rng)
    return reverberate(x, with_direct_to_reverberant(room_response(room, rng), drr_db))


def grid_name(rt60: float, drr_db: float) -> str:
    return f"grid: RT60 {rt60:.1f} s, DRR {drr_db:+.0f} dB"


def room_conditions() -> dict[str, Degradation]:
    """The conditions heard in a room: the three rooms and the diffuse reverberation."""
    rooms: dict[str, Degradation] = {name: functools.partial(_in_room, room=room) for name, room in ROOMS.items()}
    rooms["diffuse reverberation, RT60 0.5 s"] = diffuse_reverberation
    return rooms


def grid_conditions() -> dict[str, Degradation]:
    """A room per RT60 of :data:`GRID_RT60` and direct-to-reverberant ratio of :data:`GRID_DRR`, each
    of its own shape (drawn once, as training draws rooms) with its RT60 and ratio set."""
    rooms: dict[str, Degradation] = {}
    for i, rt60 in enumerate(GRID_RT60):
        for j, drr_db in enumerate(GRID_DRR):
            shape = dataclasses.replace(Room.draw(np.random.default_rng([i, j])), rt60=rt60)
            rooms[grid_name(rt60, drr_db)] = functools.partial(_in_room, room=shape, drr_db=drr_db)
    return rooms


def conditions(data: Path, grid: bool = False, rooms_only: bool = False) -> dict[str, Degradation]:
    """Each condition's name and what it does to a clip, the grid's rooms after the others."""
    from moodplayer.voice.audio import coloured_noise, with_noise

    rooms = {**room_conditions(), **(grid_conditions() if grid else {})}
    if rooms_only:
        return {"as recorded": lambda x, rng: x, **rooms}
    babble = babble_maker(data)
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
        "telephone band": telephone,
        "MP3, 24 kb/s": mp3,
    }


def score(classifier, clips, degrade: Degradation, seed: int) -> dict:
    """Accuracy, UAR, refusals and each emotion's recall (``None`` where the clips hold none of it)
    of the classifier on degraded clips (a refusal counts as wrong)."""
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
    recall = {
        label: float(np.mean(guess[truth == label] == label)) if np.any(truth == label) else None
        for label in classifier.labels
    }
    heard = [r for r in recall.values() if r is not None]
    return {
        "accuracy": float(np.mean(guess == truth)),
        "uar": float(np.mean(heard)),
        "no_speech": refused,
        "recall": recall,
    }


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def row(name: str, result: dict, clean: dict) -> str:
    """One condition's line: accuracy, its drop against the clean clips, UAR, refusals, recall per emotion."""
    drop = 100 * (result["accuracy"] - clean["accuracy"])
    recalls = "".join(f"{_points(r):>5}" for r in result["recall"].values())
    return f"{name:<36}{result['accuracy']:>9.1%}{drop:>+9.1f}{result['uar']:>8.1%}{result['no_speech']:>11}{recalls}"


def mean_recall(results: Iterable[dict], label: str) -> float | None:
    values = [r["recall"][label] for r in results if r["recall"][label] is not None]
    return float(np.mean(values)) if values else None


def room_summary(results: dict[str, dict], rooms: Iterable[str], title: str) -> list[str]:
    """The rooms against the clips as recorded: mean accuracy and its drop, the worst room, and each
    emotion's recall as recorded against its mean over the rooms, flagged where it loses over half."""
    clean = results["as recorded"]
    heard = {name: results[name] for name in rooms}
    mean = float(np.mean([r["accuracy"] for r in heard.values()]))
    worst = min(heard, key=lambda name: heard[name]["accuracy"])
    drop, worst_drop = (100 * (accuracy - clean["accuracy"]) for accuracy in (mean, heard[worst]["accuracy"]))
    lines = [
        f"{title} ({len(heard)} conditions): mean accuracy {mean:.1%}, {drop:+.1f} points against "
        f"{clean['accuracy']:.1%} as recorded; worst: {worst}, {heard[worst]['accuracy']:.1%} ({worst_drop:+.1f})",
        "recall as recorded -> mean over these rooms (points):",
    ]
    for label, before in clean["recall"].items():
        after = mean_recall(heard.values(), label)
        if before is None or after is None:
            continue
        flag = "  loses over half" if after < before / 2 else ""
        lines.append(f"  {label:<10}{100 * before:>5.0f} ->{100 * after:>4.0f}  ({100 * (after - before):+.0f}){flag}")
    return lines


def grid_table(results: dict[str, dict]) -> list[str]:
    """Accuracy in the grid's rooms, an RT60 a row and a direct-to-reverberant ratio a column."""
    lines = ["accuracy in the grid's rooms:", "RT60 \\ DRR" + "".join(f"{drr:>+9.0f} dB" for drr in GRID_DRR)]
    for rt60 in GRID_RT60:
        cells = "".join(f"{results[grid_name(rt60, drr)]['accuracy']:>12.1%}" for drr in GRID_DRR)
        lines.append(f"{rt60:>6.1f} s   {cells}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=REPO.parent / "shared/data/ravdess-16k")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument(
        "--speakers", nargs="+", default=None, help="speaker IDs to score (default: the model's validation speakers)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", action="store_true", help="also rooms across RT60 0.2-1.2 s and DRR +10 to -12 dB")
    parser.add_argument("--rooms-only", action="store_true", help="score as recorded and in the rooms alone")
    args = parser.parse_args()

    import torch

    from moodplayer.voice.classifier import Classifier
    from moodplayer.voice.datasets import discover

    torch.set_num_threads(1)
    classifier = Classifier.load(args.model)
    speakers = args.speakers or classifier.metadata["split"]["validation"]
    clips = [clip for clip in discover(args.data) if clip.speaker in speakers]
    print("command: python bench/robustness.py " + " ".join(sys.argv[1:]))
    print(f"{len(clips)} clips of {', '.join(speakers)} (never trained on), cold start; recall per emotion in %")
    names = "".join(f"{label[:3]:>5}" for label in classifier.labels)
    print(f"{'condition':<36}{'accuracy':>9}{'vs clean':>9}{'UAR':>8}{'no speech':>11}{names}")
    results: dict[str, dict] = {}
    for name, degrade in conditions(args.data, args.grid, args.rooms_only).items():
        results[name] = score(classifier, clips, degrade, args.seed)
        print(row(name, results[name], results["as recorded"]), flush=True)
    print()
    print("\n".join(room_summary(results, room_conditions(), "the rooms")))
    if args.grid:
        print()
        print("\n".join(room_summary(results, grid_conditions(), "the grid's rooms")))
        print("\n".join(grid_table(results)))


if __name__ == "__main__":
    main()
