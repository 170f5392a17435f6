"""Where moodplayer keeps its state.

Everything lives under one home folder: the platform's user data dir
(platformdirs), or ``$MOODPLAYER_HOME`` when set, so tests and users can
isolate state completely.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
BUNDLED_DATA_DIR = PACKAGE_DIR / "data"


def home() -> Path:
    """The folder holding the database, profiles, samples and user models."""
    override = os.environ.get("MOODPLAYER_HOME")
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("moodplayer", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    return home() / "moodplayer.db"


def default_model_path() -> Path:
    """The model shipped in the repository's ``models/`` (or installed package data)."""
    shipped = REPO_DIR / "models" / "emotion-lstm.safetensors"
    if shipped.exists():
        return shipped
    return BUNDLED_DATA_DIR / "emotion-lstm.safetensors"


def cache_dir() -> Path:
    """Feature caches and other data that can be rebuilt at any time."""
    path = home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
