import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from sepgan_lib.config import make_config
from sepgan_lib.engine import Trainer
from sepgan_lib.errors import TrainingError
from sepgan_lib.train import train


def random_batches(trainer, rng):
    s, b = trainer.shapes, trainer.config.batch_size
    mix = rng.random((b, *s.input, 1), np.float32)
    acc = rng.random((b, *s.desired, 1), np.float32)
    voc = rng.random((b, *s.desired, 1), np.float32)
    return (mix, acc, voc), (mix * 0.5, voc, acc)


def snapshot(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def changed(before, model):
    return any(not np.array_equal(a, v.numpy()) for a, v in zip(before, model.trainable_variables))


def test_each_step_changes_only_its_own_variables(rng):
    trainer = Trainer(make_config("smoke"), "semi")
    paired, unpaired = random_batches(trainer, rng)
    sep = snapshot(trainer.separator)
    critics = {k: snapshot(c) for k, c in trainer.critics.items()}
    trainer.update_critics(unpaired, [0, 0])
    assert not changed(sep, trainer.separator)
    assert all(changed(critics[k], c) for k, c in trainer.critics.items())
    critics = {k: snapshot(c) for k, c in trainer.critics.items()}
    metrics = trainer.update_separator_semi(paired, unpaired)
    assert changed(sep, trainer.separator)
    assert not any(changed(critics[k], c) for k, c in trainer.critics.items())
    assert {"sup_loss", "adv_loss", "add_penalty", "sep_loss"} <= set(metrics)


def test_twenty_supervised_steps_on_one_batch_lower_the_loss(rng):
    keras.utils.set_random_seed(0)  # the initial weights: the test must not depend on luck
    trainer = Trainer(make_config("smoke"), "supervised")
    paired, _ = random_batches(trainer, rng)
    losses = [float(trainer.update_separator_supervised(paired)["sup_loss"]) for _ in range(20)]
    assert losses[-1] < 0.8 * losses[0]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_smoke_runs_checkpoint_and_evaluate(tmp_path):
    from sepgan_lib.evaluate import evaluate_run

    config = make_config("smoke")
    sup = train(tmp_path / "sup", "supervised", config, progress=False)
    assert sup["steps"] == config.epoch_it * len(sup["history"])
    assert (tmp_path / "sup" / "best" / "separator.keras").exists()
    assert tf.train.latest_checkpoint(str(tmp_path / "sup" / "checkpoints"))
    assert json.loads((tmp_path / "sup" / "config.json").read_text())["batch_size"] == 2
    assert all(np.isfinite(h["valid_loss"]) for h in sup["history"])
    # a finished run is returned as it is, without training
    assert train(tmp_path / "sup", "supervised", config, progress=False) == sup

    semi = train(tmp_path / "semi", "semi", config, progress=False)
    entry = semi["history"][0]
    for key in ("adv_loss", "add_penalty", "gradient_penalty_vocals", "real_score_accompaniment"):
        assert np.isfinite(entry[key])
    assert (tmp_path / "semi" / "best" / "critic_vocals.keras").exists()
    assert list((tmp_path / "semi" / "logs").iterdir())

    # every trained model is checked (a 6-step smoke model fails: it is not a result)
    for run in (sup, semi):
        assert run["health"]["ok"] in (True, False)
        assert set(run["health"]["outputs"]) == {"vocals", "accompaniment"}
    assert json.loads((tmp_path / "semi" / "finished.json").read_text())["health"] == semi["health"]
    result = evaluate_run(
        tmp_path / "sup",
        plan="synthetic",
        split="test",
        jobs=1,
        progress=False,
        allow_unhealthy=True,
    )
    assert result["tracks"] and np.isfinite(result["summary"]["vocals"]["SDR"]["median"])
    assert (tmp_path / "sup" / "eval" / "synthetic-test.json").exists()


def test_another_config_in_the_same_folder_is_refused(tmp_path):
    config = make_config("smoke", {"max_epochs": 1, "epoch_it": 1})
    train(tmp_path / "run", "supervised", config, progress=False)
    with pytest.raises(TrainingError, match="alpha"):
        train(tmp_path / "run", "supervised", config.replace(alpha=0.5), progress=False)


def test_resume_after_kill(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "sepgan_lib.cli", "train", str(run), "--mode", "supervised"]
    cmd += ["--profile", "smoke", "--quiet", "--set", "epoch_it=60", "--set", "max_epochs=1"]
    cmd += ["--set", "checkpoint_every=2"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    state = run / "checkpoints" / "checkpoint"
    while time.time() < deadline and "ckpt-6" not in (state.read_text() if state.exists() else ""):
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # an interruption the trainer cannot see coming
    proc.wait()
    assert not (run / "finished.json").exists()

    refused = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr

    # (a 60-step smoke model fails its health check: accepted here, resuming is the point)
    done = subprocess.run(
        cmd + ["--resume", "--allow-unhealthy"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    finished = json.loads((run / "finished.json").read_text())
    assert finished["resumed_from"] >= 6
    assert finished["steps"] == 60


def _losses(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_the_same_seed_trains_the_same_model_and_a_resume_changes_nothing(tmp_path):
    config = make_config("smoke", {"max_epochs": 2, "epoch_it": 4, "health_check": False})
    first = train(tmp_path / "a", "semi", config, progress=False)
    again = train(tmp_path / "b", "semi", config, progress=False)
    assert _losses(first["history"]) == _losses(again["history"])
    other = train(tmp_path / "c", "semi", config.replace(seed=7), progress=False)
    assert _losses(other["history"]) != _losses(first["history"])
    # interrupted after 3 steps, then resumed: the losses of the uninterrupted run
    stopped = train(tmp_path / "d", "semi", config, progress=False, stop_after_steps=3)
    assert stopped["interrupted"]
    resumed = train(tmp_path / "d", "semi", config, progress=False)
    assert resumed["resumed_from"] == 3
    # (the training-loss means of the interrupted epoch cover only the steps after the resume)
    valid = [(h["step"], h["valid_loss"]) for h in first["history"]]
    assert [(h["step"], h["valid_loss"]) for h in resumed["history"]] == valid


def test_train_exits_non_zero_for_a_failed_run(tmp_path, capsys):
    from sepgan_lib.cli import main

    args = ["train", str(tmp_path / "run"), "--mode", "supervised", "--profile", "smoke"]
    args += ["--quiet", "--set", "epoch_it=1", "--set", "max_epochs=1"]
    assert main(args) == 3  # one step cannot beat the mixture floor
    assert "FAILED its health check" in capsys.readouterr().err
    finished = json.loads((tmp_path / "run" / "finished.json").read_text())
    assert finished["health"]["ok"] is False
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["health"] == "failed"
    assert main(args + ["--allow-unhealthy"]) == 0  # the finished run, accepted as it is
