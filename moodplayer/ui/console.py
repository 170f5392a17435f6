"""The two rich consoles every command prints through, and the bridge from logging to them.

Results go to stdout, messages and errors to stderr, so ``--json`` output stays
clean when piped. Rich drops colour and live animation by itself when the
stream is not a terminal (or ``NO_COLOR`` is set). The core never prints: it
logs, and :func:`show_log_records` puts its warnings on stderr as one line each.

Text that came from a user or a file (names, tags, paths) reaches the terminal
only through :func:`safe` (in markup) or :func:`warn`/:func:`fail` (plain):
its control characters escaped, so a title cannot clear the screen or retitle
the window, and its brackets are not taken for markup.
"""

import logging

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def safe(value) -> str:
    """User or file text to put into rich markup: control characters and bytes that are not
    UTF-8 escaped (:func:`moodplayer.text.shown`), brackets escaped; ``""`` for nothing."""
    from rich.markup import escape

    from moodplayer.text import shown

    return escape(shown(str(value))) if value is not None else ""


def warn(message: str) -> None:
    """A plain-text warning line on stderr (names and paths in it are shown safely)."""
    err.print(f"[yellow]warning:[/] {safe(message)}", soft_wrap=True)


def fail(message: str) -> None:
    """A plain-text error line on stderr (names and paths in it are shown safely)."""
    err.print(f"[bold red]error:[/] {safe(message)}", soft_wrap=True)


class _ConsoleHandler(logging.Handler):
    """Each record as one ``warning:`` (or ``error:``) line on stderr, however long (file paths)."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            fail(message)
        elif record.levelno >= logging.WARNING:
            warn(message)
        else:
            err.print(f"[dim]{record.name}:[/] {safe(message)}", soft_wrap=True)


def show_log_records(debug: bool = False) -> None:
    """Put moodplayer's warnings on stderr, one line each; with ``debug``, its debug records and
    other libraries' warnings too (python-vlc, numba…), which otherwise stay off the terminal."""
    handler = next((h for h in logging.getLogger().handlers if isinstance(h, _ConsoleHandler)), _ConsoleHandler())
    ours = logging.getLogger("moodplayer")
    ours.setLevel(logging.DEBUG if debug else logging.WARNING)
    ours.propagate = True  # to the root logger's one handler
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    if handler not in root.handlers:
        root.addHandler(handler)
    handler.filters = [] if debug else [lambda record: record.name.startswith("moodplayer")]
