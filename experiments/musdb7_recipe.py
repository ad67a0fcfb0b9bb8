"""The fair test on real songs: the book's recipe on the ``musdb7`` plan (issue 11).

Paired MUSDB18(-7) train songs; unpaired MUSDB songs and MIR-1K clips; validation on MUSDB
songs and MIR-1K clips; ``test_mir1k`` (MIR-1K clips of other singers) a shifted test set,
``test`` the MUSDB test subset when the root holds it. One point of ``sepgan_lib.fair_comparison``
per seed:

1. the supervised model (the ``cpu`` profile: early stopping, at most 12 epochs of 100 steps);
2. from its best weights, the equal-steps control and the semi-supervised model
   (``semi_recipe.CONTINUATION``: 200 separator steps each);
3. all three, and the baselines (mixture, REPET-SIM, oracle IRM), scored with BSS Eval on
   ``valid`` and on every test set with songs; semi minus control (and each minus the
   supervised model) compared per song with a bootstrap 95 % interval.

The results JSON holds the command, date, commit, machine, the training time of each run and
the comparisons. Training is at most about 20 minutes per seed on 2 cores; scoring
the 123 clips of the shared data takes about as long again.

    python experiments/musdb7_recipe.py --musdb /data/MUSDB18-7 --mir1k /data/MIR-1K
    python experiments/musdb7_recipe.py --profile smoke --splits test_mir1k   # a few minutes

Both domains against a strong supervised baseline (issue 20): the plan ``musdb7_domains``
(24 MUSDB songs held out of training and selection as ``test_musdb``), validation balanced
over the two datasets, and besides the equal-steps control a control trained with remix
augmentation (``control_remix``) and the semi-supervised recipe with it (``semi_remix``)::

    python experiments/musdb7_recipe.py --plan musdb7_domains --seeds 0,1,2 \
        --set valid_balance=datasets --set valid_max_songs=16 \
        --variants supervised,control,control_remix,semi,semi_remix \
        --splits test_musdb,test_mir1k --out experiments/results/real_domains.json
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
from sepgan_lib.metrics import summarize  # noqa: E402
from sepgan_lib.plans import load_plan  # noqa: E402
from sepgan_lib.train import train  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "data"
PLAN = "musdb7"
# variant -> (mode, what it changes on top of the continuation); the supervised run is the
# start of every other one
LR_LOW = {"init_sup_sep_lr": 1e-4, "init_unsup_sep_lr": 1e-4}  # a fifth of the cpu profile's
LONG = {"max_epochs": 6, "patience": 6}  # 600 separator steps instead of 200
VARIANTS = {
    "supervised": ("supervised", None),
    "control": ("supervised", {}),
    "semi": ("semi", {}),
    "control_remix": ("supervised", {"remix": "REMIX"}),
    "semi_remix": ("semi", {"remix": "REMIX"}),
    # the recipe search (issue 20): one change each, chosen on validation; a change of the
    # separator's budget or learning rate has its own equal-steps controls
    "semi_lr_low": ("semi", LR_LOW),
    "control_lr_low": ("supervised", LR_LOW),
    "semi_long": ("semi", LONG),
    "control_long": ("supervised", LONG),
    "control_remix_long": ("supervised", {**LONG, "remix": "REMIX"}),
    "semi_strong": ("semi", {"alpha": 1e-2, "beta": 1e-2}),
    "semi_critics3": ("semi", {"num_disc": 3}),
    "semi_musdb_pools": ("semi", {"unpaired_datasets": "musdb"}),
}
PAIRS = (
    ("semi", "control"),
    ("control", "supervised"),
    ("semi", "supervised"),
    ("control_remix", "control"),
    ("semi", "control_remix"),
    ("semi_remix", "control_remix"),
    ("semi_remix", "control"),
)


def pairs(variants) -> list[tuple[str, str]]:
    """The comparisons of a run: :data:`PAIRS`, and every other semi-supervised variant
    against the supervised model, each equal-steps control and the plain semi recipe."""
    out = [(a, b) for a, b in PAIRS if a in variants and b in variants]
    controls = [v for v in variants if v.startswith("control")]
    for semi in variants:
        if VARIANTS[semi][0] == "semi" and semi not in ("semi", "semi_remix"):
            out += [(semi, b) for b in ("supervised", *controls, "semi") if b in variants]
    return out


def dataset_groups(data_plan, split: str) -> dict[str, set[str]]:
    """``{dataset: song names}`` of a split that mixes datasets (else ``{}``): each domain
    of a balanced validation set is also compared on its own (``valid/<dataset>``)."""
    groups: dict[str, set[str]] = {}
    for track in data_plan.tracks(split):
        groups.setdefault(track.dataset, set()).add(track.name)
    return groups if len(groups) > 1 else {}


def _comparison(base: dict, other: dict, allow_unhealthy: bool) -> dict:
    diff = compare.compare_results(base, other, allow_unhealthy=allow_unhealthy)
    return {"n": diff["n"], **compare.interval_of(diff)}


def _scores(run_dir, plan, plan_name, roots, split, name, allow_unhealthy, reuse):
    """A run's evaluation on ``split``; with ``reuse``, the one saved in its folder when it
    was written after the run finished (a second invocation that adds variants)."""
    saved, _ = evaluate.result_paths(run_dir, plan_name, split)
    finished = Path(run_dir) / "finished.json"
    if reuse and saved.exists() and saved.stat().st_mtime >= finished.stat().st_mtime:
        return {**json.loads(saved.read_text()), "files": {"json": str(saved)}}
    return evaluate.evaluate_run(
        run_dir,
        plan=plan,
        roots=roots,
        split=split,
        baselines=name == "supervised",
        progress=False,
        allow_unhealthy=allow_unhealthy,
    )


def _only(tracks: list[dict], names: set[str] | None) -> list[dict]:
    return [t for t in tracks if names is None or t["name"] in names]


def _medians(tracks: list[dict]) -> dict:
    return compare.sdr_medians({"summary": summarize(tracks)})


def _split_record(scores: dict, names, variants, allow_unhealthy: bool) -> dict:
    """Medians (runs and baselines) and the comparisons of :func:`pairs` over the songs of
    ``names`` (``None``: all)."""
    scores = {n: {**r, "tracks": _only(r["tracks"], names)} for n, r in scores.items()}
    sup = scores["supervised"]
    medians = {name: _medians(r["tracks"]) for name, r in scores.items()}
    for method, tracks in sup.get("baseline_tracks", {}).items():
        kept = _only(tracks, names)
        if kept:
            medians[f"baseline {method}"] = _medians(kept)
    return {
        "n": len(sup["tracks"]),
        "postfilter": sup["postfilter"],
        "sdr_median": medians,
        "compare": {
            f"{a} - {b}": _comparison(scores[b], scores[a], allow_unhealthy)
            for a, b in pairs(variants)
        },
    }


def _train_variant(name, dirs, config, profile, plan, roots, changes, remix):
    """Train (or reuse) one variant; every one but ``supervised`` starts from its weights."""
    mode, variant = VARIANTS[name]
    if variant is None:
        return train(dirs[name], mode, config, plan=plan, roots=roots, progress=False)
    variant = {k: (remix if v == "REMIX" else v) for k, v in variant.items()}
    continued = semi_recipe.continuation_config(config, profile, {**changes, **variant})
    return train(
        dirs[name],
        mode,
        continued,
        plan=plan,
        roots=roots,
        init_from=dirs["supervised"],
        progress=False,
    )


def run_seed(
    root: Path,
    profile,
    seed,
    roots,
    splits,
    overrides,
    changes,
    allow_unhealthy=False,
    plan=PLAN,
    variants=fair_comparison.RUNS,
    remix=0.5,
    reuse_scores=False,
) -> dict:
    """One seed: train the variants, score them and the baselines on ``splits``. A run
    that fails its health check ends the seed (``failures``) unless ``allow_unhealthy`` (for
    tests of this script: the seed is then marked ``"compared_unhealthy"``, not a result)."""
    config = make_config(profile, {**overrides, "seed": seed})
    dirs = {name: root / f"seed{seed}" / name for name in variants}
    out = {"seed": seed, "runs": {}, "failures": [], "splits": {}}
    for name in variants:
        if out["failures"] and not allow_unhealthy:
            break  # nothing is continued from a broken supervised model
        started = time.time()
        result = _train_variant(name, dirs, config, profile, plan, roots, changes, remix)
        out["runs"][name] = {
            "steps": result["steps"],
            "best_epoch": result["best_epoch"],
            "best_valid_loss": result["best_valid_loss"],
            "stopped": result["stopped"],
            "train_seconds": sum(h["seconds"] for h in result["history"]),
            "wall_seconds": time.time() - started,
            "healthy": not health.failed(result.get("health")),
        }
        if not out["runs"][name]["healthy"]:
            out["failures"].append(name)
    if out["failures"]:
        if not allow_unhealthy:
            return out
        out["compared_unhealthy"] = True
    data_plan = load_plan(plan, roots, config)
    for split in splits:
        scores = {
            name: _scores(
                dirs[name], plan, data_plan.name, roots, split, name, allow_unhealthy, reuse_scores
            )
            for name in variants
        }
        out["splits"][split] = _split_record(scores, None, variants, allow_unhealthy)
        for dataset, names in dataset_groups(data_plan, split).items():
            record = _split_record(scores, names, variants, allow_unhealthy)
            out["splits"][f"{split}/{dataset}"] = record
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    parser.add_argument("--musdb", default=str(SHARED / "MUSDB18-7"), help="MUSDB18(-7) root")
    parser.add_argument("--mir1k", default=str(SHARED / "MIR-1K"), help="MIR-1K root")
    parser.add_argument("--plan", default=PLAN, help="musdb7 or musdb7_domains")
    parser.add_argument(
        "--variants",
        default=",".join(fair_comparison.RUNS),
        help=f"comma-separated runs, supervised first, of: {', '.join(VARIANTS)}",
    )
    parser.add_argument("--remix", type=float, default=0.5, help="remix share of *_remix runs")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument(
        "--splits", default=None, help="roles to score (default: valid and every test set)"
    )
    parser.add_argument("--run-root", default=str(HERE / "runs" / "musdb7_recipe"))
    parser.add_argument("--out", default=str(HERE / "results" / "musdb7_recipe.json"))
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for every run")
    parser.add_argument(
        "--recipe-set", action="append", default=[], help="KEY=VALUE for control and semi"
    )
    parser.add_argument(
        "--reuse-scores",
        action="store_true",
        help="reuse a run's saved evaluation of a split (written after the run finished)",
    )
    parser.add_argument(
        "--allow-unhealthy",
        action="store_true",
        help="score and compare runs that failed their health check (for tests: not a result)",
    )
    args = parser.parse_args(argv)
    roots = {"musdb": args.musdb, "mir1k": args.mir1k}
    overrides = parse_set_args(args.set)
    changes = parse_set_args(args.recipe_set)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants or variants[0] != "supervised":
        parser.error(f"--variants: supervised first, then of {', '.join(VARIANTS)}; got {variants}")
    data_plan = load_plan(args.plan, roots, make_config(args.profile, overrides))
    if args.splits:
        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    else:
        splits = ["valid"] + [s for s in evaluate.test_splits(data_plan)]
    empty = [s for s in splits if not data_plan.tracks(s)]
    if empty:
        parser.error(f"no songs in role(s) {', '.join(empty)} of plan {args.plan!r} with {roots}")
    out = {
        **provenance(),
        "profile": args.profile,
        "plan": args.plan,
        "variants": variants,
        "remix": args.remix,
        "roots": roots,
        "songs_per_role": {r: len(t) for r, t in data_plan.roles.items()},
        "overrides": overrides,
        "recipe": {**semi_recipe.continuation_overrides(args.profile), **changes},
        "seeds": [],
    }
    started = time.time()
    for seed in [int(s) for s in args.seeds.split(",")]:
        point = run_seed(
            Path(args.run_root),
            args.profile,
            seed,
            roots,
            splits,
            overrides,
            changes,
            args.allow_unhealthy,
            plan=args.plan,
            variants=variants,
            remix=args.remix,
            reuse_scores=args.reuse_scores,
        )
        out["seeds"].append(point)
        out["seconds"] = time.time() - started
        out["loadavg_end"] = list(os.getloadavg())
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
        for line in _lines(point):
            print(line, flush=True)
    print(f"written {args.out}")
    return 0


def _lines(point: dict) -> list[str]:
    head = f"seed {point['seed']}: "
    if point["failures"] and not point.get("compared_unhealthy"):
        return [head + f"FAILED health check: {', '.join(point['failures'])}"]
    lines = []
    for split, record in point["splits"].items():
        med = record["sdr_median"]
        lines.append(
            head
            + f"{split} ({record['n']} songs) vocals SDR medians: "
            + ", ".join(f"{name} {m['vocals']:.2f}" for name, m in med.items())
        )
        for pair, diff in record["compare"].items():
            d = diff["vocals"]
            lines.append(
                f"  {pair}: vocals {d['median_diff']:+.2f} dB "
                f"[{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
