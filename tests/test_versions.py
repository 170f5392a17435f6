"""Model versions with real model files: pointer, rollback, export, damage and interrupted saves."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from conftest import run_cli

from moodplayer.errors import ModelError
from moodplayer.paths import default_model_path
from moodplayer.voice import model_versions as versions
from moodplayer.voice.classifier import Classifier
from moodplayer.voice.model import load_model


@pytest.fixture(scope="module")
def shipped():
    """The shipped model's weights and metadata, to store copies of as versions."""
    net, metadata = load_model(default_model_path())
    return net.state_dict(), {k: v for k, v in metadata.items() if k not in ("format", "weights_sha256")}


def new_version(shipped, parent="shipped") -> str:
    state, metadata = shipped
    return versions.save(
        state, metadata, kind="personal", parent=parent, scores={"personal_before": 0.5, "personal_after": 0.6}
    )


def test_without_versions_the_shipped_model_is_in_force():
    assert versions.active_id() == "shipped"
    assert versions.active_model_path() == default_model_path()
    assert [v.id for v in versions.all_versions()] == ["shipped"]


def test_use_and_rollback_move_the_pointer_and_the_classifier_follows(shipped):
    first, second = new_version(shipped), new_version(shipped, parent="v1")
    assert (first, second) == ("v1", "v2")
    assert versions.active_id() == "shipped"  # saving a version does not put it in force
    versions.use("v1")
    versions.use("v2")
    assert Classifier.load().metadata["version"]["id"] == "v2"
    assert versions.rollback() == ("v2", "v1")
    assert Classifier.load().metadata["version"]["id"] == "v1"
    assert versions.rollback() == ("v1", "shipped")
    assert "version" not in Classifier.load().metadata
    with pytest.raises(ModelError, match="nothing to roll back to"):
        versions.rollback()


def test_a_truncated_active_file_falls_back_to_the_previous_good_version_with_a_warning(shipped, caplog):
    new_version(shipped)
    new_version(shipped)
    versions.use("v1")
    versions.use("v2")
    path = versions.weights_path("v2")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert versions.active_model_path() == versions.weights_path("v1")
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith("model version v2 is unusable (model file ")
    assert warning.endswith(
        "v2.safetensors is damaged or was changed (checksum mismatch); retrain or restore it); using v1 instead"
    )
    assert Classifier.load().metadata["version"]["id"] == "v1"


def test_garbage_in_every_version_file_falls_back_to_the_shipped_model(shipped, caplog):
    new_version(shipped)
    versions.use("v1")
    versions.weights_path("v1").write_bytes(b"\x00garbage" * 100)
    assert versions.active_model_path() == default_model_path()
    assert (
        caplog.records[-1].getMessage().endswith("(checksum mismatch); retrain or restore it); using shipped instead")
    )
    listed = {v.id: v.problem for v in versions.all_versions()}
    assert listed["shipped"] is None and "checksum mismatch" in listed["v1"]
    with pytest.raises(ModelError, match="v1 cannot be used"):
        versions.use("v1")


def test_an_interrupted_save_leaves_the_previous_model_in_force(shipped):
    """A crash can stop a save at any write: temp file, weights without sidecar, pair without pointer change."""
    new_version(shipped)
    versions.use("v1")
    folder = versions.models_dir()
    (folder / ".v2.safetensors.k3j4.tmp").write_bytes(b"half a model")  # killed mid-write
    blob = versions.weights_path("v1").read_bytes()
    (folder / "v2.safetensors").write_bytes(blob)  # killed between the weights and the sidecar
    assert versions.active_model_path() == versions.weights_path("v1")
    listed = {v.id: v.problem for v in versions.all_versions()}
    assert set(listed) == {"shipped", "v1", "v2"} and "metadata" in listed["v2"] and "missing" in listed["v2"]
    assert new_version(shipped) == "v3"  # the broken ID is not reused
    assert versions.active_id() == "v1"  # the pair was completed, the pointer not yet changed


def test_a_damaged_pointer_means_the_shipped_model_with_a_warning(shipped, caplog):
    new_version(shipped)
    versions.use("v1")
    (versions.models_dir() / versions.POINTER).write_text('{"active": "../../etc/passwd", "history": []}')
    assert versions.active_model_path() == default_model_path()
    assert "active.json is damaged" in caplog.text


def test_export_writes_a_loadable_pair_and_refuses_damaged_versions(shipped, tmp_path):
    new_version(shipped)
    target = versions.export("v1", tmp_path / "mine.safetensors")
    net, metadata = load_model(target)
    assert metadata["version"]["id"] == "v1"
    with pytest.raises(ModelError, match="export to a .safetensors file"):
        versions.export("v1", tmp_path / "mine.bin")
    versions.weights_path("v1").write_bytes(b"junk")
    with pytest.raises(ModelError, match="cannot be exported"):
        versions.export("v1", tmp_path / "again.safetensors")
    with pytest.raises(ModelError, match="no model version 'v9'"):
        versions.export("v9", tmp_path / "nine.safetensors")


def test_model_commands_list_use_rollback_export_and_never_touch_the_shipped_model(shipped, tmp_path):
    shipped_sha = hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    versions.export("shipped", tmp_path / "trained.safetensors")  # stands for a `train --out` result

    used = run_cli("model", "use", "~/trained.safetensors", env={"HOME": str(tmp_path)})  # a quoted ~ too
    assert used.returncode == 0, used.stderr
    assert "added v1" in used.stderr and "now using model v1" in used.stderr
    rows = json.loads(run_cli("model", "list", "--json").stdout)
    assert [(r["id"], r["active"], r["kind"]) for r in rows] == [
        ("shipped", False, "shipped"),
        ("v1", True, "imported"),
    ]
    table = run_cli("model", "list", env={"COLUMNS": "80"}).stdout.splitlines()
    assert all(len(line) <= 80 for line in table) and len(table) == 3  # a header and one line per version
    assert re.match(r" \*  v1 +imported +\d{4}-\d\d-\d\d \d\d:\d\d ", table[2]), table

    back = run_cli("model", "rollback")
    assert back.returncode == 0 and "rolled back from v1 to shipped" in back.stderr
    exported = run_cli("model", "export", "v1", str(tmp_path / "out.safetensors"))
    assert exported.returncode == 0 and str(tmp_path) not in (tmp_path / "out.json").read_text()
    unknown = run_cli("model", "use", "v7")
    assert (
        unknown.returncode == 1
        and unknown.stderr.strip() == "error: no model version 'v7' (see: moodplayer model list)"
    )
    assert hashlib.sha256(default_model_path().read_bytes()).hexdigest() == shipped_sha


SAVE_AND_USE_FOREVER = """
import sys
from moodplayer.voice import model_versions as versions
from moodplayer.voice.model import load_model
from moodplayer.paths import default_model_path

net, metadata = load_model(default_model_path())
metadata = {k: v for k, v in metadata.items() if k not in ("format", "weights_sha256")}
while True:
    versions.use(versions.save(net.state_dict(), metadata, kind="personal", parent=versions.active_id()))
    print(versions.active_id(), flush=True)
"""


def test_a_process_killed_while_saving_versions_leaves_a_usable_model_in_force(isolated_home, caplog):
    """SIGKILL at an arbitrary point of save → use, repeated: the model in force always loads, without a warning."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", SAVE_AND_USE_FOREVER], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "v1"
    proc.stdout.readline()  # a second save done; the kill lands somewhere in a later one
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    active = versions.active_id()
    assert versions.active_model_path() == versions.weights_path(active)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert Classifier.load().metadata["version"]["id"] == active
