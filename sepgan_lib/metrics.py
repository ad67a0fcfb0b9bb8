"""The metrics of one song and their baselines: BSS Eval v3 and the mixture-as-estimate floor.

Metrics are mir_eval's ``bss_eval_sources`` (BSS Eval v3, whole songs, no permutation) on
mono 8192 Hz audio, as the original: SDR, SIR, SAR for vocals and accompaniment, plus the SDR
improvement over the mixture used as the estimate of both sources.

Baselines, scored on the same songs, give every figure a floor and a ceiling:

- ``mixture``: the mixture as the estimate of both sources (the floor);
- ``oracle_irm``: the ideal ratio mask ``|V| / (|V| + |A|)`` at our STFT applied to the
  mixture's complex STFT (a ceiling for any magnitude-mask method at this resolution);
- ``repet``: REPET-SIM style unsupervised separation (librosa's nearest-neighbour filtering
  of the mixture magnitude with a cosine metric and soft masks, mixture phase).

A song whose vocals or accompaniment reference is silent, or whose metrics are not finite,
raises :class:`SkippedSong` with the reason. A silent *estimate* is scored (it gets tiny
deterministic noise, as mir_eval refuses all-zero signals): a separator that outputs silence
must show up as a bad score, not vanish from the summary.

Signals are mono arrays ``[samples]``; results are ``{source: {"SDR", "SIR", "SAR"}}``.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import Any

import numpy as np

from . import spectral
from .errors import SepganError

SOURCES = ("vocals", "accompaniment")
METRICS = ("SDR", "SIR", "SAR")
BASELINES = ("mixture", "oracle_irm", "repet")
SR = 8192  # the default sample rate (config.expected_sr); callers pass the configuration's
SILENT_ENERGY = 1e-8  # sum of squares below which a reference counts as silent
SILENCE_PEAK = 1e-4  # a stem whose peak is below this is silent (data check, evaluate)
SILENCE_RMS_DB = -60.0  # ... or whose RMS is below this (dBFS)
# |correlation| of vocals and accompaniment above which they are one signal (e.g. a MIR-1K
# clip with equal channels): BSS Eval then splits it arbitrarily (SIR ~160 dB, SDR -240 dB)
SAME_SIGNAL_CORRELATION = 0.999


class SkippedSong(SepganError):
    """A song that cannot be scored (e.g. a silent reference); ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


# --- metrics ---------------------------------------------------------------------------------


def snr_db(reference, estimate) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference`` (``[samples]``, the first
    ``min`` of both lengths), in dB: the reference's energy over the error's."""
    reference, estimate = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    n = min(len(reference), len(estimate))
    error = reference[:n] - estimate[:n]
    return float(10 * np.log10(np.sum(reference[:n] ** 2) / max(np.sum(error**2), 1e-20)))


def _as_signal(x, length: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if length is not None and len(x) != length:
        x = x[:length] if len(x) > length else np.pad(x, (0, length - len(x)))
    return x


def silent_level(x) -> str | None:
    """``"peak P, RMS R dBFS"`` of a stem whose peak is below :data:`SILENCE_PEAK` or whose
    RMS is below :data:`SILENCE_RMS_DB` (a silent stem), else None."""
    x = np.asarray(x, np.float64).reshape(-1)
    peak = float(np.max(np.abs(x), initial=0.0))
    rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
    rms_db = 20 * math.log10(rms) if rms > 0 else -math.inf
    if peak < SILENCE_PEAK or rms_db < SILENCE_RMS_DB:
        return f"peak {peak:.2g}, RMS {rms_db:.1f} dBFS"
    return None


def same_signal(vocals, accompaniment) -> float | None:
    """The correlation of ``vocals`` and ``accompaniment`` when they are (nearly) one signal,
    else None: such a song cannot be scored, and ``sepgan data check`` warns about it."""
    v = np.asarray(vocals, np.float64).reshape(-1)
    a = np.asarray(accompaniment, np.float64).reshape(-1)
    n = min(len(v), len(a))
    norms = float(np.linalg.norm(v[:n]) * np.linalg.norm(a[:n]))
    if n == 0 or not np.isfinite(norms) or norms == 0:
        return None
    correlation = float(np.dot(v[:n], a[:n]) / norms)
    return correlation if abs(correlation) >= SAME_SIGNAL_CORRELATION else None


def _unsilence(x: np.ndarray, seed: int) -> np.ndarray:
    if np.sum(x**2) >= SILENT_ENERGY:
        return x
    noise = np.random.default_rng(seed).standard_normal(len(x)) * 1e-7
    return x + noise


def _restore_linalg_alias() -> None:
    """Shim for mir_eval 0.8.2, its latest release: ``mir_eval/separation.py`` line 730
    (``_project``) and line 803 (``_project_images``) read ``except
    np.linalg.linalg.LinAlgError:`` to fall back to ``lstsq`` when ``np.linalg.solve`` finds
    the references' Gram matrix singular. numpy 2.4 removed the alias module
    ``numpy.linalg.linalg``, so the fallback itself raised ``AttributeError`` (and so did a
    Ctrl-C inside ``solve``). The alias is put back as the module it named,
    ``numpy.linalg._linalg``; drop this when a mir_eval release catches
    ``np.linalg.LinAlgError``."""
    if "linalg" not in vars(np.linalg) and hasattr(np.linalg, "_linalg"):
        np.linalg.linalg = np.linalg._linalg


def bss_eval(references: dict, estimates: dict) -> dict[str, dict[str, float]]:
    """BSS Eval v3 of ``estimates`` against ``references`` (dicts with ``vocals`` and
    ``accompaniment`` mono arrays) -> ``{"vocals": {"SDR","SIR","SAR"}, "accompaniment": ...}``.

    Raises :class:`SkippedSong` when a reference is silent or a metric is not finite.
    """
    import mir_eval  # deferred: loads scipy's signal stack; the importers that only read results skip it

    _restore_linalg_alias()

    length = len(np.asarray(references["accompaniment"]).reshape(-1))
    refs = [_as_signal(references[s], length) for s in ("accompaniment", "vocals")]
    for name, ref in zip(("accompaniment", "vocals"), refs):
        energy = float(np.sum(ref**2))
        if not np.isfinite(energy):
            raise SkippedSong(f"the {name} reference is not finite")
        if energy < SILENT_ENERGY:
            raise SkippedSong(f"the {name} reference is silent (energy {energy:.3g})")
        if silent_level(ref):
            raise SkippedSong(f"the {name} reference is silent ({silent_level(ref)})")
    correlation = same_signal(refs[1], refs[0])
    if correlation is not None:
        raise SkippedSong(
            f"degenerate song: the vocals and accompaniment references are one signal "
            f"(correlation {correlation:.4f}); BSS Eval cannot tell them apart"
        )
    ests = [
        _unsilence(_as_signal(estimates[s], length), seed=i)
        for i, s in enumerate(("accompaniment", "vocals"))
    ]
    if not all(np.all(np.isfinite(e)) for e in ests):
        raise SkippedSong("an estimate holds NaN or infinite samples")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bss_eval_sources' deprecation notice
        try:
            sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(
                np.stack(refs), np.stack(ests), compute_permutation=False
            )
        except ValueError as err:  # mir_eval's own input checks
            raise SkippedSong(f"BSS Eval refused the song: {err}") from err
    out = {}
    for k, source in enumerate(("accompaniment", "vocals")):
        values = {"SDR": float(sdr[k]), "SIR": float(sir[k]), "SAR": float(sar[k])}
        bad = [m for m, v in values.items() if not math.isfinite(v)]
        if bad:
            raise SkippedSong(f"{source} {'/'.join(bad)} not finite ({values})")
        out[source] = values
    return {s: out[s] for s in SOURCES}


# --- baselines -------------------------------------------------------------------------------


def _stft(x: np.ndarray) -> np.ndarray:
    return spectral.stft(np.asarray(x, dtype=np.float32))


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    import librosa  # deferred: librosa takes seconds to import, only the baselines need it

    return librosa.istft(
        spec, hop_length=spectral.HOP, window="hann", center=True, length=length
    ).astype(np.float32)


def _repet_sim(mixture: np.ndarray, sr: int = SR) -> dict[str, np.ndarray]:
    """librosa's vocal separation example (REPET-SIM): nearest-neighbour median filtering of
    the magnitude over similar frames (cosine) models the repeating accompaniment."""
    import librosa  # deferred: librosa takes seconds to import, only the baselines need it

    spec = _stft(mixture)
    magnitude, phase = np.abs(spec), np.exp(1j * np.angle(spec))
    frames = magnitude.shape[1]
    width = min(
        int(librosa.time_to_frames(2.0, sr=sr, hop_length=spectral.HOP)), (frames - 1) // 2 - 1
    )
    if width < 1:
        return {"vocals": mixture.copy(), "accompaniment": mixture.copy()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repeating = librosa.decompose.nn_filter(
            magnitude, aggregate=np.median, metric="cosine", width=width
        )
    repeating = np.minimum(magnitude, repeating)
    margin_acc, margin_voc, power = 2, 10, 2
    mask_acc = librosa.util.softmask(repeating, margin_acc * (magnitude - repeating), power=power)
    mask_voc = librosa.util.softmask(magnitude - repeating, margin_voc * repeating, power=power)
    length = len(mixture)
    return {
        "vocals": _istft(mask_voc * magnitude * phase, length),
        "accompaniment": _istft(mask_acc * magnitude * phase, length),
    }


def baseline_estimates(mixture, sources: dict, method: str, sr: int = SR) -> dict[str, np.ndarray]:
    """Estimates of a baseline ``method`` (``mixture``, ``oracle_irm`` or ``repet``)."""
    mixture = np.asarray(mixture, dtype=np.float32)
    if method == "mixture":
        return {"vocals": mixture.copy(), "accompaniment": mixture.copy()}
    if method == "oracle_irm":
        spec = _stft(mixture)
        voc = np.abs(_stft(sources["vocals"]))
        acc = np.abs(_stft(sources["accompaniment"]))
        total = voc + acc
        mask = np.divide(voc, total, out=np.full_like(voc, 0.5), where=total > 0)
        return {
            "vocals": _istft(mask * spec, len(mixture)),
            "accompaniment": _istft((1 - mask) * spec, len(mixture)),
        }
    if method == "repet":
        return _repet_sim(mixture, sr)
    raise SepganError(f"unknown baseline {method!r}; known: {', '.join(BASELINES)}")


# --- one song -------------------------------------------------------------------------------


# The floors already computed in this process, by song (:func:`song_key`): every model scored
# on a song has the same floor (chapter 5 scores three on the same songs, the health check of
# each of the book's three runs the same validation songs). A bounded memo of small dicts.
_FLOORS: dict[str, dict] = {}
_MAX_FLOORS = 4096


def song_key(audio: dict) -> str:
    """A digest of a song's ``mixture``, ``vocals`` and ``accompaniment`` samples: the songs
    with the same key have the same floor."""
    digest = hashlib.sha1()
    for name in ("mixture", *SOURCES):
        signal = np.ascontiguousarray(audio[name], dtype=np.float32)
        digest.update(str(signal.shape).encode())
        digest.update(signal.tobytes())
    return digest.hexdigest()


def mixture_floor(audio: dict, key: str | None = None) -> dict:
    """BSS Eval of the mixture as the estimate of both sources (the floor), computed once per
    song in this process (``key``: :func:`song_key`, when the caller has it)."""
    key = key or song_key(audio)
    if key not in _FLOORS:
        refs = {s: audio[s] for s in SOURCES}
        floor = bss_eval(refs, baseline_estimates(audio["mixture"], refs, "mixture"))
        if len(_FLOORS) >= _MAX_FLOORS:
            _FLOORS.clear()
        _FLOORS[key] = floor
    return _FLOORS[key]


def remember_floor(key: str, floor: dict) -> None:
    """Keep a floor computed in another process (an evaluation's worker) for ``key``."""
    if len(_FLOORS) >= _MAX_FLOORS:
        _FLOORS.clear()
    _FLOORS[key] = floor


def known_floor(key: str) -> dict | None:
    """The floor of the song ``key`` when this process has it, else None."""
    return _FLOORS.get(key)


def score_with_floor(audio: dict, estimate: dict, floor: dict | None = None) -> tuple[dict, dict]:
    """BSS Eval of ``estimate`` on one song and of the mixture as the estimate of both sources
    (the floor, :func:`mixture_floor`, or ``floor`` when the caller has it):
    ``(model_metrics, floor_metrics)``, each as :func:`bss_eval` returns.

    ``audio`` holds mono ``mixture``, ``vocals`` and ``accompaniment``; raises
    :class:`SkippedSong` when the song cannot be scored.
    """
    refs = {s: audio[s] for s in SOURCES}
    floor = floor if floor is not None else mixture_floor(audio)
    return bss_eval(refs, estimate), floor


def with_improvement(metrics: dict, floor: dict) -> dict:
    """``metrics`` with each source's ``SDR_improvement`` over the ``floor`` metrics."""
    return {
        s: {**metrics[s], "SDR_improvement": metrics[s]["SDR"] - floor[s]["SDR"]} for s in SOURCES
    }


def score_song(
    name: str, audio: dict, estimate: dict, baselines: bool, sr: int = SR, floor=None
) -> dict:
    """``{"name", "metrics": {...} | None, "reason", "baselines": {method: metrics | None},
    "floor"}`` (``floor``: the song's mixture floor when the caller has it, see
    :func:`score_with_floor`; returned as ``floor`` for the caller to keep)."""
    refs = {s: audio[s] for s in SOURCES}
    out: dict[str, Any] = {"name": name, "metrics": None, "reason": None, "baselines": {}}
    try:
        model, mix_metrics = score_with_floor(audio, estimate, floor)
    except SkippedSong as err:
        out["reason"] = err.reason
        return out
    out["floor"] = mix_metrics
    out["metrics"] = with_improvement(model, mix_metrics)
    if baselines:
        out["baselines"]["mixture"] = with_improvement(mix_metrics, mix_metrics)
        for method in BASELINES[1:]:
            try:
                est = baseline_estimates(audio["mixture"], refs, method, sr)
                out["baselines"][method] = with_improvement(bss_eval(refs, est), mix_metrics)
            except SkippedSong:
                out["baselines"][method] = None
    return out


# --- many songs ------------------------------------------------------------------------------


def summarize(tracks: list) -> dict:
    """Mean and median over songs of each source's metrics:
    ``{"vocals": {"SDR": {"mean", "median"}, "SIR": ..., "SAR": ...}, "accompaniment": ...}``
    (``SDR_improvement`` too when the tracks have it; ``None`` when there is no song)."""
    entries = list(tracks)
    out: dict[str, dict] = {}
    for source in SOURCES:
        out[source] = {}
        keys = list(METRICS)
        if any("SDR_improvement" in e.get(source, {}) for e in entries):
            keys.append("SDR_improvement")
        for metric in keys:
            values = np.array(
                [e[source][metric] for e in entries if metric in e.get(source, {})], float
            )
            values = values[np.isfinite(values)]
            if len(values) == 0:
                out[source][metric] = {"mean": None, "median": None}
            else:
                out[source][metric] = {
                    "mean": float(np.mean(values)),
                    "median": float(np.median(values)),
                }
    return out


def format_db(x) -> str:
    """A metric value for a table: two decimals, ``-`` when there is none."""
    return "-" if x is None else f"{x:.2f}"
