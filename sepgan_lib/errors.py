"""The project's own exception types: every error a user can cause names what was wrong."""


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
    """``PATH: reason`` of an OSError (read-only, full disk, a file where a folder should be);
    ``path`` stands in when the error names no file (e.g. a full disk under a library)."""
    if isinstance(err, OSError) and not isinstance(err, SepganError):
        reason = err.strerror or str(err)
        paths = [p for p in (err.filename, getattr(err, "filename2", None)) if p]
        paths = paths or ([path] if path else [])
        return f"{' -> '.join(map(str, paths))}: {reason}" if paths else reason
    return str(err)
