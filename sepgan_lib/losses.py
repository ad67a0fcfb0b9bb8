"""Loss terms of supervised and adversarial training.

All spectrogram arguments are log1p magnitudes ``[batch, freq, frames, 1]`` unless a
docstring says linear. Each function returns a scalar tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def supervised_loss(acc_est, voc_est, acc, voc):
    """MSE(vocals) + MSE(accompaniment) on log-magnitudes."""
    return tf.reduce_mean(tf.square(voc_est - voc)) + tf.reduce_mean(tf.square(acc_est - acc))


def critic_loss(real_scores, fake_scores):
    """The critic's Wasserstein loss, ``-(E[D(real)] - E[D(fake)])`` (before the penalty)."""
    return -(tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores))


def gradient_penalty(
    critic: Callable,
    real,
    fake,
    one_sided: bool = True,
    seed: tf.Tensor | None = None,
    eps: tf.Tensor | None = None,
):
    """Gradient penalty at random interpolates between ``real`` and ``fake`` examples.

    One-sided (the original): ``mean(max(||grad|| - 1, 0)^2)``; two-sided (standard WGAN-GP):
    ``mean((||grad|| - 1)^2)``. The norm is taken per example over all its values.
    ``seed`` (a shape-[2] int tensor) makes the interpolation weights deterministic;
    ``eps`` (``[batch, 1, ..., 1]``) gives them outright (e.g. a replica's slice of a draw).
    """
    real = tf.cast(real, fake.dtype)
    if eps is None:
        shape = tf.stack([tf.shape(fake)[0]] + [1] * (len(fake.shape) - 1))
        if seed is None:
            eps = tf.random.uniform(shape, dtype=fake.dtype)
        else:
            eps = tf.random.stateless_uniform(shape, seed=seed, dtype=fake.dtype)
    mixed = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)
    grads = tape.gradient(scores, mixed)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=tf.range(1, tf.rank(grads))) + 1e-12)
    excess = norms - 1.0
    if one_sided:
        excess = tf.nn.relu(excess)
    return tf.reduce_mean(tf.square(excess))


def adversarial_loss(voc_fake_scores, acc_fake_scores):
    """The separator's adversarial loss: ``-mean(D_voice(fake)) - mean(D_acc(fake))``."""
    return -tf.reduce_mean(voc_fake_scores) - tf.reduce_mean(acc_fake_scores)


def additive_penalty(mix_log, acc_est_log, voc_est_log):
    """``mean((mix - expm1(acc_est) - expm1(voc_est))^2)`` on LINEAR magnitudes.

    Arguments are log1p magnitudes of the same shape (the mixture cropped to the output).
    """
    residual = tf.math.expm1(mix_log) - tf.math.expm1(acc_est_log) - tf.math.expm1(voc_est_log)
    return tf.reduce_mean(tf.square(residual))
