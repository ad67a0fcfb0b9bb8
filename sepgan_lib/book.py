"""``sepgan book``: execute every chapter with papermill, then build the book with Jupyter Book.

1. The book's sources (``_config.yml``, ``_toc.yml``, ``references.bib``, ``book/``) are copied into a staging
   folder ``<build-dir>/source``.
2. Each chapter notebook listed in ``_toc.yml`` is executed in reading order by papermill
   (kernel ``python3`` of the running interpreter) with the parameters ``profile``, ``plan``,
   ``roots`` and ``run_root`` (``<build-dir>/runs``, shared by the chapters so that a later
   chapter reuses the training runs of an earlier one, and by later builds). The executed
   notebook replaces the staged copy. A failing chapter stops the build with the notebook's
   path and the error.
   While the chapters run, the book's three training runs (the fair test of
   :mod:`.fair_comparison`: supervised, then control and semi) are trained in a background
   process (:func:`start_training`) in the very folders the chapters train them in; a chapter
   that reaches its ``train`` call while the background trainer holds that run folder waits
   for it (:data:`.runfolder.WAIT_FOR_LOCK`) and reuses the finished run. Once the background
   training is done, no chapter trains anything any more: a chapter starts beside the one
   still running, two at a time, each in a process of its own (:func:`execute_chapters`). Each chapter's figures
   are those of a build without the background: the same runs of the same seed, trained by
   the same call in another process.
3. ``jupyter-book build`` runs on the staged copy with execution off (no second execution) and
   warnings as errors; the HTML ends in ``<build-dir>/html`` (``_build/html/index.html``).

Why one module of about 600 lines: one job, the build from the sources to the HTML, in the
order it happens (the table of contents, the install line, the chapters' execution and its
background training, staging, Jupyter Book, the Sphinx hook its ``_config.yml`` names).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from . import sidebyside
from .config import make_config
from .errors import BookError, ConfigError, DataError
from .paths import ROOT
from .plans import load_plan, parse_roots
from .runfolder import WAIT_FOR_LOCK

KERNEL_NAME = "python3"
# the kernels' own logging (e.g. "Kernel is running over TCP without encryption" per chapter)
# is hidden unless `sepgan --debug book`
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]
# and the log lines around a chapter that fails or is interrupted ("Kernel died while waiting
# for execute reply", asyncio's "Task exception was never retrieved"): the BookError or
# `sepgan: interrupted` says it once
QUIET_LOGGERS = ("papermill", "asyncio")
BIBLIOGRAPHY = "references.bib"
BOOK_PLAN = "synthetic_shift"  # the chapters' default data plan (their parameters cell)
# A chapter that names one of these trains (or reuses) the book's runs.
USES_RUNS = ("chapter.run_dir(", "chapter.train_runs(")
# Chapters at a time once no chapter trains any more (this machine's 2 cores).
CHAPTERS_AT_ONCE = 2
# Files a chapter leaves in <run_root>/static/ (the page "Separate your own song": models,
# wasm, scripts) are copied into the built book's _static/ after the HTML build.
STATIC = "static"


# --------------------------------------------------------------------------------------------
# the table of contents
# --------------------------------------------------------------------------------------------
def _resolve(source: Path, entry: str) -> Path:
    path = source / entry
    if path.suffix:
        return path
    for suffix in (".ipynb", ".md"):
        if path.with_suffix(suffix).exists():
            return path.with_suffix(suffix)
    raise BookError(f"{source / '_toc.yml'}: no .ipynb or .md file for {entry!r}")


def _toc_entries(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, Mapping):
        if "file" in node:
            out.append(str(node["file"]))
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                out.extend(_toc_entries(child))
    elif isinstance(node, list):
        for child in node:
            out.extend(_toc_entries(child))
    return out


def toc_files(source: str | Path = ROOT) -> list[Path]:
    """Every page of ``_toc.yml`` in reading order (root first), as paths under ``source``."""
    source = Path(source)
    toc = yaml.safe_load((source / "_toc.yml").read_text())
    entries = [str(toc["root"])] + _toc_entries(toc)
    return [_resolve(source, e) for e in entries]


def chapter_notebooks(source: str | Path = ROOT) -> list[Path]:
    """The chapter notebooks of ``_toc.yml``, in reading order."""
    return [p for p in toc_files(source) if p.suffix == ".ipynb"]


def repository_url(source: str | Path = ROOT) -> str:
    """``repository.url`` of ``_config.yml`` (where Colab installs the library from)."""
    config = yaml.safe_load((Path(source) / "_config.yml").read_text())
    return str(config["repository"]["url"])


INSTALL_PREFIX = "%pip install -q git+"


def install_line(source: str | Path = ROOT) -> str:
    """The chapters' Colab install line (inside ``if "google.colab" in sys.modules:``): pip
    from ``repository.url`` of ``_config.yml``, the one place the address is written."""
    return f"    {INSTALL_PREFIX}{repository_url(source)}"


def _with_install_line(cell_source: str, line: str) -> str:
    lines = cell_source.split("\n")
    hits = [i for i, text in enumerate(lines) if text.strip().startswith(INSTALL_PREFIX)]
    if len(hits) != 1:
        raise BookError(
            f"expected one {INSTALL_PREFIX!r} line in the setup cell, found {len(hits)}"
        )
    lines[hits[0]] = line
    return "\n".join(lines)


def sync_install_cells(source: str | Path = ROOT) -> list[Path]:
    """Rewrite the Colab install line of every chapter from ``_config.yml`` and return the
    chapters that changed. Colab opens the *committed* notebook, so the address must be in
    the file itself; only that one line of the setup cell (the first code cell after the
    parameters) is touched, keeping the diff of a chapter to one line."""
    import nbformat  # deferred: the book extra

    line = install_line(source)
    changed = []
    for path in chapter_notebooks(source):
        nb = nbformat.read(path, as_version=4)
        setup = _setup_cell(nb, path)
        updated = _with_install_line(setup.source, line)
        if updated != setup.source:
            setup.source = updated
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def _setup_cell(nb, path: Path):
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    tagged = [i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", [])]
    if len(tagged) != 1 or tagged[0] + 1 >= len(code):
        raise BookError(f"{path}: no setup cell after a single 'parameters' cell")
    return code[tagged[0] + 1]


def install_cell_mismatches(source: str | Path = ROOT) -> list[str]:
    """``"<chapter>: <its install line>"`` for every chapter whose install line is not the one
    :func:`sync_install_cells` would write (empty when all agree with ``_config.yml``)."""
    import nbformat  # deferred: the book extra

    line = install_line(source)
    problems = []
    for path in chapter_notebooks(source):
        setup = _setup_cell(nbformat.read(path, as_version=4), path)
        found = [t for t in setup.source.split("\n") if t.strip().startswith(INSTALL_PREFIX)]
        if found != [line]:
            problems.append(f"{path.name}: {found or 'no install line'}")
    return problems


# --------------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------------
def chapter_roots(roots: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """Dataset roots (``["musdb=/data/MUSDB18-7"]`` or ``{"musdb": ...}``) as a chapter's
    parameter: ``{"musdb": "/abs/path"}``, absolute path strings that papermill can pass."""
    try:
        parsed = parse_roots(roots)
    except DataError as err:
        raise BookError(str(err)) from err
    return {name: str(path.resolve()) for name, path in parsed.items()}


def ensure_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Make sure a ``python3`` kernel of this interpreter exists (install it in ``sys.prefix``)."""
    from jupyter_client.kernelspec import (  # deferred: the book extra
        KernelSpecManager,
        NoSuchKernel,
    )

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
        argv0 = spec.argv[0] if spec.argv else ""
        # jupyter_client replaces a bare "python" by sys.executable; anything else must be us.
        if (
            argv0 in ("python", "python3")
            or Path(argv0).resolve() == Path(sys.executable).resolve()
        ):
            return kernel_name
    except NoSuchKernel:
        pass
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", kernel_name],
        check=True,
        capture_output=True,
    )
    return kernel_name


def _error_text(err: BaseException) -> str:
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    return f"{ename}: {evalue}"


def execute_chapter(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    cwd: Path,
    kernel_name: str = KERNEL_NAME,
    timeout: int | None = None,
    quiet: bool = True,
) -> Path:
    """Execute one chapter with papermill into ``output``; a failure raises :class:`BookError`
    naming the notebook and the error (the partly executed notebook stays at ``output``).
    ``quiet``: the kernel logs errors only."""
    import papermill  # deferred: the book extra
    from papermill.exceptions import PapermillExecutionError  # the book extra

    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name,
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
            extra_arguments=QUIET_KERNEL if quiet else [],
        )
        fold_parameter_cells(output)
    except PapermillExecutionError as err:
        raise BookError(
            f"chapter {notebook} failed in cell {err.exec_count}: {_error_text(err)}\n"
            f"  the executed notebook with the traceback: {output}"
        ) from err
    except Exception as err:  # kernel died, bad notebook, ...
        raise BookError(f"chapter {notebook} failed: {_error_text(err)}") from err
    return output


def fold_parameter_cells(notebook: Path) -> None:
    """Fold the parameters cell of an executed chapter (``hide-cell``) and drop papermill's
    injected one (``remove-cell``: it holds the building machine's paths; the chapter's first
    output states the parameters), so a page opens on its content."""
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        for marker, fold in (("parameters", "hide-cell"), ("injected-parameters", "remove-cell")):
            if marker in tags and fold not in tags:
                tags.append(fold)
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------
# staging and building
# --------------------------------------------------------------------------------------------
def _require_executed(notebooks: Sequence[Path], source: Path, stage: Path) -> None:
    """Chapters left out of ``--chapters`` need an executed copy in the build folder: their
    pages glue numbers from their own runs."""
    never = [
        nb.stem
        for nb in notebooks
        if "papermill" not in json.loads((stage / nb.relative_to(source)).read_text())["metadata"]
    ]
    if never:
        raise BookError(
            f"{stage}: chapter(s) {', '.join(never)} never ran in this build folder, and their "
            "pages glue numbers from their own runs: add them to --chapters or build them all"
        )


def stage_sources(source: Path, stage: Path) -> None:
    """Copy the book's sources into ``stage`` (executed notebooks already there are kept
    unless their source changed; they are re-executed anyway when selected)."""
    stage.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(source / name, stage / name)
    if (source / BIBLIOGRAPHY).exists():  # _config.yml's bibtex_bibfiles, relative to the book
        shutil.copy2(source / BIBLIOGRAPHY, stage / BIBLIOGRAPHY)
    src_book, dst_book = source / "book", stage / "book"
    for path in sorted(src_book.rglob("*")):
        if path.is_dir() or ".ipynb_checkpoints" in path.parts or "__pycache__" in path.parts:
            continue
        target = dst_book / path.relative_to(src_book)
        target.parent.mkdir(parents=True, exist_ok=True)
        if (
            path.suffix == ".ipynb"
            and target.exists()
            and target.stat().st_mtime >= path.stat().st_mtime
        ):
            continue  # an executed copy newer than its source: keep it for unselected chapters
        shutil.copy2(path, target)


def run_jupyter_book(stage: Path, html_dir: Path) -> Path:
    """``jupyter-book build`` of ``stage`` with execution off and warnings as errors; the HTML
    is moved to ``html_dir``."""
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_book.cli.main"]
    built = stage / "_build"
    if built.exists():
        shutil.rmtree(built)
    command += ["build", str(stage), "--builder", "html", "-W", "--path-output", str(stage)]
    env = dict(os.environ, PYTHONWARNINGS="ignore::DeprecationWarning")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + "\n" + result.stderr).strip().splitlines()[-40:])
        raise BookError(f"jupyter-book build failed (exit {result.returncode}):\n{tail}")
    if html_dir.exists():
        shutil.rmtree(html_dir)
    shutil.move(str(built / "html"), str(html_dir))
    return html_dir / "index.html"


def check_parameters(profile: str, plan, roots, seed) -> dict[str, Any]:
    """The chapters' parameters checked before any notebook runs or any folder is made: the
    profile and the seed as a configuration, every root a folder, and a given plan loaded
    with them (a bad plan or root is then this one line, not chapter 1's third cell).
    Returns the parameters papermill passes (without ``run_root``)."""
    try:
        config = make_config(profile, {} if seed is None else {"seed": seed})
    except ConfigError as err:
        raise BookError(f"--profile {profile!r} / --seed {seed!r}: {err}") from None
    parameters: dict[str, Any] = {"profile": profile, "roots": chapter_roots(roots)}
    for name, path in parameters["roots"].items():
        if not Path(path).is_dir():
            raise BookError(f"--root {name}={path}: not a folder")
    if plan:
        try:
            load_plan(plan, roots, config)
        except DataError as err:
            raise BookError(f"--plan {plan}: {err}") from None
        parameters["plan"] = str(Path(plan).resolve()) if Path(plan).suffix else plan
    if seed is not None:
        parameters["seed"] = int(seed)
    return parameters


def _selected(notebooks: list[Path], chapters: Sequence[str] | None) -> list[Path]:
    """The chapters of ``--chapters`` (every chapter without it); an unknown one is an error."""
    if not chapters:
        return notebooks
    wanted = {Path(c).stem for c in chapters}
    unknown = wanted - {nb.stem for nb in notebooks}
    if unknown:
        names = ", ".join(nb.stem for nb in notebooks)
        raise BookError(f"unknown chapter(s) {sorted(unknown)}; chapters: {names}")
    return [nb for nb in notebooks if nb.stem in wanted]


def uses_runs(notebook: Path) -> bool:
    """Whether a chapter trains or reads the book's runs (a code cell names
    ``chapter.run_dir(`` or ``chapter.train_runs(``)."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return any(marker in text for text in code for marker in USES_RUNS)


def _train_runs(run_root: str, profile: str, plan, seed: int, roots) -> dict:
    """The background trainer's work (in its own process): :func:`.fair_comparison.train_point`
    of the three runs in :func:`.fair_comparison.run_dirs`; returns each run's steps."""
    from . import fair_comparison  # deferred: TensorFlow, imported by the trainer's process only

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes: the log's noise
    config = make_config(profile, {"seed": seed})
    dirs = fair_comparison.run_dirs(run_root, config, profile, plan)
    results = fair_comparison.train_point(dirs, config, profile, plan, roots)
    return {run: {"steps": r.get("steps"), "run_dir": str(dirs[run])} for run, r in results.items()}


def start_training(parameters: Mapping[str, Any], run_root: Path) -> sidebyside.Background:
    """Train the chapters' three runs (supervised, then control and semi) in a background
    process, in the folders the chapters use (:func:`.fair_comparison.run_dirs` of the
    chapters' profile, plan, roots and seed). The plan's songs (the synthetic set, written
    once) are made here first, so the trainer and chapter 1 do not both write them."""
    profile, plan = parameters["profile"], parameters.get("plan", BOOK_PLAN)
    seed = int(parameters.get("seed", 0))
    roots = dict(parameters.get("roots") or {}) or None
    load_plan(plan, roots, make_config(profile, {"seed": seed}))
    return sidebyside.start(
        "the background training", _train_runs, str(run_root), profile, plan, seed, roots
    )


def _execute_quietly(notebook, output, parameters, cwd, kernel_name, quiet) -> Path:
    """:func:`execute_chapter` in a process of its own, with the build's quiet loggers."""
    if quiet:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    return execute_chapter(notebook, output, parameters, cwd, kernel_name, quiet=quiet)


def execute_chapters(
    jobs: list[tuple[Path, Path]],
    parameters: Mapping[str, Any],
    kernel: str,
    quiet: bool,
    log: Callable[[str], None],
    background: sidebyside.Background | None = None,
) -> None:
    """Execute ``jobs`` (``(notebook, output)``), started in reading order.

    Without a ``background`` training, one at a time in this process. With one, each chapter
    runs in a process of its own: one at a time while the background trainer works (it has
    the other core), and as soon as it is done a chapter starts beside the one running, up to
    :data:`CHAPTERS_AT_ONCE` (no chapter trains any more: they read the finished runs). The
    log names each chapter as it starts and ends; the first failure stops the build (the
    chapters still running are stopped)."""
    total = len(jobs)
    if background is None:
        for i, (notebook, output) in enumerate(jobs, 1):
            log(f"[{i}/{total}] {_label(notebook)} ...")
            start = time.perf_counter()
            execute_chapter(notebook, output, parameters, output.parent, kernel, quiet=quiet)
            log(f"[{i}/{total}] {_label(notebook)} done in {time.perf_counter() - start:.1f} s")
        return
    pending, running = list(enumerate(jobs, 1)), {}
    try:
        while pending or running:
            _reap(running, total, log)
            free = len(running) < (CHAPTERS_AT_ONCE if background.done() else 1)
            if pending and free:
                i, (notebook, output) = pending.pop(0)
                beside = " (beside the chapter before it)" if running else ""
                log(f"[{i}/{total}] {_label(notebook)} ...{beside}")
                args = (notebook, output, parameters, output.parent, kernel, quiet)
                chapter = sidebyside.start(_label(notebook), _execute_quietly, *args)
                running[i] = (chapter, time.perf_counter())
                continue
            time.sleep(0.2)
    finally:
        for chapter, _ in running.values():
            chapter.stop()


def _label(notebook: Path) -> str:
    return f"{notebook.parent.name}/{notebook.name}"


def _reap(running: dict, total: int, log: Callable[[str], None]) -> None:
    """Log the running chapters that ended (a failure raises its error)."""
    for i, (chapter, start) in list(running.items()):
        if chapter.done():
            del running[i]
            chapter.result()
            log(f"[{i}/{total}] {chapter.name} done in {time.perf_counter() - start:.1f} s")


def build_book(
    profile: str = "cpu",
    plan: str | None = None,
    roots: Mapping[str, str] | Sequence[str] | None = None,
    build_dir: str | Path = "_build",
    chapters: Sequence[str] | None = None,
    source: str | Path = ROOT,
    log: Callable[[str], None] = print,
    seed: int | None = None,
    quiet: bool = True,
    background: bool = True,
) -> Path:
    """Execute the chapters and build the book; returns ``<build_dir>/html/index.html``.

    ``seed`` (default: the chapters' own) seeds every chapter's training runs and choices.
    The parameters are checked first (:func:`check_parameters`): on an error nothing is made.
    ``quiet``: the kernels log errors only. ``background``: train the book's runs in a
    background process while the chapters run (when a selected chapter uses them), and run
    the chapters after it two at a time (see the module's docstring)."""
    parameters = check_parameters(profile, plan, roots, seed)
    source = Path(source).resolve()
    notebooks = chapter_notebooks(source)
    selected = _selected(notebooks, chapters)
    build_dir = Path(build_dir).resolve()
    stage = build_dir / "source"
    run_root = build_dir / "runs"
    run_root.mkdir(parents=True, exist_ok=True)
    stage_sources(source, stage)
    if selected != notebooks:
        _require_executed([nb for nb in notebooks if nb not in selected], source, stage)

    parameters["run_root"] = str(run_root)
    if quiet:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    kernel = ensure_kernel()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log(f"sepgan book: profile {profile}, plan {plan or '(chapter default)'}, {build_dir}")
    total = time.perf_counter()
    jobs = [(nb, stage / nb.relative_to(source)) for nb in selected]
    waiting = os.environ.get(WAIT_FOR_LOCK)
    os.environ[WAIT_FOR_LOCK] = "1"  # the kernels and the trainer share the run folders
    trainer = None
    try:
        if background and any(uses_runs(nb) for nb in selected):
            trainer = start_training(parameters, run_root)
            log("training the book's runs in a background process")
        execute_chapters(jobs, parameters, kernel, quiet, log, trainer)
        if trainer is not None:
            _log_training(trainer, log)
    finally:
        if trainer is not None:
            trainer.stop()
        if waiting is None:
            os.environ.pop(WAIT_FOR_LOCK, None)
        else:
            os.environ[WAIT_FOR_LOCK] = waiting
    log("jupyter-book build (execution off, warnings as errors) ...")
    start = time.perf_counter()
    index = run_jupyter_book(stage, build_dir / "html")
    if (run_root / STATIC).is_dir():
        shutil.copytree(run_root / STATIC, build_dir / "html" / "_static", dirs_exist_ok=True)
    log(f"jupyter-book build done in {time.perf_counter() - start:.1f} s")
    log(f"book built in {time.perf_counter() - total:.1f} s: {index}")
    return index


def _log_training(trainer: sidebyside.Background, log: Callable[[str], None]) -> None:
    """The background training's end in the log. When it failed, the chapters trained the
    runs themselves (they raise their own error if they could not): a note, not a stop."""
    try:
        trainer.result()
        log("background training: done")
    except Exception as err:
        log(f"note: the background training failed ({type(err).__name__}: {err}); the "
            "chapters trained their runs themselves")  # fmt: skip


# --------------------------------------------------------------------------------------------
# a Sphinx extension (``_config.yml``: sphinx.extra_extensions) fixing duplicated page scripts
# --------------------------------------------------------------------------------------------
def _script_key(script: Any) -> tuple:
    filename = getattr(script, "filename", script)
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated ``<script>`` entries of a page. Scripts added after the builder started
    (sphinx-thebe's ``const THEBE_JS_URL = ...``) are listed twice by Sphinx 7.4, and the
    second ``const`` declaration is a JavaScript SyntaxError in the browser."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    """Sphinx entry point: ``sepgan_lib.book`` as an extension of the book's build."""
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def cli_book(args) -> int:
    """``sepgan book [--profile P] [--plan NAME|FILE] [--root NAME=PATH]... [--build-dir DIR]``."""
    build_book(
        profile=args.profile,
        plan=args.plan,
        roots=args.root,
        build_dir=args.build_dir,
        chapters=args.chapters,
        log=lambda line: print(line, flush=True),
        seed=args.seed,
        quiet=not getattr(args, "debug", False),
    )
    return 0


__all__ = [
    "build_book",
    "chapter_roots",
    "chapter_notebooks",
    "toc_files",
    "execute_chapter",
    "repository_url",
    "install_line",
    "sync_install_cells",
    "install_cell_mismatches",
    "cli_book",
]
