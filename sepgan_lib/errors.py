"""The project's own exception types: every error a user can cause names what was wrong."""

import errno
import re

NO_SPACE = "No space left on device"


class SepganError(Exception):
    """Base class of every error sepgan raises on purpose."""


class AudioError(SepganError):
    """An audio file is missing, empty, corrupt or in an unsupported format.

    The message always starts with the path and ends with the reason.
    """

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ConfigError(SepganError):
    """A configuration key is unknown or its value has the wrong type."""


class DataError(SepganError):
    """A dataset root, layout or data plan is missing or malformed."""


class TrainingError(SepganError):
    """Training cannot go on (for example a non-finite loss)."""


class BookError(SepganError):
    """The book could not be built (a chapter failed, or Jupyter Book reported a problem)."""


def describe(err: BaseException, path=None) -> str:
    """``PATH: reason`` of an OSError (read-only, full disk, a file where a folder should be)
    or of a library's full-disk error; ``path`` stands in when the error names no file."""
    if isinstance(err, OSError) and not isinstance(err, SepganError):
        reason = err.strerror or str(err)
        paths = [p for p in (err.filename, getattr(err, "filename2", None)) if p]
        paths = paths or ([path] if path else [])
        return f"{' -> '.join(map(str, paths))}: {reason}" if paths else reason
    if not isinstance(err, SepganError) and is_disk_full(err):
        return _disk_full_text(err, path)
    return str(err)


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or an error it was raised from) is a full disk: an ENOSPC OSError or
    a library's error saying so (TensorFlow's ``ResourceExhaustedError ... No space left on
    device [Op:SaveV2]`` is no OSError)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return True
        if NO_SPACE in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def _disk_full_text(err: BaseException, path=None) -> str:
    """One line from e.g. TensorFlow's ``{{function_node ...}} FILE; No space left on device
    [Op:SaveV2]``: ``FILE: No space left on device (ResourceExhaustedError in SaveV2)``."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", " ".join(str(err).split()))
    found = re.search(r"(\S+?)[;:]?\s*" + NO_SPACE + r"(?:\s*\[Op:(\w+)\])?", text)
    where = found.group(1) if found and "/" in found.group(1) else path
    what = type(err).__name__ + (f" in {found.group(2)}" if found and found.group(2) else "")
    return f"{where + ': ' if where else ''}{NO_SPACE} ({what})"
