"""Which post-filter should `sepgan separate` use? Measured on validation songs (issue 19).

For one trained supervised run per domain (trained here with the ``cpu`` profile when its
folder holds no finished run), every post-filter of ``sepgan_lib.filtering`` (``none``,
``soft`` p = 1, ``soft`` p = 2, ``wiener``) separates the songs of each role with
``separate_audio``; BSS Eval scores them (``evaluate.evaluate_tracks``) and each filter is
compared per song with ``none`` (``compare.compare_results``: median of the differences
with a bootstrap 95 % interval). Domains:

- ``synthetic_shift``: validation and test songs of style b (and style a's test songs);
- ``musdb7``: the MUSDB18-7 and the MIR-1K validation songs, reported apart, and the MIR-1K
  test clips of other singers (``test_mir1k``).

The default is chosen on the validation sets only (the test sets are reported, never used
for the choice): the filter with the largest mean, over validation sets and both sources, of
the median paired difference against ``none``. The cost of each filter is measured twice:
seconds of ``separate_audio`` per minute of audio while scoring (network and filter), and
the filter's own part (the resynthesis from the network's magnitudes) on one minute of
validation audio, best of five.

    python experiments/postfilter.py                       # both domains, the shared data
    python experiments/postfilter.py --domains musdb7 --merge   # redo one domain
    python experiments/postfilter.py --domains synthetic_shift --profile smoke --max-songs 2 \
        --run-root /tmp/pf --out /tmp/pf.json --allow-unhealthy    # a minute or two
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from provenance import provenance  # noqa: E402

from sepgan_lib import compare, evaluate, filtering, health, metrics, spectral  # noqa: E402
from sepgan_lib.config import make_config, parse_set_args  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "data"
# in order of cost: a later filter is chosen only if it beats every earlier one by TIE_DB
FILTERS = (("none", 1.0), ("soft", 1.0), ("soft", 2.0), ("wiener", 1.0))
TIE_DB = 0.01
SOURCES = metrics.SOURCES


def _domains(musdb: str, mir1k: str) -> dict:
    return {
        "synthetic_shift": {"plan": "synthetic_shift", "roots": {}},
        "musdb7": {"plan": "musdb7", "roots": {"musdb": musdb, "mir1k": mir1k}},
    }


def ensure_run(run_dir: Path, plan: str, roots: dict, profile: str, overrides: dict) -> dict:
    """A finished supervised run in ``run_dir`` (trained now if there is none): its summary."""
    from sepgan_lib import train

    finished = run_dir / "finished.json"
    if not finished.is_file():
        config = make_config(profile, overrides)
        train.train(run_dir, "supervised", config, plan, roots, progress=False)
    summary = json.loads(finished.read_text())
    history = summary.get("history") or []
    return {
        "steps": history[-1]["step"] if history else None,
        "best_epoch": summary.get("best_epoch"),
        "train_seconds": sum(h.get("seconds", 0.0) for h in history),
    }


def _subset(result: dict, names: set) -> dict:
    tracks = [t for t in result["tracks"] if t["name"] in names]
    return {**result, "tracks": tracks, "summary": metrics.summarize(tracks)}


def _medians(result: dict) -> dict:
    return {s: result["summary"][s]["SDR"]["median"] for s in SOURCES}


def _versus_none(none: dict, other: dict) -> dict:
    diff = compare.compare_results(none, other, mixed_postfilters=True)
    keys = ("median_diff", "ci_low", "ci_high", "wins", "losses")
    return {"n": diff["n"], **{s: {k: diff[s][k] for k in keys} for s in SOURCES}}


def score_split(model, config, tracks, keys, jobs: int) -> tuple[dict, dict]:
    """``({label: result}, {label: seconds})``: every filter's evaluation of ``tracks``
    (named by ``keys``) and the seconds its ``separate_audio`` calls took."""
    from sepgan_lib.datasets import load_track_cached
    from sepgan_lib.separate import separate_audio

    sr = config.expected_sr
    items = [(key, (lambda t=t: load_track_cached(t, sr=sr))) for key, t in zip(keys, tracks)]
    warm = load_track_cached(tracks[0], sr=sr)["mixture"][: 10 * sr]
    for name, power in FILTERS:  # traced and warm before any call is timed
        separate_audio(model, warm, config, postfilter=name, power=power)
    results, seconds = {}, {}
    for name, power in FILTERS:
        label = filtering.postfilter_label(name, power)
        spent = [0.0]

        def estimator(mixture, name=name, power=power, spent=spent):
            started = time.perf_counter()
            out = separate_audio(model, mixture, config, postfilter=name, power=power)
            spent[0] += time.perf_counter() - started
            return out

        scored = evaluate.evaluate_tracks(items, estimator, jobs=jobs, progress=False, sr=sr)
        results[label] = {"postfilter": label, **scored}
        seconds[label] = spent[0]
    return results, seconds


def filter_cost(model, config, tracks, repeats: int = 5) -> dict:
    """Seconds per minute of audio of the network and of each filter's own part (from the
    network's magnitudes to the two signals), on one minute of the songs, best of
    ``repeats``."""
    from sepgan_lib.datasets import load_track_cached
    from sepgan_lib.separate import _magnitude, separate_spectrogram

    sr = config.expected_sr
    parts, total = [], 0
    for track in tracks:
        parts.append(load_track_cached(track, sr=sr)["mixture"])
        total += len(parts[-1])
        if total >= 60 * sr:
            break
    mixture = np.concatenate(parts)[: 60 * sr]
    minutes = len(mixture) / sr / 60

    def best(fn):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - started)
        return min(times) / minutes, value

    def network_part():
        magnitude = spectral.magnitude_phase(mixture)[0]
        return (
            magnitude,
            spectral.stft(mixture),
            *separate_spectrogram(model, np.log1p(magnitude), config),
        )

    network, (magnitude, spec, acc, voc) = best(network_part)
    mags = np.stack([_magnitude(magnitude, x) for x in (voc, acc)])
    out = {"minutes": minutes, "network_seconds_per_minute": network, "filters": {}}
    for name, power in FILTERS:

        def resynthesise(name=name, power=power):
            estimates = filtering.postfilter(mags, spec, name, power)
            return [spectral.istft_complex(e, len(mixture)) for e in estimates]

        seconds, _ = best(resynthesise)
        out["filters"][filtering.postfilter_label(name, power)] = seconds
    return out


def run_domain(name, spec, run_root, profile, overrides, jobs, max_songs, allow_unhealthy):
    from sepgan_lib.plans import load_plan
    from sepgan_lib.separate import load_run

    run_dir = run_root / name
    run = ensure_run(run_dir, spec["plan"], spec["roots"], profile, overrides)
    record: dict = {"plan": spec["plan"], "run": run}
    record["run"]["run_dir"] = os.path.relpath(run_dir, HERE.parent)
    run_health = health.run_health(run_dir)
    record["run"]["healthy"] = not health.failed(run_health)
    if not allow_unhealthy:
        health.require_healthy(run_health, str(run_dir))
    model, config = load_run(run_dir)
    data_plan = load_plan(spec["plan"], spec["roots"], config)
    record["songs_per_role"] = {r: len(t) for r, t in data_plan.roles.items()}
    record["sets"], record["seconds"] = {}, {}
    for split in ["valid", *evaluate.test_splits(data_plan)]:
        tracks = data_plan.tracks(split)[: max_songs or None]
        if not tracks:
            continue
        names = [t.name for t in tracks]
        keys = [t.key if names.count(t.name) > 1 else t.name for t in tracks]
        results, seconds = score_split(model, config, tracks, keys, jobs)
        minutes = sum(t.duration or 0.0 for t in tracks) / 60
        record["seconds"][split] = {
            "minutes": minutes,
            "separate_seconds_per_minute": {k: v / minutes for k, v in seconds.items()},
        }
        datasets = sorted({t.dataset for t in tracks})
        groups = {split: set(keys)}
        if len(datasets) > 1:  # e.g. musdb7's valid: MUSDB18-7 songs and MIR-1K clips
            groups = {
                f"{split}/{d}": {k for k, t in zip(keys, tracks) if t.dataset == d}
                for d in datasets
            }
        for group, members in groups.items():
            subset = {label: _subset(r, members) for label, r in results.items()}
            none = subset["none"]
            record["sets"][group] = {
                "role": split,
                "used_for_choice": split == "valid",
                "n": len(none["tracks"]),
                "skipped": len(results["none"]["skipped"]),
                "sdr_median": {label: _medians(r) for label, r in subset.items()},
                "vs_none": {
                    label: _versus_none(none, r) for label, r in subset.items() if label != "none"
                },
            }
    record["cost"] = filter_cost(model, config, data_plan.tracks("valid"))
    return record


def choose(domains: dict) -> dict:
    """The filter with the largest mean, over the validation sets of every domain and both
    sources, of the median paired SDR difference against ``none`` (``none`` scores 0); of
    filters within :data:`TIE_DB` of the best, the first (cheapest) of :data:`FILTERS`."""
    sets = {
        f"{d}/{group}": entry
        for d, record in domains.items()
        for group, entry in record["sets"].items()
        if entry["used_for_choice"]
    }
    scores = {"none": 0.0}
    for label in next(iter(sets.values()))["vs_none"]:
        gains = [e["vs_none"][label][s]["median_diff"] for e in sets.values() for s in SOURCES]
        scores[label] = float(np.mean(gains))
    best = max(scores.values())
    chosen = next(label for label, score in scores.items() if score >= best - TIE_DB)
    lines = []
    for name, entry in sets.items():
        diff = entry["vs_none"].get(chosen)
        if diff:
            lines.append(
                f"{name} ({entry['n']} songs): vocals {diff['vocals']['median_diff']:+.2f} "
                f"[{diff['vocals']['ci_low']:+.2f}, {diff['vocals']['ci_high']:+.2f}], "
                f"accompaniment {diff['accompaniment']['median_diff']:+.2f} "
                f"[{diff['accompaniment']['ci_low']:+.2f}, {diff['accompaniment']['ci_high']:+.2f}]"
            )
    listed = ", ".join(f"{k} {v:+.2f} dB" for k, v in scores.items())
    reason = (
        f"largest mean of the median paired SDR differences against none over the validation "
        f"sets {', '.join(sets)} and both sources ({listed}; within {TIE_DB} dB the cheaper "
        f"filter, in the order {', '.join(scores)})"
    )
    if lines:
        reason += f"; {chosen} against none: " + "; ".join(lines)
    return {
        "postfilter": chosen,
        "score_db": scores,
        "validation_sets": list(sets),
        "reason": reason,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    parser.add_argument("--domains", default="synthetic_shift,musdb7")
    parser.add_argument("--musdb", default=str(SHARED / "MUSDB18-7"), help="MUSDB18(-7) root")
    parser.add_argument("--mir1k", default=str(SHARED / "MIR-1K"), help="MIR-1K root")
    parser.add_argument("--run-root", default=str(HERE / "runs" / "postfilter"))
    parser.add_argument("--out", default=str(HERE / "results" / "postfilter.json"))
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for training")
    parser.add_argument("--jobs", type=int, default=2, help="BSS Eval processes")
    parser.add_argument("--max-songs", type=int, default=0, help="songs per role (0 = all)")
    parser.add_argument("--allow-unhealthy", action="store_true", help="for tests: not a result")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other domains of an existing --out file (each domain has its provenance)",
    )
    args = parser.parse_args(argv)
    all_domains = _domains(args.musdb, args.mir1k)
    names = [d.strip() for d in args.domains.split(",") if d.strip()]
    unknown = [d for d in names if d not in all_domains]
    if unknown:
        parser.error(f"unknown domain(s) {', '.join(unknown)}; choices: {', '.join(all_domains)}")
    overrides = parse_set_args(args.set)
    out = {
        **provenance(),
        "profile": args.profile,
        "overrides": overrides,
        "max_songs": args.max_songs,
        "filters": [filtering.postfilter_label(n, p) for n, p in FILTERS],
        "domains": {},
    }
    if args.merge and Path(args.out).is_file():
        out["domains"] = json.loads(Path(args.out).read_text()).get("domains", {})
    started = time.time()
    for name in names:
        made = provenance()
        record = run_domain(
            name,
            all_domains[name],
            Path(args.run_root),
            args.profile,
            overrides,
            args.jobs,
            args.max_songs,
            args.allow_unhealthy,
        )
        made["loadavg_end"] = list(os.getloadavg())
        out["domains"][name] = {"provenance": made, **record}
        for line in _lines(name, record):
            print(line, flush=True)
    out["choice"] = choose(out["domains"])
    out["seconds"] = time.time() - started
    out["loadavg_end"] = list(os.getloadavg())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"chosen: {out['choice']['postfilter']} ({out['choice']['reason']})")
    print(f"written {args.out}")
    return 0


def _lines(name: str, record: dict) -> list[str]:
    lines = []
    for group, entry in record["sets"].items():
        lines.append(f"{name} {group} ({entry['n']} songs), SDR medians vocals / accompaniment:")
        for label, med in entry["sdr_median"].items():
            text = f"  {label:<10} {med['vocals']:6.2f} / {med['accompaniment']:6.2f}"
            diff = entry["vs_none"].get(label)
            if diff:
                text += "   vs none: " + ", ".join(
                    f"{s[:3]} {diff[s]['median_diff']:+.2f} [{diff[s]['ci_low']:+.2f}, "
                    f"{diff[s]['ci_high']:+.2f}]"
                    for s in SOURCES
                )
            lines.append(text)
    cost = record["cost"]
    lines.append(
        f"{name} cost, s per minute of audio: network {cost['network_seconds_per_minute']:.2f}; "
        + ", ".join(f"{k} {v:.3f}" for k, v in cost["filters"].items())
    )
    return lines


if __name__ == "__main__":
    sys.exit(main())
