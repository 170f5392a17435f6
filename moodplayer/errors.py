"""User-facing errors.

Every failure a user can cause or meet (bad audio, no microphone, no libvlc,
a damaged model or database) is raised as a :class:`MoodplayerError`. The CLI
prints its message as one line and exits non-zero; nothing else should reach
the user as a traceback.
"""


class MoodplayerError(Exception):
    """An error whose message is complete enough to show the user as is."""

    exit_code = 1


class AudioError(MoodplayerError):
    """Audio that cannot be read, is empty, or holds no speech."""


class NoSpeechError(AudioError):
    """The audio was readable but nobody spoke in it."""


class DeviceError(MoodplayerError):
    """No usable audio input/output device (PortAudio, libvlc)."""


class ModelError(MoodplayerError):
    """A model file that is missing, damaged or incompatible."""


class LibraryError(MoodplayerError):
    """The SQLite library is locked, damaged, or a name in it is unknown."""


class PlaybackError(MoodplayerError):
    """Nothing could be played (no libvlc, no playable tracks)."""
