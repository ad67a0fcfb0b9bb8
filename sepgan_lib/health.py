"""Is a trained separator fit to be reported? A check of each output on the validation songs.

A separator can finish training with a low-looking loss and still be useless: a ReLU output
layer pushed below zero early in training outputs silence for good (a *dead head*), and an
estimate can be worse than doing nothing. After training, the best separator separates the
validation songs and each output (vocals, accompaniment) is checked:

- **silent**: the output is zero on every validation song;
- **below the floor**: its BSS Eval SDR is below that of the mixture itself taken as the
  estimate (the floor every evaluation shows) on more than half of the songs.

Either marks the run as failed (``finished.json``: ``"health": {"ok": false, ...}``);
``sepgan train`` then exits non-zero, and ``sepgan evaluate`` / ``compare`` and the book
refuse to present the run as a result unless asked to (``allow_unhealthy``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .datasets import load_track_cached
from .errors import SepganError
from .jsonfiles import load_json
from .metrics import SOURCES, SkippedSong, score_with_floor
from .pools import validation_tracks
from .separate import load_run, separate_audio

SILENT_PEAK = 1e-6  # peak amplitude below which an output counts as silence
REMEDY = (
    "train again in a new run folder with another seed (--set seed=N), a learning-rate "
    "warm-up (--set lr_warmup_steps=100), a lower learning rate, or heads that keep a gradient "
    "(--set output_activation=leaky_relu)"
)


class UnhealthyRunError(SepganError):
    """A run whose separator failed the health check was about to be reported as a result."""


def check_separator(model, config, songs) -> dict:
    """Check each output of ``model`` on ``songs``, a list of ``(name, audio)`` where
    ``audio`` has mono ``mixture``, ``vocals`` and ``accompaniment`` arrays (see
    :func:`check_estimates`)."""
    # the network itself is judged, not a post-filter (masks would hide a silent head)
    return check_estimates(
        lambda mixture: separate_audio(model, mixture, config, postfilter="none"), songs
    )


def check_estimates(estimator, songs) -> dict:
    """Check the estimates ``estimator(mixture) -> {"vocals", "accompaniment"}`` on ``songs``.

    Returns ``{"ok": bool | None, "songs": n, "outputs": {source: {"peak", "silent",
    "below_floor", "scored", "median_SDR", "median_floor_SDR"}}, "problems": [...],
    "remedy": str}``; ``ok`` is None when no song could be scored.
    """
    peaks = {s: 0.0 for s in SOURCES}
    sdr = {s: [] for s in SOURCES}
    floor = {s: [] for s in SOURCES}
    skipped = []
    for name, audio in songs:
        estimate = estimator(audio["mixture"])
        for s in SOURCES:
            peaks[s] = max(peaks[s], float(np.max(np.abs(estimate[s]), initial=0.0)))
        try:
            model_scores, mixture_scores = score_with_floor(audio, estimate)
        except SkippedSong as err:
            skipped.append(f"{name}: {err.reason}")
            continue
        for s in SOURCES:
            sdr[s].append(model_scores[s]["SDR"])
            floor[s].append(mixture_scores[s]["SDR"])
    outputs, problems = {}, []
    for s in SOURCES:
        model_sdr, floor_sdr = np.array(sdr[s]), np.array(floor[s])
        below = int(np.sum(model_sdr < floor_sdr))
        entry = {
            "peak": peaks[s],
            "silent": bool(songs) and peaks[s] < SILENT_PEAK,
            "scored": len(model_sdr),
            "below_floor": below,
            "median_SDR": float(np.median(model_sdr)) if len(model_sdr) else None,
            "median_floor_SDR": float(np.median(floor_sdr)) if len(floor_sdr) else None,
        }
        outputs[s] = entry
        if entry["silent"]:
            problems.append(
                f"the {s} output is silent on every validation song (a dead output layer)"
            )
        elif len(model_sdr) and below > len(model_sdr) / 2:
            problems.append(
                f"the {s} estimate scores below the mixture-as-estimate floor on {below} of "
                f"{len(model_sdr)} validation songs (median SDR {entry['median_SDR']:.2f} dB, "
                f"floor {entry['median_floor_SDR']:.2f} dB)"
            )
    scored = min(len(sdr[s]) for s in SOURCES)
    ok = False if problems else (True if scored else None)
    return {
        "ok": ok,
        "songs": len(songs),
        "outputs": outputs,
        "problems": problems,
        "skipped": skipped,
        "remedy": REMEDY if problems else "",
    }


def validation_songs(plan, config) -> list[tuple[str, dict]]:
    """The plan's validation songs as the trainer validates on them (``valid_max_songs``,
    ``valid_max_seconds``), decoded at the configuration's rate; unreadable songs left out."""
    songs = []
    limit = int(config.valid_max_seconds * config.expected_sr) or None
    for track in validation_tracks(plan, config):
        try:
            audio = load_track_cached(track, sr=config.expected_sr)
        except SepganError:
            continue  # the trainer reported it when it built its pools
        songs.append((track.name, {k: np.asarray(v)[:limit] for k, v in audio.items()}))
    return songs


def check_run(run_dir, plan) -> dict:
    """:func:`check_separator` of a run folder's best separator on ``plan``'s validation songs."""
    model, config = load_run(run_dir)
    return check_separator(model, config, validation_songs(plan, config))


def run_health(run_dir) -> dict | None:
    """The health record of a finished run (None for an unfinished or unchecked run); a
    ``finished.json`` that is not JSON, or whose record is malformed, is an error naming it."""
    path = Path(run_dir) / "finished.json"
    finished = load_json(path)
    return checked_record(finished.get("health"), str(path)) if finished else None


def checked_record(health, where: str) -> dict | None:
    """``health`` when it is a record :func:`check_estimates` could have written (or None);
    else :class:`SepganError` naming ``where``: a run must not pass for healthy by accident."""
    if health is None:
        return None
    problem = None
    if not isinstance(health, dict):
        problem = f"is a {type(health).__name__}, expected an object"
    elif health.get("ok") not in (True, False, None):
        problem = f"'ok' is {health.get('ok')!r}, expected true, false or null"
    elif not isinstance(health.get("problems", []), list):
        problem = "'problems' is not a list"
    elif not isinstance(health.get("outputs", {}), dict):
        problem = "'outputs' is not an object"
    if problem:
        raise SepganError(f"{where}: the health record {problem}; the file was damaged")
    return health


def failed(health: dict | None) -> bool:
    return bool(health) and health.get("ok") is False


def format_health(health: dict | None) -> str:
    """A few lines for a person: the verdict, each output, the problems and the remedy."""
    if not health:
        return "health: not checked"
    verdict = {True: "healthy", False: "FAILED", None: "not checkable (no song scored)"}
    lines = [f"health: {verdict[health.get('ok')]} ({health.get('songs', 0)} validation songs)"]
    for source, entry in health.get("outputs", {}).items():
        median, floor = entry.get("median_SDR"), entry.get("median_floor_SDR")
        scores = (
            f"median SDR {median:.2f} dB vs floor {floor:.2f} dB, below the floor on "
            f"{entry['below_floor']} of {entry['scored']}"
            if median is not None
            else "not scored"
        )
        lines.append(f"  {source}: peak {entry['peak']:.3g}, {scores}")
    lines += [f"  problem: {p}" for p in health.get("problems", [])]
    if health.get("remedy"):
        lines.append(f"  what to do: {health['remedy']}")
    return "\n".join(lines)


def require_healthy(health: dict | None, label: str) -> None:
    """Raise :class:`UnhealthyRunError` if ``health`` is a failed check of ``label``."""
    if failed(checked_record(health, label)):
        raise UnhealthyRunError(
            f"{label}: the run failed its health check ({'; '.join(health['problems'])}); its "
            f"scores are not a result. To do: {health.get('remedy') or REMEDY}. Pass "
            "--allow-unhealthy (allow_unhealthy=True) to score it anyway."
        )
