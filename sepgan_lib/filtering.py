"""Post-filters: the separator's magnitude estimates turned into the sources' complex STFTs.

The separator writes one magnitude spectrogram per source. How those become audio is a
choice, named by ``config.postfilter`` (and ``--postfilter`` of ``sepgan separate`` and
``sepgan evaluate``):

- ``none``: the original's resynthesis, each estimated magnitude with the mixture's phase.
  The two estimates need not add up to the mixture.
- ``soft``: soft masks with an exponent ``p`` (``config.postfilter_power``),
  ``M_j = |S_j|^p / sum_k |S_k|^p``, computed on the model's magnitude estimates and applied to
  the mixture's complex STFT (``p = 1``: a ratio mask; ``p = 2``: the single-channel Wiener
  filter of power spectrograms). The masks of all sources add up to one in every bin, so the
  estimates add up to the mixture.
- ``wiener``: iterative (EM) Wiener filtering with ``norbert`` (the package of the field,
  the numpy original of Open-Unmix's ``filtering`` module), initialised with the model's
  magnitudes and the mixture's phase, ``iterations`` EM steps (Open-Unmix's default: 1).

Shapes: one source's spectrogram is ``[freq, frames]``; several are stacked as
``[sources, freq, frames]`` (this library's order: accompaniment, vocals, as the separator's
outputs, or any order: the filters treat every source alike). The model has 256 frequency
bins, the mixture's STFT 257 (the Nyquist bin): :func:`match_bins` gives the estimates the
mixture's bins by repeating their top bin, so that the Nyquist bin is split too.

A bin where every estimate is zero is split equally between the sources (``1 / sources``):
the mixture's energy there stays in the estimates' sum instead of being dropped.
"""

from __future__ import annotations

import numpy as np

from .errors import SepganError

POSTFILTERS = ("none", "soft", "wiener")
DEFAULT_POWER = 1.0
WIENER_ITERATIONS = 1
# norbert's regularisation: the mixture covariance gets sqrt(eps) added. Its default (the
# machine epsilon of the STFT's dtype: sqrt = 1.5e-8 in float64, after its rescaling of the
# mixture) drops the energy of bins whose estimates are quieter than that, so that the
# estimates no longer add up to the mixture (measured: 0.2 % of the mixture's peak on random
# inputs). The powers of float32 magnitudes are above 1e-90, so in float64 sqrt(1e-300)
# = 1e-150 changes no gain and nothing overflows.
WIENER_EPS = 1e-300
DEAD_BIN = float(np.finfo(np.float32).tiny)  # the estimates of a bin where all are zero


def check_postfilter(name: str) -> str:
    """``name`` if it is a known post-filter; else a one-line :class:`SepganError` naming the
    value and the choices."""
    if name not in POSTFILTERS:
        raise SepganError(f"unknown post-filter {name!r}; choices: {', '.join(POSTFILTERS)}")
    return name


def with_postfilter(config, name: str | None = None, power: float | None = None):
    """``config`` with post-filter ``name`` and soft-mask exponent ``power`` where given (the
    ``--postfilter`` and ``--postfilter-power`` options), range-checked as every key; a
    post-filter other than ``none`` sets ``phase`` to ``mixture`` (it masks the mixture)."""
    changes: dict = {}
    if name is not None:
        changes["postfilter"] = check_postfilter(name)
    if power is not None:
        changes["postfilter_power"] = float(power)
    if changes.get("postfilter", "none") != "none":
        changes["phase"] = "mixture"
    return config.replace(**changes) if changes else config


def config_label(config) -> str:
    """:func:`postfilter_label` of a configuration."""
    return postfilter_label(config.postfilter, config.postfilter_power)


def postfilter_label(name: str, power: float = DEFAULT_POWER) -> str:
    """How results name a post-filter: ``"none"``, ``"soft p=1"``, ``"soft p=2"``, ``"wiener"``
    (``power`` only matters for ``soft``)."""
    check_postfilter(name)
    return f"soft p={power:g}" if name == "soft" else name


def match_bins(magnitudes: np.ndarray, bins: int) -> np.ndarray:
    """``[sources, F, frames]`` -> ``[sources, bins, frames]``: the top bin repeated (or bins
    cut) so that the estimates cover the mixture's STFT (257 bins for the model's 256)."""
    magnitudes = np.asarray(magnitudes)
    missing = bins - magnitudes.shape[1]
    if missing > 0:
        return np.pad(magnitudes, [(0, 0), (0, missing), (0, 0)], mode="edge")
    return magnitudes[:, :bins]


def soft_masks(magnitudes: np.ndarray, power: float = DEFAULT_POWER) -> np.ndarray:
    """Soft masks ``|S_j|^p / sum_k |S_k|^p`` of magnitude estimates ``[sources, freq, frames]``
    (non-negative) -> float64 masks ``[sources, freq, frames]`` in [0, 1] that add up to one
    in every bin (``1 / sources`` where every estimate is zero).

    The powers are taken relative to each bin's largest estimate, so that a large ``p``
    neither overflows nor underflows to an all-zero bin."""
    if not power > 0 or not np.isfinite(power):
        raise SepganError(f"the soft mask's power must be a finite number > 0, got {power!r}")
    mags = np.asarray(magnitudes, dtype=np.float64)
    if mags.ndim != 3:
        raise SepganError(f"soft_masks expects [sources, freq, frames], got {mags.shape}")
    if np.any(mags < 0) or not np.all(np.isfinite(mags)):
        raise SepganError("soft_masks expects finite, non-negative magnitudes")
    peak = mags.max(axis=0, keepdims=True)
    live = peak > 0
    ratio = np.divide(mags, peak, out=np.zeros_like(mags), where=live)
    weights = ratio**power
    total = weights.sum(axis=0, keepdims=True)
    equal = np.full_like(weights, 1.0 / mags.shape[0])
    return np.divide(weights, total, out=equal, where=np.broadcast_to(live, weights.shape))


def apply_masks(masks: np.ndarray, mixture_stft: np.ndarray) -> np.ndarray:
    """Masks ``[sources, freq, frames]`` times the mixture's complex STFT ``[freq, frames]``
    -> complex estimates ``[sources, freq, frames]`` (masks of fewer bins are matched with
    :func:`match_bins`)."""
    mixture_stft = np.asarray(mixture_stft)
    masks = match_bins(masks, mixture_stft.shape[0])[:, :, : mixture_stft.shape[1]]
    return masks * mixture_stft[None]


def wiener(
    magnitudes: np.ndarray, mixture_stft: np.ndarray, iterations: int = WIENER_ITERATIONS
) -> np.ndarray:
    """Iterative Wiener filtering (``norbert.wiener``) of magnitude estimates
    ``[sources, freq, frames]`` and the mixture's complex STFT ``[freq, frames]`` -> complex
    estimates ``[sources, freq, frames]`` (complex128) that add up to the mixture.

    As Open-Unmix does: the model's magnitudes with the mixture's phase are the initial
    estimates (``use_softmask=False``), refined by ``iterations`` EM steps; ``0`` returns the
    initial estimates. For one channel the spatial covariances are 1 and each EM step is a
    Wiener filter of the current estimates' powers: one step is the soft mask of power 2,
    each further step doubles the power. norbert is given float64 data and :data:`WIENER_EPS`
    (see there), and bins where every estimate is zero are split equally first.
    """
    import norbert

    mixture_stft = np.asarray(mixture_stft)
    if mixture_stft.ndim != 2:
        raise SepganError(f"wiener expects a mixture STFT [freq, frames], got {mixture_stft.shape}")
    mags = np.asarray(magnitudes, dtype=np.float64)
    if mags.ndim != 3 or np.any(mags < 0) or not np.all(np.isfinite(mags)):
        raise SepganError("wiener expects finite, non-negative magnitudes [sources, freq, frames]")
    bins, frames = mixture_stft.shape
    mags = match_bins(mags, bins)[:, :, :frames]
    dead = mags.max(axis=0, keepdims=True) <= 0
    mags = np.where(dead, DEAD_BIN, mags)  # equal, tiny: split equally, nothing added
    # norbert's layout: v [frames, freq, channels, sources], x [frames, freq, channels]
    v = np.ascontiguousarray(mags.transpose(2, 1, 0)[:, :, None, :])
    x = np.array(mixture_stft.T[:, :, None], dtype=np.complex128, order="C")  # norbert writes x
    y = norbert.wiener(v, x, iterations=int(iterations), use_softmask=False, eps=WIENER_EPS)
    return y[:, :, 0, :].transpose(2, 1, 0)


def postfilter(
    magnitudes: np.ndarray,
    mixture_stft: np.ndarray,
    name: str,
    power: float = DEFAULT_POWER,
    iterations: int = WIENER_ITERATIONS,
) -> np.ndarray:
    """The complex estimates ``[sources, freq, frames]`` of one post-filter ``name``
    (``none``, ``soft`` with ``power``, ``wiener`` with ``iterations``) from magnitude
    estimates ``[sources, F, frames]`` and the mixture's complex STFT ``[freq, frames]``.

    ``none`` is the magnitudes with the mixture's phase (a Nyquist bin the model lacks is
    zero, as :func:`sepgan_lib.spectral.istft` makes it)."""
    check_postfilter(name)
    mixture_stft = np.asarray(mixture_stft)
    if name == "soft":
        return apply_masks(soft_masks(magnitudes, power), mixture_stft)
    if name == "wiener":
        return wiener(magnitudes, mixture_stft, iterations)
    mags = np.asarray(magnitudes, dtype=np.float32)
    full = np.zeros((mags.shape[0], *mixture_stft.shape), np.float32)
    full[:, : mags.shape[1]] = mags[:, : mixture_stft.shape[0], : mixture_stft.shape[1]]
    return full * np.exp(1j * np.angle(mixture_stft))[None]
