"""Supervised and semi-supervised adversarial training with early stopping and checkpoints.

Three small steps, each one gradient tape:

- :meth:`Trainer.update_separator_supervised`: MSE on log-magnitudes of a paired batch.
- :meth:`Trainer.update_critics`: one WGAN-GP step per critic on fresh unpaired batches
  (real vocals/accompaniment against the separator's estimates on unpaired mixtures).
- :meth:`Trainer.update_separator_semi`: supervised MSE + ``alpha`` * adversarial loss +
  ``beta`` * additive penalty.

An outer iteration of semi-supervised training is ``num_disc`` critic updates then one
separator update; an epoch is ``epoch_it`` separator updates followed by the validation loss
over whole validation songs. Training stops after ``patience`` epochs without improvement
(1 = the original's rule) or ``max_epochs``; the best separator is exported to
``best/separator.keras``. Everything needed to continue (weights, optimisers, counters, the
best loss so far) is in ``checkpoints/``: the data pipelines are indexed by the step counter,
so a resumed run draws the batches the interrupted one would have drawn.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import distribute, pipeline, runfolder, spectral, steps
from .config import Config, make_config, parse_set_args
from .critic import build_critic
from .errors import SepganError, TrainingError
from .health import REMEDY, check_run, failed, format_health
from .runfolder import DEPLOYMENT_KEYS  # noqa: F401  (keys a resumed run may change)
from .semi_recipe import Diagnostics, critic_warmup, finite
from .shapes import crop_center
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


# ------------------------------------------------------------------------------------------
@dataclass
class Pools:
    paired: pipeline.SpectrogramCache
    valid: pipeline.SpectrogramCache
    unpaired: dict[str, pipeline.SpectrogramCache] | None = None

    def problems(self) -> list[str]:
        caches = [self.paired, self.valid, *(self.unpaired or {}).values()]
        return sorted({p for c in caches for p in c.problems})


def build_pools(plan, config: Config, mode: str, progress: bool = False) -> Pools:
    """Decode the songs of a plan's roles into spectrogram caches."""
    shapes = pipeline.model_shapes(config)
    roles = plan.roles
    for role in ["paired", "valid"] + (
        ["unpaired_mix", "unpaired_vocals", "unpaired_acc"] if mode == "semi" else []
    ):
        if not roles.get(role):
            raise SepganError(f"data plan {plan.name!r} has no song in role {role!r}")
    kw = {"progress": progress}
    paired = pipeline.SpectrogramCache.from_tracks(
        roles["paired"], config, min_frames=shapes.input[1], label="paired songs", **kw
    )
    valid_tracks = roles["valid"][: config.valid_max_songs or None]
    valid = pipeline.SpectrogramCache.from_tracks(
        valid_tracks, config, min_frames=1, label="validation songs", **kw
    )
    unpaired = None
    if mode == "semi":
        # pool -> (role, source, shortest usable song in frames, sources that must be audible)
        pools = {
            "mix": ("unpaired_mix", "mixture", shapes.input[1], ()),
            "vocals": ("unpaired_vocals", "vocals", shapes.desired[1], ("vocals",)),
            "acc": ("unpaired_acc", "accompaniment", shapes.desired[1], ("accompaniment",)),
        }
        unpaired = {
            pool: pipeline.SpectrogramCache.from_tracks(
                roles[role],
                config,
                (source,),
                min_frames,
                require_audible=audible,
                label=f"unpaired {source}",
                **kw,
            )
            for pool, (role, source, min_frames, audible) in pools.items()
        }
    pipeline.forget_spectrograms()
    return Pools(paired, valid, unpaired)


def _load_weights_from(run_dir: Path, separator: keras.Model) -> None:
    path = Path(run_dir) / "best" / "separator.keras"
    if not path.exists():
        raise TrainingError(f"--init-from: {path} does not exist (train that run first)")
    source = keras.models.load_model(path, compile=False)
    try:
        separator.set_weights(source.get_weights())
    except ValueError as err:
        raise TrainingError(
            f"--init-from: {path} has another architecture (num_layers/base_filters): {err}"
        ) from err


_finite = finite


@runfolder.releases_locks
def train(
    run_dir,
    mode: str = "supervised",
    config: Config | None = None,
    plan=None,
    roots=None,
    init_from=None,
    resume: bool = True,
    progress: bool = True,
    strategy: tf.distribute.Strategy | None = None,
    stop_after_steps: int | None = None,
) -> dict:
    """Train a separator in ``run_dir``; returns the run summary (see ``history.json``).

    ``plan``: a plan name/YAML path or a loaded ``DataPlan``. A finished run with the same
    configuration is returned as it is; an unfinished one continues from its last checkpoint
    when ``resume`` (otherwise an error). ``stop_after_steps`` stops early after that many
    separator steps in this call (for tests and benchmarks).

    ``strategy`` (default: ``config.strategy``): see :mod:`.distribute`. Under several
    workers every worker calls ``train`` with the same arguments; only the chief writes
    ``run_dir``, and every worker resumes from its checkpoints.
    """
    from tqdm.auto import tqdm

    from .plans import load_plan

    run_dir = Path(run_dir)
    config = config or make_config("cpu")
    if mode not in MODES:
        raise SepganError(f"mode must be one of {MODES}, got {mode!r}")
    # first: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op
    strategy = strategy or make_strategy(config)
    chief = distribute.is_chief(strategy)
    progress = progress and chief
    if not hasattr(plan, "roles"):
        plan = load_plan(plan, roots, config)
    # nothing is written into run_dir before the configuration, plan and --init-from are checked
    runfolder.prepare(run_dir, config, mode, plan, init_from, chief)
    finished = runfolder.read_json(run_dir / "finished.json", None)
    if finished is not None:
        return finished
    ckpt_dir = run_dir / "checkpoints"
    if not resume and tf.train.latest_checkpoint(str(ckpt_dir)):
        raise TrainingError(
            f"{run_dir} already holds checkpoints; pass --resume to continue or use a new folder"
        )
    pools = build_pools(plan, config, mode, progress=progress)
    runfolder.check_pools(pools, mode, config)  # before any model is built
    if chief:
        runfolder.save(run_dir, config, mode, plan, init_from)
    trainer = Trainer(config, mode, strategy)
    checkpoint = trainer.checkpoint()
    manager = distribute.ChiefCheckpointManager(checkpoint, ckpt_dir, chief, keep=3)
    resumed_from = None
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        resumed_from = int(trainer.step.numpy())
        if progress:
            print(f"resuming {run_dir} from step {resumed_from} ({manager.latest_checkpoint})")
    elif init_from:
        _load_weights_from(Path(init_from), trainer.separator)
    step0, seed = int(trainer.step.numpy()), int(trainer.data_seed.numpy())
    history = [
        h
        for h in runfolder.read_json(run_dir / "history.json", [])
        if h["epoch"] <= int(trainer.epoch.numpy())
    ]

    def batches(make, pool, **kw):
        """Per-replica slices of global batches: each worker reads its replicas' examples."""
        return iter(
            distribute.distributed_dataset(
                trainer.strategy,
                lambda first, stop, replicas: make(
                    pool, config, seed, replica_range=(first, stop), replicas=replicas, **kw
                ),
            )
        )

    paired = batches(pipeline.paired_dataset, pools.paired, start=step0)
    if mode == "semi":
        critic_batches = batches(
            pipeline.unpaired_dataset, pools.unpaired, start=step0 * config.num_disc, stream=1
        )
        separator_unpaired = batches(
            pipeline.unpaired_dataset, pools.unpaired, start=step0, stream=2
        )
    windows = pipeline.validation_windows(pools.valid, config, config.valid_max_seconds)
    writer = (
        tf.summary.create_file_writer(str(run_dir / "logs"))
        if chief
        else tf.summary.create_noop_writer()
    )
    warmup_done = int(trainer.critic_warmup_done.numpy())
    diagnostics = Diagnostics(run_dir, step0, warmup_done, writer, chief)
    if mode == "semi" and warmup_done < config.critic_warmup_steps:
        warmup_batches = batches(
            pipeline.unpaired_dataset, pools.unpaired, start=warmup_done, stream=3
        )
        bar = tqdm(
            total=config.critic_warmup_steps,
            initial=warmup_done,
            desc="critic warm-up",
            disable=not progress,
            leave=False,
        )
        critic_warmup(trainer, warmup_batches, seed, manager, diagnostics, bar)
        bar.close()
    best_dir = run_dir / "best"
    started, steps_this_call, stopped = time.time(), 0, None

    while stopped is None:
        epoch = int(trainer.epoch.numpy())
        if epoch >= config.max_epochs:
            stopped = f"max_epochs ({config.max_epochs}) reached"
            break
        if int(trainer.bad_epochs.numpy()) >= config.patience:
            stopped = f"early stopping: no improvement for {config.patience} epoch(s)"
            break
        epoch_end = (epoch + 1) * config.epoch_it
        sums: dict[str, float] = {}
        step = int(trainer.step.numpy())
        bar = tqdm(
            total=config.epoch_it,
            initial=step - epoch * config.epoch_it,
            desc=f"{mode} epoch {epoch + 1}",
            disable=not progress,
            leave=False,
        )
        epoch_started, counted = time.time(), 0
        while step < epoch_end:
            metrics = {}
            paired_batch = next(paired)
            if mode == "semi":
                seeds = [[seed, step * config.num_disc + j] for j in range(config.num_disc)]
                critic_input = [next(critic_batches) for _ in range(config.num_disc)]
                unpaired_batch = next(separator_unpaired)
                metrics.update(
                    trainer.semi_iteration(paired_batch, critic_input, unpaired_batch, seeds)
                )
            else:
                metrics.update(trainer.update_separator_supervised(paired_batch))
            values = _finite(metrics)
            trainer.step.assign_add(1)
            step += 1
            counted += 1
            steps_this_call += 1
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            bar.set_postfix(loss=f"{values.get('sep_loss', values.get('sup_loss')):.4f}")
            if step % config.log_every == 0:
                with writer.as_default(step=step):
                    for k, v in values.items():
                        tf.summary.scalar(f"train/{k}", v)
                terms = (
                    trainer.loss_term_gradients(paired_batch, unpaired_batch)
                    if mode == "semi"
                    else {}
                )
                diagnostics.add({"step": step, **values, **terms}, step)
            if step % config.checkpoint_every == 0 and step < epoch_end:
                manager.save(checkpoint_number=step)
            if stop_after_steps is not None and steps_this_call >= stop_after_steps:
                manager.save(checkpoint_number=step)
                bar.close()
                return {"run_dir": str(run_dir), "mode": mode, "steps": step, "interrupted": True}
        bar.close()
        valid_loss = trainer.validation_loss(windows)
        if not math.isfinite(valid_loss):
            raise TrainingError("non-finite validation loss; the last good checkpoint is kept")
        improved = valid_loss < float(trainer.best_valid.numpy())
        if improved:
            trainer.best_valid.assign(valid_loss)
            trainer.bad_epochs.assign(0)
            if chief:
                _export_best(trainer, best_dir)
        else:
            trainer.bad_epochs.assign_add(1)
        trainer.epoch.assign_add(1)
        entry = {
            "epoch": epoch + 1,
            "step": step,
            "valid_loss": valid_loss,
            "improved": improved,
            "seconds": time.time() - epoch_started,
            **{k: v / max(counted, 1) for k, v in sums.items()},
        }
        history.append(entry)
        if chief:
            runfolder.write_json(run_dir / "history.json", history)
        manager.save(checkpoint_number=step)
        if chief:
            with writer.as_default(step=step):
                tf.summary.scalar("valid/loss", valid_loss)
                _log_preview(trainer, windows)
            writer.flush()
        if progress:
            tqdm.write(
                f"{mode} epoch {epoch + 1}: valid loss {valid_loss:.5f}"
                + (" (best)" if improved else "")
            )

    best = min(history, key=lambda h: h["valid_loss"]) if history else None
    health = None
    if chief and config.health_check and (best_dir / "separator.keras").exists():
        health = check_run(run_dir, plan)
        if history:
            history[-1]["health"] = "healthy" if health["ok"] is not False else "failed"
            runfolder.write_json(run_dir / "history.json", history)
        if progress:  # (quiet callers read result["health"]; the CLI warns on failure)
            tqdm.write(format_health(health))
    result = {
        "run_dir": str(run_dir),
        "mode": mode,
        "history": history,
        "best_epoch": best["epoch"] if best else None,
        "best_valid_loss": best["valid_loss"] if best else None,
        "stopped": stopped,
        "steps": int(trainer.step.numpy()),
        "seconds_last_call": time.time() - started,
        "problems": pools.problems(),
        "resumed_from": resumed_from,
        "health": health,
    }
    if chief:
        runfolder.write_json(run_dir / "finished.json", result)
    return result


def _export_best(trainer: Trainer, best_dir: Path) -> None:
    best_dir.mkdir(parents=True, exist_ok=True)
    trainer.separator.save(best_dir / "separator.keras")
    for source, critic in trainer.critics.items():
        critic.save(best_dir / f"critic_{source}.keras")


def _log_preview(trainer: Trainer, windows) -> None:
    """Spectrogram images of a fixed validation excerpt (the first window) for TensorBoard."""
    mix, acc, voc, _ = windows
    acc_est, voc_est = trainer._predict(tf.constant(mix[:1]))
    mix_crop = crop_center(mix[:1], trainer.shapes.desired)
    panels = [mix_crop[0], voc[0], voc_est.numpy()[0], acc[0], acc_est.numpy()[0]]
    peak = max(float(np.max(p)) for p in panels) or 1.0
    images = np.stack([np.flipud(p) / peak for p in panels])
    tf.summary.image("valid/mix_voc_vocest_acc_accest", images, max_outputs=5)
    magnitude = spectral.from_log(np.squeeze(voc_est.numpy()[0], -1))
    audio = spectral.griffin_lim(magnitude, n_iter=16)
    tf.summary.audio(
        "valid/vocals_estimate", audio[None, :, None], sample_rate=trainer.config.expected_sr
    )


def cli_train(args) -> int:
    config = make_config(args.profile, parse_set_args(args.set))
    result = train(
        args.run_dir,
        args.mode,
        config,
        plan=args.plan,
        roots=args.root,
        init_from=args.init_from,
        resume=args.resume,
        progress=not args.quiet,
    )
    print(
        f"{args.mode} run in {result['run_dir']}: {result['steps']} steps, best epoch "
        f"{result['best_epoch']} (validation loss {result['best_valid_loss']:.5f}); {result['stopped']}"
    )
    for problem in result.get("problems", []):
        print(f"  note: {problem}")
    if failed(result.get("health")):
        print(
            f"sepgan: warning: {result['run_dir']} FAILED its health check: "
            f"{'; '.join(result['health']['problems'])}. Its scores are not a result; "
            f"{REMEDY}.",
            file=sys.stderr,
        )
        return 0 if args.allow_unhealthy else 3
    return 0
