"""Corpus discovery: labels and speakers recovered from real and synthetic trees."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import MoodplayerError
from moodplayer.voice.datasets import discover, read_corpora, speakers


def _write(path, seconds=0.2):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)


def test_ravdess_tree_gives_every_clip_with_label_and_actor(ravdess):
    clips = discover(ravdess)
    assert len(clips) == 1200
    assert speakers(clips) == [f"ravdess-{i:02d}" for i in range(1, 21)]
    counts = Counter(c.label for c in clips)
    # RAVDESS has no strong-intensity neutral: 4 neutral clips per actor, 8 of each other emotion.
    assert counts == {e: (80 if e == "neutral" else 160) for e in EMOTIONS}
    first = clips[0]
    assert first.path.name == "03-01-01-01-01-01-01.flac"
    assert (first.label, first.speaker, first.corpus) == ("neutral", "ravdess-01", "ravdess")
    surprised = next(c for c in clips if c.path.name.startswith("03-01-08-02-02-02-12"))
    assert (surprised.label, surprised.speaker) == ("surprised", "ravdess-12")


def test_folder_per_label_keeps_unknown_labels_and_reads_speakers(tmp_path):
    for name in ("happy/spk1_a.wav", "happy/spk2_b.flac", "Sad/spk1_c.ogg", "excited/spk2_d.wav"):
        _write(tmp_path / name)
    (tmp_path / "happy" / "notes.txt").write_text("not audio")
    clips = discover(tmp_path, speaker_pattern=r"^(spk\d)_")
    assert [(c.path.name, c.label, c.speaker, c.corpus) for c in clips] == [
        ("spk1_c.ogg", "sad", "spk1", "folder"),
        ("spk2_d.wav", "excited", "spk2", "folder"),
        ("spk1_a.wav", "happy", "spk1", "folder"),
        ("spk2_b.flac", "happy", "spk2", "folder"),
    ]
    assert {c.speaker for c in discover(tmp_path)} == {"unknown"}


def test_empty_or_unrecognised_tree_is_one_clear_error(tmp_path):
    with pytest.raises(MoodplayerError, match="no labelled audio found"):
        discover(tmp_path)
    _write(tmp_path / "a" / "b" / "deep.wav")  # neither a corpus name nor root/<label>/file
    with pytest.raises(MoodplayerError, match="no labelled audio found"):
        discover(tmp_path)
    with pytest.raises(MoodplayerError, match="not a folder"):
        discover(tmp_path / "missing")
    with pytest.raises(MoodplayerError, match="not a valid regex"):
        discover(tmp_path, speaker_pattern="(")


@pytest.mark.parametrize(
    "files, expected",
    [
        (  # TESS: speaker prefix, "ps" is pleasant surprise; folders as the corpus ships them
            ["OAF_angry/OAF_back_angry.wav", "YAF_pleasant_surprised/YAF_youth_ps.wav", "OAF_Fear/OAF_bath_fear.wav"],
            [("fearful", "tess-OAF"), ("angry", "tess-OAF"), ("surprised", "tess-YAF")],
        ),
        (  # TESS copies whose emotions are renamed to the eight's words, one folder per label
            ["fearful/OAF_bath_fearful.flac", "surprised/YAF_youth_surprised.flac"],
            [("fearful", "tess-OAF"), ("surprised", "tess-YAF")],
        ),
        (  # CREMA-D: actor_sentence_emotion_intensity
            ["AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1091_TSI_NEU_XX.wav", "AudioWAV/1012_IEO_FEA_HI.wav"],
            [("angry", "crema-1001"), ("fearful", "crema-1012"), ("neutral", "crema-1091")],
        ),
        (  # SAVEE: both the flat (DC_a01) and the per-speaker folder (KL/sa03) layouts
            ["AudioData/DC_a01.wav", "AudioData/JE_su15.wav", "KL/sa03.wav", "KL/n30.wav"],
            [("angry", "savee-DC"), ("surprised", "savee-JE"), ("neutral", "savee-KL"), ("sad", "savee-KL")],
        ),
        (  # EmoDB: speaker, text, German emotion letter; boredom has no counterpart among the eight
            ["wav/03a01Fa.wav", "wav/16b10Wb.wav", "wav/08a02Lc.wav", "wav/11a04Ed.wav"],
            [("happy", "emodb-03"), ("boredom", "emodb-08"), ("disgust", "emodb-11"), ("angry", "emodb-16")],
        ),
    ],
)
def test_corpus_naming_conventions_map_onto_the_eight_labels(tmp_path, files, expected):
    for name in files:
        _write(tmp_path / name)
    clips = discover(tmp_path)
    assert [(c.label, c.speaker) for c in clips] == expected
    assert len({c.corpus for c in clips}) == 1


def test_several_corpora_under_one_root_are_read_together(tmp_path):
    for name in ("ravdess/Actor_07/03-01-04-02-01-01-07.wav", "tess/YAF_sad/YAF_bar_sad.wav", "emodb/wav/03a01Ta.wav"):
        _write(tmp_path / name)
    assert {(c.corpus, c.label, c.speaker) for c in discover(tmp_path)} == {
        ("ravdess", "sad", "ravdess-07"),
        ("tess", "sad", "tess-YAF"),
        ("emodb", "sad", "emodb-03"),
    }


def test_each_folder_is_a_corpus_named_by_its_reader_or_by_the_folder_where_two_would_share_a_name(tmp_path):
    for name in ("a/Actor_07/03-01-04-02-01-01-07.wav", "b/sad/YAF_bar_sad.flac", "c/happy/x.wav", "d/sad/y.wav"):
        _write(tmp_path / name)
    corpora = read_corpora([tmp_path / folder for folder in "abcd"])
    assert [(c.name, c.root.name, len(c.clips)) for c in corpora] == [
        ("ravdess", "a", 1),
        ("tess", "b", 1),
        ("folder:c", "c", 1),
        ("folder:d", "d", 1),
    ]
    assert [clip.corpus for c in corpora for clip in c.clips] == ["ravdess", "tess", "folder:c", "folder:d"]
