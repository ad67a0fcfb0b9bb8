"""experiments/paired_vs_unpaired.py end to end at the smoke profile."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "paired_vs_unpaired.py"


def test_paired_vs_unpaired_smoke_writes_the_results_json(tmp_path):
    out = tmp_path / "results.json"
    cmd = [sys.executable, str(SCRIPT), "--profile", "smoke", "--paired", "2", "--seeds", "1"]
    cmd += ["--run-root", str(tmp_path / "runs"), "--out", str(out), "--allow-unhealthy"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"command", "date", "git_commit", "machine", "recipe", "points"} <= set(result)
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["platform"]
    (point,) = result["points"]
    assert point["paired"] == 2 and point["seed"] == 0
    assert set(point["runs"]) == {"supervised", "control", "semi"}
    # the control and the semi run continue from the supervised weights for the same steps
    assert point["runs"]["control"]["steps"] == point["runs"]["semi"]["steps"] > 0
    # unhealthy runs (likely after a few smoke steps) are counted, and flagged when compared
    unhealthy = [name for name, run in point["runs"].items() if not run["healthy"]]
    assert point["failures"] == unhealthy and result["failures"] == len(unhealthy)
    assert point.get("compared_unhealthy", False) == bool(unhealthy)
    assert point["n_test"] == 2  # the smoke profile's style-b test songs
    for source in ("vocals", "accompaniment"):
        diff = point["semi_minus_control"][source]
        assert diff["ci_low"] <= diff["median_diff"] <= diff["ci_high"]
        for model in ("control", "semi"):
            assert isinstance(point["sdr_median"][model][source], float)

    # an ablation of the semi run only reuses the point's supervised and control runs
    ablation = tmp_path / "ablation.json"
    cmd = [c if c != str(out) else str(ablation) for c in cmd]
    cmd += ["--semi-set", "alpha=0", "--semi-name", "semi-alpha0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(ablation.read_text())
    assert again["semi_changes"] == {"alpha": 0.0}
    (ablated,) = again["points"]
    assert ablated["runs"]["semi"]["run_dir"].endswith("semi-alpha0")
    for name in ("supervised", "control"):
        assert ablated["runs"][name]["run_dir"] == point["runs"][name]["run_dir"]
        assert ablated["runs"][name]["steps"] == point["runs"][name]["steps"]
    assert ablated["runs"]["semi"]["steps"] == point["runs"]["semi"]["steps"]


def test_postfilter_smoke_scores_every_filter_against_none(tmp_path):
    """experiments/postfilter.py on one smoke run and one song per role: every filter named,
    compared with none per song, a choice made on the validation set only, costs measured."""
    out = tmp_path / "postfilter.json"
    script = ROOT / "experiments" / "postfilter.py"
    cmd = [sys.executable, str(script), "--domains", "synthetic_shift", "--profile", "smoke"]
    cmd += ["--max-songs", "1", "--jobs", "1", "--run-root", str(tmp_path / "runs")]
    cmd += ["--out", str(out), "--allow-unhealthy"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"command", "date", "git_commit", "machine", "loadavg_start", "choice"} <= set(result)
    labels = ["none", "soft p=1", "soft p=2", "wiener"]
    assert result["filters"] == labels
    domain = result["domains"]["synthetic_shift"]
    assert {"date", "git_commit"} <= set(domain["provenance"])
    sets = domain["sets"]
    assert sets["valid"]["used_for_choice"] and not sets["test"]["used_for_choice"]
    for entry in sets.values():
        assert entry["n"] == 1 and list(entry["sdr_median"]) == labels
        assert set(entry["vs_none"]) == set(labels[1:])
    assert result["choice"]["postfilter"] in labels
    assert result["choice"]["validation_sets"] == ["synthetic_shift/valid"]
    assert set(domain["cost"]["filters"]) == set(labels)
    assert all(v > 0 for v in domain["cost"]["filters"].values())
