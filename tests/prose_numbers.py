"""Numbers in a built book's prose that its own run did not write.

Every decimal number in a chapter's Markdown cells must be one that the executed notebook's
outputs (glued values included) or the chapter's figures JSON hold, at the precision the
prose gives it; a published figure is excepted in a sentence that cites its source
(``{cite}``). Glue roles (``{glue:text}`key```) are the run's own numbers and are skipped.

Run on a build folder: ``python tests/prose_numbers.py _build`` lists what it finds.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

NUMBER = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![\w.]*\d)")
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+")
CODE_SPAN = re.compile(r"`[^`\n]*`")  # code, not a measurement
MATH_DISPLAY = re.compile(r"\$\$.*?\$\$", re.S)
SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z(*-])|\n\s*\n|\n\s*[-*] ")


def _without_code_blocks(text: str) -> str:
    """``text`` less its fenced code blocks (```bash ...```); directives (```{admonition}
    ...```) are prose and stay."""
    kept, fences = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            info = stripped[3:].strip()
            if info:
                fences.append("prose" if info.startswith("{") else "code")
            elif fences:
                fences.pop()
            continue
        if "code" not in fences:
            kept.append(line)
    return "\n".join(kept)


def _output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append("".join(output["text"]))
        for value in output.get("data", {}).values():
            if isinstance(value, list):
                value = "".join(value)
            if isinstance(value, str) and not value.startswith(("iVBOR", "/9j/")):
                parts.append(value)
    return "\n".join(parts)


def _numbers_in(value) -> list[float]:
    """Every number inside a JSON value (and in its strings)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, str):
        return [float(m) for m in NUMBER.findall(value)]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _numbers_in(k) + _numbers_in(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers_in(v)]
    return []


def _held(token: str, written: list[float]) -> bool:
    """Is the prose number ``token`` one of ``written`` at the precision it is given?"""
    decimals = len(token.split(".")[1])
    value = float(token)
    tolerance = 0.5 * 10**-decimals + 1e-9
    return any(abs(abs(x) - abs(value)) <= tolerance for x in written)


def unheld_numbers(notebook: Path, figures: Path | None = None) -> list[tuple[str, str]]:
    """``(number, sentence)`` for each decimal in ``notebook``'s Markdown cells that neither
    its outputs nor ``figures`` (a JSON file) hold."""
    cells = json.loads(notebook.read_text())["cells"]
    written: list[float] = []
    for cell in cells:
        written += [float(m) for m in NUMBER.findall(_output_text(cell))]
    if figures is not None and figures.exists():
        written += _numbers_in(json.loads(figures.read_text()))
    found = []
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        text = GLUE_ROLE.sub(" ", _without_code_blocks(text))
        text = CODE_SPAN.sub(" ", MATH_DISPLAY.sub(" ", LINK_TARGET.sub(" ", text)))
        for sentence in SENTENCE_END.split(text):
            if "{cite" in sentence:
                continue
            for token in NUMBER.findall(sentence):
                if not _held(token, written):
                    found.append((token, " ".join(sentence.split())))
    return found


def scan_build(build_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """:func:`unheld_numbers` of every executed chapter of a ``sepgan book`` build folder."""
    report = {}
    for notebook in sorted((build_dir / "source" / "book").glob("*.ipynb")):
        figures = build_dir / "runs" / "figures" / f"{notebook.stem}.json"
        report[notebook.stem] = unheld_numbers(notebook, figures)
    return report


if __name__ == "__main__":
    for chapter, found in scan_build(Path(sys.argv[1])).items():
        print(f"{chapter}: {len(found)}")
        for token, sentence in found:
            print(f"  {token}: {sentence[:160]}")
