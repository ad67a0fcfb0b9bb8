"""The training engine: the separator, the critics, their optimisers and the compiled steps.

The method's losses and updates are :mod:`.steps`' (what the book shows); the engine wraps
the same losses with what a long run needs:

- devices: every variable is created in a ``tf.distribute`` strategy's scope, each step runs
  per replica with its loss divided by the number of replicas (:mod:`.distribute`);
- loss scaling: under mixed precision (``config.mixed_precision`` on a GPU) every optimiser
  scales its loss, and replicas agree on skipping a step that overflowed;
- compiled functions: the gradients are ``tf.function`` (XLA with ``config.xla``), the
  ``num_disc`` critic iterations of an outer step run as one graph;
- the checkpointed state: weights, optimiser slots and the run's counters.

Batches: paired ``(mix [B, F_in, T_in, 1], acc [B, 256, T, 1], voc [B, 256, T, 1])``,
unpaired ``(mix_u [B, F_in, T_in, 1], voc [B, 256, T, 1], acc [B, 256, T, 1])``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import distribute, pipeline, steps
from .config import Config
from .critic import build_critic
from .errors import SepganError
from .unet import build_separator

MODES = ("supervised", "semi")
SOURCES_OUT = ("accompaniment", "vocals")


def make_strategy(config: Config) -> tf.distribute.Strategy:
    """The tf.distribute strategy named by ``config.strategy`` (see :mod:`.distribute`)."""
    return distribute.make_strategy(config.strategy)


def _use_mixed_precision(config: Config) -> bool:
    return config.mixed_precision and bool(tf.config.list_physical_devices("GPU"))


def _inner(optimizer):
    """The optimiser whose slots are checkpointed: without the loss-scale wrapper, so a
    mixed-precision checkpoint restores without mixed precision and the other way round."""
    return getattr(optimizer, "inner_optimizer", optimizer)


@keras.saving.register_keras_serializable(package="sepgan")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate rising linearly from ``rate / steps`` to ``rate`` over the first
    ``steps`` updates of an optimiser, then constant: early large steps are what kill a ReLU
    output layer (all its inputs pushed below zero, no gradient left to bring it back)."""

    def __init__(self, rate: float, steps: int):
        self.rate, self.steps = float(rate), int(steps)

    def __call__(self, step):
        done = tf.cast(step + 1, tf.float32) / float(max(self.steps, 1))
        return self.rate * tf.minimum(1.0, done)

    def get_config(self):
        return {"rate": self.rate, "steps": self.steps}


def warmup(rate: float, steps: int):
    """A learning rate for Adam: ``rate``, reached after a linear warm-up of ``steps``."""
    return LinearWarmup(rate, steps) if steps > 0 else rate


class Trainer:
    """The separator, the critics, their optimisers and the training steps.

    All variables are created in ``strategy.scope()``; each step runs per replica with the
    loss divided by the number of replicas, so gradients summed across replicas are those of
    the global batch. Batches given to the steps are global batches (split across replicas
    by :func:`.distribute.split_batch`) or the elements of a distributed dataset.
    Under mixed precision (``config.mixed_precision`` on a GPU) the models compute in float16
    with float32 variables and float32 output layers, and every optimiser scales its loss.
    """

    def __init__(self, config: Config, mode: str, strategy: tf.distribute.Strategy | None = None):
        if mode not in MODES:
            raise SepganError(f"mode must be one of {MODES}, got {mode!r}")
        self.config, self.mode = config, mode
        self.strategy = strategy or make_strategy(config)
        self.shapes = pipeline.model_shapes(config)
        self.mixed = _use_mixed_precision(config)
        distribute.check_global_batch(config.batch_size, self.strategy.num_replicas_in_sync)
        policy = keras.mixed_precision.global_policy()
        if self.mixed:
            keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            self._build(config, mode)
        finally:
            keras.mixed_precision.set_global_policy(policy)
        self._build_optimizers()
        jit = bool(config.xla)
        self._sup_grads = tf.function(self._supervised_gradients, jit_compile=jit)
        self._semi_grads = tf.function(self._semi_gradients, jit_compile=jit)
        self._critic_grads = tf.function(self._critic_gradients, jit_compile=jit)
        self._supervised_fn = tf.function(self._run(self._supervised_replica))
        self._semi_fn = tf.function(self._run(self._semi_replica))
        self._critic_fn = tf.function(self._run(self._critic_replica))
        # the num_disc critic iterations of an outer step in one call (one graph, no Python
        # between iterations); the stack's leading axis may change without a new trace
        self._critic_steps_fn = tf.function(
            self._run(self._critic_steps_replica), reduce_retracing=True
        )
        self._term_gradients = tf.function(self._term_gradients_fn)
        self._predict = tf.function(self._predict_cropped)

    # --- construction helpers ---------------------------------------------------------------
    def _build(self, config: Config, mode: str):
        # the initial weights come from the run's seed: the same command trains the same model
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.separator = build_separator(
                self.shapes.input,
                config.num_layers,
                config.base_filters,
                output_activation=config.output_activation,
            )
            lr = config.init_sup_sep_lr if mode == "supervised" else config.init_unsup_sep_lr
            self.separator_optimizer = self._optimizer(lr)
            self.critics: dict[str, keras.Model] = {}
            self.critic_optimizers: dict[str, keras.optimizers.Optimizer] = {}
            if mode == "semi":
                for source in SOURCES_OUT:
                    self.critics[source] = build_critic(
                        self.shapes.desired,
                        config.critic_filters,
                        dense_units=config.critic_dense,
                        name=f"critic_{source}",
                    )
                    self.critic_optimizers[source] = self._optimizer(config.init_disc_lr)
            counter = {"trainable": False, "aggregation": tf.VariableAggregation.ONLY_FIRST_REPLICA}
            self.step = tf.Variable(0, dtype=tf.int64, name="step", **counter)
            self.epoch = tf.Variable(0, dtype=tf.int64, name="epoch", **counter)
            self.bad_epochs = tf.Variable(0, dtype=tf.int64, name="bad_epochs", **counter)
            self.best_valid = tf.Variable(np.inf, dtype=tf.float64, name="best_valid", **counter)
            self.data_seed = tf.Variable(config.seed, dtype=tf.int64, name="data_seed", **counter)
            # critic iterations done against the frozen separator before any separator step
            self.critic_warmup_done = tf.Variable(
                0, dtype=tf.int64, name="critic_warmup_done", **counter
            )

    def _optimizer(self, lr: float):
        opt = keras.optimizers.Adam(learning_rate=warmup(lr, self.config.lr_warmup_steps))
        return keras.optimizers.LossScaleOptimizer(opt) if self.mixed else opt

    def _build_optimizers(self):
        """Create optimiser slots now, so checkpoints restore before the first step."""
        with self.strategy.scope():
            self.separator_optimizer.build(self.separator.trainable_variables)
            for source, critic in self.critics.items():
                self.critic_optimizers[source].build(critic.trainable_variables)

    def _run(self, replica_fn):
        def distributed(*args):
            per_replica = self.strategy.run(replica_fn, args=args)
            return {
                k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()
            }

        return distributed

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    # --- forward helpers --------------------------------------------------------------------
    def _predict_cropped(self, mix):
        return steps.separate(self.separator, mix, self.shapes.desired, training=False)

    # --- gradients (XLA-compilable: no cross-replica calls) ----------------------------------
    # The losses are the method's own (:mod:`.steps`); the engine adds the division by the
    # replica count (gradients are summed across replicas) and the loss scale.
    def _scaled(self, optimizer, loss):
        return optimizer.scale_loss(loss / self.replicas)

    def _supervised_gradients(self, mix, acc, voc):
        variables = self.separator.trainable_variables
        with tf.GradientTape() as tape:
            loss, metrics = steps.supervised_loss(
                self.separator, (mix, acc, voc), self.shapes.desired
            )
            scaled = self._scaled(self.separator_optimizer, loss)
        return tape.gradient(scaled, variables), metrics

    def _semi_gradients(self, mix, acc, voc, mix_u):
        config, variables = self.config, self.separator.trainable_variables
        with tf.GradientTape() as tape:
            loss, metrics = steps.separator_loss(
                self.separator,
                self.critics,
                (mix, acc, voc),
                mix_u,
                config.alpha,
                config.beta,
                self.shapes.desired,
            )
            scaled = self._scaled(self.separator_optimizer, loss)
        return tape.gradient(scaled, variables), metrics

    def _critic_gradients(self, mix_u, voc_real, acc_real, seed, replica):
        # interpolation weights drawn for the global batch, this replica's slice: any replica
        # count draws the same weights for the same example
        shape = tf.stack([tf.shape(mix_u)[0], 1, 1, 1])
        eps = {
            source: distribute.replica_uniform(
                shape, seed + tf.constant([0, i], tf.int64), replica, self.replicas
            )
            for i, source in enumerate(self.critics)
        }
        one_sided = self.config.gradient_penalty == "one_sided"
        variables = [critic.trainable_variables for critic in self.critics.values()]
        with tf.GradientTape() as tape:
            critic_losses, metrics = steps.critics_loss(
                self.separator,
                self.critics,
                (mix_u, voc_real, acc_real),
                self.shapes.desired,
                self.config.lam,
                one_sided,
                eps,
            )
            # each optimiser its own loss scale; the critics share no weight (see steps)
            scaled = tf.add_n(
                [self._scaled(self.critic_optimizers[s], loss) for s, loss in critic_losses.items()]
            )
        grads = tape.gradient(scaled, variables)
        return dict(zip(self.critics, grads)), metrics

    # --- per-replica steps ------------------------------------------------------------------
    def _per_replica_metrics(self, metrics):
        return {k: tf.cast(v, tf.float32) / self.replicas for k, v in metrics.items()}

    def _agreed(self, grads):
        """Under loss scaling, every replica skips a step when one overflows."""
        return distribute.agree_finite(grads) if self.mixed else grads

    def _supervised_replica(self, mix, acc, voc):
        grads, metrics = self._sup_grads(mix, acc, voc)
        grads = self._agreed(grads)
        self.separator_optimizer.apply_gradients(zip(grads, self.separator.trainable_variables))
        return self._per_replica_metrics(metrics)

    def _semi_replica(self, mix, acc, voc, mix_u):
        grads, metrics = self._semi_grads(mix, acc, voc, mix_u)
        grads = self._agreed(grads)
        self.separator_optimizer.apply_gradients(zip(grads, self.separator.trainable_variables))
        return self._per_replica_metrics(metrics)

    def _critic_replica(self, mix_u, voc_real, acc_real, seed):
        grads, metrics = self._critic_grads(
            mix_u, voc_real, acc_real, seed, distribute.replica_id()
        )
        for source, critic in self.critics.items():
            self.critic_optimizers[source].apply_gradients(
                zip(self._agreed(grads[source]), critic.trainable_variables)
            )
        return self._per_replica_metrics(metrics)

    def _critic_steps_replica(self, mix_u, voc_real, acc_real, seeds):
        """``len(seeds)`` critic iterations over stacked batches ``[n, B, ...]`` in one graph;
        returns the metrics averaged over the iterations."""
        first = self._critic_replica(mix_u[0], voc_real[0], acc_real[0], seeds[0])
        count = tf.shape(seeds, out_type=tf.int64)[0]
        sums = dict(first)
        for j in tf.range(1, count):
            metrics = self._critic_replica(mix_u[j], voc_real[j], acc_real[j], seeds[j])
            sums = {k: sums[k] + metrics[k] for k in sums}
        return {k: v / tf.cast(count, v.dtype) for k, v in sums.items()}

    def _term_gradients_fn(self, mix, acc, voc, mix_u):
        return steps.loss_term_gradients(
            self.separator,
            self.critics,
            (mix, acc, voc),
            mix_u,
            self.config.alpha,
            self.config.beta,
            self.shapes.desired,
        )

    # --- the public steps -------------------------------------------------------------------
    def update_separator_supervised(self, paired_batch) -> dict[str, float]:
        """One supervised step on ``(mix, acc, voc)``."""
        return self._supervised_fn(*paired_batch)

    def update_separator_semi(self, paired_batch, unpaired_batch) -> dict[str, float]:
        """One semi-supervised separator step: paired ``(mix, acc, voc)``, unpaired mixtures."""
        mix_u = unpaired_batch[0]
        return self._semi_fn(*paired_batch, mix_u)

    def update_critics(self, unpaired_batch, seed) -> dict[str, float]:
        """One step of each critic on an unpaired ``(mix, voc, acc)`` batch."""
        mix_u, voc, acc = unpaired_batch
        return self._critic_fn(mix_u, voc, acc, tf.constant(seed, tf.int64))

    def update_critics_stacked(self, unpaired_batches, seeds) -> dict[str, float]:
        """Each critic's steps on a list of unpaired ``(mix, voc, acc)`` batches, one per
        iteration, with ``seeds`` ``[[a, b], ...]`` (one per batch): one compiled call on one
        device, one call per iteration under several replicas (their batches cannot be
        stacked). Returns the metrics averaged over the iterations."""
        seeds = [[int(a), int(b)] for a, b in seeds]
        if self.replicas > 1:
            runs = [self.update_critics(b, s) for b, s in zip(unpaired_batches, seeds)]
            return {k: sum(float(r[k]) for r in runs) / len(runs) for k in runs[0]}
        mix, voc, acc = (tf.stack(part) for part in zip(*unpaired_batches))
        return self._critic_steps_fn(mix, voc, acc, tf.constant(seeds, tf.int64))

    def semi_iteration(self, paired_batch, critic_batches, unpaired_batch, seeds):
        """One outer iteration of semi-supervised training (:func:`.steps.semi_iteration`,
        compiled and distributed): the step of both critics on each unpaired batch of
        ``critic_batches`` with its seed of ``seeds``, then one separator step."""
        metrics = dict(self.update_critics_stacked(critic_batches, seeds))
        metrics.update(self.update_separator_semi(paired_batch, unpaired_batch))
        return metrics

    def loss_term_gradients(self, paired_batch, unpaired_batch) -> dict[str, float]:
        """Norm of each weighted separator loss term's gradient and its cosine with the
        supervised one (:func:`.steps.loss_term_gradients`), on one device only."""
        if self.replicas > 1:
            return {}
        return {
            k: float(v) for k, v in self._term_gradients(*paired_batch, unpaired_batch[0]).items()
        }

    def validation_loss(self, windows, batch_size: int = 16) -> float:
        """Masked MSE (vocals + accompaniment) over whole validation songs."""
        mix, acc, voc, mask = windows
        total, count = 0.0, 0.0
        for a in range(0, len(mix), batch_size):
            b = slice(a, a + batch_size)
            acc_est, voc_est = self._predict(tf.constant(mix[b]))
            m = mask[b]
            err = (acc_est.numpy() - acc[b]) ** 2 + (voc_est.numpy() - voc[b]) ** 2
            total += float((err * m).sum())
            count += float(m.sum()) * acc.shape[1]
        return total / max(count, 1.0)

    def checkpoint(self) -> tf.train.Checkpoint:
        items = {
            "separator": self.separator,
            "separator_optimizer": _inner(self.separator_optimizer),
            "step": self.step,
            "epoch": self.epoch,
            "bad_epochs": self.bad_epochs,
            "best_valid": self.best_valid,
            "data_seed": self.data_seed,
            "critic_warmup_done": self.critic_warmup_done,
        }
        for source in self.critics:
            items[f"critic_{source}"] = self.critics[source]
            items[f"critic_optimizer_{source}"] = _inner(self.critic_optimizers[source])
        return tf.train.Checkpoint(**items)
