"""Data plans, the plan index cache and ``sepgan data check``."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepgan_lib import data_check, datasets, plans
from sepgan_lib.cli import main
from sepgan_lib.config import make_config
from sepgan_lib.errors import DataError
from sepgan_lib.plans import ROLES, load_plan

SR = 8192


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Fixture trees get their own cache; real-data tests share the session test cache."""
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def shared_cache(monkeypatch):
    root = Path(__file__).resolve().parents[1]
    monkeypatch.setenv(
        "SEPGAN_CACHE", os.environ.get("SEPGAN_CACHE_SHARED", str(root / ".cache" / "test-cache"))
    )


def tone(seed, seconds=5.2, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * (100 + 37 * seed) * t)).astype(np.float32)


def write(path, audio, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float32)
    sf.write(str(path), audio.T if audio.ndim == 2 else audio, sr, subtype="FLOAT")
    return path


def make_ccmixter(root, songs=6, seconds=5.2):
    for k in range(songs):
        folder = root / f"song{k:02d}"
        write(folder / "mix.wav", tone(k, seconds) + tone(k + 9, seconds))
        write(folder / "source-01.wav", tone(k, seconds))
        write(folder / "source-02.wav", tone(k + 9, seconds))
    return root


def make_dsd100(root, per_subset=4, seconds=0.5):
    for subset in ("Dev", "Test"):
        for k in range(per_subset):
            song = f"{k:03d} - {subset} song"
            stems = {
                n: tone(i + k, seconds) for i, n in enumerate(("vocals", "bass", "drums", "other"))
            }
            write(root / "Mixtures" / subset / song / "mixture.wav", sum(stems.values()))
            for n, x in stems.items():
                write(root / "Sources" / subset / song / f"{n}.wav", x)
    return root


def names(tracks):
    return [t.name for t in tracks]


# --- roots ------------------------------------------------------------------------------------


def test_parse_roots(tmp_path):
    assert plans.parse_roots(None) == {}
    got = plans.parse_roots([f"musdb={tmp_path}", "mir1k = /x/y"])
    assert got == {"musdb": tmp_path, "mir1k": Path("/x/y")}
    assert plans.parse_roots({"dsd100": "/d"}) == {"dsd100": Path("/d")}
    for bad in ("musdb", "=x", "musdb=", "nosuch=/x"):
        with pytest.raises(DataError):
            plans.parse_roots([bad])


def test_split_parts_matches_the_paper():
    assert [len(p) for p in plans.split_parts(list(range(122)), 3)] == [40, 40, 42]
    assert [len(p) for p in plans.split_parts(list(range(50)), 3)] == [16, 16, 18]
    assert [len(p) for p in plans.split_parts(list(range(50)), 2)] == [25, 25]


# --- musdb7 on the real data --------------------------------------------------------------------


def test_musdb7_plan_counts(musdb7_root, mir1k_root, shared_cache):
    plan = load_plan("musdb7", [f"musdb={musdb7_root}", f"mir1k={mir1k_root}"])
    musdb = sorted(t.name for t in datasets.read_musdb(musdb7_root))
    mir = sorted(t.name for t in datasets.read_mir1k(mir1k_root))
    assert names(plan.roles["paired"]) == musdb[:30]
    by = {r: [t for t in plan.roles[r] if t.dataset == "musdb"] for r in plan.roles}
    assert names(by["valid"]) == musdb[30:44]
    for pool in plans.UNPAIRED:
        assert names(by[pool]) == musdb[44:]
        assert len(by[pool]) == 50
        assert names([t for t in plan.roles[pool] if t.dataset == "mir1k"]) == mir[:54]
    assert names([t for t in plan.roles["valid"] if t.dataset == "mir1k"]) == mir[54:108]
    assert names(plan.roles["test_mir1k"]) == mir[108:]
    assert plan.roles["test"] == []  # the preview has no test subset
    assert any("role test has no tracks" in p for p in plan.problems)
    summary = plan.summary()
    assert summary["paired"]["tracks"] == 30 and summary["paired"]["sample_rates"] == {44100: 30}
    assert summary["test_mir1k"]["tracks"] == 55


def test_musdb7_disjoint_unpaired(musdb7_root, shared_cache):
    config = make_config("paper", {"disjoint_unpaired": True})
    plan = load_plan("musdb7", {"musdb": musdb7_root}, config)
    pools = [set(names(plan.roles[p])) for p in plans.UNPAIRED]
    assert [len(p) for p in pools] == [16, 16, 18]
    assert not (pools[0] & pools[1] or pools[0] & pools[2] or pools[1] & pools[2])
    assert any("optional root mir1k" in p for p in plan.problems)


def test_cli_check_musdb7_on_real_data(musdb7_root, mir1k_root, capsys, shared_cache):
    argv = ["data", "check", "--plan", "musdb7"]
    argv += ["--root", f"musdb={musdb7_root}", "--root", f"mir1k={mir1k_root}"]
    start = time.perf_counter()
    assert main(argv) == 0
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out
    assert elapsed < 60, elapsed
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["paired"][1] == "30"
    assert rows["valid"][1] == str(14 + 54)
    assert rows["unpaired_mix"][1] == str(50 + 54)
    assert rows["test_mir1k"][1] == "55"
    assert "musdb 50" in out and "mir1k 54" in out and "musdb 14" in out
    assert "257 songs checked" in out and "0 error(s)" in out
    # Second run reads the decoded cache; JSON output.
    start = time.perf_counter()
    assert main([*argv, "--json"]) == 0
    assert time.perf_counter() - start < 15
    report = json.loads(capsys.readouterr().out)
    assert report["roles"]["paired"]["tracks"] == 30
    assert report["roles"]["paired"]["datasets"] == {"musdb": 30}
    assert report["roles"]["unpaired_acc"]["datasets"] == {"mir1k": 54, "musdb": 50}
    assert report["roles"]["valid"]["datasets"] == {"mir1k": 54, "musdb": 14}
    assert report["errors"] == 0


def test_missing_root_exits_non_zero_naming_the_layout(tmp_path, capsys):
    assert main(["data", "check", "--plan", "musdb7"]) == 2
    err = capsys.readouterr().err
    assert "--root musdb=PATH" in err and "train/<song>.stem.mp4" in err
    assert main(["data", "check", "--plan", "musdb7", "--root", f"musdb={tmp_path / 'x'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty" / "train").mkdir(parents=True)
    assert main(["data", "check", "--plan", "musdb7", "--root", f"musdb={tmp_path / 'empty'}"]) == 2
    assert "stem.mp4" in capsys.readouterr().err
    assert main(["data", "check", "--plan", "nosuch"]) == 2
    assert "shipped plans" in capsys.readouterr().err
    assert main(["data", "check", "--plan", "musdb7", "--root", "dsd100=/x"]) == 2
    assert "does not use" in capsys.readouterr().err


# --- paper plan on fixture trees ---------------------------------------------------------------


def test_paper_plan(tmp_path):
    dsd = make_dsd100(tmp_path / "DSD100")
    cc = make_ccmixter(tmp_path / "ccmixter", songs=7, seconds=0.5)
    plan = load_plan("paper", {"dsd100": dsd, "ccmixter": cc})
    dev = [f"{k:03d} - Dev song" for k in range(4)]
    test = [f"{k:03d} - Test song" for k in range(4)]
    cc_names = [f"song{k:02d}" for k in range(7)]
    assert names(plan.roles["paired"]) == dev
    assert names(plan.roles["valid"]) == test[:2] + cc_names[2:4]
    assert names(plan.roles["test"]) == test[2:] + cc_names[4:]
    assert names(plan.roles["test_dsd100"]) == test[2:]
    assert names(plan.roles["test_ccmixter"]) == cc_names[4:]
    for pool in plans.UNPAIRED:
        assert names(plan.roles[pool]) == cc_names[:2]
    assert any("optional root medleydb" in p for p in plan.problems)
    with pytest.raises(DataError, match="at least one"):
        load_plan("paper", {})


# --- YAML plans ------------------------------------------------------------------------------


def test_yaml_plan(tmp_path):
    make_ccmixter(tmp_path / "data" / "cc", songs=9, seconds=0.5)
    plan_file = tmp_path / "mine.yaml"
    plan_file.write_text(
        """
name: mine
roots:
  ccmixter: data/cc          # relative to this file
roles:
  paired:
    - {dataset: ccmixter, slice: "0:3"}
  unpaired:
    - {dataset: ccmixter, part: "2/3"}
  valid:
    - {dataset: ccmixter, names: [song08, song07]}
  test_extra:
    - {dataset: ccmixter, slice: "-1:"}
"""
    )
    plan = load_plan(plan_file)
    assert plan.name == "mine"
    assert names(plan.roles["paired"]) == ["song00", "song01", "song02"]
    assert names(plan.roles["unpaired_vocals"]) == ["song03", "song04", "song05"]
    assert names(plan.roles["valid"]) == ["song08", "song07"]
    assert names(plan.roles["test_extra"]) == ["song08"]
    assert any("role test has no tracks" in p for p in plan.problems)
    disjoint = load_plan(plan_file, config=make_config("paper", {"disjoint_unpaired": True}))
    assert [names(disjoint.roles[p]) for p in plans.UNPAIRED] == [
        ["song03"],
        ["song04"],
        ["song05"],
    ]
    # --root overrides the file's default root
    other = make_ccmixter(tmp_path / "other", songs=9, seconds=0.25)
    overridden = load_plan(plan_file, {"ccmixter": other})
    assert overridden.roots == {"ccmixter": str(other)}
    assert overridden.roles["paired"][0].duration == pytest.approx(0.25, abs=1e-3)


@pytest.mark.parametrize(
    "text, match",
    [
        ("roles: {training: [{dataset: ccmixter}]}", "unknown role"),
        ("roles: {paired: [{dataset: nosuch}]}", "unknown dataset"),
        ("roles: {paired: [{dataset: ccmixter, slice: 'x'}]}", "slice"),
        ("roles: {paired: [{dataset: ccmixter, part: '4/3'}]}", "part"),
        ("roles: {paired: [{dataset: ccmixter, names: [nope]}]}", "not found"),
        ("roles: {paired: [{dataset: ccmixter, slice: '0:1', part: '1/2'}]}", "one of"),
        ("roles: [1, 2]", "roles"),
        ("colour: blue\nroles: {paired: [{dataset: ccmixter}]}", "unknown plan keys"),
        ("roles: {paired: [{dataset: ccmixter}", "cannot read"),
    ],
)
def test_bad_yaml_plan(tmp_path, text, match):
    make_ccmixter(tmp_path / "cc", songs=2, seconds=0.5)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        load_plan(path, {"ccmixter": tmp_path / "cc"})


# --- checking and the index -------------------------------------------------------------------


def test_check_reports_problems_without_crashing(tmp_path, capsys):
    root = make_ccmixter(tmp_path / "cc", songs=6)
    (root / "song00" / "source-02.wav").write_bytes(b"RIFF\x00\x00garbage")  # corrupt
    write(root / "song01" / "source-02.wav", np.zeros(int(5.2 * SR), np.float32))  # silent
    write(root / "song02" / "source-01.wav", tone(2, seconds=5.6))  # 0.4 s longer
    for name in ("mix", "source-01", "source-02"):  # shorter than one patch
        write(root / "song03" / f"{name}.wav", tone(3, seconds=1.0))
    plan_file = tmp_path / "p.yaml"
    plan_file.write_text("roles: {paired: [{dataset: ccmixter}], test: [{dataset: ccmixter}]}")
    plan = load_plan(plan_file, {"ccmixter": root})
    report = data_check.check_plan(plan, make_config("paper"))
    by_track = {}
    for p in report["problems"]:
        by_track.setdefault(p["track"], []).append((p["severity"], p["message"]))
    assert by_track["ccmixter/all/song00"][0][0] == "error"
    assert "source-02.wav" in by_track["ccmixter/all/song00"][0][1]
    assert any("silent vocals" in m for _, m in by_track["ccmixter/all/song01"])
    assert any("different lengths" in m for _, m in by_track["ccmixter/all/song02"])
    assert any("shorter than one patch" in m for _, m in by_track["ccmixter/all/song03"])
    assert "ccmixter/all/song04" not in by_track
    assert report["errors"] == 1 and report["roles"]["paired"]["unreadable"] == 1
    assert report["roles"]["paired"]["tracks"] == 6
    argv = ["data", "check", "--plan", str(plan_file), "--root", f"ccmixter={root}"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "error" in out and "song00" in out and "silent vocals" in out
    assert not list(root.rglob("*.npz"))  # nothing written into the dataset root


def test_patch_seconds():
    assert data_check.patch_seconds(make_config("paper")) == pytest.approx(158 * 256 / 8192)


def test_index_is_reused_and_rebuilt_when_files_change(tmp_path, monkeypatch):
    root = make_ccmixter(tmp_path / "cc", songs=3, seconds=0.5)
    plan_file = tmp_path / "p.yaml"
    plan_file.write_text("roles: {paired: [{dataset: ccmixter}]}")
    calls = []
    real = datasets.read_ccmixter

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setitem(plans.READERS, "ccmixter", counting)
    first = load_plan(plan_file, {"ccmixter": root})
    second = load_plan(plan_file, {"ccmixter": root})
    assert len(calls) == 1 and names(second.roles["paired"]) == names(first.roles["paired"])
    assert list((tmp_path / "cache" / "index").glob("p-*.json"))
    # A changed file (size and mtime) rebuilds the index.
    write(root / "song01" / "mix.wav", tone(1, seconds=0.7))
    os.utime(root / "song01" / "mix.wav", ns=(1, 10**18))
    third = load_plan(plan_file, {"ccmixter": root})
    assert len(calls) == 2
    assert third.roles["paired"][1].duration == pytest.approx(0.7, abs=1e-3)
    # A new song too.
    make_ccmixter(tmp_path / "extra", songs=1, seconds=0.5)
    os.rename(tmp_path / "extra" / "song00", root / "song99")
    assert len(load_plan(plan_file, {"ccmixter": root}).roles["paired"]) == 4
    assert len(calls) == 3


def test_save_and_load_index(tmp_path):
    root = make_ccmixter(tmp_path / "cc", songs=3, seconds=0.5)
    plan = load_plan("paper", {"ccmixter": root})
    path = plans.save_index(plan, tmp_path / "run" / "plan_index.json")
    again = plans.load_index(path)
    assert again.roles == plan.roles and again.problems == plan.problems
    assert set(plan.roles) >= set(ROLES)
    with pytest.raises(DataError):
        plans.load_index(tmp_path / "nothing.json")


# --- the synthetic plan -------------------------------------------------------------------------


def test_synthetic_plan_is_the_default(shared_cache):
    synth_set = pytest.importorskip("sepgan_lib.synth_set")
    if not hasattr(synth_set, "ensure_synthetic_set"):
        pytest.skip("sepgan_lib.synth_set.ensure_synthetic_set is not written yet")
    config = make_config("smoke")
    plan = load_plan(None, config=config)
    assert plan.name == "synthetic"
    root = synth_set.ensure_synthetic_set(
        tracks=config.synthetic_tracks, seconds=config.synthetic_seconds, seed=0
    )
    listing = datasets.read_synthetic(root)
    train = [t for t in listing if t.subset == "train"]
    half = len(train) // 2
    assert names(plan.roles["paired"]) == names(train[:half])
    for pool in plans.UNPAIRED:
        assert names(plan.roles[pool]) == names(train[half:])
    assert names(plan.roles["valid"]) == names([t for t in listing if t.subset == "valid"])
    assert names(plan.roles["test"]) == names([t for t in listing if t.subset == "test"])
    assert all(t.sample_rate == SR for t in plan.all_tracks())
    disjoint = load_plan(None, config=config.replace(disjoint_unpaired=True))
    pools = [set(names(disjoint.roles[p])) for p in plans.UNPAIRED]
    assert sum(len(p) for p in pools) == len(train) - half
    report = data_check.check_plan(plan, config)
    assert report["errors"] == 0, report["problems"]
