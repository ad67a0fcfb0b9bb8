"""The paper's question, tested fairly: do unpaired songs help beyond more training?

A semi-supervised model trained from scratch and compared with a supervised one trained from
scratch measures convergence speed and initial-weight luck as much as the unpaired data. The
fair comparison starts both from the same supervised model:

1. ``supervised``: trained on the paired songs until its validation loss stops improving;
2. from its best weights (``init_from``), for the same number of separator steps on the same
   paired batches (the same seed):

   - ``control``: supervised training continued (equal compute, no unpaired data);
   - ``semi``: the semi-supervised recipe (:data:`CONTINUATION`), whose only difference is
     the unpaired data seen through the two critics;

3. ``control`` and ``semi`` evaluated on the test songs and compared per song
   (``evaluate.compare_results(control, semi)``: semi minus control, the median with a
   bootstrap 95 % interval).

The book's chapters 3-5 run one such point live; ``experiments/paired_vs_unpaired.py`` runs
the grid over paired-song counts and seeds, ``experiments/musdb7_recipe.py`` the real songs.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config, apply_overrides

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
RUNS = ("supervised", "control", "semi")
MODES = {"supervised": "supervised", "control": "supervised", "semi": "semi"}


def continuation_overrides(profile: str) -> dict:
    """The continuation's settings on top of ``profile`` (``smoke`` has its own tiny ones)."""
    return dict(SMOKE_CONTINUATION if profile == "smoke" else CONTINUATION)


def continuation_config(config: Config, profile: str, changes: dict | None = None) -> Config:
    """``config`` (the supervised run's) with the continuation's settings and ``changes``:
    control and semi share it, so the unpaired data is the only difference between them."""
    return apply_overrides(config, {**continuation_overrides(profile), **(changes or {})})


def run_configs(config: Config, profile: str, changes: dict | None = None) -> dict[str, Config]:
    """``{"supervised": config, "control": ..., "semi": ...}``: each run's configuration."""
    continued = continuation_config(config, profile, changes)
    return {"supervised": config, "control": continued, "semi": continued}


def train_point(
    run_dirs: dict[str, Path],
    config: Config,
    profile: str,
    plan,
    roots=None,
    progress: bool = False,
    changes: dict | None = None,
    only: tuple[str, ...] = RUNS,
) -> dict[str, dict]:
    """Train (or reuse, when finished) the runs of one point, in order.

    ``run_dirs``: a folder for each of :data:`RUNS`; ``changes``: settings for control and
    semi on top of :data:`CONTINUATION`; ``only``: the runs to train now (the supervised one
    first). Returns each run's ``train`` result. The control and semi runs start from the
    supervised run's best weights: callers check its health before they train them.
    """
    from .train import train

    configs = run_configs(config, profile, changes)
    results = {}
    for name in only:
        init_from = None if name == "supervised" else run_dirs["supervised"]
        results[name] = train(
            run_dirs[name],
            MODES[name],
            configs[name],
            plan=plan,
            roots=roots,
            init_from=init_from,
            progress=progress,
        )
    return results


# --- the recorded grid (experiments/paired_vs_unpaired.py) ------------------------------------
RECORDED_GRID = Path("experiments") / "results" / "paired_vs_unpaired.json"


def recorded_result(name: str, root: str | Path | None = None) -> dict | None:
    """A recorded results file ``experiments/results/<name>`` of the checkout ``root``
    (default: the one this library runs from), or None when it is not there (a pip-installed
    library without the repository, as on Colab)."""
    import json

    from .book import ROOT  # the checkout this library runs from

    path = Path(root or ROOT) / Path(RECORDED_GRID).parent / name
    if not path.exists():
        return None
    return json.loads(path.read_text())


def recorded_grid(root: str | Path | None = None) -> dict | None:
    """The recorded results of ``experiments/paired_vs_unpaired.py`` (see
    :func:`recorded_result`)."""
    return recorded_result(Path(RECORDED_GRID).name, root)


def grid_rows(recorded: dict, source: str = "vocals") -> list[dict]:
    """One row per compared point of a recorded grid: ``paired``, ``seed``, ``n_test``, the
    SDR medians of control and semi, and semi minus control (median, interval, wins)."""
    rows = []
    for point in recorded["points"]:
        if "semi_minus_control" not in point or point.get("compared_unhealthy"):
            continue
        diff = point["semi_minus_control"][source]
        rows.append(
            {
                "paired": point["paired"],
                "seed": point["seed"],
                "n_test": point["n_test"],
                "control": point["sdr_median"]["control"][source],
                "semi": point["sdr_median"]["semi"][source],
                "semi - control": diff["median_diff"],
                "ci_low": diff["ci_low"],
                "ci_high": diff["ci_high"],
                "wins": diff["wins"],
                "losses": diff["losses"],
            }
        )
    return rows
