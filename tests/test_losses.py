import numpy as np
import pytest
import tensorflow as tf

from sepgan_lib import losses


def linear_critic(w):
    w = tf.constant(w, tf.float32)
    return lambda x: tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]) * tf.reshape(w, [1, -1]), 1)


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5])
def test_gradient_penalty_known_answers(scale):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3, 1)).astype(np.float32)
    w *= scale / np.linalg.norm(w)
    critic = linear_critic(w)
    real = tf.constant(rng.standard_normal((6, 4, 3, 1)), tf.float32)
    fake = tf.constant(rng.standard_normal((6, 4, 3, 1)), tf.float32)
    two = losses.gradient_penalty(critic, real, fake, one_sided=False)
    one = losses.gradient_penalty(critic, real, fake, one_sided=True)
    assert float(two) == pytest.approx((scale - 1) ** 2, abs=1e-5)
    assert float(one) == pytest.approx(max(scale - 1, 0) ** 2, abs=1e-5)


def test_supervised_loss_hand_computed():
    acc_est = tf.fill([1, 2, 2, 1], 1.0)
    voc_est = tf.zeros([1, 2, 2, 1])
    acc = tf.fill([1, 2, 2, 1], 3.0)  # error 2 everywhere -> MSE 4
    voc = tf.constant([[[[1.0], [0.0]], [[0.0], [0.0]]]])  # one error of 1 in 4 -> 0.25
    assert float(losses.supervised_loss(acc_est, voc_est, acc, voc)) == pytest.approx(4.25)


def test_critic_and_adversarial_losses():
    real = tf.constant([[2.0], [4.0]])
    fake = tf.constant([[1.0], [-1.0]])
    assert float(losses.critic_loss(real, fake)) == pytest.approx(-(3.0 - 0.0))
    assert float(losses.adversarial_loss(tf.constant([[1.0], [3.0]]), fake)) == pytest.approx(-2.0)


def test_additive_penalty_on_linear_magnitudes():
    acc = np.array([1.0, 2.0], np.float32)
    voc = np.array([0.5, 0.0], np.float32)
    mix = np.array([1.5, 3.0], np.float32)  # residuals 0 and 1 -> mean square 0.5
    logs = [tf.constant(np.log1p(v)) for v in (mix, acc, voc)]
    assert float(losses.additive_penalty(*logs)) == pytest.approx(0.5, rel=1e-5)
