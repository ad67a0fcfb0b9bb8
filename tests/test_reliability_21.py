"""Issue 21: names that escape their folder, failed starts that leave state, full disks,
Ctrl-C, hostile run-folder files, bounds, degenerate songs, noise and the book's parameters."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepgan_lib import book, cli, errors, evaluate, metrics, names, runfolder
from sepgan_lib.config import make_config
from sepgan_lib.console import NATIVE_LOG, _forward
from sepgan_lib.data_check import check_plan
from sepgan_lib.errors import DataError, SepganError, TrainingError
from sepgan_lib.plans import load_plan
from sepgan_lib.separate import output_names
from sepgan_lib.shapes import unet_shapes
from sepgan_lib.train import train
from sepgan_lib.unet import build_separator

SR = 8192
SMOKE = ["--profile", "smoke", "--quiet", "--set", "epoch_it=1", "--set", "max_epochs=1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder with an untrained smoke separator (no finished.json: not health-checked)."""
    config = make_config("smoke")
    shapes = unet_shapes((256, config.num_frames), config.num_layers)
    model = build_separator(shapes.input, config.num_layers, config.base_filters)
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    config.save(run_dir / "config.json")
    (run_dir / "best").mkdir()
    model.save(run_dir / "best" / "separator.keras")
    return run_dir


def copy_of(run, tmp_path, name="copy") -> Path:
    target = tmp_path / name
    shutil.copytree(run, target)
    return target


def escaping_plan(tmp_path, name=None, role="test") -> tuple[Path, Path]:
    """A plan file whose name or role climbs out to ``tmp_path/escaped``; returns (plan,
    the folder it aims at)."""
    aim = tmp_path / "escaped"
    climb = "../" * 40 + str(aim).lstrip("/") + "/plan"
    spec = {
        "name": climb if name is None else name,
        "roles": {
            "paired": [{"dataset": "synthetic", "subset": "train", "slice": "0:2"}],
            "valid": [{"dataset": "synthetic", "subset": "valid"}],
            role: [{"dataset": "synthetic", "subset": "test", "slice": "0:1"}],
        },
    }
    path = tmp_path / "plan.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path, aim


def one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("sepgan: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- 1-3: every name that becomes a path -------------------------------------------------------


def test_names_are_checked_or_mapped_in_one_place():
    for bad in ("../x", "a/b", "a\\b", ".", "..", "", "x\x00y", "x" * 300):
        assert names.name_problem(bad)
        with pytest.raises(DataError, match="plan name"):
            names.checked_name(bad, "plan name", DataError)
        assert names.name_problem(names.safe_file_name(bad)) is None
    assert names.checked_name("musdb7", "plan name") == "musdb7"
    assert names.safe_file_name("..") == "__" and names.safe_file_name("a/b") == "a_b"
    assert names.safe_file_name("song 1.wav") == "song 1.wav"


def test_data_check_refuses_a_plan_name_that_escapes(tmp_path, capsys):
    plan, aim = escaping_plan(tmp_path)
    assert cli.main(["data", "check", "--plan", str(plan), "--profile", "smoke"]) == 2
    one_line_error(capsys, "plan name", "path separator")
    assert not aim.exists()


def test_a_role_name_that_escapes_is_refused(tmp_path, config_smoke):
    plan, aim = escaping_plan(tmp_path, name="fine", role="test_/../../../x2/x")
    with pytest.raises(DataError, match="role 'test_/.*path separator"):
        load_plan(str(plan), None, config_smoke)
    assert not aim.exists() and not (tmp_path / "x2").exists()


def test_evaluate_refuses_escaping_plans_and_splits(tmp_path, run, capsys):
    plan, aim = escaping_plan(tmp_path)
    assert cli.main(["evaluate", str(run), "--plan", str(plan), "--quiet", "--jobs", "1"]) == 2
    one_line_error(capsys, "plan name")
    split = "test_/../../../../" + str(tmp_path / "x2" / "x").lstrip("/")
    assert cli.main(["evaluate", str(run), "--split", split, "--quiet", "--jobs", "1"]) == 2
    one_line_error(capsys, "--split")
    assert not aim.exists() and not (tmp_path / "x2").exists()
    assert not (run / "eval").exists()
    with pytest.raises(DataError, match="split"):
        evaluate.result_paths(run, "plan", "../x")


def test_separate_keeps_dotted_file_names_inside_out(tmp_path, run, capsys):
    dots = tmp_path / "dots"
    dots.mkdir()
    signal_ = np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32)
    files = [dots / "..wav", dots / "...wav"]
    for path in files:
        sf.write(path, signal_, SR, format="WAV")
    out = tmp_path / "out" / "inner"
    argv = ["separate", str(run), *map(str, files), "--out", str(out), "--postfilter", "none"]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["inner"]
    assert sorted(p.name for p in out.iterdir()) == ["_", "__"]
    assert all((out / n / "vocals.wav").is_file() for n in ("_", "__"))
    assert output_names([Path("d/..stem.mp4"), Path("d/...wav")]) == ["_", "__"]


def test_train_refuses_an_escaping_plan_and_writes_nothing(tmp_path, capsys):
    plan, aim = escaping_plan(tmp_path)
    run_dir = tmp_path / "R"
    assert (
        cli.main(["train", str(run_dir), "--mode", "supervised", "--plan", str(plan), *SMOKE]) == 2
    )
    one_line_error(capsys, "plan name")
    assert not aim.exists() and not run_dir.exists()


def test_book_refuses_an_escaping_plan_before_anything(tmp_path):
    plan, aim = escaping_plan(tmp_path)
    build = tmp_path / "build"
    with pytest.raises(errors.BookError, match="plan name"):
        book.build_book(profile="smoke", plan=str(plan), build_dir=build, log=lambda _: None)
    assert not aim.exists() and not build.exists()


@pytest.fixture(scope="module")
def config_smoke():
    return make_config("smoke")


# --- 13: a subset that matches nothing ----------------------------------------------------


def test_a_misspelt_subset_is_an_error(tmp_path, config_smoke):
    plan, _ = escaping_plan(tmp_path, name="typo")
    spec = json.loads(plan.read_text())
    spec["roles"]["paired"][0]["subset"] = "trian"
    plan.write_text(json.dumps(spec))
    with pytest.raises(
        DataError, match="subset 'trian' matches no song of synthetic.*train, valid"
    ):
        load_plan(str(plan), None, config_smoke)


# --- 4: a failed start leaves nothing ------------------------------------------------------


def test_init_from_a_truncated_model_names_it_and_leaves_nothing(tmp_path, run, config_smoke):
    source = copy_of(run, tmp_path)
    model = source / "best" / "separator.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    new = tmp_path / "new"
    with pytest.raises(TrainingError, match=f"--init-from: {model}: truncated") as caught:
        train(new, "supervised", config_smoke, plan="synthetic", init_from=source, progress=False)
    assert "\n" not in str(caught.value)
    assert not new.exists()


def test_init_from_a_lambda_layer_is_refused_by_safe_mode(tmp_path, run, config_smoke, capsys):
    import keras

    source = copy_of(run, tmp_path)
    inputs = keras.Input((4,))
    hostile = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    hostile.save(source / "best" / "separator.keras")
    new = tmp_path / "new"
    new.mkdir()  # an empty folder made by the user stays, empty
    argv = ["train", str(new), "--mode", "supervised", "--init-from", str(source), *SMOKE]
    assert cli.main(argv) == 2
    one_line_error(capsys, "--init-from", str(source / "best" / "separator.keras"), "Lambda")
    assert list(new.iterdir()) == []


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, MemoryError])
def test_a_start_that_fails_after_writing_is_undone(tmp_path, config_smoke, monkeypatch, interrupt):
    import sepgan_lib.train as train_module

    def fail(*args, **kwargs):
        raise interrupt()

    monkeypatch.setattr(train_module, "Trainer", fail)  # after config.json and the plan index
    run_dir = tmp_path / "R"
    with pytest.raises(interrupt):
        train(run_dir, "supervised", config_smoke, plan="synthetic", progress=False)
    assert not run_dir.exists()
    assert not runfolder._HELD  # the lock is released too


def test_undo_keeps_what_was_there_and_a_started_run(tmp_path):
    run_dir = tmp_path / "R"
    run_dir.mkdir()
    (run_dir / "mine.txt").write_text("kept")
    with pytest.raises(RuntimeError), runfolder.undo_failed_start(run_dir) as locked:
        (run_dir / ".lock").write_text("")
        locked()
        (run_dir / "config.json").write_text("{}")
        raise RuntimeError
    assert [p.name for p in run_dir.iterdir()] == ["mine.txt"]
    with pytest.raises(RuntimeError), runfolder.undo_failed_start(run_dir):
        (run_dir / "config.json").write_text("{}")  # another trainer's, written before the
        raise RuntimeError  # lock was ours (here: never): kept
    assert (run_dir / "config.json").exists()
    with pytest.raises(RuntimeError), runfolder.undo_failed_start(run_dir) as locked:
        locked()  # a run that started before: nothing undone
        (run_dir / "history.json").write_text("[]")
        raise RuntimeError
    assert (run_dir / "history.json").exists()


# --- 5: a full disk ------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a small file system (a tmpfs of 256 KiB; root only)."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)])


def fill(folder: Path) -> None:
    """Fill ``folder``'s file system to the last block."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb", buffering=0) as handle:
        while True:
            handle.write(b"\0" * 4096)


def test_a_checkpoint_on_a_full_disk_is_one_line(full_disk, capsys):
    run_dir = full_disk / "R"
    argv = ["train", str(run_dir), "--mode", "supervised", "--profile", "smoke", "--quiet"]
    # 256 KiB hold the run's files, not its first checkpoint (TensorFlow's SaveV2 fails)
    assert cli.main([*argv, "--set", "epoch_it=3", "--set", "max_epochs=1"]) == 2
    one_line_error(capsys, "No space left on device", "SaveV2")


def test_tensorflow_full_disk_errors_are_one_line():
    import tensorflow as tf

    message = (
        "{{function_node __wrapped__SaveV2_dtypes_100_device_/job:localhost/replica:0/task:0/"
        "device:CPU:0}} /r/checkpoints/ckpt-2_temp/part-0.tempstate1; No space left on device "
        "[Op:SaveV2]"
    )
    err = tf.errors.ResourceExhaustedError(None, None, message)
    assert errors.is_disk_full(err)
    assert errors.describe(err, "/r") == (
        "/r/checkpoints/ckpt-2_temp/part-0.tempstate1: No space left on device "
        "(ResourceExhaustedError in SaveV2)"
    )
    assert not errors.is_disk_full(tf.errors.ResourceExhaustedError(None, None, "OOM"))


def test_evaluate_and_separate_on_a_full_disk_are_one_line(tmp_path, run, full_disk, capsys):
    fill(full_disk)
    copy = copy_of(run, tmp_path)
    (copy / "eval").symlink_to(full_disk)
    argv = ["evaluate", str(copy), "--quiet", "--jobs", "1", "--profile", "smoke"]
    assert cli.main([a for a in argv if a not in ("--profile", "smoke")]) == 2
    one_line_error(capsys, "No space left on device")
    song = tmp_path / "song.wav"
    sf.write(song, np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32), SR)
    assert cli.main(["separate", str(copy), str(song), "--out", str(full_disk / "out")]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err


# --- 6: Ctrl-C and mir_eval's singular fallback --------------------------------------------


def _as_from_a_terminal() -> None:
    # a shell starts a command with Ctrl-C's default action, whatever this process inherited
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _group_states(group: int) -> str:
    """Name, state, ignored and caught signals and kernel wait of each process in ``group``."""
    lines = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != group:
                continue
            status = (stat.parent / "status").read_text().splitlines()
            keep = [x for x in status if x.split(":")[0] in ("Name", "State", "SigIgn", "SigCgt")]
            wchan = (stat.parent / "wchan").read_text()
            lines.append(f"{stat.parent.name}: {'; '.join(keep)}; wchan {wchan}")
        except (OSError, ValueError, IndexError):
            continue
    return "\n".join(lines)


def test_ctrl_c_while_workers_run_is_one_line(tmp_path):
    """``data synth`` with two worker processes, interrupted: one line, no worker tracebacks."""
    command = [sys.executable, "-m", "sepgan_lib.cli", "data", "synth", str(tmp_path / "s")]
    command += ["--tracks", "400", "--seconds", "20"]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_as_from_a_terminal,
    )
    deadline = time.monotonic() + 120  # a loaded machine starts the workers late
    while not any((tmp_path / "s").rglob("*.wav")) and time.monotonic() < deadline:
        time.sleep(0.2)  # interrupt once the workers write songs, not during the imports
    assert process.poll() is None, "data synth ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # seen under full test runs: say what each process does
        states = _group_states(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
        pytest.fail(f"data synth still ran 60 s after Ctrl-C; its processes:\n{states}")
    assert process.returncode == 130, err
    assert err.strip() == "sepgan: interrupted", err


def test_ctrl_c_in_any_command_is_one_line(monkeypatch, capsys, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "evaluate_run", interrupted)
    assert cli.main(["evaluate", str(tmp_path), "--quiet"]) == 130
    assert capsys.readouterr().err == "sepgan: interrupted\n"


def test_singular_references_are_scored_by_mir_eval_not_crashed():
    import mir_eval

    metrics._restore_linalg_alias()  # what metrics.bss_eval does before scoring
    x = np.random.default_rng(0).standard_normal(SR)
    estimate = np.stack([x + 0.1 * np.random.default_rng(1).standard_normal(SR), x])
    sdr, _, _, _ = mir_eval.separation.bss_eval_sources(
        np.stack([x, x]), estimate, compute_permutation=False
    )  # np.linalg.solve refuses the singular Gram matrix: mir_eval's lstsq fallback runs
    assert np.all(np.isfinite(sdr))


def test_a_song_whose_stems_are_one_signal_is_reported_not_averaged(rng):
    voice = rng.standard_normal(3 * SR).astype(np.float32) * 0.1
    other = rng.standard_normal(3 * SR).astype(np.float32) * 0.1
    songs = [
        ("good", {"mixture": voice + other, "vocals": voice, "accompaniment": other}),
        ("same", {"mixture": 2 * voice, "vocals": voice, "accompaniment": voice}),
        ("quiet", {"mixture": other, "vocals": voice * 1e-5, "accompaniment": other}),
    ]
    result = evaluate.evaluate_tracks(
        songs, lambda mix: {"vocals": mix / 2, "accompaniment": mix / 2}, jobs=1, progress=False
    )
    assert [t["name"] for t in result["tracks"]] == ["good"]
    reasons = {s["name"]: s["reason"] for s in result["skipped"]}
    assert "degenerate song" in reasons["same"] and "silent" in reasons["quiet"]
    sdr = result["summary"]["vocals"]["SDR"]
    assert sdr["mean"] == sdr["median"] == result["tracks"][0]["vocals"]["SDR"]


def test_data_check_warns_about_degenerate_songs(tmp_path, mir1k_root, config_smoke):
    wavs = tmp_path / "mir1k" / "Wavfile"
    wavs.mkdir(parents=True)
    clips = sorted((mir1k_root / "Wavfile").glob("*.wav"))[:2]
    stereo, rate = sf.read(clips[0])
    left = stereo[:, 0]
    sf.write(wavs / "equal.wav", np.stack([left, left], 1), rate)
    sf.write(wavs / "mute.wav", np.stack([left, 0 * left], 1), rate)
    shutil.copy(clips[1], wavs / "real.wav")
    plan = tmp_path / "p.yaml"
    plan.write_text(json.dumps({"name": "p", "roles": {"test": [{"dataset": "mir1k"}]}}))
    report = check_plan(load_plan(str(plan), [f"mir1k={wavs.parent}"], config_smoke))
    warned = {p["track"].split("/")[-1]: p["message"] for p in report["problems"] if p["track"]}
    assert "one signal" in warned["equal"] and "silent vocals" in warned["mute"]
    assert "real" not in warned


# --- 7-8: bounds ---------------------------------------------------------------------------


def test_jobs_are_capped_at_the_cpus_and_the_songs(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert evaluate._resolve_jobs(100, 50) == 2
    assert evaluate._resolve_jobs(0, 50) == 2
    assert evaluate._resolve_jobs(100, 1) == 1
    assert evaluate._resolve_jobs(1, 50) == 1


@pytest.mark.parametrize(
    "option", [["--seconds", "1e9"], ["--tracks", "0"], ["--tracks", "1000000"]]
)
def test_data_synth_is_bounded_like_the_configuration(tmp_path, capsys, option):
    target = tmp_path / "set"
    assert cli.main(["data", "synth", str(target), *option]) == 2
    line = one_line_error(capsys, option[0].lstrip("-"))
    assert ("3600" if option[0] == "--seconds" else "100000") in line
    assert not target.exists()


# --- 10-12: run-folder files read defensively ------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_deeply_nested_config_is_one_line_everywhere(tmp_path, run, capsys):
    copy = copy_of(run, tmp_path)
    (copy / "config.json").write_text(nested(100_000))
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(SR, np.float32) + 0.1, SR)
    commands = [
        ["separate", str(copy), str(song), "--out", str(tmp_path / "out")],
        ["evaluate", str(copy), "--quiet", "--jobs", "1"],
        ["train", str(copy), "--mode", "supervised", "--resume", *SMOKE],
    ]
    for argv in commands:
        assert cli.main(argv) == 2
        one_line_error(capsys, str(copy / "config.json"), "nested too deeply")


@pytest.mark.parametrize(
    "finished",
    [{"health": "ok"}, {"health": {"ok": "yes"}}, [1, 2], nested(100_000), "{not json"],
)
def test_a_malformed_finished_json_is_one_line(tmp_path, run, capsys, finished):
    copy = copy_of(run, tmp_path)
    text = finished if isinstance(finished, str) else json.dumps(finished)
    (copy / "finished.json").write_text(text)
    assert cli.main(["evaluate", str(copy), "--quiet", "--jobs", "1"]) == 2
    one_line_error(capsys, str(copy / "finished.json"))


def test_a_malformed_history_is_one_line(tmp_path, config_smoke):
    run_dir = tmp_path / "R"
    result = train(run_dir, "supervised", config_smoke.replace(epoch_it=2), plan="synthetic",
                   progress=False, stop_after_steps=2)  # fmt: skip
    assert result["interrupted"]
    (run_dir / "history.json").write_text(json.dumps([{"epoch": "one"}]))
    with pytest.raises(TrainingError, match="history.json: an entry is not an epoch record"):
        train(run_dir, "supervised", config_smoke.replace(epoch_it=2), plan="synthetic",
              progress=False)  # fmt: skip


def test_a_moved_run_folder_is_named_as_given(tmp_path, config_smoke, capsys):
    config = config_smoke.replace(epoch_it=1, max_epochs=1, health_check=False)
    old = tmp_path / "old"
    train(old, "supervised", config, plan="synthetic", progress=False)
    moved = tmp_path / "moved"
    old.rename(moved)
    again = train(moved, "supervised", config, plan="synthetic", progress=False)
    assert again["run_dir"] == str(moved)
    argv = ["train", str(moved), "--mode", "supervised", "--profile", "smoke", "--quiet"]
    settings = ["epoch_it=1", "max_epochs=1", "health_check=false"]
    assert cli.main([*argv, *(f for s in settings for f in ("--set", s))]) == 0
    out = capsys.readouterr().out
    assert str(moved) in out and str(old) not in out


# --- 14: quiet by default --------------------------------------------------------------------


def test_native_log_lines_are_dropped_and_the_rest_kept():
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        b"I0000 00:00:1796173329.823938   25177 port.cc:153] oneDNN custom operations are on.",
        b"E0000 00:00:1796173384.604861   25755 cuda_platform.cc:52] failed call to cuInit",
        b"2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] x",
        b"sepgan: error: /x: kept",
        b"F0000 00:00:1.0 1 check.cc:1] Check failed: a fatal line is kept",
        b"progress without a newline",
    ]
    os.write(write_fd, b"\n".join(lines))
    os.close(write_fd)
    _forward(read_fd, out_write)
    os.close(out_write)
    kept = os.read(out_read, 65536).decode()
    assert kept.splitlines() == [lines[4].decode(), lines[5].decode(), lines[6].decode()]
    assert NATIVE_LOG.match(lines[1]) and not NATIVE_LOG.match(lines[4])


def test_the_command_line_hides_tensorflow_start_up_logging(tmp_path):
    """``sepgan train`` imports TensorFlow (which logs from C++ as it loads) before it reads
    the bad setting: only the program's own line is left."""
    command = [sys.executable, "-m", "sepgan_lib.cli", "train", str(tmp_path / "R")]
    command += ["--mode", "supervised", "--set", "batch_size=0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert [line[:40] for line in done.stderr.splitlines()] == [
        "sepgan: error: configuration key 'batch_"
    ], done.stderr


def test_the_book_kernels_log_errors_only(tmp_path, capfd):
    notebook = tmp_path / "nb.ipynb"
    cell = {"cell_type": "code", "execution_count": None, "id": "a", "metadata": {},
            "outputs": [], "source": ["print(1)"]}  # fmt: skip
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {"kernelspec": kernelspec},
                                    "nbformat": 4, "nbformat_minor": 5}))  # fmt: skip
    book.execute_chapter(notebook, tmp_path / "out.ipynb", {}, cwd=tmp_path)
    assert "without encryption" not in capfd.readouterr().err


# --- 15: the book checks its parameters first ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"plan": "nosuchplan"}, "unknown plan 'nosuchplan'"),
        ({"roots": ["musdb=/nonexistent"]}, "musdb=/nonexistent: not a folder"),
        ({"roots": ["nosuch=/tmp"]}, "unknown dataset root"),
        ({"seed": -1}, "'seed' = -1 is out of range"),
        ({"profile": "fast"}, "unknown profile 'fast'"),
    ],
)
def test_the_book_checks_its_parameters_before_any_notebook(tmp_path, kwargs, message):
    build = tmp_path / "build"
    arguments = {"profile": "smoke", "build_dir": build, "log": lambda _: None, **kwargs}
    with pytest.raises(SepganError, match=message):
        book.build_book(**arguments)
    assert not build.exists()
