"""Help at 80 columns: every command's, with the names tools use for values (no ``<bool>``, no ``{files}``)."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from moodplayer.cli import app


def command_paths(group=None, prefix=()) -> list[tuple[str, ...]]:
    """Every command and command group, as the words that name it."""
    group = group or typer.main.get_command(app)
    paths = [prefix]
    for name, command in getattr(group, "commands", {}).items():
        paths += command_paths(command, (*prefix, name))
    return paths


@pytest.mark.parametrize("words", command_paths(), ids=lambda words: " ".join(words) or "moodplayer")
def test_help_fits_80_columns_without_type_placeholders(words):
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"}, prog_name="moodplayer")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), result.output
    assert not re.search(r"<\w[\w\[\], ]*>|\{\w+\}", result.output), result.output
    assert "Usage: moodplayer" in result.output
