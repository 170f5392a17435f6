"""``moodplayer model …``: the model versions (:mod:`moodplayer.voice.model_versions`):
list them, switch, roll back, export."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import JSON_HELP, markup_safe, say

model_app = typer.Typer(help="Model versions: list them, switch, roll back, export.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("list")
def model_list(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Every model version: which is in force, kind, date, parent, scores, and whether its file is intact."""
    from rich.table import Table

    from moodplayer.ui.console import out
    from moodplayer.ui.views import local_time
    from moodplayer.voice import model_versions as versions

    active = versions.active_id()
    rows = [_version_row(v, active) for v in versions.all_versions()]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("", "version", "kind", "created", "parent", "scores", "file", box=None, header_style="bold underline")
    for row in rows:
        table.add_row(
            "*" if row["active"] else "",
            row["id"],
            markup_safe(row["kind"]),
            local_time(row["created"]) if row["created"] else "",
            markup_safe(row["parent"]),
            _scores_text(row["scores"]),
            markup_safe(row["problem"] or "ok"),
        )
    out.print(table)


def _version_row(version, active: str) -> dict:
    info = version.info
    scores = dict(info.get("scores", {}))
    if "training" in version.metadata and info.get("kind") != "personal":  # a personal one inherits its base's
        scores.setdefault("validation_uar", version.metadata["training"].get("validation_uar"))
    return {
        "id": version.id,
        "active": version.id == active,
        "kind": info.get("kind", "?"),
        "created": info.get("created") or version.metadata.get("created", ""),
        "parent": info.get("parent"),
        "scores": scores,
        "problem": version.problem,
        "path": str(version.path),
    }


def _scores_text(scores: dict) -> str:
    parts = []
    if "personal_before" in scores:
        parts.append(f"your clips {scores['personal_before']:.0%} → {scores['personal_after']:.0%}")
    if scores.get("validation_uar") is not None:
        parts.append(f"validation UAR {scores['validation_uar']:.0%}")
    return "; ".join(parts)


@model_app.command("use")
def model_use(
    version: str = typer.Argument(
        ..., help="A version from `moodplayer model list`, or a model file to add as a new version."
    ),
) -> None:
    """Put a model version in force (a .safetensors file is first added as a new version)."""
    from moodplayer.paths import typed_path
    from moodplayer.voice import model_versions as versions

    if version.endswith(".safetensors"):
        version = versions.import_file(Path(typed_path(version)))
        say(f"added {version}")
    versions.use(version)
    say(f"now using model {version}")


@model_app.command("rollback")
def model_rollback() -> None:
    """Go back to the model version that was in force before this one."""
    from moodplayer.voice import model_versions as versions

    old, new = versions.rollback()
    say(f"rolled back from {old} to {new}")


@model_app.command("export")
def model_export(
    version: str = typer.Argument(..., help="A version from `moodplayer model list`."),
    target: Path = typer.Argument(..., help="The .safetensors file to write (its .json goes next to it)."),
) -> None:
    """Copy a model version to a file, for use elsewhere (`--model FILE`)."""
    from moodplayer.voice import model_versions as versions

    say(f"exported {version} to {versions.export(version, target)}")
