"""Where generated data, decoded audio and plan indexes are cached (never in a dataset root),
and the one way files are written atomically and JSON is read with a default."""

from __future__ import annotations

import contextlib
import json
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


@contextlib.contextmanager
def atomic_file(path: str | Path, suffix: str = "", durable: bool = False):
    """A binary file handle whose bytes replace ``path`` when the block ends without an error
    (written to a temporary sibling, then ``os.replace``): a reader, or a run killed
    mid-write, sees the old file or the new one, never half of one. ``durable``: flushed to
    the disk before the replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_file`)."""
    with atomic_file(path) as handle:
        handle.write(text.encode("utf-8"))
    return Path(path)


def read_json(path: str | Path, default):
    """The JSON in ``path``, or ``default`` when it is missing or unreadable (also nested too
    deeply). A file that decides what a command does is read with
    :func:`sepgan_lib.jsonfiles.load_json` instead, which names what is wrong."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError):
        return default


def write_json(path: str | Path, data, indent: int = 2) -> Path:
    """``data`` as indented JSON, written atomically."""
    return write_text_atomic(path, json.dumps(data, indent=indent) + "\n")
