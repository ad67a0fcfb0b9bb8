"""``sepgan book``: execute every chapter with papermill, then build the book with Jupyter Book.

1. The book's sources (``_config.yml``, ``_toc.yml``, ``references.bib``, ``book/``) are copied into a staging
   folder ``<build-dir>/source``.
2. Each chapter notebook listed in ``_toc.yml`` is executed in reading order by papermill
   (kernel ``python3`` of the running interpreter) with the parameters ``profile``, ``plan``,
   ``roots`` and ``run_root`` (``<build-dir>/runs``, shared by the chapters so that a later
   chapter reuses the training runs of an earlier one, and by later builds). The executed
   notebook replaces the staged copy. A failing chapter stops the build with the notebook's
   path and the error.
3. ``jupyter-book build`` runs on the staged copy with execution off (no second execution) and
   warnings as errors; the HTML ends in ``<build-dir>/html`` (``_build/html/index.html``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import SepganError

ROOT = Path(__file__).resolve().parents[1]
KERNEL_NAME = "python3"
BIBLIOGRAPHY = "references.bib"


class BookError(SepganError):
    """The book could not be built (a chapter failed, or Jupyter Book reported a problem)."""


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
    import nbformat

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
    import nbformat

    line = install_line(source)
    problems = []
    for path in chapter_notebooks(source):
        setup = _setup_cell(nbformat.read(path, as_version=4), path)
        found = [t for t in setup.source.split("\n") if t.strip().startswith(INSTALL_PREFIX)]
        if found != [line]:
            problems.append(f"{path.name}: {found or 'no install line'}")
    return problems


# --------------------------------------------------------------------------------------------
# what every chapter does first
# --------------------------------------------------------------------------------------------
@dataclass
class Chapter:
    """A chapter's resolved parameters: configuration, plan, roots and where runs go."""

    name: str
    profile: str
    plan: str
    roots: dict[str, str]
    run_root: Path
    config: Any
    seed: int = 0

    @property
    def run_configs(self) -> dict[str, Any]:
        """Each run's configuration (:func:`fair_test.run_configs`): ``supervised`` is the
        chapter's, ``control`` and ``semi`` continue it with the recipe's settings."""
        from .fair_test import run_configs

        return run_configs(self.config, self.profile)

    def run_dir(self, run: str) -> Path:
        """The folder of a training run shared by all chapters: ``supervised``, ``control``
        or ``semi`` (the three runs of :mod:`sepgan_lib.fair_test`).

        The folder name carries a digest of the run's configuration and, for a continued run,
        of the run it starts from, so a later build with another configuration (an upgraded
        profile, a ``--set``) trains anew instead of refusing the old run folder.
        """
        import hashlib

        from .fair_test import RUNS

        if run not in RUNS:
            raise BookError(f"unknown run {run!r}; runs: {', '.join(RUNS)}")
        plan_label = Path(self.plan).stem if Path(self.plan).suffix else self.plan
        settings = self.run_configs[run].to_dict()
        if run != "supervised":
            settings["init_from"] = self.run_dir("supervised").name
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        return self.run_root / f"{plan_label}-{self.profile}-{run}-{digest}"

    def train_runs(self, runs: Sequence[str] = ("supervised", "control", "semi")) -> dict:
        """Train (or reuse, when finished) ``runs`` of the fair test, in order; returns each
        run's ``train`` result. Chapters 3 and 4 train them in the page; later chapters call
        this so that each chapter also runs on its own."""
        from .fair_test import train_point

        dirs = {run: self.run_dir(run) for run in ("supervised", "control", "semi")}
        return train_point(
            dirs, self.config, self.profile, self.plan, self.roots or None, only=tuple(runs)
        )

    @property
    def figures_path(self) -> Path:
        return self.run_root / "figures" / f"{self.name}.json"

    def save_figures(self, figures: Mapping[str, Any]) -> Path:
        """Write the chapter's key figures (finite numbers only) to :attr:`figures_path`."""
        from .display import save_figures_json

        return save_figures_json(self.figures_path, figures)

    def load_plan(self):
        from .plans import load_plan

        return load_plan(self.plan, self.roots or None, self.config)

    def describe(self) -> str:
        """What this chapter runs on: profile, seed, the plan, its roots and songs per role."""
        # folder names only: a built page shows no path of the machine that built it
        roots = ", ".join(f"{k}=.../{Path(v).name}" for k, v in self.roots.items())
        lines = [
            f"chapter {self.name}: profile {self.profile!r}, seed {self.seed}, "
            f"runs in the folder {Path(self.run_root).name!r}",
            f"data plan {Path(self.plan).name!r}, roots: {roots or 'none (embedded data)'}",
        ]
        data_plan = self.load_plan()
        counts = ", ".join(f"{role} {len(tracks)}" for role, tracks in data_plan.roles.items())
        lines.append(f"songs per role: {counts}")
        return "\n".join(lines)

    def test_split(self) -> str | None:
        """The role this chapter tests on: ``test``, else the plan's first named test set
        with songs (``test_mir1k``, ...), else None (see :func:`missing_test_songs`)."""
        from .evaluate import default_split

        return default_split(self.load_plan())

    def missing_test_songs(self) -> str:
        """A plain sentence for a plan without test songs: what is empty, what would fill it."""
        data_plan = self.load_plan()
        empty = [r for r in data_plan.roles if r.startswith("test")] or ["test"]
        return (
            f"The data plan {data_plan.name!r} has no test song (empty role(s): "
            f"{', '.join(empty)}). A test set needs songs no run has trained or validated on: "
            "for MUSDB18, a root that also holds its test/ subset; for the musdb7 plan, a "
            "MIR-1K root (test_mir1k). This chapter shows what it can without them."
        )


def musdb_preview(root: str | Path | None = None) -> Path:
    """Download the MUSDB18 7-second preview with ``musdb`` (about 140 MB) into ``root``
    (default ``$SEPGAN_CACHE/musdb18-7``) and return the folder (``train/``, ``test/`` of
    ``.stem.mp4`` files, the layout of the ``musdb`` root)."""
    from .cache import cache_dir

    root = Path(root) if root else cache_dir("musdb18-7")
    try:
        import musdb

        db = musdb.DB(root=str(root), download=True)
    except Exception as err:  # network, disk, ... : say what to do instead
        raise BookError(
            f"could not download the MUSDB18 7-second preview into {root} "
            f"({type(err).__name__}: {err}); set use_musdb_preview = False to use the embedded "
            "synthetic songs, or pass roots={'musdb': PATH} with a local copy"
        ) from err
    if not len(db):
        raise BookError(f"the MUSDB18 preview in {root} holds no songs")
    return root


def setup_chapter(
    name: str,
    profile: str = "cpu",
    plan: str = "synthetic_shift",
    roots: Mapping[str, str] | Sequence[str] | None = None,
    run_root: str | Path = "runs",
    seed: int = 0,
    use_musdb_preview: bool = False,
) -> Chapter:
    """Resolve a chapter's parameters. ``seed`` is the training runs' seed (their initial
    weights and batches: the same seed builds the same book) and drives the chapter's own
    choices, such as which songs it shows. With ``use_musdb_preview`` the MUSDB18 7-second
    preview is downloaded (Colab) and the ``musdb7`` plan is used on it instead of the
    synthetic set."""
    from .config import make_config

    roots = parse_roots(roots)
    if use_musdb_preview:
        roots = {**roots, "musdb": str(musdb_preview())}
        plan = "musdb7"
    run_root = Path(run_root).expanduser().resolve()
    (run_root / "figures").mkdir(parents=True, exist_ok=True)
    config = make_config(profile, {"seed": int(seed)})
    return Chapter(name, profile, plan, roots, run_root, config, int(seed))


def gpu_note() -> str:
    """One line on the devices TensorFlow found (it uses a GPU by itself when there is one)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return (
            f"TensorFlow found {len(gpus)} GPU(s) and uses them by itself: {[g.name for g in gpus]}"
        )
    return "TensorFlow found no GPU: everything runs on the CPU (on Colab: Runtime > Change runtime type > GPU)."


# --------------------------------------------------------------------------------------------
# parameters and execution
# --------------------------------------------------------------------------------------------
def parse_roots(roots: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """``["musdb=/data/MUSDB18-7"]`` or ``{"musdb": ...}`` -> ``{"musdb": "/abs/path"}``."""
    if not roots:
        return {}
    if isinstance(roots, Mapping):
        items = list(roots.items())
    else:
        items = []
        for item in roots:
            if "=" not in item:
                raise BookError(f"--root expects NAME=PATH, got {item!r}")
            name, path = item.split("=", 1)
            items.append((name.strip(), path.strip()))
    return {name: str(Path(path).expanduser().resolve()) for name, path in items}


def ensure_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Make sure a ``python3`` kernel of this interpreter exists (install it in ``sys.prefix``)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

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
) -> Path:
    """Execute one chapter with papermill into ``output``; a failure raises :class:`BookError`
    naming the notebook and the error (the partly executed notebook stays at ``output``)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

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


def run_jupyter_book(stage: Path, html_dir: Path, log: Callable[[str], None] = print) -> Path:
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


def build_book(
    profile: str = "cpu",
    plan: str | None = None,
    roots: Mapping[str, str] | Sequence[str] | None = None,
    build_dir: str | Path = "_build",
    chapters: Sequence[str] | None = None,
    source: str | Path = ROOT,
    log: Callable[[str], None] = print,
    seed: int | None = None,
) -> Path:
    """Execute the chapters and build the book; returns ``<build_dir>/html/index.html``.

    ``seed`` (default: the chapters' own) seeds every chapter's training runs and choices."""
    source = Path(source).resolve()
    build_dir = Path(build_dir).resolve()
    stage = build_dir / "source"
    run_root = build_dir / "runs"
    run_root.mkdir(parents=True, exist_ok=True)
    stage_sources(source, stage)

    notebooks = chapter_notebooks(source)
    if chapters:
        wanted = {Path(c).stem for c in chapters}
        unknown = wanted - {nb.stem for nb in notebooks}
        if unknown:
            names = ", ".join(nb.stem for nb in notebooks)
            raise BookError(f"unknown chapter(s) {sorted(unknown)}; chapters: {names}")
        selected = [nb for nb in notebooks if nb.stem in wanted]
    else:
        selected = notebooks

    parameters: dict[str, Any] = {
        "profile": profile,
        "roots": parse_roots(roots),
        "run_root": str(run_root),
    }
    if plan:
        parameters["plan"] = str(Path(plan).resolve()) if Path(plan).suffix else plan
    if seed is not None:
        parameters["seed"] = int(seed)
    kernel = ensure_kernel()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log(f"sepgan book: profile {profile}, plan {plan or '(chapter default)'}, {build_dir}")
    total = time.perf_counter()
    for i, notebook in enumerate(selected, 1):
        relative = notebook.relative_to(source)
        output = stage / relative
        log(f"[{i}/{len(selected)}] {relative} ...")
        start = time.perf_counter()
        execute_chapter(notebook, output, parameters, cwd=output.parent, kernel_name=kernel)
        log(f"[{i}/{len(selected)}] {relative} done in {time.perf_counter() - start:.1f} s")
    log("jupyter-book build (execution off, warnings as errors) ...")
    start = time.perf_counter()
    index = run_jupyter_book(stage, build_dir / "html", log)
    log(f"jupyter-book build done in {time.perf_counter() - start:.1f} s")
    log(f"book built in {time.perf_counter() - total:.1f} s: {index}")
    return index


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
    )
    return 0


__all__ = [
    "BookError",
    "build_book",
    "chapter_notebooks",
    "toc_files",
    "execute_chapter",
    "parse_roots",
    "repository_url",
    "install_line",
    "sync_install_cells",
    "install_cell_mismatches",
    "cli_book",
    "Chapter",
    "setup_chapter",
    "musdb_preview",
    "gpu_note",
]
