"""Do unpaired recordings make a better separator than the paired songs alone? (issue 11)

For each number of paired songs (``--paired 2,4,8,16``) and seed (``--seeds 3``), on the
``synthetic_shift`` plan (paired songs of style a; unpaired pools, validation and test songs
of style b):

1. the supervised model (``SUP_SETTINGS``: trained until its validation loss stops improving);
2. from its best weights, for the same number of separator steps on the same paired batches,
   the equal-compute control (``--mode supervised --init-from SUP``) and the semi-supervised
   model (``--mode semi --init-from SUP``, the recipe ``fair_test.CONTINUATION``): the unpaired data is the
   only difference between the two;
3. both evaluated on the test songs (BSS Eval, ``evaluate.evaluate_run``) and compared per
   song (``evaluate.compare_results``: semi minus control, median with a bootstrap 95%
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

from sepgan_lib import evaluate, fair_test, health  # noqa: E402
from sepgan_lib.config import make_config, parse_set_args  # noqa: E402
from sepgan_lib.train import train  # noqa: E402

PLAN = "synthetic_shift"
# The supervised model: trained to convergence (its validation loss stopped improving); the
# cpu profile's own max_epochs and patience, written out so that the results file says so.
SUP_SETTINGS = {"max_epochs": 12, "patience": 2}
# Control and semi-supervised continuation: the library's recipe (fair_test.CONTINUATION,
# chosen on the validation loss by experiments/sweep_recipe.py, see sweep_recipe.json).


def _train(run_dir: Path, mode: str, config, init_from=None) -> dict:
    t0 = time.time()
    result = train(run_dir, mode, config, plan=PLAN, init_from=init_from, progress=False)
    return {
        "run_dir": str(run_dir),
        "steps": result["steps"],
        "best_epoch": result["best_epoch"],
        "best_valid_loss": result["best_valid_loss"],
        "stopped": result["stopped"],
        "seconds": time.time() - t0,
        "healthy": not health.failed(result.get("health")),
    }


def _sup_settings(profile: str) -> dict:
    return {} if profile == "smoke" else SUP_SETTINGS  # smoke: its own two tiny epochs


def _medians(result: dict) -> dict:
    return {s: result["summary"][s]["SDR"]["median"] for s in ("vocals", "accompaniment")}


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
    """One point of the grid: supervised, then control and semi from its weights, compared.

    ``semi_changes`` (an ablation, e.g. ``{"alpha": 0.0}``) apply to the semi run only, kept
    in the folder ``semi_name``: the supervised and control runs of the grid are reused."""
    folder = root / f"paired{paired}-seed{seed}"
    base = {**overrides, "shift_paired": paired, "seed": seed}
    sup_config = make_config(profile, {**base, **_sup_settings(profile)})
    point = {"paired": paired, "seed": seed, "runs": {}, "failures": []}
    point["runs"]["supervised"] = _train(folder / "sup", "supervised", sup_config)
    if not point["runs"]["supervised"]["healthy"]:
        point["failures"].append("supervised")
        if not allow_unhealthy:
            return point
    cont_config = make_config(profile, {**base, **recipe})  # = fair_test.continuation_config
    configs = {"control": cont_config, "semi": cont_config.replace(**(semi_changes or {}))}
    folders = {"control": folder / "control", "semi": folder / semi_name}
    for name, mode in (("control", "supervised"), ("semi", "semi")):
        point["runs"][name] = _train(folders[name], mode, configs[name], init_from=folder / "sup")
        if not point["runs"][name]["healthy"]:
            point["failures"].append(name)
    if point["failures"]:
        if not allow_unhealthy:
            return point
        point["compared_unhealthy"] = True
    scores = {
        name: evaluate.evaluate_run(
            folders[name],
            plan=PLAN,
            split="test",
            progress=False,
            allow_unhealthy=allow_unhealthy,
        )
        for name in ("control", "semi")
    }
    diff = evaluate.compare_results(
        scores["control"], scores["semi"], allow_unhealthy=allow_unhealthy
    )
    point["n_test"] = diff["n"]
    point["postfilter"] = scores["control"]["postfilter"]
    point["sdr_median"] = {name: _medians(r) for name, r in scores.items()}
    point["semi_minus_control"] = {
        s: {k: diff[s][k] for k in ("median_diff", "ci_low", "ci_high", "wins", "losses")}
        for s in ("vocals", "accompaniment")
    }
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
    recipe = fair_test.continuation_overrides(args.profile)
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
