"""Chapters 3 and 4 train in the page: their loops are there, call the library's steps, and
the chapters' own helpers agree with what they stand for (read from the committed JSON, no
execution of the book)."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import numpy as np

from sepgan_lib import plots

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_3 = ROOT / "book" / "03_supervised_training.ipynb"
CHAPTER_4 = ROOT / "book" / "04_adversarial_training.ipynb"


def code_cells(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def calls_in_loops(source: str) -> set[str]:
    """Dotted names called inside ``for`` loops of ``source`` (e.g. ``steps.update_critic``)."""
    called = set()
    for loop in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.For)):
        for node in ast.walk(loop):
            if isinstance(node, ast.Call):
                called.add(ast.unparse(node.func))
    return called


def test_chapter_3_trains_with_update_supervised_in_a_loop():
    cells = code_cells(CHAPTER_3)
    loops = [s for s in cells if "for _ in range(in_page_steps)" in s]
    assert len(loops) == 1, "one in-page training loop"
    called = calls_in_loops(loops[0])
    assert "supervised_step" in called and "next" in called  # a fresh batch each step
    source = "\n".join(cells)
    assert "supervised_step = tf.function(steps.update_supervised)" in source
    assert "pipeline.paired_dataset(" in source
    assert "keras.utils.set_random_seed(config.seed)" in source
    assert 'in_page_steps = 10 if chapter.profile == "smoke" else 300' in source
    # the in-page loop comes before the long run that chapters 4 and 5 reuse
    assert source.index("for _ in range(in_page_steps)") < source.index("train.train(run_dir")


def test_chapter_4_semi_loop_uses_the_library_steps():
    source = "\n".join(code_cells(CHAPTER_4))
    tree = ast.parse(next(s for s in code_cells(CHAPTER_4) if "def semi_loop(" in s))
    loop = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "semi_loop")
    called = calls_in_loops(ast.unparse(loop))
    assert {"critics_fn", "separator_fn", "gradients_fn"} <= called
    for name, step in (
        ("critics_fn", "update_critics"),
        ("separator_fn", "update_separator"),
        ("gradients_fn", "loss_term_gradients"),
    ):
        assert f"tf.function(steps.{step})" in source, f"{name} is not steps.{step}"
    assert 'separator.keras"' in source and 'chapter.run_dir("supervised")' in source
    # the two failure demonstrations run the same loop
    compact = "".join(source.split())
    assert "semi_loop(1000*config.alpha," in compact
    assert "critic_lr=0.0)" in compact or "critic_lr=0.0," in compact


def test_both_chapters_show_the_health_check_and_no_engine_internals():
    for path in (CHAPTER_3, CHAPTER_4):
        source = "\n".join(code_cells(path))
        assert "health.format_health(" in source and "health.failed(" in source
        assert '["health"]["remedy"]' in source or 'run_health["remedy"]' in source
        assert "Trainer._" not in source, f"{path.name} shows engine plumbing"


def test_the_chapters_smooth_with_the_library_moving_average_a_trailing_mean():
    values = np.random.default_rng(0).random(50)
    smoothed = plots.moving_average(values, 7)
    expected = [values[max(0, i - 6) : i + 1].mean() for i in range(len(values))]
    np.testing.assert_allclose(smoothed, expected, rtol=1e-12)
    for path in (CHAPTER_3, CHAPTER_4):
        source = "\n".join(code_cells(path))
        assert "plots.moving_average(" in source and "def moving_average" not in source
