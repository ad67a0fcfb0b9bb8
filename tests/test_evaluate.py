"""BSS Eval, baselines, summaries, paired comparisons and the evaluation of a run."""

import csv
import json

import numpy as np
import pytest

from sepgan_lib import cli
from sepgan_lib.compare import compare_results, format_comparison
from sepgan_lib.evaluate import evaluate_tracks
from sepgan_lib.metrics import SkippedSong, baseline_estimates, bss_eval, summarize

SR = 8192


def _song(seed, seconds=4.0):
    """A toy song: a vibrato 'voice' with on/off phrases over a chord and noise."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    f0 = rng.uniform(200, 400)
    phrase = (np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) > -0.3).astype(float)
    vocals = sum(
        np.sin(2 * np.pi * k * f0 * (t + 0.002 * np.sin(2 * np.pi * 5 * t))) / k for k in (1, 2, 3)
    )
    vocals = 0.2 * vocals * phrase
    accompaniment = sum(
        0.1 * np.sin(2 * np.pi * f * t) for f in rng.uniform(80, 1500, 4)
    ) + 0.02 * rng.standard_normal(n)
    vocals, accompaniment = vocals.astype(np.float32), accompaniment.astype(np.float32)
    return {"mixture": vocals + accompaniment, "vocals": vocals, "accompaniment": accompaniment}


def _leaky(audio, leak=0.3):
    """An imperfect separator that knows the answer: each estimate leaks the other source."""
    v, a = audio["vocals"], audio["accompaniment"]
    return {"vocals": v + leak * a, "accompaniment": a + leak * v}


def _knowing(*songs):
    """An estimator that recognises each song's mixture and returns its leaky estimates."""

    def estimator(mixture):
        for audio in songs:
            if np.array_equal(audio["mixture"], mixture):
                return _leaky(audio)
        raise AssertionError("unknown mixture")

    return estimator


def test_bss_eval_known_cases(rng):
    audio = _song(0)
    refs = {s: audio[s] for s in ("vocals", "accompaniment")}
    noisy = {s: x + 1e-3 * rng.standard_normal(len(x)).astype(np.float32) for s, x in refs.items()}
    good = bss_eval(refs, noisy)
    assert set(good) == {"vocals", "accompaniment"}
    assert set(good["vocals"]) == {"SDR", "SIR", "SAR"}
    assert good["vocals"]["SDR"] > 30 and good["accompaniment"]["SDR"] > 30
    assert all(isinstance(v, float) for m in good.values() for v in m.values())
    mixture = bss_eval(refs, baseline_estimates(audio["mixture"], refs, "mixture"))
    oracle = bss_eval(refs, baseline_estimates(audio["mixture"], refs, "oracle_irm"))
    for source in ("vocals", "accompaniment"):
        assert mixture[source]["SDR"] < oracle[source]["SDR"] < good[source]["SDR"]
    assert oracle["vocals"]["SDR"] > 8


def test_baselines_have_the_mixture_length():
    audio = _song(1, seconds=3.3)
    refs = {s: audio[s] for s in ("vocals", "accompaniment")}
    for method in ("mixture", "oracle_irm", "repet"):
        est = baseline_estimates(audio["mixture"], refs, method)
        for source in ("vocals", "accompaniment"):
            assert est[source].shape == audio["mixture"].shape
            assert np.all(np.isfinite(est[source]))
    repet = baseline_estimates(audio["mixture"], refs, "repet")  # masks add up to < mixture
    assert np.sum((repet["vocals"] + repet["accompaniment"]) ** 2) <= 1.01 * np.sum(
        audio["mixture"].astype(np.float64) ** 2
    )
    short = baseline_estimates(audio["mixture"][:300], refs, "repet")  # 2 frames: no crash
    assert len(short["vocals"]) == 300


def test_silent_reference_is_skipped_with_a_reason():
    audio = _song(2)
    silent = {**audio, "vocals": np.zeros_like(audio["vocals"])}
    silent["mixture"] = silent["accompaniment"].copy()
    with pytest.raises(SkippedSong, match="vocals reference is silent"):
        bss_eval(silent, _leaky(silent))
    estimator = _knowing(audio, silent)
    result = evaluate_tracks([("ok", audio), ("instrumental", silent)], estimator, jobs=1)
    assert [t["name"] for t in result["tracks"]] == ["ok"]
    assert result["skipped"] == [{"name": "instrumental", "reason": result["skipped"][0]["reason"]}]
    assert "silent" in result["skipped"][0]["reason"]


def test_silent_estimate_is_scored_not_skipped():
    audio = _song(3)

    def dead(mixture):
        return {"vocals": np.zeros_like(mixture), "accompaniment": mixture}

    result = evaluate_tracks([("dead", audio)], dead, jobs=1, progress=False)
    assert not result["skipped"]
    assert result["tracks"][0]["vocals"]["SDR"] < -10


def test_summary_by_hand():
    tracks = [
        {
            "name": f"s{i}",
            "vocals": {"SDR": sdr, "SIR": 10.0, "SAR": 2 * sdr},
            "accompaniment": {"SDR": -sdr, "SIR": 5.0, "SAR": 1.0},
        }
        for i, sdr in enumerate([1.0, 2.0, 6.0])
    ]
    summary = summarize(tracks)
    assert summary["vocals"]["SDR"] == {"mean": 3.0, "median": 2.0}
    assert summary["vocals"]["SAR"] == {"mean": 6.0, "median": 4.0}
    assert summary["accompaniment"]["SDR"] == {"mean": -3.0, "median": -2.0}
    assert summary["accompaniment"]["SIR"] == {"mean": 5.0, "median": 5.0}
    assert set(summary) == {"vocals", "accompaniment"}
    assert summarize([])["vocals"]["SDR"] == {"mean": None, "median": None}


def _result(sdrs, shift=0.0, names=None):
    names = names or [f"song{i}" for i in range(len(sdrs))]
    return {
        "plan": "p",
        "split": "test",
        "tracks": [
            {
                "name": n,
                "vocals": {"SDR": s + shift, "SIR": 0.0, "SAR": 0.0},
                "accompaniment": {"SDR": s / 2 + shift, "SIR": 0.0, "SAR": 0.0},
            }
            for n, s in zip(names, sdrs)
        ],
        "skipped": [],
    }


def test_compare_shift_of_one_db(tmp_path):
    sdrs = [0.25 * k for k in range(-8, 12)]
    a, b = _result(sdrs), _result(sdrs, shift=1.0)
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    for cmp in (compare_results(a, b), compare_results(tmp_path / "a.json", tmp_path / "b.json")):
        assert cmp["n"] == len(sdrs)
        for source in ("vocals", "accompaniment"):
            e = cmp[source]
            assert e["median_diff"] == pytest.approx(1.0)
            assert e["ci_low"] <= 1.0 + 1e-9 and e["ci_high"] >= 1.0 - 1e-9
            assert (e["wins"], e["losses"], e["ties"], e["n"]) == (len(sdrs), 0, 0, len(sdrs))
    back = compare_results(b, a)
    assert back["vocals"]["median_diff"] == pytest.approx(-1.0)
    assert back["vocals"]["losses"] == len(sdrs)


def test_a_comparison_of_run_results_names_their_runs_not_the_machine(tmp_path):
    sdrs = [0.5 * k for k in range(6)]
    a, b = _result(sdrs), _result(sdrs, shift=1.0)
    for result, run in ((a, "control"), (b, "semi")):
        result["files"] = {"json": str(tmp_path / "runs" / run / "eval" / "p-test.json")}
    text = format_comparison(compare_results(a, b))
    assert "A = control/eval/p-test.json" in text and "B = semi/eval/p-test.json" in text
    assert str(tmp_path) not in text
    assert "A = control (" in format_comparison(compare_results({**a, "label": "control"}, b))


def test_compare_only_common_songs_and_noisy_interval():
    rng = np.random.default_rng(0)
    sdrs = list(rng.normal(3, 2, 30))
    a = _result(sdrs)
    b = _result(list(np.array(sdrs) + rng.normal(0.5, 1.0, 30)))
    b["tracks"] = b["tracks"][5:] + _result([9.0], names=["extra"])["tracks"]
    cmp = compare_results(a, b, n_boot=500, seed=1)
    assert cmp["n"] == 25 and cmp["only_b"] == ["extra"] and len(cmp["only_a"]) == 5
    e = cmp["vocals"]
    assert e["ci_low"] < e["median_diff"] < e["ci_high"]
    assert e["wins"] + e["losses"] + e["ties"] == 25
    assert compare_results(a, b, n_boot=500, seed=1) == cmp  # seeded


def test_cli_compare(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(_result([1.0, 2.0, 3.0])))
    (tmp_path / "b.json").write_text(json.dumps(_result([1.0, 2.0, 3.0], shift=2.0)))
    assert cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    text = capsys.readouterr().out
    assert "vocals" in text and "2.00" in text
    assert cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vocals"]["median_diff"] == pytest.approx(2.0)


def _flatten(x, prefix=()):
    if isinstance(x, dict):
        return {k: v for key, item in x.items() for k, v in _flatten(item, (*prefix, key)).items()}
    if isinstance(x, list):
        return {k: v for i, item in enumerate(x) for k, v in _flatten(item, (*prefix, i)).items()}
    return {prefix: x}


def parallel_value(result, key):
    for part in key:
        result = result[part]
    return result


def test_parallel_equals_serial():
    songs = [(f"song{i}", _song(10 + i, seconds=2.0)) for i in range(2)]
    lazy = [(name, (lambda audio=audio: audio)) for name, audio in songs]  # loaders work too
    estimator = _knowing(*(audio for _, audio in songs))
    serial = evaluate_tracks(songs, estimator, jobs=1, progress=False)
    parallel = evaluate_tracks(lazy, estimator, jobs=2, progress=False)
    # the same numbers (up to BLAS summation order: workers use one thread)
    assert _flatten(serial).keys() == _flatten(parallel).keys()
    for key, value in _flatten(serial).items():
        expected = pytest.approx(value, rel=1e-7, abs=1e-6) if isinstance(value, float) else value
        assert parallel_value(parallel, key) == expected, key
    assert [t["name"] for t in serial["tracks"]] == ["song0", "song1"]
    assert set(serial) == {"tracks", "summary", "skipped"}


def test_baselines_floor_and_ceiling():
    songs = [(f"song{i}", _song(20 + i, seconds=2.0)) for i in range(2)]
    result = evaluate_tracks(
        songs, _knowing(*(a for _, a in songs)), baselines=True, jobs=1, progress=False
    )
    track = result["tracks"][0]
    assert set(track) == {"name", "vocals", "accompaniment"}
    assert set(track["vocals"]) == {"SDR", "SIR", "SAR", "SDR_improvement"}
    base = result["baselines"]
    assert set(base) == {"mixture", "oracle_irm", "repet"}
    for source in ("vocals", "accompaniment"):
        assert base["mixture"][source]["SDR_improvement"]["median"] == pytest.approx(0.0)
        mixture = base["mixture"][source]["SDR"]["median"]
        assert mixture < result["summary"][source]["SDR"]["median"]
        assert mixture < base["oracle_irm"][source]["SDR"]["median"]
        for t in result["tracks"]:
            assert t[source]["SDR_improvement"] > 0
    assert len(result["baseline_tracks"]["repet"]) == 2


# --- a run on the synthetic plan -------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from sepgan_lib.config import make_config
    from sepgan_lib.shapes import unet_shapes
    from sepgan_lib.unet import build_separator

    config = make_config("smoke", {"base_filters": 2})
    run = tmp_path_factory.mktemp("run")
    shapes = unet_shapes((256, config.num_frames), config.num_layers)
    model = build_separator(shapes.input, config.num_layers, config.base_filters)
    # half of the mixture for each head: a poor but non-silent separator
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    for head in ("accompaniment", "vocals"):
        kernel, bias = model.get_layer(head).get_weights()
        kernel[..., -1, 0] = 1.0
        bias[:] = -0.2
        model.get_layer(head).set_weights([kernel, bias])
    config.save(run / "config.json")
    (run / "best").mkdir()
    model.save(run / "best" / "separator.keras")
    return run


def test_evaluate_run_writes_json_and_csv(tiny_run, capsys):
    from sepgan_lib.evaluate import evaluate_run

    result = evaluate_run(tiny_run, plan="synthetic", split="test", jobs=2, progress=False)
    json_path = tiny_run / "eval" / "synthetic-test.json"
    csv_path = tiny_run / "eval" / "synthetic-test.csv"
    assert json_path.is_file() and csv_path.is_file()
    saved = json.loads(json_path.read_text())
    assert saved["plan"] == "synthetic" and saved["split"] == "test"
    assert set(saved) == {"plan", "split", "postfilter", "tracks", "summary", "skipped", "health"}
    scored = len(saved["tracks"]) + len(saved["skipped"])
    assert scored >= 1 and len(saved["tracks"]) >= 1
    for track in saved["tracks"]:
        for source in ("vocals", "accompaniment"):
            for metric in ("SDR", "SIR", "SAR", "SDR_improvement"):
                assert isinstance(track[source][metric], float)
    assert saved["summary"]["vocals"]["SDR"]["median"] is not None
    assert result["tracks"] == saved["tracks"]
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * scored
    assert {r["source"] for r in rows} == {"vocals", "accompaniment"}
    first = saved["tracks"][0]
    row = next(r for r in rows if r["name"] == first["name"] and r["source"] == "vocals")
    assert float(row["SDR"]) == pytest.approx(first["vocals"]["SDR"], abs=1e-3)


def test_cli_evaluate_with_baselines(tiny_run, capsys):
    code = cli.main(
        ["evaluate", str(tiny_run), "--plan", "synthetic", "--baselines", "--jobs", "1", "--quiet"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "vocals" in out and "oracle_irm" in out
    saved = json.loads((tiny_run / "eval" / "synthetic-test.json").read_text())
    assert set(saved["baselines"]) == {"mixture", "oracle_irm", "repet"}
    oracle = saved["baselines"]["oracle_irm"]["vocals"]["SDR"]["median"]
    mixture = saved["baselines"]["mixture"]["vocals"]["SDR"]["median"]
    assert oracle > mixture
    code = cli.main(["evaluate", str(tiny_run), "--plan", "synthetic", "--split", "nope"])
    assert code == 2
    assert "nope" in capsys.readouterr().err


def test_verdict_reads_the_interval():
    from sepgan_lib.compare import verdict

    entry = {"median_diff": 1.0, "ci_low": 0.4, "ci_high": 1.5, "wins": 9, "losses": 1, "n": 10}
    assert "helped" in verdict("vocals", entry)
    assert "hurt" in verdict(
        "vocals", {**entry, "median_diff": -1.0, "ci_low": -2, "ci_high": -0.2}
    )
    assert "no evidence" in verdict("vocals", {**entry, "ci_low": -0.5})
    assert "no conclusion" in verdict("vocals", {**entry, "n": 3})
    assert "nothing to compare" in verdict("vocals", {"n": 0})


def test_a_songs_floor_is_scored_once_and_reused_by_the_next_run(monkeypatch):
    from sepgan_lib import metrics

    songs = [(f"floor{i}", _song(40 + i, seconds=2.0)) for i in range(2)]
    estimator = _knowing(*(audio for _, audio in songs))
    first = evaluate_tracks(songs, estimator, jobs=2, progress=False)  # floors from the workers
    assert all(metrics.known_floor(metrics.song_key(audio)) for _, audio in songs)
    calls = []
    real = metrics.bss_eval
    monkeypatch.setattr(metrics, "bss_eval", lambda r, e: calls.append(1) or real(r, e))
    again = evaluate_tracks(songs, estimator, jobs=1, progress=False)  # here, floors known
    assert len(calls) == len(songs)  # the estimates' BSS Eval only
    for key, value in _flatten(first).items():
        expected = pytest.approx(value, rel=1e-7, abs=1e-6) if isinstance(value, float) else value
        assert parallel_value(again, key) == expected, key


ORPHAN_SCRIPT = """
import os, sys, time
from sepgan_lib import evaluate

if __name__ == "__main__":
    pool = evaluate._pool(2)
    pids = {pool.submit(os.getpid).result() for _ in range(4)}
    print(" ".join(map(str, sorted(pids))), flush=True)
    time.sleep(600)
"""


def test_the_kept_pool_s_workers_end_when_their_parent_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "orphans.py"
    script.write_text(ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert workers and parent.pid not in workers
    os.kill(parent.pid, signal.SIGKILL)  # no clean shutdown: the workers are orphans
    parent.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as handle:  # a zombie waits for init to reap it
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"

    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(alive(pid) for pid in workers), "a worker outlived its parent"
