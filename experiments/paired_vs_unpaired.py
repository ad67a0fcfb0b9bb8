"""Do unpaired recordings make a better separator than the paired songs alone? (issue 11)

For each number of paired songs (``--paired 2,4,8,16``) and seed (``--seeds 3``), on the
``synthetic_shift`` plan (paired songs of style a; unpaired pools, validation and test songs
of style b):

1. the supervised model (``SUP_SETTINGS``: trained until its validation loss stops improving);
2. from its best weights, for the same number of separator steps on the same paired batches,
   the equal-steps control (``--mode supervised --init-from SUP``) and the semi-supervised
   model (``--mode semi --init-from SUP``, the recipe ``semi_recipe.CONTINUATION``): the unpaired data is the
   only difference between the two;
3. both evaluated on the test songs (BSS Eval, ``evaluate.evaluate_run``) and compared per
   song (``compare.compare_results``: semi minus control, median with a bootstrap 95%
   interval).

A run that fails its health check is counted as a failure (``failures`` in the JSON) and its
point is not compared (with ``--allow-unhealthy`` it is compared all the same and marked
``"compared_unhealthy": true``: for tests of this script, not a result). The results JSON holds the command, the date, the git commit, the
machine and, per point, the vocals and accompaniment SDR medians of both models, the paired
difference with its interval and ``n_test``.

    python experiments/paired_vs_unpaired.py                       # cpu profile, the full grid
    python experiments/paired_vs_unpaired.py --profile smoke --paired 2 --seeds 1   # a minute
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from provenance import provenance  # noqa: E402

from sepgan_lib import compare, evaluate, fair_comparison, health, semi_recipe  # noqa: E402
from sepgan_lib.config import make_config, parse_set_args  # noqa: E402

PLAN = "synthetic_shift"
# The supervised model: trained to convergence (its validation loss stopped improving); the
# cpu profile's own max_epochs and patience, written out so that the results file says so.
SUP_SETTINGS = {"max_epochs": 12, "patience": 2}
# Control and semi-supervised continuation: the library's recipe (semi_recipe.CONTINUATION,
# chosen on the validation loss by experiments/sweep_recipe.py, see sweep_recipe.json).


def _run_record(run_dir: Path, result: dict, seconds: float) -> dict:
    return {
        "run_dir": str(run_dir),
        "steps": result["steps"],
        "best_epoch": result["best_epoch"],
        "best_valid_loss": result["best_valid_loss"],
        "stopped": result["stopped"],
        "seconds": seconds,
        "healthy": not health.failed(result.get("health")),
    }


def _sup_settings(profile: str) -> dict:
    return {} if profile == "smoke" else SUP_SETTINGS  # smoke: its own two tiny epochs


def run_point(
    root: Path,
    profile: str,
    paired: int,
    seed: int,
    overrides: dict,
    recipe: dict,
    allow_unhealthy: bool = False,
    semi_changes: dict | None = None,
    semi_name: str = "semi",
):
    """One point of the grid (:func:`sepgan_lib.fair_comparison.train_point`): supervised,
    then control and semi from its weights, compared.

    ``semi_changes`` (an ablation, e.g. ``{"alpha": 0.0}``) apply to the semi run only, kept
    in the folder ``semi_name``: the supervised and control runs of the grid are reused."""
    folder = root / f"paired{paired}-seed{seed}"
    base = {**overrides, "shift_paired": paired, "seed": seed}
    sup_config = make_config(profile, {**base, **_sup_settings(profile)})
    dirs = {"supervised": folder / "sup", "control": folder / "control", "semi": folder / semi_name}
    point = {"paired": paired, "seed": seed, "runs": {}, "failures": []}
    for name in fair_comparison.RUNS:
        started = time.time()
        result = fair_comparison.train_point(
            dirs, sup_config, profile, PLAN, changes=recipe, only=(name,), semi_changes=semi_changes
        )[name]
        point["runs"][name] = _run_record(dirs[name], result, time.time() - started)
        if not point["runs"][name]["healthy"]:
            point["failures"].append(name)
            if name == "supervised" and not allow_unhealthy:
                return point  # nothing is continued from a broken supervised model
    if point["failures"]:
        if not allow_unhealthy:
            return point
        point["compared_unhealthy"] = True
    scores = {
        name: evaluate.evaluate_run(
            dirs[name],
            plan=PLAN,
            split="test",
            progress=False,
            allow_unhealthy=allow_unhealthy,
        )
        for name in ("control", "semi")
    }
    diff = compare.compare_results(
        scores["control"], scores["semi"], allow_unhealthy=allow_unhealthy
    )
    point["n_test"] = diff["n"]
    point["postfilter"] = scores["control"]["postfilter"]
    point["sdr_median"] = {name: compare.sdr_medians(r) for name, r in scores.items()}
    point["semi_minus_control"] = compare.interval_of(diff)
    return point


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    parser.add_argument("--paired", default="2,4,8,16", help="paired songs, comma separated")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--run-root", default=str(HERE / "runs" / "paired_vs_unpaired"))
    parser.add_argument("--out", default=str(HERE / "results" / "paired_vs_unpaired.json"))
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for every run")
    parser.add_argument(
        "--recipe-set", action="append", default=[], help="KEY=VALUE for control and semi"
    )
    parser.add_argument(
        "--semi-set",
        action="append",
        default=[],
        help="KEY=VALUE for the semi run only (an ablation; use with --semi-name)",
    )
    parser.add_argument("--semi-name", default="semi", help="folder of the semi run")
    parser.add_argument(
        "--allow-unhealthy",
        action="store_true",
        help="compare points with unhealthy runs too (still counted as failures; for tests)",
    )
    args = parser.parse_args(argv)
    paired = [int(p) for p in args.paired.split(",") if p.strip()]
    overrides = parse_set_args(args.set)
    recipe = semi_recipe.continuation_overrides(args.profile)
    recipe.update(parse_set_args(args.recipe_set))
    semi_changes = parse_set_args(args.semi_set)
    if semi_changes and args.semi_name == "semi":
        parser.error("--semi-set needs --semi-name (the grid's own semi runs keep 'semi')")
    started = time.time()
    out = {
        **provenance(),
        "profile": args.profile,
        "plan": PLAN,
        "overrides": overrides,
        "supervised_settings": _sup_settings(args.profile),
        "recipe": recipe,
        "semi_changes": semi_changes,
        "points": [],
    }
    root = Path(args.run_root)
    # seeds outer: an interrupted grid still holds whole seeds (results written after each point)
    for seed in range(args.seeds):
        for n in paired:
            point = run_point(
                root,
                args.profile,
                n,
                seed,
                overrides,
                recipe,
                args.allow_unhealthy,
                semi_changes,
                args.semi_name,
            )
            out["points"].append(point)
            out["failures"] = sum(len(p["failures"]) for p in out["points"])
            out["seconds"] = time.time() - started
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(out, indent=1) + "\n")  # after every point
            print(_line(point), flush=True)
    out["loadavg_end"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(out['points'])} points, {out['failures']} failed run(s); {args.out}")
    return 0


def _line(point: dict) -> str:
    head = f"paired {point['paired']:>2} seed {point['seed']}: "
    if point["failures"] and "semi_minus_control" not in point:
        return head + f"FAILED health check: {', '.join(point['failures'])}"
    d = point["semi_minus_control"]["vocals"]
    return head + (
        f"vocals SDR semi - control {d['median_diff']:+.2f} dB "
        f"[{d['ci_low']:+.2f}, {d['ci_high']:+.2f}] over {point['n_test']} test songs"
    )


if __name__ == "__main__":
    sys.exit(main())
