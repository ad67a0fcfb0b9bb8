"""The semi-supervised recipe: compiled critic iterations, critic warm-up, diagnostics."""

import json

import numpy as np
import pytest

from sepgan_lib.config import make_config
from sepgan_lib.engine import Trainer
from sepgan_lib.semi_recipe import Diagnostics, critic_warmup
from sepgan_lib.train import train


def _unpaired(trainer, rng, count):
    s, b = trainer.shapes, trainer.config.batch_size
    return [
        (
            rng.random((b, *s.input, 1), np.float32),
            rng.random((b, *s.desired, 1), np.float32),
            rng.random((b, *s.desired, 1), np.float32),
        )
        for _ in range(count)
    ]


def _weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def test_stacked_critic_iterations_equal_one_call_per_iteration(rng):
    config = make_config("smoke", {"num_disc": 3})
    one_by_one, stacked = Trainer(config, "semi"), Trainer(config, "semi")
    batches = _unpaired(one_by_one, rng, 3)
    seeds = [[5, j] for j in range(3)]
    scores = [one_by_one.update_critics(b, s) for b, s in zip(batches, seeds)]
    mean = stacked.update_critics_stacked(batches, seeds)
    for source in one_by_one.critics:
        for a, b in zip(_weights(one_by_one.critics[source]), _weights(stacked.critics[source])):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    expected = np.mean([float(s["real_score_vocals"]) for s in scores])
    assert float(mean["real_score_vocals"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)


class _NoCheckpoints:
    saved = 0

    def save(self, checkpoint_number):
        self.saved += 1


def test_critic_warmup_trains_only_the_critics_and_counts_its_iterations(rng, tmp_path):
    import tensorflow as tf

    config = make_config("smoke", {"num_disc": 2, "critic_warmup_steps": 5, "log_every": 1})
    trainer = Trainer(config, "semi")
    separator = _weights(trainer.separator)
    critic = _weights(trainer.critics["vocals"])
    diagnostics = Diagnostics(tmp_path, 0, 0, tf.summary.create_noop_writer(), chief=True)
    done = critic_warmup(
        trainer, iter(_unpaired(trainer, rng, 5)), 0, _NoCheckpoints(), diagnostics
    )
    assert done == 5 and int(trainer.critic_warmup_done.numpy()) == 5
    assert all(
        np.array_equal(a, v.numpy())
        for a, v in zip(separator, trainer.separator.trainable_variables)
    )
    assert any(
        not np.array_equal(a, v.numpy())
        for a, v in zip(critic, trainer.critics["vocals"].trainable_variables)
    )
    logged = json.loads((tmp_path / "diagnostics.json").read_text())
    assert [e["critic_iteration"] for e in logged] == [2, 4, 5]  # 2 + 2 + 1 iterations
    # a second call has nothing left to do
    assert critic_warmup(trainer, iter([]), 0, _NoCheckpoints(), diagnostics) == 5


def test_semi_run_logs_diagnostics_and_resumes_without_repeating_the_warmup(tmp_path):
    config = make_config(
        "smoke",
        {"critic_warmup_steps": 4, "num_disc": 2, "epoch_it": 4, "max_epochs": 1, "log_every": 2},
    )
    config = config.replace(health_check=False)
    run = tmp_path / "semi"
    assert train(run, "semi", config, progress=False, stop_after_steps=2)["interrupted"]
    first = json.loads((run / "diagnostics.json").read_text())
    assert [e["critic_iteration"] for e in first if e.get("phase") == "critic_warmup"] == [4]
    result = train(run, "semi", config, progress=False)
    assert result["resumed_from"] == 2
    entries = json.loads((run / "diagnostics.json").read_text())
    warmup = [e for e in entries if e.get("phase") == "critic_warmup"]
    logged = [e for e in entries if e.get("phase") != "critic_warmup"]
    assert len(warmup) == 1  # not repeated by the resumed call
    assert [e["step"] for e in logged] == [2, 4]
    for entry in logged:
        for key in ("grad_norm_sup", "grad_norm_adv", "grad_norm_add", "grad_cosine_adv"):
            assert np.isfinite(entry[key])
        assert -1.0001 <= entry["grad_cosine_adv"] <= 1.0001
        for source in ("vocals", "accompaniment"):
            assert {f"real_score_{source}", f"fake_score_{source}"} <= set(entry)
    history = json.loads((run / "history.json").read_text())
    assert all("grad_norm_adv" not in h for h in history)  # epoch entries as before


def test_control_and_semi_runs_draw_the_same_paired_batches(tmp_path, monkeypatch):
    """The equal-steps control (supervised, --init-from SUP) and the semi-supervised run
    (--init-from SUP) see the same paired batch at every step: the unpaired data is the only
    difference between them."""
    config = make_config("smoke", {"epoch_it": 3, "max_epochs": 1, "health_check": False})
    train(tmp_path / "sup", "supervised", config.replace(epoch_it=1), progress=False)
    seen = {"supervised": [], "semi": []}
    originals = {
        "supervised": Trainer.update_separator_supervised,
        "semi": Trainer.update_separator_semi,
    }

    def recorder(mode):
        def record(self, paired_batch, *rest):
            seen[mode].append([np.asarray(x).copy() for x in paired_batch])
            return originals[mode](self, paired_batch, *rest)

        return record

    monkeypatch.setattr(Trainer, "update_separator_supervised", recorder("supervised"))
    monkeypatch.setattr(Trainer, "update_separator_semi", recorder("semi"))
    for mode in seen:
        train(tmp_path / mode, mode, config, init_from=tmp_path / "sup", progress=False)
    assert len(seen["supervised"]) == len(seen["semi"]) == 3
    for control, semi in zip(seen["supervised"], seen["semi"]):
        assert all(np.array_equal(a, b) for a, b in zip(control, semi))
    # and the batches change from step to step (a constant batch would pass trivially)
    assert not np.array_equal(seen["semi"][0][0], seen["semi"][1][0])
