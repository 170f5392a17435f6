"""The model a ``train`` run ships: trained on every speaker but a few validation ones, who
calibrate its confidence, and described by its metadata (model.ModelMetadata)."""

from __future__ import annotations

from collections.abc import Sequence

from moodplayer.emotions import EMOTIONS
from moodplayer.files import utc_now
from moodplayer.paths import portable_folder
from moodplayer.voice.datasets import Corpus, speakers
from moodplayer.voice.features import FeatureConfig
from moodplayer.voice.model import ModelMetadata, count_parameters
from moodplayer.voice.training.examples import Example, enrolment_shift, training_voices
from moodplayer.voice.training.fit import Recipe, Report
from moodplayer.voice.training.workers import train_split

NORMALISATION = (
    "per band, at cold start by the clip's own mean and, per member (model.typical_spread), its own variance or "
    "the training clips' typical one; or by a voice profile (mean/variance of the speaker's clips); trained on both"
)


def describe_data(corpora: Sequence[Corpus], examples: Sequence[Example]) -> dict:
    """The training data: each corpus with its folder (paths.portable_folder), clips, speakers and
    emotions; and in all."""
    described = []
    for corpus in corpora:
        own = [ex for ex in examples if ex.corpus == corpus.name]
        described.append(
            {
                "name": corpus.name,
                "root": portable_folder(corpus.root),
                "clips": len(own),
                "speakers": len(speakers(own)),
                "emotions": [label for i, label in enumerate(EMOTIONS) if any(ex.label == i for ex in own)],
            }
        )
    return {"corpora": described, "clips": len(examples), "speakers": speakers(examples)}


def train_final(
    examples: Sequence[Example],
    corpora: Sequence[Corpus],
    recipe: Recipe,
    config: FeatureConfig,
    seed: int = 0,
    report: Report | None = None,
    jobs: int = 1,
    cross_validation: dict | None = None,
    tuning: dict | None = None,
) -> tuple[object, ModelMetadata]:
    """The final model and its metadata (``cross_validation`` and ``tuning``: what the run measured first)."""
    names = speakers(examples)
    net, info = train_split(examples, names, recipe, seed, report, jobs)
    metadata = ModelMetadata(
        labels=EMOTIONS,
        features=config,
        model=net.config,
        normalisation=NORMALISATION,
        # Read by Classifier.accepts_profiles: only such a model is given voice profiles.
        speaker_normalisation=recipe.speaker_norm > 0,
        # Read by Classifier.speeds: a clip is also heard at these speeds (classifier.view_logits).
        test_time_speeds=recipe.speeds if recipe.speed_views else (),
        parameters=count_parameters(net),
        recipe={**recipe.to_dict(), "seed": seed},
        temperature=info.pop("temperature"),
        enrolment_shift=enrolment_shift(examples),
        training_voices=training_voices(examples, config),
        data=describe_data(corpora, examples),
        split={
            "train": [s for s in names if s not in info["validation_speakers"]],
            "validation": info["validation_speakers"],
        },
        training=info,
        cross_validation=cross_validation,
        tuning=tuning,
        created=utc_now(),
    )
    return net, metadata
