"""The music-mood model: its file, what `library scan` stores from it, listing, autoplaylists, training, scoring."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodplayer import demo, paths
from moodplayer.errors import ModelError
from moodplayer.music import mood_model
from moodplayer.music.autoplaylists import autoplaylists
from moodplayer.music.library import Library
from moodplayer.music.mood_features import FEATURES_VERSION, HOP, N_FFT, RATE, extract, feature_names
from moodplayer.music.scan import load_excerpt, scan
from tests.conftest import REPO, run_cli

SHIPPED = paths.shipped_asset("models/music-mood.safetensors")
MUSIC_4Q = Path(os.environ.get("MOODPLAYER_MUSIC_4Q", REPO.parent / "shared" / "data" / "music-4q"))
SPECS = {spec["title"]: spec for spec in demo.load_definitions()["tracks"]}


def piece(path: Path, title: str, gain: float = 1.0, noise: float = 0.0, artist: str = "Tester") -> Path:
    """12 s of a demo piece at ``gain``, with ``noise`` mixed in and clipped (a distorted, aggressive take), as FLAC."""
    rng = np.random.default_rng(len(title))
    samples = demo.synthesise(SPECS[title])[: 12 * demo.RATE].astype(np.float64)
    if noise:
        samples = np.clip(3 * samples + noise * rng.standard_normal(samples.size), -1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (gain * samples).astype(np.float32), demo.RATE)
    from mutagen.flac import FLAC

    tags = FLAC(path)
    tags.update(title=path.stem, artist=artist, album="Varied")
    tags.save()
    return path


#: Demo pieces rendered as slow, minor and quiet, or fast, loud and noisy, and the takes in between.
QUIET = [("Grey Window", 0.08), ("Letters Unsent", 0.1), ("Slow Clouds", 0.1), ("Still Water", 0.12)]
LOUD = [("Red Engine", 0.6), ("Breaking Point", 0.5), ("Footsteps Behind", 0.4)]


@pytest.fixture
def album(tmp_path) -> Path:
    """A varied album: quiet slow pieces, loud distorted ones, and the demo's happy and neutral pieces as made."""
    root = tmp_path / "Varied"
    for n, (title, gain) in enumerate(QUIET, start=1):
        piece(root / f"{n:02d} quiet {title}.flac", title, gain=gain)
    for n, (title, noise) in enumerate(LOUD, start=len(QUIET) + 1):
        piece(root / f"{n:02d} loud {title}.flac", title, noise=noise)
    for n, title in enumerate(("Sunny Steps", "Waiting Room"), start=len(QUIET) + len(LOUD) + 1):
        piece(root / f"{n:02d} {title}.flac", title)
    return root


def ok(*args):
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return result


def test_the_shipped_model_is_verified_and_says_how_it_was_trained_and_scored():
    model = mood_model.load(SHIPPED)
    assert SHIPPED.stat().st_size + SHIPPED.with_suffix(".json").stat().st_size <= 5 * 1024 * 1024
    assert model.version.startswith(FEATURES_VERSION + "+") and model.weights.shape == (4, len(feature_names()))
    training, evaluation = model.metadata["training"], model.metadata["evaluation"]
    assert training["data"] == "music-4q" and training["clips"] == len(training["files"]) > 500
    assert evaluation["folds"].startswith("GroupKFold(5) by artist")
    for recipe in ("model", "reference", "formula"):
        assert len(evaluation[recipe]["per_fold"]) == 5
    assert evaluation["model"]["quadrant"] > evaluation["formula"]["quadrant"]


def test_the_spectral_shape_is_librosas_centroid_bandwidth_and_rolloff(tmp_path):
    import librosa

    samples = load_excerpt(str(piece(tmp_path / "a.flac", "Red Engine", noise=0.3)), None)
    magnitude = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP))
    named = dict(zip(feature_names(), extract(samples).vector))
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=RATE)[0]
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, sr=RATE)[0]
    rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=RATE)[0]
    assert named["centroid_mean"] == centroid.mean() and named["centroid_std"] == centroid.std()
    shape = [named[f"shape_{i}"] for i in (1, 2, 3, 4)]
    assert shape == [bandwidth.mean(), bandwidth.std(), rolloff.mean(), rolloff.std()]
    assert [named["shape_13"], named["shape_14"]] == list(np.percentile(centroid, [10, 90]))


def test_a_damaged_or_foreign_model_is_refused_in_one_line(tmp_path):
    damaged = paths.trained_music_model_path()
    damaged.parent.mkdir(parents=True)
    shutil.copy(SHIPPED.with_suffix(".json"), damaged.with_suffix(".json"))
    blob = bytearray(SHIPPED.read_bytes())
    blob[-100] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    (tmp_path / "music").mkdir()
    result = run_cli("library", "scan", str(tmp_path / "music"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: model file {damaged} is damaged or was changed (checksum mismatch); retrain or restore it"
    ]

    metadata = json.loads(SHIPPED.with_suffix(".json").read_text())
    metadata["features"]["version"] = "music-mood-features-0"
    damaged.write_bytes(SHIPPED.read_bytes())
    damaged.with_suffix(".json").write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match="trained on features 'music-mood-features-0'.*retrain it"):
        mood_model.load(damaged)


def test_scan_stores_the_models_point_and_a_new_model_analyses_again(album, tmp_path):
    model = mood_model.load(SHIPPED)
    with Library.open() as lib:
        report = scan(lib, [album], jobs=1)
        assert report.stored == len(QUIET) + len(LOUD) + 2
        rows = {Path(r["location"]).name: r for r in lib.db.query("SELECT * FROM tracks")}
        first = album / "01 quiet Grey Window.flac"
        analysis = extract(load_excerpt(str(first), sf.info(first).duration))
        [valence], [arousal] = model.predict(analysis.vector)
        stored = rows[first.name]
        assert (stored["valence"], stored["arousal"]) == (round(valence, 4), round(arousal, 4))
        assert stored["analysis_version"] == model.version
        assert scan(lib, [album], jobs=1).unchanged == report.stored

        other = tmp_path / "other.safetensors"
        arrays = {name: getattr(model, name) for name in mood_model.ARRAYS}
        mood_model.save(other, {**arrays, "bias": model.bias + 0.5}, model.metadata)
        again = scan(lib, [album], jobs=1, model=other)
        assert (again.stored, again.unchanged) == (report.stored, 0)
        versions = {r[0] for r in lib.db.execute("SELECT analysis_version FROM tracks")}
        assert versions == {mood_model.load(other).version} != {model.version}


def test_autoplaylists_give_each_track_to_its_nearest_mood_and_say_what_changed():
    points = {"lament": (-0.7, -0.45), "fury": (-0.625, 0.725), "bliss": (0.8, 0.5), "middle": (0.05, 0.0)}
    with Library.open() as lib:
        lib.store_scanned(
            [
                {"location": f"/music/{name}.ogg", "title": name, "valence": v, "arousal": a}
                for name, (v, a) in points.items()
            ]
        )
        filled = autoplaylists(lib)
        held = {mood: [t.title for t in lib.tracks(fill.playlist)] for mood, fill in filled.items()}
        # `middle` is within reach of sad, calm and disgust too, but nearest neutral; `fury` lies between
        # angry and fearful (0.16 apart), a near-tie: both have it.
        assert held == {
            "neutral": ["middle"],
            "calm": [],
            "happy": ["bliss"],
            "sad": ["lament"],
            "angry": ["fury"],
            "fearful": ["fury"],
            "disgust": [],
            "surprised": [],
        }
        assert [t.title for t in filled["sad"].added] == ["lament"] and filled["sad"].removed == []
        lib.set_mood_point("calm", 0.05, 0.0)  # this user's calm music is the plain kind
        lib.set_mood_point("neutral", 0.2, 0.6)
        again = autoplaylists(lib)
        assert [t.title for t in again["calm"].added] == ["middle"]
        assert [t.title for t in again["neutral"].removed] == ["middle"] and again["neutral"].tracks == 0
        assert again["sad"].added == again["sad"].removed == []


def test_a_varied_album_is_listed_with_its_moods_and_keeps_sad_and_angry_apart(album):
    ok("library", "scan", str(album), "--jobs", "1")
    listed = json.loads(ok("library", "list", "--json").stdout)
    assert len(listed) == len(QUIET) + len(LOUD) + 2
    fields = {"location", "artist", "title", "album", "duration", "valence", "arousal", "mood", "missing"}
    assert all(set(track) == fields and track["missing"] is False for track in listed)
    quiet = json.loads(ok("library", "list", "QUIET", "--json").stdout)
    loud = [t for t in listed if " loud " in t["title"]]
    assert sorted(t["title"] for t in quiet) == sorted(f"{n:02d} quiet {t}" for n, (t, _) in enumerate(QUIET, 1))
    assert all(t["arousal"] < 0 for t in quiet) and all(t["arousal"] > 0 for t in loud)
    assert sum(t["valence"] < 0 for t in loud) >= 2  # distortion and noise sound tense to the model
    angry_side = json.loads(ok("library", "list", "--mood", "angry", "--json").stdout)
    assert {t["title"] for t in listed if t["mood"] == "angry"} <= {t["title"] for t in angry_side}

    filled = json.loads(ok("library", "autoplaylists", "--json").stdout)
    assert sum(len(fill["added"]) for fill in filled.values()) >= len(listed)  # every track placed
    sad, angry = set(filled["sad"]["added"]), set(filled["angry"]["added"])
    assert len(sad & angry) <= 0.3 * max(1, min(len(sad), len(angry)))
    again = ok("library", "autoplaylists")
    assert "taken out" in again.stdout and "no playlist changed" in again.stderr

    (album / "01 quiet Grey Window.flac").unlink()
    ok("library", "missing")
    table = run_cli("library", "list", env={"COLUMNS": "80"}).stdout
    assert "✗ 01 quiet" in table and "Tester" in table
    assert max(len(line) for line in table.splitlines()) <= 80


def labelled_folder(root: Path) -> Path:
    """16 rendered clips in four quadrants by four artists, with a labels.csv as music-4q has it."""
    quadrants = {
        "Q1": [("Sunny Steps", 0.4), ("Bright Side", 0.4), ("Pop Up", 0.4), ("Plot Twist", 0.4)],
        "Q2": [("Red Engine", 0.5), ("Breaking Point", 0.5), ("Footsteps Behind", 0.5), ("Sour Note", 0.5)],
        "Q3": [("Grey Window", 0), ("Letters Unsent", 0), ("Dark Stairwell", 0), ("Off Taste", 0)],
        "Q4": [("Still Water", 0), ("Slow Clouds", 0), ("Waiting Room", 0), ("Plain Morning", 0)],
    }
    rows = []
    for quadrant, pieces in quadrants.items():
        for n, (title, noise) in enumerate(pieces):
            file = f"{quadrant}/{demo.slug(title)}.flac"
            piece(root / file, title, gain=0.6 if noise else 0.1, noise=noise, artist=f"Artist {n}")
            rows.append({"file": file, "quadrant": quadrant, "artist": f"Artist {n}", "title": title})
    with open(root / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "quadrant", "artist", "title"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_evaluate_scores_a_labelled_folder_beside_the_formula(tmp_path):
    folder = labelled_folder(tmp_path / "tiny")
    result = json.loads(ok("library", "evaluate", str(folder), "--baseline", "--json", "--jobs", "1").stdout)
    assert result["trained_on"] == 0 and result["skipped"] == []
    for scores in (result["scores"], result["baseline"]):
        confusion = np.array(scores["confusion"])
        assert scores["clips"] == confusion.sum() == 16
        assert scores["quadrant"] == pytest.approx(np.trace(confusion) / 16, abs=1e-4)
    assert result["scores"]["arousal"] >= 0.75  # loud and noisy against quiet: the model hears that
    table = ok("library", "evaluate", str(folder), "--baseline", "--jobs", "1").stdout
    assert "formula" in table and "Q3 sad" in table

    (folder / "labels.csv").write_text("file,quadrant\nQ1/sunny-steps.flac,Q5\n")
    bad = run_cli("library", "evaluate", str(folder))
    assert bad.returncode == 1 and "quadrant 'Q5' is not one of Q1, Q2, Q3, Q4" in bad.stderr


def test_train_writes_a_model_that_scan_then_uses(tmp_path):
    folder = labelled_folder(tmp_path / "tiny")
    trained = json.loads(ok("library", "train", str(folder), "--folds", "2", "--jobs", "1", "--json").stdout)
    assert trained["path"] == str(paths.trained_music_model_path())
    assert trained["training"]["clips"] == 16 and trained["training"]["artists"] == 4
    assert trained["evaluation"]["folds"].startswith("GroupKFold(2) by artist")
    model = mood_model.load(paths.trained_music_model_path())
    assert model.metadata["weights_sha256"] == trained["weights_sha256"]
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(folder / "Q1" / "pop-up.flac", one)
    ok("library", "scan", str(one))
    with Library.open() as lib:
        assert {r[0] for r in lib.db.execute("SELECT analysis_version FROM tracks")} == {model.version}


@pytest.fixture
def music_4q_sample(tmp_path) -> Path:
    """Six clips of each quadrant of the shared music-4q data, as a labelled folder of the same name."""
    if not (MUSIC_4Q / "labels.csv").is_file():
        pytest.skip(f"music-4q not found at {MUSIC_4Q}")
    with open(MUSIC_4Q / "labels.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    sample = [row for q in ("Q1", "Q2", "Q3", "Q4") for row in [r for r in rows if r["quadrant"] == q][:6]]
    folder = tmp_path / MUSIC_4Q.name
    for row in sample:
        (folder / row["file"]).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(MUSIC_4Q / row["file"], folder / row["file"])
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(sample)
    return folder


def test_evaluate_on_music_4q_says_the_model_trained_on_those_clips(music_4q_sample):
    result = json.loads(ok("library", "evaluate", str(music_4q_sample), "--baseline", "--json").stdout)
    assert result["trained_on"] == result["scores"]["clips"] == 24
    assert result["scores"]["quadrant"] > result["baseline"]["quadrant"]
    shown = ok("library", "evaluate", str(music_4q_sample))
    assert "trained on 24 of these clips" in shown.stderr


def test_a_labels_file_listing_a_missing_clip_says_so_in_the_singular(tmp_path):
    from moodplayer.music.mood_training import DataError, read_labels

    (tmp_path / "here.flac").write_bytes(b"")  # only its presence is checked here
    (tmp_path / "labels.csv").write_text("file,quadrant,artist\nhere.flac,Q1,A\ngone.flac,Q2,B\n")
    with pytest.raises(DataError, match=r"^1 clip listed in .* is not in .*, the first: gone\.flac$"):
        read_labels(tmp_path)
