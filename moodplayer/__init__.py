"""moodplayer: hear the emotion in a voice, play music that fits."""

__version__ = "0.1.0"
