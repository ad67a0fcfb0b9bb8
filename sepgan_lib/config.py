"""One typed configuration with every key of the original's ``model_config``, and named profiles.

Profiles:

- ``paper``: the original's values (a GPU recipe).
- ``cpu``: sized so that the whole book builds on a 2-core machine in about 30 minutes.
- ``smoke``: seconds, for tests.

Overrides come from a dict or from ``--set key=value`` strings; an unknown key or a value of
the wrong type raises :class:`~sepgan_lib.errors.ConfigError` listing the valid keys.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .config_rules import FIXED, validate
from .errors import ConfigError


@dataclass
class Config:
    # --- the original's model_config -------------------------------------------------------
    batch_size: int = 64
    num_frames: int = 64  # desired separator output frames
    alpha: float = 0.001  # weight of the adversarial loss
    beta: float = 0.001  # weight of the additive penalty
    lam: float = 10.0  # gradient-penalty weight
    init_disc_lr: float = 5e-5
    init_sup_sep_lr: float = 5e-5
    init_unsup_sep_lr: float = 5e-5
    epoch_it: int = 1000  # separator steps per epoch
    num_disc: int = 5  # critic iterations per separator step
    num_layers: int = 4  # U-Net down/up steps
    num_fft: int = 512
    num_hop: int = 256
    expected_sr: int = 8192
    mono_downmix: bool = True
    cache_size: int = 64  # shuffle buffer of excerpts (the original's excerpt cache)
    num_workers: int = 4  # parallel calls of the input pipeline
    duration: float = 10.0  # seconds per excerpt drawn from a song
    min_replacement_rate: int = 8  # kept for reference: tf.data draws fresh excerpts each batch
    # --- ours ------------------------------------------------------------------------------
    gradient_penalty: str = "one_sided"  # "one_sided" (the original) or "two_sided" (WGAN-GP)
    patience: int = 1  # epochs without improvement before stopping (1 = the original)
    max_epochs: int = 100
    seed: int = 1337
    xla: bool = False  # compile the training steps with XLA (jit_compile=True)
    gain_min: float = 0.2  # random gain of unpaired excerpts
    gain_max: float = 1.2
    disjoint_unpaired: bool = False  # make the three unpaired pools draw from disjoint songs
    base_filters: int = 16  # separator filters at full resolution (16 -> 256 at 4 layers)
    critic_filters: int = 32  # critic filters of the first layer (doubling, at most 256)
    critic_dense: int = 32
    checkpoint_every: int = 100  # separator steps between checkpoints
    log_every: int = 20  # separator steps between TensorBoard scalars
    valid_max_songs: int = 0  # 0 = every validation song
    valid_max_seconds: float = 0.0  # 0 = whole songs; else the first seconds of each
    strategy: str = "default"  # "default", "mirrored" or "multi_worker"
    mixed_precision: bool = False  # mixed_float16 on GPU (ignored on CPU)
    phase: str = "mixture"  # resynthesis: "mixture" phase or "griffin_lim"
    postfilter: str = "none"  # estimates -> audio: "none" (the original), "soft", "wiener"
    postfilter_power: float = 1.0  # the soft masks' exponent p (postfilter "soft")
    synthetic_tracks: int = 100  # songs of the embedded synthetic set
    synthetic_seconds: float = 10.0
    shift_paired: int = 8  # synthetic_shift plan: paired songs (style a), the first of its train
    shift_tracks: int = 128  # synthetic_shift plan: songs of style b (unpaired/valid/test)
    output_activation: str = "relu"  # heads: "relu" (the original), "leaky_relu", "softplus"
    lr_warmup_steps: int = 0  # optimiser steps of a linear learning-rate warm-up (0 = none)
    health_check: bool = True  # check every output on the validation songs after training
    critic_warmup_steps: int = 0  # critic iterations against the frozen separator, first
    # remix augmentation of paired batches (as Open-Unmix and Demucs train): the share of
    # examples whose vocals and accompaniment come from independent draws over the paired
    # songs, each scaled by a random gain, summed into a new mixture
    remix: float = 0.0
    remix_gain_min: float = 0.25
    remix_gain_max: float = 1.25
    # validation: "songs" (every song weighs the same) or "datasets" (songs taken in turn
    # from each dataset of the role, the loss the mean of the datasets' losses)
    valid_balance: str = "songs"
    unpaired_max_songs: int = 0  # semi-supervised: the first songs of each unpaired role (0 = all)
    # semi-supervised: the datasets the unpaired pools draw from, comma-separated (empty = all)
    unpaired_datasets: str = ""

    # ---------------------------------------------------------------------------------------
    def replace(self, **overrides: Any) -> Config:
        return apply_overrides(self, overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Config:
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: cannot read the configuration ({err})") from err
        except RecursionError:  # hostile nesting: json.loads recurses per level
            raise ConfigError(
                f"{path}: cannot read the configuration (nested too deeply)"
            ) from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: not a configuration (expected a JSON object)")
        # keys fixed by this front-end had no effect when the run was made: keep the fixed value
        values = {k: v for k, v in values.items() if k not in FIXED}
        try:
            return apply_overrides(cls(), values)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from err


CHOICES: dict[str, tuple[str, ...]] = {
    "gradient_penalty": ("one_sided", "two_sided"),
    "strategy": ("default", "mirrored", "multi_worker"),
    "phase": ("mixture", "griffin_lim"),
    "postfilter": ("none", "soft", "wiener"),  # sepgan_lib.filtering.POSTFILTERS
    "output_activation": ("relu", "softplus", "leaky_relu"),
    "valid_balance": ("songs", "datasets"),
}

PROFILES: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu": {
        "batch_size": 8,
        "base_filters": 8,
        "critic_filters": 8,
        "epoch_it": 100,
        # until the validation loss stops improving (the fair test starts from that model)
        "max_epochs": 12,
        "patience": 2,
        "num_disc": 1,
        "init_sup_sep_lr": 5e-4,
        "init_unsup_sep_lr": 5e-4,
        "init_disc_lr": 2e-4,
        "checkpoint_every": 50,
        "log_every": 10,
        "valid_max_songs": 8,
        "num_workers": 2,
        "synthetic_tracks": 60,
        # the book's runs must not die: heads that keep a gradient, a gentle start
        # (experiments/head_health.py measures the share of healthy runs)
        "output_activation": "leaky_relu",
        "lr_warmup_steps": 50,
        # soft masks of power 2 on the model's estimates, chosen on validation songs of
        # synthetic_shift, MUSDB18-7 and MIR-1K (experiments/results/postfilter.json)
        "postfilter": "soft",
        "postfilter_power": 2.0,
    },
    "smoke": {
        "batch_size": 2,
        "num_frames": 16,
        "epoch_it": 3,
        "max_epochs": 2,
        "patience": 1,
        "num_disc": 1,
        "init_sup_sep_lr": 1e-3,
        "init_unsup_sep_lr": 1e-3,
        "init_disc_lr": 1e-3,
        "checkpoint_every": 2,
        "log_every": 1,
        "valid_max_songs": 2,
        "valid_max_seconds": 4.0,
        "num_workers": 2,
        "synthetic_tracks": 12,
        "synthetic_seconds": 6.0,
        "shift_paired": 2,
        "shift_tracks": 8,
        "base_filters": 4,
        "critic_filters": 8,
        "critic_dense": 8,
    },
}


def valid_keys() -> list[str]:
    return [f.name for f in fields(Config)]


def _unknown_key(key: str) -> ConfigError:
    return ConfigError(f"unknown configuration key {key!r}; valid keys: {', '.join(valid_keys())}")


def _coerce(key: str, value: Any, kind: type) -> Any:
    """Return ``value`` as ``kind`` or raise a ConfigError naming the key and the valid keys."""
    ok = (
        (kind is bool and isinstance(value, bool))
        or (kind is int and isinstance(value, int) and not isinstance(value, bool))
        or (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (kind is str and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(
            f"configuration key {key!r} expects {kind.__name__}, got {value!r} "
            f"({type(value).__name__}); valid keys: {', '.join(valid_keys())}"
        )
    value = kind(value)
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"configuration key {key!r} must be one of {CHOICES[key]}, got {value!r}")
    return value


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """A copy of ``config`` with ``overrides`` applied, each checked for key and type."""
    kinds = {f.name: f.type for f in fields(Config)}
    types = {"int": int, "float": float, "bool": bool, "str": str}
    changes = {}
    for key, value in overrides.items():
        if key not in kinds:
            raise _unknown_key(key)
        changes[key] = _coerce(key, value, types[kinds[key]])
    return validate(dataclasses.replace(config, **changes))


def parse_value(key: str, text: str) -> Any:
    """Parse the text of ``--set key=text`` into the key's type."""
    kinds = {f.name: f.type for f in fields(Config)}
    if key not in kinds:
        raise _unknown_key(key)
    kind = kinds[key]
    try:
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        return text
    except ValueError as err:
        raise ConfigError(
            f"configuration key {key!r} expects {kind}, got {text!r}; "
            f"valid keys: {', '.join(valid_keys())}"
        ) from err


def parse_set_args(items: list[str] | None) -> dict[str, Any]:
    """``["alpha=0.01", "xla=true"]`` -> ``{"alpha": 0.01, "xla": True}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, text = item.split("=", 1)
        out[key.strip()] = parse_value(key.strip(), text)
    return out


def make_config(profile: str = "paper", overrides: dict[str, Any] | None = None) -> Config:
    """The configuration of a named profile with ``overrides`` applied on top."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    config = apply_overrides(Config(), PROFILES[profile])
    return apply_overrides(config, overrides or {})


__all__ = [
    "Config",
    "PROFILES",
    "make_config",
    "apply_overrides",
    "parse_set_args",
    "valid_keys",
]


def cli_config(args) -> int:
    """``sepgan config [--profile P] [--set k=v]``: print the resolved configuration."""
    config = make_config(args.profile, parse_set_args(args.set))
    print(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    return 0
