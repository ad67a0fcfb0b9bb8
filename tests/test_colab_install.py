"""A simulated Colab session: chapter 1 installs the library with its own install cell and runs.

What is simulated, and how honestly:

- Colab's preinstalled packages: a fresh ``python -m venv`` whose site-packages holds a ``.pth``
  file naming a folder of symlinks to the project environment's distributions of
  :data:`COLAB_PREINSTALLED` and everything they require (read from their metadata). The
  project itself (``sepgan``) is not among them, so pip must really install it (a package of
  the list that the project environment lacks, such as pandas, is simply absent), and pip sees
  the linked distributions as installed (it only fetches what Colab would lack: PyAV,
  ``musdb``, ``mir_eval``, ...). Versions are the project's, not Colab's of the day.
- ``google.colab``: a tiny importable package, imported when the kernel starts (as on Colab),
  so the chapter's ``if "google.colab" in sys.modules:`` branch runs.
- The repository: the install cell's ``git+<repository.url>`` is replaced by a wheel built from
  this worktree (``pip wheel --no-deps``); everything else of the cell runs as committed.

pip reaches PyPI for the build backend and the project's missing dependencies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from sepgan_lib import book

ROOT = Path(__file__).resolve().parents[1]
COLAB_PREINSTALLED = (
    "tensorflow",
    "keras",
    "numpy",
    "scipy",
    "librosa",
    "soundfile",
    "matplotlib",
    "ipywidgets",
    "ipykernel",
    "pandas",
)
MARKER = "SEPGAN_LIB_FILE="


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's or another platform's requirement
        names.append(requirement.name)
    return names


def dependency_closure(names) -> dict[str, metadata.Distribution]:
    """The installed distributions of ``names`` and of everything they require."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here (an optional or platform-only requirement)
        found[name] = dist
        todo.extend(_requirement_names(dist))
    return found


def link_distributions(dists, folder: Path) -> None:
    """Symlink each distribution's top-level files and folders (its RECORD) into ``folder``.

    A folder two distributions share (a namespace package such as ``google``) becomes a real
    folder of links to its children, so that neither distribution hides the other."""
    folder.mkdir(parents=True)
    for dist in dists.values():
        site = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in sorted(tops):
            source, target = site / top, folder / top
            if not source.exists():
                continue
            if not target.exists():
                target.symlink_to(source)
            elif target.is_symlink() and target.resolve() != source.resolve() and source.is_dir():
                _merge_namespace(target, source)


def _merge_namespace(target: Path, source: Path) -> None:
    first = target.resolve()
    target.unlink()
    target.mkdir()
    for parent in (first, source):
        for child in parent.iterdir():
            if not (target / child.name).exists():
                (target / child.name).symlink_to(child)


def clean_environ() -> dict[str, str]:
    """This process's environment without what would show the worktree to another Python."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def make_colab_like_env(base: Path) -> Path:
    """A venv that sees only the linked 'preinstalled' packages and a fake ``google.colab``."""
    env = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, env=clean_environ())
    python = env / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    dists = dependency_closure(COLAB_PREINSTALLED)
    assert "sepgan" not in dists and "tensorflow" in dists
    link_distributions(dists, base / "preinstalled")
    fake = base / "fake_colab"
    (fake / "google" / "colab").mkdir(parents=True)  # "google" stays a namespace package
    (fake / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab."""\n')
    (site / "colab_preinstalled.pth").write_text(f"{base / 'preinstalled'}\n{fake}\n")
    return python


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (wheel,) = out.glob("sepgan-*.whl")
    return wheel


def colab_notebook(chapter: Path, wheel: Path, out: Path) -> Path:
    """Chapter ``chapter`` with its install address replaced by ``wheel`` and a last cell that
    prints where ``sepgan_lib`` was imported from."""
    nb = nbformat.read(chapter, as_version=4)
    address = f"git+{book.repository_url(ROOT)}"
    setup = [c for c in nb.cells if c.cell_type == "code"][1]
    assert address in setup.source
    setup.source = setup.source.replace(address, str(wheel))
    nb.cells.append(nbformat.v4.new_code_cell(f'print("{MARKER}" + sepgan_lib.__file__)'))
    nbformat.write(nb, out)
    return out


@pytest.mark.slow
def test_chapter_1_installs_the_library_and_runs_in_a_colab_like_environment(tmp_path):
    python = make_colab_like_env(tmp_path)
    env = clean_environ()
    check_missing = [str(python), "-c", "import sepgan_lib"]
    missing = subprocess.run(check_missing, capture_output=True, cwd=tmp_path, env=env)
    assert missing.returncode != 0, "sepgan_lib importable before the install cell ran"
    check_tf = [str(python), "-c", "import tensorflow, librosa, google.colab"]
    preinstalled = subprocess.run(check_tf, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert preinstalled.returncode == 0, preinstalled.stderr[-2000:]
    wheel = build_wheel(tmp_path / "wheel")
    chapter = book.chapter_notebooks(ROOT)[0]
    notebook = colab_notebook(chapter, wheel, tmp_path / "chapter.ipynb")

    kernels = tmp_path / "jupyter"
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--prefix", str(kernels), "--name", "colab"],
        check=True,
        capture_output=True,
        env=env,
    )
    ipython_dir = tmp_path / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab  # Colab imports it at start\n")
    env.update(
        JUPYTER_PATH=str(kernels / "share" / "jupyter"),
        IPYTHONDIR=str(ipython_dir),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    executed = tmp_path / "executed.ipynb"
    run = subprocess.run(
        [sys.executable, "-m", "papermill", str(notebook), str(executed), "-k", "colab"]
        + ["-p", "profile", "smoke", "-p", "run_root", str(tmp_path / "runs")]
        + ["--cwd", str(tmp_path), "--no-progress-bar"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    outputs = json.dumps(nbformat.read(executed, as_version=4).cells[-1].outputs)
    found = re.search(re.escape(MARKER) + r"([^\\\"]+)", outputs)
    assert found, f"no {MARKER} line in the last cell: {outputs[:500]}"
    imported_from = Path(found.group(1)).resolve()
    assert imported_from.is_relative_to((tmp_path / "venv").resolve()), imported_from
    show = subprocess.run(
        [str(python), "-m", "pip", "show", "sepgan"], capture_output=True, text=True, env=env
    )
    assert show.returncode == 0 and str(tmp_path / "venv") in show.stdout
    figures = json.loads((tmp_path / "runs" / "figures" / f"{chapter.stem}.json").read_text())
    assert figures["bins"] == 256
