"""The page "Separate your own song" in a real headless browser (Debian's chromium), served
from 127.0.0.1: a clip fed through the page's file input is separated in the browser
(onnxruntime-web, single-threaded wasm) into the vocals ``sepgan separate`` writes for the
same file, within 30 dB SNR; a file that is not audio, and a clip over the page's limit, get
the page's message instead of a frozen page.

The build is the session's shared smoke book (``smoke_book``); the browser is driven through
the DevTools protocol by the helpers of ``test_book.py``. ``separate_in_page`` is also what
``benchmarks/browser.py`` times.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import test_book

from sepgan_lib import cli, webpage

smoke_book = test_book.smoke_book  # the session's shared build (a fixture)
PAGE = "book/07_separate_your_own_song.html"
SR = 8192
MIN_SNR_DB = 30.0

STATE = """(() => {
  const root = document.querySelector('.sepgan-separate');
  return root ? {state: root.dataset.state,
                 message: root.querySelector('[data-part="message"]').textContent} : null;
})()"""
RESULT = """(() => {
  const s = window.sepganSeparation;
  return {model: s.model, vocals: Array.from(s.vocals), seconds: s.seconds,
          clipSeconds: s.clipSeconds, times: s.times};
})()"""

SUMMARY = "({model: window.sepganSeparation.model, samples: window.sepganSeparation.vocals.length})"
_ROOT = "document.querySelector('.sepgan-separate')"
CLICK_DEMO = f"{_ROOT}.dataset.state = 'fed'; {_ROOT}.querySelector('[data-part=demo]').click()"
SWITCH_MODEL = (
    f"{_ROOT}.dataset.state = 'fed'; const s = {_ROOT}.querySelector('select');"
    "s.selectedIndex = 1; s.dispatchEvent(new Event('change'))"
)


async def _wait_state(devtools, states, timeout: float) -> dict:
    deadline = time.time() + timeout
    while True:
        state = await devtools.evaluate(STATE)
        if state and state["state"] in states:
            return state
        if time.time() > deadline:
            raise TimeoutError(f"the page stayed at {state} for {timeout} s")
        await asyncio.sleep(0.1)


async def _feed(devtools, path: Path) -> None:
    """Choose ``path`` in the page's file input, as a reader would (DevTools
    ``DOM.setFileInputFiles``; the input's change event follows)."""
    await devtools.evaluate(
        "window.sepganSeparation = undefined;"
        "document.querySelector('.sepgan-separate').dataset.state = 'fed'"
    )
    document = await devtools.send("DOM.getDocument", {"depth": 0}, session=True)
    found = await devtools.send(
        "DOM.querySelector",
        {"nodeId": document["root"]["nodeId"], "selector": '.sepgan-separate input[type="file"]'},
        session=True,
    )
    await devtools.send(
        "DOM.setFileInputFiles", {"files": [str(path)], "nodeId": found["nodeId"]}, session=True
    )


def separate_in_page(
    html_dir: Path,
    clips: list[Path],
    profile_dir: Path,
    timeout: float = 300,
    page: str = PAGE,
    demo: bool = False,
) -> dict:
    """Open the page from a local server, feed each clip through the file input and wait for
    the page to finish; ``{"ready": state, "errors": [...], clip name: {"state", "message",
    "result"}}`` (``result``: the vocals and the page's timings, for a clip it separated).
    With ``demo``, then the demo button and a switch to the page's second model (``"demo"``,
    ``"switched"``: the model and the clip's length)."""
    browser = test_book._Chromium(profile_dir)
    report: dict = {}
    try:

        async def visit():
            async with test_book._DevTools(browser.ws_url) as devtools:
                opened = await devtools.open(f"{server.url}/{page}", settle=0.5)
                report["errors"] = opened["errors"]
                report["ready"] = await _wait_state(devtools, ("ready", "error", "missing"), 60)
                for clip in clips:
                    await _feed(devtools, clip)
                    state = await _wait_state(devtools, ("done", "error"), timeout)
                    result = await devtools.evaluate(RESULT) if state["state"] == "done" else None
                    report[clip.name] = {**state, "result": result}
                if demo:  # the build's demo clip, then the same clip with the other model
                    for action, key in ((CLICK_DEMO, "demo"), (SWITCH_MODEL, "switched")):
                        await devtools.evaluate(f"window.sepganSeparation = undefined; {action}")
                        state = await _wait_state(devtools, ("done", "error"), timeout)
                        summary = (
                            await devtools.evaluate(SUMMARY) if state["state"] == "done" else None
                        )
                        report[key] = {**state, "result": summary}

        with test_book._Server(html_dir) as server:
            asyncio.run(asyncio.wait_for(visit(), timeout * (len(clips) + 1)))
    finally:
        browser.close()
    return report


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = np.sum((reference - estimate) ** 2)
    return float(10 * np.log10(np.sum(reference**2) / max(error, 1e-30)))


def _clip(path: Path, seconds: float, seed: int) -> Path:
    """A stereo synthetic song at 8192 Hz (the page downmixes, as the library does)."""
    from sepgan_lib.synth import generate_song

    song = generate_song(seed, seconds=seconds, sr=SR)
    stereo = np.stack([song["mixture"], 0.6 * song["vocals"] + song["accompaniment"]], axis=1)
    sf.write(path, np.clip(stereo, -1, 1), SR, subtype="PCM_16")
    return path


def _semi_run(build_dir: Path) -> Path:
    (run,) = [p for p in (build_dir / "runs").glob("*-semi-*") if (p / "best").is_dir()]
    return run


@pytest.mark.slow
@pytest.mark.book
@pytest.mark.skipif(not test_book.CHROMIUM, reason="chromium is not installed")
def test_a_clip_is_separated_in_the_browser_as_sepgan_separate_does(smoke_book, tmp_path):
    html = smoke_book / "html"
    static = html / "_static" / webpage.FOLDER
    assert (static / "ort-wasm-simd-threaded.wasm").exists(), "the page's runtime is missing"
    clip = _clip(tmp_path / "my song.wav", 6.0, seed=77)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are words, not sound\n" * 50)
    too_long = tmp_path / "long.wav"
    sf.write(too_long, np.zeros(int((webpage.MAX_SECONDS + 5) * 8000), np.int16), 8000)
    report = separate_in_page(
        html, [clip, not_audio, too_long, clip], tmp_path / "profile", demo=True
    )
    assert not report["errors"], report["errors"]
    assert report["ready"]["state"] == "ready", report["ready"]
    assert report[not_audio.name]["state"] == "error"
    assert "cannot decode" in report[not_audio.name]["message"]
    assert report[too_long.name]["state"] == "error"
    assert f"at most {webpage.MAX_SECONDS} s" in report[too_long.name]["message"]
    done = report[clip.name]  # the same clip again after the two refusals: the page recovers
    assert done["state"] == "done", done["message"]
    browser_vocals = np.asarray(done["result"]["vocals"], np.float32)

    out = tmp_path / "separated"
    assert cli.main(["separate", str(_semi_run(smoke_book)), str(clip), "--out", str(out)]) == 0
    library_vocals, rate = sf.read(out / "my song" / "vocals.wav", dtype="float32")
    assert rate == SR and len(library_vocals) == len(browser_vocals)
    assert np.sqrt(np.mean(library_vocals**2)) > 1e-4, "silent vocals would prove nothing"
    assert snr_db(library_vocals, browser_vocals) >= MIN_SNR_DB
    # the page states the model the separation came from: the chapter's semi-supervised one
    assert done["result"]["model"] == "semi-supervised"
    info = json.loads((static / "models" / "semi-supervised.json").read_text())
    assert info["profile"] == "smoke" and info["sample_rate"] == SR
    demo_samples = sf.info(static / "demo.wav").frames
    assert report["demo"]["state"] == "done", report["demo"]["message"]
    assert report["demo"]["result"] == {"model": "semi-supervised", "samples": demo_samples}
    assert report["switched"]["state"] == "done", report["switched"]["message"]
    assert report["switched"]["result"] == {"model": "control", "samples": demo_samples}
