"""The spectral front-end: STFT at 512/256 with a Hann window, 256 model bins, log1p.

Spectrograms of one signal are ``[freq, frames]``; batches for the networks are
``[batch, freq, frames, 1]``. The STFT is centred (librosa's convention), so frame ``t``
is centred on sample ``t * hop``.
"""

from __future__ import annotations

import librosa
import numpy as np

N_FFT = 512
HOP = 256
MODEL_BINS = N_FFT // 2  # 257 bins, the last (Nyquist) dropped


def stft(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Complex STFT ``[n_fft // 2 + 1, frames]`` of mono ``[samples]`` audio."""
    audio = np.asarray(audio, dtype=np.float32)
    return librosa.stft(audio, n_fft=n_fft, hop_length=hop, window="hann", center=True)


def istft(
    magnitude: np.ndarray,
    phase: np.ndarray,
    length: int | None = None,
    n_fft: int = N_FFT,
    hop: int = HOP,
) -> np.ndarray:
    """Inverse STFT of ``magnitude * exp(i * phase)``.

    ``magnitude`` may have the model's 256 bins; the dropped Nyquist bin is then restored as
    zero. ``phase`` is ``[bins, frames]`` with at least as many bins as ``magnitude``.
    """
    magnitude = _full_bins(magnitude, n_fft)
    phase = np.asarray(phase)[: magnitude.shape[0], : magnitude.shape[1]]
    spec = magnitude * np.exp(1j * phase)
    return librosa.istft(spec, hop_length=hop, window="hann", center=True, length=length).astype(
        np.float32
    )


def istft_complex(spec: np.ndarray, length: int | None = None, hop: int = HOP) -> np.ndarray:
    """Inverse STFT of a complex spectrogram ``[n_fft // 2 + 1, frames]`` -> float32 audio."""
    return librosa.istft(
        np.asarray(spec), hop_length=hop, window="hann", center=True, length=length
    ).astype(np.float32)


def _full_bins(magnitude: np.ndarray, n_fft: int) -> np.ndarray:
    magnitude = np.asarray(magnitude, dtype=np.float32)
    missing = n_fft // 2 + 1 - magnitude.shape[0]
    if missing > 0:
        magnitude = np.pad(magnitude, [(0, missing), (0, 0)])
    return magnitude


def griffin_lim(
    magnitude: np.ndarray,
    length: int | None = None,
    n_iter: int = 32,
    n_fft: int = N_FFT,
    hop: int = HOP,
    seed: int = 0,
) -> np.ndarray:
    """Phase reconstruction from a magnitude alone (librosa's fast Griffin-Lim)."""
    return librosa.griffinlim(
        _full_bins(magnitude, n_fft),
        n_iter=n_iter,
        hop_length=hop,
        window="hann",
        center=True,
        length=length,
        random_state=seed,
    ).astype(np.float32)


def magnitude_phase(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(magnitude [256, frames], phase [257, frames])`` of mono audio, Nyquist bin dropped
    from the magnitude (the model's input) and kept in the phase."""
    spec = stft(audio)
    return np.abs(spec[:MODEL_BINS]).astype(np.float32), np.angle(spec).astype(np.float32)


def to_log(magnitude):
    """The network's normalisation: ``log1p(magnitude)`` (works on numpy and TF tensors)."""
    return np.log1p(magnitude) if isinstance(magnitude, np.ndarray) else _tf().math.log1p(magnitude)


def from_log(log_magnitude):
    """Inverse of :func:`to_log`: ``expm1``."""
    if isinstance(log_magnitude, np.ndarray):
        return np.expm1(log_magnitude)
    return _tf().math.expm1(log_magnitude)


def _tf():
    import tensorflow as tf  # deferred: TensorFlow takes seconds to import

    return tf


def num_frames(num_samples: int, hop: int = HOP) -> int:
    """Frames of the centred STFT of ``num_samples`` samples."""
    return 1 + num_samples // hop
