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
