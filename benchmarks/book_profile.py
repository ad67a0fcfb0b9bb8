"""Where a book build's seconds and cores go (issue 23): ``sepgan book`` run under a sampler.

    .venv/bin/python benchmarks/book_profile.py --profile smoke --build-dir /tmp/b23s
    .venv/bin/python benchmarks/book_profile.py --profile cpu --build-dir /tmp/b23 \
        --out benchmarks/results_book.json

The build runs as a child process; every ``--every`` seconds the sampler adds up the CPU time
(user + system, with the reaped children's) and the resident memory of the build's whole
process tree (the build, its kernels, their worker processes) from ``/proc``. Afterwards the
executed chapters' papermill metadata (each cell's start and end) place every sample in a
chapter and a cell: per chapter and per code cell the wall seconds, the CPU seconds and the
CPU share (100 % = one core busy; 200 % = both cores of this machine). The time between a
chapter's start (the build's log line) and its first cell is the kernel's start-up.

Written to ``--out`` (JSON): the build's total wall time and CPU, peak tree RSS, the load
average every 10 s, and the per-chapter and per-cell rows; the slowest cells are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from run import git_commit, machine_info  # benchmarks/run.py, beside this script

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` (its private pages plus its share of the pages it
    shares, e.g. TensorFlow's libraries mapped by every kernel): summed over a tree it counts
    each page once, where summed RSS counts a shared page once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_usage(root: int) -> tuple[float, int, int]:
    """CPU seconds (user + system of the living processes and of their reaped children),
    resident bytes and proportional set size (bytes) of ``root`` and its descendants."""
    tree, todo, cpu, rss, pss = _children(), [root], 0.0, 0, 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[11:15]: utime, stime, cutime, cstime; fields[21]: rss in pages
        cpu += sum(int(x) for x in fields[11:15]) / TICK
        rss += int(fields[21]) * PAGE
        pss += _pss_bytes(pid)
    return cpu, rss, pss


def run_sampled(command: list[str], every: float, log_path: Path, env: dict | None = None) -> dict:
    """Run ``command`` and sample its process tree; returns the samples and the log's lines
    (each with the time it was read: the build's ``[i/n] chapter ...`` lines mark chapters)."""
    samples, loads, lines = [], [], []
    start = time.time()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )

    def read() -> None:
        with open(log_path, "w") as log:
            for line in proc.stdout:
                lines.append((time.time(), line.rstrip("\n")))
                print(line, end="", flush=True)
                log.write(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    last_load = 0.0
    while proc.poll() is None:
        cpu, rss, pss = tree_usage(proc.pid)
        now = time.time()
        samples.append((now, cpu, rss, pss))
        if now - last_load >= 10:
            loads.append((round(now - start, 1), *os.getloadavg()))
            last_load = now
        time.sleep(every)
    reader.join()
    end = time.time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build, reaped by poll()
    return {
        "returncode": proc.returncode,
        "start": start,
        "end": end,
        "samples": samples,
        "loads": loads,
        "lines": lines,
        "children_cpu": children.ru_utime + children.ru_stime,
        "children_maxrss_kib": children.ru_maxrss,
    }


def _cpu_between(samples, t0: float, t1: float) -> float:
    """CPU seconds of the tree between two times (linear between the samples)."""

    def at(t):
        before = [s for s in samples if s[0] <= t]
        after = [s for s in samples if s[0] >= t]
        if not before:
            return samples[0][1] if samples else 0.0
        if not after:
            return samples[-1][1]
        (ta, ca, *_), (tb, cb, *_) = before[-1], after[0]
        return ca if tb == ta else ca + (cb - ca) * (t - ta) / (tb - ta)

    return max(at(t1) - at(t0), 0.0)


def _iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def cell_rows(stage: Path, samples) -> list[dict]:
    """Per executed chapter under ``stage/book``: its code cells' wall and CPU seconds."""
    rows = []
    for path in sorted((stage / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for index, cell in enumerate(nb["cells"]):
            meta = cell.get("metadata", {}).get("papermill", {})
            if (
                cell["cell_type"] != "code"
                or not meta.get("start_time")
                or not meta.get("end_time")
            ):
                continue
            t0, t1 = _iso(meta["start_time"]), _iso(meta["end_time"])
            cpu = _cpu_between(samples, t0, t1)
            first = "".join(cell["source"]).strip().splitlines()
            rows.append(
                {
                    "chapter": path.stem,
                    "cell": index,
                    "start": t0,
                    "wall_s": round(t1 - t0, 2),
                    "cpu_s": round(cpu, 2),
                    "cpu_percent": round(100 * cpu / max(t1 - t0, 1e-9), 1),
                    "first_line": first[0][:80] if first else "",
                }
            )
    return rows


def chapter_rows(lines, cells, samples, end: float) -> list[dict]:
    """Per chapter: wall and CPU seconds from the build's ``[i/n] chapter ...`` and ``done in``
    log lines, and the kernel's start-up (the chapter's start to its first cell). Chapters
    that ran side by side overlap: their CPU seconds each hold the other's share too."""
    starts, ends = {}, {}
    for t, line in lines:
        words = line.split()
        if line.startswith("[") and len(words) > 2 and "/" in words[0]:
            stem = Path(words[1]).stem
            if words[2] == "...":
                starts[stem] = t
            elif words[2] == "done":
                ends[stem] = t
        elif line.startswith("jupyter-book build ("):
            starts["jupyter-book build (HTML)"] = t
        elif line.startswith("jupyter-book build done"):
            ends["jupyter-book build (HTML)"] = t
    out = []
    for stem, t0 in starts.items():
        t1 = ends.get(stem, end)
        mine = [c for c in cells if c["chapter"] == stem]
        first = min((c["start"] for c in mine), default=t0)
        cpu = _cpu_between(samples, t0, t1)
        out.append(
            {
                "chapter": stem,
                "start_s": round(t0 - samples[0][0], 1) if samples else None,
                "wall_s": round(t1 - t0, 1),
                "cpu_s": round(cpu, 1),
                "cpu_percent": round(100 * cpu / max(t1 - t0, 1e-9), 1),
                "kernel_start_s": round(first - t0, 1) if mine else None,
            }
        )
    return out


def markdown(result: dict, top: int = 12) -> str:
    """The README's block: the run's header, a row per chapter, the slowest cells."""
    load = f"load average {result['loadavg_start'][0]:.1f} at start, {result['loadavg_end'][0]:.1f} at end"
    lines = [
        f"Run of {result['date']} at commit {result['commit']} on {result['machine']} "
        f"(`{result['command'].split(' book ', 1)[-1]}`, nice {result['nice']}"
        + "".join(f", {k}={v}" for k, v in result.get("env", {}).items())
        + f"); {load}.",
        f"Total {result['wall_s']:.0f} s wall, {result['cpu_s_children']:.0f} CPU s, "
        f"**{result['cpu_percent']:.0f} % CPU** (200 % = both cores), peak RSS of the build's "
        f"process tree {result['peak_tree_rss_mib']} MiB (PSS, each shared page once: "
        f"{result.get('peak_tree_pss_mib', '?')} MiB; largest single process "
        f"{result.get('largest_process_rss_mib', '?')} MiB).",
        "",
        "| chapter | starts at (s) | wall (s) | CPU (s) | CPU % | kernel start-up (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["chapters"]:
        lines.append(
            f"| {row['chapter']} | {row.get('start_s', '')} | {row['wall_s']} | {row['cpu_s']} | "
            f"{row['cpu_percent']} | {row['kernel_start_s'] if row['kernel_start_s'] is not None else ''} |"
        )
    lines += [
        "",
        f"The {top} slowest cells (CPU % of the whole build's tree while the cell ran):",
        "",
    ]
    lines += ["| chapter | cell | wall (s) | CPU % | first line |", "|---|---|---|---|---|"]
    for row in sorted(result["cells"], key=lambda r: -r["wall_s"])[:top]:
        text = row["first_line"].replace("|", "\\|")
        lines.append(
            f"| {row['chapter']} | {row['cell']} | {row['wall_s']} | {row['cpu_percent']} | `{text}` |"
        )
    return "\n".join(lines)


def update_readme(block: str, readme: Path = HERE / "README.md", marker: str = "book") -> None:
    """Replace the text between ``<!-- MARKER:start -->`` and ``<!-- MARKER:end -->``."""
    text = readme.read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{block}\n{end}{tail}")


def machine_text() -> str:
    info = machine_info()
    return f"{info['cpus']} cores, {info.get('cpu', 'unknown CPU')}, TensorFlow {info.get('tensorflow')}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--out", default=None, help="results JSON (default: none)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--top", type=int, default=15, help="slowest cells printed")
    parser.add_argument("--update-readme", action="store_true", help="rewrite README's block")
    parser.add_argument(
        "--fresh-cache",
        action="store_true",
        help="SEPGAN_CACHE set to an empty temporary folder: the data made as on a fresh clone",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="set for the build"
    )
    args, extra = parser.parse_known_args(argv)
    sepgan = Path(sys.executable).with_name("sepgan")
    build_dir = Path(args.build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    command = [str(sepgan), "book", "--profile", args.profile, "--seed", str(args.seed)]
    command += ["--build-dir", str(build_dir), *extra]
    env = dict(os.environ)
    settings = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="sepgan-fresh-cache-") as fresh:
        if args.fresh_cache:
            settings["SEPGAN_CACHE"] = fresh
        env.update(settings)
        load_start = os.getloadavg()
        run = run_sampled(command, args.every, build_dir / "book_profile.log", env)
    cells = cell_rows(build_dir / "source", run["samples"])
    chapters = chapter_rows(run["lines"], cells, run["samples"], run["end"])
    wall = run["end"] - run["start"]
    cpu = run["samples"][-1][1] if run["samples"] else 0.0
    result = {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "commit": git_commit(),
        "machine": machine_text(),
        "command": " ".join(command),
        "env": {
            k: ("(empty temporary folder)" if k == "SEPGAN_CACHE" and args.fresh_cache else v)
            for k, v in settings.items()
        },
        "nice": os.nice(0),
        "returncode": run["returncode"],
        "wall_s": round(wall, 1),
        "cpu_s_sampled": round(cpu, 1),
        "cpu_s_children": round(run["children_cpu"], 1),
        "cpu_percent": round(100 * run["children_cpu"] / wall, 1),
        "peak_tree_rss_mib": round(max((s[2] for s in run["samples"]), default=0) / 2**20),
        "peak_tree_pss_mib": round(max((s[3] for s in run["samples"]), default=0) / 2**20),
        "largest_process_rss_mib": round(run["children_maxrss_kib"] / 1024),
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "loads": run["loads"],
        "chapters": chapters,
        "cells": cells,
    }
    print(f"\nbuild: {wall:.1f} s wall, {result['cpu_percent']} % CPU, exit {run['returncode']}")
    for row in chapters:
        print(
            f"  {row['chapter']:<32} {row['wall_s']:>7.1f} s  {row['cpu_percent']:>6.1f} %  "
            f"kernel start {row['kernel_start_s']}"
        )
    print(f"slowest {args.top} cells:")
    for row in sorted(cells, key=lambda r: -r["wall_s"])[: args.top]:
        print(
            f"  {row['chapter'][:24]:<24} [{row['cell']:>2}] {row['wall_s']:>7.1f} s "
            f"{row['cpu_percent']:>6.1f} %  {row['first_line']}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    if args.update_readme:
        update_readme(markdown(result))
    return run["returncode"]


if __name__ == "__main__":
    sys.exit(main())
