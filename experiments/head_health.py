"""How often does the book's supervised training end with a healthy separator?

Trains the book's supervised run (``cpu`` profile, synthetic plan by default) once per seed
for each variant of the configuration and records the health check of each run
(:mod:`sepgan_lib.health`: an output silent on every validation song, or below the
mixture-as-estimate floor on most of them, is a failed run), with the vocals and
accompaniment SDR medians on the validation songs. Results are merged into a JSON file with
the command, date, commit and machine of each variant.

    python experiments/head_health.py --variant paper-heads --set output_activation=relu \\
        --set lr_warmup_steps=0 --seeds 10
    python experiments/head_health.py --variant cpu-default --seeds 10

``--judge RUN_DIR...`` records the health of run folders trained elsewhere (for example by an
older commit) under the variant's name instead of training.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # provenance.py beside this script

from provenance import git_commit, machine  # noqa: E402

DEFAULT_OUT = HERE / "results" / "head_health.json"


def _record(run_dir: Path, seed, health: dict | None, extra: dict) -> dict:
    outputs = (health or {}).get("outputs", {})
    return {
        "run": str(run_dir),
        "seed": seed,
        "healthy": bool(health) and health.get("ok") is True,
        "problems": (health or {}).get("problems", ["no health record"]),
        **{
            f"{source}_{key}": outputs.get(source, {}).get(field)
            for source in ("vocals", "accompaniment")
            for key, field in (("valid_SDR", "median_SDR"), ("floor_SDR", "median_floor_SDR"))
        },
        "vocals_peak": outputs.get("vocals", {}).get("peak"),
        **extra,
    }


def train_variant(args, overrides: dict) -> list[dict]:
    from sepgan_lib.config import make_config
    from sepgan_lib.train import train

    records = []
    for k in range(args.seeds):
        seed = args.first_seed + k
        config = make_config(args.profile, {**overrides, "seed": seed})
        run_dir = Path(args.run_root) / args.variant / f"seed-{seed}"
        started = time.time()
        result = train(run_dir, "supervised", config, args.plan, progress=False)
        record = _record(
            run_dir,
            seed,
            result.get("health"),
            {"best_valid_loss": result["best_valid_loss"], "seconds": time.time() - started},
        )
        print(json.dumps(record), flush=True)
        records.append(record)
    return records


def judge_runs(args) -> list[dict]:
    from sepgan_lib.config import make_config
    from sepgan_lib.health import check_run
    from sepgan_lib.plans import load_plan

    plan = load_plan(args.plan, None, make_config(args.profile))
    records = []
    for run_dir in map(Path, args.judge):
        finished = json.loads((run_dir / "finished.json").read_text())
        record = _record(
            run_dir,
            None,
            check_run(run_dir, plan),
            {"best_valid_loss": finished["best_valid_loss"]},
        )
        print(json.dumps(record), flush=True)
        records.append(record)
    return records


def main(argv=None) -> int:
    from sepgan_lib.config import parse_set_args

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", required=True, help="a name for this configuration")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--plan", default="synthetic")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--run-root", default=os.path.join("runs", "head_health"))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--note", default="", help="said next to the variant's results")
    parser.add_argument("--judge", nargs="*", default=None, metavar="RUN_DIR")
    args = parser.parse_args(argv)

    overrides = parse_set_args(args.set)
    started = time.time()
    records = judge_runs(args) if args.judge else train_variant(args, overrides)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"variants": {}}
    results["variants"][args.variant] = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "profile": args.profile,
        "plan": args.plan,
        "overrides": overrides,
        "note": args.note,
        "seconds": time.time() - started,
        "healthy": sum(r["healthy"] for r in records),
        "runs": len(records),
        "records": records,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{args.variant}: {results['variants'][args.variant]['healthy']} of {len(records)} healthy"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
