"""The listening widgets of the static page (``sepgan_lib.players``): every choice is in the
page, the blind A/B does not give its answer away, identical audio is embedded once."""

from __future__ import annotations

import base64
import re

import numpy as np

from sepgan_lib import players

SR = 8192


def _tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _answer(page: str) -> str:
    return base64.b64decode(re.search(r'data-answer="([^"]+)"', page).group(1)).decode()


def test_blind_ab_holds_both_signals_and_hides_which_is_which():
    page = players.ab_listening(
        _tone(220), _tone(440), SR, labels=("first model", "second model"), seed=3
    )._repr_html_()
    assert page.count('class="sepgan-panel"') == 2
    assert page.count("<audio") == 2
    assert "first model" not in page and "second model" not in page  # only encoded
    assert _answer(page) in (
        "A = first model, B = second model",
        "A = second model, B = first model",
    )
    assert 'onclick="window.sepganWidgets.reveal(' in page


def test_blind_ab_order_comes_from_the_seed():
    answers = {
        seed: _answer(
            players.ab_listening(_tone(220), _tone(440), SR, ("x", "y"), seed)._repr_html_()
        )
        for seed in range(12)
    }
    assert len(set(answers.values())) == 2  # both orders occur over the seeds
    again = players.ab_listening(_tone(220), _tone(440), SR, ("x", "y"), 5)._repr_html_()
    assert _answer(again) == answers[5]


def test_blind_ab_with_the_truth_shows_each_error_spectrogram():
    truth = _tone(220)
    page = players.ab_listening(truth + 0.01, truth * 0.5, SR, truth=truth)._repr_html_()
    assert page.count("error spectrogram") == 2
    assert page.count("<img") == 4


def test_choice_view_renders_every_combination_and_embeds_equal_audio_once():
    song = {"mixture": _tone(330), "vocals": _tone(440)}
    results = {
        "reference": {"s1": song},
        "model": {"s1": {"mixture": song["mixture"], "vocals": _tone(550)}},
    }
    page = players.separation_explorer(results, SR)._repr_html_()
    keys = re.findall(r'class="sepgan-panel" data-key="([^"]+)"', page)
    assert sorted(keys) == sorted(
        f"{m}|s1|{s}" for m in ("reference", "model") for s in ("mixture", "vocals")
    )
    audio = re.findall(r'src="data:audio/(?:mpeg|wav);base64,([^"]+)"', page)
    assert len(audio) == 3  # the mixture both models share is held once
    assert page.count("data-copy=") == 1
    assert page.count("<select") == 3


def test_spectrogram_explorer_draws_each_setting():
    page = players.spectrogram_explorer(
        {"tone": _tone(440)}, SR, n_ffts=(256, 512), hops=(2,), top_dbs=(80,)
    )._repr_html_()
    assert page.count('class="sepgan-panel"') == 2
    assert "tone|512|n_fft / 2|80" in page
