"""Training the emotion model, always by speaker.

Emotion corpora have few speakers and many clips each, so everything here
splits by speaker (:mod:`.splits`). A run turns clips into examples with their
degraded copies (:mod:`.examples`), fits ensemble members (:mod:`.fit`) in a
pool of worker processes (:mod:`.workers`), and scores models on speakers they
never heard (:mod:`.evaluation`, :mod:`.metrics`, :mod:`.crossval`), beside
the classic baseline (:mod:`.baseline`); :mod:`.tune` searches for a recipe.
"""
