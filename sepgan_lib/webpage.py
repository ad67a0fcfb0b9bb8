"""The book's page "Separate your own song": the trained separator in the reader's browser.

The page's work happens in the browser (``web/separate.mjs``: Web Audio decoding at 8192 Hz,
the STFT with the npm package ``fft.js``, the U-Net with ``onnxruntime-web`` in
single-threaded WebAssembly, the tiling of :mod:`sepgan_lib.separate`, the inverse STFT).
This module prepares what it loads, all into one folder that the build copies into the built
book's ``_static/separate/`` (:data:`sepgan_lib.book.STATIC`), so that the page works from any
static host, offline once built:

- the npm packages, from the npm registry at build time (``npm ci`` in ``web/``, with the
  committed ``package-lock.json``; ``node_modules`` is never committed): onnxruntime-web's
  wasm build and ``fft.js`` (a CommonJS file, wrapped as an ES module here);
- the chapter's separators as ONNX with their JSON (:func:`sepgan_lib.export.export_run`);
- the build's demo clip (a WAV).

Without Node.js and npm the book still builds; the page then says what it needs.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import audio as audio_io
from .book import STATIC
from .display import HTMLBlock
from .export import export_run
from .paths import ROOT

WEB = ROOT / "web"
FOLDER = "separate"  # under the built book's _static/
MAX_SECONDS = 600  # the longest clip the page separates (memory of a phone's browser tab)
ORT = Path("node_modules") / "onnxruntime-web" / "dist"
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
FFT = Path("node_modules") / "fft.js" / "lib" / "fft.js"
NEEDS = (
    "This page needs the npm packages onnxruntime-web and fft.js, installed when the book is "
    "built: install Node.js and npm (Debian: apt-get install nodejs npm) and build the book "
    "again (make book)."
)


def static_folder(run_root: str | Path) -> Path:
    """Where the page's files are written: ``<run_root>/static/separate``."""
    return Path(run_root) / STATIC / FOLDER


def install_packages(web: Path = WEB) -> str | None:
    """``npm ci`` in ``web/`` unless its ``node_modules`` matches the lock file; None when the
    packages are there, else what is missing (no npm, or npm's error)."""
    installed = web / "node_modules" / ".package-lock.json"
    lock = web / "package-lock.json"
    if not lock.exists():  # an installed package (Colab) has no web/ folder
        return f"{NEEDS} Its files are in the repository's web/ folder, absent here."
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        if all((web / ORT / name).exists() for name in ORT_FILES) and (web / FFT).exists():
            return None
    npm = shutil.which("npm")
    if npm is None:
        return NEEDS
    done = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=web,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tail = " ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        return f"{NEEDS} (npm ci failed: {tail})"
    return None


def write_scripts(out: Path, web: Path = WEB) -> str | None:
    """Copy the page's script and the npm packages' files into ``out``; None when done, else
    what is missing (:func:`install_packages`)."""
    problem = install_packages(web)
    if problem:
        return problem
    out.mkdir(parents=True, exist_ok=True)
    for name in ORT_FILES:
        shutil.copy2(web / ORT / name, out / name)
    # fft.js is CommonJS (`module.exports = FFT`): the page imports it as an ES module
    source = (web / FFT).read_text()
    wrapped = f"const module = {{ exports: {{}} }};\n{source}\nexport default module.exports;\n"
    (out / "fft.mjs").write_text(wrapped)
    shutil.copy2(web / "separate.mjs", out / "separate.mjs")
    return None


def export_models(runs: Mapping[str, Path], out: Path) -> list[dict]:
    """Each run's best separator as ``out/models/<key>.onnx`` with its JSON; the page's list
    ``[{"key", "label", "onnx", "json"}]`` (``runs``: label -> run folder)."""
    models = []
    for label, run_dir in runs.items():
        key = "".join(c if c.isalnum() else "-" for c in label.lower())
        onnx_path, json_path = export_run(run_dir, out / "models" / f"{key}.onnx")
        models.append(
            {
                "key": key,
                "label": label,
                "onnx": onnx_path.relative_to(out).as_posix(),
                "json": json_path.relative_to(out).as_posix(),
            }
        )
    return models


def write_demo(mixture: np.ndarray, sr: int, out: Path, name: str = "demo.wav") -> str:
    """The build's demo clip as a 16-bit WAV in ``out``; its file name."""
    audio_io.write_wav(out / name, np.clip(np.asarray(mixture, np.float32), -1, 1), sr)
    return name


_CONTROLS = """
<div class="sepgan-separate" data-state="loading" style="border: 1px solid #ccc;
     border-radius: 6px; padding: 10px; margin: 8px 0;">
  <div style="display: flex; flex-wrap: wrap; gap: 10px; align-items: center;">
    <label>Your clip: <input type="file" accept="audio/*,video/*" data-part="file"></label>
    <button type="button" data-part="demo" {button}>Use the demo clip</button>
    <label>Model: <select data-part="model">{options}</select></label>
  </div>
  <progress data-part="progress" max="1" value="0" style="width: 100%; margin: 8px 0;"></progress>
  <div data-part="message" role="status" style="font-weight: bold;">{message}</div>
  <div data-part="results" hidden>
    <p>Mixture</p><canvas data-part="spectrogram-mixture" {canvas}></canvas>
    {sources}
  </div>
</div>
"""
_SOURCE = """
    <p>{title}: <span data-part="player-{name}"></span>
       <a data-part="download-{name}" href="#">download (WAV)</a></p>
    <canvas data-part="spectrogram-{name}" {canvas}></canvas>
"""
_BUTTON = 'style="padding: 3px 14px; border: 1px solid #888; border-radius: 4px;"'
_CANVAS = 'style="width: 100%; height: 160px; image-rendering: pixelated;"'
_LOADER = """
<script type="module">
(() => {{
  const widget = document.getElementById({uid});
  const content = document.documentElement.dataset.content_root ?? {fallback};
  const base = new URL(content + {folder}, document.baseURI).href;
  import(base + 'separate.mjs')
    .then(module => module.mount(widget, {{ ...{options}, base }}))
    .catch(err => {{
      widget.querySelector('[data-part="message"]').textContent =
        'The page could not load its scripts (' + err.message + '). Open the built book from ' +
        'a web server (python -m http.server in _build/html), not as a file.';
      widget.dataset.state = 'error';
    }});
}})();
</script>
"""


def separate_widget(
    models: list[dict] | None,
    demo: str | None,
    sr: int,
    n_fft: int,
    problem: str | None = None,
    depth: int = 1,
) -> HTMLBlock:
    """The page's file picker, demo button, model choice, progress bar, message, players,
    downloads and spectrogram canvases; ``problem`` (no npm packages) is shown instead of
    loading the scripts. ``depth``: the page's folders below the book's root (``book/``)."""
    keys = repr((demo, [m["key"] for m in models or []])).encode()
    uid = "sepgan-separate-" + hashlib.sha1(keys).hexdigest()[:10]
    options = "".join(
        f'<option value="{html.escape(m["key"])}">{html.escape(m["label"])}</option>'
        for m in models or []
    )
    sources = "".join(
        _SOURCE.format(title=t, name=n, canvas=_CANVAS)
        for t, n in (("Vocals", "vocals"), ("Accompaniment", "accompaniment"))
    )
    message = html.escape(problem or "Loading the page's scripts ...")
    body = _CONTROLS.format(
        button=_BUTTON, options=options, message=message, sources=sources, canvas=_CANVAS
    ).replace('class="sepgan-separate"', f'class="sepgan-separate" id="{uid}"', 1)
    if problem:
        return HTMLBlock(body.replace('data-state="loading"', 'data-state="missing"'), problem)
    page_options = {
        "models": models,
        "demo": demo,
        "sampleRate": sr,
        "nFft": n_fft,
        "maxSeconds": MAX_SECONDS,
    }
    loader = _LOADER.format(
        uid=json.dumps(uid),
        fallback=json.dumps("../" * depth),
        folder=json.dumps(f"_static/{FOLDER}/"),
        options=json.dumps(page_options),
    )
    return HTMLBlock(body + loader, "<the page's separator (runs in the built book)>")


def publish(
    runs: Mapping[str, Path], demo: np.ndarray, sr: int, n_fft: int, run_root: Path
) -> tuple[HTMLBlock, dict]:
    """Everything the page needs in :func:`static_folder`: scripts, models, demo clip; the
    widget and a record ``{"problem", "models", "bytes"}``."""
    out = static_folder(run_root)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    problem = write_scripts(out)
    models = export_models(runs, out)
    name = write_demo(demo, sr, out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    widget = separate_widget(models, name, sr, n_fft, problem)
    return widget, {"problem": problem, "models": models, "bytes": size}
