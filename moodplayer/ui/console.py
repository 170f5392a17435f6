"""The two rich consoles every command prints through, and the bridge from logging to them.

Results go to stdout, messages and errors to stderr, so ``--json`` output stays
clean when piped. Rich drops colour and live animation by itself when the
stream is not a terminal (or ``NO_COLOR`` is set). The core never prints: it
logs, and :func:`show_log_records` puts its warnings on stderr as one line each.
"""

import logging

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", soft_wrap=True, markup=True)


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)


class _ConsoleHandler(logging.Handler):
    """Each record as one ``warning:`` (or ``error:``) line on stderr, however long (file paths)."""

    def emit(self, record: logging.LogRecord) -> None:
        from rich.markup import escape

        message = escape(record.getMessage())
        if record.levelno >= logging.ERROR:
            fail(message)
        elif record.levelno >= logging.WARNING:
            warn(message)
        else:
            err.print(f"[dim]{record.name}:[/] {message}", soft_wrap=True)


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
