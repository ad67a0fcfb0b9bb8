import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
MUSDB7 = SHARED_DATA / "MUSDB18-7"
MIR1K = SHARED_DATA / "MIR-1K"


def pytest_configure(config):
    # Keep the generated synthetic set out of the user's cache and shared between workers.
    os.environ.setdefault("SEPGAN_CACHE", str(ROOT / ".cache" / "test-cache"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def musdb7_root():
    if not MUSDB7.exists():
        pytest.skip(f"{MUSDB7} is absent")
    return MUSDB7


@pytest.fixture(scope="session")
def mir1k_root():
    if not MIR1K.exists():
        pytest.skip(f"{MIR1K} is absent")
    return MIR1K


@pytest.fixture
def read_only_dir(tmp_path):
    """``(folder, message)``: a folder nobody may write into and the error a write gives.

    Root ignores permission bits, so as root it is a read-only tmpfs mount instead."""
    import subprocess

    folder = tmp_path / "read_only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder, "Permission denied"
        folder.chmod(0o700)
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)])
    if done.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        yield folder, "Read-only file system"
    finally:
        subprocess.run(["umount", str(folder)])


def write_random_run(run_dir: Path, config) -> Path:
    """A run folder holding ``config.json`` and a separator of fixed random weights and
    positive biases (its output on silence is not silent by itself) as its best model."""
    from sepgan_lib.shapes import unet_shapes
    from sepgan_lib.unet import build_separator

    shapes = unet_shapes((256, config.num_frames), config.num_layers)
    model = build_separator(shapes.input, config.num_layers, config.base_filters)
    rng = np.random.default_rng(0)
    model.set_weights(
        [
            rng.normal(0, 0.3, w.shape).astype(np.float32) if w.ndim > 1 else np.full_like(w, 0.05)
            for w in model.get_weights()
        ]
    )
    config.save(run_dir / "config.json")
    (run_dir / "best").mkdir()
    model.save(run_dir / "best" / "separator.keras")
    return run_dir
