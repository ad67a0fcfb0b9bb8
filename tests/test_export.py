"""``sepgan export``: the best separator as ONNX gives Keras' outputs (onnxruntime), and its
JSON names the front-end, the shapes, the profile, the health and the evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_random_run

from sepgan_lib import cli, spectral
from sepgan_lib.config import make_config
from sepgan_lib.export import profile_of
from sepgan_lib.separate import load_run, open_twin
from sepgan_lib.shapes import unet_shapes

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A smoke-sized run folder: random weights, a health record and one evaluation."""
    config = make_config("smoke", {"seed": 3})
    run_dir = write_random_run(tmp_path_factory.mktemp("run"), config)
    health = {"ok": True, "songs": 2, "problems": []}
    (run_dir / "finished.json").write_text(json.dumps({"health": health, "best_epoch": 1}))
    (run_dir / "eval").mkdir()
    summary = {s: {"SDR": {"median": 1.5, "mean": 1.0}} for s in ("vocals", "accompaniment")}
    result = {"plan": "synthetic", "split": "test", "postfilter": "none", "summary": summary}
    (run_dir / "eval" / "synthetic-test.json").write_text(json.dumps({**result, "tracks": [{}]}))
    return run_dir


def test_onnx_model_gives_the_keras_outputs(run, tmp_path):
    out = tmp_path / "sep.onnx"
    assert cli.main(["export", str(run), "--out", str(out)]) == 0
    info = json.loads(out.with_suffix(".json").read_text())
    model, config = load_run(run)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    assert name == info["input"] == "mixture"
    rng = np.random.default_rng(1)
    for frames in (config.num_frames, 64):  # the training window and a longer one
        t_in = unet_shapes((256, frames), config.num_layers).input[1]
        batch = rng.random((2, info["input_bins"], t_in, 1)).astype(np.float32) * 3
        got = session.run(None, {name: batch})
        want = open_twin(model, config)(batch, training=False)
        assert len(got) == len(info["outputs"]) == 2
        for head, ours, theirs in zip(info["outputs"], got, want):
            theirs = np.asarray(theirs)
            assert ours.shape == theirs.shape, head
            assert np.max(np.abs(theirs)) > 0.01, f"{head}: a silent output proves nothing"
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())
    # the saved model itself, on its own window (TensorFlow picks other kernels for a fixed
    # shape: round-off of the order of 1e-5 of the largest output)
    batch = rng.random((1, *model.input_shape[1:])).astype(np.float32)
    for ours, theirs in zip(session.run(None, {name: batch}), model(batch, training=False)):
        theirs = np.asarray(theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


def test_the_json_says_what_a_runtime_needs(run, tmp_path):
    out = tmp_path / "model.onnx"
    cli.main(["export", str(run), "--out", str(out)])
    info = json.loads((tmp_path / "model.json").read_text())
    config = make_config("smoke")
    shapes = unet_shapes((256, config.num_frames), config.num_layers)
    assert (info["sample_rate"], info["n_fft"], info["hop"]) == (8192, 512, 256)
    assert info["bins"] == spectral.MODEL_BINS
    assert (info["input_bins"], info["input_frames"]) == shapes.input
    assert (info["output_bins"], info["output_frames"]) == shapes.output
    wide = unet_shapes((256, info["window_output_frames"]), config.num_layers)
    assert info["window_input_frames"] == wide.input[1]
    assert info["context_frames"] == wide.context[1]
    assert info["profile"] == "smoke" and info["seed"] == 3
    assert info["health"]["ok"] is True
    (evaluation,) = info["evaluation"]
    assert evaluation["vocals_SDR_median"] == 1.5 and evaluation["songs"] == 1


def test_profile_of_a_configuration():
    assert profile_of(make_config("cpu", {"seed": 5})) == "cpu"
    assert profile_of(make_config("cpu", {"base_filters": 3})) == "custom"


def test_a_folder_without_a_model_is_one_error_line(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path)]) == 2
    assert "not a finished run folder" in capsys.readouterr().err
