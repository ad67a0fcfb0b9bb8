"""The health check: dead heads and estimates below the mixture floor are caught, and a
failed run is refused by evaluate, compare and the command line."""

import json

import keras
import numpy as np
import pytest

from sepgan_lib import health
from sepgan_lib.cli import main
from sepgan_lib.compare import compare_results
from sepgan_lib.config import make_config
from sepgan_lib.evaluate import evaluate_run
from sepgan_lib.health import UnhealthyRunError, check_estimates, check_separator
from sepgan_lib.plans import load_plan
from sepgan_lib.shapes import unet_shapes
from sepgan_lib.unet import build_separator

SMOKE = make_config("smoke")


@pytest.fixture(scope="module")
def songs():
    """Two validation songs of the synthetic plan (real-looking music, a few seconds)."""
    return health.validation_songs(load_plan("synthetic", None, SMOKE), SMOKE)


def test_oracle_estimates_are_healthy(songs):
    rng = np.random.default_rng(0)

    def oracle(mixture):
        song = next(audio for _, audio in songs if audio["mixture"] is mixture)
        noise = 0.01 * rng.standard_normal(len(mixture)).astype(np.float32)
        return {"vocals": song["vocals"] + noise, "accompaniment": song["accompaniment"] + noise}

    report = check_estimates(oracle, songs)
    assert report["ok"] is True and report["problems"] == [] and report["songs"] == len(songs)
    assert (
        report["outputs"]["vocals"]["median_SDR"] > report["outputs"]["vocals"]["median_floor_SDR"]
    )


def test_swapped_estimates_fall_below_the_floor(songs):
    def swapped(mixture):
        song = next(audio for _, audio in songs if audio["mixture"] is mixture)
        return {"vocals": song["accompaniment"], "accompaniment": song["vocals"]}

    report = check_estimates(swapped, songs)
    assert report["ok"] is False
    assert any("vocals estimate scores below the mixture" in p for p in report["problems"])
    assert report["remedy"]


def test_a_dead_vocals_head_is_detected(songs):
    # seeded: an unseeded random separator can start with a silent accompaniment head too
    keras.utils.set_random_seed(0)
    shapes = unet_shapes((256, SMOKE.num_frames), SMOKE.num_layers)
    model = build_separator(shapes.input, SMOKE.num_layers, SMOKE.base_filters)
    head = model.get_layer("vocals")
    kernel, bias = head.get_weights()
    head.set_weights([-np.abs(kernel) - 0.1, bias - 10.0])  # every input below zero: ReLU dead
    report = check_separator(model, SMOKE, songs)
    assert report["ok"] is False
    assert report["outputs"]["vocals"]["silent"] and report["outputs"]["vocals"]["peak"] == 0.0
    assert not report["outputs"]["accompaniment"]["silent"]
    assert "vocals output is silent" in report["problems"][0]
    text = health.format_health(report)
    assert "FAILED" in text and "what to do" in text


def _fake_run(tmp_path, ok: bool):
    """A real (untrained) run folder with a finished.json claiming a health verdict."""
    from sepgan_lib.engine import Trainer
    from sepgan_lib.train import _export_best

    run = tmp_path / ("good" if ok else "bad")
    trainer = Trainer(SMOKE, "supervised")
    _export_best(trainer, run / "best")
    SMOKE.save(run / "config.json")
    record = {"ok": ok, "songs": 2, "outputs": {}, "problems": [] if ok else ["dead vocals"]}
    (run / "finished.json").write_text(json.dumps({"health": record}))
    return run


def test_evaluate_and_compare_refuse_a_failed_run(tmp_path):
    bad, good = _fake_run(tmp_path, False), _fake_run(tmp_path, True)
    with pytest.raises(UnhealthyRunError, match="dead vocals"):
        evaluate_run(bad, plan="synthetic", split="test", jobs=1, progress=False)
    assert main(["evaluate", str(bad), "--plan", "synthetic", "--quiet", "--jobs", "1"]) == 2
    scored = evaluate_run(
        bad, plan="synthetic", split="test", jobs=1, progress=False, allow_unhealthy=True
    )
    assert scored["health"]["ok"] is False
    fine = evaluate_run(good, plan="synthetic", split="test", jobs=1, progress=False)
    with pytest.raises(UnhealthyRunError):
        compare_results(fine, scored)
    assert compare_results(fine, scored, allow_unhealthy=True)["n"] == len(fine["tracks"])
    assert compare_results(fine, fine)["n"] == len(fine["tracks"])
