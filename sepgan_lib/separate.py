"""Full-song separation with a trained separator.

A song's log1p magnitude spectrogram ``[256, N]`` is zero-padded in frequency to the U-Net's
input height and in time by the network's context on each side, then cut into overlapping input
windows whose centre-cropped outputs tile the ``N`` frames exactly: window ``k`` produces
frames ``k * W .. (k + 1) * W`` and reads input frames ``k * W .. k * W + T_in`` of the padded
spectrogram, i.e. ``context`` frames of real signal on each side. Nothing is averaged or
cross-faded: with valid convolutions every output frame sees exactly the same input it would
see in one huge window, so there are no seams (as long as ``W`` is a multiple of ``2**L`` so
that every window has the same max-pool grid phase, which :func:`separate_audio` enforces).

Time padding is with zeros in the log domain, i.e. silence, as the original did: songs start
and end in (near) silence, and reflecting would invent music the network would then separate.

The saved model has a fixed time axis (the training window). For speed, a second separator
with an open time axis is built with the same weights and run on long windows (512 output
frames by default) through a ``tf.function``; it is cached per loaded model.
"""

from __future__ import annotations

import sys
import warnings
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import audio as audio_io
from . import filtering, spectral
from .config import Config
from .errors import AudioError, SepganError, describe
from .names import safe_file_name
from .shapes import pad_freq, unet_shapes

MODEL_FILE = Path("best") / "separator.keras"
CONFIG_FILE = Path("config.json")
DEFAULT_WINDOW_FRAMES = 512


def load_run(run_dir: str | Path):
    """``(separator, config)`` of a run folder (``config.json`` and ``best/separator.keras``)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SepganError(f"{run_dir}: run folder does not exist")
    missing = [str(run_dir / f) for f in (CONFIG_FILE, MODEL_FILE) if not (run_dir / f).is_file()]
    if missing:
        raise SepganError(
            f"{run_dir}: not a finished run folder, missing {', '.join(missing)} "
            "(train it with `sepgan train` first)"
        )
    config = Config.load(run_dir / CONFIG_FILE)
    return load_separator(run_dir / MODEL_FILE), config


def load_separator(path):
    """The separator saved at ``path`` (a ``.keras`` file), loaded in Keras' safe mode (no
    code of a Lambda layer runs); a missing, truncated or refused file is a
    :class:`SepganError` naming the path and the reason in one line."""
    path = Path(path)
    if not path.is_file():
        raise SepganError(f"{path} does not exist (train that run first)")
    import keras  # deferred: TensorFlow takes seconds to import

    from . import unet  # noqa: F401  (registers CropLike for deserialisation)

    if not zipfile.is_zipfile(path):
        raise SepganError(
            f"{path}: truncated or corrupt model file (not a complete .keras archive); train "
            "the run again or restore the file"
        )
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # keras raises many types for a bad file
        reason = " ".join(str(err).split())  # Keras' messages span lines
        raise SepganError(
            f"{path}: cannot load the separator ({type(err).__name__}: {reason})"
        ) from None


@dataclass
class _Runner:
    """How to feed a separator: window input frames ``t_in`` for ``frames`` output frames."""

    predict: object  # callable [B, F_in, T_in, 1] -> (acc, voc)
    f_in: int
    open_axis: bool
    fixed_frames: int | None  # output frames per window when the time axis is fixed
    context: int  # input frames before the first output frame
    num_layers: int

    def input_frames(self, frames: int) -> int:
        return unet_shapes((spectral.MODEL_BINS, frames), self.num_layers).input[1]


_RUNNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _make_predict(model, f_in: int, t_in: int | None):
    import tensorflow as tf  # deferred: TensorFlow takes seconds to import

    @tf.function(
        input_signature=[tf.TensorSpec([None, f_in, t_in, 1], tf.float32)], reduce_retracing=True
    )
    def predict(x):
        acc, voc = model(x, training=False)
        return acc, voc

    return predict


def open_twin(model, config: Config):
    """``model`` itself if its time axis is open, else a separator with an open time axis
    and the same weights (ValueError or TypeError for a model of another architecture)."""
    if model.input_shape[2] is None:
        return model
    from .unet import build_separator  # deferred: builds on Keras (TensorFlow)

    twin = build_separator(
        (model.input_shape[1], None),
        config.num_layers,
        config.base_filters,
        output_activation=config.output_activation,
    )
    twin.set_weights(model.get_weights())
    return twin


def _runner(model, config: Config) -> _Runner:
    """The (cached) open-time-axis twin of ``model``, or ``model`` itself if that fails."""
    key = (config.num_layers, config.base_filters, config.num_frames)
    cached = _RUNNERS.setdefault(model, {}).get(key)
    if cached is not None:
        return cached
    num_layers = config.num_layers
    f_in, t_in = model.input_shape[1], model.input_shape[2]
    step = 2**num_layers
    context = unet_shapes((spectral.MODEL_BINS, step), num_layers).context[1]
    runner = None
    try:
        twin = open_twin(model, config)
        runner = _Runner(_make_predict(twin, f_in, None), f_in, True, None, context, num_layers)
    except (ValueError, TypeError):
        runner = None  # a model of another architecture: use it as it is
    if runner is None:
        t_out = model.output_shape[0][2]
        frames = min(config.num_frames, t_out)
        context = (t_in - frames) // 2
        runner = _Runner(_make_predict(model, f_in, t_in), f_in, False, frames, context, num_layers)
    _RUNNERS[model][key] = runner
    return runner


def _window_frames(runner: _Runner, num_frames: int, window_frames: int | None) -> int:
    """Output frames per window: about ``window_frames``, a multiple of ``2**L`` (one max-pool
    grid phase for every window), balanced so that the last window is not mostly padding."""
    if not runner.open_axis:
        return runner.fixed_frames
    step = 2**runner.num_layers
    wanted = max(step, _ceil_div(window_frames or DEFAULT_WINDOW_FRAMES, step) * step)
    count = max(1, _ceil_div(num_frames, wanted))
    return min(wanted, _ceil_div(_ceil_div(num_frames, count), step) * step)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def separate_spectrogram(
    model,
    log_mix: np.ndarray,
    config: Config,
    window_frames: int | None = None,
    batch_size: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """log1p mixture magnitudes ``[256, N]`` -> ``(acc, voc)`` log1p magnitudes ``[256, N]``."""
    runner = _runner(model, config)
    bins, n = log_mix.shape
    frames = _window_frames(runner, n, window_frames)
    t_in = runner.input_frames(frames) if runner.open_axis else model.input_shape[2]
    count = -(-n // frames)
    left = runner.context
    right = count * frames + t_in - frames - left - n
    padded = pad_freq(np.asarray(log_mix, np.float32), runner.f_in)
    padded = np.pad(padded, [(0, 0), (left, right)])
    outs = [[], []]
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        batch = np.stack([padded[:, k * frames : k * frames + t_in] for k in range(start, stop)])
        acc, voc = runner.predict(batch[..., None])
        for i, out in enumerate((acc, voc)):
            out = out.numpy()[..., 0]
            f0 = (out.shape[1] - bins) // 2
            t0 = (out.shape[2] - frames) // 2
            outs[i].append(out[:, f0 : f0 + bins, t0 : t0 + frames])
    result = []
    for parts in outs:
        stacked = np.concatenate(parts, axis=0)  # [count, bins, frames]
        result.append(stacked.transpose(1, 0, 2).reshape(bins, count * frames)[:, :n])
    return result[0], result[1]


def separate_audio(
    model,
    mixture: np.ndarray,
    config: Config,
    phase: str = "mixture",
    window_frames: int | None = None,
    batch_size: int = 8,
    postfilter: str | None = None,
    power: float | None = None,
) -> dict[str, np.ndarray]:
    """Separate mono float32 ``[samples]`` audio at ``config.expected_sr`` into vocals and
    accompaniment.

    ``phase``: ``"mixture"`` (the original's resynthesis) or ``"griffin_lim"``.
    ``postfilter``: ``"none"``, ``"soft"`` (exponent ``power``) or ``"wiener"``
    (:mod:`.filtering`); ``None`` takes ``config.postfilter`` and ``config.postfilter_power``.
    A post-filter other than ``none`` masks the mixture's complex STFT, so it needs
    ``phase="mixture"``. The outputs have exactly ``len(mixture)`` samples. Where the mixture
    has no energy at all (a bin of digital silence) both estimates are silent too: the
    network's biases would otherwise invent a faint signal there.
    """
    if phase not in ("mixture", "griffin_lim"):
        raise SepganError(f"phase must be 'mixture' or 'griffin_lim', got {phase!r}")
    postfilter = filtering.check_postfilter(config.postfilter if postfilter is None else postfilter)
    power = config.postfilter_power if power is None else power
    if postfilter != "none" and phase != "mixture":
        raise SepganError(
            f"post-filter {postfilter!r} masks the mixture's STFT and cannot be combined with "
            f"phase {phase!r}; use phase 'mixture' or post-filter 'none'"
        )
    mixture = np.asarray(mixture, dtype=np.float32)
    if mixture.ndim != 1:
        raise SepganError(f"separate_audio expects mono [samples] audio, got {mixture.shape}")
    length = len(mixture)
    if length == 0:
        return {"vocals": mixture.copy(), "accompaniment": mixture.copy()}
    with warnings.catch_warnings():  # librosa warns about songs shorter than one FFT
        warnings.filterwarnings("ignore", message="n_fft=.*too large")
        magnitude, mix_phase = spectral.magnitude_phase(mixture)
        spec = spectral.stft(mixture) if postfilter != "none" else None
    acc, voc = separate_spectrogram(
        model, np.log1p(magnitude), config, window_frames=window_frames, batch_size=batch_size
    )
    if postfilter != "none":
        mags = np.stack([_magnitude(magnitude, log_mag) for log_mag in (voc, acc)])
        estimates = filtering.postfilter(mags, spec, postfilter, power)
        return {
            name: spectral.istft_complex(estimates[k], length=length)
            for k, name in enumerate(("vocals", "accompaniment"))
        }
    out = {}
    for name, log_mag in (("vocals", voc), ("accompaniment", acc)):
        mag = _magnitude(magnitude, log_mag)
        if phase == "mixture":
            out[name] = spectral.istft(mag, mix_phase, length=length)
        else:
            out[name] = spectral.griffin_lim(mag, length=length)
    return out


def _magnitude(mixture_magnitude: np.ndarray, log_mag: np.ndarray) -> np.ndarray:
    """A head's magnitude ``[256, frames]``: ``expm1`` of its log1p output, clipped at zero,
    and zero where the mixture is digital silence."""
    return np.where(mixture_magnitude > 0, np.maximum(np.expm1(log_mag), 0.0), 0.0)


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    if len(audio) >= length:
        return audio[:length]
    return np.pad(audio, (0, length - len(audio)))


def _stem_name(path: Path) -> str:
    """The file's name without its extension, as a safe folder name (``..wav`` -> ``_``)."""
    name = path.name
    for suffix in (".stem.mp4",):
        if name.lower().endswith(suffix):
            return safe_file_name(name[: -len(suffix)])
    return safe_file_name(path.stem)


def output_names(paths) -> list[str]:
    """One distinct output folder name per input: the file's name without its extension, or,
    for inputs that share it, with the extension and then as many parent folders as needed
    (``a/song.wav``, ``b/song.wav``, ``a/song.flac`` -> ``a-song.wav``, ``b-song.wav``,
    ``song.flac``). The same file given twice gets ``-2``, ``-3`` ... on its repeats."""
    paths = [Path(p) for p in paths]
    unique = list(dict.fromkeys(p.resolve() for p in paths))

    def name(path: Path, level: int) -> str:
        if level == 0:
            return _stem_name(path)
        parents = [p.name for p in path.parents][: level - 1][::-1]
        return safe_file_name("-".join([*parents, path.name]))

    levels = [0] * len(unique)
    while True:
        names = [name(p, k) for p, k in zip(unique, levels)]
        clashing = {n for n in names if names.count(n) > 1}
        grown = False
        for i, n in enumerate(names):
            if n in clashing and levels[i] <= len(unique[i].parents):
                levels[i] += 1
                grown = True
        if not grown:
            break
    by_path = dict(zip(unique, names))
    out: list[str] = []
    for path in paths:
        base = by_path[path.resolve()]
        repeats = sum(1 for earlier in paths[: len(out)] if earlier.resolve() == path.resolve())
        out.append(base if repeats == 0 else f"{base}-{repeats + 1}")
    return out


def load_mixture(path, strict: bool = False, notes: list | None = None) -> tuple[np.ndarray, int]:
    """``(mono samples, rate)`` of a file to separate, checked: every sample finite; decoded as
    long as its header says (else a note, or with ``strict`` an error)."""
    path = Path(path)
    original = audio_io.load_audio(path, sr=None, mono=True)
    rate = audio_io.audio_info(path)[0]
    bad = int(np.count_nonzero(~np.isfinite(original)))
    if bad:
        raise AudioError(path, f"holds {bad} non-finite sample(s) (NaN or infinity)")
    short = audio_io.short_decoding(path, len(original), rate)
    if short:
        if strict:
            raise AudioError(path, short)
        if notes is not None:
            notes.append(f"{path}: {short}")
    return original, rate


def separate_file(
    model,
    config: Config,
    path,
    out_dir,
    phase: str = "mixture",
    name: str | None = None,
    strict: bool = False,
    notes: list | None = None,
    postfilter: str | None = None,
) -> dict[str, Path]:
    """Separate one audio file; write ``<out_dir>/<name>/{vocals,accompaniment}.wav``.

    ``name`` defaults to the file's name without extension. The outputs are mono, at the
    input's sample rate and with the input's length in samples, each written atomically.
    A file cut short (decoded shorter than its header says) adds a line to ``notes``; with
    ``strict`` it is an error. ``postfilter`` as :func:`separate_audio`'s.
    """
    path = Path(path)
    original, rate = load_mixture(path, strict, notes)
    sr = config.expected_sr
    mixture = audio_io.resample(original, rate, sr)
    stems = separate_audio(model, mixture, config, phase=phase, postfilter=postfilter)
    folder = Path(out_dir) / safe_file_name(name or _stem_name(path))
    written = {}
    for name, signal in stems.items():
        signal = _fit_length(audio_io.resample(signal, sr, rate), len(original))
        written[name] = audio_io.write_wav(folder / f"{name}.wav", signal, rate)
    return written


def cli_separate(args) -> int:
    """``sepgan separate RUN_DIR AUDIO... --out DIR [--phase mixture|griffin_lim]
    [--postfilter none|soft|wiener]`` (default: the run's ``config.postfilter``)."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SepganError(f"{out}: --out is a file, expected a folder")
    if getattr(args, "postfilter", None) is not None:
        filtering.check_postfilter(args.postfilter)  # before the model is loaded
    model, config = load_run(args.run_dir)
    config = filtering.with_postfilter(
        config, getattr(args, "postfilter", None), getattr(args, "postfilter_power", None)
    )
    phase = getattr(args, "phase", None) or config.phase
    strict = bool(getattr(args, "strict", False))
    files = [Path(p) for p in args.audio]
    names = output_names(files)
    failed: list[str] = []
    for path, name in tqdm(list(zip(files, names)), desc="separating", unit="song", disable=None):
        notes: list[str] = []
        try:
            written = separate_file(
                model,
                config,
                path,
                out,
                phase=phase,
                name=name,
                strict=strict,
                notes=notes,
            )
        except (SepganError, OSError) as err:
            failed.append(str(path))
            tqdm.write(f"sepgan: error: {describe(err, path)}", file=sys.stderr)
            continue
        finally:
            for note in notes:
                tqdm.write(f"sepgan: warning: {note}", file=sys.stderr)
        tqdm.write(f"{path} -> {written['vocals'].parent}")
    if failed:
        tqdm.write(
            f"sepgan: separated {len(files) - len(failed)} of {len(files)} file(s); "
            f"failed: {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0
