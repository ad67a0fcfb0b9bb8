"""BSS Eval of a run on a plan's songs, with baselines, and paired comparisons of two runs.

Metrics are mir_eval's ``bss_eval_sources`` (BSS Eval v3, whole songs, no permutation) on
mono 8192 Hz audio, as the original: SDR, SIR, SAR for vocals and accompaniment, plus the SDR
improvement over the mixture used as the estimate of both sources.

Baselines, scored on the same songs, give every figure a floor and a ceiling:

- ``mixture``: the mixture as the estimate of both sources (the floor);
- ``oracle_irm``: the ideal ratio mask ``|V| / (|V| + |A|)`` at our STFT applied to the
  mixture's complex STFT (a ceiling for any magnitude-mask method at this resolution);
- ``repet``: REPET-SIM style unsupervised separation (librosa's nearest-neighbour filtering
  of the mixture magnitude with a cosine metric and soft masks, mixture phase).

The network runs in the main process; the CPU-heavy BSS Eval runs over songs in a pool of
processes started with ``spawn`` (TensorFlow is loaded in the parent, so no ``fork``).

A song whose vocals or accompaniment reference is silent, or whose metrics are not finite,
is listed under ``skipped`` with the reason instead of stopping the evaluation. A silent
*estimate* is scored (it gets tiny deterministic noise, as mir_eval refuses all-zero signals):
a separator that outputs silence must show up as a bad score, not vanish from the summary.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import health
from .cache import write_text_atomic
from .errors import DataError, SepganError

SOURCES = ("vocals", "accompaniment")
METRICS = ("SDR", "SIR", "SAR")
BASELINES = ("mixture", "oracle_irm", "repet")
SR = 8192  # the default sample rate (config.expected_sr); callers pass the configuration's
SILENT_ENERGY = 1e-8  # sum of squares below which a reference counts as silent


class SkippedSong(SepganError):
    """A song that cannot be scored (e.g. a silent reference); ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


# --- metrics ---------------------------------------------------------------------------------


def _as_signal(x, length: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if length is not None and len(x) != length:
        x = x[:length] if len(x) > length else np.pad(x, (0, length - len(x)))
    return x


def _unsilence(x: np.ndarray, seed: int) -> np.ndarray:
    if np.sum(x**2) >= SILENT_ENERGY:
        return x
    noise = np.random.default_rng(seed).standard_normal(len(x)) * 1e-7
    return x + noise


def bss_eval(references: dict, estimates: dict) -> dict[str, dict[str, float]]:
    """BSS Eval v3 of ``estimates`` against ``references`` (dicts with ``vocals`` and
    ``accompaniment`` mono arrays) -> ``{"vocals": {"SDR","SIR","SAR"}, "accompaniment": ...}``.

    Raises :class:`SkippedSong` when a reference is silent or a metric is not finite.
    """
    import mir_eval

    length = len(np.asarray(references["accompaniment"]).reshape(-1))
    refs = [_as_signal(references[s], length) for s in ("accompaniment", "vocals")]
    for name, ref in zip(("accompaniment", "vocals"), refs):
        energy = float(np.sum(ref**2))
        if not np.isfinite(energy):
            raise SkippedSong(f"the {name} reference is not finite")
        if energy < SILENT_ENERGY:
            raise SkippedSong(f"the {name} reference is silent (energy {energy:.3g})")
    ests = [
        _unsilence(_as_signal(estimates[s], length), seed=i)
        for i, s in enumerate(("accompaniment", "vocals"))
    ]
    if not all(np.all(np.isfinite(e)) for e in ests):
        raise SkippedSong("an estimate holds NaN or infinite samples")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bss_eval_sources' deprecation notice
        try:
            sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(
                np.stack(refs), np.stack(ests), compute_permutation=False
            )
        except ValueError as err:  # mir_eval's own input checks
            raise SkippedSong(f"BSS Eval refused the song: {err}") from err
    out = {}
    for k, source in enumerate(("accompaniment", "vocals")):
        values = {"SDR": float(sdr[k]), "SIR": float(sir[k]), "SAR": float(sar[k])}
        bad = [m for m, v in values.items() if not math.isfinite(v)]
        if bad:
            raise SkippedSong(f"{source} {'/'.join(bad)} not finite ({values})")
        out[source] = values
    return {s: out[s] for s in SOURCES}


# --- baselines -------------------------------------------------------------------------------


def _stft(x: np.ndarray) -> np.ndarray:
    from . import spectral

    return spectral.stft(np.asarray(x, dtype=np.float32))


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    import librosa

    from .spectral import HOP

    return librosa.istft(spec, hop_length=HOP, window="hann", center=True, length=length).astype(
        np.float32
    )


def _repet_sim(mixture: np.ndarray, sr: int = SR) -> dict[str, np.ndarray]:
    """librosa's vocal separation example (REPET-SIM): nearest-neighbour median filtering of
    the magnitude over similar frames (cosine) models the repeating accompaniment."""
    import librosa

    from .spectral import HOP

    spec = _stft(mixture)
    magnitude, phase = np.abs(spec), np.exp(1j * np.angle(spec))
    frames = magnitude.shape[1]
    width = min(int(librosa.time_to_frames(2.0, sr=sr, hop_length=HOP)), (frames - 1) // 2 - 1)
    if width < 1:
        return {"vocals": mixture.copy(), "accompaniment": mixture.copy()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repeating = librosa.decompose.nn_filter(
            magnitude, aggregate=np.median, metric="cosine", width=width
        )
    repeating = np.minimum(magnitude, repeating)
    margin_acc, margin_voc, power = 2, 10, 2
    mask_acc = librosa.util.softmask(repeating, margin_acc * (magnitude - repeating), power=power)
    mask_voc = librosa.util.softmask(magnitude - repeating, margin_voc * repeating, power=power)
    length = len(mixture)
    return {
        "vocals": _istft(mask_voc * magnitude * phase, length),
        "accompaniment": _istft(mask_acc * magnitude * phase, length),
    }


def baseline_estimates(mixture, sources: dict, method: str, sr: int = SR) -> dict[str, np.ndarray]:
    """Estimates of a baseline ``method`` (``mixture``, ``oracle_irm`` or ``repet``)."""
    mixture = np.asarray(mixture, dtype=np.float32)
    if method == "mixture":
        return {"vocals": mixture.copy(), "accompaniment": mixture.copy()}
    if method == "oracle_irm":
        spec = _stft(mixture)
        voc = np.abs(_stft(sources["vocals"]))
        acc = np.abs(_stft(sources["accompaniment"]))
        total = voc + acc
        mask = np.divide(voc, total, out=np.full_like(voc, 0.5), where=total > 0)
        return {
            "vocals": _istft(mask * spec, len(mixture)),
            "accompaniment": _istft((1 - mask) * spec, len(mixture)),
        }
    if method == "repet":
        return _repet_sim(mixture, sr)
    raise SepganError(f"unknown baseline {method!r}; known: {', '.join(BASELINES)}")


# --- one song (runs in a worker process) -----------------------------------------------------


def _with_improvement(metrics: dict, floor: dict) -> dict:
    return {
        s: {**metrics[s], "SDR_improvement": metrics[s]["SDR"] - floor[s]["SDR"]} for s in SOURCES
    }


def _score_song(name: str, audio: dict, estimate: dict, baselines: bool, sr: int = SR) -> dict:
    """``{"name", "metrics": {...} | None, "reason", "baselines": {method: metrics | None}}``."""
    refs = {s: audio[s] for s in SOURCES}
    out: dict[str, Any] = {"name": name, "metrics": None, "reason": None, "baselines": {}}
    try:
        mix_metrics = bss_eval(refs, baseline_estimates(audio["mixture"], refs, "mixture"))
        model = bss_eval(refs, estimate)
    except SkippedSong as err:
        out["reason"] = err.reason
        return out
    out["metrics"] = _with_improvement(model, mix_metrics)
    if baselines:
        out["baselines"]["mixture"] = _with_improvement(mix_metrics, mix_metrics)
        for method in BASELINES[1:]:
            try:
                est = baseline_estimates(audio["mixture"], refs, method, sr)
                out["baselines"][method] = _with_improvement(bss_eval(refs, est), mix_metrics)
            except SkippedSong:
                out["baselines"][method] = None
    return out


def _init_worker() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:  # one BLAS thread per worker: the pool already uses the cores
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


# --- many songs ------------------------------------------------------------------------------


def _summary_of(entries: list[dict]) -> dict:
    out: dict[str, dict] = {}
    for source in SOURCES:
        out[source] = {}
        keys = list(METRICS)
        if any("SDR_improvement" in e.get(source, {}) for e in entries):
            keys.append("SDR_improvement")
        for metric in keys:
            values = np.array(
                [e[source][metric] for e in entries if metric in e.get(source, {})], float
            )
            values = values[np.isfinite(values)]
            if len(values) == 0:
                out[source][metric] = {"mean": None, "median": None}
            else:
                out[source][metric] = {
                    "mean": float(np.mean(values)),
                    "median": float(np.median(values)),
                }
    return out


def summarize(tracks: list) -> dict:
    """Mean and median over songs of each source's metrics:
    ``{"vocals": {"SDR": {"mean", "median"}, "SIR": ..., "SAR": ...}, "accompaniment": ...}``
    (``SDR_improvement`` too when the tracks have it; ``None`` when there is no song)."""
    return _summary_of(list(tracks))


def _resolve_jobs(jobs: int, songs: int | None = None) -> int:
    jobs = int(jobs or 0)
    if jobs <= 0:
        jobs = os.cpu_count() or 1
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
    from tqdm.auto import tqdm

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
        return _score_song(name, audio, estimate, baselines, sr)

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
            import concurrent.futures as cf
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker) as pool:
                pending: dict = {}

                def collect(block: bool) -> None:
                    done, _ = cf.wait(
                        pending,
                        timeout=None if block else 0,
                        return_when=cf.FIRST_COMPLETED,
                    )
                    for future in done:
                        results[pending.pop(future)] = future.result()
                        bar.update(1)

                for i, item in enumerate(items):
                    name, audio, estimate = prepare(item)
                    if audio is None:
                        results[i] = score(name, audio, estimate)
                        bar.update(1)
                        continue
                    pending[pool.submit(_score_song, name, audio, estimate, baselines, sr)] = i
                    while len(pending) >= 2 * jobs:  # bound the songs held in memory
                        collect(block=True)
                    collect(block=False)
                while pending:
                    collect(block=True)
    finally:
        bar.close()
    return _assemble([results[i] for i in range(len(items))], baselines)


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
    import io

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

    ``postfilter`` (``none``, ``soft``, ``wiener``, :mod:`.filtering`) and its soft-mask
    exponent ``postfilter_power`` default to the run's configuration; the result names it
    (``postfilter``: ``"none"``, ``"soft p=1"``, ...; a column of the CSV too).

    ``split=None`` takes the plan's first test set with songs (:func:`default_split`).
    A run that failed its health check (:mod:`.health`) is refused unless
    ``allow_unhealthy``; the result carries the run's ``health`` record either way.

    Writes ``RUN_DIR/eval/<plan>-<split>.json`` and ``.csv`` and returns the result dict
    (``plan``, ``split``, ``postfilter``, ``tracks``, ``summary``, ``baselines`` with ``baselines=True``,
    ``skipped``; the paths under ``files``, not saved in the JSON).
    """
    from .datasets import load_track_cached
    from .filtering import check_postfilter, config_label, with_postfilter
    from .plans import load_plan
    from .separate import load_run, separate_audio

    if postfilter is not None:
        check_postfilter(postfilter)  # before anything is loaded
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


# --- comparing two evaluations ---------------------------------------------------------------


def _load_result(x) -> tuple[dict, str]:
    if isinstance(x, dict):
        label = x.get("label") or (x.get("files") or {}).get("json") or x.get("plan")
        return x, str(label or "result")
    path = Path(x)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SepganError(f"{path}: cannot read the evaluation results ({err})") from err
    if not isinstance(data, dict):
        raise SepganError(
            f"{path}: not an evaluation result (a JSON {type(data).__name__}, expected the "
            "object `sepgan evaluate` writes)"
        )
    return data, str(path)


def compare_results(
    a,
    b,
    n_boot: int = 2000,
    seed: int = 0,
    metric: str = "SDR",
    allow_unhealthy: bool = False,
    mixed_postfilters: bool = False,
) -> dict:
    """Paired comparison of two evaluations (dicts or JSON paths) over the songs both scored.

    Per source: the differences ``b - a`` of ``metric``, their median with a bootstrap 95%
    interval (``n_boot`` resamples of the songs), mean, wins (b better), losses, ties, ``n``.
    An evaluation of a run that failed its health check is refused unless ``allow_unhealthy``:
    a difference between two broken models is not a finding. Two evaluations made with
    different post-filters (their ``postfilter``; a result without one is from before
    post-filters: ``none``) are refused unless ``mixed_postfilters`` (to measure a filter):
    a difference of filters is not a difference of models. The comparison names the
    post-filter of each side (``postfilter_a``, ``postfilter_b``).
    """
    (ra, label_a), (rb, label_b) = _load_result(a), _load_result(b)
    for r, label in ((ra, label_a), (rb, label_b)):
        if not isinstance(r.get("tracks"), list):
            raise SepganError(f"{label}: not an evaluation result (no 'tracks' list)")
        for t in r["tracks"]:
            ok = isinstance(t, dict) and "name" in t
            ok = ok and all(isinstance(t.get(s), dict) and metric in t[s] for s in SOURCES)
            if not ok:
                raise SepganError(
                    f"{label}: not an evaluation result (a track without name or {metric} of "
                    f"{' and '.join(SOURCES)}: {str(t)[:80]})"
                )
        if not allow_unhealthy:
            health.require_healthy(r.get("health"), label)
    filters = [r.get("postfilter", "none") for r in (ra, rb)]
    if filters[0] != filters[1] and not mixed_postfilters:
        raise SepganError(
            f"{label_a} and {label_b} were scored with different post-filters "
            f"({filters[0]!r} and {filters[1]!r}): evaluate both with the same --postfilter "
            "(or pass --mixed-postfilters to measure the filter itself)"
        )
    ta = {t["name"]: t for t in ra["tracks"]}
    tb = {t["name"]: t for t in rb["tracks"]}
    common = [n for n in ta if n in tb]
    if not common:
        raise SepganError(
            f"{label_a} and {label_b} have no song in common ({len(ta)} and {len(tb)} scored "
            "songs): evaluate both runs on the same plan and split"
        )
    out: dict[str, Any] = {
        "a": label_a,
        "b": label_b,
        "metric": metric,
        "postfilter_a": filters[0],
        "postfilter_b": filters[1],
        "n": len(common),
        "only_a": sorted(set(ta) - set(tb)),
        "only_b": sorted(set(tb) - set(ta)),
    }
    rng = np.random.default_rng(seed)
    for source in SOURCES:
        diffs = np.array([tb[n][source][metric] - ta[n][source][metric] for n in common], float)
        entry: dict[str, Any] = {"n": int(len(diffs))}
        if len(diffs) == 0:
            entry.update(median_diff=None, ci_low=None, ci_high=None, mean_diff=None)
            entry.update(wins=0, losses=0, ties=0)
        else:
            boots = np.median(diffs[rng.integers(0, len(diffs), (n_boot, len(diffs)))], axis=1)
            low, high = np.percentile(boots, [2.5, 97.5])
            tol = 1e-9
            entry.update(
                median_diff=float(np.median(diffs)),
                ci_low=float(low),
                ci_high=float(high),
                mean_diff=float(np.mean(diffs)),
                wins=int(np.sum(diffs > tol)),
                losses=int(np.sum(diffs < -tol)),
                ties=int(np.sum(np.abs(diffs) <= tol)),
            )
        out[source] = entry
    return out


def verdict(source: str, entry: dict, what: str = "adversarial training") -> str:
    """One plain sentence on a paired comparison entry (``compare_results(a, b)[source]``):
    the median difference ``b - a`` with its interval and what the interval says."""
    if not entry.get("n"):
        return f"{source}: no song in common, nothing to compare."
    low, high = entry["ci_low"], entry["ci_high"]
    text = (
        f"{source}: median SDR difference {entry['median_diff']:+.2f} dB, 95 % interval "
        f"[{low:+.2f}, {high:+.2f}] dB, better on {entry['wins']} of {entry['n']} songs, "
        f"worse on {entry['losses']}. "
    )
    if entry["n"] < 5:
        return text + f"With {entry['n']} song(s) no interval can be trusted: no conclusion."
    if low > 0:
        return text + f"The interval excludes zero: {what} helped on these songs."
    if high < 0:
        return (
            text + f"The interval excludes zero on the negative side: {what} hurt on these songs."
        )
    return text + "The interval contains zero: these songs give no evidence either way."


# --- command line ----------------------------------------------------------------------------


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"


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
            row = f"{source:<14}{metric:<17}{_fmt(values['mean']):>8}{_fmt(values['median']):>8}"
            for summary in baselines.values():
                row += f"{_fmt(summary[source].get(metric, {}).get('median')):>12}"
            lines.append(row)
    for item in result["skipped"]:
        lines.append(f"skipped {item['name']}: {item['reason']}")
    return "\n".join(lines)


def format_comparison(comparison: dict) -> str:
    lines = [
        f"{comparison['metric']} of B - A over {comparison['n']} common song(s)",
        f"  A = {comparison['a']} (post-filter {comparison.get('postfilter_a', 'none')})",
        f"  B = {comparison['b']} (post-filter {comparison.get('postfilter_b', 'none')})",
        f"{'source':<14}{'median':>8}{'95% interval':>20}{'mean':>8}{'wins':>6}{'losses':>8}"
        f"{'ties':>6}",
    ]
    for source in SOURCES:
        e = comparison[source]
        interval = f"[{_fmt(e['ci_low'])}, {_fmt(e['ci_high'])}]"
        lines.append(
            f"{source:<14}{_fmt(e['median_diff']):>8}{interval:>20}{_fmt(e['mean_diff']):>8}"
            f"{e['wins']:>6}{e['losses']:>8}{e['ties']:>6}"
        )
    if comparison["only_a"] or comparison["only_b"]:
        lines.append(
            f"not compared: {len(comparison['only_a'])} song(s) only in A, "
            f"{len(comparison['only_b'])} only in B"
        )
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


def cli_compare(args) -> int:
    """``sepgan compare A.json B.json [--json]``."""
    comparison = compare_results(
        args.a,
        args.b,
        allow_unhealthy=getattr(args, "allow_unhealthy", False),
        mixed_postfilters=getattr(args, "mixed_postfilters", False),
    )
    if getattr(args, "json", False):
        print(json.dumps(comparison, indent=2))
    else:
        print(format_comparison(comparison))
    return 0
