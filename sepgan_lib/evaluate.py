"""BSS Eval of a run on a plan's songs: per-song metrics (:mod:`.metrics`), their summary,
the baselines, and the run's ``eval/<plan>-<split>.{json,csv}``.

The network runs in the main process; the CPU-heavy BSS Eval runs over songs in a pool of
processes started with ``spawn`` (TensorFlow is loaded in the parent, so no ``fork``), kept
for the process's next evaluation. A song's mixture floor is scored once per process: the
next run evaluated on the same song reuses it (:func:`.metrics.mixture_floor`). A song
that cannot be loaded, separated or scored is listed under ``skipped`` with the reason instead
of stopping the evaluation.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from . import health
from .cache import write_text_atomic
from .datasets import load_track_cached
from .errors import DataError, SepganError
from .filtering import check_postfilter, config_label, with_postfilter
from .metrics import (
    BASELINES,
    METRICS,
    SOURCES,
    SR,
    format_db,
    known_floor,
    remember_floor,
    score_song,
    song_key,
    summarize,
)
from .names import checked_name
from .plans import load_plan
from .separate import load_run, separate_audio


def _init_worker() -> None:
    # Ctrl-C reaches every process of the terminal: the parent stops the pool and says so in
    # one line; a worker printing its own KeyboardInterrupt traceback would bury that line
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the pool outlives one evaluation (_POOLS): a worker whose parent was killed (a kernel
    # stopped) would wait for work for ever, so it ends when its parent is gone
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:  # one BLAS thread per worker: the pool already uses the cores
        from threadpoolctl import threadpool_limits  # optional: comes with scikit-learn

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def _end_with_parent(parent: int, every: float = 2.0) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


# --- many songs ------------------------------------------------------------------------------


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity; a container's share may be fewer)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _resolve_jobs(jobs: int, songs: int | None = None) -> int:
    """Worker processes for ``jobs`` (0 or less: every CPU), at most the CPUs available and
    the songs: more only add memory (a worker holds its songs) and switching, not speed."""
    jobs = int(jobs or 0)
    jobs = available_cpus() if jobs <= 0 else min(jobs, available_cpus())
    if songs is not None:
        jobs = min(jobs, max(songs, 1))
    return max(jobs, 1)


def evaluate_tracks(
    named_items: Iterable,
    estimator: Callable[[np.ndarray], dict],
    baselines: bool = False,
    jobs: int = 1,
    progress: bool = True,
    sr: int = SR,
) -> dict:
    """Score ``estimator`` on songs ``named_items``: pairs ``(name, audio)`` where ``audio`` is
    a dict with ``mixture``, ``vocals``, ``accompaniment`` (mono, at ``sr``) or a callable
    returning one (loaded when needed). A song that cannot be loaded or separated (e.g. an
    unreadable file) is listed under ``skipped`` with the reason.

    ``estimator(mixture) -> {"vocals", "accompaniment"}`` runs in this process; BSS Eval runs
    over songs in ``jobs`` processes (``0``: every core; ``1``: in this process).
    Returns ``{"tracks", "summary", "skipped"}`` and, with ``baselines``, ``baselines``
    (summaries) and ``baseline_tracks`` (per-song metrics of each baseline).
    """
    items = list(named_items)
    jobs = _resolve_jobs(jobs, len(items))
    bar = tqdm(total=len(items), desc="evaluating", unit="song", disable=not progress or None)
    results: dict[int, dict] = {}

    def prepare(item):
        name, audio = item
        try:
            return _prepare(name, audio)
        except SepganError as err:
            return str(name), None, str(err)

    def score(name, audio, estimate):
        if audio is None:  # unreadable: estimate holds the reason
            return {"name": name, "metrics": None, "reason": estimate, "baselines": {}}
        return score_song(name, audio, estimate, baselines, sr)

    def _prepare(name, audio):
        audio = audio() if callable(audio) else audio
        audio = {k: np.asarray(audio[k], dtype=np.float32) for k in ("mixture", *SOURCES)}
        estimate = estimator(audio["mixture"])
        estimate = {s: np.asarray(estimate[s], dtype=np.float32) for s in SOURCES}
        return str(name), audio, estimate

    try:
        if jobs == 1:
            for i, item in enumerate(items):
                results[i] = score(*prepare(item))
                bar.update(1)
        else:
            results.update(_score_in_processes(items, prepare, score, jobs, baselines, sr, bar))
    finally:
        bar.close()
    return _assemble([results[i] for i in range(len(items))], baselines)


def _score_in_processes(items, prepare, score, jobs, baselines, sr, bar) -> dict[int, dict]:
    """:func:`.metrics.score_song` of each prepared song in a pool of ``jobs`` processes
    (``spawn``: TensorFlow is loaded here), at most ``2 * jobs`` songs in flight; the songs
    that could not be prepared are scored (as skipped) here."""
    results: dict[int, dict] = {}
    pool = _pool(jobs)
    try:
        _submit_all(pool, items, prepare, score, jobs, baselines, sr, bar, results)
    except BaseException:  # Ctrl-C or an error: no song waits for a worker in vain
        _POOLS.pop(jobs, None)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return results


# The pools of this process, by size, kept for its next evaluation: spawned workers take
# seconds to start and import mir_eval (chapter 5 evaluates three runs one after another).
_POOLS: dict[int, cf.ProcessPoolExecutor] = {}


def _pool(jobs: int) -> cf.ProcessPoolExecutor:
    if jobs not in _POOLS:
        context = multiprocessing.get_context("spawn")
        _POOLS[jobs] = cf.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker)
    return _POOLS[jobs]


def _submit_all(pool, items, prepare, score, jobs, baselines, sr, bar, results) -> None:
    """Each song prepared here and scored in ``pool``, at most ``2 * jobs`` in flight."""
    pending: dict = {}

    def collect(block: bool) -> None:
        done, _ = cf.wait(pending, timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
        for future in done:
            i, key = pending.pop(future)
            results[i] = future.result()
            if results[i].get("floor") is not None:
                remember_floor(key, results[i]["floor"])  # the next run scored on this song
            bar.update(1)

    for i, item in enumerate(items):
        name, audio, estimate = prepare(item)
        if audio is None:
            results[i] = score(name, audio, estimate)
            bar.update(1)
            continue
        key = song_key(audio)
        floor = known_floor(key)
        pending[pool.submit(score_song, name, audio, estimate, baselines, sr, floor)] = (i, key)
        while len(pending) >= 2 * jobs:  # bound the songs held in memory
            collect(block=True)
        collect(block=False)
    while pending:
        collect(block=True)


def _assemble(scored: list[dict], baselines: bool) -> dict:
    tracks, skipped = [], []
    for item in scored:
        if item["metrics"] is None:
            skipped.append({"name": item["name"], "reason": item["reason"]})
        else:
            tracks.append({"name": item["name"], **item["metrics"]})
    out: dict[str, Any] = {"tracks": tracks, "summary": summarize(tracks)}
    if baselines:
        per_method = {
            method: [
                {"name": item["name"], **item["baselines"][method]}
                for item in scored
                if item["metrics"] is not None and item["baselines"].get(method)
            ]
            for method in BASELINES
        }
        out["baselines"] = {m: summarize(v) for m, v in per_method.items()}
        out["baseline_tracks"] = per_method
    out["skipped"] = skipped
    return out


# --- a run -----------------------------------------------------------------------------------


def _csv_text(result: dict) -> str:
    keys = [*METRICS, "SDR_improvement"]
    methods = list(result.get("baseline_tracks", {}))
    header = ["name", "source", *keys]
    header += [f"{m}_{k}" for m in methods for k in METRICS]
    header += ["skipped", "postfilter"]
    postfilter = result.get("postfilter", "none")
    by_method = {
        m: {t["name"]: t for t in result["baseline_tracks"][m]} for m in methods
    }  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for track in result["tracks"]:
        for source in SOURCES:
            row = [track["name"], source, *(f"{track[source][k]:.4f}" for k in keys)]
            for m in methods:
                entry = by_method[m].get(track["name"])
                row += [f"{entry[source][k]:.4f}" if entry else "" for k in METRICS]
            writer.writerow([*row, "", postfilter])
    for item in result["skipped"]:
        for source in SOURCES:
            empty = [""] * (len(header) - 4)
            writer.writerow([item["name"], source, *empty, item["reason"], postfilter])
    return buffer.getvalue()


def result_paths(run_dir, plan_name: str, split: str) -> tuple[Path, Path]:
    plan_name = checked_name(plan_name, "plan name", DataError)
    split = checked_name(split, "split", DataError)
    base = Path(run_dir) / "eval" / f"{plan_name}-{split}"
    return base.with_suffix(".json"), base.with_suffix(".csv")


def test_splits(data_plan) -> list[str]:
    """The plan's test sets that hold songs: ``test`` first, then its named ones
    (``test_mir1k``, ...) in the plan's order."""
    named = [r for r in data_plan.roles if r.startswith("test_")]
    return [r for r in ["test", *named] if data_plan.tracks(r)]


def default_split(data_plan) -> str | None:
    """The first non-empty test set of a plan (None when it has none)."""
    splits = test_splits(data_plan)
    return splits[0] if splits else None


def evaluate_run(
    run_dir,
    plan=None,
    roots=None,
    split: str | None = "test",
    baselines: bool = False,
    jobs: int = 0,
    progress: bool = True,
    allow_unhealthy: bool = False,
    postfilter: str | None = None,
    postfilter_power: float | None = None,
) -> dict:
    """Evaluate a run's best separator on the songs of ``split`` of a data plan.

    ``split=None`` takes the plan's first test set with songs (:func:`default_split`).
    A run that failed its health check (:mod:`.health`) is refused unless
    ``allow_unhealthy``; the result carries the run's ``health`` record either way.

    Writes ``RUN_DIR/eval/<plan>-<split>.json`` and ``.csv`` and returns the result dict
    (``plan``, ``split``, ``tracks``, ``summary``, ``baselines`` with ``baselines=True``,
    ``skipped``; the paths under ``files``, not saved in the JSON).
    """
    if postfilter is not None:
        check_postfilter(postfilter)  # before anything is loaded
    if split is not None:
        checked_name(split, "--split", DataError)  # it names the result's files
    run_health = health.run_health(run_dir)
    if not allow_unhealthy:
        health.require_healthy(run_health, str(run_dir))
    model, config = load_run(run_dir)
    config = with_postfilter(config, postfilter, postfilter_power)
    data_plan = load_plan(plan, roots, config)
    if split is None:
        split = default_split(data_plan)
        if split is None:
            empty = [r for r in data_plan.roles if r.startswith("test")] or ["test"]
            raise DataError(
                f"plan {data_plan.name!r} has no test song (empty: {', '.join(empty)}); "
                "give a root with test songs (e.g. a MUSDB18 folder with its test/ subset) "
                "or pass --split valid"
            )
    tracks = data_plan.tracks(split)
    if not tracks:
        available = [r for r, t in data_plan.roles.items() if t and r.startswith(("test", "valid"))]
        raise DataError(
            f"plan {data_plan.name!r} has no songs for split {split!r}; "
            f"splits with songs: {', '.join(available) or 'none'}"
        )
    names = [t.name for t in tracks]
    duplicated = {n for n in names if names.count(n) > 1}
    sr = config.expected_sr

    def loader(track):
        return lambda: load_track_cached(track, sr=sr)

    items = [(t.key if t.name in duplicated else t.name, loader(t)) for t in tracks]

    def estimator(mixture):
        return separate_audio(model, mixture, config, phase=config.phase)

    scored = evaluate_tracks(
        items, estimator, baselines=baselines, jobs=jobs, progress=progress, sr=sr
    )
    result = {"plan": data_plan.name, "split": split, "postfilter": config_label(config)}
    result.update({**scored, "health": run_health})
    json_path, csv_path = result_paths(run_dir, data_plan.name, split)
    write_text_atomic(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    write_text_atomic(csv_path, _csv_text(result))
    return {**result, "files": {"json": str(json_path), "csv": str(csv_path)}}


# --- command line ----------------------------------------------------------------------------


def format_result(result: dict) -> str:
    """A plain-text table of a result's summary (and baseline medians)."""
    baselines = result.get("baselines", {})
    head = f"{'source':<14}{'metric':<17}{'mean':>8}{'median':>8}"
    head += "".join(f"{m:>12}" for m in baselines)
    lines = [
        f"plan {result.get('plan')}, split {result.get('split')}, "
        f"post-filter {result.get('postfilter', 'none')}: "
        f"{len(result['tracks'])} song(s) scored, {len(result['skipped'])} skipped",
        head,
    ]
    if baselines:
        lines.append(" " * 47 + "(baseline medians)")
    for source in SOURCES:
        for metric, values in result["summary"][source].items():
            row = f"{source:<14}{metric:<17}{format_db(values['mean']):>8}{format_db(values['median']):>8}"
            for summary in baselines.values():
                row += f"{format_db(summary[source].get(metric, {}).get('median')):>12}"
            lines.append(row)
    for item in result["skipped"]:
        lines.append(f"skipped {item['name']}: {item['reason']}")
    return "\n".join(lines)


def cli_evaluate(args) -> int:
    """``sepgan evaluate RUN_DIR [--plan P] [--root N=PATH]... [--split S] [--baselines]
    [--postfilter NAME] [--postfilter-power P] [--jobs N] [--quiet]``."""
    if args.split is None and not getattr(args, "quiet", False):
        print("no --split given: evaluating on the plan's first test set with songs")
    result = evaluate_run(
        args.run_dir,
        plan=args.plan,
        roots=args.root,
        split=args.split,
        baselines=args.baselines,
        jobs=args.jobs,
        progress=not getattr(args, "quiet", False),
        allow_unhealthy=getattr(args, "allow_unhealthy", False),
        postfilter=getattr(args, "postfilter", None),
        postfilter_power=getattr(args, "postfilter_power", None),
    )
    print(format_result(result))
    print(f"written: {result['files']['json']} and {result['files']['csv']}")
    if not result["tracks"]:
        print("sepgan: error: no song could be scored", file=sys.stderr)
        return 1
    return 0
