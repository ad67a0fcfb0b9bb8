"""Work side by side in other processes (issue 23): the same results as in this process."""

from __future__ import annotations

import functools
import multiprocessing
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from sepgan_lib import datasets, runfolder, sidebyside
from sepgan_lib.errors import DataError
from sepgan_lib.runfolder import RunFolderBusy


def _pid_and(x, y=1):
    return os.getpid(), x * 10 + y


def _fails():
    raise DataError("songs.yaml: key 'paired' expected a list")


def test_calls_run_in_their_own_processes_and_return_in_order():
    scale = 3
    got = sidebyside.side_by_side(
        {
            "first": functools.partial(_pid_and, 2),
            "second": functools.partial(_pid_and, 5, y=0),
            "closure": lambda: scale * np.arange(3),  # travels by value (cloudpickle)
        }
    )
    assert list(got) == ["first", "second", "closure"]
    assert got["first"][1] == 21 and got["second"][1] == 50
    assert len({got["first"][0], got["second"][0], os.getpid()}) == 3
    np.testing.assert_array_equal(got["closure"], [0, 3, 6])


def test_an_error_is_raised_again_here_with_the_child_traceback():
    with pytest.raises(DataError, match="key 'paired' expected a list") as info:
        sidebyside.start("the failing call", _fails).result()
    assert "raised in the failing call" in info.value.__notes__[0]
    assert "_fails" in info.value.__notes__[0]


def test_a_stopped_call_ends_and_says_so():
    background = sidebyside.start("a sleeper", time.sleep, 60)
    assert not background.done()
    background.stop()
    assert background.done()
    with pytest.raises(sidebyside.SideBySideError, match="a sleeper.*without a result"):
        background.result()


def _hold_lock(run_dir, held, seconds):
    with runfolder.RunLock(run_dir):
        held.set()
        time.sleep(seconds)


def test_a_busy_run_folder_is_refused_or_waited_for(tmp_path, monkeypatch):
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    holder = context.Process(target=_hold_lock, args=(tmp_path, held, 2.0))
    holder.start()
    try:
        assert held.wait(60)
        monkeypatch.delenv(runfolder.WAIT_FOR_LOCK, raising=False)
        with pytest.raises(RunFolderBusy, match="another `sepgan train` is running"):
            runfolder.RunLock(tmp_path).acquire()
        monkeypatch.setenv(runfolder.WAIT_FOR_LOCK, "1")
        lock = runfolder.RunLock(tmp_path).acquire()  # waits for the holder to let go
        assert lock.holder()["pid"] == os.getpid()
        holder.join(30)
        assert holder.exitcode == 0  # the holder finished its hold undisturbed
        lock.release()
    finally:
        holder.join(30)


def _resampled_tracks(root, names):
    """Tracks whose decoding resamples (8192 Hz files read at 4096 Hz): costly ones."""
    import soundfile as sf

    tracks = []
    rng = np.random.default_rng(0)
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        for stem in ("mixture", "vocals", "accompaniment"):
            sf.write(folder / f"{stem}.wav", rng.normal(0, 0.1, 8192 * 2).astype(np.float32), 8192)
        files = tuple((stem, str(folder / f"{stem}.wav")) for stem in ("mixture", "vocals"))
        tracks.append(datasets.Track(name, "synthetic", "train", "sum", files, 8192, 2.0))
    return tracks


def test_parallel_decoding_writes_the_cache_a_decoding_one_by_one_writes(tmp_path, monkeypatch):
    tracks = _resampled_tracks(tmp_path / "songs", [f"song_{i}" for i in range(4)])
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "one_by_one"))
    expected = [datasets.load_track_cached(t, sr=4096) for t in tracks]
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "parallel"))
    assert datasets.decode_tracks(tracks, sr=4096, jobs=2) == 4
    assert datasets.decode_tracks(tracks, sr=4096, jobs=2) == 0  # all cached now
    for track, audio in zip(tracks, expected):
        assert datasets.decoded_cache_path(track, 4096).exists()
        got = datasets.load_track_cached(track, sr=4096)
        for key in ("mixture", "vocals", "accompaniment"):
            np.testing.assert_array_equal(got[key], audio[key])


def test_songs_read_at_their_own_rate_are_left_to_the_caller(tmp_path, monkeypatch):
    tracks = _resampled_tracks(tmp_path / "songs", ["a", "b", "c", "d"])
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "cache"))
    assert datasets.decode_tracks(tracks, sr=8192, jobs=2) == 0  # a file read: no processes
    assert not any(datasets.decoded_cache_path(t, 8192).exists() for t in tracks)


@pytest.mark.slow
def test_a_run_trained_in_another_process_is_the_run_trained_here(tmp_path):
    from sepgan_lib.config import make_config
    from sepgan_lib.train import train

    config = make_config("smoke", {"max_epochs": 1, "epoch_it": 3, "health_check": False})
    here = train(tmp_path / "here", "supervised", config, progress=False)
    there = sidebyside.start(
        "smoke training", train, tmp_path / "there", "supervised", config, progress=False
    ).result()
    keys = ("step", "sup_loss", "valid_loss")
    assert [[h[k] for k in keys] for h in here["history"]] == [
        [h[k] for k in keys] for h in there["history"]
    ]


MODEL_SCRIPT = """
import sys

from sepgan_lib import sidebyside


def build():
    from sepgan_lib import shapes, unet

    return unet.build_separator(shapes.unet_shapes((256, 16), 2).input, 2, 4)


def load(path):
    import keras  # no layer of the library imported here: the child has the parent's

    return keras.models.load_model(path, compile=False).count_params()


if __name__ == "__main__":
    model = sidebyside.start("a separator", build).result()
    assert "sepgan_lib.unet" in sys.modules  # imported here to rebuild the model's layers
    model.save(sys.argv[1])
    assert sidebyside.start("a loaded separator", load, sys.argv[1]).result() == model.count_params()
    print(type(model).__name__, model.count_params())
"""


def test_a_library_model_travels_to_and_from_processes_that_never_imported_its_layers(tmp_path):
    script = tmp_path / "model_back.py"
    script.write_text(MODEL_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "separator.keras")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    name, count = done.stdout.split()[-2:]
    assert name == "Functional" and int(count) > 0


def _intra_op_threads():
    return os.environ.get("TF_NUM_INTRAOP_THREADS")  # read in the child's own environment


def test_threads_sets_the_childs_pools_before_tensorflow_starts(monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    assert sidebyside.start("one thread", _intra_op_threads, threads=1).result() == "1"
    assert sidebyside.start("default threads", _intra_op_threads).result() is None


def _pool_inside():
    import concurrent.futures

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(os.getpid).result()


def test_a_call_may_start_processes_of_its_own():
    assert sidebyside.start("a pool inside", _pool_inside).result() != os.getpid()
