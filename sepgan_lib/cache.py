"""Where generated data, decoded audio and plan indexes are cached (never in a dataset root)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$SEPGAN_CACHE`` (default ``~/.cache/sepgan``) joined with ``parts``, created."""
    root = Path(os.environ.get("SEPGAN_CACHE") or Path.home() / ".cache" / "sepgan")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_mode(path) -> None:
    """Give a ``mkstemp`` file (mode 0600) the mode a new file would get under the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and ``os.replace``: a reader (or
    a run killed mid-write) sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
