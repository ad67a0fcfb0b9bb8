"""Range and consistency rules of every configuration key, checked when a configuration is made.

:func:`validate` runs at the end of :func:`sepgan_lib.config.apply_overrides`, so every way of
making a configuration (profiles, ``--set``, papermill parameters, ``Config.load`` of a run
folder's ``config.json``) is checked before any data is read or any file is written. An error
names the key, the value and what is allowed.

Keys of the original's ``model_config`` that this front-end fixes (the STFT size, the hop, the
mono downmix, the excerpt cache of the original's loader) are listed in :data:`FIXED`: any
other value is refused with the reason, instead of being accepted and ignored.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError
from .shapes import unet_shapes

BIG = 10**9

# key -> (kind, low, high, low_open): integers/floats in [low, high] (or (low, high] when
# low_open). Floats must also be finite.
RANGES: dict[str, tuple[type, float, float, bool]] = {
    "batch_size": (int, 1, 4096, False),
    "num_frames": (int, 1, 4096, False),
    "alpha": (float, 0.0, 1e6, False),
    "beta": (float, 0.0, 1e6, False),
    "lam": (float, 0.0, 1e6, False),
    "init_disc_lr": (float, 0.0, 1.0, True),
    "init_sup_sep_lr": (float, 0.0, 1.0, True),
    "init_unsup_sep_lr": (float, 0.0, 1.0, True),
    "epoch_it": (int, 1, BIG, False),
    "num_disc": (int, 1, 1000, False),
    "num_layers": (int, 1, 7, False),
    "expected_sr": (int, 1000, 96000, False),
    "num_workers": (int, 1, 256, False),
    "patience": (int, 1, BIG, False),
    "max_epochs": (int, 1, BIG, False),
    "seed": (int, 0, 2**31 - 1, False),
    "gain_min": (float, 0.0, 100.0, True),
    "gain_max": (float, 0.0, 100.0, True),
    "base_filters": (int, 1, 1024, False),
    "critic_filters": (int, 1, 1024, False),
    "critic_dense": (int, 1, 65536, False),
    "checkpoint_every": (int, 1, BIG, False),
    "log_every": (int, 1, BIG, False),
    "valid_max_songs": (int, 0, BIG, False),
    "valid_max_seconds": (float, 0.0, 1e6, False),
    "synthetic_tracks": (int, 1, 100000, False),
    "synthetic_seconds": (float, 0.0, 3600.0, True),
    "shift_paired": (int, 1, 100000, False),
    "shift_tracks": (int, 3, 100000, False),
    "lr_warmup_steps": (int, 0, BIG, False),
    "critic_warmup_steps": (int, 0, BIG, False),
    "postfilter_power": (float, 0.0, 16.0, True),
    "remix": (float, 0.0, 1.0, False),
    "unpaired_max_songs": (int, 0, BIG, False),
    "remix_gain_min": (float, 0.0, 100.0, True),
    "remix_gain_max": (float, 0.0, 100.0, True),
}

# Keys whose value is one of a few words (their check is in config.CHOICES), a flag, or a
# list of dataset names (checked against the data plan where it is used).
FREE = (
    "gradient_penalty",
    "strategy",
    "phase",
    "postfilter",
    "xla",
    "disjoint_unpaired",
    "mixed_precision",
    "output_activation",
    "health_check",
    "valid_balance",
    "unpaired_datasets",
)

# key -> (the only accepted value, why it is fixed here)
FIXED: dict[str, tuple[Any, str]] = {
    "num_fft": (
        512,
        "the STFT size is fixed at 512 here: the separator and the critics are built for its "
        "256 frequency bins",
    ),
    "num_hop": (
        256,
        "the STFT hop is fixed at 256 here, as in the original; other hops would change every "
        "frame count the book and the checkpoints rely on",
    ),
    "mono_downmix": (
        True,
        "the separator is a mono model: every input is downmixed to mono (stereo is not "
        "supported by this front-end)",
    ),
    "duration": (
        10.0,
        "this front-end decodes whole songs once instead of 10-s excerpts, so the excerpt "
        "duration has no meaning here",
    ),
    "cache_size": (
        64,
        "this front-end keeps every decoded song in memory and draws fresh patches each batch, "
        "so the original's excerpt cache size has no meaning here",
    ),
    "min_replacement_rate": (
        8,
        "every batch is drawn afresh from all decoded songs, so the original's cache "
        "replacement rate has no meaning here",
    ),
}

# The longest input patch (seconds) a shape may need: beyond this no realistic song is long
# enough and the models no longer fit in memory (num_layers/num_frames too large).
MAX_PATCH_SECONDS = 60.0


def rule_text(key: str) -> str:
    """What ``key`` accepts, in words."""
    if key in FIXED:
        return f"only {FIXED[key][0]!r} ({FIXED[key][1]})"
    kind, low, high, low_open = RANGES[key]
    if kind is int:
        return f"an integer from {low} to {high}"
    return f"a finite number {'>' if low_open else '>='} {low:g} and <= {high:g}"


def _check_key(key: str, value: Any) -> None:
    if key in FIXED:
        fixed, why = FIXED[key]
        if value != fixed:
            raise ConfigError(
                f"configuration key {key!r} = {value!r} is not supported: {why}; allowed: {fixed!r}"
            )
        return
    if key not in RANGES:
        return
    kind, low, high, low_open = RANGES[key]
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        raise ConfigError(
            f"configuration key {key!r} = {value!r} is out of range; allowed: {rule_text(key)}"
        )


def patch_frames(config) -> int:
    """Input frames of one training patch (the U-Net input for ``num_frames`` output frames)."""
    return unet_shapes((256, config.num_frames), config.num_layers).input[1]


def validate(config):
    """Check every key of ``config`` for range and the keys for consistency; return ``config``.

    Raises :class:`~sepgan_lib.errors.ConfigError` naming the key, the value and what is allowed.
    """
    values = config.to_dict()
    for key, value in values.items():
        _check_key(key, value)
    for low, high in (("gain_min", "gain_max"), ("remix_gain_min", "remix_gain_max")):
        if values[low] > values[high]:
            raise ConfigError(
                f"configuration keys {low!r} = {values[low]!r} and {high!r} = "
                f"{values[high]!r} are inconsistent: {low} must be <= {high}"
            )
    if config.postfilter != "none" and config.phase != "mixture":
        raise ConfigError(
            f"configuration keys 'postfilter' = {config.postfilter!r} and 'phase' = "
            f"{config.phase!r} are inconsistent: a post-filter masks the mixture's complex STFT "
            "(its phase); allowed: phase 'mixture', or postfilter 'none' with 'griffin_lim'"
        )
    seconds = patch_frames(config) * config.num_hop / config.expected_sr
    if seconds > MAX_PATCH_SECONDS:
        raise ConfigError(
            f"configuration keys 'num_layers' = {config.num_layers} and 'num_frames' = "
            f"{config.num_frames} need input patches of {seconds:.1f} s at {config.expected_sr} "
            f"Hz; allowed: at most {MAX_PATCH_SECONDS:g} s (lower num_layers or num_frames)"
        )
    return config
