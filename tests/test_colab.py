"""The chapters' Colab install line comes from ``_config.yml`` (``repository.url``), and a
simulated Colab session installs the library from that line and runs chapter 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from sepgan_lib import book, errors

ROOT = Path(__file__).resolve().parents[1]


def _copy_book(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "book", source / "book")
    return source


def _set_repository(source: Path, url: str) -> None:
    config = yaml.safe_load((source / "_config.yml").read_text())
    config["repository"]["url"] = url
    (source / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def test_committed_install_cells_agree_with_config():
    assert book.install_cell_mismatches(ROOT) == []


def test_a_new_repository_address_is_written_into_every_chapter_and_nothing_else(tmp_path):
    source = _copy_book(tmp_path)
    before = {p.name: nbformat.read(p, as_version=4) for p in book.chapter_notebooks(source)}
    _set_repository(source, "https://example.org/someone/fork")
    assert len(book.install_cell_mismatches(source)) == len(before)  # the check sees it

    changed = book.sync_install_cells(source)

    assert sorted(p.name for p in changed) == sorted(before)
    assert book.install_cell_mismatches(source) == []
    for path in book.chapter_notebooks(source):
        old, new = before[path.name], nbformat.read(path, as_version=4)
        assert len(old.cells) == len(new.cells)
        differing = [i for i, (a, b) in enumerate(zip(old.cells, new.cells)) if a != b]
        assert len(differing) == 1, f"{path.name}: cells {differing} changed"
        old_lines = old.cells[differing[0]].source.split("\n")
        new_lines = new.cells[differing[0]].source.split("\n")
        changed_lines = [b for a, b in zip(old_lines, new_lines) if a != b]
        assert changed_lines == ["    %pip install -q git+https://example.org/someone/fork"]
    assert book.sync_install_cells(source) == []  # a second run changes nothing


def test_a_setup_cell_without_an_install_line_is_refused(tmp_path):
    source = _copy_book(tmp_path)
    first = book.chapter_notebooks(source)[0]
    nb = nbformat.read(first, as_version=4)
    setup = [c for c in nb.cells if c.cell_type == "code"][1]
    setup.source = "\n".join(
        line for line in setup.source.split("\n") if "%pip install" not in line
    )
    nbformat.write(nb, first)
    assert any(first.name in problem for problem in book.install_cell_mismatches(source))
    with pytest.raises(errors.BookError, match="one '%pip install -q git\\+' line"):
        book.sync_install_cells(source)
