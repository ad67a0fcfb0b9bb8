"""Benchmark workers: each runs in its own process (started by ``run.py``) and returns a dict.

A worker is called as ``python benchmarks/run.py --worker NAME --spec JSON --out FILE``; the
environment (oneDNN, BLAS variables, ``SEPGAN_CACHE``) is set by the parent, thread counts are
set here before TensorFlow starts any work.
"""

from __future__ import annotations

import inspect
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

N_MATMUL = 2048
MATMUL_FLOP = 2.0 * N_MATMUL**3


def _rss_mb() -> float:
    """Current resident set size of this process (MiB), from /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _stats(times: list[float]) -> dict:
    return {"best_s": min(times), "median_s": statistics.median(times), "times_s": times}


# --- 0. matmul references --------------------------------------------------------------------


def matmul_numpy(spec: dict) -> dict:
    """NumPy float32 2048 x 2048 matmul (run with OPENBLAS_CORETYPE/L2_SIZE unset)."""
    import threadpoolctl

    rng = np.random.default_rng(0)
    a = rng.standard_normal((N_MATMUL, N_MATMUL), dtype=np.float32)
    b = rng.standard_normal((N_MATMUL, N_MATMUL), dtype=np.float32)
    for _ in range(2):
        a @ b
    times = _timed(lambda: a @ b, spec.get("reps", 8))
    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
        | {"file": Path(info.get("filepath", "")).name}
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        **_stats(times),
        "gflops": MATMUL_FLOP / min(times) / 1e9,
        "gflops_median": MATMUL_FLOP / statistics.median(times) / 1e9,
        "blas": blas,
        "numpy": np.__version__,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }


def _tf_matmul_gflops(reps: int = 4) -> float:
    import tensorflow as tf

    a = tf.random.normal([N_MATMUL, N_MATMUL], seed=1)
    b = tf.random.normal([N_MATMUL, N_MATMUL], seed=2)
    tf.linalg.matmul(a, b).numpy()
    times = _timed(lambda: tf.linalg.matmul(a, b).numpy(), reps)
    return MATMUL_FLOP / min(times) / 1e9


def _set_threads(spec: dict) -> None:
    import tensorflow as tf

    threads = spec.get("threads") or {}
    if "intra" in threads:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads["intra"]))
    if "inter" in threads:
        tf.config.threading.set_inter_op_parallelism_threads(int(threads["inter"]))
    if spec.get("grappler"):  # e.g. {"remapping": False}: no fused Conv2D + BiasAdd + ...
        tf.config.optimizer.set_experimental_options(spec["grappler"])
    if spec.get("policy"):  # e.g. "mixed_bfloat16", before any model is built
        import keras

        keras.mixed_precision.set_global_policy(spec["policy"])


# --- 1. training steps -----------------------------------------------------------------------


def _graph_flops(fn, specs) -> float:
    """Float operations of ``fn``'s graph at static shapes (tf.profiler's registered counts)."""
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    graph = tf.function(fn).get_concrete_function(*specs).graph
    opts = option_builder.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return float(model_analyzer.profile(graph, options=opts).total_float_ops)


def train_steps(spec: dict) -> dict:
    """Supervised step and semi-supervised outer iteration, per compile mode, interleaved."""
    import logging

    _set_threads(spec)
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    from sepgan_lib.config import make_config
    from sepgan_lib.engine import Trainer

    profile, modes = spec["profile"], spec["modes"]
    b_sup, b_semi, rounds = spec["batch_sup"], spec["batch_semi"], spec["rounds"]
    out: dict = {"profile": profile, "batch_sup": b_sup, "batch_semi": b_semi, "modes": {}}
    out["tf_matmul_gflops_start"] = _tf_matmul_gflops()
    out["intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
    out["inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    out["policy"] = spec.get("policy") or "float32"
    base = make_config(profile)
    num_disc = base.num_disc
    out["num_disc"] = num_disc
    rng = np.random.default_rng(0)
    trainers = {}
    for kind in sorted({"xla" if m == "xla" else "function" for m in modes}):
        config = make_config(profile, {"batch_size": b_sup, "xla": kind == "xla"})
        trainers[kind] = Trainer(config, "semi")
    shapes = trainers[next(iter(trainers))].shapes

    def batch(b):
        mix = tf.constant(rng.random((b, *shapes.input, 1), np.float32))
        acc = tf.constant(rng.random((b, *shapes.desired, 1), np.float32))
        voc = tf.constant(rng.random((b, *shapes.desired, 1), np.float32))
        return mix, acc, voc

    paired_sup, paired_semi, unpaired = batch(b_sup), batch(b_semi), batch(b_semi)

    def sup(trainer):
        return float(trainer.update_separator_supervised(paired_sup)["sup_loss"])

    def semi(trainer):
        seeds = [[7, j] for j in range(num_disc)]
        metrics = trainer.semi_iteration(paired_semi, [unpaired] * num_disc, unpaired, seeds)
        return float(metrics["sep_loss"])

    def call(mode, fn):
        trainer = trainers["xla" if mode == "xla" else "function"]
        tf.config.run_functions_eagerly(mode == "eager")
        try:
            return fn(trainer)
        finally:
            tf.config.run_functions_eagerly(False)

    if spec.get("count_flops"):
        t0 = time.perf_counter()
        tr = trainers["function"]
        mix_s = tf.TensorSpec([b_sup, *shapes.input, 1], tf.float32)
        out_s = tf.TensorSpec([b_sup, *shapes.desired, 1], tf.float32)
        mix_u = tf.TensorSpec([b_semi, *shapes.input, 1], tf.float32)
        out_u = tf.TensorSpec([b_semi, *shapes.desired, 1], tf.float32)
        seed = [tf.TensorSpec([2], tf.int64)]
        if "replica" in inspect.signature(tr._critic_gradients).parameters:
            seed.append(tf.TensorSpec([], tf.int64))  # the replica index (newer train.py)
        flops = {
            "forward_separator": _graph_flops(lambda x: tr.separator(x), [mix_s]),
            "supervised_gradients": _graph_flops(tr._supervised_gradients, [mix_s, out_s, out_s]),
            "critic_gradients": _graph_flops(tr._critic_gradients, [mix_u, out_u, out_u, *seed]),
            "semi_gradients": _graph_flops(tr._semi_gradients, [mix_u, out_u, out_u, mix_u]),
        }
        flops["supervised_step"] = flops["supervised_gradients"]
        flops["semi_outer_iteration"] = (
            num_disc * flops["critic_gradients"] + flops["semi_gradients"]
        )
        flops["backward_factor"] = flops["supervised_gradients"] / flops["forward_separator"]
        out["flops"] = flops
        out["flops_count_s"] = time.perf_counter() - t0

    for mode in modes:  # first calls: tracing / XLA compilation, then one warm call each
        entry = out["modes"].setdefault(mode, {})
        t0 = time.perf_counter()
        call(mode, sup)
        entry["first_sup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        call(mode, semi)
        entry["first_semi_s"] = time.perf_counter() - t0
        call(mode, sup)
        entry["sup_times_s"], entry["semi_times_s"] = [], []
    tf_rates = []
    for r in range(rounds):
        order = modes if r % 2 == 0 else modes[::-1]
        for mode in order:
            entry = out["modes"][mode]
            entry["sup_times_s"].append(_timed(lambda m=mode: call(m, sup), 1)[0])
            if r < spec.get("semi_rounds", rounds):
                entry["semi_times_s"].append(_timed(lambda m=mode: call(m, semi), 1)[0])
        tf_rates.append(_tf_matmul_gflops(2))
    for entry in out["modes"].values():
        entry["sup_best_s"] = min(entry["sup_times_s"])
        entry["semi_best_s"] = min(entry["semi_times_s"])
        entry["sup_median_s"] = statistics.median(entry["sup_times_s"])
        entry["semi_median_s"] = statistics.median(entry["semi_times_s"])
    out["tf_matmul_gflops_rounds"] = tf_rates
    out["tf_matmul_gflops"] = max([out["tf_matmul_gflops_start"], *tf_rates])
    out["maxrss_mb"] = _maxrss_mb()
    return out


# --- 2. input pipeline -----------------------------------------------------------------------


def _random_cache(frames_per_song: int, songs: int, seed: int = 0):
    from sepgan_lib import pipeline

    rng = np.random.default_rng(seed)
    lengths = np.full(songs, frames_per_song, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    total = int(lengths.sum())
    frames = {s: rng.random((total, 256), np.float32) ** 4 for s in pipeline.SOURCES}
    names = [f"song_{i:03d}" for i in range(songs)]
    return pipeline.SpectrogramCache(names, offsets, lengths, frames)


def pipeline_rate(spec: dict) -> dict:
    """Batches per second of paired_dataset and unpaired_dataset (random in-memory songs)."""
    _set_threads(spec)
    from sepgan_lib import pipeline
    from sepgan_lib.config import make_config

    out: dict = {}
    cache = _random_cache(spec.get("frames_per_song", 3 * 60 * 32), spec.get("songs", 10))
    unpaired = {"mix": cache, "vocals": cache, "acc": cache}
    for profile in spec["profiles"]:
        config = make_config(profile)
        res = {"batch": config.batch_size, "num_workers": config.num_workers}
        for name, make in (
            ("paired", lambda c=config: pipeline.paired_dataset(cache, c, seed=1)),
            ("unpaired", lambda c=config: pipeline.unpaired_dataset(unpaired, c, seed=1)),
        ):
            it = iter(make())
            t0 = time.perf_counter()
            next(it)
            first = time.perf_counter() - t0
            for _ in range(3):
                next(it)
            n = spec.get("batches", 20)
            t0 = time.perf_counter()
            for _ in range(n):
                x = next(it)
            _ = [np.asarray(t).shape for t in x]
            seconds = time.perf_counter() - t0
            res[name] = {"batches_per_s": n / seconds, "first_batch_s": first, "batches": n}
        out[profile] = res
    return out


def musdb_first_batch(spec: dict) -> dict:
    """Time to the first paired and unpaired batch on the musdb7 plan (semi pools)."""
    t_start = time.perf_counter()
    from sepgan_lib import pipeline, pools
    from sepgan_lib.config import make_config
    from sepgan_lib.plans import load_plan
    from sepgan_lib.pools import build_pools

    t_import = time.perf_counter() - t_start
    if not spec.get("parallel_decode", True):  # the songs decoded one by one, as before
        pools.decode_tracks = lambda tracks, sr, jobs=None: 0
    config = make_config(spec.get("profile", "paper"))
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    plan = load_plan("musdb7", [f"musdb={spec['root']}"], config)
    t_plan = time.perf_counter() - t0
    built = build_pools(plan, config, "semi")
    t_pools = time.perf_counter() - t0
    rss_pools = _rss_mb()
    paired = iter(pipeline.paired_dataset(built.paired, config, seed=1))
    next(paired)
    t_paired = time.perf_counter() - t0
    unpaired = iter(pipeline.unpaired_dataset(built.unpaired, config, seed=1))
    next(unpaired)
    t_unpaired = time.perf_counter() - t0
    caches = {"paired": built.paired, "valid": built.valid, **(built.unpaired or {})}
    cache_bytes = sum(a.nbytes for c in caches.values() for a in c.frames.values())
    memo_bytes = sum(a.nbytes for d in pipeline._SPECTROGRAM_MEMO.values() for a in d.values())
    return {
        "import_s": t_import,
        "plan_s": t_plan,
        "pools_s": t_pools,
        "first_paired_batch_s": t_paired,
        "first_unpaired_batch_s": t_unpaired,
        "songs": {k: len(c) for k, c in caches.items()},
        "minutes": {k: round(c.minutes, 2) for k, c in caches.items()},
        "cache_arrays_mb": cache_bytes / 2**20,
        "spectrogram_memo_mb": memo_bytes / 2**20,
        "rss_before_mb": rss0,
        "rss_after_pools_mb": rss_pools,
        "rss_after_batches_mb": _rss_mb(),
        "maxrss_mb": _maxrss_mb(),
        "problems": built.problems(),
        "parallel_decode": spec.get("parallel_decode", True),
        "loadavg": os.getloadavg(),
    }


# --- 3. separation ---------------------------------------------------------------------------


def _three_minute_songs(count: int, seconds: float = 180.0, part: float = 15.0):
    """``count`` songs of ``seconds``: synthetic parts concatenated in rotated orders."""
    from sepgan_lib import synth

    parts = [synth.generate_song(100 + i, seconds=part) for i in range(int(seconds // part))]
    songs = []
    for k in range(count):
        order = parts[k:] + parts[:k]
        songs.append({s: np.concatenate([p[s] for p in order]) for s in order[0]})
    return songs


def separation(spec: dict) -> dict:
    """Real-time factor of separate_audio on a 3-minute song with the paper-size separator."""
    _set_threads(spec)
    import tensorflow as tf

    from sepgan_lib import pipeline, separate, spectral
    from sepgan_lib.config import make_config
    from sepgan_lib.unet import build_separator

    config = make_config("paper")
    shapes = pipeline.model_shapes(config)
    model = build_separator(shapes.input, config.num_layers, config.base_filters)
    song = _three_minute_songs(1, spec.get("seconds", 180.0))[0]["mixture"]
    seconds = len(song) / config.expected_sr
    out: dict = {"song_seconds": seconds, "variants": {}}
    t0 = time.perf_counter()
    separate.separate_audio(model, song, config)
    out["first_call_s"] = time.perf_counter() - t0
    for label, kw in spec["variants"].items():
        times = _timed(
            lambda kw=kw: separate.separate_audio(model, song, config, **kw), spec["reps"]
        )
        out["variants"][label] = {**_stats(times), "rtf": seconds / min(times), "kwargs": kw}
    # where the time goes at defaults
    t0 = time.perf_counter()
    magnitude, phase = spectral.magnitude_phase(song)
    t_stft = time.perf_counter() - t0
    log_mix = np.log1p(magnitude)
    t0 = time.perf_counter()
    acc, voc = separate.separate_spectrogram(model, log_mix, config)
    t_net = time.perf_counter() - t0
    t0 = time.perf_counter()
    for x in (acc, voc):
        spectral.istft(np.maximum(np.expm1(x), 0.0), phase, length=len(song))
    t_istft = time.perf_counter() - t0
    out["breakdown_s"] = {"stft": t_stft, "network": t_net, "istft_both": t_istft}
    # network FLOPs of one window at the default window size, from the graph
    runner = separate._runner(model, config)
    frames = separate._window_frames(runner, log_mix.shape[1], None)
    t_in = runner.input_frames(frames)
    count = -(-log_mix.shape[1] // frames)
    twin = build_separator((shapes.input[0], None), config.num_layers, config.base_filters)
    spec_in = tf.TensorSpec([1, shapes.input[0], t_in, 1], tf.float32)
    window_flops = _graph_flops(lambda x: twin(x, training=False), [spec_in])
    out["network_gflop"] = window_flops * count / 1e9
    out["windows"] = {"count": count, "output_frames": frames, "input_frames": t_in}
    out["network_gflops_per_s"] = out["network_gflop"] / t_net
    if spec.get("xla_network"):  # the same windows through an XLA-compiled predict
        predict = tf.function(
            lambda x: twin(x, training=False), jit_compile=True, reduce_retracing=True
        )
        twin.set_weights(model.get_weights())
        padded = np.zeros((count, shapes.input[0], t_in, 1), np.float32)
        for start in range(0, count, 8):
            [t.numpy() for t in predict(padded[start : start + 8])]

        def run_xla():
            for start in range(0, count, 8):
                [t.numpy() for t in predict(padded[start : start + 8])]

        def run_default():
            for start in range(0, count, 8):
                [t.numpy() for t in runner.predict(padded[start : start + 8])]

        out["network_only"] = {
            "function_s": min(_timed(run_default, 2)),
            "xla_s": min(_timed(run_xla, 2)),
        }
        if spec.get("bf16_network"):  # the same windows, the twin built under mixed_bfloat16
            import keras

            keras.mixed_precision.set_global_policy("mixed_bfloat16")
            try:
                half = build_separator(
                    (shapes.input[0], None), config.num_layers, config.base_filters
                )
            finally:
                keras.mixed_precision.set_global_policy("float32")
            half.set_weights(model.get_weights())
            predict_bf16 = tf.function(lambda x: half(x, training=False), reduce_retracing=True)

            def run_bf16():
                for start in range(0, count, 8):
                    [t.numpy() for t in predict_bf16(padded[start : start + 8])]

            run_bf16()
            out["network_only"]["bfloat16_s"] = min(_timed(run_bf16, 2))
    out["maxrss_mb"] = _maxrss_mb()
    return out


# --- 4. evaluation ---------------------------------------------------------------------------


def evaluation(spec: dict) -> dict:
    """mir_eval BSS Eval seconds per 3-minute song, serial and with 2 processes over songs."""
    from sepgan_lib import evaluate, metrics

    songs = _three_minute_songs(spec["songs"], spec.get("seconds", 180.0))
    items = [(f"song{k}", s) for k, s in enumerate(songs)]

    def estimator(mixture):
        return {"vocals": 0.3 * mixture, "accompaniment": 0.7 * mixture}

    refs = {s: songs[0][s] for s in ("vocals", "accompaniment")}
    est = estimator(songs[0]["mixture"])
    t0 = time.perf_counter()
    metrics.bss_eval(refs, est)
    one_call = time.perf_counter() - t0
    out: dict = {"songs": len(items), "song_seconds": len(songs[0]["mixture"]) / 8192}
    out["bss_eval_call_s"] = one_call
    for jobs in spec["jobs"]:
        t0 = time.perf_counter()
        result = evaluate.evaluate_tracks(items, estimator, jobs=jobs, progress=False)
        seconds = time.perf_counter() - t0
        out[f"jobs{jobs}"] = {
            "seconds": seconds,
            "seconds_per_song": seconds / len(items),
            "scored": len(result["tracks"]),
        }
    return out


# --- 5. memory -------------------------------------------------------------------------------


def train_memory(spec: dict) -> dict:
    """Peak RSS of ``train()`` (semi-supervised, a few outer iterations) on a synthetic plan."""
    from sepgan_lib.config import make_config
    from sepgan_lib.train import train

    overrides = {"synthetic_tracks": spec["tracks"], "synthetic_seconds": 10.0}
    config = make_config(spec["profile"], overrides)
    rss0 = _maxrss_mb()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        result = train(
            run_dir,
            spec.get("mode", "semi"),
            config,
            plan="synthetic",
            progress=False,
            stop_after_steps=spec["steps"],
        )
    return {
        "profile": spec["profile"],
        "mode": spec.get("mode", "semi"),
        "batch_size": config.batch_size,
        "steps": result["steps"],
        "seconds": time.perf_counter() - t0,
        "maxrss_after_imports_mb": rss0,
        "maxrss_mb": _maxrss_mb(),
        "synthetic_tracks": spec["tracks"],
    }


# --- 1b. critic iterations in one compiled call ----------------------------------------------


def critic_iterations(spec: dict) -> dict:
    """``num_disc`` critic iterations one call each (``update_critics``) against one compiled
    call over the stacked batches (``update_critics_stacked``), and the semi-supervised outer
    iteration built on each, against the supervised step; fixed random batches, rounds
    interleaved (ABBA), best and median of the rounds."""
    import logging

    _set_threads(spec)
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    from sepgan_lib.config import make_config
    from sepgan_lib.engine import Trainer

    config = make_config(spec["profile"], spec.get("overrides", {}))
    num_disc, b = config.num_disc, config.batch_size
    trainer = Trainer(config, "semi")
    supervised = Trainer(config, "supervised")
    rng = np.random.default_rng(0)
    shapes = trainer.shapes

    def batch():
        return (
            tf.constant(rng.random((b, *shapes.input, 1), np.float32)),
            tf.constant(rng.random((b, *shapes.desired, 1), np.float32)),
            tf.constant(rng.random((b, *shapes.desired, 1), np.float32)),
        )

    paired, unpaired = batch(), [batch() for _ in range(num_disc)]
    seeds = [[7, j] for j in range(num_disc)]

    def sup():
        return float(supervised.update_separator_supervised(paired)["sup_loss"])

    def one_by_one():
        for j in range(num_disc):
            float(trainer.update_critics(unpaired[j], seeds[j])["critic_loss_vocals"])

    def stacked():
        float(trainer.update_critics_stacked(unpaired, seeds)["critic_loss_vocals"])

    def semi_with(critics):
        critics()
        return float(trainer.update_separator_semi(paired, unpaired[0])["sep_loss"])

    cases = {
        "supervised_step": sup,
        "critics_one_call_each": one_by_one,
        "critics_one_compiled_call": stacked,
        "semi_outer_one_call_each": lambda: semi_with(one_by_one),
        "semi_outer_one_compiled_call": lambda: semi_with(stacked),
    }
    out: dict = {"profile": spec["profile"], "num_disc": num_disc, "batch": b, "cases": {}}
    for name, fn in cases.items():  # tracing first
        t0 = time.perf_counter()
        fn()
        out["cases"][name] = {"first_s": time.perf_counter() - t0, "times_s": []}
    names = list(cases)
    for r in range(spec.get("rounds", 4)):
        for name in names if r % 2 == 0 else names[::-1]:
            out["cases"][name]["times_s"].append(_timed(cases[name], 1)[0])
    for entry in out["cases"].values():
        entry["best_s"] = min(entry["times_s"])
        entry["median_s"] = statistics.median(entry["times_s"])
    sup_best = out["cases"]["supervised_step"]["best_s"]
    out["semi_outer_over_supervised"] = (
        out["cases"]["semi_outer_one_compiled_call"]["best_s"] / sup_best
    )
    out["compiled_critics_speedup"] = (
        out["cases"]["critics_one_call_each"]["best_s"]
        / out["cases"]["critics_one_compiled_call"]["best_s"]
    )
    out["maxrss_mb"] = _maxrss_mb()
    return out


WORKERS = {
    "matmul_numpy": matmul_numpy,
    "train_steps": train_steps,
    "pipeline_rate": pipeline_rate,
    "musdb_first_batch": musdb_first_batch,
    "separation": separation,
    "evaluation": evaluation,
    "train_memory": train_memory,
    "critic_iterations": critic_iterations,
}
