"""What the terminal shows: the program's own messages, not the native libraries' logging.

TensorFlow 2.21 logs through absl from C++ before ``absl::InitializeLog()`` is called, so
``TF_CPP_MIN_LOG_LEVEL`` no longer hides its start-up lines (oneDNN, "Could not find cuda
drivers", "failed call to cuInit"): they are written straight to file descriptor 2. The one
way to keep them from the terminal is below the library: :func:`hide_native_logs` points
descriptor 2 at a pipe whose reader drops the lines in the C++ log format
(:data:`NATIVE_LOG`) and passes every other line on, while Python's ``sys.stderr`` (our
messages, warnings, tracebacks, progress bars) writes to the terminal directly. A fatal
``F`` line and anything else that is not in that format still shows. ``sepgan --debug``
keeps everything.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# absl / TensorFlow C++ log lines of severity I, W or E, and absl's notice before them.
NATIVE_LOG = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-/]+:\d+\] "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] [\w.\-/]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)


def _forward(read_fd: int, write_fd: int) -> None:
    """Copy lines from ``read_fd`` to ``write_fd`` until EOF, dropping native log lines."""
    pending = b""
    while chunk := os.read(read_fd, 65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        _write(write_fd, b"".join(line + b"\n" for line in lines if not NATIVE_LOG.match(line)))
    if pending and not NATIVE_LOG.match(pending):
        _write(write_fd, pending)
    os.close(read_fd)


def _write(fd: int, data: bytes) -> None:
    """Write what is kept; a closed terminal must not stop the reading (writers to a full
    pipe would block for good), so its error drops the data."""
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass


def hide_native_logs() -> None:
    """Filter descriptor 2 of this process (and of the processes it starts) through
    :func:`_forward`; ``sys.stderr`` goes on writing to the terminal directly."""
    try:
        terminal = os.dup(2)
    except OSError:  # no descriptor 2 (started with it closed): nothing to filter
        return
    sys.stderr.flush()
    sys.stderr = open(  # noqa: SIM115 (for the rest of the process)
        terminal, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
    )
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    reader = threading.Thread(target=_forward, args=(read_fd, terminal), daemon=True)
    reader.start()

    def drain() -> None:  # at exit: pass on what is left (children may still hold the pipe)
        os.dup2(terminal, 2)
        reader.join(timeout=1.0)

    atexit.register(drain)
