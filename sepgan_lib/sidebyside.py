"""Independent work side by side, each call in a process of its own (issue 23).

On a 2-core machine one TensorFlow process at batch 8 keeps about 1.35 cores busy; two
independent pieces of work (the book's background training and a chapter, two in-page
demonstrations) run in separate processes fill the other core. Processes are started with
``spawn``: TensorFlow's thread pools do not survive a ``fork``.

- :func:`start` runs one call in a new process and returns a :class:`Background` (``done``,
  ``result``, ``stop``);
- :func:`side_by_side` runs several calls at once and returns their results in order.

A call is pickled with ``cloudpickle``, so a function defined in a notebook (and what it
refers to: its configuration, the pools of songs) travels by value; the result comes back
the same way (Keras models included). The child first imports the library modules the
parent has imported, and the parent those of the child before it unpickles the result: Keras
finds a model's registered layers (``unet.CropLike``) only in an imported module. A call that raises raises the same exception in
the caller (with the child's traceback as a note), or a :class:`SideBySideError` naming the
call when the exception cannot be pickled or the process died. ``threads``
sets TensorFlow's intra-op pool size of the child (``TF_NUM_INTRAOP_THREADS``, read when
TensorFlow starts) and its BLAS threads.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from .errors import SepganError


class SideBySideError(SepganError):
    """A call run in another process failed; the message holds the child's traceback."""


def _library() -> list[str]:
    """The library's modules this process has imported."""
    return sorted(name for name in sys.modules if name.startswith("sepgan_lib."))


def _child(payload: bytes, connection, threads: int | None, library: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if threads:
        for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(threads)
    import cloudpickle  # deferred: only the child unpickles by value

    try:
        for name in library:  # as in the parent: e.g. the layers a saved model is loaded with
            importlib.import_module(name)
        fn, args, kwargs = cloudpickle.loads(payload)
        message = ("ok", cloudpickle.dumps(fn(*args, **kwargs)), _library())
    except BaseException as err:  # sent to the parent, which re-raises it
        text = f"{type(err).__name__}: {err}\n{traceback.format_exc()}"
        try:
            message = ("raise", cloudpickle.dumps(err), text)
            cloudpickle.loads(message[1])  # an exception that does not unpickle goes as text
        except Exception:
            message = ("error", text)
    connection.send(message)
    connection.close()


class Background:
    """One call running in a process of its own (see :func:`start`)."""

    def __init__(self, name: str, fn: Callable, args=(), kwargs=None, threads=None):
        import cloudpickle  # deferred: the book extra's dependency, needed by callers only

        self.name = name
        payload = cloudpickle.dumps((fn, tuple(args), dict(kwargs or {})))
        context = multiprocessing.get_context("spawn")
        self._receive, send = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_child,
            args=(payload, send, threads, _library()),
            name=f"sepgan-{name}",
            daemon=False,  # it may start processes of its own (a decoding or scoring pool)
        )
        self.process.start()
        send.close()
        self._message: tuple | None = None

    def done(self) -> bool:
        """True once the call has returned or failed (its result is then waiting)."""
        return self._message is not None or self._receive.poll() or not self.process.is_alive()

    def _read(self, timeout: float | None) -> tuple:
        if self._message is None:
            if not self._receive.poll(timeout):
                raise TimeoutError(f"{self.name}: still running after {timeout} s")
            try:
                self._message = self._receive.recv()
            except EOFError:  # the child died without an answer (killed, out of memory)
                self.process.join()
                self._message = (
                    "error",
                    f"the process ended without a result (exit code {self.process.exitcode})",
                )
            self.process.join()
        return self._message

    def result(self, timeout: float | None = None) -> Any:
        """The call's return value (waits for it). Its exception is raised again here (the
        child's traceback as a note), or as a SideBySideError when it cannot travel."""
        import cloudpickle  # deferred: see __init__

        status, body, *text = self._read(timeout)
        if status == "raise":
            err = cloudpickle.loads(body)
            err.add_note(f"raised in {self.name} (process {self.process.pid}):\n{text[0]}")
            raise err
        if status == "error":
            raise SideBySideError(f"{self.name} (in process {self.process.pid}) failed: {body}")
        for name in text[0] if text else ():  # e.g. the layers a Keras model is rebuilt from
            importlib.import_module(name)
        return cloudpickle.loads(body)

    def stop(self) -> None:
        """End the process if it still runs (its result is lost)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()


def start(name: str, fn: Callable, *args, threads: int | None = None, **kwargs) -> Background:
    """Start ``fn(*args, **kwargs)`` in a new process; ``name`` labels it in errors."""
    return Background(name, fn, args, kwargs, threads)


def side_by_side(calls: Mapping[str, Callable], threads: int | None = None) -> dict[str, Any]:
    """Run every zero-argument call of ``calls`` (e.g. ``functools.partial``) in a process of
    its own, all at once; returns ``{name: result}`` in the order of ``calls``. When one
    fails, the others are stopped and its error is raised."""
    running = {name: Background(name, call, threads=threads) for name, call in calls.items()}
    try:
        return {name: background.result() for name, background in running.items()}
    finally:
        for background in running.values():
            background.stop()


__all__ = ["Background", "SideBySideError", "side_by_side", "start"]
