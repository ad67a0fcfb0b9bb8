"""tf.distribute helpers: strategies, TF_CONFIG, per-replica input and chief-only writing.

Training runs under the strategy named by ``config.strategy``:

- ``"default"``: one device (TensorFlow's default strategy);
- ``"mirrored"``: ``MirroredStrategy`` over every GPU of this machine (or the devices given);
- ``"multi_worker"``: ``MultiWorkerMirroredStrategy`` over the machines of ``TF_CONFIG``
  (checked by :func:`parse_tf_config` first, so a malformed one gives a clear error instead
  of a hang). ``MultiWorkerMirroredStrategy`` must be created before TensorFlow runs any op.

Input: batches are *global* batches of ``config.batch_size`` examples drawn from the batch
index ``k`` (see :mod:`sepgan_lib.pipeline`). Every input pipeline (one per worker) draws the
same random positions for step ``k`` and cuts only the examples of its own replicas (replica
``r`` of ``R`` gets examples ``[r B/R, (r + 1) B/R)``), so each worker reads its own shard of
every batch, no two replicas see the same example, and the data of a step does not depend on
the number of devices or machines: 1, 2 or 8 replicas train on the same global batches, and
a run resumes under another device count with the batches the interrupted run would have
drawn. (Songs are not sharded: every worker decodes the whole pool, which keeps the batches
independent of the worker count; the cost is memory, about 0.35 GB of spectrograms per hour
of audio per worker.)

Random numbers inside a step (the gradient penalty's interpolation weights) are drawn for the
global batch and sliced the same way (:func:`replica_uniform`).

Writing: only the chief writes the run folder (checkpoints, best models, logs, history);
the other workers take part in every save (saving may need collective ops) but write into a
temporary folder that is removed at once, as in TensorFlow's multi-worker guide
(:class:`ChiefCheckpointManager`). Every worker restores from the run folder's checkpoints,
so for a resume the run folder must be visible to every worker (a shared file system, or a
copy of ``checkpoints/`` at the same path).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import tensorflow as tf

from .errors import ConfigError, TrainingError

STRATEGIES = ("default", "mirrored", "multi_worker")


# --- devices ----------------------------------------------------------------------------------
def logical_cpus(count: int) -> list[str]:
    """Split the CPU into ``count`` logical devices; returns ``["/cpu:0", ..., ]``.

    Must run before TensorFlow initialises its devices (before any op or variable), so tests
    call it at the top of a fresh process.
    """
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as err:
        if len(tf.config.list_logical_devices("CPU")) == count:
            return [f"/cpu:{i}" for i in range(count)]
        raise TrainingError(
            f"cannot split the CPU into {count} logical devices: TensorFlow has already "
            f"initialised its devices ({err}); call logical_cpus() first thing in the process"
        ) from err
    return [f"/cpu:{i}" for i in range(count)]


# --- TF_CONFIG --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterSpec:
    """A checked ``TF_CONFIG``: this task and the cluster it belongs to."""

    cluster: dict[str, list[str]]
    task_type: str
    task_index: int
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_workers(self) -> int:
        """Tasks that train (``chief`` + ``worker``)."""
        return len(self.cluster.get("chief", [])) + len(self.cluster.get("worker", []))

    @property
    def is_chief(self) -> bool:
        """The task that writes: the ``chief``, or worker 0 when there is no chief."""
        if "chief" in self.cluster:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0


def parse_tf_config(text: str | None = None) -> ClusterSpec:
    """Parse and check ``TF_CONFIG`` (the environment variable when ``text`` is None).

    Raises :class:`ConfigError` naming what is wrong: not set, not JSON, no ``cluster`` or
    ``task``, a task type absent from the cluster, an index out of range, an address that is
    not ``host:port``, or the same address twice.
    """
    if text is None:
        text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise ConfigError(
            "strategy 'multi_worker' needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}} (the same cluster on every machine, '
            "each with its own task)"
        )
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({err}): {text[:200]!r}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"TF_CONFIG must be a JSON object, got {type(raw).__name__}")
    cluster, task = raw.get("cluster"), raw.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ConfigError('TF_CONFIG has no "cluster" object mapping task types to addresses')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ConfigError('TF_CONFIG has no "task": {"type": ..., "index": ...}')
    unknown = sorted(set(cluster) - {"chief", "worker", "evaluator", "ps"})
    if unknown:
        raise ConfigError(f"TF_CONFIG cluster has unknown task types {unknown}")
    if "ps" in cluster:
        raise ConfigError("TF_CONFIG names parameter servers ('ps'); sepgan trains synchronously")
    if len(cluster.get("chief", [])) > 1:
        raise ConfigError("TF_CONFIG cluster may have at most one chief")
    seen: set[str] = set()
    for kind, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses:
            raise ConfigError(f"TF_CONFIG cluster[{kind!r}] must be a non-empty list of host:port")
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"TF_CONFIG address {address!r} of {kind!r} is not host:port")
            if address in seen:
                raise ConfigError(f"TF_CONFIG address {address!r} appears twice")
            seen.add(address)
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise ConfigError(f"TF_CONFIG task type {kind!r} is not in the cluster {sorted(cluster)}")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[kind]):
        raise ConfigError(
            f"TF_CONFIG task index {index!r} is out of range for {len(cluster[kind])} "
            f"{kind!r} task(s)"
        )
    if kind == "evaluator":
        raise ConfigError("TF_CONFIG task is an evaluator; sepgan has no side-car evaluator")
    return ClusterSpec({k: list(v) for k, v in cluster.items()}, kind, index, raw)


def tf_config(workers: list[str], index: int, kind: str = "worker") -> str:
    """The ``TF_CONFIG`` text of task ``index`` of a cluster of ``workers`` addresses."""
    return json.dumps(
        {"cluster": {"worker": list(workers)}, "task": {"type": kind, "index": index}}
    )


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free on ``host`` now (for loopback clusters in tests)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# --- strategies -------------------------------------------------------------------------------
def make_strategy(
    name: str = "default", devices: list[str] | None = None
) -> tf.distribute.Strategy:
    """The strategy ``name`` (see the module docstring); ``devices`` for ``"mirrored"``."""
    if name not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        parse_tf_config()  # a clear error now rather than a hang or a cryptic one later
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder (always true outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def check_global_batch(batch_size: int, replicas: int) -> int:
    """The per-replica batch; the global batch must split evenly across replicas."""
    if batch_size % replicas:
        raise ConfigError(
            f"batch_size {batch_size} does not split evenly across {replicas} replicas; "
            f"use a multiple of {replicas} (the global batch is split across replicas)"
        )
    return batch_size // replicas


class ChiefCheckpointManager:
    """A ``tf.train.CheckpointManager`` whose files only the chief keeps.

    Every worker must call :meth:`save` (the save may run collective ops); a non-chief
    worker saves into a temporary folder and removes it at once.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, directory, chief: bool, keep: int = 3):
        self.checkpoint, self.directory, self.chief = checkpoint, str(directory), chief
        self._manager = (
            tf.train.CheckpointManager(checkpoint, self.directory, max_to_keep=keep)
            if chief
            else None
        )

    @property
    def latest_checkpoint(self) -> str | None:
        """The run folder's latest checkpoint (every worker restores from it)."""
        return tf.train.latest_checkpoint(self.directory)

    def save(self, checkpoint_number: int) -> str | None:
        if self._manager is not None:
            return self._manager.save(checkpoint_number=checkpoint_number)
        scratch = tempfile.mkdtemp(prefix="sepgan-worker-ckpt-")
        try:
            self.checkpoint.write(os.path.join(scratch, f"ckpt-{checkpoint_number}"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None


# --- input ------------------------------------------------------------------------------------
def distributed_dataset(
    strategy: tf.distribute.Strategy, make: Callable[[int, int, int], tf.data.Dataset]
):
    """``strategy.distribute_datasets_from_function`` over per-replica slices of global batches.

    ``make(first, stop, replicas)`` returns the dataset of one input pipeline: for each step,
    one element per replica ``first .. stop - 1`` (in that order) out of ``replicas``.
    Elements go round-robin to the local replicas, which are numbered worker-major (replica
    ``worker * local + i``), the numbering of ``replica_id_in_sync_group``.
    """

    def dataset_fn(context: tf.distribute.InputContext):
        replicas, pipelines = context.num_replicas_in_sync, context.num_input_pipelines
        if replicas % pipelines:
            raise TrainingError(f"{replicas} replicas do not split over {pipelines} workers")
        local = replicas // pipelines
        first = context.input_pipeline_id * local
        return make(first, first + local, replicas)

    return strategy.distribute_datasets_from_function(dataset_fn)


def split_batch(strategy: tf.distribute.Strategy, batch):
    """A global batch (nested numpy/tensors) as per-replica slices, replica ``r`` the ``r``-th."""
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return batch

    def value_fn(context: tf.distribute.ValueContext):
        r = context.replica_id_in_sync_group

        def cut(x):
            x = tf.convert_to_tensor(x)
            size = check_global_batch(int(x.shape[0]), replicas)
            return x[r * size : (r + 1) * size]

        return tf.nest.map_structure(cut, batch)

    return strategy.experimental_distribute_values_from_function(value_fn)


# --- inside a replica -------------------------------------------------------------------------
def replica_id() -> tf.Tensor:
    """This replica's id in the sync group (0 outside a strategy), int64."""
    context = tf.distribute.get_replica_context()
    rid = context.replica_id_in_sync_group if context is not None else 0
    return tf.cast(rid, tf.int64)


def replica_uniform(shape, seed, replica, replicas: int, dtype=tf.float32):
    """This replica's slice of a stateless uniform draw over the global batch.

    ``shape`` is the per-replica shape ``[b, ...]``; the draw has shape ``[replicas * b, ...]``
    and replica ``r`` gets rows ``[r b, (r + 1) b)``, so one device and ``R`` replicas draw the
    same numbers for the same example.
    """
    shape = tf.convert_to_tensor(shape, tf.int32)
    local = shape[0]
    full = tf.concat([[local * replicas], shape[1:]], 0)
    draw = tf.random.stateless_uniform(full, seed=seed, dtype=dtype)
    start = tf.cast(replica, tf.int32) * local
    return draw[start : start + local]


def agree_finite(grads):
    """Gradients that are non-finite on every replica as soon as they are on one.

    A loss-scaling optimiser skips a step when its gradients are not finite; it checks the
    per-replica gradients, so one overflowing replica could skip while the others apply (a
    divergence, or a hang in multi-worker). One all-reduced flag makes every replica agree.
    """
    context = tf.distribute.get_replica_context()
    flags = [tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None]
    bad = tf.cast(tf.logical_not(tf.reduce_all(tf.stack(flags))), tf.float32)
    if context is not None and context.num_replicas_in_sync > 1:
        bad = context.all_reduce(tf.distribute.ReduceOp.SUM, bad)
    poison = tf.where(bad > 0, float("nan"), 0.0)
    return [None if g is None else g + tf.cast(poison, g.dtype) for g in grads]
