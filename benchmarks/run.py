"""Benchmarks of sepgan_lib against this machine's limits (issue 6).

    .venv/bin/python benchmarks/run.py                  # everything, about 10-15 minutes
    .venv/bin/python benchmarks/run.py --parts train    # some parts only (comma separated)
    .venv/bin/python benchmarks/run.py --update-readme  # also rewrite the README's table

Every measurement runs in its own process (``--worker``), so that thread counts and oneDNN
can differ per variant and peak memory (ru_maxrss) is per measurement. The parent prints a
table, writes ``benchmarks/results.json`` (every figure, the matmul reference, the load
average at start and end) and, with ``--update-readme``, the table between the markers of
``benchmarks/README.md``. Parts: matmul, train, pipeline, musdb, separate, evaluate, memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MUSDB = ROOT.parent / "shared" / "data" / "MUSDB18-7"
PARTS = ("matmul", "train", "critics", "pipeline", "musdb", "separate", "evaluate", "memory")
# The semi-supervised recipe's critic iterations (cpu profile with num_disc 5, see README.md).
CRITICS_RUN = {"profile": "cpu", "overrides": {"num_disc": 5}, "rounds": 4}
PAPER_BATCH = 64

# What each part runs (kept small for the 15-minute budget on 2 cores).
TRAIN_RUNS = {
    "paper": {
        "profile": "paper",
        "modes": ["function", "xla", "eager"],
        "batch_sup": 8,
        "batch_semi": 2,
        "rounds": 3,
        "semi_rounds": 1,
        "count_flops": True,
    },
    "cpu": {
        "profile": "cpu",
        "modes": ["function", "xla", "eager"],
        "batch_sup": 8,
        "batch_semi": 8,
        "rounds": 3,
        "semi_rounds": 2,
        "count_flops": True,
    },
}
# Settings measured against their profile's default tf.function step, each in a process of
# its own (oneDNN, the thread pools, Grappler's options and the dtype policy are fixed when
# TensorFlow starts). A batch size is compared per example. "bfloat16" is Keras's
# mixed_bfloat16 policy (oneDNN's AMX / AVX-512 BF16 kernels where the CPU has them): other
# numbers, so it is measured here and not used by the book.
TRAIN_VARIANTS = {
    "cpu batch_16": {"profile": "cpu", "batch_sup": 16, "batch_semi": 16},
    "cpu batch_32": {"profile": "cpu", "batch_sup": 32, "batch_semi": 32},
    "cpu intra1_inter1": {"profile": "cpu", "threads": {"intra": 1, "inter": 1}},
    "cpu intra1_inter2": {"profile": "cpu", "threads": {"intra": 1, "inter": 2}},
    "cpu intra2_inter1": {"profile": "cpu", "threads": {"intra": 2, "inter": 1}},
    "cpu onednn_off": {"profile": "cpu", "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    "cpu remapper_off": {"profile": "cpu", "grappler": {"remapping": False}},
    "cpu bfloat16": {"profile": "cpu", "policy": "mixed_bfloat16"},
    "paper batch_16": {"profile": "paper", "batch_sup": 16, "batch_semi": 4},
    "paper intra1_inter2": {"profile": "paper", "threads": {"intra": 1, "inter": 2}},
    "paper onednn_off": {"profile": "paper", "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    "paper remapper_off": {"profile": "paper", "grappler": {"remapping": False}},
    "paper bfloat16": {"profile": "paper", "policy": "mixed_bfloat16"},
}
QUICK_VARIANTS = ("cpu batch_32", "cpu intra1_inter1", "cpu bfloat16", "paper bfloat16")
VARIANT_RUN = {"modes": ["function"], "rounds": 2, "semi_rounds": 1, "count_flops": False}

TARGETS = {
    # issue 23: the cpu profile's steps at half the matmul rate, the paper shapes' at 70 %
    "train_fraction_of_matmul": {"cpu": 0.50, "paper": 0.70},
    "compiled_speedup": 1.8,
    "pipeline_headroom": 3.0,
    "first_batch_s": 5.0,
    "separation_rtf": 200.0,
    "eval_parallel_speedup": 1.7,
}


# --- running workers -------------------------------------------------------------------------


def run_worker(name: str, spec: dict, env: dict | None = None, timeout: float = 600) -> dict:
    """Run ``workers.<name>(spec)`` in a fresh process; its dict, or ``{"error": ...}``."""
    child_env = dict(os.environ)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, str(HERE / "run.py"), "--worker", name]
        cmd += ["--spec", json.dumps(spec), "--out-file", str(out)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, env=child_env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
            return {"error": f"exit {proc.returncode}", "stderr_tail": tail, "wall_s": wall}
        result = json.loads(out.read_text())
        result["wall_s"] = wall
        return result


def worker_main(name: str, spec_text: str, out_file: str) -> int:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    import workers  # noqa: PLC0415  (benchmarks/workers.py)

    result = workers.WORKERS[name](json.loads(spec_text))
    Path(out_file).write_text(json.dumps(result, indent=1, default=float))
    return 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the parts -------------------------------------------------------------------------------


def part_matmul(results: dict, when: str) -> None:
    env = {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}
    results.setdefault("matmul", {})[f"numpy_{when}"] = run_worker("matmul_numpy", {}, env)


def part_train(results: dict, quick: bool) -> None:
    out = results.setdefault("train", {})
    for label, spec in TRAIN_RUNS.items():
        spec = dict(spec)
        if quick:
            spec.update(rounds=2, semi_rounds=1)
        log(f"  train: {label} ({', '.join(spec['modes'])})")
        out[label] = run_worker("train_steps", spec, timeout=480)
    variants = out.setdefault("variants", {})
    for label, variant in TRAIN_VARIANTS.items():
        if quick and label not in QUICK_VARIANTS:
            continue
        spec = {**TRAIN_RUNS[variant["profile"]], **VARIANT_RUN}
        spec.update({k: v for k, v in variant.items() if k != "env"})
        log(f"  train: {label}")
        variants[label] = run_worker("train_steps", spec, variant.get("env"), timeout=480)


def part_critics(results: dict) -> None:
    results["critics"] = run_worker("critic_iterations", CRITICS_RUN, timeout=600)


def part_pipeline(results: dict) -> None:
    spec = {"profiles": ["paper", "cpu"], "batches": 20}
    results["pipeline"] = run_worker("pipeline_rate", spec)


def part_musdb(results: dict) -> None:
    if not MUSDB.is_dir():
        results["musdb"] = {"skipped": f"{MUSDB} is absent"}
        return
    out = results.setdefault("musdb", {})
    spec = {"root": str(MUSDB), "profile": "paper"}
    # the songs decoded one by one (as before issue 23) against in parallel, each from an
    # empty cache, one after the other in this run; then warm (the parallel run's cache)
    with tempfile.TemporaryDirectory(prefix="sepgan-bench-cache-") as one_by_one:
        log("  musdb: cold, decoded one by one")
        out["cold_one_by_one"] = run_worker(
            "musdb_first_batch", {**spec, "parallel_decode": False}, {"SEPGAN_CACHE": one_by_one}
        )
    with tempfile.TemporaryDirectory(prefix="sepgan-bench-cache-") as cache:
        for label in ("cold", "warm"):
            log(f"  musdb: {label}")
            out[label] = run_worker("musdb_first_batch", spec, {"SEPGAN_CACHE": cache})


def part_separate(results: dict) -> None:
    spec = {
        "reps": 2,
        "variants": {
            "default": {},
            "window_256": {"window_frames": 256},
            "window_1024": {"window_frames": 1024},
            "window_2048": {"window_frames": 2048},
            "batch_16": {"batch_size": 16},
        },
        "xla_network": True,
        "bf16_network": True,
    }
    results["separate"] = run_worker("separation", spec)


def part_evaluate(results: dict) -> None:
    results["evaluate"] = run_worker("evaluation", {"songs": 4, "jobs": [1, 2]})


def part_memory(results: dict) -> None:
    out = results.setdefault("memory", {})
    runs = {
        "cpu": {"profile": "cpu", "steps": 3, "tracks": 24},
        "paper": {"profile": "paper", "steps": 1, "tracks": 24},
    }
    for label, spec in runs.items():
        log(f"  memory: {label}")
        out[label] = run_worker("train_memory", spec, timeout=400)


# --- summary ---------------------------------------------------------------------------------


def _get(d, *keys, default=None):
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def matmul_reference(results: dict) -> float | None:
    rates = [
        _get(results, "matmul", k, "gflops") for k in ("numpy_start", "numpy_end")
    ]  # fmt: skip
    rates = [r for r in rates if r]
    return max(rates) if rates else None


def summarize(results: dict) -> dict:
    """Derived figures: GFLOP/s, fractions of the matmul rate, speed-ups, headroom, targets."""
    s: dict = {}
    ref = matmul_reference(results)
    s["matmul_numpy_gflops"] = ref
    train = results.get("train", {})
    for label in TRAIN_RUNS:
        run = train.get(label, {})
        flops = run.get("flops")
        if not flops or "modes" not in run:
            continue
        entry = s.setdefault("train", {}).setdefault(label, {})
        entry["tf_matmul_gflops"] = run.get("tf_matmul_gflops")
        entry["flops_per_example"] = {
            "supervised_step_gflop": flops["supervised_step"] / run["batch_sup"] / 1e9,
            "semi_outer_iteration_gflop": flops["semi_outer_iteration"] / run["batch_semi"] / 1e9,
            "backward_factor": flops["backward_factor"],
        }
        modes = {}
        for mode, m in run["modes"].items():
            if not m.get("sup_times_s"):
                continue
            modes[mode] = {
                "sup_examples_per_s": run["batch_sup"] / m["sup_best_s"],
                "sup_gflops": flops["supervised_step"] / m["sup_best_s"] / 1e9,
                "semi_examples_per_s": run["batch_semi"] / m["semi_best_s"],
                "semi_gflops": flops["semi_outer_iteration"] / m["semi_best_s"] / 1e9,
                "sup_speedup_vs_function": run["modes"]["function"]["sup_best_s"] / m["sup_best_s"],
                "semi_speedup_vs_function": run["modes"]["function"]["semi_best_s"]
                / m["semi_best_s"],
                "first_call_s": m["first_sup_s"] + m["first_semi_s"],
            }
            for key in ("sup", "semi"):
                gf = modes[mode][f"{key}_gflops"]
                modes[mode][f"{key}_fraction_of_matmul"] = gf / ref if ref else None
                tfm = run.get("tf_matmul_gflops")
                modes[mode][f"{key}_fraction_of_tf_matmul"] = gf / tfm if tfm else None
        entry["modes"] = modes
    for label, run in train.get("variants", {}).items():
        out = s.setdefault("train", {}).setdefault("variants", {})
        base = train.get(TRAIN_VARIANTS.get(label, {}).get("profile", ""), {})
        m = _get(run, "modes", "function")
        if not m or not base.get("flops"):
            out[label] = {"error": run.get("error", "no measurement or no base run")}
            continue
        b = base["modes"]["function"]
        sup_flop = base["flops"]["supervised_step"] / base["batch_sup"] * run["batch_sup"]
        semi_flop = base["flops"]["semi_outer_iteration"] / base["batch_semi"] * run["batch_semi"]
        sup_per_ex, semi_per_ex = (
            m["sup_best_s"] / run["batch_sup"],
            m["semi_best_s"] / run["batch_semi"],
        )
        out[label] = {
            "profile": base["profile"],
            "batch_sup": run["batch_sup"],
            "batch_semi": run["batch_semi"],
            "sup_gflops": sup_flop / m["sup_best_s"] / 1e9,
            "semi_gflops": semi_flop / m["semi_best_s"] / 1e9,
            "sup_fraction_of_matmul": sup_flop / m["sup_best_s"] / 1e9 / ref if ref else None,
            "semi_fraction_of_matmul": semi_flop / m["semi_best_s"] / 1e9 / ref if ref else None,
            "sup_speedup_per_example": b["sup_best_s"] / base["batch_sup"] / sup_per_ex,
            "semi_speedup_per_example": b["semi_best_s"] / base["batch_semi"] / semi_per_ex,
            "tf_matmul_gflops": run.get("tf_matmul_gflops"),
            "tf_matmul_vs_default": run.get("tf_matmul_gflops")
            / base.get("tf_matmul_gflops", float("nan")),
        }
    # input pipeline against what the fastest measured training variant consumes
    pipe = results.get("pipeline", {})
    for label in TRAIN_RUNS:
        run, rates = train.get(label, {}), pipe.get(label)
        if not rates or not run.get("modes"):
            continue
        sup_per_ex = min(m["sup_best_s"] / run["batch_sup"] for m in run["modes"].values())
        semi_per_ex = min(m["semi_best_s"] / run["batch_semi"] for m in run["modes"].values())
        batch = rates["batch"]
        need_paired_sup = 1 / (sup_per_ex * batch)
        outer = semi_per_ex * batch
        need_unpaired = (run["num_disc"] + 1) / outer
        need_paired_semi = 1 / outer
        s.setdefault("pipeline", {})[label] = {
            "batch": batch,
            "paired_batches_per_s": rates["paired"]["batches_per_s"],
            "unpaired_batches_per_s": rates["unpaired"]["batches_per_s"],
            "training_needs_paired_per_s_supervised": need_paired_sup,
            "training_needs_paired_per_s_semi": need_paired_semi,
            "training_needs_unpaired_per_s_semi": need_unpaired,
            "headroom_paired": rates["paired"]["batches_per_s"] / need_paired_sup,
            "headroom_unpaired": rates["unpaired"]["batches_per_s"] / need_unpaired,
        }
    musdb = results.get("musdb", {})
    if "cold" in musdb:
        s["musdb"] = {
            k: {
                "first_paired_batch_s": _get(musdb, k, "first_paired_batch_s"),
                "first_unpaired_batch_s": _get(musdb, k, "first_unpaired_batch_s"),
                "import_s": _get(musdb, k, "import_s"),
            }
            for k in ("cold_one_by_one", "cold", "warm")
            if k in musdb
        }
    sep = results.get("separate", {})
    if "variants" in sep:
        s["separate"] = {k: v["rtf"] for k, v in sep["variants"].items()}
    ev = results.get("evaluate", {})
    if "jobs1" in ev and "jobs2" in ev:
        s["evaluate"] = {
            "seconds_per_song_serial": ev["jobs1"]["seconds_per_song"],
            "seconds_per_song_2_jobs": ev["jobs2"]["seconds_per_song"],
            "parallel_speedup": ev["jobs1"]["seconds"] / ev["jobs2"]["seconds"],
            "bss_eval_call_s": ev["bss_eval_call_s"],
        }
    return s


def _fmt(x, digits=2):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _verdict(value, target, higher=True):
    if value is None:
        return "not measured"
    ok = value >= target if higher else value <= target
    return "met" if ok else "missed"


def table_rows(results: dict, s: dict) -> list[tuple[str, str, str, str]]:
    """``(measure, value, target, verdict)`` rows of the summary table."""
    rows = []
    ref = s.get("matmul_numpy_gflops")
    blas = _get(results, "matmul", "numpy_start", "blas", default=[{}])
    kernel = blas[0].get("architecture") if blas else None
    rows.append((f"NumPy f32 2048² matmul (OpenBLAS {kernel})", f"{_fmt(ref, 1)} GFLOP/s", "", ""))
    tr = s.get("train", {})
    for label in TRAIN_RUNS:
        entry = tr.get(label)
        if not entry:
            continue
        run = results["train"][label]
        rows.append((f"tf.linalg.matmul 2048² ({label} process)",
                     f"{_fmt(entry['tf_matmul_gflops'], 1)} GFLOP/s", "", ""))  # fmt: skip
        fpe = entry["flops_per_example"]
        rows.append((
            f"{label}: graph FLOPs per example (sup step / semi outer it.)",
            f"{_fmt(fpe['supervised_step_gflop'])} / {_fmt(fpe['semi_outer_iteration_gflop'])}"
            f" GFLOP (grad/fwd {fpe['backward_factor']:.2f})",
            "",
            "",
        ))  # fmt: skip
        for mode, m in entry["modes"].items():
            for key, name, batch in (("sup", "supervised step", run["batch_sup"]),
                                     ("semi", "semi outer iteration", run["batch_semi"])):  # fmt: skip
                frac = m[f"{key}_fraction_of_matmul"]
                rows.append((
                    f"{label} {name}, {mode} (batch {batch})",
                    f"{_fmt(m[f'{key}_examples_per_s'])} ex/s, {_fmt(m[f'{key}_gflops'], 1)}"
                    f" GFLOP/s = {_fmt(frac and 100 * frac, 0)}% of matmul"
                    f" ({_fmt(m[f'{key}_speedup_vs_function'])}x tf.function)",
                    f">= {100 * TARGETS['train_fraction_of_matmul'][label]:.0f}% of matmul",
                    _verdict(frac, TARGETS["train_fraction_of_matmul"][label]),
                ))  # fmt: skip
        best = max(
            max(m["sup_speedup_vs_function"], m["semi_speedup_vs_function"])
            for mode, m in entry["modes"].items()
            if mode != "eager"
        )
        rows.append((f"{label}: fastest compiled variant vs tf.function", f"{_fmt(best)}x",
                     ">= 1.8x", _verdict(best, TARGETS["compiled_speedup"])))  # fmt: skip
    for label, v in tr.get("variants", {}).items():
        if "error" in v:
            rows.append((f"{label} (own process)", f"error: {v['error']}", "", ""))
            continue
        target = TARGETS["train_fraction_of_matmul"][v["profile"]]
        worst = min(v["sup_fraction_of_matmul"] or 0, v["semi_fraction_of_matmul"] or 0)
        rows.append((
            f"{label}, tf.function (own process, batch {v['batch_sup']} / {v['batch_semi']})",
            f"sup {_fmt(v['sup_gflops'], 1)} / semi {_fmt(v['semi_gflops'], 1)} GFLOP/s ="
            f" {_fmt(100 * (v['sup_fraction_of_matmul'] or 0), 0)}% /"
            f" {_fmt(100 * (v['semi_fraction_of_matmul'] or 0), 0)}% of matmul;"
            f" per example {_fmt(v['sup_speedup_per_example'])}x /"
            f" {_fmt(v['semi_speedup_per_example'])}x default"
            f" (its tf matmul {_fmt(v['tf_matmul_vs_default'])}x)",
            f">= {100 * target:.0f}% of matmul",
            _verdict(worst, target),
        ))  # fmt: skip
    for label, p in s.get("pipeline", {}).items():
        rows.append((
            f"pipeline {label} (batch {p['batch']}): paired / unpaired batches/s",
            f"{_fmt(p['paired_batches_per_s'], 1)} / {_fmt(p['unpaired_batches_per_s'], 1)};"
            f" training needs {_fmt(p['training_needs_paired_per_s_supervised'], 3)} /"
            f" {_fmt(p['training_needs_unpaired_per_s_semi'], 3)}"
            f" -> {_fmt(p['headroom_paired'], 0)}x / {_fmt(p['headroom_unpaired'], 0)}x",
            ">= 3x",
            _verdict(min(p["headroom_paired"], p["headroom_unpaired"]),
                     TARGETS["pipeline_headroom"]),
        ))  # fmt: skip
    musdb = results.get("musdb", {})
    if "skipped" in musdb:
        rows.append(("musdb7 first batch", f"skipped: {musdb['skipped']}", "<= 5 s", "skipped"))
    for label, m in s.get("musdb", {}).items():
        first = m["first_unpaired_batch_s"]
        rows.append((
            f"musdb7 first paired / unpaired batch, {label} cache",
            f"{_fmt(m['first_paired_batch_s'], 1)} s / {_fmt(first, 1)} s"
            f" (+{_fmt(m['import_s'], 1)} s imports)",
            "<= 5 s",
            _verdict(first, TARGETS["first_batch_s"], higher=False),
        ))  # fmt: skip
    for label, rtf in s.get("separate", {}).items():
        rows.append((f"separation RTF, 3-min song, paper model, {label}", f"{_fmt(rtf, 1)}x",
                     ">= 200x", _verdict(rtf, TARGETS["separation_rtf"])))  # fmt: skip
    sep = results.get("separate", {})
    if "breakdown_s" in sep:
        b = sep["breakdown_s"]
        rows.append((
            "separation at defaults: STFT / network / 2 iSTFT",
            f"{_fmt(b['stft'])} / {_fmt(b['network'])} / {_fmt(b['istft_both'])} s; network"
            f" {_fmt(sep['network_gflop'], 1)} GFLOP at {_fmt(sep['network_gflops_per_s'], 1)}"
            f" GFLOP/s",
            "",
            "",
        ))  # fmt: skip
    net = sep.get("network_only", {})
    if net:
        text = " / ".join(f"{k.removesuffix('_s')} {_fmt(v)} s" for k, v in net.items())
        rows.append(("separation, network only (same windows)", text, "", ""))
    ev = s.get("evaluate")
    if ev:
        rows.append(("BSS Eval s per 3-min song (serial, 2 bss_eval calls each)",
                     f"{_fmt(ev['seconds_per_song_serial'], 1)} s"
                     f" (one call {_fmt(ev['bss_eval_call_s'], 1)} s)", "", ""))  # fmt: skip
        rows.append(("evaluation parallel speed-up, 2 jobs, 4 songs",
                     f"{_fmt(ev['parallel_speedup'])}x", ">= 1.7x",
                     _verdict(ev["parallel_speedup"], TARGETS["eval_parallel_speedup"])))  # fmt: skip
    for label, m in results.get("memory", {}).items():
        if "error" in m:
            rows.append((f"peak RSS, training {label}", f"error: {m['error']}", "", ""))
            continue
        rows.append((f"peak RSS, semi training {label} (batch {m['batch_size']}, "
                     f"{m['steps']} outer it.)", f"{_fmt(m['maxrss_mb'], 0)} MiB", "", ""))  # fmt: skip
    warm = musdb.get("warm", {})
    if "maxrss_mb" in warm:
        rows.append(("peak RSS, musdb7 semi pools + first batches (warm)",
                     f"{_fmt(warm['maxrss_mb'], 0)} MiB (arrays {_fmt(warm['cache_arrays_mb'], 0)}"
                     f" MiB + memo {_fmt(warm['spectrogram_memo_mb'], 0)} MiB)", "", ""))  # fmt: skip
    return rows


def markdown_table(rows) -> str:
    lines = ["| measure | value | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def update_readme(text_table: str, results: dict) -> None:
    readme = HERE / "README.md"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        log(f"{readme}: no {start} / {end} markers; not updated")
        return
    m = results["machine"]
    header = (
        f"Run of {results['started']} at commit {results.get('commit', '?')} on {m['cpus']} cores ({m['cpu']}), TensorFlow "
        f"{m.get('tensorflow')}; load average {results['loadavg_start'][0]:.1f} at start, "
        f"{results['loadavg_end'][0]:.1f} at end; {results['wall_s'] / 60:.1f} min.\n\n"
    )
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    readme.write_text(f"{before}{start}\n{header}{text_table}\n{end}{after}")


def git_commit() -> str:
    """The checkout's short commit, with ``+changes`` when its tracked files differ from it."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True)

    try:
        commit = git("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except OSError:
        return "unknown"
    return f"{commit}+changes" if dirty else commit


def machine_info() -> dict:
    info = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        info["cpu"] = platform.processor()
    try:
        from importlib.metadata import version

        info["tensorflow"] = version("tensorflow")
        info["keras"] = version("keras")
        info["numpy"] = version("numpy")
    except Exception:  # noqa: BLE001
        pass
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and variants")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument(
        "--budget-min", type=float, default=14.0, help="skip parts not started by then"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.spec or "{}", args.out_file)

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; known: {', '.join(PARTS)}")
    started = time.perf_counter()
    results: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": git_commit(),
        "loadavg_start": list(os.getloadavg()),
        "machine": machine_info(),
        "parts": parts,
        "quick": args.quick,
        "timings_s": {},
    }
    steps = [
        ("matmul", lambda: part_matmul(results, "start")),
        ("train", lambda: part_train(results, args.quick)),
        ("critics", lambda: part_critics(results)),
        ("pipeline", lambda: part_pipeline(results)),
        ("musdb", lambda: part_musdb(results)),
        ("separate", lambda: part_separate(results)),
        ("evaluate", lambda: part_evaluate(results)),
        ("memory", lambda: part_memory(results)),
        ("matmul", lambda: part_matmul(results, "end")),
    ]
    for name, step in steps:
        if name not in parts:
            continue
        elapsed = (time.perf_counter() - started) / 60
        if elapsed > args.budget_min and name != "matmul":
            results.setdefault("skipped", []).append(f"{name}: budget of {args.budget_min} min")
            log(f"  skipping {name}: {elapsed:.1f} min > budget {args.budget_min} min")
            continue
        log(f"[{(time.perf_counter() - started) / 60:4.1f} min] {name}")
        t0 = time.perf_counter()
        step()
        results["timings_s"][name] = results["timings_s"].get(name, 0) + time.perf_counter() - t0
    results["loadavg_end"] = list(os.getloadavg())
    results["wall_s"] = time.perf_counter() - started
    results["targets"] = TARGETS
    results["summary"] = summarize(results)
    rows = table_rows(results, results["summary"])
    results["table"] = [dict(zip(("measure", "value", "target", "verdict"), r)) for r in rows]
    Path(args.out).write_text(json.dumps(results, indent=1, default=float) + "\n")
    text_table = markdown_table(rows)
    print(text_table)
    print(
        f"\nload average {results['loadavg_start'][0]:.2f} -> {results['loadavg_end'][0]:.2f};"
        f" {results['wall_s'] / 60:.1f} min; results in {args.out}"
    )
    if args.update_readme:
        update_readme(text_table, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
