"""What native decoders write straight to the terminal, kept off it.

libsndfile's bundled mpg123 prints "Note: Illegal Audio-MPEG-Header …" and
"Trying to resync…" on file descriptor 2 for every MP3 it cannot parse, and
Python's ``sys.stderr`` never sees it, so no logging setting can quiet it.
:func:`captured` points descriptor 2 at a temporary file while a decoder runs
and hands what it wrote to the logger at debug level: ``--debug`` shows it,
a user never meets it otherwise.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

_STDERR = 2
#: One capture at a time: descriptor 2 is the process's, not a thread's.
_lock = threading.RLock()


@contextmanager
def captured(what: str) -> Iterator[None]:
    """Run the body with descriptor 2 captured; log what was written there as ``what``'s output."""
    with _lock, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = _duplicate(_STDERR)
        if saved is None:  # no descriptor 2 at all (a daemon): nothing to keep quiet
            yield
            return
        os.dup2(sink.fileno(), _STDERR)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, _STDERR)
            os.close(saved)
            sink.seek(0)
            said = sink.read().decode(errors="replace").strip()
            if said:
                log.debug("%s wrote: %s", what, " | ".join(said.splitlines()))


def _duplicate(fd: int) -> int | None:
    try:
        return os.dup(fd)
    except OSError:
        return None
