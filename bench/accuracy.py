"""Accuracy on voices the model never heard: speaker folds, corpora left out, and the classic baseline.

    python bench/accuracy.py [DATA_DIR ...] [--folds 5] [--corpus-out] [--seed 0] [--jobs 2]
                             [--adapt MODE ...] [--no-baseline] [--models DIR]

Speaker folds (``--folds K``; 0 skips them): each fold's speakers are scored by a
model trained on every other speaker, RAVDESS actors 01-04, 05-08, ... held out
in turn; a corpus of fewer than K speakers (TESS's two) trains every fold's
model and is never held out (training.splits.corpus_folds). The classic
180-feature MLP runs on the same folds. Each fold's model is scored at cold
start and with voice profiles: ``neutral:4`` (each held-out speaker's first four
neutral clips enrol and are not scored) and ``history:20`` (20 of the speaker's
clips, labels unused), each also as ``…/stats`` (the profile's feature
statistics alone, the nets' batch norms not moved to the voice); profiles are
used as far as they are trusted (classifier.trust_of), and ``history:20/always``
uses them fully, to measure that gate.

``--corpus-out`` (two or more DATA_DIRs): each corpus is scored by a model
trained on all the others, among the emotions both hold (closed-set), at cold
start and with each voice-profile mode: how the model carries to another
recording set-up, task and set of voices, and whether a profile helps there.
``--models DIR`` keeps every model trained, for scoring them again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODES = ["none", "neutral:4", "neutral:4/stats", "history:20", "history:20/stats", "history:20/always"]


def pm(cv: dict, metric: str) -> str:
    return f"{cv[metric + '_mean']:.1%}±{cv[metric + '_std']:.1%}"


def print_folds(ours: dict, classic: dict | None, modes: list[str]) -> None:
    print(f"{'fold':<6}{'test speakers':<26}{'LSTM acc':>10}{'LSTM UAR':>10}{'180-MLP acc':>13}{'180-MLP UAR':>13}")
    for i, a in enumerate(ours["folds"]):
        b = classic["folds"][i] if classic else None
        names = f"{a['test_speakers'][0]}..{a['test_speakers'][-1]}"
        theirs = f"{b['accuracy']:>13.1%}{b['uar']:>13.1%}" if b else f"{'—':>13}{'—':>13}"
        print(f"{a['fold']:<6}{names:<26}{a['accuracy']:>10.1%}{a['uar']:>10.1%}{theirs}")
    theirs = f"{pm(classic, 'accuracy'):>14}{pm(classic, 'uar'):>14}" if classic else ""
    print(f"{'mean':<32}{pm(ours, 'accuracy'):>14}{pm(ours, 'uar'):>14}{theirs}")
    print(f"\nvoice profiles, same nets (mean ± std over {len(ours['folds'])} folds)")
    print(f"{'adapt':<18}{'accuracy':>14}{'UAR':>14}{'Δ accuracy':>12}   per fold")
    for mode in modes:
        figures = ours["adapt"][mode]
        gain = figures["accuracy_mean"] - ours["adapt"]["none"]["accuracy_mean"]
        per_fold = " ".join(f"{f['adapt'][mode]['accuracy']:.1%}" for f in ours["folds"])
        print(f"{mode:<18}{pm(figures, 'accuracy'):>14}{pm(figures, 'uar'):>14}{gain * 100:>+11.1f}   {per_fold}")


def print_corpus_out(results: dict[str, dict], modes: list[str]) -> None:
    """Per corpus left out: closed-set accuracy (UAR) under each mode, and the open-set accuracy."""
    print("\ncorpus left out (closed-set: among the emotions both the corpus and the training corpora hold)")
    print(f"{'scored':<10}{'clips':>7}{'open acc':>10}" + "".join(f"{mode:>22}" for mode in modes))
    for corpus, result in results.items():
        cells = []
        for mode in modes:
            figures = result["adapt"][mode]
            among = figures.get("closed_set", figures)
            gain = among["accuracy"] - result["adapt"]["none"].get("closed_set", result["adapt"]["none"])["accuracy"]
            cells.append(
                f"{among['accuracy']:.1%} ({among['uar']:.1%})" + (f" {gain * 100:+.1f}" if mode != "none" else "")
            )
        print(f"{corpus:<10}{result['n']:>7}{result['accuracy']:>10.1%}" + "".join(f"{c:>22}" for c in cells))


def progress(kind: str, names: list[str], config, folder: Path | None):
    """A callback for each held-out result: a line on stderr, and with ``folder`` the model saved
    as ``folder/<kind>-<name>.safetensors``."""

    def done(i: int, result: dict, model) -> None:
        from moodplayer.emotions import EMOTIONS
        from moodplayer.voice.model import ModelMetadata, save_model

        print(f"  {kind} {names[i - 1]}: {result['accuracy']:.1%} ({result['seconds']:.0f} s)", file=sys.stderr)
        if folder is not None:
            trained = ModelMetadata(EMOTIONS, config, model.config, split={"test": result["test_speakers"]})
            save_model(folder / f"{kind}-{names[i - 1]}.safetensors", model.state_dict(), trained.to_dict())

    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="*", default=[REPO.parent / "shared/data/ravdess-16k"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--corpus-out", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--adapt", nargs="+", default=MODES)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--models", type=Path)
    args = parser.parse_args()

    import torch

    from moodplayer.voice.datasets import read_corpora
    from moodplayer.voice.features import FeatureConfig
    from moodplayer.voice.training.baseline import baseline_cross_validate
    from moodplayer.voice.training.crossval import corpus_out, cross_validate
    from moodplayer.voice.training.examples import make_examples
    from moodplayer.voice.training.fit import Recipe

    torch.set_num_threads(1)
    recipe, config = Recipe(), FeatureConfig()
    corpora = read_corpora(args.data)
    clips = [clip for corpus in corpora for clip in corpus.clips]
    start = time.perf_counter()
    examples = make_examples(clips, config, recipe.speeds, recipe.degraded_copies, recipe.speed_views)
    timings = {"features": time.perf_counter() - start}
    modes = list(dict.fromkeys(["none", *args.adapt]))
    described = ", ".join(f"{c.name} {sum(ex.corpus == c.name for ex in examples)} clips" for c in corpora)
    print(f"{described}; seed {args.seed}, recipe of `moodplayer train`", flush=True)
    if args.folds:
        done = progress("fold", [str(i) for i in range(1, args.folds + 1)], config, args.models)
        start = time.perf_counter()
        ours = cross_validate(examples, args.folds, recipe, args.seed, args.jobs, None, done, modes)
        timings["LSTM folds"] = time.perf_counter() - start
        classic = None
        if not args.no_baseline:
            start = time.perf_counter()
            classic = baseline_cross_validate(clips, args.folds, args.seed)
            timings["baseline"] = time.perf_counter() - start
        print(f"\n{args.folds} speaker folds")
        print_folds(ours, classic, modes)
    if args.corpus_out:
        names = sorted(c.name for c in corpora)
        done = progress("without", names, config, args.models)
        start = time.perf_counter()
        left_out = corpus_out(examples, recipe, args.seed, args.jobs, None, done, modes)
        timings["corpora left out"] = time.perf_counter() - start
        print_corpus_out(left_out, modes)
    print(
        "\ntime: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()) + f" ({args.jobs} jobs)"
    )
    print("command: python bench/accuracy.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
