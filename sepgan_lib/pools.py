"""The pools of a run: which songs of a data plan's roles are decoded into which
:class:`~.pipeline.SpectrogramCache` (paired, validation, the three unpaired pools).

- :func:`validation_tracks`: the validation songs (``valid_max_songs``, ``valid_balance``);
- :func:`unpaired_songs`: the songs of an unpaired role (``unpaired_datasets``,
  ``unpaired_max_songs``);
- :func:`build_pools`: all of them decoded once, as :class:`Pools`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .config import Config
from .datasets import decode_tracks
from .errors import DataError, SepganError
from .pipeline import (
    COMPLEX_SOURCES,
    SOURCES,
    SpectrogramCache,
    forget_spectrograms,
    model_shapes,
)


@dataclass
class Pools:
    """The decoded songs of a run: paired, validation and (semi-supervised) the unpaired
    ``mix``, ``vocals`` and ``acc`` pools."""

    paired: SpectrogramCache
    valid: SpectrogramCache
    unpaired: dict[str, SpectrogramCache] | None = None

    def problems(self) -> list[str]:
        caches = [self.paired, self.valid, *(self.unpaired or {}).values()]
        return sorted({p for c in caches for p in c.problems})


def validation_tracks(plan, config: Config) -> list:
    """The validation songs a run validates on: the first ``valid_max_songs`` of the plan's
    ``valid`` role (0 = all); with ``valid_balance = "datasets"`` taken in turn from each of
    its datasets, so that a few songs stand for every dataset."""
    tracks = plan.tracks("valid")
    if config.valid_balance == "datasets":
        groups: dict[str, list] = {}
        for track in tracks:
            groups.setdefault(track.dataset, []).append(track)
        turns = itertools.zip_longest(*groups.values())
        tracks = [track for turn in turns for track in turn if track is not None]
    return tracks[: config.valid_max_songs or None]


def unpaired_songs(tracks: list, config: Config, role: str) -> list:
    """The songs of an unpaired role the pools use: those of ``config.unpaired_datasets``
    (all when empty), then the first ``unpaired_max_songs`` (0 = all)."""
    wanted = [d.strip() for d in config.unpaired_datasets.split(",") if d.strip()]
    if wanted:
        present = sorted({t.dataset for t in tracks})
        missing = [d for d in wanted if d not in present]
        if missing:
            raise DataError(
                f"configuration key 'unpaired_datasets' = {config.unpaired_datasets!r}: role "
                f"{role!r} has no song of {', '.join(missing)}; its datasets: "
                f"{', '.join(present) or 'none'}"
            )
        tracks = [t for t in tracks if t.dataset in wanted]
    return tracks[: config.unpaired_max_songs or None]


def build_pools(plan, config: Config, mode: str, progress: bool = False) -> Pools:
    """Decode the songs of a plan's roles into spectrogram caches (the songs not decoded
    before are decoded in parallel first, :func:`.datasets.decode_tracks`)."""
    shapes = model_shapes(config)
    roles = plan.roles
    for role in ["paired", "valid"] + (
        ["unpaired_mix", "unpaired_vocals", "unpaired_acc"] if mode == "semi" else []
    ):
        if not roles.get(role):
            raise SepganError(f"data plan {plan.name!r} has no song in role {role!r}")
    # pool -> (role, source, shortest usable song in frames, sources that must be audible)
    pools = {
        "mix": ("unpaired_mix", "mixture", shapes.input[1], ()),
        "vocals": ("unpaired_vocals", "vocals", shapes.desired[1], ("vocals",)),
        "acc": ("unpaired_acc", "accompaniment", shapes.desired[1], ("accompaniment",)),
    }
    valid_tracks = validation_tracks(plan, config)
    unpaired_tracks = {
        pool: unpaired_songs(roles[role], config, role) for pool, (role, *_) in pools.items()
    } if mode == "semi" else {}  # fmt: skip
    every = [*roles["paired"], *valid_tracks, *(t for ts in unpaired_tracks.values() for t in ts)]
    decode_tracks(every, config.expected_sr)
    kw = {"progress": progress}
    paired = SpectrogramCache.from_tracks(
        roles["paired"],
        config,
        SOURCES + (COMPLEX_SOURCES if config.remix > 0 else ()),
        min_frames=shapes.input[1],
        label="paired songs",
        **kw,
    )
    valid = SpectrogramCache.from_tracks(
        valid_tracks, config, min_frames=1, label="validation songs", **kw
    )
    unpaired = None
    if mode == "semi":
        unpaired = {
            pool: SpectrogramCache.from_tracks(
                unpaired_tracks[pool],
                config,
                (source,),
                min_frames,
                require_audible=audible,
                label=f"unpaired {source}",
                **kw,
            )
            for pool, (role, source, min_frames, audible) in pools.items()
        }
    forget_spectrograms()
    return Pools(paired, valid, unpaired)
