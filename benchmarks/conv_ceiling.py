"""How fast the networks' own layers run at the training shapes (issue 23's step targets).

Every Conv2D, Conv2DTranspose and Dense layer of the separator and of one critic, at a
profile's training batch, timed alone: forward, then forward + backward (the kernel's and the
bias's gradients, and the input's where the training step needs it) in a ``tf.function`` of
its own, with its FLOPs counted from that graph as ``run.py`` counts the steps'. Beside them,
in the same process, the references: NumPy's and TensorFlow's float32 2048² matmul, the
memory bandwidth TensorFlow reaches on a large element-wise add, and the engine's supervised
step. Each layer's arithmetic intensity (FLOP per byte of its compulsory traffic: inputs,
outputs and their gradients, each read or written once) times that bandwidth bounds what it
can reach when it is not bound by the cores (a roofline).

    .venv/bin/python benchmarks/conv_ceiling.py --profiles cpu,paper \
        --out benchmarks/results_layers.json --update-readme
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from book_profile import git_commit, machine_text, update_readme
from workers import _graph_flops, _tf_matmul_gflops, _timed, matmul_numpy

HERE = Path(__file__).resolve().parent
BYTES = 4  # float32


def bandwidth_gbs(mib: int = 256, reps: int = 6) -> float:
    """GB/s of ``a + b`` over two ``mib``-MiB float32 tensors (two reads, one write)."""
    import tensorflow as tf

    n = mib * 2**20 // BYTES
    a, b = tf.random.normal([n], seed=1), tf.random.normal([n], seed=2)
    add = tf.function(lambda x, y: x + y)
    add(a, b).numpy()
    best = min(_timed(lambda: add(a, b).numpy(), reps))
    return 3 * n * BYTES / best / 1e9


def _kernel_layers(model, batch: int, needs_input_grad):
    from keras import layers

    kinds = (layers.Conv2D, layers.Conv2DTranspose, layers.Dense)
    for layer in model.layers:
        if isinstance(layer, kinds):
            yield layer, (batch, *layer.input.shape[1:]), needs_input_grad(layer)


def time_layer(layer, in_shape, input_grad: bool, reps: int) -> dict:
    """One layer's clone, alone: forward and forward + backward, best of ``reps``."""
    import tensorflow as tf

    clone = type(layer).from_config(layer.get_config())
    clone.build(in_shape)
    out_shape = tuple(clone.compute_output_shape(in_shape))
    x = tf.random.normal(in_shape, seed=3)
    dy = tf.random.normal(out_shape, seed=4)

    def forward(x):
        return clone(x)

    def forward_backward(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = clone(x)
        sources = [x, *clone.trainable_variables] if input_grad else clone.trainable_variables
        return tape.gradient(y, sources, output_gradients=dy)

    fwd, both = tf.function(forward), tf.function(forward_backward)
    for _ in range(2):
        fwd(x).numpy()
        [g.numpy() for g in both(x, dy)]
    t_fwd = min(_timed(lambda: fwd(x).numpy(), reps))
    t_both = min(_timed(lambda: [g.numpy() for g in both(x, dy)], reps))
    spec_x = tf.TensorSpec(in_shape, tf.float32)
    spec_dy = tf.TensorSpec(out_shape, tf.float32)
    flop_fwd = _graph_flops(forward, [spec_x])
    flop_both = _graph_flops(forward_backward, [spec_x, spec_dy])
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    # forward: x in, y out; kernel gradient: x and dy in; input gradient: dy in, dx out
    traffic = BYTES * ((3 * n_in + 3 * n_out) if input_grad else (2 * n_in + 2 * n_out))
    return {
        "layer": layer.name,
        "input": list(in_shape),
        "output": list(out_shape),
        "input_grad": input_grad,
        "forward_s": t_fwd,
        "forward_gflop": flop_fwd / 1e9,
        "forward_gflops": flop_fwd / t_fwd / 1e9,
        "train_s": t_both,
        "train_gflop": flop_both / 1e9,
        "train_gflops": flop_both / t_both / 1e9,
        "flop_per_byte": flop_both / traffic,
    }


def supervised_step_s(trainer, batch: int, reps: int) -> float:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    shapes = trainer.shapes
    paired = (
        tf.constant(rng.random((batch, *shapes.input, 1), np.float32)),
        tf.constant(rng.random((batch, *shapes.desired, 1), np.float32)),
        tf.constant(rng.random((batch, *shapes.desired, 1), np.float32)),
    )

    def step():
        return float(trainer.update_separator_supervised(paired)["sup_loss"])

    step()
    step()
    return min(_timed(step, reps))


def profile_layers(profile: str, reps: int) -> dict:
    from sepgan_lib.config import make_config
    from sepgan_lib.engine import Trainer

    config = make_config(profile)
    batch = config.batch_size if profile == "cpu" else 8  # run.py's paper-shape batch
    trainer = Trainer(make_config(profile, {"batch_size": batch}), "semi")
    separator = trainer.separator
    first = separator.inputs[0]
    rows = {"separator": [], "critic": []}
    for layer, shape, grad in _kernel_layers(separator, batch, lambda lay: lay.input is not first):
        rows["separator"].append(time_layer(layer, shape, grad, reps))
    critic = next(iter(trainer.critics.values()))
    for layer, shape, grad in _kernel_layers(critic, batch, lambda lay: True):
        rows["critic"].append(time_layer(layer, shape, grad, reps))
    sep = rows["separator"]
    total_s = sum(r["train_s"] for r in sep)
    total_gflop = sum(r["train_gflop"] for r in sep)
    return {
        "profile": profile,
        "batch": batch,
        "layers": rows,
        "separator_layers_train_s": total_s,
        "separator_layers_train_gflop": total_gflop,
        "separator_layers_gflops": total_gflop / total_s,
        "supervised_step_s": supervised_step_s(trainer, batch, reps),
    }


def measure(profiles: list[str], reps: int) -> dict:
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    started = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    result = {
        "command": " ".join(["benchmarks/conv_ceiling.py", *sys.argv[1:]]),
        "started": started,
        "commit": git_commit(),
        "machine": machine_text(),
        "loadavg_start": load_start,
        "numpy_matmul_gflops": matmul_numpy({"reps": 8})["gflops"],
        "tf_matmul_gflops": _tf_matmul_gflops(),
        "bandwidth_gbs": bandwidth_gbs(),
        "profiles": {p: profile_layers(p, reps) for p in profiles},
    }
    result["numpy_matmul_gflops_end"] = matmul_numpy({"reps": 8})["gflops"]
    result["loadavg_end"] = os.getloadavg()
    result["wall_s"] = time.perf_counter() - t0
    return result


def matmul_peak(result: dict) -> float:
    """The larger of the run's two NumPy matmul rates (GFLOP/s): the 100 % of the tables."""
    return max(result["numpy_matmul_gflops"], result["numpy_matmul_gflops_end"])


def roofline(row: dict, result: dict) -> float:
    return min(matmul_peak(result), row["flop_per_byte"] * result["bandwidth_gbs"])


def markdown(result: dict) -> str:
    peak = matmul_peak(result)
    lines = [
        f"Run of {result['started']} at commit {result['commit']} on {result['machine']}; load "
        f"average {result['loadavg_start'][0]:.1f} at start, {result['loadavg_end'][0]:.1f} at "
        f"end; {result['wall_s']:.0f} s. NumPy matmul {peak:.0f} GFLOP/s (the 100 % below), "
        f"TensorFlow's {result['tf_matmul_gflops']:.0f}; element-wise add "
        f"{result['bandwidth_gbs']:.1f} GB/s.",
        "",
        "| profile | layer | input (batch, F, T, C) | train GFLOP | forward | forward + backward "
        "| FLOP/byte | roofline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, prof in result["profiles"].items():
        for part, rows in prof["layers"].items():
            for r in rows:
                shape = "x".join(str(d) for d in r["input"])
                lines.append(
                    f"| {name} | {part} `{r['layer']}` | {shape} | {r['train_gflop']:.2f} | "
                    f"{100 * r['forward_gflops'] / peak:.0f} % | "
                    f"{100 * r['train_gflops'] / peak:.0f} % | {r['flop_per_byte']:.0f} | "
                    f"{100 * roofline(r, result) / peak:.0f} % |"
                )
    lines += ["", "| profile | separator's layers, forward + backward | supervised step |"]
    lines.append("|---|---|---|")
    for name, prof in result["profiles"].items():
        step_gflops = prof["separator_layers_train_gflop"] / prof["supervised_step_s"]
        lines.append(
            f"| {name} (batch {prof['batch']}) | {1000 * prof['separator_layers_train_s']:.0f} ms"
            f" for {prof['separator_layers_train_gflop']:.1f} GFLOP = "
            f"{100 * prof['separator_layers_gflops'] / peak:.0f} % of matmul | "
            f"{1000 * prof['supervised_step_s']:.0f} ms "
            f"({100 * step_gflops / peak:.0f} % of matmul for the layers' FLOPs) |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="cpu,paper")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results_layers.json"))
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args(argv)
    result = measure([p for p in args.profiles.split(",") if p], args.reps)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    print(text)
    if args.update_readme:
        update_readme(text, marker="layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
