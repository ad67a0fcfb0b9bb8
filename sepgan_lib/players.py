"""Listening widgets that work on the static page: plain HTML and a few lines of JavaScript.

The book is read mostly as built HTML, where no kernel answers an ipywidgets control. These
widgets therefore hold every choice they offer in the page itself (a picture and a player per
choice) and switch between them in the browser: they work the same in the built book, in
Jupyter and on Colab, with no kernel and no network.

- :func:`ab_listening`: a blind A/B between two estimates, switched while playing, with a
  reveal button; the answer is not in the page's text until it is revealed.
- :func:`choice_view`: pick a combination of options (model, song, source, ...); shows its
  spectrogram and its player. :func:`separation_explorer` and :func:`spectrogram_explorer`
  are two uses of it.

Signals are mono float arrays ``[samples]`` at ``sr`` Hz.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .display import HTMLBlock, _img_tag, figure_png, spectrogram_image, wav_bytes

# One function for every widget of a page, defined once (idempotent) by each widget's script.
_SCRIPT = """
<script>
window.sepganWidgets = window.sepganWidgets || {
  show(root, key) {
    let time = 0, playing = false;
    root.querySelectorAll(':scope .sepgan-panel').forEach(panel => {
      const audio = panel.querySelector('audio');
      if (panel.style.display !== 'none' && audio) {
        time = audio.currentTime; playing = !audio.paused; audio.pause();
      }
    });
    root.querySelectorAll(':scope .sepgan-panel').forEach(panel => {
      const on = panel.dataset.key === key;
      panel.style.display = on ? '' : 'none';
      const audio = panel.querySelector('audio');
      if (on && audio && audio.dataset.copy && !audio.src) {  // a clip held by another panel
        audio.src = document.getElementById(audio.dataset.copy).querySelector('source').src;
      }
      if (on && audio) {
        try { audio.currentTime = Math.min(time, audio.duration || time); } catch (e) {}
        if (playing) audio.play().catch(() => {});
      }
    });
    root.dataset.showing = key;
  },
  pick(root) {
    const key = Array.from(root.querySelectorAll(':scope select')).map(s => s.value).join('|');
    this.show(root, key);
  },
  ab(root, name) {
    root.querySelectorAll(':scope .sepgan-ab-button').forEach(b => {
      b.classList.toggle('sepgan-active', b.dataset.name === name);
      b.style.fontWeight = b.dataset.name === name ? 'bold' : 'normal';
    });
    this.show(root, name);
  },
  reveal(root) {
    root.querySelector(':scope .sepgan-answer').textContent = atob(root.dataset.answer);
  },
};
</script>
"""

_BUTTON = (
    'style="margin: 0 6px 0 0; padding: 3px 14px; border: 1px solid #888; border-radius: 4px; '
    'background: #f4f4f4; cursor: pointer;"'
)


def _uid(*parts: object) -> str:
    return "sepgan-" + hashlib.sha1(repr(parts).encode()).hexdigest()[:12]


def _audio_tag(audio: np.ndarray, sr: int, label: str) -> str:
    data = base64.b64encode(wav_bytes(audio, sr)).decode("ascii")
    return (
        f'<audio controls preload="metadata" title="{html.escape(label)}" '
        'style="width: 100%; max-width: 420px;">'
        f'<source src="data:audio/wav;base64,{data}" type="audio/wav"></audio>'
    )


def _mp3_audio_tag(audio: np.ndarray, sr: int, label: str, element_id: str = "") -> str:
    """A player with ``audio`` as MP3 at 16 kHz (MPEG has no 8192 Hz rate), a fifth of the
    WAV's size, for explorers that embed dozens of clips; WAV where libsndfile has no MP3."""
    import io

    import soundfile as sf
    import soxr

    audio = np.nan_to_num(np.asarray(audio, np.float32).reshape(-1))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    audio = audio * (0.99 / peak) if peak > 0.99 else audio
    buffer = io.BytesIO()
    try:
        sf.write(buffer, soxr.resample(audio, sr, 16000), 16000, format="MP3")
    except (sf.LibsndfileError, TypeError, ValueError):  # libsndfile before 1.1: no MP3
        return _audio_tag(audio, sr, label).replace("<audio ", f'<audio id="{element_id}" ', 1)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<audio id="{element_id}" controls preload="metadata" title="{html.escape(label)}" '
        'style="width: 100%; max-width: 420px;">'
        f'<source src="data:audio/mpeg;base64,{data}" type="audio/mpeg"></audio>'
    )


def spectrogram_png(
    audio: np.ndarray,
    sr: int,
    title: str,
    top_db: float = 80.0,
    ref: float | None = None,
    colorbar: bool = False,
    **kwargs,
) -> bytes:
    """A PNG of ``audio``'s dB spectrogram (0 dB = ``ref``, the loudest bin by default)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 2.4), constrained_layout=True)
    spectrogram_image(
        ax, audio, sr, title=title, top_db=top_db, ref=ref, colorbar=colorbar, **kwargs
    )
    return figure_png(fig)


def quick_spectrogram(
    audio: np.ndarray, sr: int, title: str, n_fft: int = 512, hop: int = 256, top_db: float = 80.0
) -> str:
    """An ``<img>`` of ``audio``'s dB spectrogram, one pixel a bin and a frame (no axes: the
    caption names the ranges). Fast enough to draw every choice of an explorer in advance."""
    import io

    import matplotlib.image

    from .display import _db, _magnitude

    db = _db(_magnitude(np.asarray(audio, np.float32), n_fft, hop), top_db)
    buffer = io.BytesIO()
    # JPEG: a spectrogram's noise floor makes a PNG ten times larger for no visible gain
    matplotlib.image.imsave(
        buffer,
        db[::-1],
        cmap="magma",
        vmin=-top_db,
        vmax=0.0,
        format="jpeg",
        pil_kwargs={"quality": 80},
    )
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    caption = (
        f"{title}: 0 to {len(audio) / sr:.1f} s (left to right), 0 to {sr // 2} Hz (bottom to "
        f"top), the loudest bin 0 dB, black -{top_db:g} dB"
    )
    return (
        f'<img alt="{html.escape(title)}" src="data:image/jpeg;base64,{data}" style="width: 100%; '
        'max-width: 640px; height: 220px; image-rendering: pixelated;">'
        f'<div style="font-size: 0.85em;">{html.escape(caption)}</div>'
    )


def error_spectrogram_png(
    estimate: np.ndarray, truth: np.ndarray, sr: int, title: str, top_db: float = 60.0
) -> bytes:
    """The spectrogram of ``estimate - truth`` on a fixed scale: 0 dB is the loudest bin of
    the true source, so two estimates' errors compare by colour (with a colour bar)."""
    from .display import _magnitude

    n = min(len(estimate), len(truth))
    reference = float(np.max(_magnitude(np.asarray(truth[:n], np.float32)))) or 1.0
    error = np.asarray(estimate[:n], np.float32) - np.asarray(truth[:n], np.float32)
    return spectrogram_png(error, sr, title, top_db=top_db, ref=reference, colorbar=True)


def _panel(key: str, body: str, shown: bool) -> str:
    style = "" if shown else ' style="display: none;"'
    return f'<div class="sepgan-panel" data-key="{html.escape(key)}"{style}>{body}</div>'


def ab_listening(
    a: np.ndarray,
    b: np.ndarray,
    sr: int,
    labels: tuple[str, str] = ("A", "B"),
    seed: int = 0,
    title: str = "Blind A/B",
    truth: np.ndarray | None = None,
    listen_for: str | None = None,
) -> HTMLBlock:
    """A blind A/B of two signals ``[samples]``: buttons A and B switch the player (at the
    same time in the excerpt) and its spectrogram; with ``truth``, each choice also shows its
    error spectrogram (estimate minus truth, on one fixed dB scale). Which label is A is drawn
    from ``seed``; the answer is stored encoded and written into the page only on "reveal".
    """
    pair = [(labels[0], a), (labels[1], b)]
    if np.random.default_rng(seed).random() < 0.5:
        pair.reverse()
    uid = _uid("ab", title, seed, len(a), len(b))
    panels = []
    from .display import _magnitude

    loudest = max(float(np.max(_magnitude(np.asarray(x, np.float32)))) for _, x in pair)
    for k, (name, (_, audio)) in enumerate(zip("AB", pair)):
        # one dB scale for both (0 dB: the louder one's loudest bin), so loudness compares too
        png = spectrogram_png(audio, sr, f"{name}: spectrogram", ref=loudest or None)
        body = _img_tag(png, f"{name} spectrogram")
        if truth is not None:
            png = error_spectrogram_png(audio, truth, sr, f"{name}: error (estimate - truth)")
            body += _img_tag(png, f"{name} error spectrogram")
        body = f"<div>{_audio_tag(audio, sr, name)}</div>{body}"
        panels.append(_panel(name, body, shown=k == 0))
    answer = f"A = {pair[0][0]}, B = {pair[1][0]}"
    call = f"window.sepganWidgets.%s(document.getElementById('{uid}'), %s)"
    buttons = "".join(
        f'<button type="button" class="sepgan-ab-button" data-name="{name}" {_BUTTON} '
        f'onclick="{call % ("ab", repr(name))}">{name}</button>'
        for name in "AB"
    )
    reveal = (
        f'<button type="button" class="sepgan-reveal" {_BUTTON} '
        f'onclick="{call % ("reveal", "")}">reveal</button>'
    )
    hint = f'<div style="margin: 4px 0;">{html.escape(listen_for)}</div>' if listen_for else ""
    encoded = base64.b64encode(answer.encode()).decode("ascii")
    body = (
        f'<div class="sepgan-widget sepgan-ab" id="{uid}" data-showing="A" '
        f'data-answer="{encoded}">'
        f"<div><b>{html.escape(title)}</b></div>{hint}"
        f'<div style="margin: 6px 0;">{buttons}{reveal} '
        '<span class="sepgan-answer" style="margin-left: 8px; font-weight: bold;"></span></div>'
        f"{''.join(panels)}</div>{_SCRIPT}"
    )
    return HTMLBlock(body, f"<blind A/B: {title}>")


def choice_view(
    controls: Mapping[str, Sequence[str]],
    render: Callable[..., tuple[str | None, np.ndarray | None]],
    sr: int,
    title: str,
) -> HTMLBlock:
    """A picker over every combination of ``controls`` (``{"model": [...], "song": [...]}``):
    ``render(*choice)`` gives each combination's picture (HTML) and audio (either may be
    ``None``). Every
    combination is rendered now and held in the page; identical audio is embedded once."""
    names = list(controls)
    uid = _uid("choice", title, json.dumps({k: list(v) for k, v in controls.items()}))
    panels, players = [], {}
    for k, choice in enumerate(itertools.product(*controls.values())):
        picture, audio = render(*choice)
        body = ""
        if audio is not None:
            digest = hashlib.sha1(np.ascontiguousarray(audio, np.float32).tobytes()).hexdigest()
            element = f"{uid}-{digest[:12]}"
            if digest in players:  # the same clip again: a player that borrows its data
                tag = (
                    f'<audio controls preload="none" data-copy="{element}" '
                    'style="width: 100%; max-width: 420px;"></audio>'
                )
            else:
                players[digest] = tag = _mp3_audio_tag(audio, sr, " / ".join(choice), element)
            body += f"<div>{tag}</div>"
        if picture is not None:
            body = picture + body
        panels.append(_panel("|".join(choice), body, shown=k == 0))
    selects = "".join(
        f'<label style="margin-right: 10px;">{html.escape(name)} '
        f"<select onchange=\"window.sepganWidgets.pick(document.getElementById('{uid}'))\">"
        + "".join(f"<option>{html.escape(str(o))}</option>" for o in options)
        + "</select></label>"
        for name, options in controls.items()
    )
    first = "|".join(str(options[0]) for options in controls.values())
    body = (
        f'<div class="sepgan-widget sepgan-choice" id="{uid}" data-showing="{html.escape(first)}">'
        f'<div><b>{html.escape(title)}</b></div><div style="margin: 6px 0;">{selects}</div>'
        f"{''.join(panels)}</div>{_SCRIPT}"
    )
    return HTMLBlock(body, f"<choice view: {title}: {', '.join(names)}>")


def separation_explorer(
    results: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
    sr: int,
    title: str = "Choose a model, a song and a source",
    seconds: float | None = 6.0,
) -> HTMLBlock:
    """Precomputed signals ``results[model][song][source] -> [samples]`` behind three
    pickers; each choice shows its spectrogram and player (the first ``seconds`` of it)."""
    models = list(results)
    songs = list(results[models[0]])
    sources = list(results[models[0]][songs[0]])
    limit = None if seconds is None else int(seconds * sr)

    def render(model, song, source):
        audio = np.asarray(results[model][song][source], np.float32)[:limit]
        return quick_spectrogram(audio, sr, f"{model}: {song}, {source}"), audio

    return choice_view({"model": models, "song": songs, "source": sources}, render, sr, title)


def spectrogram_explorer(
    signals: Mapping[str, np.ndarray],
    sr: int,
    title: str = "Spectrogram explorer",
    n_ffts: Sequence[int] = (128, 256, 512, 1024, 2048),
    hops: Sequence[int] = (2, 4),
    top_dbs: Sequence[int] = (40, 80),
    seconds: float = 5.0,
) -> HTMLBlock:
    """One signal's dB spectrogram at each FFT size, hop (``n_fft / h``) and dynamic range
    (the first ``seconds``); the model's front-end is 512 / 256."""
    excerpts = {name: np.asarray(s, np.float32)[: int(seconds * sr)] for name, s in signals.items()}
    controls = {
        "signal": list(excerpts),
        "n_fft": [str(n) for n in n_ffts],
        "hop": [f"n_fft / {h}" for h in hops],
        "range (dB)": [str(d) for d in top_dbs],
    }

    def render(name, n_fft, hop, top_db):
        n_fft, top_db = int(n_fft), float(top_db)
        step = n_fft // int(hop.split("/")[1])
        title = f"{name}, n_fft {n_fft}, hop {step}"
        return quick_spectrogram(excerpts[name], sr, title, n_fft, step, top_db), None

    return choice_view(controls, render, sr, title)


__all__ = [
    "ab_listening",
    "choice_view",
    "error_spectrogram_png",
    "quick_spectrogram",
    "separation_explorer",
    "spectrogram_explorer",
    "spectrogram_png",
]
