"""The paper's question, tested fairly: do unpaired songs help beyond more training?

A semi-supervised model trained from scratch and compared with a supervised one trained from
scratch measures convergence speed and initial-weight luck as much as the unpaired data. The
fair comparison starts both from the same supervised model:

1. ``supervised``: trained on the paired songs until its validation loss stops improving;
2. from its best weights (``init_from``), for the same number of separator steps on the same
   paired batches (the same seed):

   - ``control``: supervised training continued (equal compute, no unpaired data);
   - ``semi``: the semi-supervised recipe (:data:`.semi_recipe.CONTINUATION`), whose only
     difference is the unpaired data seen through the two critics;

3. ``control`` and ``semi`` evaluated on the test songs and compared per song
   (``compare.compare_results(control, semi)``: semi minus control, the median with a
   bootstrap 95 % interval).

The book's chapters 3-5 run one such point live; ``experiments/paired_vs_unpaired.py`` runs
the grid over paired-song counts and seeds, ``experiments/musdb7_recipe.py`` the real songs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from .config import Config, apply_overrides, make_config
from .paths import RESULTS, ROOT
from .plans import shift_splits
from .semi_recipe import continuation_config
from .train import train

RUNS = ("supervised", "control", "semi")
SOURCES = ("vocals", "accompaniment")
MODES = {"supervised": "supervised", "control": "supervised", "semi": "semi"}


def run_configs(
    config: Config,
    profile: str,
    changes: dict | None = None,
    semi_changes: dict | None = None,
) -> dict[str, Config]:
    """``{"supervised": config, "control": ..., "semi": ...}``: each run's configuration.

    ``changes`` apply to control and semi; ``semi_changes`` (an ablation, e.g.
    ``{"alpha": 0.0}``) to the semi run alone."""
    continued = continuation_config(config, profile, changes)
    semi = apply_overrides(continued, semi_changes) if semi_changes else continued
    return {"supervised": config, "control": continued, "semi": semi}


def run_dirs(run_root, config: Config, profile: str, plan) -> dict[str, Path]:
    """The folders of the book's three runs under ``run_root``, shared by all chapters:
    ``<plan>-<profile>-<run>-<digest>``.

    The digest is of the run's configuration and, for a continued run, of the folder it
    starts from, so a later build with another configuration (an upgraded profile, a
    ``--set``) trains anew instead of refusing the old run folder.
    """
    plan_label = Path(plan).stem if Path(plan).suffix else plan
    configs, dirs = run_configs(config, profile), {}
    for run in RUNS:  # the supervised run first: the others name its folder
        settings = configs[run].to_dict()
        if run != "supervised":
            settings["init_from"] = dirs["supervised"].name
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        dirs[run] = Path(run_root) / f"{plan_label}-{profile}-{run}-{digest}"
    return dirs


def train_point(
    run_dirs: dict[str, Path],
    config: Config,
    profile: str,
    plan,
    roots=None,
    progress: bool = False,
    changes: dict | None = None,
    only: tuple[str, ...] = RUNS,
    semi_changes: dict | None = None,
) -> dict[str, dict]:
    """Train (or reuse, when finished) the runs of one point, in order.

    ``run_dirs``: a folder for each of :data:`RUNS`; ``changes``: settings for control and
    semi on top of :data:`.semi_recipe.CONTINUATION`; ``semi_changes``: settings for the semi
    run alone; ``only``: the runs to train now (the supervised one first). Returns each run's
    ``train`` result. The control and semi runs start from the supervised run's best weights:
    callers check its health before they train them.
    """
    configs = run_configs(config, profile, changes, semi_changes)
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
RECORDED_GRID = RESULTS / "paired_vs_unpaired.json"


def recorded_result(name: str, root: str | Path | None = None) -> dict | None:
    """A recorded results file ``experiments/results/<name>`` of the checkout ``root``
    (default: the one this library runs from), or None when it is not there (a pip-installed
    library without the repository, as on Colab)."""
    path = Path(root or ROOT) / RESULTS / name
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


# --- the recorded real songs on both domains (experiments/musdb7_recipe.py --plan
# musdb7_domains) ------------------------------------------------------------------------------
DOMAINS = {
    "test_musdb": "paired domain",
    "test": "paired domain",
    "test_mir1k": "unpaired domain",
    "valid/musdb": "paired domain",  # the recipe search: each validation domain on its own
    "valid/mir1k": "unpaired domain",
}


def equal_steps_controls(seed_record: Mapping, method: str = "semi") -> list[str]:
    """The supervised continuations (``control``, ``control_remix``, ``control_long``, ...)
    of one seed of a recorded run with as many separator steps as ``method``'s, healthy ones
    only unless the seed was compared unhealthy."""
    runs, any_health = seed_record.get("runs", {}), seed_record.get("compared_unhealthy")
    steps = runs.get(method, {}).get("steps")
    return [
        name
        for name, run in runs.items()
        if name.startswith("control")
        and (steps is None or run["steps"] == steps)
        and (any_health or run.get("healthy", True))
    ]


def best_supervised(seed_record: Mapping, method: str = "semi") -> str | None:
    """The equal-steps supervised variant (plain or remixed) with the lowest validation loss of
    one seed of a recorded run: chosen on validation, as a practitioner would."""
    runs = seed_record.get("runs", {})
    candidates = equal_steps_controls(seed_record, method)
    return min(candidates, key=lambda n: runs[n]["best_valid_loss"]) if candidates else None


def domain_rows(recorded: Mapping, method: str = "semi") -> list[dict]:
    """One row per seed, test set, baseline and source of a recorded ``musdb7_recipe.py``
    result: ``method`` minus ``against`` (each equal-steps control, e.g. ``control`` and
    ``control_remix``, and ``best``, the one chosen on validation: ``against_run``), the
    median with its interval."""
    rows = []
    for seed in recorded["seeds"]:
        if seed.get("failures") and not seed.get("compared_unhealthy"):
            continue
        best = best_supervised(seed, method)
        for split, record in seed.get("splits", {}).items():
            for against in (*equal_steps_controls(seed, method), "best"):
                run = best if against == "best" else against
                diff = record["compare"].get(f"{method} - {run}")
                for source in SOURCES if diff else ():
                    rows.append(
                        {"seed": seed["seed"], "split": split, "method": method,
                         "against": against, "against_run": run, "source": source,
                         **diff[source], "n": diff["n"]}
                    )  # fmt: skip
    return rows


def domain_criterion(rows: Sequence[Mapping]) -> dict:
    """Issue 20's criterion on rows of :func:`domain_rows` against ``best``: above the best
    supervised model on the unpaired domain's vocals (interval above 0) on every seed, and
    not below it on the paired domain (every interval reaching 0 or above, both sources)."""
    best = [r for r in rows if r["against"] == "best"]
    unpaired = [r for r in best if DOMAINS.get(r["split"]) == "unpaired domain"]
    unpaired_vocals = [r for r in unpaired if r["source"] == "vocals"]
    paired = [r for r in best if DOMAINS.get(r["split"]) == "paired domain"]
    return {
        "seeds": sorted({r["seed"] for r in best}),
        "unpaired_vocals_above": sum(r["ci_low"] > 0 for r in unpaired_vocals),
        "unpaired_vocals": len(unpaired_vocals),
        "paired_not_below": sum(r["ci_high"] >= 0 for r in paired),
        "paired": len(paired),
        "met": bool(unpaired_vocals and paired)
        and all(r["ci_low"] > 0 for r in unpaired_vocals)
        and all(r["ci_high"] >= 0 for r in paired),
    }


def recipe_search(recorded: Mapping) -> list[dict]:
    """The semi-supervised variants of a recorded search (``musdb7_recipe.py --splits valid``),
    each against the best supervised model of its budget on each validation domain:
    ``steps`` and ``best_epochs`` (per seed), ``rows`` (:func:`domain_rows` against ``best``), ``criterion``
    (:func:`domain_criterion`) and ``worst``, the lowest median gain over the unpaired
    domain's vocals and both sources of the paired domain. Sorted best first: recipes that
    meet the criterion, then by ``worst``."""
    out = []
    for method in recorded["variants"]:
        if not method.startswith("semi"):
            continue
        rows = [
            r
            for r in domain_rows(recorded, method)
            if r["split"] in DOMAINS and r["against"] == "best"
        ]
        counted = [
            r["median_diff"]
            for r in rows
            if DOMAINS[r["split"]] == "paired domain" or r["source"] == "vocals"
        ]
        seeds = [s for s in recorded["seeds"] if method in s["runs"]]
        steps = {s["runs"][method]["steps"] for s in seeds}
        out.append(
            {"method": method, "steps": sorted(steps), "rows": rows,
             "best_epochs": [s["runs"][method]["best_epoch"] for s in seeds],
             "criterion": domain_criterion(rows), "worst": min(counted, default=float("-inf"))}
        )  # fmt: skip
    return sorted(out, key=lambda e: (not e["criterion"]["met"], -e["worst"]))


# --- the recorded more-unpaired-data experiment (results/unpaired_<N>.json) ---------------------
def unpaired_size_rows(root: str | Path | None = None, source: str = "vocals") -> list[dict]:
    """:func:`grid_rows` of every recorded ``results/unpaired_*.json`` (the 8-paired-song
    point of ``paired_vs_unpaired.py`` with the semi run's unpaired pools cut to
    ``unpaired_max_songs``), each row with ``unpaired``, its number of unpaired songs."""
    rows = []
    for path in sorted((Path(root or ROOT) / RESULTS).glob("unpaired_*.json")):
        recorded = json.loads(path.read_text())
        config = make_config(recorded["profile"], recorded.get("overrides"))
        full = shift_splits(config.shift_tracks)["train"]
        songs = recorded.get("semi_changes", {}).get("unpaired_max_songs") or full
        rows += [{"unpaired": min(songs, full), **row} for row in grid_rows(recorded, source)]
    return sorted(rows, key=lambda r: (r["unpaired"], r["seed"]))
