"""Issue 13, items 1 and 8: every configuration value is range-checked when it is made."""

import json
import math

import pytest

from sepgan_lib import cli
from sepgan_lib import config as cfg
from sepgan_lib.config_rules import FIXED, FREE, RANGES
from sepgan_lib.errors import ConfigError


def test_every_key_has_a_rule():
    keys = set(cfg.valid_keys())
    assert keys == set(RANGES) | set(FIXED) | set(FREE)


@pytest.mark.parametrize(
    "key, text",
    [
        ("num_layers", "20"),
        ("batch_size", "-1"),
        ("batch_size", "0"),
        ("alpha", "nan"),
        ("beta", "inf"),
        ("lam", "-1"),
        ("init_sup_sep_lr", "0"),
        ("epoch_it", "0"),
        ("num_disc", "0"),
        ("expected_sr", "0"),
        ("seed", "-3"),
        ("valid_max_seconds", "-1"),
        ("synthetic_seconds", "0"),
    ],
)
def test_out_of_range_values_are_refused_naming_key_and_value(key, text):
    with pytest.raises(ConfigError) as err:
        cfg.make_config("smoke", cfg.parse_set_args([f"{key}={text}"]))
    message = str(err.value)
    assert repr(key) in message and "allowed" in message
    assert str(cfg.parse_value(key, text)) in message or text in message


@pytest.mark.parametrize(
    "key, text",
    [
        ("num_fft", "1024"),
        ("num_hop", "128"),
        ("mono_downmix", "false"),
        ("duration", "5"),
        ("cache_size", "8"),
        ("min_replacement_rate", "2"),
    ],
)
def test_fixed_keys_refuse_other_values_with_a_reason(key, text):
    with pytest.raises(ConfigError, match=rf"'{key}'.*not supported.*allowed"):
        cfg.make_config("smoke", cfg.parse_set_args([f"{key}={text}"]))
    # the default value is accepted
    cfg.make_config("smoke", {key: FIXED[key][0]})


def test_consistency_rules():
    with pytest.raises(ConfigError, match="gain_min"):
        cfg.make_config("smoke", {"gain_min": 2.0, "gain_max": 1.0})
    with pytest.raises(ConfigError, match="num_layers.*num_frames"):
        cfg.make_config("smoke", {"num_layers": 7, "num_frames": 4096})
    for name in cfg.PROFILES:
        cfg.make_config(name)  # every profile is valid


def test_replace_and_load_are_checked_too(tmp_path):
    c = cfg.make_config("smoke")
    with pytest.raises(ConfigError, match="batch_size"):
        c.replace(batch_size=0)
    path = tmp_path / "config.json"
    values = {**c.to_dict(), "alpha": -1.0}
    path.write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=r"config.json.*'alpha'"):
        cfg.Config.load(path)
    # an old run folder with values of the fixed keys (which had no effect) still loads
    path.write_text(json.dumps({**c.to_dict(), "cache_size": 8, "num_fft": 1024}))
    loaded = cfg.Config.load(path)
    assert (loaded.cache_size, loaded.num_fft) == (64, 512)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a configuration"):
        cfg.Config.load(path)


def test_cli_config_refuses(capsys):
    assert cli.main(["config", "--profile", "smoke", "--set", "batch_size=-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sepgan: error:") and "'batch_size'" in err and "-1" in err
    assert "Traceback" not in err
    assert math.isfinite(cfg.make_config("smoke").alpha)
