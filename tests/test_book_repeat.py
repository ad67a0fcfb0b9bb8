"""One story per seed: the training chapters built again with the same seed give the same
key figures (initial weights, batches and gradient-penalty draws all come from the seed)."""

from __future__ import annotations

import json

import pytest
import test_notebooks

from sepgan_lib.book import build_book

smoke_book = test_notebooks.smoke_book  # the session's shared build (a fixture)
TRAINING_CHAPTERS = ("03_supervised_training", "04_adversarial_training", "05_evaluation")


def _without_timings(value):
    """The figures less wall-clock times (the machine's load changes those, not the model)."""
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if "seconds" not in k and "time" not in k
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.book
@pytest.mark.slow
def test_the_same_seed_builds_the_same_figures(smoke_book, tmp_path):
    again = tmp_path / "again"
    build_book("smoke", build_dir=again, chapters=[f"book/{c}.ipynb" for c in TRAINING_CHAPTERS])
    for chapter in TRAINING_CHAPTERS:
        first = json.loads((smoke_book / "runs" / "figures" / f"{chapter}.json").read_text())
        second = json.loads((again / "runs" / "figures" / f"{chapter}.json").read_text())
        assert _without_timings(second) == _without_timings(first), chapter
