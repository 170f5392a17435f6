"""Where moodplayer keeps its state.

Everything lives under one home folder: the platform's user data dir
(platformdirs), or ``$MOODPLAYER_HOME`` when set, so tests and users can
isolate state completely.
"""

from __future__ import annotations

import os
from pathlib import Path

from moodplayer.errors import MoodplayerError

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
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise MoodplayerError(
            f"moodplayer's home {path} is a file, not a folder (set MOODPLAYER_HOME to a folder)"
        ) from None
    except OSError as exc:
        raise MoodplayerError(f"cannot use {path} as moodplayer's home: {exc.strerror}") from None
    return path


def database_path() -> Path:
    return home() / "moodplayer.db"


def shipped_asset(relative: str) -> Path:
    """A file the repository ships (``models/…``, ``playlists/…``).

    From the source tree when moodplayer runs from one (an editable install),
    else the copy that a built wheel carries in the package's ``data/`` folder
    (``setup.py`` puts it there).
    """
    in_tree = REPO_DIR / relative
    return in_tree if in_tree.exists() else BUNDLED_DATA_DIR / Path(relative).name


def default_model_path() -> Path:
    """The shipped emotion model: read, never written by a user command."""
    return shipped_asset("models/emotion-lstm.safetensors")


def trained_music_model_path() -> Path:
    """Where `library train` puts a music-mood model trained by the user."""
    return home() / "models" / "music-mood.safetensors"


def music_model_path() -> Path:
    """The music-mood model `library scan` uses: the user's own when trained, else the shipped one."""
    trained = trained_music_model_path()
    return trained if trained.exists() else shipped_asset("models/music-mood.safetensors")


def cache_dir() -> Path:
    """Feature caches and other data that can be rebuilt at any time."""
    path = home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def typed_path(typed: str) -> str:
    """A path as the user typed it, with ``~``, ``~user`` and ``$VARIABLES`` expanded as a shell would:
    also where the shell did not (a quoted ``"~/Music/…"``, a value from a config or an M3U)."""
    return os.path.expandvars(os.path.expanduser(typed))


def portable_folder(folder: str | Path) -> str:
    """A folder as a file that travels (a model's metadata) names it: ``~/…`` under the user's home,
    else by its name alone, which :func:`data_folder` finds again. Never the absolute path of the
    machine the file was made on."""
    folder = Path(folder).resolve()
    if folder.is_relative_to(Path.home()):
        return "~/" + folder.relative_to(Path.home()).as_posix()
    return folder.name


def data_folder(named: str) -> Path | None:
    """The folder :func:`portable_folder` named, on this machine; ``None`` where it is not.

    ``~/…`` and an absolute path (as older models kept it) are taken as they are; a bare name is
    looked for in each folder ``$MOODPLAYER_DATA`` lists (separated as ``PATH`` is), then in
    ``../shared/data`` beside the source tree, where a developer checkout keeps the corpora.
    """
    given = Path(typed_path(named))
    if given.is_absolute():
        places = [given]
    else:
        bases = [Path(typed_path(base)) for base in os.environ.get("MOODPLAYER_DATA", "").split(os.pathsep) if base]
        places = [base / given for base in [*bases, REPO_DIR.parent / "shared" / "data"]]
    return next((place for place in places if place.is_dir()), None)
