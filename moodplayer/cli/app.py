"""The Typer application object that every command module registers on."""

import typer

app = typer.Typer(
    name="moodplayer",
    help="Speak for a few seconds; moodplayer hears the emotion in your voice and plays music that fits.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
