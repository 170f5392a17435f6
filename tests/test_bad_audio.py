"""Bad audio given to `detect`: each file is one clear line on stderr, never decoder chatter or a Python name."""

from __future__ import annotations

import os
import re
import struct

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli

RATE = 16_000


def make_bad_inputs(folder) -> dict:
    """Each bad input, made small, and what its line must say."""
    folder.mkdir()
    made = {}

    def add(name: str, expected: str):
        made[folder / name] = expected
        return folder / name

    add("empty.wav", r"is empty \(0 bytes\)").touch()
    sf.write(add("50ms.wav", r"lasts 0\.05 s, too short to hear a voice in"), np.full(800, 0.1, np.float32), RATE)
    add("notes.wav", "it is not audio, or it is damaged").write_text("shopping list: milk, eggs\n" * 20)
    add("notes.mp3", "it is not audio, or it is damaged").write_text("shopping list: milk, eggs\n" * 20)
    add("a folder.wav", "is a folder, not an audio file").mkdir()
    os.mkfifo(add("pipe.wav", r"is not a regular file \(a pipe or a device\)"))
    sf.write(
        add("silence.flac", "lasts 10:00; moodplayer hears recordings of up to 60 s"),
        np.zeros(600 * RATE, np.int16),
        RATE,
    )
    with open(add("zeros.wav", "it is not audio, or it is damaged"), "wb") as f:
        f.truncate(500 * 2**20)  # 500 MB of zeros, sparse: nothing written to disk
    # A header that claims 2 GB of samples in front of one second of hiss.
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, RATE, 2 * RATE, 2, 16)  # PCM, mono, 16 bit
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVEfmt " + fmt
    hiss = (np.random.default_rng(0).normal(0, 3000, RATE)).astype("<i2").tobytes()
    add("liar.wav", "no speech heard|longer than").write_bytes(header + b"data" + struct.pack("<I", 0xFFFFFF00) + hiss)
    return made


def test_each_bad_input_is_one_line_that_says_what_is_wrong(tmp_path):
    cases = make_bad_inputs(tmp_path / "bad")
    result = run_cli("detect", *map(str, cases), timeout=180)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(cases), result.stderr  # nothing else: no "Note: Illegal Audio-MPEG-Header"
    for (path, expected), line in zip(cases.items(), lines):
        assert line.startswith("error: ") and str(path) in line, line
        assert re.search(expected, line), line
        assert not re.search(r"\b[A-Z]\w+(Error|Exception)\b", line), line


def test_with_debug_the_decoders_own_words_are_shown(tmp_path):
    notes = tmp_path / "notes.mp3"
    notes.write_text("shopping list: milk, eggs\n" * 20)
    quiet, debugged = run_cli("detect", str(notes)), run_cli("--debug", "detect", str(notes))
    assert "Illegal Audio-MPEG-Header" not in quiet.stderr and "Error:" not in quiet.stderr
    assert "Illegal Audio-MPEG-Header" in debugged.stderr  # what libsndfile's mpg123 said, kept for --debug
    assert re.search(r"cannot read .*notes.mp3: \w+Error", debugged.stderr)  # and the exceptions, by name
    assert debugged.stderr.splitlines()[-1] == quiet.stderr.strip()


@pytest.mark.timeout(60)
def test_a_damaged_flac_is_one_line_before_the_model_is_loaded(tmp_path, monkeypatch, capsys):
    from moodplayer.cli import main
    from moodplayer.voice.classifier import Classifier

    whole = tmp_path / "whole.flac"
    sf.write(whole, np.random.default_rng(0).normal(0, 0.1, 3 * RATE).astype(np.float32), RATE)
    flac = whole.read_bytes()
    damaged, cut = tmp_path / "damaged.flac", tmp_path / "cut.flac"
    damaged.write_bytes(flac[:100] + bytes(len(flac) - 100))  # the header kept, every frame zeroed
    cut.write_bytes(flac[:60])  # cut inside its header
    monkeypatch.setattr(Classifier, "load", lambda *_: pytest.fail("the model was loaded for files that are not audio"))
    with pytest.raises(SystemExit) as exited:
        main(["detect", str(damaged), str(cut)])
    assert exited.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["error", "error"], lines
    assert str(damaged) in lines[0] and str(cut) in lines[1]
    assert not any(re.search(r"\b[A-Z]\w+(Error|Exception)\b", line) for line in lines), lines
