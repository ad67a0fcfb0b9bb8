"""The built book (smoke profile): pages, audio players, the static widgets, and the pages
opened in a real headless browser (Debian's chromium) without JavaScript errors, where the
blind A/B is clicked: it switches what plays and keeps its answer hidden until revealed.

The build is the session's ``smoke_book`` fixture (in ``test_notebooks.py``), so the chapters
execute once per test session. The browser is driven through the DevTools protocol over a
websocket (tornado's client, already installed with Jupyter). External hosts are mapped to
"not found" so that the test behaves the same online and offline: a page must work offline.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import nbformat
import pytest
import test_notebooks

from sepgan_lib import book, errors

NOTEBOOKS, ROOT = test_notebooks.NOTEBOOKS, test_notebooks.ROOT
smoke_book = test_notebooks.smoke_book  # the session's shared build (a fixture)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM and Path("/usr/bin/chromium").exists():
    CHROMIUM = "/usr/bin/chromium"


def _page(html_dir: Path, source: Path) -> Path:
    return html_dir / source.relative_to(ROOT).with_suffix(".html")


# --------------------------------------------------------------------------------------------
# static checks of the built HTML
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.book
def test_every_page_is_built(smoke_book):
    html = smoke_book / "html"
    assert (html / "index.html").exists()
    for source in book.toc_files(ROOT):
        page = _page(html, source)
        assert page.exists(), f"no page for {source.name}"
        text = page.read_text()
        assert "Traceback" not in text, f"{page.name} shows a traceback"
    # the intro's diagram is copied into the build
    assert list((html / "_images").glob("method*.png"))


@pytest.mark.slow
@pytest.mark.book
def test_chapter_pages_have_players_and_static_widgets(smoke_book):
    html = smoke_book / "html"
    for notebook in NOTEBOOKS:
        page = _page(html, notebook).read_text()
        assert page.count("<audio") >= 2, f"{notebook.stem}: no audio players"
        assert "data:audio/wav;base64," in page
        assert 'class="sepgan-widget' in page, f"{notebook.stem}: no widget"
        assert "window.sepganWidgets" in page, f"{notebook.stem}: the widgets' script is gone"
        assert "application/vnd.jupyter.widget" not in page, f"{notebook.stem}: a kernel widget"
        assert "data:image/png;base64," in page or "_images/" in page


@pytest.mark.slow
@pytest.mark.book
def test_pages_show_no_path_of_the_building_machine(smoke_book):
    html = smoke_book / "html"
    for notebook in NOTEBOOKS:
        page = _page(html, notebook).read_text()
        for path in (str(smoke_book), str(Path.home() / ".cache"), str(ROOT)):
            assert path not in page, f"{notebook.stem} shows {path}"


@pytest.mark.slow
@pytest.mark.book
def test_figures_of_every_chapter_are_finite(smoke_book):
    for notebook in NOTEBOOKS:
        path = smoke_book / "runs" / "figures" / f"{notebook.stem}.json"
        text = path.read_text()
        assert "NaN" not in text and "Infinity" not in text


# --------------------------------------------------------------------------------------------
# a failing chapter stops the build with its path and error
# --------------------------------------------------------------------------------------------
def test_failing_chapter_stops_the_build_with_its_path_and_error(tmp_path):
    source = tmp_path / "src"
    (source / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", source / "_config.yml")
    (source / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/01_broken\n"
        "  - file: book/02_never\n"
    )
    (source / "book" / "intro.md").write_text("# Intro\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell('profile = "cpu"\nrun_root = "runs"\nroots = {}')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise ValueError('chapter is broken')")]
    nbformat.write(nb, source / "book" / "01_broken.ipynb")
    never = nbformat.v4.new_notebook()
    never.metadata["kernelspec"] = nb.metadata["kernelspec"]
    never.cells = [nbformat.v4.new_code_cell("open('ran', 'w').write('x')")]
    nbformat.write(never, source / "book" / "02_never.ipynb")
    lines = []
    with pytest.raises(errors.BookError) as info:
        book.build_book("smoke", build_dir=tmp_path / "out", source=source, log=lines.append)
    message = str(info.value)
    assert "01_broken.ipynb" in message and "ValueError: chapter is broken" in message
    assert not (tmp_path / "out" / "source" / "book" / "ran").exists(), "the build went on"
    assert not (tmp_path / "out" / "html").exists()
    assert any("[1/2]" in line for line in lines)


def test_parse_roots_and_toc():
    assert book.chapter_roots(["musdb=/data/x"]) == {"musdb": str(Path("/data/x").resolve())}
    assert book.chapter_roots({"mir1k": "/d"}) == {"mir1k": "/d"}
    with pytest.raises(errors.BookError):
        book.chapter_roots(["no-equals"])
    assert [p.stem for p in book.toc_files(ROOT)][0] == "intro"


# --------------------------------------------------------------------------------------------
# the book in a real headless browser
# --------------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


class _Server:
    """``html_dir`` served on 127.0.0.1 (a random free port) in a background thread."""

    def __init__(self, html_dir: Path):
        handler = functools.partial(_QuietHandler, directory=str(html_dir))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Chromium:
    """Headless chromium with its DevTools endpoint (``--remote-debugging-port=0``)."""

    def __init__(self, profile_dir: Path):
        self.profile_dir = profile_dir
        command = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--mute-audio",
            "--autoplay-policy=no-user-gesture-required",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile_dir}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        active = profile_dir / "DevToolsActivePort"
        deadline = time.time() + 30
        while time.time() < deadline:
            if active.exists() and len(active.read_text().splitlines()) >= 2:
                port, path = active.read_text().splitlines()[:2]
                self.ws_url = f"ws://127.0.0.1:{port}{path}"
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited: {self.process.stderr.read()[-2000:]}")
            time.sleep(0.1)
        self.close()
        raise RuntimeError("chromium did not open its DevTools port in 30 s")

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


class _DevTools:
    """A minimal DevTools protocol client (one page session, flattened) on tornado."""

    def __init__(self, ws_url: str):
        self.ws_url = ws_url
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []

    async def __aenter__(self):
        from tornado.websocket import websocket_connect

        self.ws = await websocket_connect(self.ws_url, max_message_size=256 * 1024 * 1024)
        self.reader = asyncio.ensure_future(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable", session=True)
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        self.ws.close()

    async def _read(self):
        while True:
            message = await self.ws.read_message()
            if message is None:
                return
            data = json.loads(message)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, params: dict | None = None, session: bool = False):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.write_message(json.dumps(message))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        return result["result"].get("value")

    async def open(self, url: str, settle: float = 1.5) -> dict:
        """Navigate to ``url``, wait for the load event and ``settle`` seconds; return the
        page's errors and a description of its audio players."""
        self.events.clear()
        await self.send("Page.navigate", {"url": url}, session=True)
        deadline = time.time() + 60
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if time.time() > deadline:
                raise TimeoutError(f"{url} did not load in 60 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle)
        players = await self.evaluate(
            """(async () => {
                // a player that borrows another's clip (data-copy) loads it when shown
                const audios = Array.from(document.querySelectorAll('audio:not([data-copy])'));
                const ready = a => new Promise(done => {
                    if (a.readyState >= 1 || a.error) return done();
                    a.addEventListener('loadedmetadata', done, {once: true});
                    a.addEventListener('error', done, {once: true});
                    a.load();
                    setTimeout(done, 5000);
                });
                await Promise.all(audios.map(ready));
                return {
                    title: document.title,
                    audio: audios.length,
                    audio_errors: audios.filter(a => a.error).length,
                    audio_durations: audios.map(a => a.duration),
                    widgets: document.querySelectorAll('.sepgan-widget').length,
                    broken_images: Array.from(document.images).filter(
                        i => i.complete && i.naturalWidth === 0).map(i => i.src.slice(0, 80)),
                    body_text: document.body.innerText.length,
                };
            })()"""
        )
        errors, offline = [], []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                errors.append(f"exception: {text} at {details.get('url', '')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                args = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                errors.append(f"console.error: {args}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                local = entry.get("url", "").startswith(("http://127.0.0.1", "data:"))
                if entry.get("source") == "network" and not local:
                    offline.append(entry.get("url", ""))  # an external host (CDN), mapped away
                else:
                    errors.append(
                        f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}"
                    )
        return {**players, "errors": errors, "external_failed": offline}


@pytest.mark.slow
@pytest.mark.book
@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (scripts/system-deps.sh)")
def test_pages_render_in_headless_chromium_without_javascript_errors(smoke_book, tmp_path):
    html = smoke_book / "html"
    pages = [_page(html, source) for source in book.toc_files(ROOT)]
    browser = _Chromium(tmp_path / "chromium-profile")
    reports = {}
    try:

        async def visit_all():
            async with _DevTools(browser.ws_url) as devtools:
                for page in pages:
                    url = f"{server.url}/{page.relative_to(html).as_posix()}"
                    reports[page.stem] = await devtools.open(url)

        with _Server(html) as server:
            asyncio.run(asyncio.wait_for(visit_all(), 300))
    finally:
        browser.close()
    for source in book.toc_files(ROOT):
        report = reports[source.stem]
        assert not report["errors"], f"{source.stem}: {report['errors']}"
        assert report["body_text"] > 500, f"{source.stem}: the page is (nearly) empty"
        assert not report["broken_images"], f"{source.stem}: {report['broken_images']}"
    for notebook in NOTEBOOKS:
        report = reports[notebook.stem]
        assert report["audio"] >= 2, f"{notebook.stem}: {report['audio']} audio players"
        assert report["audio_errors"] == 0, f"{notebook.stem}: players that cannot play"
        assert all(d and d > 0 for d in report["audio_durations"]), report["audio_durations"]
        assert report["widgets"] >= 1, f"{notebook.stem}: no widget in the DOM"
    if os.environ.get("SEPGAN_BROWSER_REPORT"):
        Path(os.environ["SEPGAN_BROWSER_REPORT"]).write_text(json.dumps(reports, indent=2))


# what the blind A/B of a page shows: which panel is visible, what its answer says, whether a
# label of the models is anywhere in the visible text
AB_STATE = """(() => {
    const ab = document.querySelector('.sepgan-ab');
    const visible = Array.from(ab.querySelectorAll('.sepgan-panel'))
        .filter(p => p.style.display !== 'none').map(p => p.dataset.key);
    const audio = ab.querySelector('.sepgan-panel:not([style*="none"]) audio');
    return {visible, answer: ab.querySelector('.sepgan-answer').textContent,
            text: ab.innerText, playing: audio ? !audio.paused : null,
            source: audio ? Array.from(audio.querySelector('source').src).reduce(
                (h, c) => (h * 31 + c.charCodeAt(0)) | 0, 0) : null};
})()"""


def _click(label: str) -> str:
    return (
        "Array.from(document.querySelector('.sepgan-ab').querySelectorAll('button'))"
        f".find(b => b.textContent === '{label}').click()"
    )


@pytest.mark.slow
@pytest.mark.book
@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (scripts/system-deps.sh)")
def test_blind_ab_switches_and_stays_blind_until_revealed_without_a_kernel(smoke_book, tmp_path):
    html = smoke_book / "html"
    page = _page(html, ROOT / "book" / "05_evaluation.ipynb")
    labels = ("control", "semi-supervised")
    browser = _Chromium(tmp_path / "chromium-profile")
    states = {}
    try:

        async def listen():
            async with _DevTools(browser.ws_url) as devtools:
                await devtools.open(f"{server.url}/{page.relative_to(html).as_posix()}")
                states["start"] = await devtools.evaluate(AB_STATE)
                await devtools.evaluate(
                    "document.querySelector('.sepgan-ab .sepgan-panel audio').play()"
                )
                await devtools.evaluate(_click("B"))
                states["B"] = await devtools.evaluate(AB_STATE)
                await devtools.evaluate(_click("A"))
                states["A"] = await devtools.evaluate(AB_STATE)
                await devtools.evaluate(_click("reveal"))
                states["revealed"] = await devtools.evaluate(AB_STATE)

        with _Server(html) as server:
            asyncio.run(asyncio.wait_for(listen(), 120))
    finally:
        browser.close()
    assert states["start"]["visible"] == ["A"]
    assert states["B"]["visible"] == ["B"] and states["A"]["visible"] == ["A"]
    assert states["B"]["source"] != states["A"]["source"], "switching did not change the sound"
    assert states["B"]["playing"], "the switch stopped the playback"
    for state in ("start", "B", "A"):
        assert states[state]["answer"] == ""
        assert not any(label in states[state]["text"] for label in labels), states[state]["text"]
    revealed = states["revealed"]["answer"]
    assert all(label in revealed for label in labels), revealed


def test_the_chapters_that_train_or_read_the_runs_start_the_background_training():
    uses = {nb.stem[:2]: book.uses_runs(nb) for nb in book.chapter_notebooks(ROOT)}
    assert uses == {"01": False, "02": False, "03": True, "04": True, "05": True, "06": True,
                    "07": True}  # fmt: skip
