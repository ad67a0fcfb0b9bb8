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
