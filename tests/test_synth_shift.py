"""Styles of the synthetic songs and the ``synthetic_shift`` plan (a domain shift)."""

import numpy as np
import pytest

from sepgan_lib import synth, synth_set
from sepgan_lib.cli import main
from sepgan_lib.config import make_config
from sepgan_lib.errors import DataError
from sepgan_lib.plans import UNPAIRED, load_plan, shift_splits
from sepgan_lib.synth_styles import STYLES, get_style

SONGS, SECONDS = 6, 4.0


def _centroid(x, sr=synth.SAMPLE_RATE):
    magnitude = np.abs(np.fft.rfft(x))
    return float((magnitude * np.fft.rfftfreq(len(x), 1 / sr)).sum() / magnitude.sum())


def _measure(style):
    """Per song: median sung pitch (midi), accompaniment spectral centroid (Hz), vocal level."""
    rows = []
    for i in range(SONGS):
        seed = synth.song_seed(7, i)
        plan = synth.song_plan(seed, SECONDS, style=style)
        song = synth.generate_song(seed, SECONDS, style=style)
        assert np.array_equal(song["mixture"], song["vocals"] + song["accompaniment"])
        rows.append(
            (
                np.median([note.midi for note in plan.notes]),
                _centroid(song["accompaniment"]),
                synth.vocal_level_db(song["vocals"], song["accompaniment"]),
            )
        )
    return np.array(rows)


def test_two_styles_differ_measurably():
    a, b = _measure("a"), _measure("b")
    assert np.median(b[:, 0]) - np.median(a[:, 0]) >= 2  # a higher singer (semitones)
    assert np.median(b[:, 1]) - np.median(a[:, 1]) >= 100  # a brighter band (Hz)
    assert np.median(b[:, 2]) < np.median(a[:, 2])  # vocals lower in the mix
    lo, hi = STYLES["b"].vocal_level_db
    assert np.all((b[:, 2] > lo - 0.5) & (b[:, 2] < hi + 0.5))


def test_default_style_is_a_and_unknown_style_is_refused():
    seed = synth.song_seed(0, 0)
    default, styled = synth.generate_song(seed, 2.0), synth.generate_song(seed, 2.0, style="a")
    assert all(np.array_equal(default[k], styled[k]) for k in synth.STEMS)
    assert synth_set.default_root(60, 10.0, 0).name == "n60-s10-seed0-v1"  # caches stay valid
    with pytest.raises(DataError, match="unknown synthetic style"):
        get_style("c")


def test_shift_splits():
    assert shift_splits(128) == {"train": 48, "valid": 40, "test": 40}
    assert shift_splits(272) == {"train": 192, "valid": 40, "test": 40}
    assert shift_splits(8) == {"train": 4, "valid": 2, "test": 2}


@pytest.mark.parametrize("paired", [2, 4])
def test_shift_plan_roles_have_the_stated_sizes_and_disjoint_songs(paired):
    config = make_config("smoke", {"shift_paired": paired, "shift_tracks": 16})
    plan = load_plan("synthetic_shift", config=config)
    sizes = shift_splits(16)
    assert len(plan.roles["paired"]) == paired
    assert {t.dataset for t in plan.roles["paired"]} == {"synthetic"}
    for pool in UNPAIRED:
        assert len(plan.roles[pool]) == sizes["train"]
    assert len(plan.roles["valid"]) == sizes["valid"] and len(plan.roles["test"]) == sizes["test"]
    shifted = [t for role in (*UNPAIRED, "valid", "test") for t in plan.roles[role]]
    assert {t.dataset for t in shifted} == {"synthetic_b"}
    keys = {role: {t.key for t in plan.roles[role]} for role in plan.roles}
    groups = [keys["paired"], keys["unpaired_mix"], keys["valid"], keys["test"]]
    assert sum(map(len, groups)) == len(set().union(*groups))  # no song in two roles
    # the paired songs are the first of style a's train split: more paired = a superset
    if paired > 2:
        fewer = load_plan("synthetic_shift", config=config.replace(shift_paired=2))
        assert keys["paired"] > {t.key for t in fewer.roles["paired"]}


def test_shift_plan_refuses_more_paired_songs_than_style_a_has():
    config = make_config("smoke", {"shift_paired": 50})
    with pytest.raises(DataError, match="shift_paired = 50"):
        load_plan("synthetic_shift", config=config)


def test_cli_data_check_synthetic_shift(capsys):
    assert main(["data", "check", "--plan", "synthetic_shift", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["paired"][1] == "2" and rows["unpaired_mix"][1] == "4"
    assert rows["valid"][1] == "2" and rows["test"][1] == "2"
    assert "0 error(s)" in out
