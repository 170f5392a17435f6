"""Playback through libvlc, with the queue kept in our own code.

libvlc plays one medium at a time here; which track comes next (shuffle,
repeat, skipping files that cannot be played) is decided in :meth:`Player.poll`,
called from the application's main loop. libvlc event callbacks run on
libvlc's own threads and must not call back into libvlc, so they only put a
note on a thread-safe queue that ``poll`` reads.

libvlc reports a missing or unreadable file as "ended" (or as an error that
carries no reason), so local files are checked before they are handed to it
and a medium that ends without ever having a duration is reported as not
playable audio.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import queue
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from moodplayer.errors import PlaybackError
from moodplayer.music.track import Track

#: Seconds into a track after which "previous" restarts it instead of going back.
RESTART_THRESHOLD = 3.0
REPEAT_MODES = ("off", "all", "one")
_LIBVLC_MISSING = "libvlc not found; install libvlc5 and vlc-plugin-base"


def load_vlc():
    """Import python-vlc, turning every way of not finding libvlc into one :class:`PlaybackError`.

    python-vlc loads libvlc at import time and, depending on how it fails,
    raises OSError, NotImplementedError, or even calls ``sys.exit`` (a bad
    ``PYTHON_VLC_LIB_PATH``).
    """
    import contextlib
    import io

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # python-vlc prints its failures to stdout
            import vlc
    except (ImportError, OSError, NotImplementedError, SystemExit):
        raise PlaybackError(_LIBVLC_MISSING) from None
    return vlc


def audio_output_available() -> bool:
    """Whether this machine has somewhere to send sound (a sound server or card).

    Without one, libvlc's default outputs fail noisily (ALSA prints to the
    terminal) and tracks "play" in silence at a random speed; the silent
    ``dummy`` output keeps time properly instead. Only Linux is checked.
    """
    if not sys.platform.startswith("linux") or os.environ.get("PULSE_SERVER"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    sockets = [f"{runtime}/pulse/native", f"{runtime}/pipewire-0"] if runtime else []
    sockets += glob.glob(os.path.expanduser("~/.config/pulse/*-runtime/native"))
    if any(os.path.exists(s) for s in sockets):
        return True
    try:
        cards = Path("/proc/asound/cards").read_text()
    except OSError:
        return False
    return "no soundcards" not in cards and cards.strip() != ""


def choose_aout(aout: str | None) -> str | None:
    """The libvlc audio output to use: asked for, ``MOODPLAYER_AOUT``, default, or ``dummy``."""
    if aout:
        return aout
    if os.environ.get("MOODPLAYER_AOUT"):
        return os.environ["MOODPLAYER_AOUT"]
    return None if audio_output_available() else "dummy"


#: libvlc instances by audio output, made once and kept for the life of the process.
_INSTANCES: dict[str | None, object] = {}


def libvlc_instance(vlc, aout: str | None):
    """This process's libvlc instance for ``aout``; no libvlc (or no plugins) is a PlaybackError.

    libvlc is meant to have one instance per process. Making and releasing
    one per player loads and unloads every plugin each time, and
    ``libvlc_release`` can crash the process with a segfault. Players are
    released; the instance is kept.
    """
    if aout not in _INSTANCES:
        args = ["--quiet", "--no-video", "--no-metadata-network-access"]
        if aout:
            args.append(f"--aout={aout}")
        try:
            instance = vlc.Instance(args)
        except (NameError, AttributeError, OSError):  # a library that is not libvlc
            raise PlaybackError(_LIBVLC_MISSING) from None
        if instance is None:
            raise PlaybackError(f"{_LIBVLC_MISSING} (libvlc could not start)")
        _INSTANCES[aout] = instance
    return _INSTANCES[aout]


def unplayable_reason(track: Track) -> str | None:
    """Why a local file cannot be played (``None`` when it looks fine); streams are not checked."""
    if track.is_stream:
        return None
    path = Path(track.location)
    if not path.exists():
        return "missing"
    if not path.is_file():
        return "not a file"
    if not os.access(path, os.R_OK):
        return "not readable (permissions)"
    if path.stat().st_size == 0:
        return "empty file"
    return None


@dataclass(frozen=True)
class Playing:
    """libvlc plays ``track`` (its tags as read by then), ``length`` seconds long when known.

    By the time the caller reads it the queue may already have moved on (a
    short track), so what the event is about travels with it.
    """

    track: Track
    length: float | None

    def __str__(self) -> str:
        return f"playing {self.track.display_title}"


@dataclass(frozen=True)
class Skipped:
    """A track that cannot be played, and why; the queue goes on without it."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"skipped {self.location}: {self.reason}"


@dataclass(frozen=True)
class PlayingSilently:
    """No sound card or sound server was found: the queue plays to libvlc's dummy output."""

    def __str__(self) -> str:
        return "no audio output found: playing silently"


@dataclass(frozen=True)
class QueueEnded:
    """The last track finished (or was skipped): nothing more plays."""

    def __str__(self) -> str:
        return "end of queue"


#: What :meth:`Player.poll` reports; ``str()`` of each is the line to show the user.
PlayerEvent = Playing | Skipped | PlayingSilently | QueueEnded


class Player:
    """A queue of tracks played one after another by libvlc.

    Commands (``play``, ``next``, ``seek`` …) act at once; what happens on
    its own (a track ending, a file turning out to be unplayable) is handled
    by :meth:`poll`, which the caller runs every few tenths of a second and
    which returns what happened as short lines for the user.
    """

    def __init__(
        self,
        tracks: list[Track],
        *,
        aout: str | None = None,
        volume: int = 80,
        name: str = "the playlist",
    ) -> None:
        self._tracks = list(tracks)
        self.name = name
        #: Queue indices found unplayable, with why: never tried again, and when all are, it is an error.
        self._unplayable: dict[int, str] = {
            i: reason for i, t in enumerate(self._tracks) if (reason := unplayable_reason(t))
        }
        self._check_any_playable()
        self._vlc = load_vlc()
        self.aout = choose_aout(aout)
        self._instance = libvlc_instance(self._vlc, self.aout)
        self._mp = self._instance.media_player_new()
        self._notes: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._attach_events()
        self._order = list(range(len(self._tracks)))
        self._pos = 0
        self._state = "stopped"
        self._closed = False
        self._volume = max(0, min(100, int(volume)))
        self.shuffle = False
        self.repeat = "off"
        self._pending: list[PlayerEvent] = []
        if self.aout == "dummy" and aout is None and not os.environ.get("MOODPLAYER_AOUT"):
            self._pending.append(PlayingSilently())
        self._pending += [Skipped(self._tracks[i].location, why) for i, why in self._unplayable.items()]
        self._announced = True  # "playing <title>" is said once libvlc really plays the current track
        self._media = None

    # --- setup -------------------------------------------------------------

    def _attach_events(self) -> None:
        """Ask libvlc to tell us when a medium ends or fails; the callback only queues a note."""
        events = self._mp.event_manager()
        kinds = self._vlc.EventType
        events.event_attach(kinds.MediaPlayerEndReached, lambda _e: self._notes.put("end"))
        events.event_attach(kinds.MediaPlayerEncounteredError, lambda _e: self._notes.put("error"))

    # --- what is playing -----------------------------------------------------

    @property
    def state(self) -> str:
        """``playing``, ``paused``, ``stopped`` (not started or stopped) or ``ended`` (queue done)."""
        return self._state

    @property
    def current(self) -> Track | None:
        if self._state in ("stopped", "ended") or not self._order:
            return None
        return self._tracks[self._order[self._pos]]

    @property
    def position(self) -> float:
        """Seconds into the current track (libvlc updates it a few times a second)."""
        ms = self._mp.get_time() if self.current else -1
        return max(ms, 0) / 1000.0

    @property
    def length(self) -> float | None:
        """Duration of the current track in seconds, from libvlc or else from the library."""
        track = self.current
        if track is None:
            return None
        ms = self._mp.get_length()
        return ms / 1000.0 if ms > 0 else track.duration

    @property
    def volume(self) -> int:
        return self._volume

    @property
    def up_next(self) -> list[Track]:
        """The tracks that will follow the current one, in order (wrapping round on repeat all)."""
        rest = self._order[self._pos + 1 :]
        if self.repeat == "all":
            rest += self._order[: self._pos]
        return [self._tracks[i] for i in rest]

    # --- commands ------------------------------------------------------------

    def play(self) -> None:
        """Start (or resume) playback; from stopped or ended, start at the current queue position."""
        if self._state == "paused":
            self.pause_toggle()
        elif self._state in ("stopped", "ended"):
            if self._state == "ended":
                self._pos = 0
            self._start_from(self._pos, step=1)

    def pause_toggle(self) -> None:
        if self._state == "playing":
            self._mp.set_pause(1)
            self._state = "paused"
        elif self._state == "paused":
            self._mp.set_pause(0)
            self._state = "playing"

    def next(self) -> None:
        """Skip to the next track (wrapping round on repeat all); past the last one, the queue ends."""
        if self._state in ("stopped", "ended"):
            return
        self._advance()

    def previous(self) -> None:
        """Restart the current track, or go back one when it has only just started."""
        if self._state in ("stopped", "ended"):
            return
        earlier = [p for p in range(self._pos - 1, -1, -1) if self._order[p] not in self._unplayable]
        if self.position > RESTART_THRESHOLD or not earlier:
            self._mp.set_position(0.0)
            return
        self._start_from(earlier[0], step=-1)

    def seek(self, seconds_delta: float) -> None:
        """Move within the current track; seeking past its end goes to the next track.

        Seeks by fraction of the length: libvlc's ``set_time`` ends some Ogg
        files (no seek index) instead of moving within them.
        """
        if self.current is None:
            return
        target = max(0.0, self.position + seconds_delta)
        length = self.length
        if length and target >= length:
            self._advance()
        elif length:
            self._mp.set_position(target / length)

    def set_volume(self, v: int) -> None:
        """Set the volume (0–100); kept here too, as libvlc forgets it without an audio output."""
        self._volume = max(0, min(100, int(v)))
        self._mp.audio_set_volume(self._volume)

    def toggle_shuffle(self) -> bool:
        """Shuffle the tracks after the current one (or restore their order); returns the new setting."""
        self.shuffle = not self.shuffle
        current = self._order[self._pos]
        rest = [i for i in range(len(self._tracks)) if i != current]
        if self.shuffle:
            random.shuffle(rest)
        self._order = [current, *rest] if self.shuffle else list(range(len(self._tracks)))
        self._pos = self._order.index(current)
        return self.shuffle

    def toggle_repeat(self) -> str:
        """Cycle repeat off → all → one → off; returns the new mode."""
        self.repeat = REPEAT_MODES[(REPEAT_MODES.index(self.repeat) + 1) % len(REPEAT_MODES)]
        return self.repeat

    def stop(self) -> None:
        """Stop playback; :meth:`play` starts again from the current track."""
        self._mp.stop()
        if self._state != "ended":
            self._state = "stopped"

    def close(self) -> None:
        """Stop and release libvlc's player (once: releasing twice would crash libvlc); the instance stays."""
        if self._closed:
            return
        self._closed = True
        self._mp.stop()
        if self._media is not None:
            self._media.release()
        self._mp.release()
        self._state = "stopped"

    # --- the main-loop side ----------------------------------------------------

    def poll(self) -> list[PlayerEvent]:
        """Handle what libvlc reported since the last call; return what happened, in order.

        :class:`Playing` comes once libvlc has started decoding a track;
        :class:`Skipped`, :class:`QueueEnded` and :class:`PlayingSilently` as they happen.
        """
        self._announce_if_started()
        while True:
            try:
                note = self._notes.get_nowait()
            except queue.Empty:
                break
            self._on_medium_finished(note)
        self._check_any_playable()
        events, self._pending = self._pending, []
        return events

    def _check_any_playable(self) -> None:
        """Raise when every track in the queue turned out unplayable, naming the first few and why."""
        if not self._tracks:
            raise PlaybackError(f"no playable tracks in {self.name} (it is empty)")
        if len(self._unplayable) < len(self._tracks):
            return
        reasons = [f"{Path(self._tracks[i].location).name}: {why}" for i, why in self._unplayable.items()]
        more = "; …" if len(reasons) > 3 else ""
        raise PlaybackError(f"no playable tracks in {self.name} ({'; '.join(reasons[:3])}{more})")

    def _on_medium_finished(self, note: str) -> None:
        """A medium ended or failed: note why when it never played, then move on."""
        vlc_state = self._mp.get_state()
        if self._state != "playing" or vlc_state not in (self._vlc.State.Ended, self._vlc.State.Error):
            return  # a late note about a medium we already left (the user skipped it)
        played = note == "end" and self._mp.get_length() > 0
        if played:
            self._announce_if_started(finished=True)
        else:
            reason = "VLC could not open it" if note == "error" else "not playable audio"
            self._skip(self._order[self._pos], reason)
        if played and self.repeat == "one":
            self._start_from(self._pos, step=1)
        else:
            self._advance()

    def _announce_if_started(self, *, finished: bool = False) -> None:
        """Report :class:`Playing` once libvlc really plays the current track.

        That is when its clock moves — or, for a track whose title is known,
        as soon as libvlc knows its length; a bare path waits for the clock, as
        by then libvlc has read its tags. A track that ``finished`` is said
        now, whatever libvlc reports.
        """
        if self._announced or self._state != "playing":
            return
        track = self._tag_from_media(self._order[self._pos])
        opened = track.title is not None and self._mp.get_length() > 0
        if finished or opened or self._mp.get_time() > 0:
            self._announced = True
            self._pending.append(Playing(track, self.length))

    def _tag_from_media(self, index: int) -> Track:
        """The track, its missing title/artist/album filled in from the tags libvlc has read.

        Tracks from the library carry their tags already; a bare path (an M3U
        entry, a stream) gets them here, once libvlc has opened it.
        """
        track = self._tracks[index]
        if track.title or self._media is None:
            return track
        meta = self._vlc.Meta
        title = self._media.get_meta(meta.Title)
        if not title or title == Path(track.location).name:  # none yet, or libvlc's stand-in for no tag
            return track
        track = dataclasses.replace(
            track,
            title=title,
            artist=track.artist or self._media.get_meta(meta.Artist),
            album=track.album or self._media.get_meta(meta.Album),
        )
        self._tracks[index] = track
        return track

    def _skip(self, index: int, reason: str) -> None:
        self._unplayable[index] = reason
        self._pending.append(Skipped(self._tracks[index].location, reason))

    def _advance(self) -> None:
        """Go to the next queue position, wrapping on repeat all; past the end the queue is over."""
        nxt = self._pos + 1
        if nxt >= len(self._order):
            if self.repeat != "all":
                self._finish()
                return
            nxt = 0
        self._start_from(nxt, step=1, wrap=self.repeat == "all")

    def _start_from(self, pos: int, *, step: int, wrap: bool = False) -> None:
        """Play the first playable track from ``pos`` in direction ``step``; skip the others with a note."""
        for _ in range(len(self._order)):
            if not 0 <= pos < len(self._order):
                if not wrap:
                    break
                pos %= len(self._order)
            index = self._order[pos]
            if index not in self._unplayable:
                reason = unplayable_reason(self._tracks[index])  # it may have gone since the start
                if reason is None:
                    self._pos = pos
                    self._load(self._tracks[index])
                    return
                self._skip(index, reason)
            pos += step
        self._finish()

    def _load(self, track: Track) -> None:
        if self._media is not None:
            self._media.release()
        # Kept: its tags are read once it opens. A file by its bytes: its name need not be UTF-8.
        if track.is_stream:
            self._media = self._instance.media_new(track.location)
        else:
            self._media = self._instance.media_new_path(os.fsencode(track.location))
        self._mp.set_media(self._media)
        self._mp.play()
        self._mp.audio_set_volume(self._volume)
        self._state = "playing"
        self._announced = False

    def _finish(self) -> None:
        """The queue is over."""
        self._mp.stop()
        self._state = "ended"
        self._pos = 0
        self._pending.append(QueueEnded())
