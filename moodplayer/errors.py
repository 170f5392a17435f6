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


class Interrupted(MoodplayerError):
    """Work stopped by Ctrl-C (exit status 130) or a termination signal (128 + the signal); the
    message says what was kept."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


class DeviceError(MoodplayerError):
    """No usable audio input/output device (PortAudio, libvlc)."""


class ModelError(MoodplayerError):
    """A model file that is missing, damaged or incompatible."""


class OutputError(MoodplayerError):
    """A file that cannot be written where it was asked for (a folder, a full disk, no permission)."""


class LibraryError(MoodplayerError):
    """The SQLite library is locked, damaged, or a name in it is unknown."""


class PlaybackError(MoodplayerError):
    """Nothing could be played (no libvlc, no playable tracks)."""
