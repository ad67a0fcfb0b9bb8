"""The page "Separate your own song" without a browser: its files, and its message when the
book is built without Node.js and npm."""

from __future__ import annotations

import shutil

import pytest

from sepgan_lib import webpage


def _web_copy(tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    for name in ("package.json", "package-lock.json", "separate.mjs"):
        shutil.copy2(webpage.WEB / name, web / name)
    return web


def test_without_npm_the_book_builds_and_the_page_says_what_it_needs(tmp_path, monkeypatch):
    web = _web_copy(tmp_path)
    monkeypatch.setattr(webpage.shutil, "which", lambda name: None)
    problem = webpage.write_scripts(tmp_path / "out", web)
    assert problem == webpage.NEEDS and "npm" in problem and "Node.js" in problem
    assert not (tmp_path / "out").exists()
    widget = webpage.separate_widget(None, None, 8192, 512, problem)._repr_html_()
    assert problem in widget and "<script" not in widget and 'data-state="missing"' in widget


def test_the_widget_loads_its_scripts_from_the_books_static_folder():
    models = [{"key": "semi", "label": "semi-supervised", "onnx": "m.onnx", "json": "m.json"}]
    widget = webpage.separate_widget(models, "demo.wav", 8192, 512)._repr_html_()
    assert '<script type="module">' in widget and "_static/separate/" in widget
    assert '<option value="semi">semi-supervised</option>' in widget
    for part in ("file", "demo", "model", "progress", "message", "player-vocals"):
        assert f'data-part="{part}"' in widget
    assert f'"maxSeconds": {webpage.MAX_SECONDS}' in widget


@pytest.mark.skipif(not shutil.which("npm"), reason="npm is not installed")
def test_npm_packages_are_installed_from_the_lock_file_and_copied(tmp_path):
    web = _web_copy(tmp_path)
    assert webpage.write_scripts(tmp_path / "out", web) is None
    assert (web / "node_modules" / ".package-lock.json").exists()
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert set(webpage.ORT_FILES) | {"fft.mjs", "separate.mjs"} <= names
    assert (tmp_path / "out" / "fft.mjs").read_text().endswith("export default module.exports;\n")
    assert not any(name.endswith(".js") for name in names), "jupyter-book would add a .js"
