"""The Typer application object that every command module registers on, and how its help names values."""

import functools
import os
from pathlib import Path
from typing import get_args

import typer
from typer.core import TyperArgument, TyperOption

app = typer.Typer(
    name="moodplayer",
    help="Speak for a few seconds; moodplayer hears the emotion in your voice and plays music that fits.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def debugging() -> bool:
    """Whether ``--debug`` (or ``MOODPLAYER_DEBUG``) asks for Python's own words: exception names, tracebacks."""
    return bool(os.environ.get("MOODPLAYER_DEBUG"))


def _show_version(asked: bool) -> None:
    if asked:
        from moodplayer import __version__

        print(f"moodplayer {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    debug: bool = typer.Option(
        False,
        "--debug",
        help="Show what went wrong in Python's words (tracebacks, decoders' output); as MOODPLAYER_DEBUG=1.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print moodplayer's version and exit."
    ),
) -> None:
    """The options every command takes (the app's help is the Typer object's)."""
    if debug:
        from moodplayer.ui.console import show_log_records

        os.environ["MOODPLAYER_DEBUG"] = "1"  # worker processes inherit it
        show_log_records(debug=True)


def expand_typed_paths(commands: typer.Typer) -> None:
    """Give every command the paths it takes with ``~`` and ``$VARIABLES`` expanded, as a shell would have.

    A shell leaves them be in quotes (``"~/Music/My Mix"``) and after ``=``
    (``--out=~/m.safetensors``); a user expects them expanded all the same.
    Run once, after every command module has registered its commands.
    """
    for info in commands.registered_commands:
        info.callback = _with_paths_expanded(info.callback)
    for group in commands.registered_groups:
        if group.typer_instance is not None:
            expand_typed_paths(group.typer_instance)


def _with_paths_expanded(command):
    @functools.wraps(command)  # Typer reads the parameters from the command itself, through the wrapper
    def run(**params):
        return command(**{name: _expanded(value) for name, value in params.items()})

    return run


def _expanded(value):
    from moodplayer.paths import typed_path

    if isinstance(value, Path):
        return Path(typed_path(str(value)))
    if isinstance(value, list | tuple):
        return type(value)(_expanded(item) for item in value)
    return value


def option_value_name(option, ctx) -> str | None:
    """What an option's value is called in help: nothing for a flag, its choices, else PATH, INTEGER, FLOAT or TEXT.

    Typer's own help shows Python's types (``<bool>`` for a flag,
    ``<list[Path]>``); these are the names command-line tools use.
    """
    if option.is_flag or option.count:
        return None
    if option.metavar is not None:
        return option.metavar
    described = option.type_descriptor
    if described.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in described.choices) + "]"
    kind = get_args(described.annotation)[0] if described.is_list else described.annotation
    if described.is_path or (isinstance(kind, type) and issubclass(kind, Path)):
        return "PATH"
    return {int: "INTEGER", float: "FLOAT"}.get(kind, "TEXT")


def argument_usage(argument) -> str:
    """An argument in a usage line: ``FILES...`` when required, ``[DATA_DIR]`` when not (Typer writes ``{files}``)."""
    name = argument.display_name_raw
    name = name if argument.required else f"[{name}]"
    return name + ("..." if argument.nargs != 1 else "")


# Typer reads these when it writes help; where a Typer version has no such methods, setting them changes nothing.
for owner, attribute, replacement in (
    (TyperOption, "display_type_rich", option_value_name),
    (TyperArgument, "display_name_raw", property(lambda argument: argument.metavar or argument.name.upper())),
    (TyperArgument, "display_type_rich", lambda argument, ctx: None),  # its name says what it is
    (TyperArgument, "_usage_display_name", argument_usage),
):
    setattr(owner, attribute, replacement)
