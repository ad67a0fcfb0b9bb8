"""Styles of the synthetic songs: who sings and which band plays, as ranges the generator draws from.

A :class:`Style` holds every range the generator (:mod:`sepgan_lib.synth`) draws a song's
singer and band from. Two styles are shipped:

- ``"a"``: the original synthetic set (its songs are unchanged: the generator draws the same
  numbers from the same ranges);
- ``"b"``: another singer and another band playing the same task: slower songs in fewer keys,
  mostly minor; a higher, breathier, brighter voice with a slower and wider vibrato, mixed
  lower under the band; a brighter, sustained organ-like chord instrument, a rounder bass, a
  higher kick, a higher and brighter snare, darker hats.

Style ``b`` plays the part of the paper's other datasets (MedleyDB, CCMixter, iKala against
DSD100): the ``synthetic_shift`` plan trains on a few paired songs of style ``a`` and takes
the unpaired pools, the validation and the test songs from style ``b``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DataError

Range = tuple[float, float]


@dataclass(frozen=True)
class Style:
    name: str
    # --- the band: tempo and keys -----------------------------------------------------------
    tempo: Range = (84.0, 136.0)  # beats per minute
    tonics: tuple[int, ...] = tuple(range(12))  # pitch classes the key is drawn from
    major_share: float = 0.6  # share of songs in major
    # --- the singer --------------------------------------------------------------------------
    high_voice_share: float = 0.5
    high_register: tuple[int, int] = (64, 70)  # centre midi pitch of the melody, [low, high)
    low_register: tuple[int, int] = (55, 61)
    high_formants: Range = (1.08, 1.18)  # formant scale of a high / a low voice
    low_formants: Range = (0.95, 1.04)
    vocal_level_db: Range = (-5.0, 2.0)  # vocals-to-accompaniment ratio, active frames
    vibrato_rate: Range = (5.0, 7.0)  # Hz
    vibrato_depth: Range = (0.3, 0.6)  # semitones, peak
    voice_tilt: Range = (1.15, 1.65)  # harmonic roll-off of the source, loud / soft
    breath: float = 0.02  # level of the noise added to the glottal source
    # --- the band: instruments ---------------------------------------------------------------
    kick_low_hz: Range = (42.0, 55.0)  # where the kick's falling pitch ends
    snare_body_hz: Range = (170.0, 220.0)  # the snare's tonal body
    snare_band_hz: float = 900.0  # low edge of the snare's noise band
    hat_cutoff_hz: float = 3000.0  # high-pass of the hats
    bass_tilt: Range = (1.0, 1.6)  # harmonic roll-off of the bass
    chord_tilt: Range = (1.2, 2.0)  # harmonic roll-off of the chord instrument
    chord_decay: Range = (0.8, 2.0)  # how fast its upper partials decay
    chord_partials: int = 6
    chord_low: tuple[int, int] = (52, 57)  # lowest midi note of the chord voicings, [low, high)


STYLES: dict[str, Style] = {
    "a": Style("a"),
    "b": Style(
        "b",
        tempo=(66.0, 100.0),
        tonics=(0, 2, 5, 7, 9),
        major_share=0.3,
        high_voice_share=0.85,
        high_register=(67, 73),
        low_register=(58, 63),
        high_formants=(1.16, 1.26),
        low_formants=(1.02, 1.1),
        vocal_level_db=(-9.0, -2.0),
        vibrato_rate=(4.0, 5.5),
        vibrato_depth=(0.6, 1.0),
        voice_tilt=(0.9, 1.35),
        breath=0.06,
        kick_low_hz=(58.0, 72.0),
        snare_body_hz=(240.0, 300.0),
        snare_band_hz=1600.0,
        hat_cutoff_hz=2200.0,
        bass_tilt=(1.9, 2.5),
        chord_tilt=(0.5, 0.9),
        chord_decay=(0.15, 0.4),
        chord_partials=10,
        chord_low=(57, 62),
    ),
}
DEFAULT_STYLE = "a"


def get_style(style: str | Style) -> Style:
    """The shipped style named ``style`` (or ``style`` itself when it is a Style)."""
    if isinstance(style, Style):
        return style
    if style not in STYLES:
        raise DataError(f"unknown synthetic style {style!r}; styles: {', '.join(STYLES)}")
    return STYLES[style]
