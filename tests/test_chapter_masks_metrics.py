"""The short functions chapter 6 writes itself, checked against the library and known values.

The cells tagged ``chapter-functions`` of ``book/06_masks_phase_and_metrics.ipynb`` are run
here in a namespace holding what the chapter's setup cell imports.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mir_eval
import nbformat
import numpy as np
import pytest

from sepgan_lib import metrics, spectral, synth

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "06_masks_phase_and_metrics.ipynb"
SR = 8192


@pytest.fixture(scope="module")
def chapter():
    nb = nbformat.read(CHAPTER, as_version=4)
    cells = [c for c in nb.cells if "chapter-functions" in c.metadata.get("tags", [])]
    assert len(cells) == 2, "the chapter's own functions are in two tagged cells"
    namespace = {"np": np, "spectral": spectral, "mir_eval": mir_eval, "warnings": warnings}
    namespace["sr"] = SR
    for cell in cells:
        exec(compile(cell.source, str(CHAPTER), "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def song():
    return synth.generate_song(3, 4.0, SR)


def test_si_sdr_of_known_cases(chapter, rng):
    si_sdr = chapter["si_sdr_db"]
    s = rng.standard_normal(SR)
    noise = rng.standard_normal(SR)
    noise -= noise @ s / (s @ s) * s  # orthogonal to s: SI-SDR is exactly the energy ratio
    noise *= np.sqrt((s @ s) / (noise @ noise)) * 10 ** (-15 / 20)  # 15 dB below s
    assert si_sdr(s, s + noise) == pytest.approx(15.0, abs=1e-9)
    assert si_sdr(s, 0.3 * (s + noise)) == pytest.approx(15.0, abs=1e-9), "gain-invariant"
    assert si_sdr(s, s + 10 ** (-40 / 20) * noise * 10 ** (15 / 20)) == pytest.approx(
        40.0, abs=1e-9
    )


def test_si_sdr_agrees_with_a_least_squares_projection(chapter, rng):
    s = rng.standard_normal(2000)
    estimate = 0.7 * s + 0.2 * rng.standard_normal(2000) + 0.1 * np.roll(s, 3)
    alpha, *_ = np.linalg.lstsq(s[:, None], estimate, rcond=None)
    target = alpha[0] * s
    expected = 10 * np.log10(np.sum(target**2) / np.sum((estimate - target) ** 2))
    assert chapter["si_sdr_db"](s, estimate) == pytest.approx(expected, rel=1e-9)


def test_soft_mask_of_power_one_on_true_magnitudes_is_the_library_irm(chapter, song):
    v, _ = spectral.magnitude_phase(song["vocals"])
    a, _ = spectral.magnitude_phase(song["accompaniment"])
    mine = chapter["apply_vocal_mask"](song["mixture"], chapter["soft_mask"](v, a, 1))
    sources = {s: song[s] for s in ("vocals", "accompaniment")}
    library = metrics.baseline_estimates(song["mixture"], sources, "oracle_irm", SR)
    for source in ("vocals", "accompaniment"):
        error = mine[source] - library[source]
        # only the Nyquist bin differs (the chapter works on the model's 256 bins)
        ratio_db = 10 * np.log10(np.sum(library[source] ** 2) / np.sum(error**2))
        assert ratio_db > 40, f"{source}: {ratio_db:.1f} dB"


def test_masks_add_up_to_the_mixture_and_the_binary_mask_is_the_hard_limit(chapter, song):
    v, _ = spectral.magnitude_phase(song["vocals"])
    a, _ = spectral.magnitude_phase(song["accompaniment"])
    for power in (1, 2):
        mask = chapter["soft_mask"](v, a, power)
        assert mask.min() >= 0 and mask.max() <= 1
        estimates = chapter["apply_vocal_mask"](song["mixture"], mask)
        total = estimates["vocals"] + estimates["accompaniment"]
        mixture_256 = spectral.istft(*spectral.magnitude_phase(song["mixture"]), len(total))
        np.testing.assert_allclose(total, mixture_256, atol=1e-4)
    hard = chapter["binary_mask"](v, a)
    np.testing.assert_array_equal(np.round(chapter["soft_mask"](v, a, 60)), hard)


def test_true_magnitude_with_mixture_phase_matches_chapter_1s_recipe(chapter, song):
    mine = chapter["true_magnitude_mixture_phase"](song)["vocals"]
    magnitude, _ = spectral.magnitude_phase(song["vocals"])
    _, phase = spectral.magnitude_phase(song["mixture"])
    expected = spectral.istft(magnitude, phase, length=len(song["mixture"]))
    np.testing.assert_allclose(mine, expected, atol=1e-6)


def test_framewise_sdr_of_a_near_perfect_estimate_is_high_and_of_the_mixture_low(chapter, song):
    sources = {s: song[s] for s in ("vocals", "accompaniment")}
    irm = metrics.baseline_estimates(song["mixture"], sources, "oracle_irm", SR)
    mixture = metrics.baseline_estimates(song["mixture"], sources, "mixture", SR)
    good = chapter["framewise_vocals_sdr"](song, irm)
    bad = chapter["framewise_vocals_sdr"](song, mixture)
    assert np.isfinite(good) and np.isfinite(bad)
    assert good > bad + 5
