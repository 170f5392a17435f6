"""The voice half of the chain: from a microphone or a file to an emotion.

Capture (:mod:`.capture`), decoding and speech finding (:mod:`.audio`),
features (:mod:`.features`), the emotion model (:mod:`.model`) and what hears
with it (:mod:`.classifier`); voice profiles (:mod:`.profiles`), the personal
sample store (:mod:`.sample_store`), fine-tuning on it (:mod:`.finetune`) and
the model versions in force (:mod:`.model_versions`); training on corpora
(:mod:`.datasets`, :mod:`.rooms`, :mod:`.train`, :mod:`.tune`).
"""
