"""CONTRIBUTING's table of exit statuses, walked: each row's status comes from a real run, said as the row says."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from vmic import vmic  # noqa: F401  (the fixture)

from tests.conftest import REPO, run_cli

CRASHING = """
import sys
from moodplayer.cli import app, main

@app.command("crash-test")
def crash_test():
    {}.pop("a key that is not there")

main(sys.argv[1:])
"""

RECORDING = """
from moodplayer.cli import app, main
from moodplayer.voice.capture import record_voice

@app.command("record-test")
def record_test():
    said = False

    def first_block(samples, rate):  # the microphone is open and the signals are ours from here
        nonlocal said
        if not said:
            print("recording", flush=True)
            said = True

    record_voice(30.0, on_block=first_block, stop_on_silence=False)

main(["record-test"])
"""


def table() -> dict[int, str]:
    """The exit statuses CONTRIBUTING lists, with what each means."""
    text = (REPO / "CONTRIBUTING.md").read_text()
    section = text.split("\n## Exit statuses\n", 1)[1].split("\n## ", 1)[0]
    return {int(code): meaning for code, meaning in re.findall(r"^\| `(\d+)` \| (.+) \|$", section, re.M)}


def run_script(script: str, *args: str, env: dict | None = None):
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=full_env)


def done(tmp_path) -> str:
    result = run_cli("--version")
    assert result.returncode == 0 and re.fullmatch(r"moodplayer \d+\.\d+\.\d+\n", result.stdout)
    return result.stderr


def user_error(tmp_path) -> str:
    result = run_cli("detect", str(tmp_path / "memo.wav"))
    assert result.returncode == 1
    return result.stderr


def usage(tmp_path) -> str:
    result = run_cli("history", "--limit", "0")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.rstrip().endswith("(see: moodplayer history --help)")
    return result.stderr


def bug(tmp_path) -> str:
    result = run_script(CRASHING, "crash-test")
    assert result.returncode == 70
    (report,) = (Path(os.environ["MOODPLAYER_HOME"]) / "reports").glob("internal-error-*.txt")
    assert str(report) in result.stderr
    written = report.read_text()
    assert written.startswith("moodplayer ") and "command: moodplayer crash-test\n" in written
    assert "Traceback" in written and "KeyError" in written
    debugged = run_script(CRASHING, "--debug", "crash-test")
    assert debugged.returncode == 70 and "Traceback" in debugged.stderr and "KeyError" in debugged.stderr
    return result.stderr


def stopped(signum: int):
    def run(tmp_path) -> str:
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-c", RECORDING], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline() == "recording\n"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 128 + signum
        return stderr

    return run


SCENARIOS = {0: done, 1: user_error, 2: usage, 70: bug, 130: stopped(signal.SIGINT), 143: stopped(signal.SIGTERM)}


def test_the_table_lists_each_status_moodplayer_ends_with():
    assert set(table()) == set(SCENARIOS)


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_each_status_comes_as_the_table_says(code, tmp_path, request):
    if code in (130, 143):
        request.getfixturevalue("vmic")  # stopped while recording from the virtual microphone
    meaning = table()[code]
    stderr = SCENARIOS[code](tmp_path)
    lines = stderr.splitlines()
    if code == 0 or code == 143:
        assert stderr == ""  # done; or stopped from outside, which needs no telling
        return
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert not re.search(r"\b[A-Z]\w+(Error|Exception)\b|Traceback", stderr)  # Python's words only with --debug
    if code == 130:
        assert "Ctrl-C" in meaning and lines == ["error: interrupted"]
    if code == 70:
        assert "report" in meaning and "--debug" in meaning
