"""librosa's compiled kernels, loaded by one process at a time until they are cached.

librosa compiles its numba kernels when its modules are first imported or
called and caches them beside librosa (or in ``NUMBA_CACHE_DIR``). Two
processes compiling them at once — the two workers of a first ``library scan``
after installing, or two scans side by side — can write a mismatched cache, and
every later process that loads it dies of a segmentation fault (numba issue
10128). :func:`first_use` runs a process's first librosa work, on a short
signal, under a lock that every moodplayer process on the machine takes: the
first compiles and writes the cache whole, the others load it. Once that has
been done for this librosa and numba, a marker in the cache folder lets later
processes skip the lock.
"""

from __future__ import annotations

import fcntl
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

log = logging.getLogger(__name__)

_done: set[str] = set()
_thread_lock = threading.Lock()
LOCK_FILE = Path(tempfile.gettempdir()) / "moodplayer-numba.lock"


def first_use(name: str, warm_up: Callable[[], object]) -> None:
    """Run ``warm_up`` (librosa work on a short signal that imports and calls every kernel the work
    ``name`` uses) under the machine-wide lock, once per process, until the kernels are cached."""
    if name in _done:
        return
    with _thread_lock:
        if name in _done:
            return
        marker = _marker(name)
        if not marker.exists():
            with _machine_lock():
                warm_up()
            _write_marker(marker)
        _done.add(name)


def _marker(name: str) -> Path:
    from moodplayer.paths import cache_dir

    try:
        versions = f"librosa-{version('librosa')}-numba-{version('numba')}"
    except PackageNotFoundError:
        versions = "unknown"
    return cache_dir() / "numba" / f"{name}-{versions}"


def _write_marker(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError as exc:  # a read-only cache: the lock is taken again next time, nothing worse
        log.debug("cannot mark the compiled kernels as cached: %s", exc)


@contextmanager
def _machine_lock() -> Iterator[None]:
    """The lock file every moodplayer process shares; without it (another user's, not writable), no lock."""
    try:
        handle = open(LOCK_FILE, "a")
    except OSError as exc:
        log.debug("compiling librosa's kernels without the lock %s: %s", LOCK_FILE, exc)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
