"""Audio input and output: decode, downmix to mono, resample to 8192 Hz, write wav.

wav/flac/ogg/aiff are read with soundfile; mp3/mp4/m4a (and each stream of a ``.stem.mp4``)
with PyAV, whose wheels carry FFmpeg's libraries. Every failure raises
:class:`~sepgan_lib.errors.AudioError` naming the file and the reason.

Arrays are ``float32``; mono audio has shape ``[samples]``, multichannel ``[channels, samples]``.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .cache import atomic_file
from .errors import AudioError

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
FFMPEG_SUFFIXES = {".mp3", ".mp4", ".m4a", ".aac"}
SUPPORTED_SUFFIXES = SOUNDFILE_SUFFIXES | FFMPEG_SUFFIXES


def _check_file(path: Path) -> str:
    if not path.exists():
        raise AudioError(path, "file does not exist")
    if path.is_dir():
        raise AudioError(path, "is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise AudioError(
            path,
            f"unsupported format {suffix or '(no extension)'!r}; "
            f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}",
        )
    return suffix


def _import_av(path: Path):
    try:
        import av  # deferred: PyAV loads FFmpeg; only compressed files need it
    except ImportError as err:  # pragma: no cover - av is a dependency
        raise AudioError(
            path,
            "decoding this format needs FFmpeg through PyAV; install it with `pip install av` "
            "(its wheels ship FFmpeg) or `conda install -c conda-forge av`",
        ) from err
    return av


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise AudioError(path, f"corrupt or unreadable audio ({err})") from err
    return data.T, int(rate)


def _read_ffmpeg(path: Path, streams: list[int]) -> tuple[list[np.ndarray], int]:
    """Decode the given audio streams of a container in one pass; each ``[channels, samples]``."""
    av = _import_av(path)
    try:
        with av.open(str(path)) as container:
            audio_streams = list(container.streams.audio)
            for index in streams:
                if not 0 <= index < len(audio_streams):
                    raise AudioError(
                        path, f"has {len(audio_streams)} audio stream(s), asked for stream {index}"
                    )
            wanted = [audio_streams[i] for i in streams]
            position = {s.index: k for k, s in enumerate(wanted)}
            chunks: list[list[np.ndarray]] = [[] for _ in wanted]
            resamplers = [av.AudioResampler(format="fltp") for _ in wanted]
            rate = int(wanted[0].rate or wanted[0].codec_context.sample_rate)
            for packet in container.demux(wanted):
                k = position[packet.stream.index]
                for frame in packet.decode():
                    chunks[k].extend(out.to_ndarray() for out in resamplers[k].resample(frame))
            for k, resampler in enumerate(resamplers):  # flush
                chunks[k].extend(out.to_ndarray() for out in resampler.resample(None))
    except AudioError:
        raise
    except Exception as err:  # PyAV raises many types (InvalidDataError, ValueError, ...)
        raise AudioError(
            path, f"corrupt or unreadable audio ({type(err).__name__}: {err})"
        ) from err
    arrays = []
    for index, parts in zip(streams, chunks):
        if not parts:
            raise AudioError(path, f"stream {index} holds no audio samples")
        arrays.append(np.concatenate(parts, axis=1).astype(np.float32))
    return arrays, rate


def downmix(audio: np.ndarray) -> np.ndarray:
    """``[channels, samples]`` (or ``[samples]``) -> mono ``[samples]`` by averaging channels."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio if audio.ndim == 1 else audio.mean(axis=0)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality resampling (soxr) of ``[samples]`` or ``[channels, samples]``."""
    audio = np.asarray(audio, dtype=np.float32)
    if rate_in == rate_out:
        return audio
    if audio.ndim == 1:
        return soxr.resample(audio, rate_in, rate_out, quality="HQ").astype(np.float32)
    return soxr.resample(audio.T, rate_in, rate_out, quality="HQ").T.astype(np.float32)


def _finish(path: Path, audio: np.ndarray, rate: int, sr: int | None, mono: bool) -> np.ndarray:
    if audio.shape[-1] == 0:
        raise AudioError(path, "holds no audio samples")
    if mono:
        audio = downmix(audio)
    if sr is not None:
        audio = resample(audio, rate, sr)
    return np.ascontiguousarray(audio, dtype=np.float32)


def load_streams(
    path: str | Path, streams: list[int], sr: int | None = 8192, mono: bool = True
) -> list[np.ndarray]:
    """Decode several audio streams of one file (e.g. the five stems of a ``.stem.mp4``)."""
    path = Path(path)
    suffix = _check_file(path)
    if suffix in SOUNDFILE_SUFFIXES:
        if list(streams) != [0]:
            raise AudioError(path, f"a {suffix} file has a single stream, asked for {streams}")
        audio, rate = _read_soundfile(path)
        return [_finish(path, audio, rate, sr, mono)]
    arrays, rate = _read_ffmpeg(path, list(streams))
    return [_finish(path, a, rate, sr, mono) for a in arrays]


def load_audio(
    path: str | Path, sr: int | None = 8192, mono: bool = True, stream: int = 0
) -> np.ndarray:
    """Load one file (one stream of it) as float32, mono ``[samples]`` by default, at ``sr``.

    ``sr=None`` keeps the file's own rate; ``mono=False`` keeps ``[channels, samples]``.
    """
    return load_streams(path, [stream], sr=sr, mono=mono)[0]


def audio_info(path: str | Path) -> tuple[int, float, int]:
    """``(sample_rate, seconds, channels)`` of a file without decoding it all (soundfile types)."""
    path = Path(path)
    suffix = _check_file(path)
    if suffix in SOUNDFILE_SUFFIXES:
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(path, f"corrupt or unreadable audio ({err})") from err
        return int(info.samplerate), float(info.duration), int(info.channels)
    av = _import_av(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            seconds = float(container.duration or 0) / 1e6
            return int(stream.rate), seconds, int(stream.channels)
    except Exception as err:
        raise AudioError(
            path, f"corrupt or unreadable audio ({type(err).__name__}: {err})"
        ) from err


def _wav_declared_frames(path: Path) -> int | None:
    """Sample frames a RIFF/WAVE header declares (its ``data`` chunk size), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = 0
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = handle.read(size + (size & 1))
                    block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else 0
                    continue
                if name == b"data":
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None  # a streamed wav states no length
                    return size // block_align
                handle.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


def declared_frames(path: str | Path) -> int | None:
    """Sample frames (at the file's own rate) its header declares, or None if it states none."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".wav":
        return _wav_declared_frames(path)
    if suffix in SOUNDFILE_SUFFIXES:
        try:
            frames = int(sf.info(str(path)).frames)
        except (sf.LibsndfileError, RuntimeError):
            return None
        return frames if 0 < frames < 2**62 else None
    rate, seconds, _ = audio_info(path)
    return int(round(seconds * rate)) if seconds > 0 else None


def short_decoding(path: str | Path, frames: int, rate: int) -> str | None:
    """Why ``frames`` decoded samples are fewer than the header declares (a cut file), or None.

    A tolerance of 1% or 0.1 s (the larger) allows for codec priming and padding.
    """
    declared = declared_frames(path)
    if declared is None:
        return None
    tolerance = max(0.01 * declared, 0.1 * rate)
    if frames >= declared - tolerance:
        return None
    return (
        f"decoded {frames / rate:.2f} s but the header declares {declared / rate:.2f} s "
        "(the file is cut short or damaged)"
    )


def write_wav(path: str | Path, audio: np.ndarray, sr: int = 8192) -> Path:
    """Write ``[samples]`` or ``[channels, samples]`` float audio as a 32-bit float wav (exact,
    so mixture = sum of stems survives).

    The file is written to a temporary sibling and renamed: a full disk or an interruption
    leaves the previous file (or none), never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float32)
    encoded = io.BytesIO()  # encoded in memory: Python's own writes report a full disk
    sf.write(encoded, audio.T if audio.ndim == 2 else audio, sr, format="WAV", subtype="FLOAT")
    try:
        with atomic_file(path, suffix=".part", durable=True) as handle:
            handle.write(encoded.getbuffer())
    except OSError as err:
        if not err.filename:  # e.g. a full disk: name the file
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    return path
