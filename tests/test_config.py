import json

import pytest

from sepgan_lib import config as cfg
from sepgan_lib.cli import main
from sepgan_lib.errors import ConfigError


def test_paper_profile_has_the_original_defaults():
    c = cfg.make_config("paper")
    assert (c.batch_size, c.num_frames, c.alpha, c.beta, c.lam) == (64, 64, 0.001, 0.001, 10.0)
    assert (c.init_disc_lr, c.init_sup_sep_lr, c.init_unsup_sep_lr) == (5e-5, 5e-5, 5e-5)
    assert (c.epoch_it, c.num_disc, c.num_layers, c.num_fft, c.num_hop) == (1000, 5, 4, 512, 256)
    assert (c.expected_sr, c.mono_downmix, c.cache_size, c.num_workers) == (8192, True, 64, 4)
    assert (c.duration, c.min_replacement_rate, c.gradient_penalty, c.patience) == (
        10.0,
        8,
        "one_sided",
        1,
    )


def test_profiles_and_overrides():
    smoke = cfg.make_config("smoke", {"alpha": 0.5, "xla": True})
    assert smoke.batch_size < cfg.make_config("cpu").batch_size
    assert smoke.alpha == 0.5 and smoke.xla is True
    assert cfg.parse_set_args(["lam=3", "mono_downmix=false", "gradient_penalty=two_sided"]) == {
        "lam": 3.0,
        "mono_downmix": False,
        "gradient_penalty": "two_sided",
    }


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as info:
        cfg.make_config("cpu", {"batchsize": 3})
    assert "batchsize" in str(info.value) and "batch_size" in str(info.value)
    with pytest.raises(ConfigError, match="valid keys: .*num_disc"):
        cfg.parse_set_args(["nope=1"])


@pytest.mark.parametrize(
    "overrides", [{"batch_size": "64"}, {"batch_size": 1.5}, {"xla": 1}, {"alpha": "x"}]
)
def test_wrong_type_is_rejected(overrides):
    with pytest.raises(ConfigError, match="valid keys"):
        cfg.make_config("paper", overrides)
    key = next(iter(overrides))
    with pytest.raises(ConfigError, match=key):
        cfg.make_config("paper", overrides)


def test_bad_set_value_and_choice():
    with pytest.raises(ConfigError, match="batch_size"):
        cfg.parse_set_args(["batch_size=many"])
    with pytest.raises(ConfigError, match="one_sided"):
        cfg.make_config("paper", {"gradient_penalty": "three_sided"})
    with pytest.raises(ConfigError, match="profile"):
        cfg.make_config("huge")


def test_save_and_load_round_trip(tmp_path):
    c = cfg.make_config("smoke", {"alpha": 0.25})
    loaded = cfg.Config.load(c.save(tmp_path / "config.json"))
    assert loaded == c


def test_cli_config_prints_and_rejects(capsys):
    assert main(["config", "--profile", "smoke", "--set", "alpha=0.5"]) == 0
    assert json.loads(capsys.readouterr().out)["alpha"] == 0.5
    assert main(["config", "--set", "bogus=1"]) == 2
    assert "valid keys" in capsys.readouterr().err
