"""Paired comparison of two evaluations over the songs both scored.

Per source: the differences ``b - a`` of a metric over the common songs, their median with a
bootstrap 95 % interval, mean, wins, losses and ties, and one plain sentence on what the
interval says (:func:`verdict`). An evaluation of a run that failed its health check is
refused unless asked: a difference between two broken models is not a finding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from . import health
from .errors import SepganError
from .metrics import SOURCES, format_db


def _load_result(x) -> tuple[dict, str]:
    if isinstance(x, dict):
        # a result of evaluate_run: named by its run folder and file, not by the whole path
        # (which names the machine it ran on)
        saved = (x.get("files") or {}).get("json")
        label = x.get("label") or (saved and "/".join(Path(saved).parts[-3:])) or x.get("plan")
        return x, str(label or "result")
    path = Path(x)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SepganError(f"{path}: cannot read the evaluation results ({err})") from err
    except RecursionError:
        raise SepganError(
            f"{path}: cannot read the evaluation results (nested too deeply)"
        ) from None
    if not isinstance(data, dict):
        raise SepganError(
            f"{path}: not an evaluation result (a JSON {type(data).__name__}, expected the "
            "object `sepgan evaluate` writes)"
        )
    return data, str(path)


def _postfilters(ra: dict, rb: dict, label_a: str, label_b: str, mixed: bool) -> list[str]:
    """The post-filter of each result (``none`` for results from before post-filters);
    different ones refused unless ``mixed``."""
    filters = [r.get("postfilter", "none") for r in (ra, rb)]
    if filters[0] != filters[1] and not mixed:
        raise SepganError(
            f"{label_a} and {label_b} were scored with different post-filters "
            f"({filters[0]!r} and {filters[1]!r}): evaluate both with the same --postfilter "
            "(or pass --mixed-postfilters to measure the filter itself)"
        )
    return filters


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
    filters = _postfilters(ra, rb, label_a, label_b, mixed_postfilters)
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


INTERVAL_KEYS = ("median_diff", "ci_low", "ci_high", "wins", "losses")


def interval_of(comparison: dict) -> dict:
    """Per source, the median difference, its interval, wins and losses of a comparison
    (what the recorded experiments keep of :func:`compare_results`)."""
    return {s: {k: comparison[s][k] for k in INTERVAL_KEYS} for s in SOURCES}


def sdr_medians(result: dict) -> dict:
    """Per source, the median SDR of an evaluation result (or of its ``summary``)."""
    return {s: result["summary"][s]["SDR"]["median"] for s in SOURCES}


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
        interval = f"[{format_db(e['ci_low'])}, {format_db(e['ci_high'])}]"
        lines.append(
            f"{source:<14}{format_db(e['median_diff']):>8}{interval:>20}{format_db(e['mean_diff']):>8}"
            f"{e['wins']:>6}{e['losses']:>8}{e['ties']:>6}"
        )
    if comparison["only_a"] or comparison["only_b"]:
        lines.append(
            f"not compared: {len(comparison['only_a'])} song(s) only in A, "
            f"{len(comparison['only_b'])} only in B"
        )
    return "\n".join(lines)


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
