"""A training run: supervised or semi-supervised, with early stopping, checkpoints and logs.

:func:`train` is four plain parts around the engine (:class:`.engine.Trainer`):

1. :func:`_prepare`: check the run folder, decode the songs into pools, build the engine,
   restore a checkpoint (or ``--init-from`` weights) and open the batch streams;
2. :func:`_run_epoch`: ``epoch_it`` separator steps (in a semi-supervised run each is an
   outer iteration: ``num_disc`` critic steps, then one separator step), with TensorBoard
   scalars and diagnostics every ``log_every`` steps and checkpoints every
   ``checkpoint_every``;
3. :func:`_end_epoch`: the validation loss over whole validation songs, the best separator
   exported to ``best/separator.keras``, ``history.json`` and a checkpoint;
4. :func:`_finish`: the health check of the best separator and ``finished.json``.

Training stops after ``patience`` epochs without improvement (1 = the original's rule) or
``max_epochs``. Everything needed to continue (weights, optimisers, counters, the best loss so
far) is in ``checkpoints/``: the data pipelines are indexed by the step counter, so a resumed
run draws the batches the interrupted one would have drawn.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from . import distribute, pipeline, runfolder, spectral
from .cache import write_json
from .config import Config, make_config
from .engine import MODES, Trainer, make_strategy
from .errors import SepganError, TrainingError
from .health import check_run, format_health
from .jsonfiles import load_json
from .plans import load_plan
from .pools import Pools, build_pools
from .semi_recipe import Diagnostics, critic_warmup, finite
from .separate import load_separator
from .shapes import crop_center


def _init_weights(init_from) -> list | None:
    """The weights of ``--init-from``'s best separator, loaded before anything is written
    (a model that does not load is named with its path and the reason)."""
    if not init_from:
        return None
    path = Path(init_from) / "best" / "separator.keras"
    try:
        return load_separator(path).get_weights()
    except SepganError as err:
        raise TrainingError(f"--init-from: {err}") from None


def _set_init_weights(separator: keras.Model, weights: list) -> None:
    try:
        separator.set_weights(weights)
    except ValueError as err:
        raise TrainingError(
            f"--init-from: its separator has another architecture (num_layers/base_filters): {err}"
        ) from err


def _history(run_dir: Path, epoch: int) -> list:
    """``history.json``'s entries up to ``epoch`` (a checkpoint may be older than the file)."""
    path = run_dir / "history.json"
    entries = load_json(path, [], expect=list)
    if not all(isinstance(h, dict) and isinstance(h.get("epoch"), int) for h in entries):
        raise TrainingError(f"{path}: an entry is not an epoch record; the file was damaged")
    return [h for h in entries if h["epoch"] <= epoch]


@dataclass
class _Run:
    """What the parts of one :func:`train` call share."""

    run_dir: Path
    mode: str
    config: Config
    plan: object
    chief: bool
    progress: bool
    trainer: Trainer
    manager: distribute.ChiefCheckpointManager
    pools: Pools
    seed: int
    history: list
    resumed_from: int | None
    stop_after_steps: int | None
    streams: dict = field(default_factory=dict)
    windows: tuple = ()
    valid_groups: dict = field(default_factory=dict)  # dataset -> windows (valid_balance)
    writer: object = None
    diagnostics: Diagnostics | None = None
    started: float = field(default_factory=time.time)
    steps_this_call: int = 0
    epoch_started: float = 0.0
    epoch_means: dict = field(default_factory=dict)  # the last epoch's mean step metrics

    @property
    def best_dir(self) -> Path:
        return self.run_dir / "best"

    def batches(self, make, pool, **kw):
        """Per-replica slices of global batches: each worker reads its replicas' examples."""
        config, seed = self.config, self.seed
        return iter(
            distribute.distributed_dataset(
                self.trainer.strategy,
                lambda first, stop, replicas: make(
                    pool, config, seed, replica_range=(first, stop), replicas=replicas, **kw
                ),
            )
        )


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
    run = _prepare(
        Path(run_dir), mode, config, plan, roots, init_from, resume, progress, strategy,
        stop_after_steps,
    )  # fmt: skip
    if isinstance(run, dict):  # finished before
        return run
    while (stopped := _stop_reason(run)) is None:
        if not _run_epoch(run):
            return _interrupted(run)
        _end_epoch(run)
    return _finish(run, stopped)


def _prepare(
    run_dir, mode, config, plan, roots, init_from, resume, progress, strategy, stop_after_steps
):
    """Everything before the first epoch; the summary instead when the run finished before.
    A first start that fails leaves nothing behind (:func:`.runfolder.undo_failed_start`)."""
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
    runfolder.check_all(run_dir, config, mode, plan, init_from)
    init_weights = _init_weights(init_from)
    with runfolder.undo_failed_start(run_dir, enabled=chief) as locked:
        runfolder.prepare(run_dir, config, mode, plan, init_from, chief)
        locked()
        finished = load_json(run_dir / "finished.json")
        if finished is not None:
            return {**finished, "run_dir": str(run_dir)}  # as given: the folder may have moved
        ckpt_dir = run_dir / "checkpoints"
        if not resume and tf.train.latest_checkpoint(str(ckpt_dir)):
            raise TrainingError(
                f"{run_dir} already holds checkpoints; pass --resume to continue or use a new "
                "folder"
            )
        pools = build_pools(plan, config, mode, progress=progress)
        runfolder.check_pools(pools, mode, config)  # before any model is built
        if chief:
            runfolder.save(run_dir, config, mode, plan, init_from)
        run = _start(run_dir, mode, config, plan, chief, progress, strategy, pools, init_weights)
        run.stop_after_steps = stop_after_steps
        _open_streams(run)
    return run


def _start(run_dir, mode, config, plan, chief, progress, strategy, pools, init_weights) -> _Run:
    """The engine, restored from the last checkpoint (or given ``--init-from``'s weights)."""
    trainer = Trainer(config, mode, strategy)
    checkpoint = trainer.checkpoint()
    manager = distribute.ChiefCheckpointManager(checkpoint, run_dir / "checkpoints", chief, keep=3)
    resumed_from = None
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        resumed_from = int(trainer.step.numpy())
        if progress:
            print(f"resuming {run_dir} from step {resumed_from} ({manager.latest_checkpoint})")
    elif init_weights is not None:
        _set_init_weights(trainer.separator, init_weights)
    history = _history(run_dir, int(trainer.epoch.numpy()))
    return _Run(
        run_dir, mode, config, plan, chief, progress, trainer, manager, pools,
        int(trainer.data_seed.numpy()), history, resumed_from, None,
    )  # fmt: skip


def _open_streams(run: _Run) -> None:
    """The batch streams from the current step, the validation windows, the logs; then the
    critic warm-up of a semi-supervised run (what of it is not done yet)."""
    config, trainer, pools = run.config, run.trainer, run.pools
    step0 = int(trainer.step.numpy())
    run.streams["paired"] = run.batches(pipeline.paired_dataset, pools.paired, start=step0)
    if run.mode == "semi":
        run.streams["critic"] = run.batches(
            pipeline.unpaired_dataset, pools.unpaired, start=step0 * config.num_disc, stream=1
        )
        run.streams["separator_unpaired"] = run.batches(
            pipeline.unpaired_dataset, pools.unpaired, start=step0, stream=2
        )
    run.windows = pipeline.validation_windows(pools.valid, config, config.valid_max_seconds)
    if config.valid_balance == "datasets":
        run.valid_groups = {
            dataset: pipeline.validation_windows(cache, config, config.valid_max_seconds)
            for dataset, cache in pools.valid.by_dataset().items()
        }
    run.writer = (
        tf.summary.create_file_writer(str(run.run_dir / "logs"))
        if run.chief
        else tf.summary.create_noop_writer()
    )
    warmup_done = int(trainer.critic_warmup_done.numpy())
    run.diagnostics = Diagnostics(run.run_dir, step0, warmup_done, run.writer, run.chief)
    if run.mode == "semi" and warmup_done < config.critic_warmup_steps:
        warmup_batches = run.batches(
            pipeline.unpaired_dataset, pools.unpaired, start=warmup_done, stream=3
        )
        bar = tqdm(
            total=config.critic_warmup_steps,
            initial=warmup_done,
            desc="critic warm-up",
            disable=not run.progress,
            leave=False,
        )
        critic_warmup(trainer, warmup_batches, run.seed, run.manager, run.diagnostics, bar)
        bar.close()
    run.started = time.time()


def _stop_reason(run: _Run) -> str | None:
    """Why training stops before the next epoch (None: it goes on)."""
    config, trainer = run.config, run.trainer
    if int(trainer.epoch.numpy()) >= config.max_epochs:
        return f"max_epochs ({config.max_epochs}) reached"
    if int(trainer.bad_epochs.numpy()) >= config.patience:
        return f"early stopping: no improvement for {config.patience} epoch(s)"
    return None


def _train_step(run: _Run, step: int) -> dict[str, float]:
    """One separator step (a semi-supervised outer iteration); its metrics as floats."""
    config, trainer = run.config, run.trainer
    paired_batch = next(run.streams["paired"])
    if run.mode == "semi":
        seeds = [[run.seed, step * config.num_disc + j] for j in range(config.num_disc)]
        critic_input = [next(run.streams["critic"]) for _ in range(config.num_disc)]
        unpaired_batch = next(run.streams["separator_unpaired"])
        metrics = trainer.semi_iteration(paired_batch, critic_input, unpaired_batch, seeds)
    else:
        unpaired_batch = None
        metrics = trainer.update_separator_supervised(paired_batch)
    values = finite(metrics)
    if (step + 1) % config.log_every == 0:
        with run.writer.as_default(step=step + 1):
            for k, v in values.items():
                tf.summary.scalar(f"train/{k}", v)
        terms = (
            trainer.loss_term_gradients(paired_batch, unpaired_batch) if run.mode == "semi" else {}
        )
        run.diagnostics.add({"step": step + 1, **values, **terms}, step + 1)
    return values


def _run_epoch(run: _Run) -> bool:
    """The separator steps left in this epoch; False when ``stop_after_steps`` interrupted
    the call (after a checkpoint). The epoch's mean metrics go to ``run.epoch_means``."""
    config, trainer = run.config, run.trainer
    epoch = int(trainer.epoch.numpy())
    epoch_end = (epoch + 1) * config.epoch_it
    sums: dict[str, float] = {}
    step = int(trainer.step.numpy())
    bar = tqdm(
        total=config.epoch_it,
        initial=step - epoch * config.epoch_it,
        desc=f"{run.mode} epoch {epoch + 1}",
        disable=not run.progress,
        leave=False,
    )
    run.epoch_started, counted = time.time(), 0
    while step < epoch_end:
        values = _train_step(run, step)
        trainer.step.assign_add(1)
        step += 1
        counted += 1
        run.steps_this_call += 1
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v
        bar.update(1)
        bar.set_postfix(loss=f"{values.get('sep_loss', values.get('sup_loss')):.4f}")
        if step % config.checkpoint_every == 0 and step < epoch_end:
            run.manager.save(checkpoint_number=step)
        if run.stop_after_steps is not None and run.steps_this_call >= run.stop_after_steps:
            run.manager.save(checkpoint_number=step)
            bar.close()
            return False
    bar.close()
    run.epoch_means = {k: v / max(counted, 1) for k, v in sums.items()}
    return True


def _interrupted(run: _Run) -> dict:
    steps = int(run.trainer.step.numpy())
    return {"run_dir": str(run.run_dir), "mode": run.mode, "steps": steps, "interrupted": True}


def _validation_loss(run: _Run) -> tuple[float, dict[str, float]]:
    """The loss over the validation songs, and with ``valid_balance = "datasets"`` each
    dataset's loss: then the loss is their mean, so no dataset outvotes another by its size."""
    if not run.valid_groups:
        return run.trainer.validation_loss(run.windows), {}
    by_dataset = {d: run.trainer.validation_loss(w) for d, w in run.valid_groups.items()}
    return float(np.mean(list(by_dataset.values()))), by_dataset


def _end_epoch(run: _Run) -> None:
    """Validate, keep the best separator, write the epoch's history entry and a checkpoint."""
    trainer = run.trainer
    epoch, step = int(trainer.epoch.numpy()), int(trainer.step.numpy())
    valid_loss, by_dataset = _validation_loss(run)
    if not math.isfinite(valid_loss):
        raise TrainingError("non-finite validation loss; the last good checkpoint is kept")
    improved = valid_loss < float(trainer.best_valid.numpy())
    if improved:
        trainer.best_valid.assign(valid_loss)
        trainer.bad_epochs.assign(0)
        if run.chief:
            _export_best(trainer, run.best_dir)
    else:
        trainer.bad_epochs.assign_add(1)
    trainer.epoch.assign_add(1)
    entry = {
        "epoch": epoch + 1,
        "step": step,
        "valid_loss": valid_loss,
        **({"valid_loss_by_dataset": by_dataset} if by_dataset else {}),
        "improved": improved,
        "seconds": time.time() - run.epoch_started,
        **run.epoch_means,
    }
    run.history.append(entry)
    if run.chief:
        write_json(run.run_dir / "history.json", run.history)
    run.manager.save(checkpoint_number=step)
    if run.chief:
        with run.writer.as_default(step=step):
            tf.summary.scalar("valid/loss", valid_loss)
            _log_preview(trainer, run.windows)
        run.writer.flush()
    if run.progress:
        tqdm.write(
            f"{run.mode} epoch {epoch + 1}: valid loss {valid_loss:.5f}"
            + (" (best)" if improved else "")
        )


def _finish(run: _Run, stopped: str) -> dict:
    """The health check of the best separator and the run's summary (``finished.json``)."""
    history, config = run.history, run.config
    best = min(history, key=lambda h: h["valid_loss"]) if history else None
    health = None
    if run.chief and config.health_check and (run.best_dir / "separator.keras").exists():
        health = check_run(run.run_dir, run.plan)
        if history:
            history[-1]["health"] = "healthy" if health["ok"] is not False else "failed"
            write_json(run.run_dir / "history.json", history)
        if run.progress:  # (quiet callers read result["health"]; the CLI warns on failure)
            tqdm.write(format_health(health))
    result = {
        "run_dir": str(run.run_dir),
        "mode": run.mode,
        "history": history,
        "best_epoch": best["epoch"] if best else None,
        "best_valid_loss": best["valid_loss"] if best else None,
        "stopped": stopped,
        "steps": int(run.trainer.step.numpy()),
        "seconds_last_call": time.time() - run.started,
        "problems": run.pools.problems(),
        "resumed_from": run.resumed_from,
        "health": health,
    }
    if run.chief:
        write_json(run.run_dir / "finished.json", result)
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
