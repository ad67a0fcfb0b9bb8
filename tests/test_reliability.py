"""Issue 13: one run per folder (lock, saved data plan), checks before writing, clear errors."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from sepgan_lib import cli, errors, runfolder
from sepgan_lib.config import make_config
from sepgan_lib.errors import DataError, SepganError, TrainingError
from sepgan_lib.plans import load_plan
from sepgan_lib.train import train

TINY = {"epoch_it": 1, "max_epochs": 1, "valid_max_songs": 1}


@pytest.fixture(scope="module")
def config():
    return make_config("smoke", TINY)


@pytest.fixture(scope="module")
def plan(config):
    return load_plan("synthetic", None, config)


def other_plan(plan):
    """The synthetic plan with two paired songs swapped for others (another data plan)."""
    roles = dict(plan.roles)
    roles["paired"] = roles["paired"][2:] + roles["test"][:2]
    return dataclasses.replace(plan, name="other", roles=roles)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, config, plan):
    run = tmp_path_factory.mktemp("runs") / "finished"
    train(run, "supervised", config, plan=plan, progress=False)
    return run


def test_a_finished_run_refuses_another_plan(finished_run, config, plan):
    saved = json.loads((finished_run / "plan_index.json").read_text())
    assert saved["name"] == "synthetic" and saved["roles"]["paired"]
    with pytest.raises(TrainingError, match="another data plan.*'synthetic' -> 'other'.*paired"):
        train(finished_run, "supervised", config, plan=other_plan(plan), progress=False)
    # the same plan gives the finished result back; the lock is free again
    assert train(finished_run, "supervised", config, plan=plan, progress=False)["steps"] == 1
    assert (finished_run / ".lock").read_text() == ""


def test_init_from_is_checked_before_anything_is_written(tmp_path, finished_run, config, plan):
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="--init-from.*does not exist"):
        train(run, "supervised", config, plan=plan, init_from=tmp_path / "nope", progress=False)
    assert not run.exists()
    with pytest.raises(TrainingError, match="--init-from.*another architecture.*base_filters"):
        train(
            run,
            "supervised",
            config.replace(base_filters=8),
            plan=plan,
            init_from=finished_run,
            progress=False,
        )
    assert not run.exists()


def test_a_bad_plan_leaves_nothing_and_the_retry_works(tmp_path, config, plan):
    run = tmp_path / "run"
    with pytest.raises(SepganError, match="nosuchplan"):
        train(run, "supervised", config, plan="nosuchplan", progress=False)
    assert not run.exists()
    result = train(run, "supervised", config, plan=plan, progress=False, stop_after_steps=1)
    assert result["interrupted"]
    assert json.loads((run / "config.json").read_text())["epoch_it"] == 1
    # an interrupted run resumed with another plan is refused and its plan is not relabelled
    with pytest.raises(TrainingError, match="another data plan"):
        train(run, "supervised", config, plan=other_plan(plan), progress=False)
    assert json.loads((run / "plan_index.json").read_text())["name"] == "synthetic"


def test_shapes_without_a_usable_song_fail_before_the_models(tmp_path, config, plan, monkeypatch):
    import sepgan_lib.train as train_module

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(train_module, "Trainer", no_model)
    run = tmp_path / "run"
    with pytest.raises(DataError, match=r"no usable song for paired.*num_layers=7"):
        train(run, "supervised", config.replace(num_layers=7), plan=plan, progress=False)
    assert not (run / "config.json").exists()


def test_a_run_folder_that_is_a_file(tmp_path, config, plan):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(SepganError, match="is a file"):
        train(path, "supervised", config, plan=plan, progress=False)
    with pytest.raises(SepganError, match="is a file"):
        train(path / "below", "supervised", config, plan=plan, progress=False)


HOLD = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"pid": os.getpid(), "host": "h", "since": time.time()}).encode())
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_trainer_is_refused(tmp_path, config, plan):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run / ".lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(runfolder.RunFolderBusy, match=f"pid {holder.pid}"):
            train(run, "supervised", config, plan=plan, progress=False)
        assert not (run / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (killed): its lock is stale and taken over
    lock = runfolder.RunLock(run).acquire()
    try:
        assert lock.took_over["pid"] == holder.pid
        assert json.loads((run / ".lock").read_text())["pid"] == os.getpid()
    finally:
        lock.release()


def test_a_stale_lock_without_flock_is_judged_by_its_pid(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    (tmp_path / ".lock").write_text(json.dumps({"pid": int(dead), "since": 0}))
    with runfolder.RunLock(tmp_path) as lock:
        assert lock.took_over["pid"] == int(dead)


def test_cli_train_into_a_file_is_a_message(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    code = cli.main(["train", str(path), "--mode", "supervised", "--profile", "smoke", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"sepgan: error: {path}") and "Traceback" not in err


def test_cli_train_with_a_bad_setting_writes_nothing(tmp_path, capsys):
    run = tmp_path / "R"
    for setting in ("num_layers=20", "batch_size=-1", "batch_size=0", "alpha=nan"):
        argv = ["train", str(run), "--mode", "supervised", "--profile", "smoke", "--quiet"]
        assert cli.main(argv + ["--set", setting]) == 2
        err = capsys.readouterr().err
        key, value = setting.split("=")
        assert f"'{key}' = {value}" in err and "allowed" in err
    assert not run.exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    listing = tmp_path / "list.json"
    listing.write_text("[]")
    assert cli.main(["compare", str(listing), str(listing)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert cli.main(["--debug", "compare", str(listing), str(listing)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("sepgan: error:")


def test_os_errors_are_one_line_naming_the_path():
    assert (
        errors.describe(OSError(30, "Read-only file system", "/x/y"))
        == "/x/y: Read-only file system"
    )
    assert errors.describe(OSError(28, "No space left on device"), "/run") == (
        "/run: No space left on device"
    )


def test_evaluate_exits_non_zero_only_when_nothing_was_scored(monkeypatch, capsys):
    import sepgan_lib.evaluate as ev
    from sepgan_lib import metrics

    def fake(tracks):
        def evaluate_run(*args, **kwargs):
            skipped = [{"name": "bad", "reason": "unreadable"}]
            summary = metrics.summarize(tracks)
            files = {"json": "r.json", "csv": "r.csv"}
            return {
                "plan": "p",
                "split": "test",
                "tracks": tracks,
                "summary": summary,
                "skipped": skipped,
                "files": files,
            }

        monkeypatch.setattr(ev, "evaluate_run", evaluate_run)

    fake([])
    assert cli.main(["evaluate", "R", "--quiet"]) == 1
    assert "no song could be scored" in capsys.readouterr().err
    entry = {
        s: {"SDR": 1.0, "SIR": 1.0, "SAR": 1.0, "SDR_improvement": 0.0}
        for s in ("vocals", "accompaniment")
    }
    fake([{"name": "good", **entry}])
    assert cli.main(["evaluate", "R", "--quiet"]) == 0
    assert "skipped bad: unreadable" in capsys.readouterr().out


def test_read_only_cache_and_run_folder_are_messages(tmp_path, monkeypatch, capsys, read_only_dir):
    read_only, message = read_only_dir
    argv = ["--mode", "supervised", "--profile", "smoke", "--quiet", "--set", "epoch_it=1"]
    monkeypatch.setenv("SEPGAN_CACHE", str(read_only / "cache"))
    assert cli.main(["train", str(tmp_path / "R"), *argv]) == 2
    err = capsys.readouterr().err
    assert f"sepgan: error: {read_only}" in err and message in err
    assert "Traceback" not in err
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "cache"))
    assert cli.main(["train", str(read_only / "R"), *argv]) == 2
    err = capsys.readouterr().err
    assert f"sepgan: error: {read_only / 'R'}" in err and message in err
