"""The ``moodplayer`` command line: thin Typer commands wiring the library modules.

Each command module registers itself on :data:`app`. Heavy libraries (torch,
librosa, vlc) are imported inside the commands, so ``moodplayer --help``
answers at once. :func:`main` is the one place that turns errors into a
one-line message and an exit code.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from moodplayer.cli.app import app, expand_typed_paths

# Importing a command module registers its commands on `app`; `moodplayer --help` lists them in this order.
COMMAND_MODULES = (
    "detect",
    "doctor",
    "history",
    "listen",
    "train",
    "samples",
    "play",
    "moods",
    "model",
    "playlist",
    "library",
    "voice",
)
for _module in COMMAND_MODULES:
    importlib.import_module(f"moodplayer.cli.{_module}")
expand_typed_paths(app)

#: Exit statuses, as CONTRIBUTING's table lists them; a user error's is its MoodplayerError's exit_code (1).
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends as one line on stderr and a non-zero exit."""
    import typer

    # Typer vendors click from 0.26 on; its exceptions are the ones raised, whichever click it uses.
    ClickException: type[Any] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    Abort = typer.Abort

    from moodplayer.cli.app import debugging
    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.console import fail, show_log_records

    show_log_records(debug=debugging())
    _exit_cleanly_on_termination()
    try:
        code = app(args=argv, prog_name="moodplayer", standalone_mode=False)
    except ClickException as exc:
        fail(usage_error(exc))
        code = EXIT_USAGE if exc.exit_code == EXIT_USAGE else exc.exit_code
    except (Abort, KeyboardInterrupt):
        code = EXIT_INTERRUPTED
    except MoodplayerError as exc:
        if debugging():
            logging.getLogger(__name__).debug("%s", type(exc).__name__, exc_info=True)
        fail(str(exc))  # an interrupted command's own message says what it kept: no "interrupted" after it
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except OSError as exc:  # the system said no: a permission, a full disk, a file gone meanwhile
        fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        code = 1
    except Exception as exc:  # a bug: one line that says where its report is
        fail(internal_error(exc, argv if argv is not None else sys.argv[1:]))
        code = EXIT_INTERNAL
    if code == EXIT_INTERRUPTED:
        fail("interrupted")  # newer Typer turns Ctrl-C into a silent exit status 130 itself
    sys.exit(code if isinstance(code, int) else 0)


def usage_error(exc) -> str:
    """Click's usage error as one line that ends with where to read how the command is used."""
    command = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "moodplayer"
    return f"{exc.format_message().rstrip('.')} (see: {command} --help)"


def internal_error(exc: Exception, argv: list[str]) -> str:
    """Keep a report of a bug (traceback, version, command) under moodplayer's home; say where it is.

    With ``--debug`` the traceback is also printed, as Python would.
    """
    import traceback

    from moodplayer.cli.app import debugging

    if debugging():
        traceback.print_exception(exc)
    report = write_report(exc, argv)
    where = f"its report is in {report}: please send it to moodplayer's authors" if report else "no report was written"
    return f"moodplayer hit a bug (not your doing); {where} (--debug shows the details here)"


def write_report(exc: Exception, argv: list[str]) -> Path | None:
    """A small text file: what was run, on what, and the traceback; ``None`` if it cannot be written."""
    import datetime
    import platform
    import shlex
    import traceback

    from moodplayer import __version__
    from moodplayer.files import atomic_write
    from moodplayer.paths import home

    when = datetime.datetime.now(datetime.timezone.utc)
    text = (
        f"moodplayer {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"command: moodplayer {shlex.join(argv)}\n"
        f"at: {when.isoformat(timespec='seconds')}\n\n" + "".join(traceback.format_exception(exc))
    )
    try:
        path = home() / "reports" / f"internal-error-{when:%Y%m%d-%H%M%S}.txt"
        atomic_write(path, text.encode())
    except Exception:  # the home itself may be what is broken
        return None
    return path


def _exit_cleanly_on_termination() -> None:
    """SIGTERM and SIGHUP (``kill``, a closed terminal) end a command with 128 + the signal, as
    Python's default would, but by unwinding: its cleanup runs (temp files removed, the terminal
    restored, a scan's finished files stored and its workers ended, and the scan says so)."""
    import signal

    def exit_now(signum, frame):
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, exit_now)
