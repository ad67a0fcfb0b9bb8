"""Markdown tables of the recorded results (numbers are copied from the files by this script,
not by hand), and the page that holds them all, ``experiments/RESULTS.md``.

    python experiments/tables.py grid      [results/paired_vs_unpaired.json]
    python experiments/tables.py musdb7    [results/musdb7_recipe.json]   # every table
    python experiments/tables.py musdb7-summary [results/musdb7_recipe.json]
    python experiments/tables.py page      # writes experiments/RESULTS.md
    python experiments/tables.py postfilter [results/postfilter.json]
    python experiments/tables.py domains [results/real_domains.json]
    python experiments/tables.py search [results/recipe_search.json]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run from a checkout without installing
sys.path.insert(1, str(HERE.parent))

from provenance import relative_command  # noqa: E402

from sepgan_lib.fair_comparison import best_supervised, recipe_search  # noqa: E402

SOURCES = ("vocals", "accompaniment")
RESULTS = HERE / "results"
PAGE = HERE / "RESULTS.md"


def _diff(d: dict, n: int | None = None) -> str:
    text = f"{d['median_diff']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]"
    return text + (f", {d['wins']}/{n}" if n else "")


def _filters(recorded: dict) -> str:
    """The post-filter(s) a recorded grid or recipe was scored with (none before issue 19)."""
    entries = list(recorded.get("points", []))
    entries += [s for seed in recorded.get("seeds", []) for s in seed.get("splits", {}).values()]
    found = sorted({e.get("postfilter", "none") for e in entries})
    return ", ".join(found) if found else ""


def _header(recorded: dict) -> str:
    load = recorded.get("loadavg_start", [None])[0]
    filters = _filters(recorded)
    return (
        f"`{relative_command(recorded['command'])}`, {recorded['date']}, commit {str(recorded['git_commit'])[:7]}, "
        f"{recorded['machine']['cpu_count']} CPUs, load average at start {load:.1f}, "
        f"{recorded.get('seconds', 0) / 60:.0f} min in all"
        + (f", post-filter {filters}" if filters else "")
    )


def grid_tables(recorded: dict) -> str:
    """One row per point, then one per paired-song count over the seeds."""
    lines = [_header(recorded), ""]
    lines.append(
        "| paired songs | seed | steps (sup + continuation) | vocals SDR control / semi "
        "| vocals semi - control | accompaniment SDR control / semi "
        "| accompaniment semi - control |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    per_count: dict[int, list[dict]] = {}
    for point in recorded["points"]:
        runs = point["runs"]
        if "semi_minus_control" not in point:
            lines.append(
                f"| {point['paired']} | {point['seed']} | | failed health check: "
                f"{', '.join(point['failures'])} | | | |"
            )
            continue
        per_count.setdefault(point["paired"], []).append(point)
        med, diff, n = point["sdr_median"], point["semi_minus_control"], point["n_test"]
        lines.append(
            f"| {point['paired']} | {point['seed']} | {runs['supervised']['steps']} + "
            f"{runs['semi']['steps']} | {med['control']['vocals']:.2f} / {med['semi']['vocals']:.2f}"
            f" | {_diff(diff['vocals'], n)} | {med['control']['accompaniment']:.2f} / "
            f"{med['semi']['accompaniment']:.2f} | {_diff(diff['accompaniment'], n)} |"
        )
    lines += ["", "Over the seeds (mean of the per-seed medians; min to max):", ""]
    lines.append(
        "| paired songs | seeds | vocals SDR control | vocals SDR semi "
        "| vocals semi - control | seeds with the interval above 0 "
        "| accompaniment semi - control |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for count, points in sorted(per_count.items()):

        def spread(values):
            return f"{statistics.mean(values):.2f} ({min(values):.2f} to {max(values):.2f})"

        control = [p["sdr_median"]["control"]["vocals"] for p in points]
        semi = [p["sdr_median"]["semi"]["vocals"] for p in points]
        gain = [p["semi_minus_control"]["vocals"]["median_diff"] for p in points]
        above = sum(p["semi_minus_control"]["vocals"]["ci_low"] > 0 for p in points)
        acc = [p["semi_minus_control"]["accompaniment"]["median_diff"] for p in points]
        lines.append(
            f"| {count} | {len(points)} | {spread(control)} | {spread(semi)} | {spread(gain)} "
            f"| {above} of {len(points)} | {spread(acc)} |"
        )
    return "\n".join(lines)


def musdb7_tables(recorded: dict) -> str:
    """Per seed and role: SDR medians of the runs and baselines, then the comparisons."""
    lines = [_header(recorded), ""]
    roles = recorded["songs_per_role"]
    lines.append("songs per role: " + ", ".join(f"{r} {n}" for r, n in roles.items()))
    for seed in recorded["seeds"]:
        runs = seed["runs"]
        lines += [
            "",
            f"Seed {seed['seed']}: "
            + ", ".join(
                f"{name} {r['steps']} steps ({r['train_seconds']:.0f} s)"
                for name, r in runs.items()
            ),
        ]
        if seed["failures"]:
            lines.append(f"failed health check: {', '.join(seed['failures'])}")
            continue
        for split, record in seed["splits"].items():
            lines += ["", f"`{split}` ({record['n']} songs), SDR medians (dB):", ""]
            names = list(record["sdr_median"])
            lines.append("| source | " + " | ".join(names) + " |")
            lines.append("|---" * (len(names) + 1) + "|")
            for s in SOURCES:
                values = " | ".join(f"{record['sdr_median'][n][s]:.2f}" for n in names)
                lines.append(f"| {s} | {values} |")
            lines += ["", "| comparison | vocals | accompaniment |", "|---|---|---|"]
            for pair, diff in record["compare"].items():
                lines.append(
                    f"| {pair} | {_diff(diff['vocals'], diff['n'])} "
                    f"| {_diff(diff['accompaniment'], diff['n'])} |"
                )
    return "\n".join(lines)


def musdb7_summary(recorded: dict) -> str:
    """One row per seed and role (the baselines do not depend on the seed: one row each)."""
    lines = [_header(recorded), ""]
    lines.append(
        "| seed | role (songs) | training s (sup + control + semi) | vocals SDR sup / control "
        "/ semi | vocals semi - control | accompaniment SDR sup / control / semi "
        "| accompaniment semi - control |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    baselines = {}
    for seed in recorded["seeds"]:
        runs = seed["runs"]
        seconds = " + ".join(f"{runs[n]['train_seconds']:.0f}" for n in runs)
        if seed["failures"]:
            lines.append(f"| {seed['seed']} | | {seconds} | failed: {seed['failures']} | | | |")
            continue
        for split, record in seed["splits"].items():
            med, diff = record["sdr_median"], record["compare"]["semi - control"]
            baselines[f"{split} ({record['n']})"] = {
                k.removeprefix("baseline "): v for k, v in med.items() if k.startswith("baseline")
            }
            cells = [
                " / ".join(f"{med[n][s]:.2f}" for n in ("supervised", "control", "semi"))
                for s in SOURCES
            ]
            lines.append(
                f"| {seed['seed']} | {split} ({record['n']}) | {seconds} | {cells[0]} "
                f"| {_diff(diff['vocals'], diff['n'])} | {cells[1]} "
                f"| {_diff(diff['accompaniment'], diff['n'])} |"
            )
    lines += ["", "| role (songs) | baseline | vocals SDR | accompaniment SDR |"]
    lines.append("|---|---|---|---|")
    for role, methods in baselines.items():
        for method, values in methods.items():
            lines.append(
                f"| {role} | {method} | {values['vocals']:.2f} | {values['accompaniment']:.2f} |"
            )
    return "\n".join(lines)


def postfilter_tables(recorded: dict) -> str:
    """Per domain and set: every filter's SDR medians and its paired difference against
    none; then the cost of each filter and the choice."""
    lines = [_header(recorded), ""]
    lines.append(
        "| set | songs | filter | vocals SDR | accompaniment SDR | vocals - none "
        "| accompaniment - none |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for domain, record in recorded["domains"].items():
        for name, entry in record["sets"].items():
            role = "validation" if entry["used_for_choice"] else "test"
            for label, med in entry["sdr_median"].items():
                diff = entry["vs_none"].get(label)
                diffs = [_diff(diff[s], entry["n"]) if diff else "" for s in SOURCES]
                lines.append(
                    f"| {domain} {name} ({role}) | {entry['n']} | {label} | "
                    f"{med['vocals']:.2f} | {med['accompaniment']:.2f} | {diffs[0]} | {diffs[1]} |"
                )
    labels = recorded["filters"]
    lines += ["", "Seconds per minute of audio (separate_audio while scoring, all songs of a role;"]
    lines += ["the filter's own part on one minute, best of 5):", ""]
    lines.append("| domain | what | " + " | ".join(labels) + " |")
    lines.append("|---|---|" + "---|" * len(labels))
    for domain, record in recorded["domains"].items():
        for split, cost in record["seconds"].items():
            per = cost["separate_seconds_per_minute"]
            row = " | ".join(f"{per[k]:.2f}" for k in labels)
            lines.append(f"| {domain} | separate_audio on {split} | {row} |")
        own = record["cost"]["filters"]
        network = record["cost"]["network_seconds_per_minute"]
        row = " | ".join(f"{own[k]:.3f}" for k in labels)
        lines.append(f"| {domain} | filter alone (network: {network:.2f}) | {row} |")
    choice = recorded["choice"]
    lines += ["", f"Chosen: **{choice['postfilter']}**: {choice['reason']}."]
    return "\n".join(lines)


def ablation_table(grid: dict, ablations: list[dict]) -> str:
    """The grid's point of each ablation with one term of the semi run changed, against the
    same control: the semi run's vocals SDR and semi minus control."""
    lines = [
        "| semi-supervised run | vocals SDR | vocals semi - control | accompaniment semi - control |",
        "|---|---|---|---|",
    ]

    def row(label: str, point: dict) -> str:
        diff, n = point["semi_minus_control"], point["n_test"]
        return (
            f"| {label} | {point['sdr_median']['semi']['vocals']:.2f} "
            f"| {_diff(diff['vocals'], n)} | {_diff(diff['accompaniment'], n)} |"
        )

    points = [ablation["points"][0] for ablation in ablations]
    recipe = grid["recipe"]
    for paired, seed in sorted({(p["paired"], p["seed"]) for p in points}):
        (same,) = [
            p
            for p in grid["points"]
            if (p["paired"], p["seed"]) == (paired, seed) and "semi_minus_control" in p
        ]
        label = f"the recipe (alpha = {recipe['alpha']:g}, beta = {recipe['beta']:g})"
        lines.append(row(f"{label}, paired {paired}, seed {seed}", same))
    for ablation, point in zip(ablations, points):
        changed = ", ".join(f"{k} = {v:g}" for k, v in ablation["semi_changes"].items())
        lines.append(row(f"{changed}, paired {point['paired']}, seed {point['seed']}", point))
    lines.append("")
    lines += [f"- {_header(ablation)}" for ablation in ablations]
    return "\n".join(lines)


def domains_tables(recorded: dict) -> str:
    """Both domains (``musdb7_recipe.py --plan musdb7_domains``): per seed and test set the
    variants' vocals and accompaniment SDR medians, then every recorded difference."""
    lines = [_header(recorded), ""]
    variants = recorded.get("variants", ["supervised", "control", "semi"])
    lines.append(
        "| seed | test set (songs) | best supervised (validation) | "
        + " | ".join(f"{v} voc / acc" for v in variants)
        + " |"
    )
    lines.append("|---|---|---|" + "---|" * len(variants))
    pairs = []
    for seed in recorded["seeds"]:
        if seed["failures"]:
            lines.append(
                f"| {seed['seed']} | failed: {seed['failures']} |" + " |" * (len(variants) + 1)
            )
            continue
        best = best_supervised(seed)
        for split, record in seed["splits"].items():
            med = record["sdr_median"]
            cells = [f"{med[v]['vocals']:.2f} / {med[v]['accompaniment']:.2f}" for v in variants]
            lines.append(
                f"| {seed['seed']} | {split} ({record['n']}) | {best} | " + " | ".join(cells) + " |"
            )
            pairs += [(seed["seed"], split, pair, d) for pair, d in record["compare"].items()]
    lines += [
        "",
        "| seed | test set | difference | vocals | accompaniment |",
        "|---|---|---|---|---|",
    ]
    for seed, split, pair, d in pairs:
        lines.append(
            f"| {seed} | {split} | {pair} | {_diff(d['vocals'], d['n'])} "
            f"| {_diff(d['accompaniment'], d['n'])} |"
        )
    return "\n".join(lines)


def search_table(recorded: dict) -> str:
    """The recipe search (``musdb7_recipe.py --splits valid``): each semi-supervised recipe
    minus the best supervised model of its budget on each validation domain, best first."""
    lines = [_header(recorded), ""]
    lines.append(
        "| recipe | steps (best epoch) | best supervised | MUSDB vocals | MUSDB accompaniment "
        "| MIR-1K vocals | MIR-1K accompaniment | criterion | worst median |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for entry in recipe_search(recorded):
        cells = {(r["split"], r["source"]): r for r in entry["rows"]}
        against = sorted({r["against_run"] for r in entry["rows"]})
        values = [
            _diff(cells[split, source], cells[split, source]["n"]) if (split, source) in cells
            else "-"
            for split in ("valid/musdb", "valid/mir1k")
            for source in SOURCES
        ]  # fmt: skip
        met = "met" if entry["criterion"]["met"] else "not met"
        lines.append(
            f"| {entry['method']} | {', '.join(map(str, entry['steps']))} "
            f"({', '.join(map(str, entry['best_epochs']))}) | "
            f"{', '.join(against)} | " + " | ".join(values) + f" | {met} | {entry['worst']:+.2f} |"
        )
    return "\n".join(lines)


def unpaired_sizes_table(records: dict[int, dict]) -> str:
    """The 8-paired-song point with N unpaired songs in the semi run's pools, one file each."""
    lines = []
    for songs, recorded in sorted(records.items()):
        lines.append(f"- {songs} unpaired songs: {_header(recorded)}")
    lines += [
        "",
        "| unpaired songs | seed | vocals semi - control | accompaniment semi - control |",
    ]
    lines.append("|---|---|---|---|")
    for songs, recorded in sorted(records.items()):
        for point in recorded["points"]:
            d = point.get("semi_minus_control")
            if d is None:
                lines.append(f"| {songs} | {point['seed']} | failed: {point['failures']} | |")
                continue
            n = point["n_test"]
            lines.append(
                f"| {songs} | {point['seed']} | {_diff(d['vocals'], n)} "
                f"| {_diff(d['accompaniment'], n)} |"
            )
    return "\n".join(lines)


def _sizes(records: dict[int, dict]) -> str:
    sizes = [str(n) for n in sorted(records)]
    return ", ".join(sizes[:-1]) + f" and {sizes[-1]}" if len(sizes) > 1 else sizes[0]


def unpaired_records() -> dict[int, dict]:
    """``results/unpaired_<N>.json`` by N (the full pool has no cut)."""
    records = {}
    for path in RESULTS.glob("unpaired_*.json"):
        records[int(path.stem.removeprefix("unpaired_"))] = json.loads(path.read_text())
    return records


def page() -> str:
    """``experiments/RESULTS.md``: every recorded table, generated from ``results/``."""
    grid = json.loads((RESULTS / "paired_vs_unpaired.json").read_text())
    ablations = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("ablation_*.json"))]
    musdb7 = json.loads((RESULTS / "musdb7_recipe.json").read_text())
    postfilter = json.loads((RESULTS / "postfilter.json").read_text())
    return "\n".join(
        [
            "# Recorded results",
            "",
            "Generated by `python experiments/tables.py page` from `experiments/results/*.json`;",
            "do not edit by hand (`tests/test_results_page.py` fails when this page is out of",
            "date). SDR in dB, BSS Eval v3 medians over the test songs; a difference is semi",
            "minus control, the median over the songs with its bootstrap 95 % interval and",
            "the songs won. Folders of the machine a command ran on, outside the repository,",
            "are written `runs/NAME`. What the numbers show, and what they do not:",
            "[docs/results.md](../docs/results.md).",
            "",
            "## 2 to 16 paired songs, three seeds (`synthetic_shift`)",
            "",
            grid_tables(grid),
            "",
            "## Which term carries it: one term of the semi run switched off",
            "",
            ablation_table(grid, ablations),
            "",
            "## Real songs: the recipe on `musdb7`",
            "",
            musdb7_summary(musdb7),
            "",
            "## Post-filters: soft masks and Wiener filtering of the estimates",
            "",
            postfilter_tables(postfilter),
            "",
        ]
        + _optional_sections()
    )


def _optional_sections() -> list[str]:
    """The sections of results that are recorded in this checkout (issue 20's)."""
    out = []
    domains = RESULTS / "real_domains.json"
    if domains.exists():
        out += [
            "## Real songs on both domains: `musdb7_domains`, remix augmentation",
            "",
            domains_tables(json.loads(domains.read_text())),
            "",
        ]
    search = RESULTS / "recipe_search.json"
    if search.exists():
        out += [
            "## The recipe search on validation (`musdb7_domains`, seed 0)",
            "",
            search_table(json.loads(search.read_text())),
            "",
        ]
    records = unpaired_records()
    if records:
        out += [
            f"## More unpaired data: {_sizes(records)} unpaired songs (`synthetic_shift`, "
            "8 paired)",
            "",
            unpaired_sizes_table(records),
            "",
        ]
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "page":
        PAGE.write_text(page())
        print(f"written: {PAGE}")
        return 0
    commands = ("grid", "musdb7", "musdb7-summary", "postfilter", "domains", "search")
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    defaults = {
        "grid": "paired_vs_unpaired.json",
        "postfilter": "postfilter.json",
        "domains": "real_domains.json",
        "search": "recipe_search.json",
    }
    default = defaults.get(argv[0], "musdb7_recipe.json")
    path = Path(argv[1]) if len(argv) > 1 else HERE / "results" / default
    recorded = json.loads(path.read_text())
    tables = {"grid": grid_tables, "musdb7": musdb7_tables, "musdb7-summary": musdb7_summary}
    tables["postfilter"] = postfilter_tables
    tables["domains"] = domains_tables
    tables["search"] = search_table
    print(tables[argv[0]](recorded))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
