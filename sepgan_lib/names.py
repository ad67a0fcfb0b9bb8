"""The one place where a name becomes part of a file name: plan names, role (split) names,
song names, the names of files to separate and of runs.

A name read from a plan file or a command line must not leave the folder it is joined to:
``name: ../../tmp/x`` would write a plan index or an evaluation anywhere. :func:`checked_name`
refuses such a name with an error naming it (for names the user chose: a plan, a role);
:func:`safe_file_name` maps any name to a harmless file name (for names that come from files
the user did not name for us: ``..wav`` is a fine audio file, but its stem ``.`` is no
folder name).
"""

from __future__ import annotations

import re

from .errors import SepganError

# A separator of any platform, or a character no file system should see in a name.
_UNSAFE = re.compile(r"[/\\\x00-\x1f]")
MAX_NAME_LENGTH = 200  # bytes of UTF-8: file systems allow 255, and suffixes are added


def name_problem(name) -> str | None:
    """Why ``name`` cannot be a file name as it is (None when it can)."""
    text = str(name)
    if not text.strip():
        return "is empty"
    if _UNSAFE.search(text):
        return "holds a path separator or a control character"
    if set(text) == {"."}:
        return "is made of dots only ('.' and '..' name folders)"
    if len(text.encode("utf-8")) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} bytes"
    return None


def checked_name(name, what: str, error=SepganError) -> str:
    """``name`` as a string when it can be a file name; else ``error`` naming ``what`` and the
    value, e.g. ``plan name '../x' holds a path separator ...; expected a plain name``."""
    problem = name_problem(name)
    if problem:
        raise error(
            f"{what} {str(name)!r} {problem}; expected a plain name (no '/', '\\', "
            "and not '.' or '..'): it becomes part of a file name"
        )
    return str(name)


def safe_file_name(name) -> str:
    """``name`` as it is when it can be a file name, else with every unsafe character as
    ``_`` (and a name of dots only as underscores): ``..`` -> ``__``, ``a/b`` -> ``a_b``."""
    text = str(name)
    if name_problem(text) is None:
        return text
    text = _UNSAFE.sub("_", text).strip() or "_"
    if set(text) == {"."}:
        text = "_" * len(text)
    return text.encode("utf-8")[:MAX_NAME_LENGTH].decode("utf-8", "ignore")
