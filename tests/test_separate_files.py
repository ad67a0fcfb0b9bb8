"""Issue 13: `sepgan separate` on many, bad, cut or silent files; full disk; the CLI's errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import write_random_run

from sepgan_lib import audio as audio_io
from sepgan_lib import cli
from sepgan_lib.compare import compare_results
from sepgan_lib.config import make_config
from sepgan_lib.evaluate import evaluate_tracks
from sepgan_lib.separate import load_run, output_names, separate_audio

SR = 8192
MUSDB_SONG = "ANiMAL - Clinic A.stem.mp4"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder with a small separator of random weights and positive biases (its output
    on silence is not silent by itself)."""
    config = make_config("smoke", {"base_filters": 2})
    run_dir = write_random_run(tmp_path_factory.mktemp("run"), config)
    return run_dir


def song(seconds=1.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).normal(0, 0.05, len(t))
    return (0.3 * np.sin(2 * np.pi * 220 * t) + noise).astype(np.float32)


def separate(run, files, out, *extra):
    return cli.main(["separate", str(run), *map(str, files), "--out", str(out), *extra])


def test_inputs_sharing_a_name_get_distinct_folders(tmp_path, run, capsys):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    files = [tmp_path / "a" / "song.wav", tmp_path / "b" / "song.wav", tmp_path / "a/song.flac"]
    for i, path in enumerate(files):
        sf.write(path, song(seed=i), SR)
    assert output_names(files) == ["a-song.wav", "b-song.wav", "song.flac"]
    assert output_names([files[0], files[0]]) == ["song", "song-2"]
    assert separate(run, files, tmp_path / "O") == 0
    outs = sorted(p.name for p in (tmp_path / "O").iterdir())
    assert outs == ["a-song.wav", "b-song.wav", "song.flac"]
    voc = [sf.read(tmp_path / "O" / name / "vocals.wav")[0] for name in outs]
    assert not np.allclose(voc[0], voc[1])  # three results, none overwritten


def test_a_bad_input_is_skipped_and_reported(tmp_path, run, capsys):
    good, bad, missing = tmp_path / "good.wav", tmp_path / "nan.wav", tmp_path / "missing.wav"
    sf.write(good, song(), SR)
    broken = song()
    broken[10], broken[20] = np.nan, np.inf
    sf.write(bad, broken, SR, subtype="FLOAT")
    code = separate(run, [bad, missing, good], tmp_path / "O")
    err = capsys.readouterr().err
    assert code == 1
    assert f"{bad}: holds 2 non-finite sample(s)" in err
    assert f"{missing}: file does not exist" in err
    assert "separated 1 of 3 file(s)" in err and "Traceback" not in err
    assert (tmp_path / "O" / "good" / "vocals.wav").is_file()
    assert not (tmp_path / "O" / "nan").exists()


def test_a_cut_wav_is_a_warning_or_with_strict_an_error(tmp_path, run, capsys):
    whole, cut = tmp_path / "whole.wav", tmp_path / "cut.wav"
    sf.write(whole, song(3.0), SR, subtype="FLOAT")
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    assert audio_io.declared_frames(cut) == 3 * SR
    assert separate(run, [cut], tmp_path / "O") == 0
    err = capsys.readouterr().err
    assert "sepgan: warning:" in err and "header declares 3.00 s" in err
    assert separate(run, [cut], tmp_path / "S", "--strict") == 1
    assert "cut short" in capsys.readouterr().err
    assert not (tmp_path / "S" / "cut").exists()
    assert audio_io.short_decoding(whole, 3 * SR, SR) is None


def test_half_a_stem_file_is_noticed(tmp_path):
    source = pytest.importorskip("conftest").MUSDB7 / "train" / MUSDB_SONG
    if not source.exists():
        pytest.skip(f"{source} is absent")
    half = tmp_path / "half.stem.mp4"
    data = source.read_bytes()
    half.write_bytes(data[: len(data) // 2])
    decoded = audio_io.load_audio(half, sr=None)
    message = audio_io.short_decoding(half, len(decoded), 44100)
    assert message and "header declares 6.80 s" in message
    whole = audio_io.load_audio(source, sr=None)
    assert audio_io.short_decoding(source, len(whole), 44100) is None


def test_silent_input_gives_silent_output(run):
    model, config = load_run(run)
    out = separate_audio(model, np.zeros(SR, np.float32), config)
    assert all(np.max(np.abs(x)) == 0.0 for x in out.values())
    out = separate_audio(model, song(), config)
    assert all(np.max(np.abs(x)) > 0.0 for x in out.values())


def test_out_that_is_a_file_and_truncated_model(tmp_path, run, capsys):
    sf.write(tmp_path / "s.wav", song(), SR)
    (tmp_path / "file").write_text("x")
    assert separate(run, [tmp_path / "s.wav"], tmp_path / "file") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sepgan: error: {tmp_path / 'file'}") and "Traceback" not in err
    bad = tmp_path / "badrun"
    (bad / "best").mkdir(parents=True)
    (bad / "config.json").write_text((run / "config.json").read_text())
    model = (run / "best" / "separator.keras").read_bytes()
    (bad / "best" / "separator.keras").write_bytes(model[: len(model) // 2])
    assert separate(bad, [tmp_path / "s.wav"], tmp_path / "O") == 2
    assert "truncated or corrupt model file" in capsys.readouterr().err


def test_write_wav_never_leaves_a_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "x.wav"
    audio_io.write_wav(path, np.ones(100, np.float32), SR)
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left") as err:
        audio_io.write_wav(path, np.zeros(5000, np.float32), SR)
    assert err.value.filename == str(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.wav"]


@pytest.fixture
def small_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)])


def test_a_full_disk_is_a_message_and_leaves_no_partial_wav(small_tmpfs, tmp_path, run, capsys):
    sf.write(tmp_path / "s.wav", song(1.0), SR)  # each output: 32 kB, two do not fit in 48 kB
    assert separate(run, [tmp_path / "s.wav"], small_tmpfs / "O") == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    for wav in (small_tmpfs / "O" / "s").iterdir():
        assert sf.info(wav).frames == SR  # whole, or not there at all
    assert not list((small_tmpfs / "O" / "s").glob(".*"))


def test_train_on_a_full_disk_is_a_message(small_tmpfs, capsys):
    code = cli.main(
        ["train", str(small_tmpfs / "run"), "--mode", "supervised", "--profile", "smoke"]
        + ["--quiet", "--set", "epoch_it=1", "--set", "max_epochs=1"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "Traceback" not in err


def test_a_read_only_output_folder(tmp_path, run, capsys, read_only_dir):
    out, message = read_only_dir
    sf.write(tmp_path / "s.wav", song(), SR)
    assert separate(run, [tmp_path / "s.wav"], out) == 1
    assert message in capsys.readouterr().err


def test_evaluate_skips_an_unreadable_song():
    def unreadable():
        return audio_io.load_audio("/nonexistent/song.wav")

    x = song(2.0)
    good = {"mixture": x, "vocals": 0.5 * x, "accompaniment": 0.5 * x + 0.01}
    items = [("bad", unreadable), ("good", good)]
    result = evaluate_tracks(
        items, lambda m: {"vocals": m / 2, "accompaniment": m / 2}, jobs=1, progress=False
    )
    assert [t["name"] for t in result["tracks"]] == ["good"]
    assert result["skipped"][0]["name"] == "bad"
    assert "file does not exist" in result["skipped"][0]["reason"]


def test_compare_refuses_wrong_shapes_and_no_common_song(tmp_path, capsys):
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    assert cli.main(["compare", str(listing), str(listing)]) == 2
    assert "not an evaluation result (a JSON list" in capsys.readouterr().err
    entry = {s: {"SDR": 1.0, "SIR": 1.0, "SAR": 1.0} for s in ("vocals", "accompaniment")}
    a = {"tracks": [{"name": "x", **entry}]}
    b = {"tracks": [{"name": "y", **entry}]}
    with pytest.raises(Exception, match="no song in common"):
        compare_results(a, b)
    with pytest.raises(Exception, match="not an evaluation result"):
        compare_results({"tracks": [{"name": "x"}]}, b)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(a))
    assert compare_results(path, a)["n"] == 1


def test_no_cuinit_line_on_a_machine_without_gpu():
    if os.path.exists("/dev/nvidiactl"):
        pytest.skip("this machine has an NVIDIA driver")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import sepgan_lib, tensorflow as tf; print(float(tf.constant(1.0) + 1))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "2.0"
    assert "cuInit" not in done.stderr
