"""Other work on the machine, for the benches' "busy" columns: N processes that spin on a core each.

A user's machine always runs something beside moodplayer (a browser, a build,
the music moodplayer itself plays); ``--busy N`` measures the product beside
N such processes. They are started once and paused (SIGSTOP) for the idle
measurements, so idle and busy runs can take turns and a drift in the
machine's speed moves both columns alike.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator


class BusyLoops:
    """N spinning processes (``while 1: pass``), running or paused."""

    def __init__(self, count: int) -> None:
        self.processes = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]
        self.pause()

    def pause(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGCONT)
        time.sleep(0.2)  # let the scheduler spread them over the cores

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()

    @contextlib.contextmanager
    def running(self, busy: bool) -> Iterator[None]:
        """The block runs beside the loops (``busy``) or with them paused."""
        if busy:
            self.resume()
        try:
            yield
        finally:
            if busy:
                self.pause()


@contextlib.contextmanager
def busy_loops(count: int) -> Iterator[BusyLoops]:
    """``count`` paused busy loops, killed on the way out whatever happens."""
    loops = BusyLoops(count)
    try:
        yield loops
    finally:
        loops.stop()


def conditions(count: int) -> list[tuple[str, bool]]:
    """The columns a bench prints: idle, and busy beside ``count`` loops when asked."""
    return [("idle", False)] + ([(f"busy {count}", True)] if count else [])
