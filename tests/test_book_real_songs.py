"""The book on real songs: the smoke build on the shared MUSDB18-7 train songs and the MIR-1K
subset (a MUSDB folder without its test subset: chapter 5 must test on ``test_mir1k``)."""

from __future__ import annotations

import json

import pytest
import test_notebooks
from prose_numbers import scan_build

from sepgan_lib.book import build_book, toc_files

ROOT = test_notebooks.ROOT


@pytest.mark.book
@pytest.mark.slow
def test_the_smoke_book_builds_on_the_shared_real_songs(musdb7_root, mir1k_root, tmp_path):
    build_dir = tmp_path / "real"
    index = build_book(
        "smoke",
        plan="musdb7",
        roots=[f"musdb={musdb7_root}", f"mir1k={mir1k_root}"],
        build_dir=build_dir,
        log=lambda line: None,
    )
    assert index.exists()
    for source in toc_files(ROOT):
        page = (build_dir / "html" / source.relative_to(ROOT)).with_suffix(".html")
        assert page.exists(), f"no page for {source.name}"
        text = page.read_text()
        assert "Traceback" not in text, f"{page.name} shows a traceback"
        if source.suffix == ".ipynb":
            assert "<audio" in text, f"{page.name}: no audio player"
            assert "data plan" in text and "musdb7" in text, f"{page.name}: the data is not named"
    evaluation = (build_dir / "html" / "book" / "05_evaluation.html").read_text()
    assert "test_mir1k" in evaluation  # no MUSDB test subset here: the named test set is used
    figures = json.loads((build_dir / "runs" / "figures" / "05_evaluation.json").read_text())
    assert figures
    # every measured number of the prose is one this build on real songs wrote
    found = {chapter: hits for chapter, hits in scan_build(build_dir).items() if hits}
    assert not found, f"numbers the build did not write: {found}"
    for source in toc_files(ROOT):  # no path of the building machine on a page
        page = (build_dir / "html" / source.relative_to(ROOT)).with_suffix(".html")
        assert str(musdb7_root) not in page.read_text(), f"{page.name} shows {musdb7_root}"
