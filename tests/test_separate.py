"""Full-song separation: exact tiling, lengths, sample rates, run folders."""

import numpy as np
import pytest
import soundfile as sf

from sepgan_lib import cli
from sepgan_lib.config import make_config
from sepgan_lib.errors import SepganError
from sepgan_lib.separate import load_run, separate_audio, separate_file
from sepgan_lib.shapes import unet_shapes
from sepgan_lib.unet import build_separator

SR = 8192


def _config():
    return make_config("smoke", {"base_filters": 2})


def _identity(model):
    """Zero every weight but the heads' tap on the concatenated (cropped) input: both heads
    then return relu(log1p |X|) = log1p |X|, the mixture's own magnitude, through the real
    U-Net's own cropping and alignment."""
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    for head in ("accompaniment", "vocals"):
        kernel, bias = model.get_layer(head).get_weights()
        kernel[..., -1, 0] = 1.0
        model.get_layer(head).set_weights([kernel, bias])
    return model


def _model(config, identity=True, seed=0):
    shapes = unet_shapes((256, config.num_frames), config.num_layers)

    model = build_separator(shapes.input, config.num_layers, config.base_filters)
    if identity:
        return _identity(model)
    # random weights that keep the ReLUs alive, heads = identity + a random part
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(0, 0.4, w.shape).astype(np.float32) if w.ndim > 1 else np.full_like(w, 0.05)
        for w in model.get_weights()
    ]
    model.set_weights(weights)
    for head in ("accompaniment", "vocals"):
        kernel, bias = model.get_layer(head).get_weights()
        kernel *= 0.05
        kernel[..., -1, 0] = 1.0
        model.get_layer(head).set_weights([kernel, bias])
    return model


def _save_run(run_dir, model, config):
    config.save(run_dir / "config.json")
    (run_dir / "best").mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "best" / "separator.keras")
    return run_dir


def _signal(length, seed=0):
    """Band-limited test audio (tones and a chirp well below Nyquist)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    x = 0.3 * np.sin(2 * np.pi * 330 * t + rng.uniform(0, 6))
    x += 0.2 * np.sin(2 * np.pi * (700 + 150 * t) * t)
    x += 0.1 * np.sin(2 * np.pi * 2100 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return x.astype(np.float32)


def _snr(reference, estimate):
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


@pytest.fixture(scope="module")
def identity_run(tmp_path_factory):
    config = _config()
    return _save_run(tmp_path_factory.mktemp("run"), _model(config), config)


@pytest.fixture(scope="module")
def loaded(identity_run):
    return load_run(identity_run)


def test_identity_separator_reconstructs_the_mixture(loaded):
    model, config = loaded
    mixture = _signal(SR * 7 + 123)
    out = separate_audio(model, mixture, config)
    assert set(out) == {"vocals", "accompaniment"}
    for name in ("vocals", "accompaniment"):
        assert out[name].dtype == np.float32
        assert len(out[name]) == len(mixture)
        assert _snr(mixture, out[name]) > 30


@pytest.mark.parametrize("length", [1, 100, 255, 256, 257, 3000, SR * 2 + 77, SR * 9 + 5])
def test_output_length_equals_input_length(loaded, length):
    model, config = loaded
    mixture = _signal(length, seed=length)
    out = separate_audio(model, mixture, config, window_frames=64)
    for name in ("vocals", "accompaniment"):
        assert len(out[name]) == length
        if length > 4 * 256:  # away from the edges the identity holds
            assert _snr(mixture, out[name]) > 30


def test_windows_tile_without_seams():
    """A random (non-identity) network: any window length gives the same output, and the
    fixed-axis model (the fallback path) agrees with its open-axis twin."""
    config = _config()
    model = _model(config, identity=False, seed=3)
    mixture = _signal(SR * 6 + 999, seed=5) + 0.05 * np.random.default_rng(1).standard_normal(
        SR * 6 + 999
    ).astype(np.float32)
    outs = [separate_audio(model, mixture, config, window_frames=w) for w in (16, 48, 512)]
    scale = np.abs(outs[0]["vocals"]).max()
    assert scale > 0
    for other in outs[1:]:
        for name in ("vocals", "accompaniment"):
            np.testing.assert_allclose(other[name], outs[0][name], atol=1e-4 * scale)
    # a config that does not describe the saved model: the twin cannot be built, the model
    # is used as it is with its own fixed window
    fixed = separate_audio(model, mixture, config.replace(base_filters=3))
    for name in ("vocals", "accompaniment"):
        np.testing.assert_allclose(fixed[name], outs[0][name], atol=1e-4 * scale)


def test_griffin_lim_phase(loaded):
    model, config = loaded
    mixture = _signal(SR * 2 + 17)
    out = separate_audio(model, mixture, config, phase="griffin_lim")
    for name in ("vocals", "accompaniment"):
        assert len(out[name]) == len(mixture)
        assert np.all(np.isfinite(out[name]))
    with pytest.raises(SepganError, match="phase"):
        separate_audio(model, mixture, config, phase="nope")


def test_separate_file_keeps_rate_and_length(loaded, tmp_path):
    model, config = loaded
    rate, length = 44100, 44100 * 3 + 331
    t = np.arange(length) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    right = 0.2 * np.sin(2 * np.pi * 1000 * t)
    path = tmp_path / "song.wav"
    sf.write(path, np.stack([left, right], axis=1).astype(np.float32), rate)
    written = separate_file(model, config, path, tmp_path / "out")
    assert set(written) == {"vocals", "accompaniment"}
    mono = (left + right) / 2
    for name, out_path in written.items():
        assert out_path == tmp_path / "out" / "song" / f"{name}.wav"
        data, sr = sf.read(out_path, dtype="float32")
        assert sr == rate
        assert data.ndim == 1 and len(data) == length
        assert _snr(mono[4096:-4096], data[4096:-4096]) > 20


def test_cli_separate(identity_run, tmp_path):
    audio = tmp_path / "a.wav"
    sf.write(audio, _signal(SR * 2), SR)
    code = cli.main(["separate", str(identity_run), str(audio), "--out", str(tmp_path / "o")])
    assert code == 0
    assert (tmp_path / "o" / "a" / "vocals.wav").is_file()
    assert (tmp_path / "o" / "a" / "accompaniment.wav").is_file()


def test_missing_run_files_are_named(tmp_path, identity_run):
    with pytest.raises(SepganError, match="does not exist"):
        load_run(tmp_path / "nowhere")
    with pytest.raises(SepganError, match=r"config\.json") as err:
        load_run(tmp_path)
    assert "separator.keras" in str(err.value)
    _config().save(tmp_path / "config.json")
    with pytest.raises(SepganError, match=r"best/separator\.keras"):
        load_run(tmp_path)
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "separator.keras").write_bytes(b"not a model")
    with pytest.raises(SepganError, match="truncated or corrupt model file"):
        load_run(tmp_path)
