"""tf.data pipelines: songs decoded once, kept as magnitude spectrograms, cut into random patches.

Each song is decoded and resampled once (``datasets.load_track_cached``), turned into linear
magnitude spectrograms ``[frames, 256]`` and concatenated per source into one in-memory array
held by a (non-trainable, CPU) ``tf.Variable``. Batches are then cut inside the tf.data graph:
a batch index ``k`` seeds a stateless random draw of patch positions, so a pipeline started at
batch ``k`` after a restart yields exactly the batches it would have yielded (deterministic
resume), and patches are gathered in parallel without Python in the loop.

A random gain of an unpaired excerpt multiplies its linear magnitude, which equals the
magnitude of the scaled waveform (the STFT is linear), before ``log1p``.

Remix augmentation (``config.remix`` > 0, as Open-Unmix and Demucs train): a share of the
paired examples take their vocals and their accompaniment from two independent draws over the
paired songs, each scaled by a gain from ``[remix_gain_min, remix_gain_max]``. The new
mixture is the magnitude of the sum of the two scaled complex STFTs, which is exactly the STFT
of the summed waveforms; the paired cache then also keeps the real and imaginary parts of both
sources (:data:`COMPLEX_SOURCES`, four more arrays of the paired songs' size).

Batches (log1p magnitudes):

- paired: ``(mix [B, F_in, T_in, 1], acc [B, 256, T, 1], voc [B, 256, T, 1])``
- unpaired mixtures: ``[B, F_in, T_in, 1]``; unpaired vocals / accompaniments: ``[B, 256, T, 1]``

where ``(F_in, T_in)`` is the U-Net input and ``(256, T)`` the desired output
(``shapes.unet_shapes((256, config.num_frames), config.num_layers)``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from . import spectral
from .config import Config
from .datasets import load_track_cached
from .errors import SepganError
from .shapes import UNetShapes, pad_freq, unet_shapes

log = logging.getLogger(__name__)

SOURCES = ("mixture", "accompaniment", "vocals")
COMPLEX_SOURCES = ("vocals_re", "vocals_im", "accompaniment_re", "accompaniment_im")
SILENCE_PEAK = 1e-4
_SPECTROGRAM_MEMO: dict[tuple, dict[str, np.ndarray]] = {}


def model_shapes(config: Config) -> UNetShapes:
    return unet_shapes((spectral.MODEL_BINS, config.num_frames), config.num_layers)


def song_spectrograms(track, sr: int = 8192) -> dict[str, np.ndarray]:
    """Linear magnitudes ``[frames, 256]`` of a track's three signals (memoised per process)."""
    key = (track.key, sr)
    if key not in _SPECTROGRAM_MEMO:
        signals = load_track_cached(track, sr=sr)
        _SPECTROGRAM_MEMO[key] = {
            name: np.ascontiguousarray(spectral.magnitude_phase(signals[name])[0].T)
            for name in SOURCES
        }
    return _SPECTROGRAM_MEMO[key]


def complex_parts(track, sr: int = 8192) -> dict[str, np.ndarray]:
    """Real and imaginary parts ``[frames, 256]`` of a track's vocals' and accompaniment's
    STFT (read again from the decoded cache: only remixing needs them)."""
    signals, out = load_track_cached(track, sr=sr), {}
    for name in ("vocals", "accompaniment"):
        spec = spectral.stft(signals[name])[: spectral.MODEL_BINS].T
        out[f"{name}_re"] = np.ascontiguousarray(spec.real, np.float32)
        out[f"{name}_im"] = np.ascontiguousarray(spec.imag, np.float32)
    return out


def forget_spectrograms() -> None:
    """Drop the per-song memo once the pools are built: the caches hold their own copies."""
    _SPECTROGRAM_MEMO.clear()


@dataclass
class SpectrogramCache:
    """Magnitude spectrograms of a pool of songs, concatenated per source along time.

    ``frames[source]`` is ``[total_frames, 256]`` float32; ``offsets[i]``/``lengths[i]`` locate
    song ``i``. ``problems`` lists the songs left out and why.
    """

    names: list[str]
    offsets: np.ndarray
    lengths: np.ndarray
    frames: dict[str, np.ndarray]
    problems: list[str] = field(default_factory=list)
    sr: int = 8192  # sample rate of the spectrograms (config.expected_sr)

    @classmethod
    def from_tracks(
        cls,
        tracks,
        config: Config,
        sources: tuple[str, ...] = SOURCES,
        min_frames: int = 1,
        require_audible: tuple[str, ...] = (),
        progress: bool = False,
        label: str = "songs",
    ) -> SpectrogramCache:
        """Decode ``tracks`` once into a cache; a bad song is reported once and left out.

        ``min_frames``: songs shorter than this (one U-Net input) are left out.
        ``require_audible``: sources that must not be silent (e.g. the vocals of a vocal pool).
        """
        names, parts, lengths, problems = [], {s: [] for s in sources}, [], []
        for track in tqdm(list(tracks), desc=f"decoding {label}", disable=not progress):
            try:
                specs = song_spectrograms(track, config.expected_sr)
            except SepganError as err:
                problems.append(f"{track.key}: left out, unreadable ({err})")
                continue
            length = specs["mixture"].shape[0]
            if length < min_frames:
                problems.append(
                    f"{track.key}: left out, {length} frames is shorter than one patch "
                    f"({min_frames} frames)"
                )
                continue
            silent = [s for s in require_audible if specs[s].max() < SILENCE_PEAK]
            if silent:
                problems.append(f"{track.key}: left out, silent {', '.join(silent)}")
                continue
            names.append(track.key)
            lengths.append(length)
            if any(s in COMPLEX_SOURCES for s in sources):
                specs = {**specs, **complex_parts(track, config.expected_sr)}
            for s in sources:
                parts[s].append(specs[s])
        for problem in problems:
            log.warning(problem)
        lengths = np.asarray(lengths, np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        frames = {
            s: (np.concatenate(p) if p else np.zeros((0, spectral.MODEL_BINS), np.float32))
            for s, p in parts.items()
        }
        return cls(names, offsets, lengths, frames, problems, config.expected_sr)

    def __len__(self) -> int:
        return len(self.names)

    def by_dataset(self) -> dict[str, SpectrogramCache]:
        """The cache split by the dataset of each song (the first part of its key)."""
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            groups.setdefault(name.split("/", 1)[0], []).append(i)
        return {dataset: self._select(rows) for dataset, rows in groups.items()}

    def _select(self, rows: list[int]) -> SpectrogramCache:
        spans = [(self.offsets[i], self.lengths[i]) for i in rows]
        frames = {
            s: np.concatenate([f[o : o + n] for o, n in spans]) for s, f in self.frames.items()
        }
        lengths = self.lengths[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return SpectrogramCache(
            [self.names[i] for i in rows], offsets, lengths, frames, [], self.sr
        )

    @property
    def minutes(self) -> float:
        return float(self.lengths.sum()) * spectral.HOP / self.sr / 60


class _PatchSampler:
    """Draws patches of ``patch_frames`` frames uniformly over all valid positions of a cache."""

    def __init__(self, cache: SpectrogramCache, patch_frames: int, sources: tuple[str, ...]):
        if len(cache) == 0:
            raise SepganError(
                "no usable song for this pool: "
                + ("; ".join(cache.problems) if cache.problems else "the pool is empty")
            )
        counts = np.maximum(cache.lengths - patch_frames + 1, 0)
        if counts.sum() == 0:
            raise SepganError(f"every song is shorter than one patch ({patch_frames} frames)")
        self.patch_frames = patch_frames
        self.cumulative = tf.constant(np.cumsum(counts), tf.int64)
        self.total = int(counts.sum())
        self.starts = tf.constant(cache.offsets, tf.int64)
        self.counts = tf.constant(np.concatenate([[0], np.cumsum(counts)[:-1]]), tf.int64)
        with tf.device("/cpu:0"):
            self.frames = {
                s: tf.Variable(cache.frames[s], trainable=False, name=f"frames_{s}")
                for s in sources
            }

    def positions(self, seed, batch: int):
        """``[batch]`` frame offsets of random patches, drawn from a ``[2]`` int seed."""
        u = tf.random.stateless_uniform([batch], seed, 0, self.total, dtype=tf.int64)
        song = tf.searchsorted(self.cumulative, u, side="right")
        return tf.gather(self.starts, song) + (u - tf.gather(self.counts, song))

    def cut(self, source: str, start, frames: int, offset: int = 0):
        """``[batch, 256, frames]`` linear magnitudes at ``start + offset``."""
        index = start[:, None] + offset + tf.range(frames, dtype=tf.int64)[None, :]
        return tf.transpose(tf.gather(self.frames[source], index), [0, 2, 1])


def _log_input(magnitude, input_bins: int):
    """Linear ``[B, 256, T]`` -> log1p ``[B, F_in, T, 1]`` zero-padded in frequency."""
    missing = input_bins - magnitude.shape[1]
    padded = tf.pad(
        tf.math.log1p(magnitude), [[0, 0], [missing // 2, missing - missing // 2], [0, 0]]
    )
    return padded[..., None]


def _log_target(magnitude):
    return tf.math.log1p(magnitude)[..., None]


def _replica_seeds(seed: int, stream: int, start: int, replica_range, replicas: int):
    """Dataset of ``([2] seed, replica)``: for each batch index ``k = start, start + 1, ...``
    (the seed ``[seed * 1000 + stream, k]``), one element per replica of
    ``replica_range = (first, stop)`` (the replicas this input pipeline feeds)."""
    first, stop = replica_range
    if not 0 <= first < stop <= replicas:
        raise SepganError(f"replica range {replica_range} is not within {replicas} replicas")
    local = stop - first

    def element(j):
        k = start + j // local
        return tf.stack([tf.cast(seed, tf.int64) * 1000 + stream, k]), first + j % local

    return tf.data.Dataset.counter(0).map(element)


def _replica_batch(batch: int, replicas: int) -> int:
    if batch % replicas:
        raise SepganError(f"batch size {batch} does not split evenly across {replicas} replicas")
    return batch // replicas


def _slice(x, replica, size: int):
    """Rows ``[replica * size, (replica + 1) * size)`` of a global-batch tensor."""
    return x[replica * size : (replica + 1) * size]


def _batches(make, config: Config, seed, stream, start, replica_range, replicas):
    """Endless batches ``make(seed_pair, replica)`` for batch indices ``start, start + 1, ...``."""
    seed = config.seed if seed is None else seed
    return (
        _replica_seeds(seed, stream, start, replica_range, replicas)
        .map(make, num_parallel_calls=config.num_workers, deterministic=True)
        .prefetch(2)
        .with_options(_fixed_parallelism())
    )


def _fixed_parallelism() -> tf.data.Options:
    # The parallelism and the prefetch depth are fixed above, so tf.data's autotuner has
    # nothing to tune; its model thread only costs: destroying an iterator waits for that
    # thread, and in the book's background trainer this wait held a finished run's folder
    # lock (and the next run) for 30-100 s (issue 23, benchmarks/README.md).
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def paired_dataset(
    cache: SpectrogramCache,
    config: Config,
    seed: int | None = None,
    start: int = 0,
    batch_size: int | None = None,
    stream: int = 0,
    replica_range: tuple[int, int] = (0, 1),
    replicas: int = 1,
) -> tf.data.Dataset:
    """Endless paired batches ``(mix, acc, voc)``; ``start`` skips to batch index ``start``.

    ``batch_size`` (default ``config.batch_size``) is the global batch. With ``replicas``
    > 1 the dataset yields, for each batch index, the slices of the global batch of the
    replicas ``replica_range = (first, stop)`` in turn (``batch_size / replicas`` examples
    each), so the concatenated slices of all replicas are the one-device batch.
    """
    shapes = model_shapes(config)
    remixing = config.remix > 0
    sources = SOURCES + (COMPLEX_SOURCES if remixing else ())
    missing = [s for s in sources if s not in cache.frames]
    if missing:
        raise SepganError(
            f"remix = {config.remix}: the paired cache lacks {', '.join(missing)} (build it "
            "with build_pools, or SpectrogramCache.from_tracks(..., sources=SOURCES + "
            "COMPLEX_SOURCES))"
        )
    sampler = _PatchSampler(cache, shapes.input[1], sources)
    batch = batch_size or config.batch_size
    size = _replica_batch(batch, replicas)
    context, frames = shapes.context[1], shapes.desired[1]

    def make(seed_pair, replica):
        pos = _slice(sampler.positions(seed_pair, batch), replica, size)
        if remixing:
            return _remixed(sampler, config, shapes, seed_pair, pos, (batch, replica, size))
        mix = _log_input(sampler.cut("mixture", pos, shapes.input[1]), shapes.input[0])
        acc = _log_target(sampler.cut("accompaniment", pos, frames, context))
        voc = _log_target(sampler.cut("vocals", pos, frames, context))
        return mix, acc, voc

    return _batches(make, config, seed, stream, start, replica_range, replicas)


def _remixed(sampler, config: Config, shapes: UNetShapes, seed_pair, pos, slicing):
    """A paired batch of which a ``config.remix`` share of the examples is remixed: the
    accompaniment from its own draw of positions, both sources scaled by random gains, the
    mixture the magnitude of the scaled complex sum (the other examples as drawn)."""
    batch, replica, size = slicing
    t_in, context, frames = shapes.input[1], shapes.context[1], shapes.desired[1]

    def seed(i):
        return seed_pair + tf.constant([0, (i + 1) << 44], tf.int64)

    def draw(i, low=0.0, high=1.0):
        return _slice(tf.random.stateless_uniform([batch, 1, 1], seed(i), low, high), replica, size)

    chosen = draw(0) < config.remix
    other = _slice(sampler.positions(seed(1), batch), replica, size)
    acc_pos = tf.where(chosen[:, 0, 0], other, pos)
    gains = [
        tf.where(chosen, draw(i, config.remix_gain_min, config.remix_gain_max), 1.0) for i in (2, 3)
    ]
    voc_gain, acc_gain = gains
    real = voc_gain * sampler.cut("vocals_re", pos, t_in) + acc_gain * sampler.cut(
        "accompaniment_re", acc_pos, t_in
    )
    imag = voc_gain * sampler.cut("vocals_im", pos, t_in) + acc_gain * sampler.cut(
        "accompaniment_im", acc_pos, t_in
    )
    mixture = tf.where(chosen, tf.sqrt(real**2 + imag**2), sampler.cut("mixture", pos, t_in))
    mix = _log_input(mixture, shapes.input[0])
    acc = _log_target(acc_gain * sampler.cut("accompaniment", acc_pos, frames, context))
    voc = _log_target(voc_gain * sampler.cut("vocals", pos, frames, context))
    return mix, acc, voc


def _gain(seed_pair, batch: int, config: Config):
    return tf.random.stateless_uniform(
        [batch, 1, 1],
        seed_pair + tf.constant([0, 1 << 40], tf.int64),
        config.gain_min,
        config.gain_max,
    )


def unpaired_dataset(
    caches: dict[str, SpectrogramCache],
    config: Config,
    seed: int | None = None,
    start: int = 0,
    batch_size: int | None = None,
    stream: int = 1,
    replica_range: tuple[int, int] = (0, 1),
    replicas: int = 1,
) -> tf.data.Dataset:
    """Endless unpaired batches ``(mix [B,F_in,T_in,1], voc [B,256,T,1], acc [B,256,T,1])``.

    ``caches`` maps ``"mix"``, ``"vocals"``, ``"acc"`` to the three pools; each stream draws
    its own songs, positions and gains, so the three are unpaired even when the pools share
    songs (the original's default). ``replica_range``/``replicas``: as in
    :func:`paired_dataset`.
    """
    shapes = model_shapes(config)
    frames = shapes.desired[1]
    mix_sampler = _PatchSampler(caches["mix"], shapes.input[1], ("mixture",))
    voc_sampler = _PatchSampler(caches["vocals"], frames, ("vocals",))
    acc_sampler = _PatchSampler(caches["acc"], frames, ("accompaniment",))
    batch = batch_size or config.batch_size
    size = _replica_batch(batch, replicas)

    def make(seed_pair, replica):
        seeds = [seed_pair + tf.constant([0, i << 44], tf.int64) for i in range(3)]

        def draw(sampler, source, i, length):
            pos = _slice(sampler.positions(seeds[i], batch), replica, size)
            gain = _slice(_gain(seeds[i], batch, config), replica, size)
            return sampler.cut(source, pos, length) * gain

        mix = _log_input(draw(mix_sampler, "mixture", 0, shapes.input[1]), shapes.input[0])
        voc = _log_target(draw(voc_sampler, "vocals", 1, frames))
        acc = _log_target(draw(acc_sampler, "accompaniment", 2, frames))
        return mix, voc, acc

    return _batches(make, config, seed, stream, start, replica_range, replicas)


def validation_windows(cache: SpectrogramCache, config: Config, max_seconds: float = 0.0):
    """Whole songs cut into non-overlapping output chunks with their input context.

    Returns numpy ``(mix [N, F_in, T_in, 1], acc [N, 256, T, 1], voc [N, 256, T, 1],
    mask [N, 1, T, 1])`` where each song is zero-padded (silence) at both ends and ``mask``
    is 1 on the frames inside the song (the last chunk of a song is partial), so the masked
    mean is the MSE over whole songs.
    """
    shapes = model_shapes(config)
    (f_in, t_in), (_, t_out), (_, ctx) = shapes.input, shapes.desired, shapes.context
    limit = int(max_seconds * config.expected_sr / spectral.HOP) + 1 if max_seconds else None
    mixes, accs, vocs, masks = [], [], [], []
    for offset, length in zip(cache.offsets, cache.lengths):
        length = int(min(length, limit) if limit else length)
        song = {s: cache.frames[s][offset : offset + length] for s in SOURCES}
        chunks = -(-length // t_out)
        total = chunks * t_out
        padded = {
            s: np.pad(song[s], [(ctx, total - length + t_in - t_out - ctx), (0, 0)])
            for s in SOURCES
        }
        for c in range(chunks):
            a = c * t_out
            mixes.append(padded["mixture"][a : a + t_in].T)
            accs.append(padded["accompaniment"][a + ctx : a + ctx + t_out].T)
            vocs.append(padded["vocals"][a + ctx : a + ctx + t_out].T)
            masks.append(np.arange(t_out) < length - a)
    if not mixes:
        raise SepganError("no validation song: the plan's valid role is empty")
    mix = pad_freq(np.log1p(np.stack(mixes)), f_in, axis=1)
    return (
        mix[..., None].astype(np.float32),
        np.log1p(np.stack(accs))[..., None].astype(np.float32),
        np.log1p(np.stack(vocs))[..., None].astype(np.float32),
        np.stack(masks)[:, None, :, None].astype(np.float32),
    )
