"""The fair test: the control and the semi-supervised model differ by the unpaired data only;
the book's run folders; the recorded grid; the musdb7 recipe script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from sepgan_lib import fair_comparison, semi_recipe
from sepgan_lib.chapters import Chapter, setup_chapter
from sepgan_lib.config import make_config

ROOT = Path(__file__).resolve().parents[1]
TINY = {"epoch_it": 3, "valid_max_songs": 1}


def _weights(run_dir: Path) -> list[np.ndarray]:
    model = keras.models.load_model(run_dir / "best" / "separator.keras", compile=False)
    return [v.numpy() for v in model.trainable_variables]


def test_control_and_semi_share_one_configuration_on_top_of_the_supervised_one():
    config = make_config("cpu", {"seed": 3})
    configs = fair_comparison.run_configs(config, "cpu")
    assert configs["supervised"] is config
    assert configs["control"] == configs["semi"]
    for key, value in semi_recipe.CONTINUATION.items():
        assert getattr(configs["semi"], key) == value
    # only the continuation's keys change: the same data, model, batch size and seed
    changed = {k for k, v in configs["semi"].to_dict().items() if config.to_dict()[k] != v}
    assert changed <= set(semi_recipe.CONTINUATION)
    assert semi_recipe.continuation_config(config, "cpu", {"alpha": 0.5}).alpha == 0.5


def test_semi_changes_change_the_semi_run_alone():
    config = make_config("cpu", {"seed": 3})
    plain = fair_comparison.run_configs(config, "cpu")
    ablated = fair_comparison.run_configs(config, "cpu", semi_changes={"alpha": 0.0})
    assert ablated["supervised"] is config and ablated["control"] == plain["control"]
    assert ablated["semi"].alpha == 0.0 != plain["semi"].alpha
    assert ablated["semi"].replace(alpha=plain["semi"].alpha) == plain["semi"]


@pytest.fixture(scope="module")
def point_without_adversarial_weights(tmp_path_factory):
    """One smoke point whose control and semi runs have alpha = beta = 0."""
    config = make_config("smoke", {**TINY, "seed": 5})
    root = tmp_path_factory.mktemp("fair")
    dirs = {run: root / run for run in fair_comparison.RUNS}
    results = fair_comparison.train_point(
        dirs, config, "smoke", "synthetic_shift", changes={"alpha": 0.0, "beta": 0.0}
    )
    return config, dirs, results


def test_without_adversarial_weights_semi_equals_the_control(point_without_adversarial_weights):
    """alpha = beta = 0: the semi-supervised separator's loss is the supervised one, so it must
    take exactly the control's steps on exactly the control's paired batches from the same
    start; the critics train on the side without touching it. This fails if the two runs
    drew different paired batches, a different number of steps or started elsewhere."""
    _, dirs, results = point_without_adversarial_weights
    assert results["control"]["steps"] == results["semi"]["steps"] > 0
    assert results["semi"]["history"][-1]["wasserstein_vocals"] != 0.0  # the critics trained
    supervised = _weights(dirs["supervised"])
    control, semi = _weights(dirs["control"]), _weights(dirs["semi"])

    def agreeing(xs, ys):
        close = [np.isclose(a, b, rtol=1e-5, atol=1e-6).ravel() for a, b in zip(xs, ys)]
        return np.concatenate(close).mean()

    assert agreeing(control, supervised) < 0.5  # it trained on: most weights moved
    # equal up to round-off: Adam divides by the gradient's running size, so a round-off
    # difference in a near-zero gradient entry can move that one weight; other batches or
    # another start would move nearly all of them
    assert agreeing(control, semi) > 0.99, f"{agreeing(control, semi):.1%} of weights agree"
    c_hist, s_hist = results["control"]["history"], results["semi"]["history"]
    valid = [h["valid_loss"] for h in c_hist]
    assert valid == pytest.approx([h["valid_loss"] for h in s_hist], rel=1e-4)


def test_with_the_recipe_semi_moves_away_from_the_control(
    point_without_adversarial_weights, tmp_path
):
    config, dirs, _ = point_without_adversarial_weights
    semi = {**dirs, "semi": tmp_path / "semi-alpha1"}
    fair_comparison.train_point(
        semi, config, "smoke", "synthetic_shift", changes={"alpha": 1.0}, only=("semi",)
    )
    control, moved = _weights(dirs["control"]), _weights(semi["semi"])
    assert any(not np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(control, moved))


def test_the_book_keeps_each_run_in_its_own_folder_named_by_its_settings(tmp_path):
    chapter = setup_chapter("x", "smoke", run_root=tmp_path, seed=1)
    assert chapter.plan == "synthetic_shift"  # the book's default plan
    names = {run: chapter.run_dir(run).name for run in fair_comparison.RUNS}
    assert len(set(names.values())) == 3
    assert all(name.startswith(f"synthetic_shift-smoke-{run}-") for run, name in names.items())
    other = setup_chapter("x", "smoke", run_root=tmp_path, seed=2)
    # another supervised model: every run changes, the continued ones through their start
    assert all(other.run_dir(run).name != names[run] for run in fair_comparison.RUNS)
    with pytest.raises(Exception, match="unknown run 'semi-supervised'"):
        chapter.run_dir("semi-supervised")
    assert isinstance(chapter, Chapter)


def _grid_point(paired, seed, diff, healthy=True):
    point = {
        "paired": paired,
        "seed": seed,
        "failures": [] if healthy else ["semi"],
        "n_test": 40,
        "sdr_median": {m: {"vocals": 5.0, "accompaniment": 12.0} for m in ("control", "semi")},
        "semi_minus_control": {
            s: {
                "median_diff": diff,
                "ci_low": diff - 1,
                "ci_high": diff + 1,
                "wins": 30,
                "losses": 10,
            }
            for s in ("vocals", "accompaniment")
        },
    }
    if not healthy:
        point["compared_unhealthy"] = True
    return point


def test_grid_rows_leave_out_points_compared_with_unhealthy_runs():
    recorded = {
        "points": [
            _grid_point(2, 0, 1.5),
            _grid_point(2, 1, -0.5, healthy=False),
            {"paired": 4, "seed": 0, "failures": ["supervised"]},
        ]
    }
    rows = fair_comparison.grid_rows(recorded)
    assert [(r["paired"], r["seed"], r["semi - control"]) for r in rows] == [(2, 0, 1.5)]
    assert rows[0]["ci_low"] == 0.5 and rows[0]["n_test"] == 40


def test_the_recorded_grid_covers_its_claim():
    """What the README and chapter 5 quote: 2 to 16 paired songs, three seeds, 40 test songs
    each, with the provenance of the run."""
    recorded = fair_comparison.recorded_grid()
    if recorded is None:
        pytest.skip(f"{fair_comparison.RECORDED_GRID} is not recorded yet")
    assert {"command", "date", "git_commit", "machine"} <= set(recorded)
    assert recorded["plan"] == "synthetic_shift" and recorded["profile"] == "cpu"
    points = {(p["paired"], p["seed"]) for p in recorded["points"]}
    assert points == {(n, s) for n in (2, 4, 8, 16) for s in range(3)}
    for row in fair_comparison.grid_rows(recorded):
        assert row["n_test"] >= 40
        assert row["ci_low"] <= row["semi - control"] <= row["ci_high"]


def _subset(source: Path, target: Path, names: list[str]) -> Path:
    target.mkdir(parents=True)
    for name in names:
        (target / name).symlink_to(source / name)
    return target


@pytest.mark.slow
def test_musdb7_recipe_smoke_on_a_few_real_songs(musdb7_root, mir1k_root, tmp_path):
    """The script end to end on symbolic links to 4 MUSDB18-7 songs and 9 MIR-1K clips."""
    songs = sorted(p.name for p in (musdb7_root / "train").iterdir())[:4]
    musdb = tmp_path / "musdb"
    _subset(musdb7_root / "train", musdb / "train", songs)
    clips = sorted(p.name for p in (mir1k_root / "Wavfile").iterdir())[:9]
    mir1k = tmp_path / "mir1k"
    _subset(mir1k_root / "Wavfile", mir1k / "Wavfile", clips)
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "experiments" / "musdb7_recipe.py"), "--profile", "smoke"]
    cmd += ["--musdb", str(musdb), "--mir1k", str(mir1k), "--splits", "test_mir1k"]
    cmd += ["--run-root", str(tmp_path / "runs"), "--out", str(out), "--allow-unhealthy"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"command", "date", "git_commit", "machine", "recipe", "songs_per_role"} <= set(result)
    assert result["songs_per_role"]["paired"] == 4
    (seed,) = result["seeds"]
    assert set(seed["runs"]) == set(fair_comparison.RUNS)
    assert seed["runs"]["control"]["steps"] == seed["runs"]["semi"]["steps"] > 0
    split = seed["splits"]["test_mir1k"]
    assert split["n"] == 3
    assert {"baseline mixture", "baseline repet", "baseline oracle_irm"} <= set(split["sdr_median"])
    for pair in ("semi - control", "control - supervised", "semi - supervised"):
        diff = split["compare"][pair]["vocals"]
        assert diff["ci_low"] <= diff["median_diff"] <= diff["ci_high"]
    # a second invocation adds a recipe of the search: the runs and scores of the first are
    # reused, and the new one is compared with each of them
    cmd[cmd.index("--out") + 1] = str(tmp_path / "more.json")
    cmd += ["--variants", "supervised,control,semi,semi_strong", "--reuse-scores"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (more,) = json.loads((tmp_path / "more.json").read_text())["seeds"]
    again = more["splits"]["test_mir1k"]
    assert again["sdr_median"]["control"] == split["sdr_median"]["control"]
    assert again["compare"]["semi - control"] == split["compare"]["semi - control"]
    assert {"semi_strong - control", "semi_strong - semi"} <= set(again["compare"])
