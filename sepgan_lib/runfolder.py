"""A training run folder: one run per folder, checked before anything is written into it.

:func:`prepare` is what :func:`sepgan_lib.train.train` calls before it builds anything:

1. the path must be a folder (or not exist yet);
2. a saved ``config.json`` / ``run.json`` must match the configuration and the mode (keys that
   only say how to run, :data:`DEPLOYMENT_KEYS`, may differ);
3. a saved data plan (``plan_index.json``: its name and the songs of each role) must match;
4. ``--init-from`` must name a finished run with the same architecture.

Only then is the folder created and locked (:class:`RunLock`: ``.lock`` holding the PID of the
trainer, held with ``fcntl.flock`` while training; a lock left by a killed process is free
again and taken over; a live one refuses the second trainer), and the checks run again under
the lock. The configuration and the plan are written by :func:`save` once the songs are
decoded and usable (:func:`check_pools`), so a failed start leaves nothing that would refuse
the corrected retry.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import socket
import time
from pathlib import Path

from .cache import read_json, write_json, write_text_atomic
from .config_rules import FIXED, patch_frames
from .errors import DataError, SepganError, TrainingError
from .jsonfiles import load_json

# Keys that say how to run, not what to train: a run may resume with other values.
DEPLOYMENT_KEYS = ("strategy", "mixed_precision", "xla")
# Keys that must agree between a run and the run its weights come from (--init-from).
ARCHITECTURE_KEYS = ("num_layers", "base_filters", "num_frames")
LOCK_FILE = ".lock"
# When this environment variable is set (the book build sets it for its background trainer
# and its chapters, which train the same runs), a trainer that finds its run folder locked by
# another process waits for that process to release it (and then reuses the finished run)
# instead of refusing.
WAIT_FOR_LOCK = "SEPGAN_WAIT_FOR_BUSY_RUN"
PLAN_FILE = "plan_index.json"


class RunFolderBusy(TrainingError):
    """Another live process trains in the same run folder."""


# --- checks (read only) ----------------------------------------------------------------------


def check_path(run_dir: Path) -> None:
    """``run_dir`` is a folder or does not exist yet (and neither does a file stand in its way)."""
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                what = "is a file" if parent == run_dir else f"{parent} is a file"
                raise SepganError(f"{run_dir}: {what}, expected a run folder")
            break


def check_config(run_dir: Path, config, mode: str) -> None:
    """Refuse a folder that holds a run of another configuration or mode."""
    saved = load_json(run_dir / "config.json")
    if saved is None:
        return
    saved_mode = load_json(run_dir / "run.json", {}).get("mode", mode)
    ignored = set(DEPLOYMENT_KEYS) | set(FIXED)
    differing = sorted(
        k for k, v in config.to_dict().items() if saved.get(k) != v and k not in ignored
    )
    if differing or saved_mode != mode:
        what = ", ".join(f"{k}: {saved.get(k)!r} -> {getattr(config, k)!r}" for k in differing)
        raise TrainingError(
            f"{run_dir} holds a {saved_mode} run with another configuration ({what or 'mode'}); "
            "use a new run folder"
        )


def plan_record(plan) -> dict:
    """What a run folder remembers of its data plan: the name and the songs of each role."""
    return {
        "name": plan.name,
        "roles": {role: [t.key for t in tracks] for role, tracks in plan.roles.items()},
        "problems": list(plan.problems),
    }


def check_plan(run_dir: Path, plan) -> None:
    """Refuse a folder trained on another data plan (another name or other songs in a role)."""
    saved = load_json(run_dir / PLAN_FILE)
    if saved is None:
        return
    new = plan_record(plan)
    old_roles, old_name = saved.get("roles", {}), saved.get("name")
    if not isinstance(old_roles, dict):
        raise TrainingError(
            f"{run_dir / PLAN_FILE}: 'roles' is not an object; use a new run folder"
        )
    roles = sorted(
        r for r in set(old_roles) | set(new["roles"]) if old_roles.get(r) != new["roles"].get(r)
    )
    roles = [r for r in roles if old_roles.get(r) or new["roles"].get(r)]  # [] == absent
    if old_name != new["name"] or roles:
        detail = f"plan {old_name!r} -> {new['name']!r}"
        if roles:
            detail += f"; other songs in {', '.join(roles)}"
        raise TrainingError(
            f"{run_dir} holds a run trained on another data plan ({detail}); use a new run folder"
        )


def check_init_from(init_from, config) -> None:
    """``--init-from`` names a finished run whose separator has this run's architecture."""
    if not init_from:
        return
    source = Path(init_from)
    model = source / "best" / "separator.keras"
    if not model.is_file():
        raise TrainingError(f"--init-from: {model} does not exist (train that run first)")
    if model.stat().st_size == 0:
        raise TrainingError(f"--init-from: {model} is empty (0 bytes)")
    saved = load_json(source / "config.json")
    if saved is not None:
        differing = [k for k in ARCHITECTURE_KEYS if k in saved and saved[k] != getattr(config, k)]
        if differing:
            what = ", ".join(f"{k}: {saved[k]!r} here {getattr(config, k)!r}" for k in differing)
            raise TrainingError(f"--init-from: {source} has another architecture ({what})")


def check_all(run_dir: Path, config, mode: str, plan, init_from=None) -> None:
    check_path(run_dir)
    check_config(run_dir, config, mode)
    check_plan(run_dir, plan)
    check_init_from(init_from, config)


# --- the lock --------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive lock of a run folder (``.lock``, with the holder's PID, host and time)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self.fd: int | None = None
        self.took_over: dict | None = None  # the stale holder, when taken over

    def holder(self) -> dict:
        holder = read_json(self.path, {})
        return holder if isinstance(holder, dict) else {}  # a damaged lock is a free one

    def acquire(self) -> RunLock:
        import fcntl  # deferred: POSIX only

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                flocked = True
            except BlockingIOError:
                if not os.environ.get(WAIT_FOR_LOCK):
                    raise self._busy(self.holder()) from None
                fcntl.flock(fd, fcntl.LOCK_EX)  # the other trainer's run: wait for it
                flocked = True
            except OSError:  # no flock on this file system: trust the PID in the file
                flocked = False
            previous = self.holder()
            pid = int(previous.get("pid", 0) or 0)
            same_host = previous.get("host") in (None, socket.gethostname())
            if not flocked and pid != os.getpid() and same_host and _pid_alive(pid):
                raise self._busy(previous)
            if pid and pid != os.getpid():
                self.took_over = previous  # a stale lock of a process that is gone
            record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def _busy(self, holder: dict) -> RunFolderBusy:
        since = holder.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
        return RunFolderBusy(
            f"{self.path.parent}: another `sepgan train` is running in this run folder "
            f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {when}); "
            "wait for it to finish or use another run folder"
        )

    def release(self) -> None:
        if self.fd is None:
            return
        import fcntl  # deferred: POSIX only

        try:
            os.ftruncate(self.fd, 0)  # an empty lock file is a free one
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# Locks taken by prepare() during a call of a function decorated with @releases_locks.
_HELD: dict[str, RunLock] = {}


def releases_locks(fn):
    """Release the run-folder locks a call of ``fn`` took, however the call ends."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = set(_HELD)
        try:
            return fn(*args, **kwargs)
        finally:
            for key in set(_HELD) - before:
                _HELD.pop(key).release()

    return wrapper


def lock(run_dir: Path) -> RunLock:
    """Lock ``run_dir`` for this process (re-entrant within one call of a decorated function)."""
    key = str(Path(run_dir).resolve())
    if key not in _HELD:
        _HELD[key] = RunLock(run_dir).acquire()
    return _HELD[key]


# --- the steps train() calls -----------------------------------------------------------------


def prepare(run_dir, config, mode: str, plan, init_from=None, chief: bool = True) -> None:
    """Check everything (read only), then create and lock the folder and check again."""
    run_dir = Path(run_dir)
    check_all(run_dir, config, mode, plan, init_from)
    if chief:
        taken = lock(run_dir)
        if taken.took_over:
            print(
                f"note: {run_dir}: taking over the lock of a process that is gone "
                f"(pid {taken.took_over.get('pid')})"
            )
        check_all(run_dir, config, mode, plan, init_from)  # another trainer may have finished


@contextlib.contextmanager
def undo_failed_start(run_dir, enabled: bool = True):
    """Remove what a first start wrote into ``run_dir`` when it fails (an error, Ctrl-C, a
    full disk) before its first checkpoint: the lock, ``config.json``, ``run.json``, the plan
    index, the logs, and the folder itself when this start made it. A retry with other
    settings then finds the folder as it was, not a run that refuses them.

    Yields ``locked()``, to be called once :func:`prepare` holds the lock: what is in the
    folder then is kept, and nothing is undone before (a start refused by another trainer's
    lock must not touch what that trainer writes)."""
    run_dir = Path(run_dir)
    existed, had_lock = run_dir.is_dir(), (run_dir / LOCK_FILE).exists()
    kept: set[str] = set()
    state = {"locked": False}

    def locked() -> None:
        if not enabled or not run_dir.is_dir():  # a worker that is not the chief writes nothing
            return
        kept.update(os.listdir(run_dir))
        kept.difference_update(set() if had_lock else {LOCK_FILE})
        state["locked"] = not (run_dir / "config.json").exists()  # a first start

    try:
        yield locked
    except BaseException:
        if state["locked"] and not (run_dir / "checkpoints" / "checkpoint").exists():
            _remove_new_entries(run_dir, kept, existed)
        raise


def _remove_new_entries(run_dir: Path, kept: set, existed: bool) -> None:
    if not run_dir.is_dir():
        return
    for name in set(os.listdir(run_dir)) - kept:
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if not existed:
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # only when empty


def check_pools(pools, mode: str, config) -> None:
    """Refuse, before any model is built, pools that leave no usable song for a role."""
    named = {"paired": pools.paired, "valid": pools.valid, **(pools.unpaired or {})}
    empty = [name for name, cache in named.items() if len(cache) == 0]
    if empty:
        problems = pools.problems()
        raise DataError(
            f"no usable song for {', '.join(empty)}: with num_layers={config.num_layers} and "
            f"num_frames={config.num_frames} a song needs at least {patch_frames(config)} frames "
            f"({patch_frames(config) * config.num_hop / config.expected_sr:.2f} s)"
            + (f"; {len(problems)} problem(s), e.g. {problems[0]}" if problems else "")
        )


def save(run_dir, config, mode: str, plan, init_from=None) -> None:
    """Write the configuration, the mode and the data plan (first start only keeps them)."""
    run_dir = Path(run_dir)
    text = json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n"
    write_text_atomic(run_dir / "config.json", text)
    write_json(run_dir / "run.json", {"mode": mode, "init_from": str(init_from or "")})
    if not (run_dir / PLAN_FILE).exists():
        write_json(run_dir / PLAN_FILE, plan_record(plan))
