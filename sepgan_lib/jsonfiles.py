"""A run folder's JSON files read defensively: a malformed or hostile file is one clear error.

``config.json``, ``run.json``, ``plan_index.json``, ``finished.json`` and ``history.json``
decide what a command does, so an unreadable one must not be taken for a missing one (and
retrained over), nor crash with a traceback: JSON nested 100,000 deep is a
``RecursionError`` in :func:`json.loads`, a list where an object belongs an ``AttributeError``
later on. :func:`load_json` turns each into a :class:`~sepgan_lib.errors.SepganError` naming
the file and what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import SepganError

KINDS = {dict: "object", list: "array"}


def load_json(path, default=None, expect: type | None = dict):
    """The JSON value in ``path`` (``default`` when the file does not exist); a file that is
    not JSON, nested too deeply, or not of type ``expect`` raises :class:`SepganError`."""
    path = Path(path)
    if not path.exists():
        return default
    try:
        value = json.loads(path.read_bytes())
    except RecursionError:
        raise SepganError(f"{path}: not a readable JSON file (nested too deeply)") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise SepganError(f"{path}: not a readable JSON file ({err})") from None
    if expect is not None and not isinstance(value, expect):
        raise SepganError(
            f"{path}: expected a JSON {KINDS.get(expect, expect.__name__)}, got "
            f"{type(value).__name__}; the file was not written by sepgan, or was damaged"
        )
    return value
