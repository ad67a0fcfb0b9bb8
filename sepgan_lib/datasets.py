"""Readers of dataset folder layouts into :class:`Track` records.

Every reader lists a dataset root (reading file headers only, never decoding audio) and returns
its songs as :class:`Track` records in sorted order by name. ``track.load(sr)`` decodes a song
into mono float32 ``mixture``, ``vocals`` and ``accompaniment`` of equal length;
:func:`load_track_cached` does so once and keeps the result in the cache folder (never in the
dataset root, which may be read-only).

Layouts (``<root>`` is what ``--root NAME=PATH`` points at):

- ``musdb``: ``<root>/{train,test}/<song>.stem.mp4`` (the ``musdb`` package's layout, full or
  7-second preview; streams mixture, drums, bass, other, vocals) or MUSDB18-HQ
  ``<root>/{train,test}/<song>/{mixture,drums,bass,other,vocals}.wav``, detected automatically.
- ``dsd100``: ``<root>/Mixtures/{Dev,Test}/<song>/mixture.wav`` and
  ``<root>/Sources/{Dev,Test}/<song>/{vocals,bass,drums,other}.wav``.
- ``ccmixter``: ``<root>/<song>/{mix.wav,source-01.wav,source-02.wav}`` (accompaniment, voice).
- ``ikala``, ``mir1k``: ``<root>/Wavfile/*.wav``, stereo, left = accompaniment, right = voice.
- ``medleydb``: ``<root>/<song>/{<song>_MIX.wav,<song>_STEMS/,<song>_METADATA.yaml}`` (also
  under ``<root>/Audio/``); vocals = the stems labelled as singing voice, each counted once.
- ``synthetic``: ``<root>/{train,valid,test}/<song>/{mixture,vocals,accompaniment}.wav``.

Why one module of about 620 lines: one job, a reader per layout (seven of them) around one
:class:`Track` record and one decode cache that every reader's tracks share.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .audio import audio_info, load_audio, load_streams
from .cache import atomic_file, cache_dir
from .errors import AudioError, DataError

SOURCES = ("mixture", "vocals", "accompaniment")
DECODED_VERSION = 1  # bump when the decoded cache format or the loaders change

# MedleyDB instrument labels counted as (singing) voice.
VOCAL_LABELS = frozenset(
    {"male singer", "female singer", "vocalists", "choir", "male rapper", "female rapper"}
)


@dataclass(frozen=True)
class Track:
    """One song of a dataset: where its files are and how to read them.

    ``files`` holds ``(role, path)`` pairs. Loaders:

    - ``"stems_mp4"``: one ``("stems", path)`` with the five musdb streams;
    - ``"sum"``: roles ``mixture``, ``vocals``, ``accompaniment``, each summed over its files;
      a missing accompaniment is ``mixture - vocals``, a missing mixture ``vocals + accompaniment``;
    - ``"stereo_lr"``: one ``("stereo", path)``, left = accompaniment, right = vocals,
      mixture = their sum.
    """

    name: str
    dataset: str
    subset: str
    loader: str
    files: tuple[tuple[str, str], ...]
    sample_rate: int = 0  # of the mixture file (0 = its header could not be read)
    duration: float = 0.0  # seconds (0 = unknown)

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.subset}/{self.name}"

    @property
    def paths(self) -> list[str]:
        return [path for _, path in self.files]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "subset": self.subset,
            "loader": self.loader,
            "files": [list(pair) for pair in self.files],
            "sample_rate": self.sample_rate,
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Track:
        return cls(
            name=str(d["name"]),
            dataset=str(d["dataset"]),
            subset=str(d["subset"]),
            loader=str(d["loader"]),
            files=tuple((str(r), str(p)) for r, p in d["files"]),
            sample_rate=int(d.get("sample_rate", 0)),
            duration=float(d.get("duration", 0.0)),
        )

    def load_raw(self, sr: int = 8192) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Decoded sources (equal lengths) and the per-file lengths before trimming."""
        loader = _LOADERS.get(self.loader)
        if loader is None:
            raise DataError(f"track {self.key}: unknown loader {self.loader!r}")
        parts, lengths = loader(self, sr)
        n = min(len(a) for a in parts.values())
        parts = {k: v[:n] for k, v in parts.items()}
        if "accompaniment" not in parts:
            parts["accompaniment"] = parts["mixture"] - parts["vocals"]
        if "mixture" not in parts:
            parts["mixture"] = parts["vocals"] + parts["accompaniment"]
        out = {k: np.ascontiguousarray(parts[k], dtype=np.float32) for k in SOURCES}
        return out, lengths

    def load(self, sr: int = 8192) -> dict[str, np.ndarray]:
        """``{"mixture", "vocals", "accompaniment"}``: mono float32 ``[samples]`` at ``sr``."""
        return self.load_raw(sr)[0]


# --- loaders ---------------------------------------------------------------------------------


def _load_stems_mp4(track: Track, sr: int):
    (path,) = track.paths
    mix, drums, bass, other, vocals = load_streams(path, [0, 1, 2, 3, 4], sr=sr)
    n = min(len(a) for a in (mix, drums, bass, other, vocals))
    acc = drums[:n] + bass[:n] + other[:n]
    lengths = {"stems": int(n)}
    return {"mixture": mix, "vocals": vocals, "accompaniment": acc}, lengths


def _load_sum(track: Track, sr: int):
    parts: dict[str, np.ndarray] = {}
    lengths: dict[str, int] = {}
    for role, path in track.files:
        audio = load_audio(path, sr=sr)
        lengths[f"{role}:{Path(path).name}"] = len(audio)
        if role in parts:
            n = min(len(parts[role]), len(audio))
            parts[role] = parts[role][:n] + audio[:n]
        else:
            parts[role] = audio
    if "vocals" not in parts or not ({"mixture", "accompaniment"} & parts.keys()):
        raise DataError(f"track {track.key}: needs vocals and a mixture or an accompaniment")
    return parts, lengths


def _load_stereo_lr(track: Track, sr: int):
    (path,) = track.paths
    audio = load_audio(path, sr=sr, mono=False)
    if audio.ndim != 2 or audio.shape[0] != 2:
        channels = 1 if audio.ndim == 1 else audio.shape[0]
        raise AudioError(
            path, f"expected a stereo file (left accompaniment, right voice), got {channels} ch"
        )
    acc, vocals = audio[0], audio[1]
    return {"mixture": acc + vocals, "vocals": vocals, "accompaniment": acc}, {
        "stereo": audio.shape[1]
    }


_LOADERS: dict[str, Callable[[Track, int], tuple[dict, dict]]] = {
    "stems_mp4": _load_stems_mp4,
    "sum": _load_sum,
    "stereo_lr": _load_stereo_lr,
}


# --- decoded cache ---------------------------------------------------------------------------


def _file_signature(path: str) -> list:
    try:
        st = os.stat(path)
        return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]
    except OSError:
        return [str(path), -1, -1]


def decoded_cache_path(track: Track, sr: int = 8192) -> Path:
    """Where :func:`load_track_cached` keeps a track's decoded audio (keyed by file stats)."""
    blob = json.dumps(
        [DECODED_VERSION, track.loader, sr, [[r, *_file_signature(p)] for r, p in track.files]]
    )
    digest = hashlib.sha1(blob.encode()).hexdigest()[:20]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in track.name)[:40]
    return cache_dir("decoded") / f"{track.dataset}-{safe}-{sr}-{digest}.npz"


def _write_atomic_npz(path: Path, **arrays) -> None:
    with atomic_file(path, suffix=".npz") as handle:
        np.savez(handle, **arrays)


def load_track_cached_raw(
    track: Track, sr: int = 8192
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Like :meth:`Track.load_raw`, decoded once and then read from the cache folder."""
    path = decoded_cache_path(track, sr)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                audio = {k: np.asarray(data[k], dtype=np.float32) for k in SOURCES}
                lengths = json.loads(str(data["lengths"]))
            return audio, lengths
        except Exception:  # a damaged cache entry: decode again
            path.unlink(missing_ok=True)
    audio, lengths = track.load_raw(sr)
    _write_atomic_npz(path, lengths=np.array(json.dumps(lengths)), **audio)
    return audio, lengths


def load_track_cached(track: Track, sr: int = 8192) -> dict[str, np.ndarray]:
    """:meth:`Track.load`, decoded and resampled once, then kept as float32 in the cache."""
    return load_track_cached_raw(track, sr)[0]


def _decode_into_cache(job: tuple[Track, int]) -> bool:
    """A worker of :func:`decode_tracks`: one song into the cache (False when it failed: the
    caller's own pass decodes it again and reports the error)."""
    try:
        load_track_cached_raw(*job)
        return True
    except Exception:
        return False


def _costly(track: Track, sr: int) -> bool:
    """Whether decoding ``track`` takes more than reading a file: compressed streams (MP4) or
    a sample rate other than ``sr`` (resampling)."""
    return track.loader == "stems_mp4" or track.sample_rate != sr


def decode_tracks(tracks, sr: int = 8192, jobs: int | None = None) -> int:
    """Decode the ``tracks`` not in the cache yet (as :func:`load_track_cached` would, into
    the cache folder, never the dataset root) over ``jobs`` processes (default: the CPUs this
    process may use); returns the songs decoded here. Only songs that cost more than a file
    read are decoded this way, and only when there are at least two per process (fewer do not
    pay for starting the processes); the others are left to the caller's own pass, which also
    reports any song that fails. The cache files are those of a decoding one by one: the same
    function writes them."""
    todo = {}
    for track in tracks:
        if _costly(track, sr) and not decoded_cache_path(track, sr).exists():
            todo.setdefault(track.key, track)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    jobs = min(jobs or cpus, len(todo) // 2)
    if jobs < 2:
        return 0
    # fork only while TensorFlow's threads do not exist in this process; else forked from a
    # server process that imported this module once (cheaper than a spawn per worker)
    if "tensorflow" not in sys.modules:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    work = [(track, sr) for track in todo.values()]
    ignore = functools.partial(signal.signal, signal.SIGINT, signal.SIG_IGN)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=ignore) as pool:
        return sum(pool.map(_decode_into_cache, work, chunksize=max(1, len(work) // (4 * jobs))))


# --- helpers for readers ---------------------------------------------------------------------


def _root(root, dataset: str, layout: str) -> Path:
    if root is None:
        raise DataError(f"no {dataset} root given; expected {layout}")
    root = Path(os.path.abspath(Path(root).expanduser()))
    if not root.is_dir():
        raise DataError(
            f"{dataset} root {root} does not exist or is not a folder; expected {layout}"
        )
    return root


def _info(path: Path) -> tuple[int, float]:
    """Sample rate and seconds from the header; (0, 0.0) when unreadable (reported by check)."""
    try:
        rate, seconds, _ = audio_info(path)
        return rate, seconds
    except AudioError:
        return 0, 0.0


def _sum_track(name, dataset, subset, files: list[tuple[str, Path]], info_from: Path) -> Track:
    rate, seconds = _info(info_from)
    return Track(
        name=name,
        dataset=dataset,
        subset=subset,
        loader="sum",
        files=tuple((role, str(path)) for role, path in files),
        sample_rate=rate,
        duration=seconds,
    )


def _note(problems: list[str] | None, message: str) -> None:
    if problems is not None:
        problems.append(message)


# --- readers ---------------------------------------------------------------------------------

MUSDB_LAYOUT = (
    "the layout of the musdb package: <root>/train/<song>.stem.mp4 and <root>/test/<song>.stem.mp4 "
    "(or MUSDB18-HQ: <root>/{train,test}/<song>/{mixture,drums,bass,other,vocals}.wav)"
)
MUSDB_HQ_STEMS = ("drums", "bass", "other")


def read_musdb(root, subsets=("train", "test"), problems: list[str] | None = None) -> list[Track]:
    """MUSDB18 / MUSDB18-7 (``.stem.mp4``) or MUSDB18-HQ (wav folders), detected per subset."""
    root = _root(root, "musdb", MUSDB_LAYOUT)
    tracks: list[Track] = []
    found = False
    for subset in subsets:
        folder = root / subset
        if not folder.is_dir():
            continue
        mp4s = sorted(folder.glob("*.stem.mp4"))
        if mp4s:
            found = True
            for path in mp4s:
                rate, seconds = _info(path)
                tracks.append(
                    Track(
                        name=path.name[: -len(".stem.mp4")],
                        dataset="musdb",
                        subset=subset,
                        loader="stems_mp4",
                        files=(("stems", str(path)),),
                        sample_rate=rate,
                        duration=seconds,
                    )
                )
        elif any((d / "mixture.wav").exists() for d in folder.iterdir() if d.is_dir()):
            found = True
            tracks.extend(_read_musdb_hq_subset(folder, subset, problems))
    if not found:
        raise DataError(
            f"musdb root {root} has no {' or '.join(f'{s}/' for s in subsets)} folder with "
            f"*.stem.mp4 files or HQ song folders; expected {MUSDB_LAYOUT}"
        )
    return tracks


def _read_musdb_hq_subset(folder: Path, subset: str, problems) -> list[Track]:
    tracks = []
    for song in sorted(d for d in folder.iterdir() if d.is_dir()):
        needed = ["mixture", "vocals", *MUSDB_HQ_STEMS]
        missing = [n for n in needed if not (song / f"{n}.wav").exists()]
        if missing:
            _note(
                problems, f"musdb {subset}/{song.name}: missing {', '.join(missing)}.wav; left out"
            )
            continue
        files = [("mixture", song / "mixture.wav"), ("vocals", song / "vocals.wav")]
        files += [("accompaniment", song / f"{n}.wav") for n in MUSDB_HQ_STEMS]
        tracks.append(_sum_track(song.name, "musdb", subset, files, song / "mixture.wav"))
    return tracks


def read_musdb_hq(root, subsets=("train", "test"), problems=None) -> list[Track]:
    """MUSDB18-HQ wav folders (:func:`read_musdb` detects them too)."""
    root = _root(root, "musdb", MUSDB_LAYOUT)
    tracks = []
    for subset in subsets:
        if (root / subset).is_dir():
            tracks.extend(_read_musdb_hq_subset(root / subset, subset, problems))
    if not tracks:
        raise DataError(
            f"musdb root {root} has no MUSDB18-HQ song folders; expected {MUSDB_LAYOUT}"
        )
    return tracks


DSD100_LAYOUT = (
    "<root>/Mixtures/{Dev,Test}/<song>/mixture.wav and "
    "<root>/Sources/{Dev,Test}/<song>/{vocals,bass,drums,other}.wav"
)


def read_dsd100(root, problems: list[str] | None = None) -> list[Track]:
    """DSD100: subsets ``Dev`` and ``Test``; accompaniment = bass + drums + other."""
    root = _root(root, "dsd100", DSD100_LAYOUT)
    tracks = []
    for subset in ("Dev", "Test"):
        mixes = root / "Mixtures" / subset
        if not mixes.is_dir():
            continue
        for song in sorted(d for d in mixes.iterdir() if d.is_dir()):
            sources = root / "Sources" / subset / song.name
            needed = [song / "mixture.wav"] + [
                sources / f"{n}.wav" for n in ("vocals", "bass", "drums", "other")
            ]
            missing = [str(p.relative_to(root)) for p in needed if not p.exists()]
            if missing:
                _note(
                    problems, f"dsd100 {subset}/{song.name}: missing {', '.join(missing)}; left out"
                )
                continue
            files = [("mixture", needed[0]), ("vocals", needed[1])]
            files += [("accompaniment", p) for p in needed[2:]]
            tracks.append(_sum_track(song.name, "dsd100", subset, files, needed[0]))
    if not tracks:
        raise DataError(
            f"dsd100 root {root} has no songs under Mixtures/; expected {DSD100_LAYOUT}"
        )
    return tracks


CCMIXTER_LAYOUT = "<root>/<song>/{mix.wav,source-01.wav (accompaniment),source-02.wav (voice)}"


def read_ccmixter(root, problems: list[str] | None = None) -> list[Track]:
    """CCMixter: one folder per song with the mix, the accompaniment and the voice."""
    root = _root(root, "ccmixter", CCMIXTER_LAYOUT)
    tracks = []
    for song in sorted(d for d in root.iterdir() if d.is_dir()):
        names = ("mix.wav", "source-01.wav", "source-02.wav")
        present = [(song / n).exists() for n in names]
        if not any(present):
            continue  # not a song folder
        if not all(present):
            missing = [n for n, ok in zip(names, present) if not ok]
            _note(problems, f"ccmixter {song.name}: missing {', '.join(missing)}; left out")
            continue
        files = [
            ("mixture", song / "mix.wav"),
            ("accompaniment", song / "source-01.wav"),
            ("vocals", song / "source-02.wav"),
        ]
        tracks.append(_sum_track(song.name, "ccmixter", "all", files, song / "mix.wav"))
    if not tracks:
        raise DataError(f"ccmixter root {root} has no song folders; expected {CCMIXTER_LAYOUT}")
    return tracks


def _read_wavfile(root, dataset: str) -> list[Track]:
    layout = "<root>/Wavfile/*.wav, stereo: left channel accompaniment, right channel voice"
    root = _root(root, dataset, layout)
    folder = root / "Wavfile"
    wavs = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not wavs:
        raise DataError(f"{dataset} root {root} has no Wavfile/*.wav files; expected {layout}")
    tracks = []
    for path in wavs:
        rate, seconds = _info(path)
        tracks.append(
            Track(
                name=path.stem,
                dataset=dataset,
                subset="all",
                loader="stereo_lr",
                files=(("stereo", str(path)),),
                sample_rate=rate,
                duration=seconds,
            )
        )
    return tracks


def read_ikala(root, problems: list[str] | None = None) -> list[Track]:
    """iKala: ``Wavfile/*.wav``, left = accompaniment, right = voice."""
    return _read_wavfile(root, "ikala")


def read_mir1k(root, problems: list[str] | None = None) -> list[Track]:
    """MIR-1K: ``Wavfile/*.wav``, left = accompaniment, right = voice."""
    return _read_wavfile(root, "mir1k")


MEDLEYDB_LAYOUT = (
    "<root>/<song>/{<song>_MIX.wav, <song>_STEMS/<song>_STEM_NN.wav, <song>_METADATA.yaml} "
    "(or the same under <root>/Audio/)"
)


def _instruments(stem: dict) -> list[str]:
    value = stem.get("instrument", [])
    values = value if isinstance(value, list) else [value]
    return [str(v).strip().lower() for v in values]


def read_medleydb(root, problems: list[str] | None = None, vocals_only: bool = True) -> list[Track]:
    """MedleyDB: vocals = the stems labelled as voice (:data:`VOCAL_LABELS`), each counted once;
    accompaniment = mixture - vocals. Songs without vocal stems are left out (with a note)
    unless ``vocals_only=False``."""
    root = _root(root, "medleydb", MEDLEYDB_LAYOUT)
    base = root / "Audio" if (root / "Audio").is_dir() else root
    tracks = []
    for song in sorted(d for d in base.iterdir() if d.is_dir()):
        meta_path = song / f"{song.name}_METADATA.yaml"
        if not meta_path.exists():
            continue
        try:
            meta = yaml.safe_load(meta_path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            _note(
                problems, f"medleydb {song.name}: unreadable metadata {meta_path} ({err}); left out"
            )
            continue
        mix = song / str(meta.get("mix_filename") or f"{song.name}_MIX.wav")
        stem_dir = song / str(meta.get("stem_dir") or f"{song.name}_STEMS")
        vocal_files: list[Path] = []
        for _, stem in sorted((meta.get("stems") or {}).items()):
            if not isinstance(stem, dict) or not stem.get("filename"):
                continue
            if VOCAL_LABELS & set(_instruments(stem)):
                path = stem_dir / str(stem["filename"])
                if path not in vocal_files:  # each stem counted once
                    vocal_files.append(path)
        if not mix.exists():
            _note(problems, f"medleydb {song.name}: missing mix {mix.name}; left out")
            continue
        if not vocal_files and vocals_only:
            _note(problems, f"medleydb {song.name}: no vocal stems (instrumental); left out")
            continue
        missing = [p.name for p in vocal_files if not p.exists()]
        if missing:
            _note(problems, f"medleydb {song.name}: missing stems {', '.join(missing)}; left out")
            continue
        files = [("mixture", mix)] + [("vocals", p) for p in vocal_files]
        tracks.append(_sum_track(song.name, "medleydb", "all", files, mix))
    if not tracks and not (problems and any(p.startswith("medleydb") for p in problems)):
        raise DataError(
            f"medleydb root {root} has no song folders with metadata; expected {MEDLEYDB_LAYOUT}"
        )
    return tracks


SYNTHETIC_SPLITS = ("train", "valid", "test")
SYNTHETIC_LAYOUT = "<root>/{train,valid,test}/<song>/{mixture,vocals,accompaniment}.wav"


def read_synthetic(root, problems: list[str] | None = None, dataset="synthetic") -> list[Track]:
    """The embedded synthetic set (see :mod:`sepgan_lib.synth`); subset = split.
    ``dataset`` names its tracks (``synthetic_b``: the set of style b, another "dataset")."""
    root = _root(root, dataset, SYNTHETIC_LAYOUT)
    tracks = []
    for split in SYNTHETIC_SPLITS:
        folder = root / split
        if not folder.is_dir():
            continue
        for song in sorted(d for d in folder.iterdir() if d.is_dir()):
            files = [(n, song / f"{n}.wav") for n in SOURCES]
            missing = [p.name for _, p in files if not p.exists()]
            if missing:
                _note(problems, f"{dataset} {split}/{song.name}: missing {', '.join(missing)}")
                continue
            tracks.append(_sum_track(song.name, dataset, split, files, song / "mixture.wav"))
    if not tracks:
        raise DataError(f"{dataset} root {root} has no songs; expected {SYNTHETIC_LAYOUT}")
    return tracks


def read_synthetic_b(root, problems: list[str] | None = None) -> list[Track]:
    """A synthetic set of style b (the shifted domain of the ``synthetic_shift`` plan)."""
    return read_synthetic(root, problems, dataset="synthetic_b")


READERS: dict[str, Callable[..., list[Track]]] = {
    "musdb": read_musdb,
    "dsd100": read_dsd100,
    "ccmixter": read_ccmixter,
    "ikala": read_ikala,
    "mir1k": read_mir1k,
    "medleydb": read_medleydb,
    "synthetic": read_synthetic,
    "synthetic_b": read_synthetic_b,
}

# The subsets each reader gives its tracks (a plan's ``subset:`` must be one of them).
SUBSETS: dict[str, tuple[str, ...]] = {
    "musdb": ("train", "test"),
    "dsd100": ("Dev", "Test"),
    **{name: ("all",) for name in ("ccmixter", "ikala", "mir1k", "medleydb")},
    "synthetic": SYNTHETIC_SPLITS,
    "synthetic_b": SYNTHETIC_SPLITS,
}


def check_subset(selection: dict, where: str) -> None:
    """A plan selection's ``subset`` is one its dataset has (a typo would select no song)."""
    known = SUBSETS[selection["dataset"]]
    if "subset" in selection and str(selection["subset"]) not in known:
        raise DataError(
            f"{where}: subset {selection['subset']!r} matches no song of "
            f"{selection['dataset']}; its subsets are {', '.join(known)}"
        )


LAYOUTS: dict[str, str] = {
    "musdb": MUSDB_LAYOUT,
    "dsd100": DSD100_LAYOUT,
    "ccmixter": CCMIXTER_LAYOUT,
    "ikala": "<root>/Wavfile/*.wav (stereo: left accompaniment, right voice)",
    "mir1k": "<root>/Wavfile/*.wav (stereo: left accompaniment, right voice)",
    "medleydb": MEDLEYDB_LAYOUT,
    "synthetic": SYNTHETIC_LAYOUT,
    "synthetic_b": SYNTHETIC_LAYOUT,
}


def read_dataset(name: str, root, problems: list[str] | None = None) -> list[Track]:
    """Read a dataset root with the reader called ``name`` (a key of :data:`READERS`)."""
    if name not in READERS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(READERS)}")
    return READERS[name](root, problems=problems)
