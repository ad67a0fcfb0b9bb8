"""Data plans: which songs play which role, and the cached plan index.

A plan assigns :class:`~sepgan_lib.datasets.Track` records to roles: ``paired`` (supervised),
``unpaired_mix``, ``unpaired_vocals``, ``unpaired_acc``, ``valid``, ``test`` and named extra
test sets ``test_<name>``. Shipped plans (``synthetic``, ``synthetic_shift``, ``paper``,
``musdb7``) and custom YAML
plans share one schema (see ``docs/data_plans.md``)::

    name: my-plan
    roots: {musdb: /data/MUSDB18-7}     # defaults; --root NAME=PATH overrides
    optional: [mir1k]                   # datasets that may be absent (others are required)
    roles:
      paired:   [{dataset: musdb, subset: train, slice: "0:30"}]
      unpaired: [{dataset: musdb, subset: train, slice: "44:"}]   # fills the three pools
      valid:    [{dataset: musdb, subset: train, slice: "30:44"}]
      test_mir1k: [{dataset: mir1k, part: "3/3"}]

A selection picks from a dataset's songs in sorted order: ``subset`` filters, then ``slice``
(``"a:b"``), ``part`` (``"k/n"``: the k-th of n parts of sizes ``len // n``, the last one
taking the rest, so 50 songs in thirds are 16/16/18) or ``names`` (a list) cut the list.

Why one module of about 510 lines: the shipped plans are written in the schema this module
checks and resolves, and the index cache keys on both; a third of it is the shipped plans.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .cache import cache_dir, write_json
from .config import make_config
from .datasets import LAYOUTS, READERS, Track, check_subset
from .errors import DataError
from .names import checked_name
from .synth_set import ensure_synthetic_set

ROLES = ("paired", "unpaired_mix", "unpaired_vocals", "unpaired_acc", "valid", "test")
UNPAIRED = ("unpaired_mix", "unpaired_vocals", "unpaired_acc")
INDEX_VERSION = 1


# --- shipped plans (the same schema as a YAML plan) ------------------------------------------

_THIRDS_DATASETS = ("medleydb", "ccmixter", "ikala")


def _musdb7_plan(name, description, valid, unpaired, held_out=None) -> dict[str, Any]:
    """A plan of MUSDB18(-7)'s train songs (slices of the sorted list: 0:30 paired, then
    ``valid``, ``unpaired`` and, when given, ``held_out`` as ``test_musdb``) and MIR-1K's
    thirds (unpaired / valid / test_mir1k); the MUSDB test subset, when present, is ``test``."""

    def musdb(part: str) -> dict:
        return {"dataset": "musdb", "subset": "train", "slice": part}

    roles = {
        "paired": [musdb("0:30")],
        "valid": [musdb(valid), {"dataset": "mir1k", "part": "2/3"}],
        "unpaired": [musdb(unpaired), {"dataset": "mir1k", "part": "1/3"}],
        "test": [{"dataset": "musdb", "subset": "test"}],
        **({"test_musdb": [musdb(held_out)]} if held_out else {}),
        "test_mir1k": [{"dataset": "mir1k", "part": "3/3"}],
    }
    return {"name": name, "description": description, "optional": ["mir1k"], "roles": roles}


SHIPPED_PLANS: dict[str, dict[str, Any]] = {
    "synthetic": {
        "name": "synthetic",
        "description": "the embedded synthetic set: train halves paired / unpaired, valid, test",
        "roles": {
            "paired": [{"dataset": "synthetic", "subset": "train", "part": "1/2"}],
            "unpaired": [{"dataset": "synthetic", "subset": "train", "part": "2/2"}],
            "valid": [{"dataset": "synthetic", "subset": "valid"}],
            "test": [{"dataset": "synthetic", "subset": "test"}],
        },
    },
    # A domain shift like the paper's (DSD100 paired; MedleyDB, CCMixter, iKala unpaired, valid
    # and test): a few paired songs of style a, everything else of style b. The paired slice is
    # ``config.shift_paired`` songs (see :func:`_spec_for`); style b's set has
    # ``config.shift_tracks`` songs split by :func:`shift_splits`.
    "synthetic_shift": {
        "name": "synthetic_shift",
        "description": "domain shift: the first shift_paired songs of the synthetic set "
        "(style a) paired; the unpaired pools, valid and test from a set of style b",
        "roles": {
            "paired": [{"dataset": "synthetic", "subset": "train", "slice": "0:8"}],
            "unpaired": [{"dataset": "synthetic_b", "subset": "train"}],
            "valid": [{"dataset": "synthetic_b", "subset": "valid"}],
            "test": [{"dataset": "synthetic_b", "subset": "test"}],
            "test_style_a": [{"dataset": "synthetic", "subset": "test"}],
        },
    },
    "paper": {
        "name": "paper",
        "description": "Stoller et al. 2018: DSD100 Dev paired, Test halves valid/test; "
        "MedleyDB, CCMixter, iKala in thirds unpaired/valid/test",
        "optional": ["dsd100", *_THIRDS_DATASETS],
        "require_any": True,
        "roles": {
            "paired": [{"dataset": "dsd100", "subset": "Dev"}],
            "unpaired": [{"dataset": d, "part": "1/3"} for d in _THIRDS_DATASETS],
            "valid": [{"dataset": "dsd100", "subset": "Test", "part": "1/2"}]
            + [{"dataset": d, "part": "2/3"} for d in _THIRDS_DATASETS],
            "test": [{"dataset": "dsd100", "subset": "Test", "part": "2/2"}]
            + [{"dataset": d, "part": "3/3"} for d in _THIRDS_DATASETS],
            "test_dsd100": [{"dataset": "dsd100", "subset": "Test", "part": "2/2"}],
            **{f"test_{d}": [{"dataset": d, "part": "3/3"}] for d in _THIRDS_DATASETS},
        },
    },
    "musdb7": _musdb7_plan(
        "musdb7",
        "MUSDB18(-7) train: 30 paired, 14 valid, 50 unpaired; MIR-1K thirds "
        "unpaired/valid/test_mir1k; musdb test subset -> test",
        valid="30:44",
        unpaired="44:",
    ),
    # The fair test on both domains (issue 20): MUSDB songs held out of training and of
    # selection stand for the paired domain when the root has no test subset; validation
    # holds both domains (valid_balance = "datasets" weighs them equally).
    "musdb7_domains": _musdb7_plan(
        "musdb7_domains",
        "MUSDB18(-7) train: 30 paired, 10 valid, 24 held out (test_musdb), "
        "30 unpaired; MIR-1K thirds unpaired/valid/test_mir1k; musdb test subset -> test",
        valid="30:40",
        unpaired="64:",
        held_out="40:64",
    ),
}


# --- the plan record -------------------------------------------------------------------------


@dataclass
class DataPlan:
    name: str
    roles: dict[str, list[Track]]
    problems: list[str] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)

    def tracks(self, role: str) -> list[Track]:
        return list(self.roles.get(role, []))

    def all_tracks(self) -> list[Track]:
        """Every track of the plan once (in role order)."""
        seen: dict[str, Track] = {}
        for tracks in self.roles.values():
            for track in tracks:
                seen.setdefault(track.key, track)
        return list(seen.values())

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per role: tracks, minutes (from the headers), sample rates and datasets."""
        out = {}
        for role, tracks in self.roles.items():
            out[role] = {
                "tracks": len(tracks),
                "minutes": round(sum(t.duration for t in tracks) / 60.0, 3),
                "sample_rates": dict(sorted(Counter(t.sample_rate for t in tracks).items())),
                "datasets": dict(sorted(Counter(t.dataset for t in tracks).items())),
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": INDEX_VERSION,
            "name": self.name,
            "roots": dict(self.roots),
            "problems": list(self.problems),
            "roles": {r: [t.to_dict() for t in ts] for r, ts in self.roles.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataPlan:
        return cls(
            name=str(d["name"]),
            roles={r: [Track.from_dict(t) for t in ts] for r, ts in d["roles"].items()},
            problems=list(d.get("problems", [])),
            roots=dict(d.get("roots", {})),
        )


def save_index(plan: DataPlan, path) -> Path:
    """Write the plan (every track of every role, the problems) as JSON."""
    return write_json(path, plan.to_dict(), indent=1)


def load_index(path) -> DataPlan:
    path = Path(path)
    try:
        return DataPlan.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: not a readable plan index ({err})") from err


# --- roots and plan specs --------------------------------------------------------------------


def parse_roots(items: list[str] | dict | None) -> dict[str, Path]:
    """``["musdb=/x", "mir1k=/y"]`` (or a dict) -> ``{"musdb": Path("/x"), ...}``."""
    if not items:
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(items, dict):
        pairs = [(str(k), str(v)) for k, v in items.items()]
    else:
        for item in items:
            name, sep, path = str(item).partition("=")
            if not sep or not name.strip() or not path.strip():
                raise DataError(
                    f"--root expects NAME=PATH (e.g. musdb=/data/MUSDB18-7), got {item!r}"
                )
            pairs.append((name.strip(), path.strip()))
    out = {}
    for name, path in pairs:
        if name not in READERS:
            raise DataError(f"unknown dataset root {name!r}; known datasets: {', '.join(READERS)}")
        out[name] = Path(path).expanduser()
    return out


def _check_role(role: str, where: str) -> None:
    checked_name(role, f"{where}: role", DataError)  # a role names its eval/ files
    if role in ROLES or role == "unpaired" or role.startswith("test_"):
        return
    raise DataError(
        f"{where}: unknown role {role!r}; roles are {', '.join(ROLES)}, 'unpaired' (all three "
        "pools) and named test sets 'test_<name>'"
    )


def validate_spec(spec: Any, where: str) -> dict[str, Any]:
    """Check a plan spec (a shipped plan or a parsed YAML file); raise DataError if malformed."""
    if not isinstance(spec, dict):
        raise DataError(f"{where}: a plan must be a mapping with 'name' and 'roles'")
    unknown = set(spec) - {"name", "description", "roots", "optional", "require_any", "roles"}
    if unknown:
        raise DataError(f"{where}: unknown plan keys {sorted(unknown)}")
    if "name" in spec:  # the name becomes the plan index's and eval/'s file names
        checked_name(spec["name"], f"{where}: plan name", DataError)
    roles = spec.get("roles")
    if not isinstance(roles, dict) or not roles:
        raise DataError(f"{where}: 'roles' must map role names to lists of selections")
    for role, selections in roles.items():
        _check_role(str(role), where)
        if not isinstance(selections, list):
            raise DataError(f"{where}: role {role!r} must be a list of selections")
        for sel in selections:
            if not isinstance(sel, dict) or "dataset" not in sel:
                raise DataError(f"{where}: role {role!r}: each selection needs a 'dataset'")
            if sel["dataset"] not in READERS:
                raise DataError(
                    f"{where}: role {role!r}: unknown dataset {sel['dataset']!r}; "
                    f"known: {', '.join(READERS)}"
                )
            check_subset(sel, f"{where}: role {role!r}")
            extra = set(sel) - {"dataset", "subset", "slice", "part", "names"}
            if extra:
                raise DataError(f"{where}: role {role!r}: unknown selection keys {sorted(extra)}")
            if sum(k in sel for k in ("slice", "part", "names")) > 1:
                raise DataError(f"{where}: role {role!r}: use one of slice, part, names")
    for key in ("roots",):
        if key in spec and not isinstance(spec[key], dict):
            raise DataError(f"{where}: 'roots' must map dataset names to paths")
    if "optional" in spec and not isinstance(spec["optional"], list):
        raise DataError(f"{where}: 'optional' must be a list of dataset names")
    return spec


def read_plan_file(path) -> dict[str, Any]:
    """A YAML plan file's spec, checked (:func:`validate_spec`)."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read the plan file ({err})") from err
    spec = validate_spec(spec, str(path))
    spec.setdefault("name", checked_name(path.stem, f"{path}: plan name", DataError))
    # Relative default roots are relative to the plan file.
    spec["roots"] = {
        k: str((path.parent / Path(v).expanduser()).absolute())
        for k, v in (spec.get("roots") or {}).items()
    }
    return spec


def shift_splits(tracks: int) -> dict[str, int]:
    """Songs per split of the style-b set of ``synthetic_shift``: valid and test
    ``round(5/16 N)`` each (at least 1, at most 40), train (the unpaired pools) the rest:
    128 -> 48/40/40, and a bigger set only grows the pools: 272 -> 192/40/40."""
    held_out = min(max(1, round(5 * tracks / 16)), 40)
    return {"train": tracks - 2 * held_out, "valid": held_out, "test": held_out}


def _spec_for(plan, config=None) -> dict[str, Any]:
    if plan is None:
        plan = "synthetic"
    if plan == "synthetic_shift" and config is not None:
        spec = json.loads(json.dumps(SHIPPED_PLANS[plan]))
        spec["roles"]["paired"][0]["slice"] = f"0:{config.shift_paired}"
        return spec
    if isinstance(plan, str) and plan in SHIPPED_PLANS:
        return SHIPPED_PLANS[plan]
    path = Path(plan)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise DataError(f"plan file {path} does not exist")
        return read_plan_file(path)
    raise DataError(
        f"unknown plan {plan!r}; shipped plans: {', '.join(SHIPPED_PLANS)}, or a YAML plan file"
    )


def _parse_slice(text: str, where: str) -> slice:
    try:
        parts = [p.strip() for p in str(text).split(":")]
        if len(parts) not in (2, 3):
            raise ValueError
        return slice(*(int(p) if p else None for p in parts))
    except ValueError as err:
        raise DataError(f"{where}: slice must look like 'a:b', got {text!r}") from err


def split_parts(tracks: list, n: int) -> list[list]:
    """``n`` consecutive parts of sizes ``len // n``, the last one taking the rest."""
    size = len(tracks) // n
    return [tracks[k * size : (k + 1) * size if k < n - 1 else len(tracks)] for k in range(n)]


def _select(tracks: list[Track], sel: dict, where: str) -> list[Track]:
    if "subset" in sel:
        tracks = [t for t in tracks if t.subset == str(sel["subset"])]
    if "slice" in sel:
        return tracks[_parse_slice(sel["slice"], where)]
    if "part" in sel:
        try:
            k, n = (int(x) for x in str(sel["part"]).split("/"))
            if not 1 <= k <= n:
                raise ValueError
        except ValueError as err:
            raise DataError(f"{where}: part must look like 'k/n' with 1 <= k <= n") from err
        return split_parts(tracks, n)[k - 1]
    if "names" in sel:
        by_name = {t.name: t for t in tracks}
        missing = [n for n in sel["names"] if n not in by_name]
        if missing:
            raise DataError(f"{where}: songs not found: {', '.join(map(str, missing))}")
        return [by_name[n] for n in sel["names"]]
    return tracks


# --- building a plan -------------------------------------------------------------------------


def _signature(roots: dict[str, Path]) -> str:
    """Hash of the paths, sizes and mtimes of every file under the roots (no decoding)."""
    h = hashlib.sha1()
    for name in sorted(roots):
        root = Path(roots[name])
        h.update(f"\0root {name} {root}\n".encode())
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fname in sorted(filenames):
                if fname.startswith("."):
                    continue
                full = os.path.join(dirpath, fname)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                rel = os.path.relpath(full, root)
                h.update(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _resolve_roots(spec, roots: dict[str, Path], config) -> tuple[dict[str, Path], list[str]]:
    where = f"plan {spec.get('name')}"
    datasets = sorted({sel["dataset"] for sels in spec["roles"].values() for sel in sels})
    unused = sorted(set(roots) - set(datasets))
    if unused:
        raise DataError(
            f"{where} does not use the root(s) {', '.join(unused)}; it reads {', '.join(datasets)}"
        )
    defaults = {k: Path(v) for k, v in (spec.get("roots") or {}).items()}
    optional = set(spec.get("optional") or [])
    resolved: dict[str, Path] = {}
    problems: list[str] = []
    for ds in datasets:
        root = roots.get(ds) or defaults.get(ds)
        if root is None and ds == "synthetic":
            root = ensure_synthetic_set(
                tracks=config.synthetic_tracks, seconds=config.synthetic_seconds, seed=0
            )
        if root is None and ds == "synthetic_b":
            root = ensure_synthetic_set(
                tracks=config.shift_tracks,
                seconds=config.synthetic_seconds,
                seed=1,  # other songs than style a's set, not only another style
                style="b",
                splits=shift_splits(config.shift_tracks),
            )
        if root is None:
            if ds in optional:
                problems.append(
                    f"optional root {ds} not given (--root {ds}=PATH); its songs are left out"
                )
                continue
            raise DataError(f"{where} needs --root {ds}=PATH; expected {LAYOUTS[ds]}")
        root = Path(os.path.abspath(Path(root).expanduser()))
        if not root.is_dir():
            raise DataError(
                f"{ds} root {root} does not exist or is not a folder; expected {LAYOUTS[ds]}"
            )
        resolved[ds] = root
    if not resolved:
        raise DataError(
            f"{where} needs at least one of the roots {', '.join(datasets)} "
            f"(--root NAME=PATH); layouts: " + "; ".join(f"{d}: {LAYOUTS[d]}" for d in datasets)
        )
    return resolved, problems


def _build(spec, roots: dict[str, Path], problems: list[str], config) -> DataPlan:
    name = str(spec.get("name", "plan"))
    listings: dict[str, list[Track]] = {}
    for ds, root in roots.items():
        listings[ds] = sorted(
            READERS[ds](root, problems=problems), key=lambda t: (t.subset, t.name)
        )
    roles: dict[str, list[Track]] = {r: [] for r in ROLES}
    for role, selections in spec["roles"].items():
        for i, sel in enumerate(selections):
            ds = sel["dataset"]
            if ds not in listings:
                continue
            picked = _select(listings[ds], sel, f"plan {name}, role {role}, selection {i + 1}")
            if role == "unpaired":
                if config.disjoint_unpaired:
                    for pool, part in zip(UNPAIRED, split_parts(picked, 3)):
                        roles[pool].extend(part)
                else:
                    for pool in UNPAIRED:
                        roles[pool].extend(picked)
            else:
                roles.setdefault(role, []).extend(picked)
    for role in ROLES:
        if not roles[role]:
            problems.append(f"role {role} has no tracks")
    return DataPlan(
        name=name, roles=roles, problems=problems, roots={k: str(v) for k, v in roots.items()}
    )


def load_plan(plan: str | Path | None = None, roots=None, config=None, use_index: bool = True):
    """Build (or reuse from the index cache) the plan ``plan`` with dataset ``roots``.

    ``plan`` is a shipped plan's name (default ``"synthetic"``) or a YAML file; ``roots`` a
    list of ``NAME=PATH`` strings or a dict; ``config`` a :class:`~sepgan_lib.config.Config`
    (``None``: the ``paper`` profile). The index lives in ``cache_dir("index")`` and is rebuilt
    when any file under the roots changes (paths, sizes, mtimes: no audio is decoded).
    """
    config = config or make_config("paper")
    spec = _spec_for(plan, config)
    resolved, problems = _resolve_roots(spec, parse_roots(roots), config)
    key_blob = json.dumps(
        [INDEX_VERSION, spec, {k: str(v) for k, v in resolved.items()}, config.disjoint_unpaired],
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha1(key_blob.encode()).hexdigest()[:20]
    name = checked_name(spec.get("name", "plan"), "plan name", DataError)
    index_path = cache_dir("index") / f"{name}-{key}.json"
    signature = _signature(resolved)
    if use_index and index_path.exists():
        try:
            cached = json.loads(index_path.read_text())
            if cached.get("signature") == signature:
                return _checked_shift(DataPlan.from_dict(cached["plan"]), config)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    data_plan = _build(spec, resolved, problems, config)
    write_json(index_path, {"signature": signature, "plan": data_plan.to_dict()}, indent=1)
    return _checked_shift(data_plan, config)


def _checked_shift(plan: DataPlan, config) -> DataPlan:
    """``synthetic_shift`` must have the paired songs asked for: an experiment over the number
    of paired songs would otherwise compare fewer songs than it says."""
    have = len(plan.roles.get("paired", []))
    if plan.name == "synthetic_shift" and have < config.shift_paired:
        raise DataError(
            f"plan synthetic_shift: shift_paired = {config.shift_paired} paired songs asked for, "
            f"but the synthetic set's train split has {have}; raise synthetic_tracks"
        )
    return plan


__all__ = [
    "ROLES",
    "DataPlan",
    "SHIPPED_PLANS",
    "parse_roots",
    "load_plan",
    "save_index",
    "load_index",
]
