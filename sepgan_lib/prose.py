"""The book's prose from its own run: numbers glued into the text, readings written by cells.

A chapter never types a measured number into its Markdown. It either glues the value
(myst-nb's ``glue``: the Markdown cites it as ``{glue:text}`key:.2f```) or writes the whole
reading from the numbers with :func:`say`, so that a build with another seed, plan or machine
writes its own sentences, verdicts included (:func:`trend`, :func:`signed`,
:func:`interval`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any


def glue(name: str, value: Any) -> Any:
    """Store ``value`` under ``name`` for the page's ``{glue:text}`name``` roles (not shown
    in the cell); returns ``value``. Without myst-nb (on Colab) nothing is stored."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # myst-nb comes with the book extra; a notebook runs without it
        return value
    myst_glue(name, value, display=False)
    return value


def glue_all(values: Mapping[str, Any], prefix: str = "") -> None:
    """:func:`glue` each ``prefix + key`` of ``values``."""
    for key, value in values.items():
        glue(prefix + key, value)


def say(text: str) -> None:
    """Display ``text`` (Markdown, dedented) as the cell's output: a reading of this run."""
    from IPython.display import Markdown, display

    display(Markdown(textwrap.dedent(text).strip()))


def signed(value: float, digits: int = 2) -> str:
    """``+3.38`` / ``-0.12``."""
    return f"{value:+.{digits}f}"


def interval(comparison: Mapping[str, Any], digits: int = 2, unit: str = " dB") -> str:
    """A paired comparison's median difference with its 95 % interval: ``+3.38 dB [+2.78,
    +3.90]`` (keys ``median_diff``, ``ci_low``, ``ci_high`` of ``compare.compare_results``)."""
    low, high = comparison["ci_low"], comparison["ci_high"]
    return (
        f"{signed(comparison['median_diff'], digits)}{unit} "
        f"[{signed(low, digits)}, {signed(high, digits)}]"
    )


def interval_verdict(comparison: Mapping[str, Any]) -> str:
    """Where the 95 % interval lies: ``"above zero"``, ``"below zero"`` or ``"includes
    zero"``."""
    if comparison["ci_low"] > 0:
        return "above zero"
    if comparison["ci_high"] < 0:
        return "below zero"
    return "includes zero"


def trend(
    start: float, end: float, rel: float = 0.02, words=("rose", "fell", "stayed level")
) -> str:
    """``"rose"``, ``"fell"`` or ``"stayed level"`` (within ``rel`` of ``start``) from
    ``start`` to ``end``."""
    if abs(end - start) <= rel * max(abs(start), 1e-12):
        return words[2]
    return words[0] if end > start else words[1]


def intervals_verdict(comparisons) -> str:
    """Where several paired comparisons' 95 % intervals lie, in words: ``"above zero in all
    3"``, ``"below zero in all 3"`` or ``"above zero in 1, below in 1 and across zero in 1 of
    3"``."""
    comparisons = list(comparisons)
    verdicts = [interval_verdict(c) for c in comparisons]
    n = len(verdicts)
    for side in ("above zero", "below zero"):
        if verdicts.count(side) == n:
            return f"{side} in all {n}"
    parts = [
        f"{word} in {verdicts.count(v)}"
        for v, word in (
            ("above zero", "above zero"),
            ("below zero", "below"),
            ("includes zero", "across zero"),
        )
        if verdicts.count(v)
    ]
    return (
        ", ".join(parts[:-1]) + f" and {parts[-1]} of {n}"
        if len(parts) > 1
        else f"{parts[0]} of {n}"
    )


def ratio_words(ratio: float) -> str:
    """How many times: ``"3.3 times"``, or ``"0.35 of"`` below 1 (two significant digits)."""
    return f"{ratio:.2g} times" if ratio >= 1 else f"{ratio:.2g} of"


__all__ = [
    "glue",
    "glue_all",
    "interval",
    "interval_verdict",
    "intervals_verdict",
    "ratio_words",
    "say",
    "signed",
    "trend",
]
