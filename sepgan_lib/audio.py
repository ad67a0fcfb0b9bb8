"""Audio input and output: decode, downmix to mono, resample to 8192 Hz, write wav.

wav/flac/ogg/aiff are read with soundfile; mp3/mp4/m4a (and each stream of a ``.stem.mp4``)
with PyAV, whose wheels carry FFmpeg's libraries. Every failure raises
:class:`~sepgan_lib.errors.AudioError` naming the file and the reason.

Arrays are ``float32``; mono audio has shape ``[samples]``, multichannel ``[channels, samples]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

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
        import av
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


def write_wav(path: str | Path, audio: np.ndarray, sr: int = 8192) -> Path:
    """Write ``[samples]`` or ``[channels, samples]`` float audio as a 32-bit float wav (exact, so mixture = sum of stems survives)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float32)
    sf.write(str(path), audio.T if audio.ndim == 2 else audio, sr, subtype="FLOAT")
    return path
