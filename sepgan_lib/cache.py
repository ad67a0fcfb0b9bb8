"""Where generated data, decoded audio and plan indexes are cached (never in a dataset root)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$SEPGAN_CACHE`` (default ``~/.cache/sepgan``) joined with ``parts``, created."""
    root = Path(os.environ.get("SEPGAN_CACHE") or Path.home() / ".cache" / "sepgan")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
