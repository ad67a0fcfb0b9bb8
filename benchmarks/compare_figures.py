"""Do two book builds show the same figures? (issue 23: the same up to float round-off)

    .venv/bin/python benchmarks/compare_figures.py /tmp/b23_before /tmp/b23_after

Compares every ``runs/figures/<chapter>.json`` of the two build folders, number by number:
a number differs when ``|a - b| > atol + rtol * |a|``. Timings (keys with ``seconds``) are
listed apart: they are expected to change. Exit status 1 when a figure differs or is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def flatten(value, prefix: str = "") -> dict[str, object]:
    """``{"a.b[0]": leaf}`` of a JSON value."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def differs(a, b, rtol: float, atol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)):
        return a != b
    if not isinstance(b, (int, float)):
        return True
    if math.isnan(a) and math.isnan(b):
        return False
    return abs(a - b) > atol + rtol * abs(a)


def compare(before: Path, after: Path, rtol: float, atol: float) -> dict:
    """Per chapter: the figures compared, the timings, and those that differ or are missing."""
    report = {}
    for path in sorted((before / "runs" / "figures").glob("*.json")):
        other = after / "runs" / "figures" / path.name
        if not other.exists():
            report[path.stem] = {"missing": True}
            continue
        a, b = flatten(json.loads(path.read_text())), flatten(json.loads(other.read_text()))
        timings = sorted(k for k in a if "seconds" in k)
        keys = [k for k in a if "seconds" not in k]
        worst = max(
            (
                abs(a[k] - b[k]) / max(abs(a[k]), 1e-30)
                for k in keys
                if k in b
                and isinstance(a[k], (int, float))
                and isinstance(b[k], (int, float))
                and not isinstance(a[k], bool)
                and a[k] != b[k]
            ),
            default=0.0,
        )
        report[path.stem] = {
            "compared": len(keys),
            "timings": len(timings),
            "missing_keys": sorted(set(keys) - set(b)),
            "different": {
                k: [a[k], b.get(k)] for k in keys if k in b and differs(a[k], b[k], rtol, atol)
            },
            "largest_relative_difference": worst,
        }
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-6)
    args = parser.parse_args(argv)
    report = compare(args.before, args.after, args.rtol, args.atol)
    bad = False
    for chapter, row in report.items():
        if row.get("missing"):
            print(f"{chapter}: missing in {args.after}")
            bad = True
            continue
        status = "same" if not row["different"] and not row["missing_keys"] else "DIFFERENT"
        bad |= status != "same"
        print(
            f"{chapter}: {status}: {row['compared']} figures (largest relative difference "
            f"{row['largest_relative_difference']:.2g}), {row['timings']} timings apart"
        )
        for key, (a, b) in list(row["different"].items())[:20]:
            print(f"    {key}: {a!r} -> {b!r}")
        for key in row["missing_keys"][:20]:
            print(f"    {key}: missing")
    if not report:
        print(f"no figures under {args.before / 'runs' / 'figures'}")
        bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
