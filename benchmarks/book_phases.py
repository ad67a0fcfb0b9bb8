"""The cpu book build's phases, timed one by one (issue 23): wall seconds, CPU seconds, cores.

    .venv/bin/python benchmarks/book_phases.py                 # -> benchmarks/results_phases.json
    .venv/bin/python benchmarks/book_phases.py --threads 2/2,1/1,1/2,2/1

Every variant of TensorFlow's thread pools (``intra/inter``) runs in its own process (the
pools are fixed when TensorFlow starts); the variants' processes alternate (A B A B ...) so
that a change of the machine's load hits them alike. Each process times, at the ``cpu``
profile and batch 8, what the chapters do most:

- ``in_page_sup_step``: chapter 3's in-page step (``tf.function(steps.update_supervised)``);
- ``in_page_semi_iteration``: chapter 4's ``semi_loop`` body (both critics' step, the
  separator's step, the loss-term gradients every 10th iteration);
- ``engine_sup_step`` / ``engine_semi_iteration``: what ``train.train`` runs per step;
- ``separate_10s``: ``separate.separate_audio`` of a 10-second song (the book's songs);
- ``bss_eval_10s``: ``metrics.score_song`` of a 10-second song (two BSS Eval calls);
- ``griffin_lim_32``: 32 Griffin-Lim iterations on a 10-second song (chapter 1);
- ``plot``: one spectrogram figure drawn to PNG (``display.plot_spectrograms``).

CPU seconds are the process's (every thread); ``cores`` = CPU / wall (1.0 = one core busy).
The start-up of a chapter's kernel (Python with TensorFlow, Keras, matplotlib and the
library imported) is timed in fresh processes too. Random batches: a step's cost does not
depend on the data.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from run import machine_info  # benchmarks/run.py, beside this script

HERE = Path(__file__).resolve().parent
SETUP_IMPORTS = (
    "import keras, matplotlib.pyplot, numpy, tensorflow, IPython.display; "
    "from sepgan_lib import chapters, critic, fair_comparison, pipeline, steps, train, display"
)


def _timed(fn, reps: int) -> dict:
    fn()  # the first call traces
    walls, cpus = [], []
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    wall, cpu = sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]
    return {"wall_s": wall, "cpu_s": cpu, "cores": cpu / wall, "reps": reps}


def worker(threads: str, reps: int) -> dict:
    intra, inter = (int(x) for x in threads.split("/"))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    tf.get_logger().setLevel("ERROR")
    import keras
    import matplotlib

    matplotlib.use("Agg")
    import io

    import numpy as np

    from sepgan_lib import critic, metrics, pipeline, separate, spectral, steps, synth, unet
    from sepgan_lib import display as viz
    from sepgan_lib.config import make_config
    from sepgan_lib.engine import Trainer

    config = make_config("cpu")
    shapes = pipeline.model_shapes(config)
    rng = np.random.default_rng(0)
    b = config.batch_size

    def batch():  # (mixture, one source, the other): the input's and the output's shape
        sizes = (shapes.input, shapes.desired, shapes.desired)
        return tuple(tf.constant(rng.random((b, *size, 1), np.float32)) for size in sizes)

    paired, unpaired = batch(), batch()
    keras.utils.set_random_seed(0)
    separator = unet.build_separator(
        shapes.input,
        config.num_layers,
        config.base_filters,
        output_activation=config.output_activation,
    )
    critics = {
        s: critic.build_critic(
            shapes.desired, config.critic_filters, dense_units=config.critic_dense
        )
        for s in ("vocals", "accompaniment")
    }
    sep_opt, sup_opt = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    critic_opts = {s: keras.optimizers.Adam(1e-4) for s in critics}
    for opt, variables in [
        (sep_opt, separator.trainable_variables),
        *((critic_opts[s], critics[s].trainable_variables) for s in critics),
    ]:
        opt.build(variables)
    sup_fn = tf.function(steps.update_supervised)
    critics_fn = tf.function(steps.update_critics)
    separator_fn = tf.function(steps.update_separator)
    gradients_fn = tf.function(steps.loss_term_gradients)
    counter = {"i": 0}

    def in_page_semi():
        for _ in range(config.num_disc):
            critics_fn(separator, critics, critic_opts, unpaired, shapes.desired, config.lam, True)
        if counter["i"] % 10 == 0:
            gradients_fn(separator, critics, paired, unpaired[0], 1e-3, 1e-3, shapes.desired)
        counter["i"] += 1
        out = separator_fn(
            separator, sep_opt, critics, paired, unpaired[0], 1e-3, 1e-3, shapes.desired
        )
        float(out["sep_loss"])

    trainer = Trainer(config, "semi")
    seeds = [[7, j] for j in range(config.num_disc)]
    song = synth.generate_song(3, seconds=10.0)
    estimate = separate.separate_audio(separator, song["mixture"], config)
    magnitude = np.abs(spectral.stft(song["vocals"]))

    def plot():
        fig = viz.plot_spectrograms({"mixture": song["mixture"], "vocals": song["vocals"]}, 8192)
        fig.savefig(io.BytesIO(), format="png")
        matplotlib.pyplot.close(fig)

    phases = {
        "in_page_sup_step": lambda: float(
            sup_fn(separator, sup_opt, paired, shapes.desired)["sup_loss"]
        ),
        "in_page_semi_iteration": in_page_semi,
        "engine_sup_step": lambda: trainer.update_separator_supervised(paired),
        "engine_semi_iteration": lambda: trainer.semi_iteration(
            paired, [unpaired] * config.num_disc, unpaired, seeds
        ),
        "separate_10s": lambda: separate.separate_audio(separator, song["mixture"], config),
        "bss_eval_10s": lambda: metrics.score_song("s", song, estimate, False),
        "griffin_lim_32": lambda: spectral.griffin_lim(
            magnitude, length=len(song["vocals"]), n_iter=32, seed=0
        ),
        "plot": plot,
    }
    counts = {"in_page_sup_step": 4 * reps, "in_page_semi_iteration": 2 * reps}
    counts.update({"engine_sup_step": 4 * reps, "engine_semi_iteration": 2 * reps})
    out = {"threads": threads, "loadavg_start": os.getloadavg()}
    for name, fn in phases.items():
        out[name] = _timed(fn, counts.get(name, max(2, reps // 2)))
    out["loadavg_end"] = os.getloadavg()
    return out


def start_up(reps: int) -> dict:
    """A chapter kernel's imports in a fresh process: wall and CPU seconds (median)."""
    walls, cpus = [], []
    for _ in range(reps):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", SETUP_IMPORTS], check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    wall, cpu = sorted(walls)[reps // 2], sorted(cpus)[reps // 2]
    return {"wall_s": wall, "cpu_s": cpu, "cores": cpu / wall, "reps": reps}


def machine_text() -> str:
    info = machine_info()
    return f"{info['cpus']} cores, {info.get('cpu', 'unknown CPU')}, TensorFlow {info.get('tensorflow')}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="2/2,1/1,1/2,2/1", help="intra/inter variants")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="processes per variant")
    parser.add_argument("--out", default=str(HERE / "results_phases.json"))
    parser.add_argument("--worker", default=None)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.reps)))
        return 0
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit,
        "machine": machine_text(),
        "nice": os.nice(0),
        "loadavg_start": os.getloadavg(),
        "kernel_start_up": start_up(3),
        "runs": [],
    }
    for k in range(args.rounds):
        for threads in args.threads.split(","):
            print(f"round {k + 1}: threads {threads} ...", flush=True)
            done = subprocess.run(
                [sys.executable, __file__, "--worker", threads, "--reps", str(args.reps)],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                print(done.stderr[-3000:])
                return 1
            result["runs"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    result["loadavg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    names = [k for k in result["runs"][0] if isinstance(result["runs"][0][k], dict)]
    print(f"kernel start-up: {result['kernel_start_up']}")
    print(f"{'phase':<24}" + "".join(f"{t:>16}" for t in args.threads.split(",")))
    for name in names:
        row = f"{name:<24}"
        for threads in args.threads.split(","):
            best = min(r[name]["wall_s"] for r in result["runs"] if r["threads"] == threads)
            cores = [r[name]["cores"] for r in result["runs"] if r["threads"] == threads]
            row += f"{best * 1000:>9.0f} ms {max(cores):.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
