"""The method in plain steps: losses of a batch, and one update around one gradient tape each.

This module is what a reader of the book needs to see, in the style of Dive into Deep
Learning's ``update_D`` / ``update_G``:

- :func:`update_supervised`: the supervised step (MSE of both estimates on a paired batch);
- :func:`update_critic`: one critic step (Wasserstein loss + gradient penalty);
- :func:`update_critics`: the step of both critics (vocals, accompaniment) on one unpaired
  batch, against the separator's estimates on its mixtures;
- :func:`update_separator`: the semi-supervised separator step (supervised MSE +
  ``alpha`` * adversarial loss + ``beta`` * additive penalty on unpaired mixtures);
- :func:`semi_iteration`: one outer iteration of semi-supervised training, a step of both
  critics on each of ``num_disc`` unpaired batches, then one separator step.

Each ``update_*`` computes a loss under one ``tf.GradientTape`` and applies the optimiser.
The loss of each step is its own function (:func:`supervised_loss`, :func:`critic_loss`,
:func:`critics_loss`, :func:`separator_loss`), shared with the training engine (:class:`sepgan_lib.train.Trainer`),
which wraps the same losses with what a long run needs (devices, loss scaling, compiled
functions, checkpoints) instead of copying them.

Shapes (log1p magnitudes): a paired batch is ``(mix [B, F_in, T_in, 1], acc [B, 256, T, 1],
voc [B, 256, T, 1])``, an unpaired batch ``(mix_u [B, F_in, T_in, 1], voc [B, 256, T, 1],
acc [B, 256, T, 1])`` (mixtures and real sources of unrelated songs); ``desired = (256, T)`` is the output size the losses compare.
"""

from __future__ import annotations

import tensorflow as tf

from . import losses
from .shapes import crop_center


def separate(separator, mix, desired, training=True):
    """The separator's ``(accompaniment, vocals)`` estimates, centre-cropped to ``desired``."""
    acc, voc = separator(mix, training=training)
    return crop_center(acc, desired), crop_center(voc, desired)


# --- the losses -------------------------------------------------------------------------------
def supervised_loss(separator, batch, desired):
    """MSE of both estimates on a paired batch ``(mix, acc, voc)``: ``(loss, metrics)``."""
    mix, acc, voc = batch
    acc_est, voc_est = separate(separator, mix, desired)
    loss = losses.supervised_loss(acc_est, voc_est, acc, voc)
    return loss, {"sup_loss": loss}


def separator_loss(separator, critics, batch, mix_u, alpha, beta, desired):
    """Supervised MSE + ``alpha`` * adversarial loss + ``beta`` * additive penalty.

    The adversarial loss asks both critics to score the estimates on the unpaired mixtures
    ``mix_u`` as real; the additive penalty asks those estimates to add up to the mixture.
    """
    sup, _ = supervised_loss(separator, batch, desired)
    acc_u, voc_u = separate(separator, mix_u, desired)
    adv = losses.adversarial_loss(
        critics["vocals"](voc_u, training=False), critics["accompaniment"](acc_u, training=False)
    )
    add = losses.additive_penalty(crop_center(mix_u, desired), acc_u, voc_u)
    loss = sup + alpha * adv + beta * add
    return loss, {"sep_loss": loss, "sup_loss": sup, "adv_loss": adv, "add_penalty": add}


def critic_loss(critic, real, fake, lam=10.0, one_sided=True, eps=None):
    """``-(mean D(real) - mean D(fake)) + lam * GP`` with the penalty at interpolates drawn
    with weights ``eps`` ``[B, 1, 1, 1]`` (random when None): ``(loss, metrics)``."""
    real_scores, fake_scores = critic(real), critic(fake)
    wasserstein = losses.critic_loss(real_scores, fake_scores)
    penalty = losses.gradient_penalty(critic, real, fake, one_sided=one_sided, eps=eps)
    loss = wasserstein + lam * penalty
    return loss, {
        "critic_loss": loss,
        "wasserstein": -wasserstein,
        "gradient_penalty": penalty,
        "real_score": tf.reduce_mean(real_scores),
        "fake_score": tf.reduce_mean(fake_scores),
    }


def critics_loss(separator, critics, unpaired, desired, lam=10.0, one_sided=True, eps=None):
    """Both critics on an unpaired batch ``(mix_u, voc, acc)``: each critic's real source
    patches against the separator's (fixed) estimate of that source on ``mix_u``.

    ``critics`` and ``eps`` (interpolation weights ``[B, 1, 1, 1]``, random when None) map a
    source name to its critic and weights. Returns ``(losses, metrics)``: ``losses[source]``
    is that critic's loss, the metrics are :func:`critic_loss`'s named ``{key}_{source}``.
    """
    mix_u, voc, acc = unpaired
    acc_fake, voc_fake = separate(separator, mix_u, desired, training=False)
    reals = {"vocals": voc, "accompaniment": acc}
    fakes = {"vocals": tf.stop_gradient(voc_fake), "accompaniment": tf.stop_gradient(acc_fake)}
    eps = eps or {}
    critic_losses, metrics = {}, {}
    for source, critic in critics.items():
        loss, values = critic_loss(
            critic, reals[source], fakes[source], lam, one_sided, eps.get(source)
        )
        critic_losses[source] = loss
        metrics.update({f"{k}_{source}": v for k, v in values.items()})
    return critic_losses, metrics


# --- the updates ------------------------------------------------------------------------------
def update_supervised(separator, optimizer, batch, desired):
    """One supervised step on a paired batch; returns ``{"sup_loss": ...}``."""
    with tf.GradientTape() as tape:
        loss, metrics = supervised_loss(separator, batch, desired)
    grads = tape.gradient(loss, separator.trainable_variables)
    optimizer.apply_gradients(zip(grads, separator.trainable_variables))
    return metrics


def update_critic(critic, optimizer, real, fake, lam=10.0, one_sided=True, eps=None):
    """One step of one critic: real source patches against the separator's estimates."""
    with tf.GradientTape() as tape:
        loss, metrics = critic_loss(critic, real, tf.stop_gradient(fake), lam, one_sided, eps)
    grads = tape.gradient(loss, critic.trainable_variables)
    optimizer.apply_gradients(zip(grads, critic.trainable_variables))
    return metrics


def update_critics(
    separator, critics, optimizers, unpaired, desired, lam=10.0, one_sided=True, eps=None
):
    """The step of both critics on an unpaired batch ``(mix_u, voc, acc)`` (the separator is
    not changed); ``optimizers`` maps a source name to its critic's optimiser.

    One tape for both: the critics share no weight, so the gradient of the summed losses
    with respect to one critic's weights is that critic's own gradient.
    """
    with tf.GradientTape() as tape:
        critic_losses, metrics = critics_loss(
            separator, critics, unpaired, desired, lam, one_sided, eps
        )
        total = tf.add_n(list(critic_losses.values()))
    variables = [critic.trainable_variables for critic in critics.values()]
    grads = tape.gradient(total, variables)
    for source, source_grads, source_vars in zip(critics, grads, variables):
        optimizers[source].apply_gradients(zip(source_grads, source_vars))
    return metrics


def update_separator(separator, optimizer, critics, batch, mix_u, alpha, beta, desired):
    """One semi-supervised separator step (the critics are not changed)."""
    with tf.GradientTape() as tape:
        loss, metrics = separator_loss(separator, critics, batch, mix_u, alpha, beta, desired)
    grads = tape.gradient(loss, separator.trainable_variables)
    optimizer.apply_gradients(zip(grads, separator.trainable_variables))
    return metrics


def semi_iteration(
    separator,
    critics,
    optimizers,
    paired,
    critic_batches,
    unpaired,
    alpha,
    beta,
    desired,
    lam=10.0,
    one_sided=True,
    eps=None,
):
    """One outer iteration of semi-supervised training: the step of both critics on each
    unpaired batch of ``critic_batches`` (``num_disc`` of them), then one separator step on
    the paired batch and the mixtures of ``unpaired``.

    ``optimizers`` maps ``"separator"`` and each source name to its optimiser; ``eps``, when
    given, holds one :func:`critics_loss` weight mapping per critic batch. Returns the critic
    metrics averaged over the critic batches and the separator step's metrics.
    """
    critic_metrics = [
        update_critics(
            separator, critics, optimizers, batch, desired, lam, one_sided, eps[j] if eps else None
        )
        for j, batch in enumerate(critic_batches)
    ]
    metrics = {
        k: tf.add_n([m[k] for m in critic_metrics]) / len(critic_metrics) for k in critic_metrics[0]
    }
    metrics.update(
        update_separator(
            separator, optimizers["separator"], critics, paired, unpaired[0], alpha, beta, desired
        )
    )
    return metrics


# --- diagnostics ------------------------------------------------------------------------------
def loss_term_gradients(separator, critics, batch, mix_u, alpha, beta, desired):
    """How each weighted term of the separator loss pulls the weights.

    Returns, for ``sup`` (the MSE), ``adv`` (``alpha`` x adversarial) and ``add`` (``beta`` x
    additive), the norm of its gradient and the cosine between that gradient and the
    supervised one (1: the term agrees with the MSE, -1: it pulls against it).
    """
    variables = separator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        _, m = separator_loss(separator, critics, batch, mix_u, alpha, beta, desired)
        terms = {"sup": m["sup_loss"], "adv": alpha * m["adv_loss"], "add": beta * m["add_penalty"]}
    flat = {}
    for name, term in terms.items():
        grads = tape.gradient(term, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        flat[name] = tf.concat([tf.reshape(g, [-1]) for g in grads], 0)
    del tape
    out = {}
    for name, g in flat.items():
        norm = tf.norm(g)
        cosine = tf.reduce_sum(g * flat["sup"]) / (norm * tf.norm(flat["sup"]) + 1e-30)
        out[f"grad_norm_{name}"] = norm
        if name != "sup":
            out[f"grad_cosine_{name}"] = cosine
    return out
