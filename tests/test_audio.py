import numpy as np
import pytest
import soundfile as sf

from sepgan_lib import audio, spectral
from sepgan_lib.errors import AudioError

SR = 8192


def musical_signal(seconds=2.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    notes = [220.0, 277.2, 329.6, 440.0]
    x = sum(np.sin(2 * np.pi * f * t) * np.exp(-3 * (t % 0.5)) for f in notes)
    return (0.2 * x).astype(np.float32)


@pytest.mark.parametrize("kind", ["noise", "music"])
def test_stft_round_trip(kind, rng):
    x = rng.standard_normal(SR * 2).astype(np.float32) if kind == "noise" else musical_signal()
    spec = spectral.stft(x)
    assert spec.shape[0] == 257
    y = spectral.istft(np.abs(spec), np.angle(spec), length=len(x))
    assert np.linalg.norm(y - x) / np.linalg.norm(x) < 1e-5


def test_model_bins_and_log_normalisation(rng):
    x = rng.standard_normal(SR).astype(np.float32)
    mag, phase = spectral.magnitude_phase(x)
    assert mag.shape == (256, spectral.num_frames(len(x)))
    assert phase.shape == (257, mag.shape[1])
    np.testing.assert_allclose(spectral.from_log(spectral.to_log(mag)), mag, rtol=1e-5, atol=1e-6)
    # The mixture phase with its own 256-bin magnitude gives back the signal minus its Nyquist bin.
    y = spectral.istft(mag, phase, length=len(x))
    assert np.linalg.norm(y - x) / np.linalg.norm(x) < 0.1


def test_griffin_lim_recovers_a_tone():
    x = musical_signal(1.0)
    mag, _ = spectral.magnitude_phase(x)
    y = spectral.griffin_lim(mag, length=len(x), n_iter=32)
    assert y.shape == x.shape
    mag_y, _ = spectral.magnitude_phase(y)
    assert np.linalg.norm(mag_y - mag) / np.linalg.norm(mag) < 0.3


def dominant_frequency(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * sr / len(x)


def test_resampling_keeps_a_sine_frequency(tmp_path):
    sr_in = 44100
    t = np.arange(sr_in * 2) / sr_in
    sine = 0.5 * np.sin(2 * np.pi * 1000.0 * t).astype(np.float32)
    path = tmp_path / "sine.wav"
    sf.write(path, sine, sr_in)
    y = audio.load_audio(path, sr=SR)
    assert len(y) == pytest.approx(2 * SR, abs=2)
    assert dominant_frequency(y, SR) == pytest.approx(1000.0, abs=2.0)


def test_mono_downmix(tmp_path):
    left = np.full(1000, 0.5, np.float32)
    right = np.full(1000, -0.1, np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR)
    mono = audio.load_audio(path, sr=None)
    np.testing.assert_allclose(mono, 0.2, atol=1e-4)
    both = audio.load_audio(path, sr=None, mono=False)
    assert both.shape == (2, 1000)


def test_write_and_read_back(tmp_path, rng):
    x = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    path = audio.write_wav(tmp_path / "sub" / "x.wav", x, SR)
    np.testing.assert_array_equal(audio.load_audio(path, sr=SR), x)


def test_mp4_streams_decode(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "two.m4a"
    sr = 44100
    with av.open(str(path), "w") as out:
        for freq in (440.0, 880.0):
            stream = out.add_stream("aac", rate=sr, layout="mono")
            stream.metadata["title"] = str(freq)
        t = np.arange(sr) / sr
        for index, freq in enumerate((440.0, 880.0)):
            tone = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate = sr
            for packet in out.streams.audio[index].encode(frame):
                out.mux(packet)
        for s in out.streams.audio:
            for packet in s.encode(None):
                out.mux(packet)
    a, b = audio.load_streams(path, [0, 1], sr=SR)
    assert dominant_frequency(a, SR) == pytest.approx(440, abs=5)
    assert dominant_frequency(b, SR) == pytest.approx(880, abs=5)


def test_real_stem_mp4(musdb7_root):
    path = sorted((musdb7_root / "train").glob("*.stem.mp4"))[0]
    mixture, vocals = audio.load_streams(path, [0, 4], sr=SR)
    assert abs(len(mixture) - len(vocals)) <= 1
    assert 6 * SR < len(mixture) < 8 * SR
    assert np.abs(mixture).max() > 0.01


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("missing.wav", None, "does not exist"),
        ("empty.wav", b"", "empty"),
        ("corrupt.wav", b"RIFF\x00\x00garbage" * 10, "corrupt"),
        ("corrupt.mp3", b"\x00\x01garbage" * 50, "corrupt"),
        ("notes.txt", b"hello", "unsupported format"),
    ],
)
def test_bad_files_raise_our_error(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError) as info:
        audio.load_audio(path)
    assert str(path) in str(info.value)
    assert reason in str(info.value)


def test_missing_stream_is_reported(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(100, np.float32), SR)
    with pytest.raises(AudioError, match="single stream"):
        audio.load_streams(path, [0, 4])
