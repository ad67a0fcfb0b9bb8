"""The plain method steps (sepgan_lib.steps) and the training engine give the same updates."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sepgan_lib import distribute, steps
from sepgan_lib.config import make_config
from sepgan_lib.engine import Trainer

CONFIG = make_config("smoke", {"batch_size": 4})


def batches(trainer, seed=0):
    rng = np.random.default_rng(seed)
    s, b = trainer.shapes, trainer.config.batch_size
    mix = rng.random((b, *s.input, 1), np.float32)
    acc = rng.random((b, *s.desired, 1), np.float32)
    voc = rng.random((b, *s.desired, 1), np.float32)
    unpaired = (0.5 * rng.random((b, *s.input, 1), np.float32), voc[::-1], acc[::-1])
    return (mix, acc, voc), unpaired


def twins(mode):
    """An engine trainer and plain copies of its models with fresh Adam optimisers."""
    engine = Trainer(CONFIG, mode)
    plain = Trainer(CONFIG, mode)  # same seed: same initial weights
    for a, b in zip(engine.separator.weights, plain.separator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    return engine, plain


def assert_same_weights(a, b, rtol=1e-5):
    for va, vb in zip(a.trainable_variables, b.trainable_variables):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=rtol, atol=1e-6)


def test_supervised_step():
    engine, plain = twins("supervised")
    paired, _ = batches(engine)
    for _ in range(3):
        got = engine.update_separator_supervised(paired)
        want = steps.update_supervised(
            plain.separator, plain.separator_optimizer, paired, plain.shapes.desired
        )
        assert float(got["sup_loss"]) == pytest.approx(float(want["sup_loss"]), rel=1e-5)
    assert_same_weights(engine.separator, plain.separator)


def test_critic_and_semi_steps():
    engine, plain = twins("semi")
    paired, unpaired = batches(engine)
    mix_u, voc_real, acc_real = unpaired
    seed = [7, 3]
    got = engine.update_critics(unpaired, seed)
    acc_fake, voc_fake = steps.separate(
        plain.separator, mix_u, plain.shapes.desired, training=False
    )
    reals, fakes = (
        {"vocals": voc_real, "accompaniment": acc_real},
        {
            "vocals": voc_fake,
            "accompaniment": acc_fake,
        },
    )
    for i, (source, critic) in enumerate(plain.critics.items()):
        b = CONFIG.batch_size
        eps = distribute.replica_uniform(
            [b, 1, 1, 1], tf.constant(seed, tf.int64) + tf.constant([0, i], tf.int64), 0, 1
        )
        want = steps.update_critic(
            critic, plain.critic_optimizers[source], reals[source], fakes[source], eps=eps
        )
        assert float(got[f"critic_loss_{source}"]) == pytest.approx(
            float(want["critic_loss"]), rel=1e-5
        )
        assert_same_weights(engine.critics[source], critic)

    got = engine.update_separator_semi(paired, unpaired)
    want = steps.update_separator(
        plain.separator,
        plain.separator_optimizer,
        plain.critics,
        paired,
        mix_u,
        CONFIG.alpha,
        CONFIG.beta,
        plain.shapes.desired,
    )
    for key in ("sep_loss", "sup_loss", "adv_loss", "add_penalty"):
        assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-5)
    assert_same_weights(engine.separator, plain.separator)


def test_loss_term_gradients_measure_each_term():
    keras.utils.set_random_seed(0)
    trainer = Trainer(CONFIG, "semi")
    paired, unpaired = batches(trainer)
    desired = trainer.shapes.desired
    out = steps.loss_term_gradients(
        trainer.separator, trainer.critics, paired, unpaired[0], 1e-3, 1e-3, desired
    )
    assert set(out) == {
        "grad_norm_sup",
        "grad_norm_adv",
        "grad_norm_add",
        "grad_cosine_adv",
        "grad_cosine_add",
    }
    assert all(np.isfinite(float(v)) for v in out.values())
    assert -1.0 <= float(out["grad_cosine_adv"]) <= 1.0
    # a term with zero weight pulls nowhere; the supervised term agrees with itself
    zero = steps.loss_term_gradients(
        trainer.separator, trainer.critics, paired, unpaired[0], 0.0, 1e-3, desired
    )
    assert float(zero["grad_norm_adv"]) == 0.0
    assert float(out["grad_norm_sup"]) > 0.0


def engine_eps(seed, batch_size):
    """The engine's interpolation weights for one critic step (one device)."""
    return {
        source: distribute.replica_uniform(
            [batch_size, 1, 1, 1], tf.constant(seed, tf.int64) + tf.constant([0, i], tf.int64), 0, 1
        )
        for i, source in enumerate(("accompaniment", "vocals"))
    }


def test_both_critics_step():
    engine, plain = twins("semi")
    _, unpaired = batches(engine)
    seed = [5, 2]
    got = engine.update_critics(unpaired, seed)
    want = steps.update_critics(
        plain.separator,
        plain.critics,
        plain.critic_optimizers,
        unpaired,
        plain.shapes.desired,
        eps=engine_eps(seed, CONFIG.batch_size),
    )
    assert set(got) == set(want)
    for key in want:
        assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-5)
    for source in plain.critics:
        assert_same_weights(engine.critics[source], plain.critics[source])


def test_semi_iteration():
    engine, plain = twins("semi")
    paired, unpaired = batches(engine)
    _, other = batches(engine, seed=1)
    critic_batches = [unpaired, other]
    seeds = [[9, 0], [9, 1]]
    for _ in range(2):
        got = engine.semi_iteration(paired, critic_batches, unpaired, seeds)
        want = steps.semi_iteration(
            plain.separator,
            plain.critics,
            {"separator": plain.separator_optimizer, **plain.critic_optimizers},
            paired,
            critic_batches,
            unpaired,
            CONFIG.alpha,
            CONFIG.beta,
            plain.shapes.desired,
            eps=[engine_eps(s, CONFIG.batch_size) for s in seeds],
        )
        assert set(got) == set(want)
        for key in want:
            assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-4, abs=1e-6)
    assert_same_weights(engine.separator, plain.separator)
    for source in plain.critics:
        assert_same_weights(engine.critics[source], plain.critics[source])
