"""Separation speed in the browser (the book's page "Separate your own song") beside the
library's, in one run (issue 22).

    .venv/bin/python benchmarks/browser.py                  # cpu and paper models, 30 s clip
    .venv/bin/python benchmarks/browser.py --update-readme  # also rewrite the README's table

For each profile's separator (random weights: speed does not depend on them) the page's files
are published as the book publishes them (``webpage.publish``) into a temporary site with one
page holding the page's widget, served on 127.0.0.1 and opened in headless chromium (the
helpers of ``tests/test_book_separate_page.py``). A 30-second synthetic clip at 8192 Hz is fed
through the file input twice: the first run includes creating the onnxruntime-web session
(compiling the wasm, loading the model), the second is the steady state. The library's
``separate_audio`` runs on the same clip in this process, best of 3 after a first call.
Writes ``benchmarks/results_browser.json`` (date, commit, machine, chromium, load average at
start and end, every time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

import run as bench_run  # noqa: E402  (benchmarks/run.py: machine_info)
import test_book_separate_page as page_test  # noqa: E402
from book_profile import update_readme  # noqa: E402  (the README block between markers)

from sepgan_lib import spectral, webpage  # noqa: E402
from sepgan_lib.config import make_config  # noqa: E402
from sepgan_lib.separate import separate_audio  # noqa: E402
from sepgan_lib.shapes import unet_shapes  # noqa: E402
from sepgan_lib.synth import generate_song  # noqa: E402
from sepgan_lib.unet import build_separator  # noqa: E402

SR = 8192
SITE_PAGE = """<!doctype html>
<html data-content_root="../"><head><meta charset="utf-8"><title>sepgan: separation speed</title>
</head><body>{widget}</body></html>
"""


def make_run(folder: Path, profile: str):
    """A run folder with a separator of ``profile``'s size and random weights."""
    config = make_config(profile)
    shapes = unet_shapes((spectral.MODEL_BINS, config.num_frames), config.num_layers)
    model = build_separator(shapes.input, config.num_layers, config.base_filters)
    folder.mkdir(parents=True)
    config.save(folder / "config.json")
    (folder / "best").mkdir()
    model.save(folder / "best" / "separator.keras")
    return model, config


def library_speed(model, config, clip: np.ndarray, rounds: int = 3) -> dict:
    separate_audio(model, clip, config)  # the first call traces the tf.function
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        separate_audio(model, clip, config)
        times.append(time.perf_counter() - start)
    return {"times_s": times, "best_s": min(times), "x_real_time": len(clip) / SR / min(times)}


def browser_speed(run_dir: Path, clip_path: Path, work: Path, demo: np.ndarray) -> dict:
    site = work / "site"
    widget, published = webpage.publish({"benchmark": run_dir}, demo, SR, spectral.N_FFT, work)
    if published["problem"]:
        raise SystemExit(published["problem"])
    shutil.copytree(webpage.static_folder(work), site / "_static" / webpage.FOLDER)
    (site / "book").mkdir()
    (site / "book" / "page.html").write_text(SITE_PAGE.format(widget=widget._repr_html_()))
    copy = work / "second.wav"  # the same clip under another name: a second, warm run
    shutil.copy2(clip_path, copy)
    report = page_test.separate_in_page(
        site, [clip_path, copy], work / "chromium", page="book/page.html"
    )
    runs = [report[clip_path.name], report[copy.name]]
    for run in runs:
        if run["state"] != "done":
            raise SystemExit(f"the page did not separate the clip: {run['message']}")
    seconds = len(demo) / SR
    out = {}
    for label, run in zip(("first", "warm"), runs):
        result = run["result"]
        out[label] = {
            "total_s": result["seconds"],
            "x_real_time": result["clipSeconds"] / result["seconds"],
            "stft_s": result["times"]["stft"] / 1000,
            "network_s": result["times"]["network"] / 1000,
            "istft_s": result["times"]["istft"] / 1000,
        }
    out["clip_seconds"] = seconds
    return out


def chromium_version() -> str:
    from test_book import CHROMIUM

    done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def measure(profiles: list[str], seconds: float) -> dict:
    results = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "loadavg_start": list(os.getloadavg()),
        "machine": bench_run.machine_info(),
        "chromium": chromium_version(),
        "onnxruntime_web": json.loads((webpage.WEB / "package-lock.json").read_text())["packages"][
            "node_modules/onnxruntime-web"
        ]["version"],
        "clip_seconds": seconds,
        "profiles": {},
    }
    song = generate_song(5, seconds=seconds, sr=SR)["mixture"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip_path = tmp / "clip.wav"
        sf.write(clip_path, np.clip(song, -1, 1), SR, subtype="PCM_16")
        clip, _ = sf.read(clip_path, dtype="float32")
        for profile in profiles:
            model, config = make_run(tmp / profile / "run", profile)
            entry = {"parameters": int(model.count_params()), "postfilter": config.postfilter}
            entry["library"] = library_speed(model, config, clip)
            entry["browser"] = browser_speed(tmp / profile / "run", clip_path, tmp / profile, clip)
            results["profiles"][profile] = entry
            print(json.dumps({profile: entry}, indent=1), flush=True)
    results["loadavg_end"] = list(os.getloadavg())
    return results


def table(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Run of {results['started']} at commit {results['commit']} on {m['cpus']} cores "
        f"({m.get('cpu')}), {results['chromium']}, onnxruntime-web "
        f"{results['onnxruntime_web']} (wasm, 1 thread); load average "
        f"{results['loadavg_start'][0]:.1f} at start, {results['loadavg_end'][0]:.1f} at end; "
        f"a {results['clip_seconds']:.0f}-second clip at 8192 Hz.",
        "",
        "| separator | browser, warm (x real time) | browser, first run incl. session | "
        "browser network / STFT / iSTFT (s) | library `separate_audio` (x real time) |",
        "|---|---|---|---|---|",
    ]
    for profile, entry in results["profiles"].items():
        warm, first = entry["browser"]["warm"], entry["browser"]["first"]
        lines.append(
            f"| `{profile}` ({entry['parameters'] / 1e6:.2f} M parameters, post-filter "
            f"{entry['postfilter']}) | {warm['x_real_time']:.1f}x ({warm['total_s']:.2f} s) | "
            f"{first['x_real_time']:.1f}x ({first['total_s']:.2f} s) | "
            f"{warm['network_s']:.2f} / {warm['stft_s']:.2f} / {warm['istft_s']:.2f} | "
            f"{entry['library']['x_real_time']:.1f}x ({entry['library']['best_s']:.2f} s) |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="cpu,paper")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", default=str(HERE / "results_browser.json"))
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args(argv)
    results = measure([p.strip() for p in args.profiles.split(",")], args.seconds)
    results["table"] = table(results)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(results["table"])
    if args.update_readme:
        update_readme(results["table"], marker="browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
