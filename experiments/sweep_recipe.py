"""Choose the semi-supervised recipe (num_disc, critic learning rate, alpha, beta, warm-up) on
the VALIDATION loss only, at reduced steps (issue 11).

One supervised model on ``synthetic_shift`` (8 paired songs, cpu profile), then from its best
weights, for the same separator steps on the same paired batches: the supervised control and
each semi-supervised variant. Per run: the best validation loss (style-b validation songs) and,
from ``diagnostics.json``, the median over logged steps of the adversarial gradient's norm
relative to the supervised one, its cosine with the supervised gradient and the critics'
real-minus-estimate score gap. Written to ``experiments/sweep_recipe.json`` after every run.
Test songs are not looked at.

    python experiments/sweep_recipe.py [--steps 100] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from paired_vs_unpaired import PLAN  # noqa: E402
from provenance import provenance  # noqa: E402

from sepgan_lib.config import make_config  # noqa: E402
from sepgan_lib.train import train  # noqa: E402

SUP = {"shift_paired": 8, "max_epochs": 6, "patience": 2}
WARM = {"num_disc": 5, "init_disc_lr": 5e-4, "critic_warmup_steps": 100}
VARIANTS = {
    "control": ("supervised", {}),
    "nd5_lr5e-4_warm100_a1e-3_b1e-3": ("semi", {**WARM, "alpha": 1e-3, "beta": 1e-3}),
    "nd5_lr5e-4_warm100_a3e-4_b1e-3": ("semi", {**WARM, "alpha": 3e-4, "beta": 1e-3}),
    "nd5_lr5e-4_warm100_a1e-3_b1e-2": ("semi", {**WARM, "alpha": 1e-3, "beta": 1e-2}),
    "cpu_profile_nd1_lr2e-4_nowarm": ("semi", {}),
}


def _diagnostics(run_dir: Path) -> dict:
    try:
        entries = json.loads((run_dir / "diagnostics.json").read_text())
    except (OSError, ValueError):
        return {}
    logged = [e for e in entries if e.get("phase") != "critic_warmup" and "grad_norm_adv" in e]
    if not logged:
        return {}

    def med(values):
        return statistics.median(values)

    gap = [
        e[f"real_score_{s}"] - e[f"fake_score_{s}"]
        for e in logged
        for s in ("vocals", "accompaniment")
    ]
    return {
        "logged_steps": len(logged),
        "adv_over_sup_grad_norm": med([e["grad_norm_adv"] / e["grad_norm_sup"] for e in logged]),
        "add_over_sup_grad_norm": med([e["grad_norm_add"] / e["grad_norm_sup"] for e in logged]),
        "cosine_adv_sup": med([e["grad_cosine_adv"] for e in logged]),
        "critic_real_minus_fake": med(gap),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="separator steps per variant")
    parser.add_argument("--only", default="", help="variants, comma separated")
    parser.add_argument("--run-root", default=str(HERE / "runs" / "sweep_recipe"))
    parser.add_argument("--out", default=str(HERE / "sweep_recipe.json"))
    args = parser.parse_args(argv)
    root = Path(args.run_root)
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    out = {
        **provenance(),
        "plan": PLAN,
        "profile": "cpu",
        "supervised": SUP,
        "steps_per_variant": args.steps,
        "selection": "lowest best validation loss (style-b validation songs); test not used",
        "runs": {},
    }

    def save():
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")

    t0 = time.time()
    sup = train(root / "sup", "supervised", make_config("cpu", SUP), plan=PLAN, progress=False)
    out["runs"]["supervised"] = {
        "steps": sup["steps"],
        "best_epoch": sup["best_epoch"],
        "best_valid_loss": sup["best_valid_loss"],
        "stopped": sup["stopped"],
        "seconds": time.time() - t0,
    }
    save()
    epochs = 2
    budget = {"epoch_it": args.steps // epochs, "max_epochs": epochs, "patience": epochs}
    for name in names:
        mode, settings = VARIANTS[name]
        config = make_config("cpu", {"shift_paired": 8, **budget, **settings})
        t0 = time.time()
        result = train(root / name, mode, config, plan=PLAN, init_from=root / "sup", progress=False)
        out["runs"][name] = {
            "mode": mode,
            "settings": settings,
            "steps": result["steps"],
            "best_valid_loss": result["best_valid_loss"],
            "valid_loss_per_epoch": [h["valid_loss"] for h in result["history"]],
            "healthy": (result.get("health") or {}).get("ok") is not False,
            "seconds": time.time() - t0,
            "diagnostics": _diagnostics(root / name),
        }
        out["loadavg_end"] = list(os.getloadavg())
        save()
        print(name, out["runs"][name]["best_valid_loss"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
