"""Score the models ``bench/accuracy.py --models DIR`` kept again, under voice-profile modes, without training.

    python bench/rescore.py MODELS_DIR DATA_DIR [DATA_DIR ...] [--adapt MODE ...]

``fold-K`` models score the speakers they were held out from (their metadata's
``split.test``), ``without-NAME`` models the corpus NAME (closed-set where the
training corpora lack some of its emotions), each through evaluation.judge as
``moodplayer evaluate`` scores. Per model and mode: accuracy, closed-set accuracy
and how far the profiles were trusted; then the folds' mean and spread. The
default modes compare profiles used as far as trusted with profiles used fully
(``history:20/always``). ``neutral:N`` modes are scored without the enrolment
shift (the kept models do not store it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moodplayer.voice.classifier import Classifier  # noqa: E402  (after the path insert above)
from moodplayer.voice.datasets import read_corpora  # noqa: E402
from moodplayer.voice.model import load_model  # noqa: E402
from moodplayer.voice.training.evaluation import hearings, judge  # noqa: E402

MODES = ["none", "history:20", "history:20/always"]


def line(name: str, mode: str, result: dict) -> str:
    held = result.get("closed_set")
    trust = result.get("profile_trust")
    return (
        f"{name:<18}{mode:<20}{result['accuracy']:>8.1%}"
        + (f"  closed-set {held['accuracy']:.1%}" if held else "")
        + (
            f"  trusted {trust['trusted']:.2f} ({trust['full']} fully, {trust['partial']} partly, {trust['none']} not)"
            if trust
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path)
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--adapt", nargs="+", default=MODES)
    args = parser.parse_args()
    modes = list(dict.fromkeys(["none", *args.adapt]))
    corpora = {corpus.name: corpus.clips for corpus in read_corpora(args.data)}
    heard: dict[str, list] = {}
    folds: dict[str, list[float]] = {mode: [] for mode in modes}
    for path in sorted(args.models.glob("*.safetensors")):
        classifier = Classifier(*load_model(path))
        if path.stem.startswith("fold-"):
            test = set(classifier.metadata["split"]["test"])
            clips = [c for name in corpora for c in corpora[name] if c.speaker in test]
        elif path.stem.removeprefix("without-") in corpora:
            clips = corpora[path.stem.removeprefix("without-")]
        else:
            continue
        key = path.stem if path.stem.startswith("without-") else "folds"
        if key not in heard or path.stem.startswith("without-"):
            heard[key] = hearings(
                classifier, [c for clips_ in corpora.values() for c in clips_] if key == "folds" else clips
            )
        names = {c.path.name + c.speaker for c in clips}
        chosen = [h for h in heard[key] if h.name + h.speaker in names]
        for mode in modes:
            result = judge(classifier.net, chosen, mode)
            print(line(path.stem, mode, result), flush=True)
            if path.stem.startswith("fold-"):
                folds[mode].append(result["accuracy"])
    if folds["none"]:
        cold = np.mean(folds["none"])
        for mode in modes:
            print(
                f"folds, mean ± std  {mode:<20}{np.mean(folds[mode]):.1%} ± {np.std(folds[mode]):.1%}"
                + (f" ({(np.mean(folds[mode]) - cold) * 100:+.1f})" if mode != "none" else "")
            )
    print("command: python bench/rescore.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
