"""The ``moodplayer`` command line: thin Typer commands wiring the library modules.

Each command module registers itself on :data:`app`. Heavy libraries (torch,
librosa, vlc) are imported inside the commands, so ``moodplayer --help``
answers at once. :func:`main` is the one place that turns errors into a
one-line message and an exit code.
"""

from __future__ import annotations

import importlib
import os
import sys

from moodplayer.cli.app import app

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

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends as one line on stderr and a non-zero exit."""
    import typer

    # Typer vendors click from 0.26 on; its exceptions are the ones raised, whichever click it uses.
    ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    Abort = typer.Abort

    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.console import fail, show_log_records

    show_log_records()

    try:
        code = app(args=argv, prog_name="moodplayer", standalone_mode=False)
    except ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (Abort, KeyboardInterrupt):
        code = EXIT_INTERRUPTED
    except MoodplayerError as exc:
        fail(str(exc))
        code = exc.exit_code
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except Exception as exc:  # a bug: still one line, with a way to see more
        if os.environ.get("MOODPLAYER_DEBUG"):
            raise
        fail(f"internal error: {type(exc).__name__}: {exc} (set MOODPLAYER_DEBUG=1 for details)")
        code = EXIT_INTERNAL
    if code == EXIT_INTERRUPTED:
        fail("interrupted")  # newer Typer turns Ctrl-C into a silent exit status 130 itself
    sys.exit(code if isinstance(code, int) else 0)
