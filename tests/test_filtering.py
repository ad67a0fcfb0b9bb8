"""Issue 19: post-filters (none, soft masks, iterative Wiener filtering) in the library."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from test_evaluate import tiny_run  # noqa: F401  (a fixture: a poor but healthy tiny run)
from test_separate import SR, _config, _model, _save_run, _signal

from sepgan_lib import cli, filtering, spectral
from sepgan_lib.compare import compare_results
from sepgan_lib.config import make_config
from sepgan_lib.errors import ConfigError, SepganError
from sepgan_lib.separate import separate_audio, separate_spectrogram


def _magnitudes(rng, sources=2, bins=256, frames=40):
    """Non-negative estimates [sources, bins, frames] with dead bins (every source zero)
    and bins where only one source is non-zero."""
    mags = np.abs(rng.standard_normal((sources, bins, frames))) ** 3
    mags[:, 10:20, 5:9] = 0.0
    mags[0, 30:40] = 0.0
    return mags.astype(np.float32)


def _mixture_stft(rng, frames=40):
    x = rng.standard_normal(spectral.HOP * (frames - 1)).astype(np.float32)
    return spectral.stft(0.3 * x), len(x)


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0, 16.0])
def test_soft_masks_are_in_unit_interval_and_add_up_to_one(rng, power):
    mags = _magnitudes(rng, sources=3)
    masks = filtering.soft_masks(mags, power)
    assert masks.shape == mags.shape
    assert masks.min() >= 0.0 and masks.max() <= 1.0
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_array_equal(masks[:, 10:20, 5:9], 1.0 / 3)  # dead bins: split equally
    assert np.all(masks[0, 30:40][mags[1:, 30:40].max(axis=0) > 0] == 0.0)


def test_soft_mask_by_hand(rng):
    mags = _magnitudes(rng)
    v, a = mags[0].astype(np.float64), mags[1].astype(np.float64)
    live = (v + a) > 0
    for power in (1.0, 2.0):
        expected = v[live] ** power / (v[live] ** power + a[live] ** power)
        np.testing.assert_allclose(filtering.soft_masks(mags, power)[0][live], expected, rtol=1e-9)
    # a large power hardens the mask to the louder source, with no overflow or 0/0
    hard = filtering.soft_masks(mags * 1e6, 16.0)[0]
    assert np.all(np.isfinite(hard))
    assert np.all(hard[live & (v > 2 * a)] > 0.99)


@pytest.mark.parametrize("name, power", [("soft", 1.0), ("soft", 2.0), ("wiener", 1.0)])
def test_estimates_add_up_to_the_mixture(rng, name, power):
    spec, length = _mixture_stft(rng)
    mags = _magnitudes(rng, frames=spec.shape[1])
    estimates = filtering.postfilter(mags, spec, name, power)
    assert estimates.shape == (2, *spec.shape)
    scale = np.abs(spec).max()
    np.testing.assert_allclose(estimates.sum(axis=0), spec, rtol=0, atol=1e-6 * scale)
    # each estimate is a real gain in [0, 1] of the mixture: its phase, never louder
    ratio = np.abs(estimates) / np.maximum(np.abs(spec), 1e-30)[None]
    assert ratio.max() <= 1.0 + 1e-6
    live = np.abs(spec) > 1e-6 * scale
    gain = estimates[:, live] / spec[live][None]
    assert np.abs(gain.imag).max() < 1e-6
    audio = [spectral.istft_complex(e, length) for e in estimates]
    mixture = spectral.istft_complex(spec, length)
    np.testing.assert_allclose(audio[0] + audio[1], mixture, rtol=0, atol=1e-5)


def test_mono_wiener_is_the_power_two_soft_mask_and_leaves_its_input(rng):
    """For one channel norbert's spatial covariances are 1: one EM step is the soft mask of
    the estimates' powers (p = 2), a second one that of p = 4."""
    spec, _ = _mixture_stft(rng)
    mags = _magnitudes(rng, frames=spec.shape[1])
    before = spec.copy()
    scale = np.abs(spec).max()
    for iterations, power in ((1, 2.0), (2, 4.0)):
        wiener = filtering.wiener(mags, spec, iterations=iterations)
        soft = filtering.postfilter(mags, spec, "soft", power)
        np.testing.assert_allclose(wiener, soft, rtol=0, atol=1e-9 * scale)
    np.testing.assert_array_equal(spec, before)  # norbert divides its x in place: a copy
    # no EM step: the model's magnitudes with the mixture's phase (the `none` filter)
    initial = filtering.wiener(mags, spec, iterations=0)
    none = filtering.postfilter(mags, spec, "none")
    np.testing.assert_allclose(initial[:, :256], none[:, :256], rtol=0, atol=1e-5 * scale)


def test_unknown_postfilter_is_refused_naming_value_and_choices(rng):
    spec, _ = _mixture_stft(rng)
    for call in (
        lambda: filtering.check_postfilter("wienr"),
        lambda: filtering.postfilter(_magnitudes(rng), spec, "wienr"),
    ):
        with pytest.raises(SepganError) as err:
            call()
        message = str(err.value)
        assert "'wienr'" in message and "none, soft, wiener" in message
        assert "\n" not in message
    with pytest.raises(ConfigError, match="postfilter"):
        make_config("smoke", {"postfilter": "wienr"})
    with pytest.raises(ConfigError, match="'postfilter_power'.*allowed"):
        make_config("smoke", {"postfilter_power": 0.0})
    with pytest.raises(ConfigError, match="'phase'"):
        make_config("smoke", {"postfilter": "soft", "phase": "griffin_lim"})
    assert filtering.postfilter_label("soft", 2.0) == "soft p=2"
    assert filtering.postfilter_label("wiener", 2.0) == "wiener"


@pytest.fixture(scope="module")
def random_model():
    config = _config()
    return _model(config, identity=False, seed=3), config


def _today(model, mixture, config):
    """The resynthesis before post-filters, step by step: every head's magnitude (zero where
    the mixture is digital silence) with the mixture's phase."""
    magnitude, phase = spectral.magnitude_phase(mixture)
    acc, voc = separate_spectrogram(model, np.log1p(magnitude), config)
    out = {}
    for name, log_mag in (("vocals", voc), ("accompaniment", acc)):
        mag = np.where(magnitude > 0, np.maximum(np.expm1(log_mag), 0.0), 0.0)
        out[name] = spectral.istft(mag, phase, length=len(mixture))
    return out


def test_none_is_bit_identical_to_the_plain_resynthesis(random_model):
    model, config = random_model
    noise = 0.05 * np.random.default_rng(1).standard_normal(SR * 3 + 77)
    mixture = _signal(SR * 3 + 77, seed=5) + noise.astype(np.float32)
    mixture[: SR // 2] = 0.0  # digital silence
    expected = _today(model, mixture, config)
    assert config.postfilter == "none"
    for out in (
        separate_audio(model, mixture, config),
        separate_audio(model, mixture, config, postfilter="none"),
        separate_audio(model, mixture, config.replace(postfilter="soft"), postfilter="none"),
    ):
        for name in ("vocals", "accompaniment"):
            assert out[name].dtype == expected[name].dtype
            np.testing.assert_array_equal(out[name], expected[name])


def test_separate_audio_postfilters_add_up_and_differ(random_model):
    model, config = random_model
    mixture = _signal(SR * 3 + 5, seed=2)
    plain = separate_audio(model, mixture, config, postfilter="none")
    for name, power in (("soft", 1.0), ("soft", 2.0), ("wiener", None)):
        out = separate_audio(model, mixture, config, postfilter=name, power=power)
        total = out["vocals"] + out["accompaniment"]
        assert len(total) == len(mixture)
        np.testing.assert_allclose(total, mixture, rtol=0, atol=1e-5)
        assert not np.allclose(out["vocals"], plain["vocals"], atol=1e-3)
    # the configuration's filter is the default
    by_config = separate_audio(model, mixture, config.replace(postfilter="soft"))
    by_name = separate_audio(model, mixture, config, postfilter="soft", power=1.0)
    np.testing.assert_array_equal(by_config["vocals"], by_name["vocals"])
    with pytest.raises(SepganError, match="'nope'.*choices: none, soft, wiener"):
        separate_audio(model, mixture, config, postfilter="nope")
    with pytest.raises(SepganError, match="griffin_lim"):
        separate_audio(model, mixture, config, phase="griffin_lim", postfilter="soft")


# --- the command line, end to end on tiny runs ----------------------------------------------


@pytest.fixture(scope="module")
def random_run(tmp_path_factory, random_model):
    model, config = random_model
    return _save_run(tmp_path_factory.mktemp("run"), model, config)


def _stems(folder):
    return {
        n: sf.read(folder / f"{n}.wav", dtype="float32")[0] for n in ("vocals", "accompaniment")
    }


def test_cli_separate_postfilter(random_run, tmp_path, capsys):
    mixture = _signal(SR * 2 + 11, seed=4)
    sf.write(tmp_path / "a.wav", mixture, SR, subtype="FLOAT")
    outputs = {}
    for name in ("none", "soft", "wiener"):
        args = ["separate", str(random_run), str(tmp_path / "a.wav"), "--out", str(tmp_path / name)]
        assert cli.main([*args, "--postfilter", name]) == 0
        outputs[name] = _stems(tmp_path / name / "a")
    assert cli.main([*args[:-1], str(tmp_path / "default")]) == 0  # the run's config: none
    for source in ("vocals", "accompaniment"):
        np.testing.assert_array_equal(
            _stems(tmp_path / "default" / "a")[source], outputs["none"][source]
        )
    for name in ("soft", "wiener"):
        total = outputs[name]["vocals"] + outputs[name]["accompaniment"]
        np.testing.assert_allclose(total, mixture, rtol=0, atol=1e-5)
    assert not np.allclose(outputs["none"]["vocals"] + outputs["none"]["accompaniment"], mixture)
    args = ["separate", str(random_run), str(tmp_path / "a.wav"), "--out", str(tmp_path / "p2")]
    assert cli.main([*args, "--postfilter", "soft", "--postfilter-power", "2"]) == 0
    assert not np.array_equal(_stems(tmp_path / "p2" / "a")["vocals"], outputs["soft"]["vocals"])
    capsys.readouterr()
    assert cli.main([*args, "--postfilter", "wienr"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "sepgan: error: unknown post-filter 'wienr'; choices: none, soft, wiener"
    assert cli.main([*args, "--postfilter", "soft", "--postfilter-power", "-1"]) == 2
    assert "postfilter_power" in capsys.readouterr().err


def test_cli_evaluate_postfilter_names_the_filter(tiny_run, capsys):  # noqa: F811
    base = ["evaluate", str(tiny_run), "--plan", "synthetic", "--jobs", "1", "--quiet"]
    results = {}
    for name in ("none", "soft"):
        assert cli.main([*base, "--postfilter", name]) == 0
        assert f"post-filter {filtering.postfilter_label(name)}" in capsys.readouterr().out
        saved = json.loads((tiny_run / "eval" / "synthetic-test.json").read_text())
        with open(tiny_run / "eval" / "synthetic-test.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert saved["postfilter"] == filtering.postfilter_label(name)
        assert rows and {r["postfilter"] for r in rows} == {saved["postfilter"]}
        results[name] = saved
    assert results["soft"]["postfilter"] == "soft p=1"
    assert results["soft"]["tracks"] != results["none"]["tracks"]
    with pytest.raises(SepganError, match="different post-filters.*'none'.*'soft p=1'"):
        compare_results(results["none"], results["soft"])
    cmp = compare_results(results["none"], results["soft"], mixed_postfilters=True)
    assert (cmp["postfilter_a"], cmp["postfilter_b"]) == ("none", "soft p=1")
    legacy = {k: v for k, v in results["none"].items() if k != "postfilter"}
    assert compare_results(legacy, results["none"])["n"] == len(legacy["tracks"])
    assert cli.main([*base, "--postfilter", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown post-filter 'nope'; choices: none, soft, wiener" in err
