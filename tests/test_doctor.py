"""``moodplayer doctor``: each check really probes its part, and says how to fix a failure."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def checks(result) -> dict:
    return {c["name"]: c for c in json.loads(result.stdout)}


def test_the_model_database_and_libvlc_pass_here():
    result = run_cli("doctor", "--json")
    found = checks(result)
    assert found["libvlc"]["ok"] and "libvlc 3" in found["libvlc"]["detail"]
    assert found["model"]["ok"] and "parameters" in found["model"]["detail"]
    assert found["database"]["ok"]
    assert result.returncode == (0 if all(c["ok"] for c in found.values()) else 1)


def test_no_libvlc_fails_with_the_packages_to_install():
    result = run_cli("doctor", "--json", env={"PYTHON_VLC_LIB_PATH": "/nonexistent/libvlc.so"})
    found = checks(result)  # stdout is still pure JSON
    assert result.returncode == 1
    assert not found["libvlc"]["ok"] and "libvlc5" in found["libvlc"]["fix"]


def test_a_damaged_database_fails_its_check_and_is_left_alone(isolated_home):
    isolated_home.mkdir(parents=True, exist_ok=True)
    db = isolated_home / "moodplayer.db"
    db.write_bytes(b"garbage" * 500)
    result = run_cli("doctor", "--json")
    assert result.returncode == 1
    assert not checks(result)["database"]["ok"]
    assert db.read_bytes() == b"garbage" * 500


def test_the_table_names_each_check():
    result = run_cli("doctor")
    for name in ("libvlc", "microphone", "model", "database", "ffmpeg"):
        assert name in result.stdout
    assert "Traceback" not in result.stderr
