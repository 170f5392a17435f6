"""Model files: a faithful round trip, and one clear ModelError for every kind of damage."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from moodplayer.errors import ModelError
from moodplayer.voice.model import (
    BiLSTM,
    EmotionNet,
    ModelConfig,
    _conv_frames,
    _halve_frames,
    count_parameters,
    ensemble_of,
    load_model,
    log_prior,
    members_of,
    save_model,
    sidecar_path,
    typical_var,
)
from tests.conftest import run_cli

METADATA = {"labels": ["a", "b"], "features": {}, "model": ModelConfig(n_classes=2, channels=16, hidden=16).to_dict()}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    net = EmotionNet(ModelConfig.from_dict(METADATA["model"])).eval()
    path = tmp_path / "m.safetensors"
    save_model(path, net.state_dict(), METADATA)
    return path, net


def test_round_trip_gives_the_same_outputs_and_leaves_no_temp_files(saved):
    path, net = saved
    loaded, metadata = load_model(path)
    x = torch.randn(3, 120, 64)
    lengths = torch.tensor([120, 80, 33])
    with torch.inference_mode():
        assert torch.equal(net(x, lengths), loaded(x, lengths))
    assert metadata["labels"] == ["a", "b"] and len(metadata["weights_sha256"]) == 64
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.json", "m.safetensors"]


def test_padding_does_not_change_a_clip_s_logits(saved):
    _, net = saved
    x = torch.randn(1, 90, 64)
    padded = torch.cat([x, torch.zeros(1, 40, 64)], dim=1)
    with torch.inference_mode():
        assert torch.allclose(net(x), net(padded, torch.tensor([90])), atol=1e-5)


def test_padded_bilstm_equals_torch_s_packed_one_and_loads_its_weights():
    torch.manual_seed(2)
    packed_lstm = torch.nn.LSTM(8, 6, batch_first=True, bidirectional=True)
    ours = BiLSTM(8, 6)
    ours.load_state_dict(packed_lstm.state_dict())  # models saved before BiLSTM spell the names this way
    lengths = torch.tensor([12, 7, 3])
    x = torch.randn(3, 12, 8) * (torch.arange(12)[None, :, None] < lengths[:, None, None])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_lstm(packed)[0], batch_first=True)
    with torch.inference_mode():
        got = ours(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        assert torch.allclose(got[i, :n], expected[i, :n], atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("frames", [12, 13])
def test_halving_frames_is_max_pooling_bit_for_bit_in_values_and_gradients(dtype, frames):
    torch.manual_seed(3)
    h = torch.relu(torch.randint(-2, 3, (4, 5, frames)).to(dtype))  # few levels: many ties, many zeros
    weights = torch.randn(4, 5, (frames + 1) // 2).to(dtype)
    grads = []
    for pool in (_halve_frames, lambda x: torch.nn.functional.max_pool1d(x, 2, ceil_mode=True)):
        x = h.clone().requires_grad_()
        out = pool(x)
        (out * weights).sum().backward()
        grads.append((out.detach(), x.grad))
    (ours, our_grad), (expected, expected_grad) = grads
    assert ours.dtype == dtype and torch.equal(ours, expected)
    assert torch.equal(our_grad, expected_grad)


def test_training_s_frames_major_convolution_is_the_conv_itself_in_values_and_weight_gradients():
    torch.manual_seed(4)
    conv = torch.nn.Conv1d(7, 5, 3, padding=1, bias=False)
    x = torch.randn(3, 20, 7)  # (batch, frames, bands): the features' layout
    results = []
    for convolve in (_conv_frames, lambda c, h: c(h)):
        conv.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = convolve(conv, x.transpose(1, 2))
        out.float().square().sum().backward()
        results.append((out.detach().float(), conv.weight.grad.clone()))
    (ours, our_grad), (expected, expected_grad) = results
    assert ours.shape == (3, 5, 20) and torch.allclose(ours, expected, atol=1e-2)
    assert torch.allclose(our_grad, expected_grad, rtol=2e-2, atol=1e-2)


def test_default_net_is_small():
    assert count_parameters(EmotionNet()) <= 1_000_000


def test_an_ensemble_keeps_its_members_through_a_round_trip(tmp_path):
    torch.manual_seed(1)
    config = ModelConfig.from_dict(METADATA["model"])
    nets = [EmotionNet(config).eval(), EmotionNet(config).eval()]
    ensemble = ensemble_of(nets)
    x, lengths = torch.randn(2, 64, 64), torch.tensor([64, 40])
    path = tmp_path / "e.safetensors"
    save_model(path, ensemble.state_dict(), {**METADATA, "model": ensemble.config.to_dict()})
    loaded, metadata = load_model(path)
    with torch.inference_mode():
        for net, member in zip(nets, members_of(loaded), strict=True):
            assert torch.equal(net(x, lengths), member(x, lengths))
    assert metadata["model"]["members"] == 2 and count_parameters(loaded) == 2 * count_parameters(nets[0])
    assert ensemble_of(nets[:1]) is nets[0] and members_of(nets[0]) == [nets[0]]


def test_each_member_keeps_its_own_cold_start_through_a_round_trip_and_older_nets_have_none(tmp_path):
    config = ModelConfig.from_dict(METADATA["model"])
    own, typical = (
        EmotionNet(replace(config, typical_spread=(False,))),
        EmotionNet(replace(config, typical_spread=(True,))),
    )
    spread = torch.linspace(0.5, 2.0, config.n_inputs)
    typical.typical_var.copy_(spread)
    ensemble = ensemble_of([own, typical])
    path = tmp_path / "t.safetensors"
    save_model(path, ensemble.state_dict(), {**METADATA, "model": ensemble.config.to_dict()})
    loaded, metadata = load_model(path)
    assert metadata["model"]["typical_spread"] == [False, True]
    first, second = members_of(loaded)
    assert typical_var(first) is None and torch.equal(torch.from_numpy(typical_var(second)).float(), spread)
    assert typical_var(EmotionNet(config)) is None  # metadata from before the key: each clip by its own spread


def test_the_training_prior_survives_a_round_trip_and_older_models_have_none(tmp_path):
    config = replace(ModelConfig.from_dict(METADATA["model"]), class_prior=(0.25, 0.75))
    model = ensemble_of([EmotionNet(config), EmotionNet(config)])
    path = tmp_path / "p.safetensors"
    save_model(path, model.state_dict(), {**METADATA, "model": model.config.to_dict()})
    loaded, _ = load_model(path)
    assert loaded.config.class_prior == (0.25, 0.75)
    assert log_prior(loaded) == pytest.approx([math.log(0.25), math.log(0.75)])
    older = {k: v for k, v in METADATA["model"].items() if k != "class_prior"}
    assert list(log_prior(EmotionNet(ModelConfig.from_dict(older)))) == [0.0, 0.0]


def _truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def _garbage(path):
    path.write_bytes(b"\x00garbage" * 100)


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def _no_sidecar(path):
    sidecar_path(path).unlink()


def _other_format(path):
    side = sidecar_path(path)
    side.write_text(json.dumps({**json.loads(side.read_text()), "format": "something-else/9"}))


def _broken_json(path):
    sidecar_path(path).write_text("{not json")


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate, "checksum"),
        (_garbage, "checksum"),
        (_flip_byte, "checksum"),
        (_no_sidecar, "metadata .* is missing"),
        (_other_format, "not a model this version can use"),
        (_broken_json, "damaged"),
    ],
)
def test_damaged_model_raises_model_error(saved, damage, message):
    path, _ = saved
    damage(path)
    with pytest.raises(ModelError, match=message):
        load_model(path)


def test_missing_file_raises_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nothing.safetensors")


def test_weights_not_matching_metadata_raise_model_error(saved, caplog):
    path, _ = saved
    side = sidecar_path(path)
    meta = json.loads(side.read_text())
    meta["model"]["hidden"] = 32  # checksum still fine, architecture no longer matches
    side.write_text(json.dumps(meta))
    with (
        caplog.at_level(logging.DEBUG, logger="moodplayer"),
        pytest.raises(ModelError, match="does not match") as raised,
    ):
        load_model(path)
    assert not re.search(r"\b[A-Z]\w+(Error|Exception)\b", str(raised.value))  # the user's words, one line
    assert "RuntimeError" in caplog.text  # Python's name kept for --debug, which shows debug records


def test_detect_with_damaged_model_exits_with_one_line(tmp_path, ravdess):
    pytest.importorskip("moodplayer.ui.views")  # detect renders through the lead's ui module
    model = tmp_path / "damaged.safetensors"
    model.write_bytes(b"not a model at all")
    model.with_suffix(".json").write_text("{}")
    clip = ravdess / "Actor_01" / "03-01-05-02-01-01-01.flac"
    result = run_cli("detect", "--model", str(model), str(clip))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "damaged.safetensors" in lines[0] and "model" in lines[0]


def test_metadata_reads_what_it_writes_keeps_keys_it_does_not_name_and_reads_older_sidecars(saved):
    from moodplayer.voice.features import EnrolmentShift, FeatureConfig
    from moodplayer.voice.model import ModelMetadata

    path, net = saved
    shift = EnrolmentShift(np.array([0.5, -1.0]), np.array([0.1, 0.2]))
    metadata = ModelMetadata(("a", "b"), FeatureConfig(), net.config, temperature=1.5, enrolment_shift=shift)
    document = {**metadata.to_dict(), "version": {"id": "v2"}}
    save_model(path, net.state_dict(), document)
    _, written = load_model(path)
    again = ModelMetadata.from_dict(written)
    assert again.extra == {"version": {"id": "v2"}, "format": written["format"]} and again.temperature == 1.5
    assert again.weights_sha256 == written["weights_sha256"] and again.model == net.config
    np.testing.assert_array_equal(again.enrolment_shift.mean, shift.mean)
    assert json.loads(json.dumps(again.to_dict())) == written  # the same document, once written as JSON
    older = ModelMetadata.from_dict({**METADATA, "data": {"root": str(path.parent), "corpora": ["ravdess"]}})
    assert older.data_roots == [path.parent] and older.temperature is None and older.features.pitch is False
