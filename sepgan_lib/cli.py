"""The ``sepgan`` command line. Each subcommand's work lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from .config import make_config, parse_set_args
from .console import hide_native_logs
from .errors import SepganError, describe, is_disk_full

PROFILES = ("smoke", "cpu", "paper")


def _add_plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plan", default=None, help="data plan name (synthetic, musdb7, paper) or YAML file"
    )
    p.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="dataset root, e.g. --root musdb=/data/MUSDB18-7 (repeatable)",
    )


def _add_config_args(p: argparse.ArgumentParser, default_profile: str = "cpu") -> None:
    p.add_argument("--profile", choices=PROFILES, default=default_profile)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one configuration key (repeatable); `sepgan config` lists the keys",
    )


def _add_postfilter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--postfilter",
        default=None,
        metavar="NAME",
        help="estimates -> audio: none (the original), soft or wiener (default: the run's "
        "configuration)",
    )
    p.add_argument(
        "--postfilter-power",
        type=float,
        default=None,
        metavar="P",
        help="exponent of the soft masks (default: the run's configuration)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sepgan",
        description="Semi-supervised adversarial singing-voice separation (Stoller et al. 2018).",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of an error, and the native libraries' logging "
        "(TensorFlow's start-up lines, the book's kernels)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)
    _add_run_commands(sub)
    return parser


def _add_data_commands(sub) -> None:
    """``sepgan config``, ``sepgan data synth``, ``sepgan data check``."""
    p = sub.add_parser("config", help="print the resolved configuration of a profile")
    _add_config_args(p, "paper")
    p.set_defaults(handler="sepgan_lib.config:cli_config")

    data = sub.add_parser("data", help="synthetic data and dataset checks")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("synth", help="write the embedded synthetic multitrack set")
    p.add_argument("dir")
    p.add_argument("--tracks", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--style", default="a", help="singer and band: a (default) or b")
    p.set_defaults(handler="sepgan_lib.synth_set:cli_synth")
    p = data_sub.add_parser("check", help="check a data plan's datasets and report problems")
    _add_plan_args(p)
    _add_config_args(p, "paper")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler="sepgan_lib.data_check:cli_check")


def _add_run_commands(sub) -> None:
    """``sepgan train``, ``separate``, ``export``, ``evaluate``, ``compare`` and ``book``."""
    p = sub.add_parser("train", help="train a separator (supervised or semi-supervised)")
    p.add_argument("run_dir")
    p.add_argument("--mode", choices=("supervised", "semi"), required=True)
    _add_config_args(p)
    _add_plan_args(p)
    p.add_argument("--init-from", default=None, help="start from this run's best weights")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--allow-unhealthy",
        action="store_true",
        help="exit 0 even when the trained separator fails its health check",
    )
    p.set_defaults(handler="sepgan_lib.cli:cli_train")

    p = sub.add_parser("separate", help="separate songs into vocals and accompaniment")
    p.add_argument("run_dir")
    p.add_argument("audio", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--phase", choices=("mixture", "griffin_lim"), default=None)
    _add_postfilter_args(p)
    p.add_argument(
        "--strict",
        action="store_true",
        help="a file that decodes shorter than its header says is an error, not a warning",
    )
    p.set_defaults(handler="sepgan_lib.separate:cli_separate")

    p = sub.add_parser("export", help="write a run's best separator as ONNX, with a JSON")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="the .onnx file (default RUN_DIR/export/)")
    p.set_defaults(handler="sepgan_lib.export:cli_export")

    p = sub.add_parser("evaluate", help="BSS Eval of a run on a plan's test songs")
    p.add_argument("run_dir")
    _add_plan_args(p)
    p.add_argument(
        "--split",
        default=None,
        help="role to score (default: `test`, else the plan's first named test set with songs)",
    )
    p.add_argument("--baselines", action="store_true")
    _add_postfilter_args(p)
    p.add_argument("--jobs", type=int, default=0, help="parallel songs (0 = all cores)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--allow-unhealthy", action="store_true", help="score a run that failed its health check"
    )
    p.set_defaults(handler="sepgan_lib.evaluate:cli_evaluate")

    p = sub.add_parser("compare", help="paired comparison of two evaluation JSON files")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--allow-unhealthy", action="store_true", help="compare runs that failed their health check"
    )
    p.add_argument(
        "--mixed-postfilters",
        action="store_true",
        help="compare results made with different post-filters (e.g. a filter against none)",
    )
    p.set_defaults(handler="sepgan_lib.compare:cli_compare")

    p = sub.add_parser("book", help="execute the chapters with papermill and build the book")
    p.add_argument("--profile", choices=PROFILES, default="cpu")
    _add_plan_args(p)
    p.add_argument("--build-dir", default="_build")
    p.add_argument("--chapters", nargs="*", default=None, help="only these chapter files")
    p.add_argument(
        "--seed", type=int, default=None, help="seed of every chapter's training runs (default 0)"
    )
    p.set_defaults(handler="sepgan_lib.book:cli_book")


def cli_train(args) -> int:
    """``sepgan train RUN_DIR [--mode M] [--profile P] [--set k=v]... [--init-from RUN]``."""
    # deferred: TensorFlow takes seconds to import; the other commands and --help do without
    from .health import REMEDY, failed
    from .train import train

    config = make_config(args.profile, parse_set_args(args.set))
    result = train(
        args.run_dir,
        args.mode,
        config,
        plan=args.plan,
        roots=args.root,
        init_from=args.init_from,
        resume=args.resume,
        progress=not args.quiet,
    )
    print(
        f"{args.mode} run in {result['run_dir']}: {result['steps']} steps, best epoch "
        f"{result['best_epoch']} (validation loss {result['best_valid_loss']:.5f}); {result['stopped']}"
    )
    for problem in result.get("problems", []):
        print(f"  note: {problem}")
    if failed(result.get("health")):
        print(
            f"sepgan: warning: {result['run_dir']} FAILED its health check: "
            f"{'; '.join(result['health']['problems'])}. Its scores are not a result; "
            f"{REMEDY}.",
            file=sys.stderr,
        )
        return 0 if args.allow_unhealthy else 3
    return 0


def _target(args) -> str | None:
    """The folder a command writes into, named when an OSError names no file."""
    for name in ("out", "run_dir", "dir", "build_dir"):
        if getattr(args, name, None):
            return str(getattr(args, name))
    return None


def main(argv: list[str] | None = None) -> int:
    """The ``sepgan`` command (``argv=None``: the process's own command line, whose native
    logging is then hidden unless ``--debug``). Ctrl-C anywhere is one line, exit 130."""
    try:
        args = build_parser().parse_args(argv)
        if argv is None and not args.debug:
            hide_native_logs()
        return _run(args)
    except KeyboardInterrupt:
        print("sepgan: interrupted", file=sys.stderr)
        return 130


def _run(args) -> int:
    """The subcommand's handler; an error of the user's, the system's (OSError) or a full
    disk (any library's) as one line ``sepgan: error: ...``, exit 2."""
    module_name, func_name = args.handler.split(":")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args) or 0)
    except Exception as err:
        if not isinstance(err, (SepganError, OSError)) and not is_disk_full(err):
            raise
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"sepgan: error: {describe(err, _target(args))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
