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


def test_every_failing_check_says_what_to_do_and_the_report_fits_80_columns(isolated_home, tmp_path):
    """No libvlc, no sound server (so no microphone), no ffmpeg on PATH, a damaged database."""
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "moodplayer.db").write_bytes(b"garbage" * 500)
    broken = {
        "PYTHON_VLC_LIB_PATH": "/nonexistent/libvlc.so",
        "PULSE_SERVER": f"unix:{tmp_path / 'no-server'}",
        "PATH": str(tmp_path),
    }
    found = checks(run_cli("doctor", "--json", env=broken))
    failed = {name: c["fix"] for name, c in found.items() if not c["ok"]}
    assert {"libvlc", "database", "ffmpeg"} <= set(failed) and found["model"]["ok"]
    assert "libvlc5" in failed["libvlc"] and "apt-get install ffmpeg" in failed["ffmpeg"]
    assert "move it aside" in failed["database"]
    if "microphone" in failed:  # a machine with a sound card still has its microphone
        assert failed["microphone"].startswith("plug in a microphone")
    result = run_cli("doctor", env={**broken, "COLUMNS": "80"})
    assert result.returncode == 1 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    rows = [i for i, line in enumerate(lines) if line[:1] in "✓✗"] + [len(lines)]
    for start, end in zip(rows, rows[1:]):  # each failed check, then its fix under it
        said = " ".join(line.strip() for line in lines[start:end])
        assert ("fix: " in said) == lines[start].startswith("✗"), said
    assert "…" not in result.stdout  # the database's long path folds, never cut
