"""What every chapter does first: its parameters resolved into a :class:`Chapter` (the
configuration, the data plan, the roots and where the shared training runs go).

The book's notebooks call :func:`setup_chapter` in their first code cell; the build
(:mod:`.book`) passes the same parameters to every chapter with papermill.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .book import chapter_roots
from .cache import cache_dir
from .config import make_config
from .display import save_figures_json
from .errors import BookError
from .evaluate import default_split
from .fair_comparison import RUNS, run_configs, run_dirs, train_point
from .plans import load_plan


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
        """Each run's configuration (:func:`fair_comparison.run_configs`): ``supervised`` is
        the chapter's, ``control`` and ``semi`` continue it with the recipe's settings."""
        return run_configs(self.config, self.profile)

    def run_dir(self, run: str) -> Path:
        """The folder of a training run shared by all chapters: ``supervised``, ``control``
        or ``semi`` (the three runs of :mod:`sepgan_lib.fair_comparison`; the folder names
        carry a digest of their configuration, :func:`fair_comparison.run_dirs`)."""
        if run not in RUNS:
            raise BookError(f"unknown run {run!r}; runs: {', '.join(RUNS)}")
        return run_dirs(self.run_root, self.config, self.profile, self.plan)[run]

    def train_runs(self, runs: Sequence[str] = ("supervised", "control", "semi")) -> dict:
        """Train (or reuse, when finished) ``runs`` of the fair test, in order; returns each
        run's ``train`` result. Chapters 3 and 4 train them in the page; later chapters call
        this so that each chapter also runs on its own."""
        dirs = {run: self.run_dir(run) for run in ("supervised", "control", "semi")}
        return train_point(
            dirs, self.config, self.profile, self.plan, self.roots or None, only=tuple(runs)
        )

    @property
    def figures_path(self) -> Path:
        return self.run_root / "figures" / f"{self.name}.json"

    def save_figures(self, figures: Mapping[str, Any]) -> Path:
        """Write the chapter's key figures (finite numbers only) to :attr:`figures_path`."""
        return save_figures_json(self.figures_path, figures)

    def load_plan(self):
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
    root = Path(root) if root else cache_dir("musdb18-7")
    try:
        import musdb  # deferred: only the Colab preview downloads with it

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
    roots = chapter_roots(roots)
    if use_musdb_preview:
        roots = {**roots, "musdb": str(musdb_preview())}
        plan = "musdb7"
    run_root = Path(run_root).expanduser().resolve()
    (run_root / "figures").mkdir(parents=True, exist_ok=True)
    config = make_config(profile, {"seed": int(seed)})
    return Chapter(name, profile, plan, roots, run_root, config, int(seed))


def gpu_note() -> str:
    """One line on the devices TensorFlow found (it uses a GPU by itself when there is one)."""
    import tensorflow as tf  # deferred: seconds to import; the other helpers do without it

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return (
            f"TensorFlow found {len(gpus)} GPU(s) and uses them by itself: {[g.name for g in gpus]}"
        )
    return "TensorFlow found no GPU: everything runs on the CPU (on Colab: Runtime > Change runtime type > GPU)."
