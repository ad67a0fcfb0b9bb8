"""Training under tf.distribute on a CPU: logical devices, loopback workers, mixed precision.

Tests that need several devices or workers run in fresh processes: logical CPU devices must
be configured, and MultiWorkerMirroredStrategy created, before TensorFlow initialises.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from sepgan_lib import distribute, losses, pipeline, steps
from sepgan_lib.config import make_config
from sepgan_lib.engine import Trainer
from sepgan_lib.errors import ConfigError, SepganError
from sepgan_lib.train import train

TIMEOUT = 900  # the machine is shared: generous


def run_script(tmp_path, name, code, env=None, check=True):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(code))
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    done = subprocess.run(
        [sys.executable, str(path)], env=full_env, capture_output=True, text=True, timeout=TIMEOUT
    )
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def last_json(stdout: str):
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def random_cache(rng, lengths=(300, 200, 250)):
    frames = {s: rng.random((sum(lengths), 256), np.float32) for s in pipeline.SOURCES}
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    names = [f"song{i}" for i in range(len(lengths))]
    return pipeline.SpectrogramCache(names, offsets, np.asarray(lengths), frames)


@pytest.fixture(scope="module")
def synthetic_pools():
    """Decode the smoke profile's synthetic set once, so worker processes only read caches."""
    from sepgan_lib.plans import load_plan
    from sepgan_lib.pools import build_pools

    config = make_config("smoke")
    build_pools(load_plan("synthetic", None, config), config, "semi")
    return config


# --- in-process: configuration, input slicing, mixed precision ------------------------------
@pytest.mark.parametrize(
    "text, message",
    [
        ("", "needs the TF_CONFIG"),
        ("{not json", "not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', 'no "cluster"'),
        ('{"cluster": {"worker": ["a:1"]}}', 'no "task"'),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "not in"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "range"),
        ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
        (
            '{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}',
            "twice",
        ),
        (
            '{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
            "ps",
        ),
    ],
)
def test_bad_tf_config_is_explained(text, message):
    with pytest.raises(ConfigError, match=message):
        distribute.parse_tf_config(text)


def test_tf_config_roles():
    workers = ["127.0.0.1:2222", "127.0.0.1:2223"]
    first = distribute.parse_tf_config(distribute.tf_config(workers, 0))
    second = distribute.parse_tf_config(distribute.tf_config(workers, 1))
    assert first.is_chief and not second.is_chief and second.num_workers == 2
    with_chief = {"cluster": {"chief": ["h:1"], "worker": ["h:2"]}}
    spec = distribute.parse_tf_config(
        json.dumps({**with_chief, "task": {"type": "worker", "index": 0}})
    )
    assert not spec.is_chief and spec.num_workers == 2
    assert len(set(distribute.free_ports(3))) == 3


def test_multi_worker_without_tf_config_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        distribute.make_strategy("multi_worker")
    with pytest.raises(ConfigError, match="split evenly"):
        distribute.check_global_batch(5, 2)


def test_replica_slices_concatenate_to_the_global_batch(rng):
    config = make_config("smoke", {"batch_size": 4})
    cache = random_cache(rng)
    one = list(pipeline.paired_dataset(cache, config, 7, start=3).take(2))
    two = list(
        pipeline.paired_dataset(cache, config, 7, start=3, replicas=2, replica_range=(0, 2)).take(4)
    )
    for k in range(2):
        for i in range(3):
            joined = np.concatenate([two[2 * k][i], two[2 * k + 1][i]])
            np.testing.assert_array_equal(one[k][i].numpy(), joined)
    pools = {"mix": cache, "vocals": cache, "acc": cache}
    whole = next(iter(pipeline.unpaired_dataset(pools, config, 7, start=5)))
    # the second worker of two, one replica each: the second half of every global batch
    second = next(
        iter(pipeline.unpaired_dataset(pools, config, 7, 5, replicas=2, replica_range=(1, 2)))
    )
    for a, b in zip(whole, second):
        np.testing.assert_array_equal(a.numpy()[2:], b.numpy())
    with pytest.raises(SepganError, match="split evenly"):
        pipeline.paired_dataset(cache, config, replicas=3, replica_range=(0, 3))


def test_batch_streams_run_without_the_autotuner_and_draw_the_same_batches(rng):
    # the autotuner's model thread made a finished run wait for its iterators' teardown
    config = make_config("smoke", {"batch_size": 4})
    cache = random_cache(rng)
    pools = {"mix": cache, "vocals": cache, "acc": cache}
    streams = {
        "paired": pipeline.paired_dataset(cache, config, 7, start=3),
        "unpaired": pipeline.unpaired_dataset(pools, config, 7, start=5),
    }
    tuned = tf.data.Options()
    tuned.autotune.enabled = True
    for name, stream in streams.items():
        assert stream.options().autotune.enabled is False, name
        with_tuner = stream.with_options(tuned)
        assert with_tuner.options().autotune.enabled is True
        for a, b in zip(stream.take(3), with_tuner.take(3)):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_replica_uniform_slices_the_global_draw():
    seed = tf.constant([3, 4], tf.int64)
    full = distribute.replica_uniform([6, 1], seed, 0, 1)
    parts = [distribute.replica_uniform([2, 1], seed, r, 3) for r in range(3)]
    np.testing.assert_array_equal(full.numpy(), np.concatenate(parts))


def test_mixed_precision_models_keep_float32_heads_and_losses(monkeypatch, tmp_path, rng):
    """The mixed_float16 policy on CPU, for dtypes only (GPUs are where it is used)."""
    import sepgan_lib.engine as engine_module

    monkeypatch.setattr(engine_module, "_use_mixed_precision", lambda config: True)
    config = make_config("smoke")
    try:
        trainer = Trainer(config, "semi")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building
    sep = trainer.separator
    assert sep.get_layer("conv_in").compute_dtype == "float16"
    assert all(v.dtype == "float32" for v in sep.weights)
    for name in ("accompaniment", "vocals"):
        assert sep.get_layer(name).compute_dtype == "float32"
    assert all(
        o.dtype == "float32" for o in sep(np.zeros((1, *trainer.shapes.input, 1), np.float32))
    )
    for critic in trainer.critics.values():
        assert critic.get_layer("score").compute_dtype == "float32"
        assert critic.get_layer("conv_0").compute_dtype == "float16"
    assert isinstance(trainer.separator_optimizer, keras.optimizers.LossScaleOptimizer)
    assert all(
        isinstance(o, keras.optimizers.LossScaleOptimizer)
        for o in trainer.critic_optimizers.values()
    )
    s, b = trainer.shapes, config.batch_size
    mix = rng.random((b, *s.input, 1), np.float32)
    voc = rng.random((b, *s.desired, 1), np.float32)
    acc_est, voc_est = steps.separate(trainer.separator, mix, s.desired)
    scores = trainer.critics["vocals"](voc)
    assert acc_est.dtype == voc_est.dtype == scores.dtype == tf.float32
    loss = losses.supervised_loss(acc_est, voc_est, voc, voc) + losses.adversarial_loss(
        scores, scores
    )
    assert loss.dtype == tf.float32 and np.isfinite(loss.numpy())
    # checkpoints hold the inner optimisers: a mixed run restores without mixed precision
    path = trainer.checkpoint().write(str(tmp_path / "mixed"))
    plain = Trainer(config, "semi")
    plain.checkpoint().read(path).assert_existing_objects_matched()


# --- subprocesses: two logical CPUs, two loopback workers ----------------------------------
EQUIVALENCE = """
    import json
    from sepgan_lib import distribute
    devices = distribute.logical_cpus(2)
    import keras, numpy as np, tensorflow as tf
    from sepgan_lib import pipeline
    from sepgan_lib.config import make_config
    from sepgan_lib.engine import Trainer

    # two-sided: the penalty is never 0, so its per-replica weights are compared too
    config = make_config("smoke", {"batch_size": 4, "gradient_penalty": "two_sided"})
    rng = np.random.default_rng(0)
    lengths = (300, 200, 250)
    frames = {s: rng.random((sum(lengths), 256), np.float32) for s in pipeline.SOURCES}
    cache = pipeline.SpectrogramCache(
        ["a", "b", "c"], np.array([0, 300, 500]), np.array(lengths), frames
    )
    pools = {"mix": cache, "vocals": cache, "acc": cache}

    def batches(strategy, make, pool, **kw):
        def fn(first, stop, replicas):
            return make(pool, config, 11, replica_range=(first, stop), replicas=replicas, **kw)
        return iter(distribute.distributed_dataset(strategy, fn))

    def run(strategy):
        keras.utils.set_random_seed(0)
        trainer = Trainer(config, "semi", strategy)
        paired = batches(strategy, pipeline.paired_dataset, pool=cache)
        critic = batches(strategy, pipeline.unpaired_dataset, pools, stream=1)
        unpaired = batches(strategy, pipeline.unpaired_dataset, pools, stream=2)
        initial = [v.numpy() for v in trainer.separator.trainable_variables]
        history = []
        for step in range(3):  # supervised steps
            metrics = trainer.update_separator_supervised(next(paired))
            history.append({k: float(v) for k, v in metrics.items()})
        for step in range(3):  # semi-supervised iterations: critics, then the separator
            metrics = dict(trainer.update_critics(next(critic), [11, step]))
            metrics.update(trainer.update_separator_semi(next(paired), next(unpaired)))
            history.append({k: float(v) for k, v in metrics.items()})
        weights = [v.numpy() for v in trainer.separator.trainable_variables]
        for c in trainer.critics.values():
            weights += [v.numpy() for v in c.trainable_variables]
        return history, weights, initial

    one = tf.distribute.get_strategy()
    two = tf.distribute.MirroredStrategy(devices)
    assert two.num_replicas_in_sync == 2

    # loss scaling: one replica's overflow makes every replica's gradients non-finite
    def overflow_on_replica_1():
        rid = tf.cast(distribute.replica_id(), tf.float32)
        grads = [tf.ones([3]) / (1.0 - rid), None]
        return tf.reduce_all(tf.math.is_finite(distribute.agree_finite(grads)[0]))

    agreed = two.experimental_local_results(two.run(tf.function(overflow_on_replica_1)))
    assert [bool(x) for x in agreed] == [False, False], agreed
    halves = two.experimental_local_results(distribute.split_batch(two, np.arange(4)))
    assert [list(h.numpy()) for h in halves] == [[0, 1], [2, 3]], halves
    (h1, w1, i1), (h2, w2, i2) = run(one), run(two)
    out = {
        "one": h1,
        "two": h2,
        "same_start": all(np.array_equal(a, b) for a, b in zip(i1, i2)),
        "max_weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2)),
    }
    print(json.dumps(out))
"""


def test_two_logical_cpus_match_one_device(tmp_path):
    out = last_json(run_script(tmp_path, "equivalence", EQUIVALENCE).stdout)
    one, two = out["one"], out["two"]
    assert out["same_start"] and len(one) == len(two) == 6
    worst = {}
    for i, (a, b) in enumerate(zip(one, two)):
        assert set(a) == set(b)
        mode = "supervised" if i < 3 else "semi"
        for key in a:
            # relative to the value, or to 0.01 for values near zero (critic scores ~1e-4)
            diff = abs(a[key] - b[key]) / max(abs(a[key]), 1e-2)
            worst[mode] = max(worst.get(mode, 0.0), diff)
    assert {"sup_loss", "adv_loss", "gradient_penalty_vocals", "critic_loss_vocals"} <= set(one[-1])
    penalties = [h["gradient_penalty_vocals"] for h in one[3:]]
    print(
        "gradient penalties (vocals)",
        penalties,
        "1 vs 2 replicas: max relative loss difference",
        worst,
        "max weight difference",
        out["max_weight_diff"],
    )
    assert min(penalties) > 0
    assert max(worst.values()) < 1e-4, (one, two)
    # Adam moves each weight by about the learning rate (1e-3) per step: 5e-5 after three
    # steps is round-off of the replicas' summation order, far from a different update
    assert out["max_weight_diff"] < 5e-5


WORKER = """
    import json, os, sys
    from sepgan_lib.config import make_config
    from sepgan_lib.train import train

    config = make_config("smoke", {"strategy": "multi_worker", "checkpoint_every": 100})
    result = train(sys.argv[1] if len(sys.argv) > 1 else os.environ["RUN_DIR"], "semi", config,
                   plan="synthetic", progress=False, stop_after_steps=3)
    print(json.dumps(result))
"""


def test_two_loopback_workers_write_one_checkpoint(tmp_path, synthetic_pools):
    run = tmp_path / "run"
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    workers = [f"127.0.0.1:{p}" for p in distribute.free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", RUN_DIR=str(run))
        env["TF_CONFIG"] = distribute.tf_config(workers, index)
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, stderr[-5000:]
            outputs.append(last_json(stdout))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [o["steps"] for o in outputs] == [3, 3]
    files = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert files == ["checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index"], files
    assert not list(run.glob("*worker*"))
    # a single-device trainer restores every variable of it
    trainer = Trainer(make_config("smoke"), "semi")
    fresh = [v.numpy().copy() for v in trainer.separator.trainable_variables]
    status = trainer.checkpoint().restore(tf.train.latest_checkpoint(str(run / "checkpoints")))
    status.assert_existing_objects_matched()
    assert int(trainer.step.numpy()) == 3
    restored = trainer.separator.trainable_variables
    assert any(not np.array_equal(a, v.numpy()) for a, v in zip(fresh, restored))


TWO_REPLICA_RUN = """
    import json, sys
    from sepgan_lib import distribute
    devices = distribute.logical_cpus(2)
    import tensorflow as tf
    from sepgan_lib.config import make_config
    from sepgan_lib.train import train

    config = make_config("smoke", {"strategy": "mirrored"})
    strategy = tf.distribute.MirroredStrategy(devices)
    result = train(sys.argv[1], "semi", config, plan="synthetic", progress=False,
                   strategy=strategy, stop_after_steps=2)
    print(json.dumps(result))
"""


def test_a_two_replica_checkpoint_resumes_on_one(tmp_path, synthetic_pools):
    run = tmp_path / "run"
    path = tmp_path / "two.py"
    path.write_text(textwrap.dedent(TWO_REPLICA_RUN))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, str(path), str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert last_json(done.stdout)["steps"] == 2
    config = make_config("smoke")  # strategy "default": one device
    result = train(run, "semi", config, plan="synthetic", progress=False, resume=True)
    assert result["resumed_from"] == 2
    assert result["steps"] == config.epoch_it * len(result["history"])
    assert all(np.isfinite(h["valid_loss"]) for h in result["history"])
    assert (run / "best" / "separator.keras").exists()
