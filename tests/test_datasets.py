"""Readers of dataset layouts: real MUSDB18-7 and MIR-1K data, fixture trees for the others."""

import json
import os
import pickle

import numpy as np
import pytest
import soundfile as sf
import yaml

from sepgan_lib import datasets
from sepgan_lib.audio import load_audio, load_streams
from sepgan_lib.datasets import Track, load_track_cached
from sepgan_lib.errors import AudioError, DataError

SR = 8192


def tone(seed, seconds=0.5, sr=SR, amp=0.3):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = 100 + 50 * seed
    return (amp * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def write(path, audio, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float32)
    sf.write(str(path), audio.T if audio.ndim == 2 else audio, sr, subtype="FLOAT")
    return path


def assert_sources(audio, n=None):
    assert set(audio) == {"mixture", "vocals", "accompaniment"}
    lengths = {len(v) for v in audio.values()}
    assert len(lengths) == 1
    for v in audio.values():
        assert v.dtype == np.float32 and v.ndim == 1
    if n is not None:
        assert lengths == {n}


# --- real data --------------------------------------------------------------------------------


def test_musdb7_reader(musdb7_root):
    tracks = datasets.read_musdb(musdb7_root)
    assert len(tracks) == 94
    assert [t.name for t in tracks] == sorted(t.name for t in tracks)
    assert {t.subset for t in tracks} == {"train"}
    assert {t.sample_rate for t in tracks} == {44100}
    assert all(6.0 < t.duration < 8.0 for t in tracks)
    assert tracks[0].key == f"musdb/train/{tracks[0].name}"
    track = tracks[0]
    audio = track.load()
    assert_sources(audio)
    assert 6.0 < len(audio["mixture"]) / SR < 8.0
    path = track.files[0][1]
    mix, drums, bass, other, vocals = load_streams(path, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(audio["vocals"], vocals[: len(audio["vocals"])])
    np.testing.assert_allclose(
        audio["accompaniment"], (drums + bass + other)[: len(audio["vocals"])], atol=1e-6
    )
    # AAC stems add up to the mixture only approximately.
    residual = audio["mixture"] - audio["vocals"] - audio["accompaniment"]
    assert np.linalg.norm(residual) < 0.2 * np.linalg.norm(audio["mixture"])


def test_musdb_root_without_the_asked_subset(musdb7_root):
    with pytest.raises(DataError, match="stem.mp4"):
        datasets.read_musdb(musdb7_root, subsets=("test",))


def test_mir1k_reader(mir1k_root):
    tracks = datasets.read_mir1k(mir1k_root)
    assert len(tracks) == 163
    assert [t.name for t in tracks] == sorted(t.name for t in tracks)
    assert {t.sample_rate for t in tracks} == {16000}
    track = tracks[0]
    audio = track.load()
    assert_sources(audio)
    stereo = load_audio(track.files[0][1], sr=SR, mono=False)
    np.testing.assert_allclose(audio["accompaniment"], stereo[0])
    np.testing.assert_allclose(audio["vocals"], stereo[1])
    np.testing.assert_allclose(audio["mixture"], stereo[0] + stereo[1], atol=1e-6)
    assert abs(len(audio["mixture"]) / SR - track.duration) < 0.01


def test_load_track_cached_decodes_once(mir1k_root, monkeypatch, tmp_path):
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "cache"))
    track = datasets.read_mir1k(mir1k_root)[1]
    first = load_track_cached(track)
    path = datasets.decoded_cache_path(track)
    assert path.exists() and str(tmp_path) in str(path)
    assert not list(mir1k_root.rglob("*.npz"))  # nothing written into the dataset root

    def boom(self, sr=SR):
        raise AssertionError("decoded again")

    monkeypatch.setattr(Track, "load_raw", boom)
    second = load_track_cached(track)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    assert datasets.decoded_cache_path(track, sr=16000) != path


# --- fixture trees ----------------------------------------------------------------------------


def test_decoded_cache_key_follows_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SEPGAN_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "cc"
    song = root / "song"
    write(song / "mix.wav", tone(1) + tone(2))
    write(song / "source-01.wav", tone(1))
    write(song / "source-02.wav", tone(2))
    (track,) = datasets.read_ccmixter(root)
    before = datasets.decoded_cache_path(track)
    load_track_cached(track)
    write(song / "source-02.wav", 0.5 * tone(2, seconds=0.6))
    os.utime(song / "source-02.wav", ns=(1, 10**18))
    after = datasets.decoded_cache_path(track)
    assert after != before
    audio = load_track_cached(track)
    np.testing.assert_allclose(audio["vocals"], 0.5 * tone(2)[: len(audio["vocals"])], atol=1e-6)


def make_dsd100(root, dev=("b", "a"), test=("c", "d")):
    for subset, songs in (("Dev", dev), ("Test", test)):
        for k, song in enumerate(songs):
            stems = {n: tone(k + i) for i, n in enumerate(("vocals", "bass", "drums", "other"))}
            write(root / "Mixtures" / subset / song / "mixture.wav", sum(stems.values()))
            for n, x in stems.items():
                write(root / "Sources" / subset / song / f"{n}.wav", x)
    return root


def test_dsd100_reader(tmp_path):
    root = make_dsd100(tmp_path / "DSD100")
    tracks = datasets.read_dsd100(root)
    assert [(t.subset, t.name) for t in tracks] == [
        ("Dev", "a"),
        ("Dev", "b"),
        ("Test", "c"),
        ("Test", "d"),
    ]
    audio = tracks[0].load()
    assert_sources(audio, int(0.5 * SR))
    # "a" is the second song written, so its stems are tones 1 (vocals), 2, 3, 4.
    expected = tone(2) + tone(3) + tone(4)
    np.testing.assert_allclose(audio["accompaniment"], expected, atol=1e-5)
    np.testing.assert_allclose(audio["vocals"], tone(1), atol=1e-6)
    assert tracks[0].sample_rate == SR and abs(tracks[0].duration - 0.5) < 1e-3


def test_dsd100_missing_source_is_noted(tmp_path):
    root = make_dsd100(tmp_path / "DSD100")
    (root / "Sources" / "Dev" / "a" / "drums.wav").unlink()
    problems = []
    tracks = datasets.read_dsd100(root, problems=problems)
    assert [t.name for t in tracks] == ["b", "c", "d"]
    assert any("drums.wav" in p for p in problems)


def test_ccmixter_reader(tmp_path):
    root = tmp_path / "ccmixter"
    for k, song in enumerate(("zeta", "alpha")):
        write(root / song / "mix.wav", tone(k) + tone(k + 5))
        write(root / song / "source-01.wav", tone(k))
        write(root / song / "source-02.wav", tone(k + 5))
    tracks = datasets.read_ccmixter(root)
    assert [t.name for t in tracks] == ["alpha", "zeta"]
    audio = tracks[0].load()
    np.testing.assert_allclose(audio["accompaniment"], tone(1), atol=1e-6)
    np.testing.assert_allclose(audio["vocals"], tone(6), atol=1e-6)


@pytest.mark.parametrize("name", ["ikala", "mir1k"])
def test_stereo_left_accompaniment_right_voice(tmp_path, name):
    root = tmp_path / name
    acc, voice = tone(1, sr=16000), tone(3, sr=16000, amp=0.1)
    write(root / "Wavfile" / "10_b.wav", np.stack([acc, voice]), sr=16000)
    write(root / "Wavfile" / "01_a.wav", np.stack([acc, voice]), sr=16000)
    tracks = datasets.READERS[name](root)
    assert [t.name for t in tracks] == ["01_a", "10_b"]
    assert tracks[0].dataset == name and tracks[0].sample_rate == 16000
    audio = tracks[0].load(sr=16000)
    np.testing.assert_allclose(audio["accompaniment"], acc, atol=1e-6)
    np.testing.assert_allclose(audio["vocals"], voice, atol=1e-6)
    np.testing.assert_allclose(audio["mixture"], acc + voice, atol=1e-6)
    assert len(tracks[0].load(sr=SR)["mixture"]) == int(0.5 * SR)


def test_stereo_reader_rejects_mono_file(tmp_path):
    write(tmp_path / "ik" / "Wavfile" / "x.wav", tone(1))
    (track,) = datasets.read_ikala(tmp_path / "ik")
    with pytest.raises(AudioError, match="x.wav.*stereo"):
        track.load()


def make_medleydb(root, audio_dir=False):
    base = root / "Audio" if audio_dir else root
    # Song with two vocal stems (one listed under two labels) and two instruments.
    song = "ArtistA_Song"
    stems = {1: tone(1), 2: tone(2), 3: tone(3), 4: tone(4)}
    folder = base / song
    for k, x in stems.items():
        write(folder / f"{song}_STEMS" / f"{song}_STEM_{k:02d}.wav", x)
    write(folder / f"{song}_MIX.wav", sum(stems.values()))
    meta = {
        "artist": "ArtistA",
        "instrumental": "no",
        "mix_filename": f"{song}_MIX.wav",
        "stem_dir": f"{song}_STEMS",
        "stems": {
            "S01": {"filename": f"{song}_STEM_01.wav", "instrument": "female singer"},
            "S02": {"filename": f"{song}_STEM_02.wav", "instrument": ["vocalists", "male singer"]},
            "S03": {"filename": f"{song}_STEM_03.wav", "instrument": "electric bass"},
            "S04": {"filename": f"{song}_STEM_04.wav", "instrument": "drum set"},
        },
    }
    (folder / f"{song}_METADATA.yaml").write_text(yaml.safe_dump(meta))
    # An instrumental song.
    song = "ArtistB_Instrumental"
    folder = base / song
    write(folder / f"{song}_STEMS" / f"{song}_STEM_01.wav", tone(5))
    write(folder / f"{song}_MIX.wav", tone(5))
    meta = {
        "stems": {"S01": {"filename": f"{song}_STEM_01.wav", "instrument": "piano"}},
    }
    (folder / f"{song}_METADATA.yaml").write_text(yaml.safe_dump(meta))
    return root


@pytest.mark.parametrize("audio_dir", [False, True])
def test_medleydb_vocals_counted_once(tmp_path, audio_dir):
    root = make_medleydb(tmp_path / "MedleyDB", audio_dir)
    problems = []
    tracks = datasets.read_medleydb(root, problems=problems)
    assert [t.name for t in tracks] == ["ArtistA_Song"]
    assert any("ArtistB_Instrumental" in p and "no vocal" in p for p in problems)
    vocal_files = [p for role, p in tracks[0].files if role == "vocals"]
    assert len(vocal_files) == 2
    audio = tracks[0].load()
    np.testing.assert_allclose(audio["vocals"], tone(1) + tone(2), atol=1e-5)
    np.testing.assert_allclose(audio["accompaniment"], tone(3) + tone(4), atol=1e-5)
    everything = datasets.read_medleydb(root, vocals_only=False)
    assert len(everything) == 2


def test_musdb_hq_detected(tmp_path):
    root = tmp_path / "musdb18hq"
    for subset, songs in (("train", ["B", "A"]), ("test", ["C"])):
        for song in songs:
            stems = {n: tone(i) for i, n in enumerate(("vocals", "drums", "bass", "other"))}
            for n, x in stems.items():
                write(root / subset / song / f"{n}.wav", x)
            write(root / subset / song / "mixture.wav", sum(stems.values()))
    tracks = datasets.read_musdb(root)
    assert [(t.subset, t.name) for t in tracks] == [("train", "A"), ("train", "B"), ("test", "C")]
    assert tracks[0].loader == "sum"
    audio = tracks[0].load()
    np.testing.assert_allclose(audio["accompaniment"], tone(1) + tone(2) + tone(3), atol=1e-5)
    assert datasets.read_musdb_hq(root, subsets=("test",))[0].name == "C"


def test_synthetic_reader(tmp_path):
    root = tmp_path / "syn"
    for split in ("train", "valid", "test"):
        for song in ("song_001", "song_000"):
            write(root / split / song / "vocals.wav", tone(1))
            write(root / split / song / "accompaniment.wav", tone(2))
            write(root / split / song / "mixture.wav", tone(1) + tone(2))
    tracks = datasets.read_synthetic(root)
    assert len(tracks) == 6
    assert [t.subset for t in tracks[:2]] == ["train", "train"]
    assert tracks[0].name == "song_000"
    assert_sources(tracks[0].load(), int(0.5 * SR))


@pytest.mark.parametrize("name", sorted(datasets.READERS))
def test_missing_or_malformed_root_names_the_layout(tmp_path, name):
    with pytest.raises(DataError) as err:
        datasets.READERS[name](tmp_path / "nowhere")
    assert "nowhere" in str(err.value) and "expected" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as err:
        datasets.READERS[name](tmp_path / "empty")
    assert "empty" in str(err.value) and "expected" in str(err.value)


def test_musdb_error_names_the_musdb_layout(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"train/<song>\.stem\.mp4"):
        datasets.read_musdb(tmp_path)


def test_corrupt_file_raises_audio_error_naming_it(tmp_path):
    root = tmp_path / "cc"
    write(root / "s" / "mix.wav", tone(1))
    write(root / "s" / "source-01.wav", tone(1))
    (root / "s" / "source-02.wav").write_bytes(b"RIFF not really a wav file at all")
    (track,) = datasets.read_ccmixter(root)
    with pytest.raises(AudioError, match="source-02.wav"):
        track.load()


def test_track_record_is_picklable_and_json(tmp_path):
    root = make_dsd100(tmp_path / "DSD100")
    track = datasets.read_dsd100(root)[0]
    assert pickle.loads(pickle.dumps(track)) == track
    again = Track.from_dict(json.loads(json.dumps(track.to_dict())))
    assert again == track and hash(again) == hash(track)
    assert track.key == "dsd100/Dev/a"
