"""Every measured number in the built book's prose is one its own run wrote.

The shared smoke build runs with a seed other than the chapters' default
(``test_notebooks.SMOKE_SEED``): a number typed into a page from an earlier build is then,
almost surely, one that this build did not write, and the scan names it with its sentence."""

from __future__ import annotations

import json

import pytest
import test_notebooks
from prose_numbers import unheld_numbers

smoke_book = test_notebooks.smoke_book  # the session's shared build (a fixture)


def _notebook(tmp_path, markdown: str, output: str):
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [markdown]},
        {
            "cell_type": "code",
            "metadata": {},
            "source": [],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": [output]}],
        },
    ]
    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    return path


def test_a_typed_number_is_found_and_a_written_one_is_not(tmp_path):
    page = _notebook(
        tmp_path,
        "The gain was 3.72 dB. The loss fell to 0.0214, see {glue:text}`loss:.3f`. Wave-U-Net "
        "reaches 4.97 dB {cite}`stoller2018waveunet`. Call `generate_song(0, 10.0)`.",
        "semi minus control +3.3821 dB\nloss 0.02139",
    )
    assert unheld_numbers(page) == [("3.72", "The gain was 3.72 dB.")]


def test_figures_json_holds_numbers_too(tmp_path):
    page = _notebook(tmp_path, "It ran 47.3 s.", "nothing")
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps({"seconds": 47.31}))
    assert unheld_numbers(page, figures) == []
    assert unheld_numbers(page) == [("47.3", "It ran 47.3 s.")]


@pytest.mark.slow
@pytest.mark.book
def test_no_chapter_prose_holds_a_number_its_run_did_not_write(smoke_book):
    from prose_numbers import scan_build

    found = {chapter: hits for chapter, hits in scan_build(smoke_book).items() if hits}
    assert not found, "numbers the build did not write: " + "; ".join(
        f"{chapter}: {token} in '{sentence[:120]}'"
        for chapter, hits in found.items()
        for token, sentence in hits
    )


def test_code_blocks_are_left_out_and_answers_are_read(tmp_path):
    page = _notebook(
        tmp_path,
        "Run\n\n```bash\npython x.py --lr 0.5\n```\n\n```{admonition} Answer\n:class: dropdown\n"
        "We measured 8.36 dB.\n```\n",
        "nothing",
    )
    assert [token for token, _ in unheld_numbers(page)] == ["8.36"]
