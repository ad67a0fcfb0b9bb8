"""The library's layers (``[tool.importlinter]`` in pyproject.toml) hold every module, and the
contract fails on an import back up, also on one hidden inside a function."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11 on; the CI's Python has it
ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    return contract["layers"]


def test_every_module_has_a_layer():
    listed = {name.strip() for layer in _layers() for name in re.split(r"[|:]", layer)}
    modules = {p.stem for p in (ROOT / "sepgan_lib").glob("*.py") if p.stem != "__init__"}
    assert modules == listed, f"not in a layer: {modules - listed}; gone: {listed - modules}"


def _lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_contract_is_kept_and_fails_on_an_arrow_back_up(tmp_path):
    shutil.copytree(ROOT / "sepgan_lib", tmp_path / "sepgan_lib")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    kept = _lint(tmp_path)
    assert kept.returncode == 0, kept.stdout[-2000:]
    # the metrics under the health check reaching up to the run that calls it
    with open(tmp_path / "sepgan_lib" / "metrics.py", "a") as module:
        module.write("\n\ndef _back_up():\n    from . import health  # noqa: F401\n")
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "sepgan_lib.metrics is not allowed to import sepgan_lib.health" in broken.stdout


MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in sorted((ROOT / "sepgan_lib").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"split these functions: {long}"


def test_a_long_module_says_why_in_its_docstring():
    unexplained = []
    for path in sorted((ROOT / "sepgan_lib").glob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Why one module" not in doc:
                unexplained.append(path.name)
    assert not unexplained, f"split these modules or say why they are one: {unexplained}"
