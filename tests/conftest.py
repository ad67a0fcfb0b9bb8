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
