"""The live recording meter: time left, input level, and what to do about it.

:func:`moodplayer.voice.capture.record_voice` hands each block to
:meth:`RecordingMeter.update`; the meter draws on stderr only when that is a
terminal (and not for ``--json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rich.live import Live

#: Peak level (dBFS) under which the meter says "too quiet", once this far in.
TOO_QUIET_DB, TOO_QUIET_AFTER = -40.0, 1.5
CLIPPING_LEVEL = 0.99
#: The level shown is the peak of this much of the latest audio.
RECENT_SECONDS = 0.3


class RecordingMeter:
    """The live recording view on stderr: time left, input level, and what to do about it."""

    def __init__(self, max_seconds: float, enabled: bool = True) -> None:
        from moodplayer.ui.console import err

        self.max_seconds = max_seconds
        self.console = err
        self.enabled = enabled and err.is_terminal
        self.live: Live | None = None
        #: The emotion heard so far (an early verdict), shown under the level once known.
        self.heard: str | None = None
        self._latest: tuple[np.ndarray, int] = (np.zeros(0, np.float32), 16_000)

    def __enter__(self) -> RecordingMeter:
        if self.enabled:
            from rich.live import Live

            self.live = Live(console=self.console, transient=True, refresh_per_second=12)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, recorded: np.ndarray, rate: int) -> None:
        self._latest = (recorded, rate)
        if self.live is not None:
            self.live.update(self.render(recorded, rate))

    def show_heard(self, heard: str) -> None:
        """Show what has been heard so far, at once (not at the next refresh)."""
        self.heard = heard
        if self.live is not None:
            self.live.update(self.render(*self._latest), refresh=True)

    def render(self, recorded: np.ndarray, rate: int):
        from rich.text import Text

        elapsed = recorded.size / rate
        recent = recorded[-int(rate * RECENT_SECONDS) :]
        peak = float(np.max(np.abs(recent))) if recent.size else 0.0
        level_db = 20 * np.log10(max(peak, 1e-6))
        filled = int(max(0.0, min(1.0, (level_db + 60) / 60)) * 30)
        line = Text.assemble(
            ("● ", "bold red"),
            f"listening… {max(0.0, self.max_seconds - elapsed):4.1f} s left  ",
            ("█" * filled, "green" if peak < CLIPPING_LEVEL else "red"),
            ("░" * (30 - filled), "dim"),
            f" {level_db:5.1f} dBFS",
        )
        if self.heard:
            line = Text.assemble(line, "\n", "heard so far: ", (self.heard, "bold"))
        hint = self.hint(recorded, elapsed, peak)
        return Text.assemble(line, "\n", (hint, "yellow")) if hint else line

    @staticmethod
    def hint(recorded: np.ndarray, elapsed: float, recent_peak: float) -> str:
        if recent_peak >= CLIPPING_LEVEL:
            return "clipping: move back from the microphone or turn its gain down"
        if elapsed >= TOO_QUIET_AFTER and 20 * np.log10(max(float(np.max(np.abs(recorded))), 1e-6)) < TOO_QUIET_DB:
            return "too quiet: speak up, move closer, or check the input volume"
        return ""


def record_with_meter(max_seconds: float, *, device=None, show: bool = True) -> np.ndarray:
    """:func:`record_voice` with the meter drawn while it records (``show=False``: silently)."""
    from moodplayer.voice.capture import record_voice

    with RecordingMeter(max_seconds, enabled=show) as meter:
        return record_voice(max_seconds, device=device, on_block=meter.update)
