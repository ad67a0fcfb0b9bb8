"""Notebook helpers for the book: audio players, spectrogram plots, tables, source display.

Everything here renders twice: in a live kernel (Jupyter, Colab) and in the static HTML page
that ``sepgan book`` builds. Players, figures and tables are plain HTML with the audio or
image embedded as base64, so they play and show without a kernel; the widgets that choose
between signals (``players``) are plain HTML and JavaScript for the same reason.

Signals are mono float arrays ``[samples]`` at ``sr`` (8192 Hz by default); magnitudes are
``[freq, frames]`` linear magnitudes (not log).

Why one module of about 600 lines: it is the chapters' one name for what they show
(``from sepgan_lib import display as viz``), and its parts share the embedding of audio and
images into the static page; the client-side widgets are apart (``players``).
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .shapes import unet_shapes
from .spectral import stft

SR = 8192
N_FFT = 512
HOP = 256


# --------------------------------------------------------------------------------------------
# audio
# --------------------------------------------------------------------------------------------
def wav_bytes(audio: np.ndarray, sr: int = SR, normalize: bool = True) -> bytes:
    """16-bit PCM wav of mono ``audio`` (peak-normalised to 0.99 if it would clip, or always
    with ``normalize=True`` when the peak is above 0.99)."""
    audio = np.nan_to_num(np.asarray(audio, dtype=np.float32).reshape(-1))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if normalize and peak > 0.99:
        audio = audio * (0.99 / peak)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), int(sr), format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class AudioPlayer:
    """A static HTML ``<audio controls>`` player with the wav embedded as base64.

    Like :class:`IPython.display.Audio`, but plays in the built book without a kernel and
    carries an optional title. ``player.data`` is the wav file's bytes.
    """

    def __init__(self, audio: np.ndarray, sr: int = SR, title: str | None = None):
        self.audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        self.sr = int(sr)
        self.title = title
        self.data = wav_bytes(self.audio, self.sr)

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sr

    def src(self) -> str:
        return "data:audio/wav;base64," + base64.b64encode(self.data).decode("ascii")

    def audio_tag(self) -> str:
        label = html.escape(self.title or "audio")
        return (
            f'<audio controls preload="metadata" title="{label}" style="width: 100%; '
            f'max-width: 420px;"><source src="{self.src()}" type="audio/wav">'
            "Your browser does not play embedded wav audio.</audio>"
        )

    def _repr_html_(self) -> str:
        caption = ""
        if self.title:
            caption = (
                f'<div style="font-size: 0.9em; margin-bottom: 2px;"><b>'
                f"{html.escape(self.title)}</b> ({self.seconds:.1f} s)</div>"
            )
        return f'<div class="sepgan-audio" style="margin: 4px 0;">{caption}{self.audio_tag()}</div>'

    def __repr__(self) -> str:
        return f"<AudioPlayer {self.title or ''!s} {self.seconds:.1f} s at {self.sr} Hz>"


def audio_player(audio: np.ndarray, sr: int = SR, title: str | None = None) -> AudioPlayer:
    """A static, embedded audio player (see :class:`AudioPlayer`); display it or return it."""
    return AudioPlayer(audio, sr, title)


# --------------------------------------------------------------------------------------------
# spectrograms
# --------------------------------------------------------------------------------------------
def _magnitude(signal: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """A linear magnitude ``[freq, frames]`` from audio ``[samples]`` or a spectrogram."""
    signal = np.asarray(signal)
    if signal.ndim == 1:
        return np.abs(stft(signal.astype(np.float32), n_fft=n_fft, hop=hop))
    if np.iscomplexobj(signal):
        return np.abs(signal)
    return np.squeeze(signal).astype(np.float32)


def _db(magnitude: np.ndarray, top_db: float = 80.0, ref: float | None = None):
    ref = float(np.max(magnitude)) if ref is None else ref
    ref = ref if ref > 0 else 1.0
    db = 20.0 * np.log10(np.maximum(magnitude, 1e-10) / ref)
    return np.maximum(db, -top_db)


def spectrogram_image(
    ax,
    signal: np.ndarray,
    sr: int = SR,
    hop: int = HOP,
    n_fft: int = N_FFT,
    title: str | None = None,
    top_db: float = 80.0,
    ref: float | None = None,
    max_hz: float | None = None,
    colorbar: bool = False,
):
    """Draw the log-magnitude (dB) spectrogram of ``signal`` into ``ax``; returns the image."""
    mag = _magnitude(signal, n_fft, hop)
    db = _db(mag, top_db, ref)
    seconds = mag.shape[1] * hop / sr
    hz = mag.shape[0] * sr / n_fft
    image = ax.imshow(
        db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=[0.0, seconds, 0.0, hz],
        vmin=-top_db,
        vmax=0.0,
        interpolation="nearest",
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    if max_hz:
        ax.set_ylim(0, max_hz)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="dB")
    return image


def spectrogram_figure(
    signal: np.ndarray,
    sr: int = SR,
    title: str | None = None,
    hop: int = HOP,
    n_fft: int = N_FFT,
    top_db: float = 80.0,
    figsize: tuple[float, float] = (8.0, 3.0),
):
    """A matplotlib figure of one log-magnitude spectrogram (time in s, frequency in Hz).

    ``signal`` is audio ``[samples]``, a complex STFT or a linear magnitude ``[freq, frames]``.
    """
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    spectrogram_image(ax, signal, sr, hop, n_fft, title, top_db, colorbar=True)
    return fig


def plot_spectrograms(
    signals: Mapping[str, np.ndarray],
    sr: int = SR,
    hop: int = HOP,
    n_fft: int = N_FFT,
    top_db: float = 80.0,
    shared_scale: bool = True,
    columns: int = 1,
    height: float = 2.4,
    suptitle: str | None = None,
):
    """One spectrogram per entry of ``{"mixture": mag_or_audio, "vocals": ...}``, on a shared
    dB scale (0 dB = the loudest bin of all) so that loudness compares across panels."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    mags = {name: _magnitude(s, n_fft, hop) for name, s in signals.items()}
    ref = max((float(np.max(m)) for m in mags.values()), default=1.0) if shared_scale else None
    rows = math.ceil(len(mags) / columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(8.0 if columns == 1 else 5.0 * columns, height * rows),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    for ax, (name, mag) in zip(axes.flat, mags.items()):
        image = spectrogram_image(ax, mag, sr, hop, n_fft, name, top_db, ref)
    for ax in list(axes.flat)[len(mags) :]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes, label="dB", shrink=0.9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def figure_png(fig, dpi: int = 80, close: bool = True) -> bytes:
    """The PNG bytes of a matplotlib figure (closed afterwards so it is not shown twice)."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if close:
        plt.close(fig)
    return buffer.getvalue()


def _img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width: 100%;">'


class HTMLBlock:
    """Plain HTML that renders in Jupyter, Colab and the built book."""

    def __init__(self, body: str, text: str = "<HTML>"):
        self.body = body
        self.text = text

    def _repr_html_(self) -> str:
        return self.body

    def __repr__(self) -> str:
        return self.text


def listen_and_look(
    signals: Mapping[str, np.ndarray],
    sr: int = SR,
    title: str | None = None,
    top_db: float = 80.0,
) -> HTMLBlock:
    """Each signal's spectrogram next to its player, as static HTML (audio ``[samples]``)."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    mags = {name: _magnitude(s) for name, s in signals.items()}
    ref = max((float(np.max(m)) for m in mags.values()), default=1.0)
    rows = []
    for name, audio in signals.items():
        fig, ax = plt.subplots(figsize=(6.0, 2.2), constrained_layout=True)
        spectrogram_image(ax, mags[name], sr, title=name, top_db=top_db, ref=ref)
        png = figure_png(fig)
        player = AudioPlayer(audio, sr, name)
        rows.append(
            '<div style="display: flex; flex-wrap: wrap; align-items: center; gap: 12px; '
            'margin: 6px 0;">'
            f'<div style="flex: 1 1 420px;">{_img_tag(png, name)}</div>'
            f'<div style="flex: 0 1 320px;">{player._repr_html_()}</div></div>'
        )
    head = (
        f'<div style="font-weight: bold; font-size: 1.05em; margin: 8px 0 4px;">'
        f"{html.escape(title)}</div>"
        if title
        else ""
    )
    return HTMLBlock(
        f'<div class="sepgan-listen">{head}{"".join(rows)}</div>',
        f"<listen_and_look: {', '.join(signals)}>",
    )


# --------------------------------------------------------------------------------------------
# tables and curves
# --------------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}f}"
    return html.escape(str(value))


def table(
    rows: list[Mapping[str, Any]] | list[list[Any]],
    columns: list[str] | None = None,
    digits: int = 2,
    caption: str | None = None,
) -> HTMLBlock:
    """A small HTML table from a list of dicts (or of lists with ``columns``)."""
    if rows and isinstance(rows[0], Mapping):
        columns = columns or list(rows[0].keys())
        body_rows = [[row.get(c, "") for c in columns] for row in rows]
    else:
        columns = columns or []
        body_rows = [list(row) for row in rows]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v, digits)}</td>" for v in row) + "</tr>" for row in body_rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    text = "\n".join(
        [" | ".join(map(str, columns))]
        + [" | ".join(_fmt(v, digits) for v in r) for r in body_rows]
    )
    return HTMLBlock(
        f'<table class="sepgan-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>",
        text,
    )


def plot_history(
    history: list[Mapping[str, Any]],
    keys: list[str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 3.0),
):
    """Curves of per-epoch values (``history`` as returned by ``train``) against the epoch."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import

    keys = keys or [
        k
        for k in (history[0] if history else {})
        if k not in ("epoch", "step", "seconds")
        and isinstance(history[0][k], (int, float))
        and not isinstance(history[0][k], bool)
    ]
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    for key in keys:
        values = [h.get(key) for h in history]
        if any(v is None for v in values):
            continue
        ax.plot(epochs, values, marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if len(epochs) <= 12:
        ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------------------------
# the U-Net's shapes
# --------------------------------------------------------------------------------------------
def unet_level_shapes(config) -> list[dict[str, Any]]:
    """Per-layer ``(freq, frames, channels)`` of the separator for ``config`` (shape arithmetic,
    the same as :mod:`sepgan_lib.shapes`): a list of ``{"name", "level", "shape"}``."""
    shapes = unet_shapes((256, config.num_frames), config.num_layers)
    f, t = shapes.input
    base, layers_ = config.base_filters, config.num_layers
    out = [{"name": "input", "level": 0, "shape": (f, t, 1)}]
    f, t = f - 2, t - 2
    out.append({"name": "conv_in", "level": 0, "shape": (f, t, base)})
    for level in range(1, layers_ + 1):
        f, t = f // 2 - 2, t // 2 - 2
        out.append({"name": f"down_{level}", "level": level, "shape": (f, t, base * 2**level)})
    for level in range(layers_ - 1, -1, -1):
        f, t = 2 * f - 2, 2 * t - 2
        out.append({"name": f"up_{level}", "level": level, "shape": (f, t, base * 2**level)})
    out.append({"name": "vocals / accompaniment", "level": 0, "shape": (f, t, 1)})
    return out


def unet_shape_figure(config, figsize: tuple[float, float] = (10.0, 4.8)):
    """A picture of the U-Net: one box per layer, height ~ frequency bins, labelled
    ``freq x frames x channels``; encoder going down on the left, decoder going up on the
    right, skip connections as dashed arrows."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import
    from matplotlib.patches import FancyArrowPatch, Rectangle  # the book extra

    shapes = unet_level_shapes(config)
    layers_ = config.num_layers
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    max_f = shapes[0]["shape"][0]
    n = len(shapes)
    positions = {}
    for i, item in enumerate(shapes):
        f, t, c = item["shape"]
        x = i * 1.0
        y = -item["level"] * 1.0
        height = 0.85 * max(f, 1) / max_f
        width = 0.18 + 0.5 * min(1.0, math.log2(c + 1) / 9)
        color = "#9ecae1" if item["name"].startswith(("input", "conv", "down")) else "#fdae6b"
        if item["name"] == "input":
            color = "#d9d9d9"
        if item["name"].startswith("vocals"):
            color = "#a1d99b"
        ax.add_patch(
            Rectangle((x - width / 2, y - height / 2), width, height, fc=color, ec="black", lw=0.8)
        )
        ax.text(x, y - 0.55, f"{f}×{t}×{c}", ha="center", va="top", fontsize=8)
        ax.text(x, y + 0.5, item["name"], ha="center", va="bottom", fontsize=7, color="#444")
        positions[item["name"]] = (x, y)
        if i:
            px, py = positions[shapes[i - 1]["name"]]
            ax.add_patch(
                FancyArrowPatch((px + 0.3, py), (x - 0.3, y), arrowstyle="->", mutation_scale=10)
            )
    for level in range(layers_):
        src = positions["conv_in" if level == 0 else f"down_{level}"]
        dst = positions[f"up_{level}"]
        ax.add_patch(
            FancyArrowPatch(
                (src[0] + 0.3, src[1] + 0.25),
                (dst[0] - 0.3, dst[1] + 0.25),
                arrowstyle="->",
                linestyle="--",
                color="#636363",
                mutation_scale=10,
                connectionstyle="arc3,rad=-0.15",
            )
        )
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(-layers_ - 1.0, 1.2)
    ax.axis("off")
    s_in, s_out = shapes[0]["shape"], shapes[-1]["shape"]
    ax.set_title(
        f"valid-convolution U-Net, {layers_} levels: input {s_in[0]}×{s_in[1]} -> "
        f"output {s_out[0]}×{s_out[1]} (freq × frames); dashed: cropped skip connections",
        fontsize=10,
    )
    return fig


# --------------------------------------------------------------------------------------------
# source display
# --------------------------------------------------------------------------------------------
class SourceView:
    """Highlighted source of a library object (Markdown in Jupyter and in the book)."""

    def __init__(self, obj: Any, max_lines: int | None = None):
        self.name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj)}"
        lines, start = inspect.getsourcelines(obj)
        if max_lines and len(lines) > max_lines:
            lines = lines[:max_lines] + [f"    # ... ({len(lines) - max_lines} more lines)\n"]
        self.code = "".join(lines).rstrip("\n")
        path = Path(inspect.getsourcefile(obj) or "?")
        self.where = f"{path.parent.name}/{path.name}, line {start}"

    def _repr_markdown_(self) -> str:
        fence = "````" if "```" in self.code else "```"
        return f"`{self.name}` ({self.where}):\n\n{fence}python\n{self.code}\n{fence}\n"

    def __repr__(self) -> str:
        return f"# {self.name} ({self.where})\n{self.code}"


def show_source(obj: Any, max_lines: int | None = None) -> SourceView:
    """The library's own source of ``obj`` (function, class, module), for reading in the book."""
    return SourceView(obj, max_lines)


# --------------------------------------------------------------------------------------------
# figures JSON
# --------------------------------------------------------------------------------------------
def _check_finite(value: Any, where: str) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"figure {where} is not finite: {value!r}")
        return float(value)
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _check_finite(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_check_finite(v, f"{where}[{i}]") for i, v in enumerate(list(value))]
    raise TypeError(f"figure {where} has an unsupported type {type(value).__name__}")


def save_figures_json(path: str | Path, figures: Mapping[str, Any]) -> Path:
    """Write a chapter's key figures as JSON, after checking every number is finite."""
    clean = _check_finite(dict(figures), "figures")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return path


__all__ = [
    "AudioPlayer",
    "audio_player",
    "wav_bytes",
    "spectrogram_figure",
    "spectrogram_image",
    "plot_spectrograms",
    "listen_and_look",
    "table",
    "plot_history",
    "unet_level_shapes",
    "unet_shape_figure",
    "show_source",
    "save_figures_json",
    "figure_png",
    "method_diagram",
]


# --------------------------------------------------------------------------------------------
# the book's method diagram (book/images/method.png is made with this)
# --------------------------------------------------------------------------------------------
def method_diagram(figsize: tuple[float, float] = (11.0, 5.2)):
    """The paper's idea as a block diagram: a supervised path on paired songs and an
    adversarial path on unpaired recordings, sharing one separator."""
    import matplotlib.pyplot as plt  # deferred: the book extra, seconds to import
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # the book extra

    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 5.4)
    ax.axis("off")

    def box(x, y, text, color, w=1.9, h=0.8):
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.05",
                fc=color,
                ec="black",
                lw=0.8,
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=9)

    def arrow(a, b, text=None, style="-|>", color="black", rad=0.0):
        ax.add_patch(
            FancyArrowPatch(
                a,
                b,
                arrowstyle=style,
                mutation_scale=12,
                color=color,
                lw=1.1,
                connectionstyle=f"arc3,rad={rad}",
            )
        )
        if text:
            ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.15, text, ha="center", fontsize=8)

    paired, unpaired, model, loss, critic = "#c6dbef", "#fdd0a2", "#d9d9d9", "#c7e9c0", "#f2c4de"
    ax.text(0.2, 5.15, "supervised path (few paired songs)", fontsize=10, weight="bold")
    ax.text(0.2, 2.55, "adversarial path (many unpaired recordings)", fontsize=10, weight="bold")
    box(1.2, 4.3, "paired mixture\n(spectrogram)", paired)
    box(4.0, 4.3, "separator\n(U-Net)", model)
    box(6.8, 4.3, "estimated vocals\n+ accompaniment", model)
    box(9.6, 4.3, "MSE loss against\nthe true stems", loss)
    box(9.6, 3.2, "true vocals and\naccompaniment", paired)
    arrow((2.15, 4.3), (3.05, 4.3))
    arrow((4.95, 4.3), (5.85, 4.3))
    arrow((7.75, 4.3), (8.65, 4.3))
    arrow((9.6, 3.6), (9.6, 3.9))

    box(1.2, 1.6, "unpaired mixtures", unpaired)
    box(4.0, 1.6, "separator\n(the same weights)", model)
    box(6.8, 1.6, "estimated vocals\n+ accompaniment", model)
    box(9.6, 1.6, "critics D_v, D_a:\nreal or estimated?", critic)
    box(9.6, 0.45, "unpaired real vocals,\nunpaired accompaniments", unpaired, w=2.4)
    box(6.8, 0.45, "additive penalty:\nestimates sum to mixture", loss, w=2.4)
    arrow((2.15, 1.6), (3.05, 1.6))
    arrow((4.95, 1.6), (5.85, 1.6))
    arrow((7.75, 1.6), (8.65, 1.6), "fake")
    arrow((9.6, 0.85), (9.6, 1.2), None)
    ax.text(9.75, 0.98, "real", fontsize=8)
    arrow((6.8, 1.2), (6.8, 0.85))
    arrow((4.0, 3.9), (4.0, 2.0), style="<|-|>", color="#636363")
    ax.text(4.1, 2.95, "shared", fontsize=8, color="#636363")
    arrow((8.75, 2.0), (5.0, 2.05), "adversarial loss: fool the critics", color="#a50f15", rad=0.25)
    ax.set_title(
        "separator loss = MSE + alpha * adversarial + beta * additive penalty; "
        "critic loss = Wasserstein + lambda * gradient penalty",
        fontsize=9,
    )
    return fig
