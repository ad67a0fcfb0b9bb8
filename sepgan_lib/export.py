"""``sepgan export``: a run's best separator as ONNX, with a JSON of what a runtime needs.

The converter is Keras' own ONNX export (``model.export(..., format="onnx")``, which drives
tf2onnx). The exported network is the open-time-axis twin of the saved separator (the same
weights, :func:`sepgan_lib.separate.open_twin`), so that a runtime tiles a song into windows
of any multiple of ``2**num_layers`` output frames exactly as :mod:`sepgan_lib.separate` does.

The JSON beside the model (``<name>.json``) holds the front-end (sample rate, STFT size and
hop, window, the model's bins, log1p), the network's shapes (input and output bins, input
and output frames of the training window and of the default tiling window, the context), the
post-filter the run separates with, the profile, and the run's health and evaluation
summary. The book's page "Separate your own song" reads it in the browser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import spectral
from .cache import write_text_atomic
from .config import PROFILES, Config, make_config
from .errors import SepganError
from .runfolder import read_json
from .separate import DEFAULT_WINDOW_FRAMES, load_run, open_twin
from .shapes import unet_shapes

FORMAT = "sepgan-onnx-1"
OUTPUTS = ("accompaniment", "vocals")  # the order of the ONNX model's outputs
PROFILE_KEYS = ("num_layers", "base_filters", "num_frames", "critic_filters", "batch_size")


def profile_of(config: Config) -> str:
    """The profile whose model and batch settings ``config`` has, else ``"custom"``."""
    for name in PROFILES:
        reference = make_config(name)
        if all(getattr(config, k) == getattr(reference, k) for k in PROFILE_KEYS):
            return name
    return "custom"


def evaluation_summary(run_dir: Path) -> list[dict[str, Any]]:
    """One entry per ``eval/*.json`` of the run: plan, split, post-filter, songs and the
    median SDR (and SDR improvement) of each source."""
    entries = []
    for path in sorted((Path(run_dir) / "eval").glob("*.json")):
        result = read_json(path, None)
        if not isinstance(result, dict) or "summary" not in result:
            continue
        entry = {k: result.get(k) for k in ("plan", "split", "postfilter")}
        entry["songs"] = len(result.get("tracks", []))
        for source in OUTPUTS:
            summary = result["summary"].get(source, {})
            for metric in ("SDR", "SDR_improvement"):
                entry[f"{source}_{metric}_median"] = (summary.get(metric) or {}).get("median")
        entries.append(entry)
    return entries


def describe(config: Config, f_in: int, run_dir: Path) -> dict[str, Any]:
    """The JSON written beside the ONNX model (see the module's docstring)."""
    layers = config.num_layers
    train = unet_shapes((spectral.MODEL_BINS, config.num_frames), layers)
    window = unet_shapes((spectral.MODEL_BINS, DEFAULT_WINDOW_FRAMES), layers)
    finished = read_json(Path(run_dir) / "finished.json", {}) or {}
    return {
        "format": FORMAT,
        "sample_rate": config.expected_sr,
        "n_fft": spectral.N_FFT,
        "hop": spectral.HOP,
        "window": "hann",
        "center": True,
        "bins": spectral.MODEL_BINS,
        "log": "log1p",
        "num_layers": layers,
        "frame_multiple": 2**layers,
        "input_bins": f_in,
        "output_bins": train.output[0],
        "input_frames": train.input[1],
        "output_frames": train.output[1],
        "window_output_frames": DEFAULT_WINDOW_FRAMES,
        "window_input_frames": window.input[1],
        "context_frames": window.context[1],
        "time_axis": "open",
        "input": "mixture",
        "outputs": list(OUTPUTS),
        "postfilter": config.postfilter,
        "postfilter_power": config.postfilter_power,
        "profile": profile_of(config),
        "seed": config.seed,
        "health": finished.get("health"),
        "best_epoch": finished.get("best_epoch"),
        "evaluation": evaluation_summary(run_dir),
    }


def export_run(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``RUN_DIR/best/separator.keras`` as ONNX to ``out`` (default
    ``RUN_DIR/export/separator.onnx``) and its JSON beside it; returns both paths."""
    import tensorflow as tf  # deferred: TensorFlow takes seconds to import

    run_dir = Path(run_dir)
    model, config = load_run(run_dir)
    out = Path(out) if out else run_dir / "export" / "separator.onnx"
    if out.suffix != ".onnx":
        raise SepganError(f"{out}: the output must be an .onnx file")
    out.parent.mkdir(parents=True, exist_ok=True)
    twin = open_twin(model, config)
    f_in = int(model.input_shape[1])
    spec = tf.TensorSpec([None, f_in, None, 1], tf.float32, name="mixture")
    partial = out.with_name(out.name + ".partial")
    try:
        twin.export(str(partial), format="onnx", input_signature=[spec], verbose=False)
    except Exception as err:  # the converter raises many types
        raise SepganError(
            f"{run_dir}: the ONNX export failed ({type(err).__name__}: {err})"
        ) from err
    partial.replace(out)
    info = describe(config, f_in, run_dir)
    json_path = out.with_suffix(".json")
    write_text_atomic(json_path, json.dumps(info, indent=2, allow_nan=False) + "\n")
    return out, json_path


def cli_export(args) -> int:
    """``sepgan export RUN_DIR [--out FILE]``."""
    onnx_path, json_path = export_run(args.run_dir, args.out)
    print(f"{args.run_dir} -> {onnx_path} and {json_path}")
    return 0
