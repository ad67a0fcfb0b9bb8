"""The chapters' plots of training loops and recorded results (matplotlib figures).

- :func:`moving_average`: the trend of a noisy per-step curve;
- :func:`plot_loop`: a semi-supervised loop's log (the in-page loop of chapter 4, or the
  engine's ``diagnostics.json``): the critics' Wasserstein estimates, each loss term's
  gradient norm against the supervised one, their cosines and the supervised loss;
- :func:`plot_recorded_grid`: the recorded fair-test grid (``fair_comparison.grid_rows``),
  with a build's own point;
- :func:`plot_domain_intervals`: recorded differences on real songs per test set, baseline,
  seed and source (``fair_comparison.domain_rows``), each with its interval.

A log is ``{"steps": [entry, ...], "diagnosed": [entry, ...]}``: each step entry holds
``wasserstein_<source>`` and ``sup_loss`` (and optionally ``step``); each diagnosed entry
``step``, ``grad_norm_<term>`` and ``grad_cosine_<term>`` for the terms ``sup``, ``adv``,
``add`` (``steps.loss_term_gradients``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SOURCES = ("vocals", "accompaniment")


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each step (fewer at the start): ``[steps]``."""
    values = np.asarray(values, float)
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def plot_loop(log: Mapping, title: str, window: int = 10, sources: Sequence[str] = SOURCES):
    """Four panels of one loop: the critics' Wasserstein estimates (``window``-entry
    averages), each weighted term's gradient norm over the supervised one (log scale), the
    terms' cosines with the supervised gradient, and the supervised loss. Returns the figure."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    steps = log["steps"]
    steps_axis = np.array([e.get("step", i) for i, e in enumerate(steps)])
    diagnosed = log["diagnosed"]
    diag_steps = [d["step"] for d in diagnosed]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.3), constrained_layout=True)
    for source in sources:
        curve = moving_average([e[f"wasserstein_{source}"] for e in steps], window)
        axes[0].plot(steps_axis, curve, label=f"{source} critic")
    axes[0].axhline(0, color="gray", lw=0.8)
    axes[0].set_title(f"Wasserstein estimate ({window}-entry average)")
    for term in ("adv", "add"):
        ratio = [d[f"grad_norm_{term}"] / max(d["grad_norm_sup"], 1e-30) for d in diagnosed]
        axes[1].semilogy(diag_steps, np.maximum(ratio, 1e-12), marker=".", label=term)
    axes[1].axhline(1, color="gray", lw=0.8)
    axes[1].set_title("|gradient of a term| / |supervised|")
    for term in ("adv", "add"):
        cosines = [d[f"grad_cosine_{term}"] for d in diagnosed]
        axes[2].plot(diag_steps, cosines, marker=".", label=term)
    axes[2].set_ylim(-1.05, 1.05)
    axes[2].axhline(0, color="gray", lw=0.8)
    axes[2].set_title("cosine with the supervised gradient")
    axes[3].plot(steps_axis, moving_average([e["sup_loss"] for e in steps], window))
    axes[3].set_title(f"supervised loss ({window}-entry average)")
    for ax in axes:
        ax.set_xlabel("separator step")
        ax.grid(alpha=0.3)
    for ax in axes[:3]:
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def plot_recorded_grid(
    grid: Sequence[Mapping],
    live: Mapping | None = None,
    x: str = "paired",
    xlabel: str = "paired songs (style a)",
):
    """Left: each recorded point's control and semi-supervised vocals SDR (means over the
        seeds as lines); right: semi minus control with its 95 % interval per seed. ``grid`` is
        ``fair_comparison.grid_rows``; ``live`` (``paired``, ``control``, ``semi`` and ``diff``, a
        comparison entry) is a build's own point, drawn as a star; ``x`` the rows' key of the x axis
    (``paired``, or ``unpaired`` for the more-unpaired-data rows). Returns the figure."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    counts = sorted({row[x] for row in grid})
    for model, marker, shift in (("control", "o", 0.95), ("semi", "s", 1.05)):
        xs = [row[x] * shift for row in grid]
        left.scatter(xs, [row[model] for row in grid], marker=marker, alpha=0.5, label=model)
        means = [np.mean([r[model] for r in grid if r[x] == n]) for n in counts]
        left.plot(counts, means, color=left.collections[-1].get_facecolor()[0])
    for row in grid:
        centre = row["semi - control"]
        right.errorbar(
            row[x] * (1 + 0.06 * (row["seed"] - 1)),
            centre,
            yerr=[[centre - row["ci_low"]], [row["ci_high"] - centre]],
            fmt="o",
            color=f"C{row['seed']}",
            label=f"seed {row['seed']}" if row[x] == counts[0] else None,
        )
    if live:
        left.scatter(
            [live[x]] * 2,
            [live["control"], live["semi"]],
            marker="*",
            s=200,
            color="black",
            label="this build (control, semi)",
        )
        d = live["diff"]
        right.errorbar(
            live[x],
            d["median_diff"],
            yerr=[[d["median_diff"] - d["ci_low"]], [d["ci_high"] - d["median_diff"]]],
            fmt="*",
            markersize=14,
            color="black",
            label="this build",
        )
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(counts, [str(n) for n in counts])
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    left.set_ylabel("vocals SDR, median over test songs (dB)")
    left.set_title("recorded: control and semi-supervised")
    right.axhline(0, color="gray", lw=0.8)
    right.set_ylabel("semi minus control, vocals SDR (dB)")
    right.set_title("recorded: paired difference with its 95 % interval")
    return fig


def plot_domain_intervals(rows: Sequence[Mapping], title: str):
    """One panel per test set: each row's median difference (x) with its 95 % interval, one
    line per baseline and seed, vocals and accompaniment side by side. Returns the figure."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    splits = list(dict.fromkeys(r["split"] for r in rows))
    lines = list(dict.fromkeys((r["against"], r["seed"]) for r in rows))
    fig, axes = plt.subplots(
        1, len(splits), figsize=(5.5 * len(splits), 0.45 * len(lines) + 1.5), squeeze=False
    )
    for ax, split in zip(axes[0], splits):
        for k, source in enumerate(SOURCES):
            picked = [r for r in rows if r["split"] == split and r["source"] == source]
            y = [lines.index((r["against"], r["seed"])) + 0.15 * (2 * k - 1) for r in picked]
            x = np.array([r["median_diff"] for r in picked])
            err = [x - [r["ci_low"] for r in picked], [r["ci_high"] for r in picked] - x]
            ax.errorbar(x, y, xerr=err, fmt="o", capsize=3, label=source)
        ax.axvline(0.0, color="grey", lw=1)
        runs = {(r["against"], r["seed"]): r["against_run"] for r in rows}
        names = [f"vs {a if a != 'best' else 'best: ' + runs[a, s]}, seed {s}" for a, s in lines]
        ax.set_yticks(range(len(lines)), names)
        ax.invert_yaxis()
        ax.set_xlabel("SDR difference (dB), 95 % interval")
        ax.set_title(f"{split} ({picked[0]['n'] if picked else 0} songs)")
    axes[0][0].legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


__all__ = ["moving_average", "plot_loop", "plot_recorded_grid", "plot_domain_intervals"]
