"""What a fair semi-supervised run needs besides the steps: the recipe, a critic warm-up and
diagnostics.

- :data:`CONTINUATION`: the settings of the semi-supervised continuation of a supervised run
  (and of its equal-steps control, :mod:`.fair_comparison`), :func:`continuation_config`
  applies them;

- :func:`critic_warmup`: ``config.critic_warmup_steps`` critic iterations against the frozen
  separator (e.g. the supervised run's best weights, ``--init-from``) before any separator
  step, so that the adversarial gradient comes from critics that already tell real sources
  from estimates, instead of from critics that lag behind the separator. The iterations done
  are counted by a checkpointed variable (``Trainer.critic_warmup_done``): a resumed run goes
  on where it stopped and never repeats them.
- :class:`Diagnostics`: a per-step record (``RUN_DIR/diagnostics.json``, a list of entries, and
  TensorBoard ``diagnostics/...``) of every ``log_every``-th separator step: the step's losses,
  each critic's mean score on real and on estimated patches (``real_score_<source>``,
  ``fake_score_<source>``, averaged over the step's critic iterations) and, in semi-supervised
  runs, the norm of each weighted separator loss term's gradient and its cosine with the
  supervised gradient (``grad_norm_sup|adv|add``, ``grad_cosine_adv|add``). Warm-up entries
  have ``"phase": "critic_warmup"`` and the iteration count in ``critic_iteration``.
  ``history.json`` keeps its per-epoch entries unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path

import tensorflow as tf

from .cache import write_json
from .config import Config, apply_overrides
from .errors import TrainingError
from .jsonfiles import load_json

DIAGNOSTICS = "diagnostics.json"

# The continuation: a fixed budget (patience = max_epochs: every epoch runs, the best epoch
# by validation loss is kept) and the critic settings chosen on the validation loss only by
# experiments/sweep_recipe.py (sweep_recipe.json: one critic iteration per separator step at
# lr 2e-4, no warm-up, alpha = beta = 0.001 beat five iterations at 5e-4 after a warm-up).
CONTINUATION = {
    "max_epochs": 2,
    "patience": 2,
    "num_disc": 1,
    "init_disc_lr": 2e-4,
    "critic_warmup_steps": 0,
    "alpha": 1e-3,
    "beta": 1e-3,
}
# smoke: one tiny epoch, and a short warm-up and two critic iterations so tests exercise them
SMOKE_CONTINUATION = {"max_epochs": 1, "patience": 1, "critic_warmup_steps": 2, "num_disc": 2}


def continuation_overrides(profile: str) -> dict:
    """The continuation's settings on top of ``profile`` (``smoke`` has its own tiny ones)."""
    return dict(SMOKE_CONTINUATION if profile == "smoke" else CONTINUATION)


def continuation_config(config: Config, profile: str, changes: dict | None = None) -> Config:
    """``config`` (the supervised run's) with the continuation's settings and ``changes``:
    control and semi share it, so the unpaired data is the only difference between them."""
    return apply_overrides(config, {**continuation_overrides(profile), **(changes or {})})


class Diagnostics:
    """The per-step diagnostics of a run folder; entries after ``step`` (the checkpoint a run
    resumes from) are dropped, since the resumed run draws those steps again."""

    def __init__(self, run_dir: Path, step: int, warmup_done: int, writer, chief: bool):
        self.path, self.writer, self.chief = Path(run_dir) / DIAGNOSTICS, writer, chief
        entries = load_json(self.path, [], expect=list)
        self.entries = [e for e in entries if isinstance(e, dict) and _kept(e, step, warmup_done)]

    def add(self, entry: dict, tensorboard_step: int, prefix: str = "diagnostics") -> None:
        self.entries.append(entry)
        if not self.chief:
            return
        write_json(self.path, self.entries, indent=1)
        with self.writer.as_default(step=tensorboard_step):
            for key, value in entry.items():
                if isinstance(value, float):
                    tf.summary.scalar(f"{prefix}/{key}", value)


def _kept(entry: dict, step: int, warmup_done: int) -> bool:
    if entry.get("phase") == "critic_warmup":
        return entry.get("critic_iteration", 0) <= warmup_done
    return entry.get("step", 0) <= step


def finite(metrics: dict) -> dict[str, float]:
    values = {k: float(v) for k, v in metrics.items()}
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise TrainingError(f"non-finite loss ({', '.join(bad)}); the last good checkpoint is kept")
    return values


def critic_warmup(trainer, batches, seed: int, manager, diagnostics: Diagnostics, bar=None):
    """Critic iterations against the frozen separator until ``critic_warmup_steps`` are done.

    ``batches``: an iterator of unpaired batches starting at the iteration already done.
    Iterations run ``num_disc`` at a time (one compiled call); every ``log_every``-th call is
    logged and every ``checkpoint_every``-th call checkpointed (at separator step 0).
    """
    config = trainer.config
    total, done, calls = config.critic_warmup_steps, int(trainer.critic_warmup_done.numpy()), 0
    while done < total:
        count = min(config.num_disc, total - done)
        # negative indices: the gradient-penalty draws differ from those of the main loop
        seeds = [[seed, -(done + j + 1)] for j in range(count)]
        metrics = finite(
            trainer.update_critics_stacked([next(batches) for _ in range(count)], seeds)
        )
        trainer.critic_warmup_done.assign_add(count)
        done, calls = done + count, calls + 1
        if bar is not None:
            bar.update(count)
        if calls % config.log_every == 0 or done >= total:
            entry = {"phase": "critic_warmup", "critic_iteration": done, "step": 0, **metrics}
            diagnostics.add(entry, done, prefix="critic_warmup")
        if calls % config.checkpoint_every == 0 or done >= total:
            manager.save(checkpoint_number=int(trainer.step.numpy()))
    return done
