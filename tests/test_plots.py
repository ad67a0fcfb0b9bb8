"""The chapters' helpers that live in the library: ``plots`` and ``metrics.snr_db``."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from sepgan_lib import fair_comparison, metrics, plots

matplotlib.use("Agg")


def test_moving_average_is_the_mean_of_the_last_values():
    got = plots.moving_average([1.0, 3.0, 5.0, 7.0], 2)
    np.testing.assert_allclose(got, [1.0, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(plots.moving_average([2.0, 4.0], 10), [2.0, 3.0])


def test_snr_of_a_known_error():
    reference = np.ones(1000)
    assert metrics.snr_db(reference, reference * 0.9) == pytest.approx(20.0)
    assert metrics.snr_db(reference, np.ones(500)) > 100  # the common length only


def _log(steps=12, every=4):
    rng = np.random.default_rng(0)
    entries = [
        {
            "step": i,
            "sup_loss": 1 / (i + 1),
            "wasserstein_vocals": rng.normal(),
            "wasserstein_accompaniment": rng.normal(),
        }
        for i in range(steps)
    ]
    diagnosed = [
        {
            "step": i,
            **{f"grad_norm_{t}": rng.uniform(0, 1) for t in ("sup", "adv", "add")},
            **{f"grad_cosine_{t}": rng.uniform(-1, 1) for t in ("adv", "add")},
        }
        for i in range(0, steps, every)
    ]
    return {"steps": entries, "diagnosed": diagnosed}


def test_plot_loop_draws_four_panels_of_a_log():
    fig = plots.plot_loop(_log(), "a loop", window=3)
    assert len(fig.axes) == 4
    wasserstein = fig.axes[0].lines[0].get_ydata()
    assert len(wasserstein) == 12
    sup = fig.axes[3].lines[0].get_ydata()
    np.testing.assert_allclose(sup, plots.moving_average([1 / (i + 1) for i in range(12)], 3))


def test_plot_recorded_grid_with_a_live_point():
    recorded = fair_comparison.recorded_grid()
    if recorded is None:
        pytest.skip("the recorded grid is not in this checkout")
    grid = fair_comparison.grid_rows(recorded)
    live = {
        "paired": grid[0]["paired"],
        "control": 1.0,
        "semi": 2.0,
        "diff": {"median_diff": 1.0, "ci_low": 0.5, "ci_high": 1.5},
    }
    fig = plots.plot_recorded_grid(grid, live)
    left, right = fig.axes
    assert len(right.containers) == len(grid) + 1  # one errorbar a point and the build's
