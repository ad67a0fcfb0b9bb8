"""Where and how a recorded result was made: command, date, commit, machine, load."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def git_commit() -> str | None:
    """The checkout's commit (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip() or None
    except OSError:
        return None


def machine() -> dict:
    """CPUs this process may use, platform and Python version."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count()
    return {"cpu_count": cpus, "platform": platform.platform(), "python": sys.version.split()[0]}


def relative_command(command: str) -> str:
    """``command`` with the paths of the machine it ran on made relative to the repository:
    the script as ``experiments/NAME.py``, files of the checkout from ``experiments/`` on, the
    shared data as ``../shared/data/...``, any other folder (a run root) as ``runs/NAME``."""
    words = command.split()
    out = []
    for i, word in enumerate(words):
        if i == 1 and word.endswith(".py"):
            out.append(f"experiments/{Path(word).name}")
        elif not word.startswith("/"):
            out.append(word)
        elif "/experiments/" in word:
            out.append("experiments/" + word.split("/experiments/", 1)[1])
        elif "/shared/data/" in word:
            out.append("../shared/data/" + word.split("/shared/data/", 1)[1])
        else:
            out.append(f"runs/{Path(word).name}")
    return " ".join(out)


def provenance() -> dict:
    """The header of a results file: how to redo it and on what it ran."""
    return {
        "command": relative_command(" ".join([Path(sys.executable).name, *sys.argv])),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "git_commit": git_commit(),
        "machine": machine(),
        "loadavg_start": list(os.getloadavg()),
    }
