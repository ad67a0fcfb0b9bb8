"""The chapter notebooks: hygiene of the committed files, and every chapter executed in order.

The execution test uses the session's smoke-profile book build (``smoke_book``), shared with
``test_book.py`` so that the chapters execute once per test session (also under xdist: the
first worker builds, the others wait for it and reuse the result).
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import io
import json
import math
import os
import re
import time
import traceback
from pathlib import Path

import nbformat
import pytest

from sepgan_lib import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = book.chapter_notebooks(ROOT)
REQUIRED_PARAMETERS = {"profile", "plan", "roots", "run_root", "seed", "use_musdb_preview"}
# The shared smoke build runs with a seed other than the chapters' default (0), so that a
# number typed into the prose from a default build is one that this build did not write.
SMOKE_SEED = 1


# --------------------------------------------------------------------------------------------
# the shared smoke build
# --------------------------------------------------------------------------------------------
def _shared_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> Path:
    """``sepgan book --profile smoke --seed SMOKE_SEED --build-dir <tmp>``, built once per
    test session; the build folder (``html/``, ``source/`` with the executed notebooks,
    ``runs/``)."""
    from sepgan_lib.cli import main

    shared = _shared_dir(tmp_path_factory)
    build_dir = shared / "smoke-book"
    done = shared / "smoke-book.done.json"
    with open(shared / "smoke-book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                start = time.perf_counter()
                build_log = io.StringIO()  # the build's own lines: which chapter started when
                try:
                    with contextlib.redirect_stdout(build_log):
                        code = main(
                            [
                                "book",
                                "--profile",
                                "smoke",
                                "--seed",
                                str(SMOKE_SEED),
                                "--build-dir",
                                str(build_dir),
                            ]
                        )
                    status = {"code": code, "error": ""}
                except BaseException:  # keep the reason for the other workers
                    status = {"code": 1, "error": traceback.format_exc()}
                finally:
                    (shared / "smoke-book.log").write_text(build_log.getvalue())
                status["seconds"] = time.perf_counter() - start
                done.write_text(json.dumps(status))
            status = json.loads(done.read_text())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert status["code"] == 0, f"the smoke book build failed:\n{status['error']}"
    return build_dir


# --------------------------------------------------------------------------------------------
# hygiene of the committed notebooks
# --------------------------------------------------------------------------------------------
def _imports(source: str) -> bool:
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return "import " in source
    return any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree))


def _strip_magics(source: str) -> str:
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # " + stripped
        lines.append(line)
    return "\n".join(lines)


def test_toc_lists_the_chapters_in_order():
    files = [p.relative_to(ROOT).as_posix() for p in book.toc_files(ROOT)]
    assert files[0] == "book/intro.md"
    assert files[-3:] == [
        "book/07_reproducing_the_paper.md",
        "book/glossary.md",
        "book/bibliography.md",
    ]
    chapters = [p.name for p in NOTEBOOKS]
    assert chapters == sorted(chapters)
    assert chapters == [
        "01_audio_and_spectrograms.ipynb",
        "02_data_preparation.ipynb",
        "03_supervised_training.ipynb",
        "04_adversarial_training.ipynb",
        "05_evaluation.ipynb",
        "06_masks_phase_and_metrics.ipynb",
        "07_separate_your_own_song.ipynb",
    ]
    on_disk = sorted(p.name for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    assert on_disk == chapters, "every chapter notebook under book/ is listed in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_no_outputs_and_a_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has committed outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata, "committed widget state"
    assert "papermill" not in nb.metadata, "an executed notebook was committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_of_literals_before_any_import(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    index = tagged[0]
    assert not any(_imports(c.source) for c in code[:index]), "an import before the parameters"
    tree = ast.parse(code[index].source)
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.Assign), f"{path.name}: not an assignment: {ast.dump(node)}"
        assert len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ast.literal_eval(node.value)  # raises on anything but a literal
        names.add(node.targets[0].id)
    assert REQUIRED_PARAMETERS <= names, f"{path.name}: missing {REQUIRED_PARAMETERS - names}"
    assert not _imports(code[index].source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_installs_only_on_colab_and_imports_the_library(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[1].source
    assert 'if "google.colab" in sys.modules:' in setup
    assert f"git+{book.repository_url(ROOT)}" in setup
    install = [line for line in setup.splitlines() if "pip install" in line]
    assert install and all(line.startswith("    ") for line in install), "install only in Colab"
    assert "import sepgan_lib" in setup
    assert "chapters.setup_chapter(" in setup


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_shape(path):
    nb = nbformat.read(path, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert markdown[0].startswith("# "), "the chapter starts with its title"
    text = "\n".join(markdown)
    assert "## Summary" in text and "## Exercises" in text
    assert text.index("## Summary") > text.index("# "), "summary at the end"
    assert "## Exercises" in markdown[-1], "the chapter ends with its exercises"
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "chapter.save_figures(figures)" in source
    # Library code is shown with show_source, never pasted: no notebook function shadows a
    # library function.
    import sepgan_lib

    library = set()
    for module in sepgan_lib.__doc__.split("``")[1::2]:
        try:
            library |= set(dir(__import__(f"sepgan_lib.{module}", fromlist=["_"])))
        except ImportError:
            pass
    defined = {
        node.name
        for cell in nb.cells
        if cell.cell_type == "code"
        for node in ast.walk(ast.parse(_strip_magics(cell.source)))
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }
    assert not defined & library, f"{path.name} redefines library code: {defined & library}"


# --------------------------------------------------------------------------------------------
# execution (smoke profile, in order, one run_root)
# --------------------------------------------------------------------------------------------
def _finite_numbers(value, where=""):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        assert math.isfinite(value), f"{where} = {value}"
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _finite_numbers(v, f"{where}.{k}")
        return
    assert isinstance(value, list), f"{where}: {type(value)}"
    for i, v in enumerate(value):
        _finite_numbers(v, f"{where}[{i}]")


def _reject_constant(name):
    raise ValueError(f"non-finite number {name} in a figures JSON")


@pytest.mark.slow
@pytest.mark.book
def test_every_chapter_executes_in_order_and_writes_its_figures(smoke_book):
    for path in NOTEBOOKS:
        executed = smoke_book / "source" / path.relative_to(ROOT)
        nb = nbformat.read(executed, as_version=4)
        meta = nb.metadata["papermill"]
        assert meta["parameters"]["profile"] == "smoke"
        assert meta["parameters"]["seed"] == SMOKE_SEED
        assert meta["parameters"]["run_root"] == str(smoke_book / "runs")
        assert meta["exception"] in (None, False), f"{path.name} raised"
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert output.output_type != "error", f"{path.name}: {output}"
        html_outputs = [
            "".join(output.get("data", {}).get("text/html", ""))
            for cell in nb.cells
            for output in cell.get("outputs", [])
        ]
        assert any("sepgan-widget" in h for h in html_outputs), f"{path.name}: no widget"
        figures = smoke_book / "runs" / "figures" / f"{path.stem}.json"
        assert figures.exists(), f"{path.name} did not write {figures}"
        data = json.loads(figures.read_text(), parse_constant=_reject_constant)
        assert data, f"{figures} is empty"
        _finite_numbers(data, path.stem)
    # started in the order of _toc.yml (once the book's runs are trained, book.execute_chapters
    # starts a chapter beside the one still running: their ends need not be in order). The
    # build's log, not papermill's start times: two chapters started within a second record
    # their kernels' start in either order
    log = (smoke_book.parent / "smoke-book.log").read_text()
    started = re.findall(r"^\[\d+/\d+\] (\S+) \.\.\.", log, flags=re.MULTILINE)
    expected = [f"{path.parent.name}/{path.name}" for path in NOTEBOOKS]
    assert started == expected, f"the chapters started in the order of _toc.yml:\n{log}"
