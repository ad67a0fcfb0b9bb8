"""Remix augmentation of paired batches and the per-dataset validation (issue 20)."""

import numpy as np
import pytest

from sepgan_lib import pipeline, pools, spectral
from sepgan_lib.config import make_config
from sepgan_lib.errors import ConfigError, SepganError
from sepgan_lib.plans import load_plan

LENGTHS = (300, 200, 250, 280)


def labelled_cache():
    """Songs whose sources are constant and name their song: vocals 100 (i + 1), the
    accompaniment i + 1, real-valued STFTs, and a mixture of zeros (so a mixture that is not
    zero was remixed from the sources)."""
    total = sum(LENGTHS)
    song = np.repeat(np.arange(len(LENGTHS)), LENGTHS).astype(np.float32)[:, None]
    ones = np.ones((total, spectral.MODEL_BINS), np.float32)
    voc, acc = 100 * (song + 1) * ones, (song + 1) * ones
    frames = {
        "mixture": 0 * ones,
        "vocals": voc,
        "accompaniment": acc,
        "vocals_re": voc,
        "vocals_im": 0 * ones,
        "accompaniment_re": acc,
        "accompaniment_im": 0 * ones,
    }
    offsets = np.concatenate([[0], np.cumsum(LENGTHS)[:-1]])
    names = [f"song{i}" for i in range(len(LENGTHS))]
    return pipeline.SpectrogramCache(names, offsets, np.asarray(LENGTHS), frames)


def linear_batches(config, cache, batches=4):
    out = []
    for mix, acc, voc in pipeline.paired_dataset(cache, config, seed=3).take(batches):
        shapes = pipeline.model_shapes(config)
        (ctx_f, ctx_t) = shapes.context
        pad = (mix.shape[1] - spectral.MODEL_BINS) // 2
        centre = np.expm1(
            mix.numpy()[:, pad : pad + spectral.MODEL_BINS, ctx_t : ctx_t + acc.shape[2]]
        )
        out.append((centre, np.expm1(acc.numpy()), np.expm1(voc.numpy())))
    return [np.concatenate(parts) for parts in zip(*out)]


def test_remixed_examples_sum_scaled_sources_of_other_songs_within_the_gain_range():
    # gains within 10 %: each level still names its song (labels 1..4 stay apart)
    config = make_config(
        "smoke", {"batch_size": 16, "remix": 1.0, "remix_gain_min": 0.9, "remix_gain_max": 1.1}
    )
    mix, acc, voc = linear_batches(config, labelled_cache())
    np.testing.assert_allclose(mix, voc + acc, rtol=1e-4)  # the mixture of the two sources
    acc_level, voc_level = acc[:, 0, 0, 0], voc[:, 0, 0, 0] / 100
    acc_song, voc_song = np.round(acc_level), np.round(voc_level)
    for level, song in ((acc_level, acc_song), (voc_level, voc_song)):
        gain = level / song
        assert gain.min() >= 0.9 - 1e-4 and gain.max() <= 1.1 + 1e-4
        assert np.ptp(gain) > 0.1  # the gains vary over the range
    # the accompaniment is drawn apart from the vocals: mostly from another song
    assert 0.5 < (acc_song != voc_song).mean() < 1.0


def test_a_share_of_the_examples_is_remixed_and_remix_zero_changes_nothing():
    cache = labelled_cache()
    half = make_config("smoke", {"batch_size": 16, "remix": 0.5})
    mix, _, _ = linear_batches(half, cache, batches=8)
    remixed = (mix.reshape(len(mix), -1).max(axis=1) > 0).mean()
    assert 0.3 < remixed < 0.7
    # not remixed: the mixture and both sources exactly as drawn from one song, gain 1
    plain = make_config("smoke", {"batch_size": 16})
    mix, acc, voc = linear_batches(plain, cache)
    assert mix.max() == 0
    np.testing.assert_allclose(voc, 100 * acc, rtol=1e-5)


def test_remix_off_draws_the_batches_of_before():
    """remix = 0 builds no complex parts and draws exactly the old batches: the book's
    figures and recorded runs stay as they were."""
    cache = labelled_cache()
    plain = {k: v for k, v in cache.frames.items() if k in pipeline.SOURCES}
    old = pipeline.SpectrogramCache(cache.names, cache.offsets, cache.lengths, plain)
    config = make_config("smoke", {"batch_size": 4})
    for a, b in zip(
        pipeline.paired_dataset(cache, config, seed=5).take(2),
        pipeline.paired_dataset(old, config, seed=5).take(2),
    ):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
    with pytest.raises(SepganError, match="vocals_re"):
        pipeline.paired_dataset(old, config.replace(remix=0.5))


def test_remix_keys_are_checked_and_the_paper_profile_does_not_remix():
    assert make_config("paper").remix == 0.0 and make_config("cpu").remix == 0.0
    with pytest.raises(ConfigError, match="'remix' = 1.5"):
        make_config("smoke", {"remix": 1.5})
    with pytest.raises(ConfigError, match="remix_gain_min"):
        make_config("smoke", {"remix_gain_min": 2.0, "remix_gain_max": 1.0})
    with pytest.raises(ConfigError, match="valid_balance"):
        make_config("smoke", {"valid_balance": "singers"})


def test_complex_parts_of_real_songs_give_their_magnitudes_and_their_mixture(musdb7_root):
    """On MUSDB18-7 songs: the cached complex parts have the cached magnitudes, and their
    sum is the mixture's STFT up to what the stems leave out of the mix."""
    config = make_config("smoke", {"remix": 1.0})
    plan = load_plan("musdb7_domains", {"musdb": musdb7_root}, config)
    sources = pipeline.SOURCES + pipeline.COMPLEX_SOURCES
    cache = pipeline.SpectrogramCache.from_tracks(plan.tracks("paired")[:2], config, sources)
    f = cache.frames
    for name in ("vocals", "accompaniment"):
        np.testing.assert_allclose(
            np.hypot(f[f"{name}_re"], f[f"{name}_im"]), f[name], rtol=1e-3, atol=1e-4
        )
    summed = np.hypot(
        f["vocals_re"] + f["accompaniment_re"], f["vocals_im"] + f["accompaniment_im"]
    )
    error = np.linalg.norm(summed - f["mixture"]) / np.linalg.norm(f["mixture"])
    assert error < 0.05, error
    batch = next(iter(pipeline.paired_dataset(cache, config.replace(batch_size=4), seed=1)))
    assert all(np.isfinite(x.numpy()).all() for x in batch)


def test_balanced_validation_takes_the_datasets_in_turn(musdb7_root, mir1k_root):
    roots = {"musdb": musdb7_root, "mir1k": mir1k_root}
    config = make_config("smoke", {"valid_balance": "datasets", "valid_max_songs": 4})
    plan = load_plan("musdb7_domains", roots, config)
    chosen = pools.validation_tracks(plan, config)
    assert [t.dataset for t in chosen] == ["musdb", "mir1k", "musdb", "mir1k"]
    songs = pools.validation_tracks(plan, config.replace(valid_balance="songs"))
    assert [t.dataset for t in songs] == ["musdb"] * 4  # the role's order: MUSDB first
    held_out = {t.key for t in plan.tracks("test_musdb")}
    used = {t.key for r in ("paired", "valid", "unpaired_mix") for t in plan.tracks(r)}
    assert len(held_out) == 24 and not held_out & used


def test_by_dataset_splits_a_cache_into_its_songs():
    cache = labelled_cache()
    cache.names = ["a/train/x", "b/train/y", "a/train/z", "b/train/w"]
    groups = cache.by_dataset()
    assert list(groups) == ["a", "b"] and groups["a"].names == ["a/train/x", "a/train/z"]
    np.testing.assert_array_equal(groups["b"].lengths, [LENGTHS[1], LENGTHS[3]])
    start = LENGTHS[0] + LENGTHS[1]
    np.testing.assert_array_equal(
        groups["a"].frames["vocals"][LENGTHS[0] :],
        cache.frames["vocals"][start : start + LENGTHS[2]],
    )


def test_a_remixed_balanced_run_trains_and_logs_each_dataset(tmp_path):
    from sepgan_lib.train import train

    config = make_config(
        "smoke", {"remix": 0.5, "valid_balance": "datasets", "max_epochs": 1, "epoch_it": 2}
    )
    result = train(tmp_path / "run", "supervised", config, progress=False)
    entry = result["history"][0]
    assert set(entry["valid_loss_by_dataset"]) == {"synthetic"}
    assert entry["valid_loss"] == pytest.approx(entry["valid_loss_by_dataset"]["synthetic"])


def test_unpaired_max_songs_takes_the_first_songs_of_each_unpaired_role():
    config = make_config("smoke", {"unpaired_max_songs": 2})
    plan = load_plan("synthetic_shift", None, config)
    built = pools.build_pools(plan, config, "semi")
    for pool, role in (("mix", "unpaired_mix"), ("vocals", "unpaired_vocals")):
        assert built.unpaired[pool].names == [t.key for t in plan.tracks(role)[:2]]
    assert len(plan.tracks("unpaired_mix")) > 2


def test_unpaired_datasets_keeps_the_named_datasets_and_names_a_missing_one():
    from sepgan_lib.datasets import Track
    from sepgan_lib.errors import DataError

    songs = [Track(f"s{i}", ds, "train", "sum", ()) for i, ds in enumerate("abab")]
    keep_b = make_config("smoke", {"unpaired_datasets": "b", "unpaired_max_songs": 1})
    assert [t.name for t in pools.unpaired_songs(songs, keep_b, "unpaired_mix")] == ["s1"]
    both = make_config("smoke", {"unpaired_datasets": " a, b "})
    assert len(pools.unpaired_songs(songs, both, "unpaired_mix")) == 4
    everything = make_config("smoke")
    assert pools.unpaired_songs(songs, everything, "unpaired_mix") == songs
    with pytest.raises(DataError, match=r"'unpaired_datasets' = 'mir1k'.*'unpaired_acc'.*a, b"):
        pools.unpaired_songs(
            songs, make_config("smoke", {"unpaired_datasets": "mir1k"}), "unpaired_acc"
        )
