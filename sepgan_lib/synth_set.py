"""The synthetic set on disk: songs of :mod:`.synth` written in parallel, cached, checked.

A set is written as ``<root>/<split>/song_<index>/{mixture,vocals,accompaniment}.wav`` with a
``synthetic.json`` manifest at ``root``; splits ``train``, ``valid``, ``test``
(:func:`split_counts`). Its default folder is ``$SEPGAN_CACHE/synthetic/n{N}-s{S}-seed{K}-v1``
(:func:`default_root`); a set is written into a temporary sibling and moved into place, so
concurrent callers never see half a set.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .audio import write_wav
from .cache import cache_dir, read_json
from .config_rules import RANGES
from .errors import DataError
from .synth import GENERATOR_VERSION, SAMPLE_RATE, STEMS, generate_song, song_seed
from .synth_styles import DEFAULT_STYLE, get_style

SPLITS = ("train", "valid", "test")
MANIFEST = "synthetic.json"


def _check_set_args(tracks: int, seconds: float, seed: int) -> None:
    """The bounds of the configuration keys ``synthetic_tracks`` and ``synthetic_seconds``
    (``sepgan data synth --tracks/--seconds`` too), songs of at least 1 s, a seed >= 0."""
    most_tracks, most_seconds = RANGES["synthetic_tracks"][2], RANGES["synthetic_seconds"][2]
    if (
        isinstance(tracks, bool)
        or not isinstance(tracks, (int, np.integer))
        or not 1 <= tracks <= most_tracks
    ):
        raise DataError(
            f"a synthetic set needs at least 1 track and at most {most_tracks} (the bounds of "
            f"synthetic_tracks), got tracks={tracks!r}"
        )
    if not np.isfinite(seconds) or not 1 <= seconds <= most_seconds:
        raise DataError(
            f"synthetic songs must last at least 1 second and at most {most_seconds:g} (the "
            f"bounds of synthetic_seconds), got seconds={seconds:g}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"the seed must be a non-negative integer, got seed={seed!r}")


def split_counts(tracks: int) -> dict[str, int]:
    """Songs per split: ``test`` round(0.2 N), ``valid`` round(0.15 N) (each at least 1 when
    N >= 3), ``train`` the rest."""
    test, valid = round(0.2 * tracks), round(0.15 * tracks)
    if tracks >= 3:
        test, valid = max(test, 1), max(valid, 1)
    return {"train": tracks - valid - test, "valid": valid, "test": test}


def _check_splits(tracks: int, splits: dict[str, int] | None) -> dict[str, int]:
    """``splits`` (songs per split, default :func:`split_counts`), checked against ``tracks``."""
    if splits is None:
        return split_counts(tracks)
    counts = {split: int(splits.get(split, 0)) for split in SPLITS}
    if set(splits) - set(SPLITS) or min(counts.values()) < 0 or sum(counts.values()) != tracks:
        raise DataError(f"splits {splits} must give {', '.join(SPLITS)} and add up to {tracks}")
    return counts


def split_of(index: int, tracks: int, splits: dict[str, int] | None = None) -> str:
    """The split of song ``index`` (0-based) of ``tracks``: train first, then valid, test last
    (``splits``: songs per split, default :func:`split_counts`)."""
    if not 0 <= index < tracks:
        raise DataError(f"song index {index} is outside a set of {tracks} tracks")
    counts = _check_splits(tracks, splits)
    if index < counts["train"]:
        return "train"
    if index < counts["train"] + counts["valid"]:
        return "valid"
    return "test"


def song_name(index: int) -> str:
    return f"song_{index:03d}"


def _manifest(tracks: int, seconds: float, seed: int, style: str = DEFAULT_STYLE, splits=None):
    manifest = {
        "tracks": int(tracks),
        "seconds": float(seconds),
        "seed": int(seed),
        "version": GENERATOR_VERSION,
        "sample_rate": SAMPLE_RATE,
        "splits": _check_splits(tracks, splits),
    }
    if style != DEFAULT_STYLE:  # sets of the default style keep the manifest they always had
        manifest["style"] = style
    return manifest


def _write_song(job: tuple[str, int, int, float, int, str, dict]) -> int:
    root, index, seed, seconds, tracks, style, splits = job
    song = generate_song(song_seed(seed, index), seconds, SAMPLE_RATE, style)
    folder = Path(root) / split_of(index, tracks, splits) / song_name(index)
    for stem in STEMS:
        write_wav(folder / f"{stem}.wav", song[stem], SAMPLE_RATE)
    return index


def _default_jobs() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _ignore_interrupt() -> None:
    """A worker leaves Ctrl-C to the parent, which stops the pool and says so in one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_context():
    # fork is fastest, but is unsafe once TensorFlow's threads exist in this process.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def write_synthetic_set(
    root,
    tracks: int = 100,
    seconds: float = 10.0,
    seed: int = 0,
    jobs: int | None = None,
    progress: bool = False,
    style: str = DEFAULT_STYLE,
    splits: dict[str, int] | None = None,
) -> Path:
    """Write ``tracks`` songs of ``seconds`` s of ``style`` to ``root/<split>/song_<i>/`` and a
    ``synthetic.json`` manifest (written last). ``splits``: songs per split (default
    :func:`split_counts`). Songs are generated in parallel over ``jobs`` processes (default:
    min(2, available cores)). Returns ``root``."""
    _check_set_args(tracks, seconds, seed)
    get_style(style)
    splits = _check_splits(tracks, splits)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    jobs = _default_jobs() if jobs is None else max(1, int(jobs))
    work = [
        (str(root), i, int(seed), float(seconds), int(tracks), style, splits) for i in range(tracks)
    ]
    bar = None
    if progress:
        bar = tqdm(total=tracks, unit="song", desc="synthetic songs")
    try:
        done = False
        # Parallel only when there is enough work to pay for starting the processes: forked
        # workers start at once, spawned ones import numpy, scipy and soundfile first.
        context = _pool_context()
        enough = 60 if context.get_start_method() == "fork" else 300  # seconds of audio
        if jobs > 1 and tracks > 1 and tracks * seconds >= enough:
            try:
                with ProcessPoolExecutor(
                    jobs, mp_context=context, initializer=_ignore_interrupt
                ) as pool:
                    try:
                        chunks = min(4, max(1, tracks // (8 * jobs)))  # Ctrl-C waits <= 4
                        for _ in pool.map(_write_song, work, chunksize=chunks):
                            if bar is not None:
                                bar.update()
                    except BaseException:  # Ctrl-C: the songs not started are not written
                        pool.shutdown(wait=False, cancel_futures=True)
                        raise
                done = True
            except (BrokenProcessPool, OSError) as err:  # pragma: no cover - environment
                print(
                    f"sepgan: parallel generation failed ({err}); going on in one process",
                    file=sys.stderr,
                )
                if bar is not None:
                    bar.reset()
        if not done:
            for job in work:
                _write_song(job)
                if bar is not None:
                    bar.update()
    finally:
        if bar is not None:
            bar.close()
    manifest = _manifest(tracks, seconds, seed, style, splits)
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return root


def read_manifest(root) -> dict | None:
    """The ``synthetic.json`` of a set, or None when it is missing or unreadable."""
    return read_json(Path(root) / MANIFEST, None)


def _is_complete(
    root: Path, tracks: int, seconds: float, seed: int, style=DEFAULT_STYLE, splits=None
):
    if read_manifest(root) != _manifest(tracks, seconds, seed, style, splits):
        return False
    return all(
        (root / split_of(i, tracks, splits) / song_name(i) / f"{stem}.wav").is_file()
        for i in range(tracks)
        for stem in STEMS
    )


def default_root(
    tracks: int = 100,
    seconds: float = 10.0,
    seed: int = 0,
    style: str = DEFAULT_STYLE,
    splits: dict[str, int] | None = None,
) -> Path:
    name = f"n{tracks}-s{seconds:g}-seed{seed}-v{GENERATOR_VERSION}"
    if style != DEFAULT_STYLE or splits is not None:
        counts = _check_splits(tracks, splits)
        layout = "-".join(f"{split}{counts[split]}" for split in SPLITS)
        name = f"style{style}-{layout}-{name}"
    return cache_dir("synthetic") / name


def ensure_synthetic_set(
    root=None,
    tracks: int = 100,
    seconds: float = 10.0,
    seed: int = 0,
    style: str = DEFAULT_STYLE,
    splits: dict[str, int] | None = None,
) -> Path:
    """The synthetic set of ``style`` at ``root`` (default: a folder of the cache named after
    the parameters), generated only when its manifest is missing or different.

    The set is written into a temporary sibling folder and renamed into place, so concurrent
    callers (e.g. pytest-xdist workers) never see a half-written set; the loser of the
    rename race removes its copy and uses the winner's. A different earlier set at ``root``
    (one with a ``synthetic.json``) is replaced; a non-empty folder without a manifest is
    never touched.
    """
    _check_set_args(tracks, seconds, seed)
    root = Path(root) if root is not None else default_root(tracks, seconds, seed, style, splits)
    complete = (root, tracks, seconds, seed, style, splits)
    if _is_complete(*complete):
        return root
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: exists and is not a folder; cannot write the synthetic set there")
    if root.is_dir() and any(root.iterdir()) and read_manifest(root) is None:
        raise DataError(
            f"{root}: folder is not empty and holds no {MANIFEST}; refusing to overwrite it "
            "with the synthetic set (pass an empty or new folder)"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        write_synthetic_set(tmp, tracks, seconds, seed, style=style, splits=splits)
        for _ in range(5):
            try:
                os.rename(tmp, root)  # atomic; fails when root is a non-empty folder
                return root
            except OSError:
                if _is_complete(*complete):
                    return root  # another process won the race
                if root.is_dir() and not any(root.iterdir()):
                    root.rmdir()
                    continue
                if read_manifest(root) is None:
                    time.sleep(0.2)  # a folder appearing under us: look again
                    continue
                # A stale set with other parameters: move it aside, then retry.
                old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
                try:
                    os.rename(root, old)
                except OSError:
                    continue
                shutil.rmtree(old, ignore_errors=True)
        if _is_complete(*complete):
            return root
        raise DataError(f"{root}: could not move the generated synthetic set into place")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def cli_synth(args) -> int:
    """``sepgan data synth DIR --tracks N --seconds S --seed K``."""
    start = time.perf_counter()
    root = write_synthetic_set(
        args.dir,
        tracks=args.tracks,
        seconds=args.seconds,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        style=getattr(args, "style", DEFAULT_STYLE),
    )
    elapsed = time.perf_counter() - start
    counts = split_counts(args.tracks)
    print(
        f"wrote {args.tracks} synthetic songs of {args.seconds:g} s (seed {args.seed}, style "
        f"{getattr(args, 'style', DEFAULT_STYLE)}) to {root}: "
        + ", ".join(f"{split} {counts[split]}" for split in SPLITS)
        + f"; mixture, vocals and accompaniment wavs at {SAMPLE_RATE} Hz in {elapsed:.1f} s"
    )
    return 0
