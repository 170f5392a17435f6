"""Voice profiles that do not fit the voice: how far the model trusts them, and what that saves.

    python bench/profile_trust.py [--model PATH] [--data DIR]

Scores the speakers the shipped model never trained on (RAVDESS actors 19 and
20, 60 clips each) with a voice profile built from 20 clips, three ways: at cold
start, through the profile used fully (as ``--adapt …/always``), and through the
profile used as far as it is trusted (classifier.trust_of: how many of 20 of the
speaker's clips the cold and the profiled hearings give the same emotion, as
``listen`` counts the clips it hears through a profile). The profile is the
speaker's own, or one that does not fit: another actor's, a TESS actress's
(another corpus and recording set-up), or the speaker's clean clips while the
clips scored come through a phone line in noise (5 dB SNR) or a simulated room
in noise (10 dB), or those degraded clips' own profile. With 60 clips a figure
is good to about ±6 points; the means over the cases are the figures to read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moodplayer.emotions import EMOTIONS  # noqa: E402  (after the path insert above)
from moodplayer.errors import NoSpeechError  # noqa: E402
from moodplayer.voice import audio, rooms  # noqa: E402
from moodplayer.voice.classifier import Classifier, agreement, heard_norms, trust_of, view_logits  # noqa: E402
from moodplayer.voice.datasets import discover  # noqa: E402
from moodplayer.voice.features import Stats, extract  # noqa: E402
from moodplayer.voice.training.evaluation import Hearing, hearings  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def accuracy(net, clips, profile, norms, trust: float) -> float:
    logits = view_logits(net, [h.views for h in clips], [profile] * len(clips), norms, [trust] * len(clips))
    return float(np.mean([h.label == EMOTIONS[int(np.argmax(row))] for h, row in zip(clips, logits)]))


def profile_of(net, clips) -> tuple[Stats, tuple]:
    stats = Stats.combine([Stats.of(h.views[0]) for h in clips])
    return stats, heard_norms(net, [h.views for h in clips], stats)


def draw(clips, seed: int, count: int = 20) -> list:
    return [clips[i] for i in sorted(np.random.default_rng(seed).choice(len(clips), count, replace=False))]


def degraded(classifier, folder: Path, kind: str) -> list[Hearing]:
    """The folder's clips through a phone line in noise, or in a simulated room in noise."""
    rng = np.random.default_rng(7)
    found = []
    for clip in discover(folder):
        x = audio.load_audio(clip.path)
        if kind == "phone line, 5 dB":
            x = audio.with_noise(audio.band_limited(x, 300.0, 3400.0), audio.coloured_noise(x.size, 1.0, rng), 5.0)
        else:
            x = rooms.in_room(x, rooms.Room.draw(rng), rng)
            x = audio.with_noise(x, audio.coloured_noise(x.size, 0.0, rng), 10.0)
        try:
            found.append(Hearing(clip.label, clip.speaker, clip.path.name, (extract(x, classifier.features),)))
        except NoSpeechError:
            pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    classifier = Classifier.load(args.model)
    net = classifier.net

    def heard(folder: Path) -> list:
        return [h for h in hearings(classifier, discover(folder)) if h.views]

    actors = {f"ravdess-{n}": heard(args.data / "ravdess-16k" / f"Actor_{n}") for n in ("19", "20")}
    tess: dict[str, list] = {}
    for h in heard(args.data / "tess-16k" / "neutral") + heard(args.data / "tess-16k" / "happy"):
        tess.setdefault(h.speaker, []).append(h)
    rows = []
    for target, clips in actors.items():
        own = draw(clips, 0)
        other = next(name for name in actors if name != target)
        cases = {
            "own": (clips, own, own),
            "another actor's": (clips, draw(actors[other], 1), own),
            **{f"{name}'s": (clips, draw(tess[name], 1), own) for name in sorted(tess)},
        }
        for kind in ("phone line, 5 dB", "room, 10 dB"):
            bad = degraded(classifier, args.data / "ravdess-16k" / f"Actor_{target[-2:]}", kind)
            bad_own = [h for h in bad if h.name in {c.name for c in own}]
            cases[f"clean, scored in a {kind}"] = (bad, own, bad_own)
            cases[f"in a {kind}, scored there"] = (bad, bad_own, bad_own)
        for name, (scored, source, through) in cases.items():
            stats, norms = profile_of(net, source)
            agreed = agreement(net, [h.views for h in through], stats, norms)
            trust = trust_of(agreed, len(through))
            figures = [accuracy(net, scored, stats, norms, weight) for weight in (0.0, 1.0, trust)]
            rows.append((target, name, *figures, agreed / len(through), trust))
            print(
                f"{target}  {name:<34} cold {figures[0]:6.1%}  used fully {figures[1]:6.1%}  "
                f"as trusted {figures[2]:6.1%}  (agreement {agreed / len(through):.0%}, trust {trust:.2f})",
                flush=True,
            )
    for label, chosen in (
        ("own profile", [r for r in rows if r[1] == "own"]),
        ("not fitting", [r for r in rows if r[1] != "own"]),
    ):
        cold, full, gated = (float(np.mean([r[i] for r in chosen])) for i in (2, 3, 4))
        print(f"mean, {label} ({len(chosen)} cases): cold {cold:.1%}  used fully {full:.1%}  as trusted {gated:.1%}")
    print("command: python bench/profile_trust.py" + (f" --model {args.model}" if args.model else ""))


if __name__ == "__main__":
    main()
