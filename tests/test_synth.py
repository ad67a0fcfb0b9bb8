import json
import threading
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepgan_lib import cli, spectral, synth, synth_set
from sepgan_lib.errors import DataError

SR = 8192


@pytest.fixture(scope="module")
def songs():
    """Ten 10 s songs: the test split of a 50-song set with seed 0."""
    indices = [i for i in range(50) if synth_set.split_of(i, 50) == "test"]
    assert len(indices) == 10
    return [synth.generate_song(synth.song_seed(0, i)) for i in indices]


def frame_rms(x, size=round(0.05 * SR)):
    count = len(x) // size
    return np.sqrt(np.mean(x[: count * size].astype(np.float64).reshape(count, size) ** 2, 1))


def test_song_shape_and_determinism():
    a = synth.generate_song(7, seconds=3.0)
    b = synth.generate_song(7, seconds=3.0)
    c = synth.generate_song(8, seconds=3.0)
    assert set(a) == {"mixture", "vocals", "accompaniment"}
    for key in a:
        assert a[key].dtype == np.float32 and a[key].shape == (3 * SR,)
        np.testing.assert_array_equal(a[key], b[key])
        assert not np.allclose(a[key], c[key])
    np.testing.assert_array_equal(a["mixture"], a["vocals"] + a["accompaniment"])
    assert np.max(np.abs(a["mixture"])) <= 0.99 + 1e-6
    assert synth.generate_song(1, seconds=2.5)["vocals"].shape == (round(2.5 * SR),)


def test_plans_share_tempo_key_and_chords():
    for seed in range(5):
        plan = synth.song_plan(seed)
        scale = synth.MAJOR if plan.mode == "major" else synth.MINOR
        pcs = {(plan.tonic + s) % 12 for s in scale}
        assert 84 <= plan.tempo <= 136
        assert all(set(chord) <= pcs for chord in plan.chords)
        eighth = plan.beat / 2
        for note in plan.notes:
            assert note.midi % 12 in pcs  # melody on the song's scale
            assert abs(note.onset / eighth - round(note.onset / eighth)) < 1e-6  # its rhythm
        # Notes on strong beats are mostly chord tones.
        strong = [n for n in plan.notes if round(n.onset / eighth) % 2 == 0]
        in_chord = [n.midi % 12 in plan.chord_at(n.onset + 1e-6) for n in strong]
        assert np.mean(in_chord) > 0.5
        assert len({n.vowel for n in plan.notes}) >= 3  # vowels change between syllables
        assert any(n.consonant for n in plan.notes)


def test_levels_rests_and_dynamics(songs):
    for song in songs:
        v, a = song["vocals"], song["accompaniment"]
        rv, ra = frame_rms(v), frame_rms(a)
        active = rv > rv.max() * 10 ** (-40 / 20)
        assert 1 - active.mean() >= 0.2  # silent at least a fifth of the time
        ratio = 10 * np.log10(np.mean(rv[active] ** 2) / np.mean(ra[active] ** 2))
        assert -6 <= ratio <= 3
        assert ratio == pytest.approx(synth.vocal_level_db(v, a), abs=1e-6)
        # Loudness varies while singing: the spread of active frame levels is several dB.
        levels = 20 * np.log10(rv[active & (rv > rv.max() * 0.05)])
        assert np.percentile(levels, 90) - np.percentile(levels, 10) > 3


def _f0_contour(x, expected_hz, hop=32, size=320):
    """Autocorrelation f0 (Hz) per frame, the lag searched within 4 semitones of the note."""
    lo = int(SR / (expected_hz * 2 ** (4 / 12)))
    hi = int(np.ceil(SR / (expected_hz / 2 ** (4 / 12))))
    f0 = []
    for start in range(0, len(x) - size - hi - 2, hop):
        frame = x[start : start + size + hi + 2]
        ac = np.array([np.dot(frame[:size], frame[lag : lag + size]) for lag in range(lo, hi + 2)])
        k = int(np.argmax(ac[1:-1])) + 1
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        f0.append(SR / (lo + k + shift))
    return np.array(f0), SR / hop


def _vibrato(vocals, note):
    """(modulation rate in Hz, depth in semitones) of the sustained part of a note."""
    start = note.onset + note.vibrato_delay + 0.25
    end = note.onset + note.duration - 0.05
    x = vocals[int(start * SR) : int(end * SR)].astype(np.float64)
    f0, rate = _f0_contour(x, float(synth._midi_hz(note.midi)))
    cents = 12 * np.log2(f0)
    cents = cents - np.polyval(np.polyfit(np.arange(len(cents)), cents, 1), np.arange(len(cents)))
    spectrum = np.abs(np.fft.rfft(cents * np.hanning(len(cents)), 8192))
    freqs = np.fft.rfftfreq(8192, 1 / rate)
    band = (freqs > 2) & (freqs < 12)
    return freqs[band][np.argmax(spectrum[band])], np.sqrt(2) * cents.std()


def _sustained_note(min_seconds=0.9):
    for seed in range(50):
        plan = synth.song_plan(seed)
        for note in plan.notes:
            if note.duration >= min_seconds and note.onset + note.duration <= plan.seconds:
                return seed, plan, note
    raise AssertionError("no sustained note in 50 songs")


def test_vibrato_after_onset_in_the_sung_audio():
    seed, plan, note = _sustained_note()
    vocals = synth.generate_song(seed)["vocals"]
    rate, depth = _vibrato(vocals, note)
    assert 4.8 <= rate <= 7.2  # the plan draws 5-7 Hz; the estimate is within ~0.1 Hz
    assert depth > 0.15
    # The vibrato starts after the onset: the f0 track is steady right after it.
    f0 = synth.vocal_f0_track(plan)
    onset = int((note.onset + 0.06) * SR)
    early = 12 * np.log2(f0[onset : int((note.onset + note.vibrato_delay) * SR)])
    assert np.ptp(early) < 0.05
    # Negative control: the same song rendered without vibrato shows no modulation.
    flat = replace(plan, notes=tuple(replace(n, vibrato_depth=0.0) for n in plan.notes))
    _, rng = synth._rng_pair(seed)
    still = synth._render_vocals(rng, flat, round(plan.seconds * SR))
    assert _vibrato(still, note)[1] < 0.5 * depth


def test_glides_between_notes():
    plan = synth.song_plan(3)
    f0 = synth.vocal_f0_track(plan)
    notes = [
        (a, b)
        for a, b in zip(plan.notes, plan.notes[1:])
        if a.phrase == b.phrase and a.midi != b.midi
    ]
    assert notes
    a, b = notes[0]
    midi = 12 * np.log2(f0 / 440) + 69
    mid = midi[int((b.onset - b.glide / 4) * SR) : int((b.onset + b.glide / 4) * SR)]
    low, high = sorted((a.midi, b.midi))
    # Inside the glide the pitch passes through values strictly between the two notes.
    assert np.any((mid > low + 0.2) & (mid < high - 0.2))


def test_separability_of_the_test_split(songs):
    import librosa
    import mir_eval

    def vocals_sdr(refs, ests):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bss_eval_sources is deprecated in mir_eval 0.8
            return mir_eval.separation.bss_eval_sources(refs, ests, compute_permutation=False)[0]

    mix_sdr, irm_sdr = [], []
    for k, song in enumerate(songs):
        v, a, m = (song[key].astype(np.float64) for key in ("vocals", "accompaniment", "mixture"))
        spec_v, spec_a, spec_m = spectral.stft(v), spectral.stft(a), spectral.stft(m)
        mask = np.abs(spec_v) / (np.abs(spec_v) + np.abs(spec_a) + 1e-12)
        est_v = librosa.istft(mask * spec_m, hop_length=spectral.HOP, window="hann", length=len(m))
        # A source's SDR does not depend on the other references (its target is the projection
        # on its own reference's delays), so the vocals alone give the same number, faster.
        mix_sdr.append(vocals_sdr(v[None], m[None])[0])
        irm_sdr.append(vocals_sdr(v[None], est_v[None])[0])
        if k == 0:
            refs = np.stack([a, v])
            full = vocals_sdr(refs, np.stack([m - est_v, est_v]))[1]
            assert full == pytest.approx(irm_sdr[-1], abs=1e-6)
    assert np.median(mix_sdr) <= 3.0, mix_sdr
    assert np.median(irm_sdr) >= 10.0, irm_sdr


def test_splits():
    assert synth_set.SPLITS == ("train", "valid", "test")
    assert [synth_set.split_of(i, 100) for i in (0, 64, 65, 79, 80, 99)] == [
        "train",
        "train",
        "valid",
        "valid",
        "test",
        "test",
    ]
    for n in range(3, 40):
        counts = {s: sum(synth_set.split_of(i, n) == s for i in range(n)) for s in synth_set.SPLITS}
        assert counts["test"] == max(1, round(0.2 * n))
        assert counts["valid"] == max(1, round(0.15 * n))
        assert counts["train"] >= 1
    assert [synth_set.split_of(i, 1) for i in range(1)] == ["train"]
    with pytest.raises(DataError):
        synth_set.split_of(5, 5)


def _read_set(root):
    out = {}
    for folder in sorted(Path(root).glob("*/song_*")):
        out[(folder.parent.name, folder.name)] = {
            stem: sf.read(folder / f"{stem}.wav", dtype="float32")[0] for stem in synth.STEMS
        }
    return out


def test_written_set_layout_exact_sum_and_independence_of_n(tmp_path):
    # 4 songs of 15 s is enough work for the process pool.
    root = synth_set.write_synthetic_set(tmp_path / "set", tracks=4, seconds=15, seed=3, jobs=2)
    assert root == tmp_path / "set"
    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["tracks"] == 4 and manifest["seconds"] == 15 and manifest["seed"] == 3
    assert manifest["version"] == synth.GENERATOR_VERSION
    songs = _read_set(root)
    assert sorted(songs) == [
        ("test", "song_003"),
        ("train", "song_000"),
        ("train", "song_001"),
        ("valid", "song_002"),
    ]
    for (_, name), stems in songs.items():
        info = sf.info(root / synth_set.split_of(int(name[-3:]), 4) / name / "mixture.wav")
        assert info.samplerate == SR and info.subtype == "FLOAT"
        np.testing.assert_array_equal(stems["mixture"], stems["vocals"] + stems["accompaniment"])
        # The parallel writer gives the same songs as generate_song, whatever the set's size.
        expected = synth.generate_song(synth.song_seed(3, int(name[-3:])), 15)
        for stem in synth.STEMS:
            np.testing.assert_array_equal(stems[stem], expected[stem])


def test_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="at least 1 track"):
        synth_set.write_synthetic_set(tmp_path, tracks=0)
    with pytest.raises(DataError, match="at least 1 second"):
        synth_set.write_synthetic_set(tmp_path, tracks=2, seconds=0.5)
    with pytest.raises(DataError, match="at least 1 second"):
        synth_set.ensure_synthetic_set(tmp_path, tracks=2, seconds=0)
    with pytest.raises(DataError):
        synth.generate_song(-1)
    assert cli.main(["data", "synth", str(tmp_path / "x"), "--tracks", "0"]) == 2


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.main(["data", "synth", str(out), "--tracks", "5", "--seconds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "5 synthetic songs" in printed and str(out) in printed
    songs = _read_set(out)
    assert len(songs) == 5
    assert {split for split, _ in songs} == set(synth_set.SPLITS)
    for stems in songs.values():
        assert all(len(x) == 2 * SR for x in stems.values())


def test_ensure_reuses_replaces_and_races(tmp_path, monkeypatch):
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "cache"))
    root = synth_set.ensure_synthetic_set(tracks=3, seconds=1, seed=0)
    assert root == tmp_path / "cache" / "synthetic" / f"n3-s1-seed0-v{synth.GENERATOR_VERSION}"
    wav = root / "test" / "song_002" / "vocals.wav"
    stamp = wav.stat().st_mtime_ns
    calls = []
    monkeypatch.setattr(synth_set, "write_synthetic_set", lambda *a, **k: calls.append(a))
    assert synth_set.ensure_synthetic_set(tracks=3, seconds=1, seed=0) == root
    assert calls == [] and wav.stat().st_mtime_ns == stamp
    monkeypatch.undo()
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "cache"))

    # A set with other parameters at an explicit root is replaced.
    synth_set.ensure_synthetic_set(root, tracks=3, seconds=1, seed=5)
    assert synth_set.read_manifest(root)["seed"] == 5

    # Two generators at once: both return the complete set, no temporary folder is left.
    target = tmp_path / "race" / "set"
    results, errors = [], []

    def run():
        try:
            results.append(synth_set.ensure_synthetic_set(target, tracks=3, seconds=1, seed=1))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [target] * 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["set"]
    assert len(_read_set(target)) == 3

    # A non-empty folder that is not a synthetic set is never overwritten.
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="refusing"):
        synth_set.ensure_synthetic_set(other, tracks=3, seconds=1)
    assert (other / "notes.txt").read_text() == "keep me"
