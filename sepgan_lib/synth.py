"""The embedded synthetic multitrack set: songs that sound like songs, made offline from a seed.

Each song has a tempo, a key (major or minor) and a chord progression in that key, drawn
from its seed. The accompaniment plays them with synthesised drums (a pitched, decaying sine
kick, a noise snare, high-passed noise hats), a bass line on the chord roots and a chord
instrument with decaying, several-partial notes. The vocals sing a monophonic melody on the
same chords and scale, in the same rhythm (an eighth-note grid at the song's tempo), in
phrases separated by rests. The voice is a source-filter model: a glottal-like source with
rich harmonics (band-limited additive synthesis, its spectral tilt following the loudness)
shaped by three formant resonators per vowel, the vowel changing from syllable to syllable;
short noise bursts at syllable onsets stand for consonants. The pitch glides between notes
and carries a 5-7 Hz vibrato that fades in after each note's onset. Loudness varies by phrase
(a level per phrase and a swell or fade within it) and by note.

Levels: the vocals are mixed at a vocals-to-accompaniment ratio drawn uniformly from
[-5, +2] dB (inside the [-6, +3] dB band of real mixes), where the ratio is the RMS of the
vocals over the 50 ms frames in which they are *active* (above -40 dB re their loudest
frame) against the RMS of the accompaniment over the same frames; see
:func:`vocal_level_db`. The mixture is exactly ``vocals + accompaniment`` in float32 (the
files are 32-bit float wavs, so the identity survives on disk); when the mixture would
clip, all three are scaled by the same factor.

Song ``i`` of a set with seed ``K`` is ``generate_song(song_seed(K, i))``, so a song does not
depend on how many songs the set has; :mod:`.synth_set` writes sets to disk.

Why one module of about 750 lines: composing (tempo, key, chords, melody) and rendering (five
instruments and the voice) share the song plan and its private helpers, and each part is
read with the others (a note's plan is what the voice sings); split, they would import each
other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal

from .errors import DataError
from .synth_styles import DEFAULT_STYLE, STYLES, Style, get_style

GENERATOR_VERSION = 1
STEMS = ("mixture", "vocals", "accompaniment")
SAMPLE_RATE = 8192

#: Vocals-to-accompaniment ratio range (dB, over the vocals' active frames) of the mixes.
VOCAL_LEVEL_DB = STYLES[DEFAULT_STYLE].vocal_level_db
#: Frame length (s) and threshold (dB re the loudest frame) that define "active" vocals.
ACTIVITY_FRAME = 0.05
ACTIVITY_THRESHOLD_DB = -40.0
#: RMS of the accompaniment before any anti-clipping scaling (about -18 dBFS).
ACCOMPANIMENT_RMS = 0.125

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0 = tonic), one chord per bar or per half bar.
MAJOR_PROGRESSIONS = (
    (0, 4, 5, 3),  # I V vi IV
    (0, 5, 3, 4),  # I vi IV V
    (5, 3, 0, 4),  # vi IV I V
    (0, 3, 4, 3),  # I IV V IV
    (0, 3, 5, 4),  # I IV vi V
    (1, 4, 0, 0),  # ii V I I
    (0, 2, 3, 4),  # I iii IV V
)
MINOR_PROGRESSIONS = (
    (0, 5, 2, 6),  # i VI III VII
    (0, 3, 4, 0),  # i iv v i
    (0, 6, 5, 6),  # i VII VI VII
    (0, 5, 3, 4),  # i VI iv v
    (0, 3, 6, 2),  # i iv VII III
)
# Vowel formants (Hz) and bandwidths (Hz) of an adult voice: a, e, i, o, u.
VOWELS = {
    "a": ((800, 1200, 2550), (80, 90, 120)),
    "e": ((480, 1850, 2550), (70, 100, 120)),
    "i": ((310, 2200, 2950), (60, 100, 130)),
    "o": ((520, 900, 2450), (70, 80, 120)),
    "u": ((340, 780, 2350), (60, 80, 120)),
}
VOWEL_NAMES = tuple(VOWELS)
CONSONANTS = ("s", "sh", "t", "k", "h")


# --------------------------------------------------------------------------------------------
# The song plan: everything musical, drawn from the seed before any audio is rendered.


@dataclass(frozen=True)
class VocalNote:
    """One sung note: times in seconds, ``midi`` pitch, vibrato and glide parameters."""

    onset: float
    duration: float
    midi: int
    phrase: int
    new_syllable: bool
    vowel: int  # index into VOWEL_NAMES
    consonant: str | None
    vibrato_rate: float  # Hz
    vibrato_depth: float  # semitones, peak
    vibrato_delay: float  # s after the onset before the vibrato starts to fade in
    glide: float  # s of portamento from the previous note of the phrase
    accent_db: float


@dataclass(frozen=True)
class SongPlan:
    seconds: float
    sr: int
    tempo: float  # beats per minute
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"
    chord_beats: int
    chords: tuple[tuple[int, ...], ...]  # pitch classes of each chord, root first
    notes: tuple[VocalNote, ...]
    phrases: tuple[tuple[float, float, float, float], ...]  # start, end, gain dB, swell dB
    vocal_register: int  # centre midi pitch of the melody
    formant_scale: float
    level_db: float  # vocals-to-accompaniment ratio over the active frames
    drum_pattern: dict = field(default_factory=dict)
    bass_steps: tuple[int, ...] = ()
    chord_style: str = "bar"
    style: Style = STYLES[DEFAULT_STYLE]  # the ranges the renderers draw the band and voice from

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo

    def chord_at(self, seconds: float) -> tuple[int, ...]:
        index = int(seconds // (self.beat * self.chord_beats))
        return self.chords[index % len(self.chords)]


def _rng_pair(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"synthetic song seed must be a non-negative integer, got {seed!r}")
    plan_ss, render_ss = np.random.SeedSequence([int(seed), GENERATOR_VERSION]).spawn(2)
    return np.random.default_rng(plan_ss), np.random.default_rng(render_ss)


def song_seed(seed: int, index: int) -> int:
    """The seed of song ``index`` of a set generated with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _check_args(seconds: float, sr: int) -> None:
    if not np.isfinite(seconds) or seconds < 1:
        raise DataError(f"synthetic songs must last at least 1 second, got seconds={seconds!r}")
    if sr < 8000:
        raise DataError(f"synthetic songs need a sample rate of at least 8000 Hz, got {sr}")


def song_plan(
    seed: int, seconds: float = 10.0, sr: int = SAMPLE_RATE, style: str | Style = DEFAULT_STYLE
) -> SongPlan:
    """Draw the musical plan of a song (tempo, key, chords, melody, ...) from its seed, within
    the ranges of ``style`` (:mod:`.synth_styles`)."""
    _check_args(seconds, sr)
    style = get_style(style)
    rng, _ = _rng_pair(seed)
    tempo = float(rng.uniform(*style.tempo))
    tonic = style.tonics[int(rng.integers(len(style.tonics)))]
    mode = "major" if rng.random() < style.major_share else "minor"
    scale = MAJOR if mode == "major" else MINOR
    progs = MAJOR_PROGRESSIONS if mode == "major" else MINOR_PROGRESSIONS
    degrees = progs[rng.integers(len(progs))]
    chord_beats = 4 if tempo < 120 or rng.random() < 0.5 else 8
    if rng.random() < 0.25:
        chord_beats //= 2
    chords = []
    for d in degrees:
        notes = [(tonic + scale[(d + k) % 7]) % 12 for k in (0, 2, 4)]
        if rng.random() < 0.2:  # a seventh now and then
            notes.append((tonic + scale[(d + 6) % 7]) % 12)
        chords.append(tuple(notes))

    # Drums, bass and chord rhythms on a 16-step bar.
    kick = [0, 8] + [s for s in (3, 6, 10, 11, 14) if rng.random() < 0.25]
    snare = [4, 12] + [s for s in (7, 15) if rng.random() < 0.15]
    hats = list(range(0, 16, 2)) if rng.random() < 0.65 else list(range(16))
    open_hat = [s for s in (6, 14) if rng.random() < 0.3]
    drum_pattern = {"kick": sorted(kick), "snare": sorted(snare), "hats": hats, "open": open_hat}
    bass_options = ((0, 4, 8, 12), (0, 6, 8, 14), (0, 2, 4, 6, 8, 10, 12, 14), (0, 3, 8, 11))
    bass_steps = bass_options[rng.integers(len(bass_options))]
    chord_style = ("bar", "half", "offbeat", "comp", "arp")[rng.integers(5)]

    # The voice: register, formant scale (larger for higher voices), level in the mix.
    high = rng.random() < style.high_voice_share
    register = int(
        rng.integers(*style.high_register) if high else rng.integers(*style.low_register)
    )
    formant_scale = float(rng.uniform(*(style.high_formants if high else style.low_formants)))
    level_db = float(rng.uniform(*style.vocal_level_db))
    vib_rate = float(rng.uniform(*style.vibrato_rate))

    plan = SongPlan(
        seconds=float(seconds),
        sr=int(sr),
        tempo=tempo,
        tonic=tonic,
        mode=mode,
        chord_beats=chord_beats,
        chords=tuple(chords),
        notes=(),
        phrases=(),
        vocal_register=register,
        formant_scale=formant_scale,
        level_db=level_db,
        drum_pattern=drum_pattern,
        bass_steps=bass_steps,
        chord_style=chord_style,
        style=style,
    )
    notes, phrases = _plan_melody(rng, plan, scale, vib_rate)
    return replace(plan, notes=tuple(notes), phrases=tuple(phrases))


def _plan_melody(rng, plan: SongPlan, scale, vib_rate: float):
    """Phrases of notes on an eighth-note grid, chord tones on strong beats, rests between."""
    eighth = plan.beat / 2
    total = int(np.ceil(plan.seconds / eighth))
    pitches = np.array(
        [
            m
            for m in range(plan.vocal_register - 8, plan.vocal_register + 10)
            if (m - plan.tonic) % 12 in scale
        ]
    )
    notes: list[VocalNote] = []
    phrases = []
    pos = min(int(rng.choice([1, 2, 4, 6])), total // 4)  # a short intro, in eighths
    last_pitch = plan.vocal_register
    last_vowel = -1
    phrase = 0
    while pos < total - 2:
        length = int(rng.choice([6, 8, 8, 10, 12]))  # eighths
        length = min(length, total - pos)
        # Durations: a long final note, the rest filled with 1..4 eighths.
        final = int(min(length, rng.choice([3, 4, 4, 6])))
        durs = []
        left = length - final
        while left > 0:
            d = int(min(left, rng.choice([1, 2, 3, 4], p=[0.5, 0.3, 0.08, 0.12])))
            durs.append(d)
            left -= d
        durs.append(final)
        gain_db = float(rng.uniform(-6.0, 0.0))
        swell_db = float(rng.uniform(-3.0, 3.0))
        start = pos * eighth
        step = pos
        for k, d in enumerate(durs):
            onset = step * eighth
            chord = plan.chord_at(onset + 1e-6)
            strong = step % 2 == 0
            interval = pitches - last_pitch
            weight = np.exp(-np.abs(interval) / 1.8)
            weight[interval == 0] *= 0.5
            if strong or k == len(durs) - 1:
                weight *= np.where(np.isin(pitches % 12, chord), 4.0, 0.4)
            # Drift back towards the middle of the register.
            weight *= np.exp(-np.abs(pitches - plan.vocal_register - 1) / 8.0)
            midi = int(rng.choice(pitches, p=weight / weight.sum()))
            new_syllable = k == 0 or rng.random() < 0.85
            vowel = last_vowel
            consonant = None
            if new_syllable:
                vowel = int(rng.choice([v for v in range(len(VOWEL_NAMES)) if v != last_vowel]))
                if rng.random() < 0.75:
                    consonant = str(rng.choice(CONSONANTS))
            seconds_long = d * eighth
            notes.append(
                VocalNote(
                    onset=onset,
                    duration=seconds_long,
                    midi=midi,
                    phrase=phrase,
                    new_syllable=new_syllable,
                    vowel=vowel,
                    consonant=consonant,
                    vibrato_rate=float(
                        np.clip(vib_rate + rng.normal(0, 0.2), *plan.style.vibrato_rate)
                    ),
                    vibrato_depth=float(rng.uniform(*plan.style.vibrato_depth)),
                    vibrato_delay=float(rng.uniform(0.1, 0.22)),
                    glide=float(rng.uniform(0.04, 0.1)),
                    accent_db=float(rng.uniform(-1.5, 1.5)),
                )
            )
            last_pitch, last_vowel = midi, vowel
            step += d
        end = min(step * eighth, plan.seconds)
        phrases.append((start, end, gain_db, swell_db))
        # A rest of at least 60 % of the phrase (and 1.5 beats): rests are >= 3/8 of the time.
        rest = max(int(rng.choice([3, 4, 5, 6])), int(np.ceil(0.6 * length)))
        pos = step + rest
        phrase += 1
    return notes, phrases


# --------------------------------------------------------------------------------------------
# Rendering helpers.


def _midi_hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _add(buf: np.ndarray, start: int, x: np.ndarray) -> None:
    if start >= len(buf):
        return
    if start < 0:
        x = x[-start:]
        start = 0
    end = min(len(buf), start + len(x))
    buf[start:end] += x[: end - start]


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` samples (centred), by cumulative sums."""
    width = max(1, int(width))
    if width == 1:
        return x
    pad = np.pad(x, (width // 2, width - 1 - width // 2), mode="edge")
    c = np.cumsum(np.concatenate([[0.0], pad]))
    return (c[width:] - c[:-width]) / width


def _raised_cosine(x: np.ndarray) -> np.ndarray:
    """0 for x <= 0, 1 for x >= 1, a smooth half cosine in between."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def _drum_samples(rng, sr: int, style: Style) -> dict[str, np.ndarray]:
    nyq = sr / 2
    # Kick: a sine whose pitch falls fast from ~140 Hz to ~48 Hz, decaying, with a click.
    t = np.arange(int(0.45 * sr)) / sr
    f_low = rng.uniform(*style.kick_low_hz)
    f = f_low + rng.uniform(70, 110) * np.exp(-t / rng.uniform(0.02, 0.04))
    kick = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / rng.uniform(0.12, 0.22))
    click = rng.standard_normal(len(t)) * np.exp(-t / 0.002) * 0.3
    kick = kick + signal.lfilter(*signal.butter(2, 1500 / nyq), click)
    # Snare: band-limited noise with a short tonal body.
    t = np.arange(int(0.3 * sr)) / sr
    noise = signal.lfilter(
        *signal.butter(2, [style.snare_band_hz / nyq, 0.9], btype="band"),
        rng.standard_normal(len(t)),
    )
    snare = noise * np.exp(-t / rng.uniform(0.05, 0.09)) * 0.9
    snare += 0.6 * np.sin(2 * np.pi * rng.uniform(*style.snare_body_hz) * t) * np.exp(-t / 0.04)
    # Hats: high-passed noise, closed (short) and open (longer).
    hp = signal.butter(4, min(style.hat_cutoff_hz, 0.7 * nyq) / nyq, btype="high")
    t = np.arange(int(0.35 * sr)) / sr
    hiss = signal.lfilter(*hp, rng.standard_normal(len(t)))
    closed = hiss * np.exp(-t / rng.uniform(0.012, 0.025))
    open_ = hiss * np.exp(-t / rng.uniform(0.08, 0.14))
    out = {"kick": kick, "snare": snare, "hats": closed, "open": open_}
    return {k: v / np.max(np.abs(v)) for k, v in out.items()}


def _render_drums(rng, plan: SongPlan, n: int) -> np.ndarray:
    sr = plan.sr
    samples = _drum_samples(rng, sr, plan.style)
    step = plan.beat / 4
    steps = int(np.ceil(n / sr / step)) + 1
    levels = {"kick": 1.0, "snare": 0.8, "hats": 0.3, "open": 0.25}
    out = np.zeros(n)
    bars = steps // 16 + 1
    for name, level in levels.items():
        impulses = np.zeros(n)
        for bar in range(bars):
            pattern = plan.drum_pattern[name]
            if name == "snare" and bar % 4 == 3 and rng.random() < 0.5:  # a small fill
                pattern = sorted(set(pattern) | {13, 14, 15})
            for s in pattern:
                k = bar * 16 + s
                i = int(round(k * step * sr + rng.normal(0, 0.002) * sr))
                if 0 <= i < n:
                    accent = 1.0 if s % 4 == 0 else 0.7
                    impulses[i] += level * accent * rng.uniform(0.8, 1.0)
        out += signal.fftconvolve(impulses, samples[name])[:n]
    return out


def _harmonics(phase: np.ndarray, gains, fade=None):
    """``sum_k gains[k-1](k) * sin(k * phase)`` by the Chebyshev recurrence (one sine in all).

    ``gains`` is a sequence of scalars or per-sample arrays; ``fade(k)``, when given, returns a
    per-sample factor (or None) for harmonic ``k``, used to band-limit near Nyquist.
    """
    s1 = np.sin(phase)
    c2 = 2.0 * np.cos(phase)
    s0 = np.zeros_like(s1)
    out = np.zeros_like(s1)
    for k, g in enumerate(gains, start=1):
        if k > 1:
            s0, s1 = s1, c2 * s1 - s0
        term = g * s1
        f = fade(k) if fade is not None else None
        out += term if f is None else term * f
    return out


def _partials(f0: float, t: np.ndarray, count: int, tilt: float, decay: float, sr: int):
    """A decaying harmonic tone: partial ``k`` has amplitude ``k**-tilt * exp(-decay k t)``."""
    count = max(1, min(count, int(0.45 * sr / f0)))
    step = np.exp(-t * decay)
    gains = []
    g = np.ones_like(t)
    for k in range(1, count + 1):
        g = g * step
        gains.append(g * k**-tilt)
    return _harmonics(2 * np.pi * f0 * t, gains)


def _render_bass(rng, plan: SongPlan, n: int) -> np.ndarray:
    sr = plan.sr
    step = plan.beat / 4
    out = np.zeros(n)
    tau = rng.uniform(0.25, 0.6)
    tilt = rng.uniform(*plan.style.bass_tilt)
    steps = int(np.ceil(n / sr / step)) + 1
    onsets = [b * 16 + s for b in range(steps // 16 + 1) for s in plan.bass_steps]
    onsets = [o for o in onsets if o * step * sr < n]
    for j, o in enumerate(onsets):
        start = o * step
        nxt = onsets[j + 1] * step if j + 1 < len(onsets) else start + 4 * step
        length = int((nxt - start) * sr)
        t = np.arange(length) / sr
        root = plan.chord_at(start + 1e-6)[0]
        midi = 36 + (root - 4) % 12  # E1 .. D#2 ... kept in one octave
        if rng.random() < 0.12:
            midi += 7 if rng.random() < 0.5 else 12
        note = _partials(float(_midi_hz(midi)), t, 8, tilt, 2.0, sr)
        env = np.minimum(t / 0.005, 1.0) * np.exp(-t / tau)
        env *= np.minimum((length - np.arange(length)) / (0.015 * sr), 1.0)
        _add(out, int(start * sr), note * env * rng.uniform(0.85, 1.0))
    return out


def _render_chords(rng, plan: SongPlan, n: int) -> np.ndarray:
    sr = plan.sr
    step = plan.beat / 4
    out = np.zeros(n)
    style_steps = {
        "bar": (0,),
        "half": (0, 8),
        "offbeat": (2, 6, 10, 14),
        "comp": (0, 3, 6, 10, 12),
        "arp": tuple(range(0, 16, 2)),
    }[plan.chord_style]
    tilt = rng.uniform(*plan.style.chord_tilt)
    decay = rng.uniform(*plan.style.chord_decay)
    ring = 0.12 if plan.chord_style in ("offbeat", "comp") else rng.uniform(0.3, 0.8)
    steps = int(np.ceil(n / sr / step)) + 1
    hits = [b * 16 + s for b in range(steps // 16 + 1) for s in style_steps]
    hits = [h for h in hits if h * step * sr < n]
    low = int(rng.integers(*plan.style.chord_low))
    for j, h in enumerate(hits):
        start = h * step
        nxt = hits[j + 1] * step if j + 1 < len(hits) else start + 4 * step
        chord = plan.chord_at(start + 1e-6)
        voicing = [low + (pc - low) % 12 for pc in chord]
        if plan.chord_style == "arp":
            voicing = [voicing[j % len(voicing)]]
        length = int((nxt - start + ring * 0.5) * sr)
        t = np.arange(length) / sr
        env = np.minimum(t / 0.004, 1.0) * np.exp(-t / ring)
        env *= np.minimum((length - np.arange(length)) / (0.03 * sr), 1.0)
        note = sum(
            _partials(float(_midi_hz(m)), t, plan.style.chord_partials, tilt, decay, sr)
            for m in voicing
        )
        _add(out, int(start * sr), note * env * rng.uniform(0.8, 1.0) / np.sqrt(len(voicing)))
    return out


# --------------------------------------------------------------------------------------------
# The voice.


def vocal_f0_track(plan: SongPlan, n: int | None = None) -> np.ndarray:
    """Per-sample fundamental frequency (Hz) of the sung melody: notes, glides between notes
    of a phrase, a scoop into each phrase and a vibrato that fades in after each onset.

    Outside the phrases the value only keeps the phase continuous (the voice is silent there).
    """
    sr = plan.sr
    n = int(round(plan.seconds * sr)) if n is None else n
    t = np.arange(n) / sr
    midi = np.full(n, float(plan.vocal_register))
    vibrato = np.zeros(n)
    notes = plan.notes
    for j, note in enumerate(notes):
        a = int(note.onset * sr)
        b = int(min(note.onset + note.duration, plan.seconds) * sr)
        nxt = notes[j + 1] if j + 1 < len(notes) else None
        if nxt is None or nxt.phrase != note.phrase:  # hold the last pitch into the rest
            b = int(nxt.onset * sr) if nxt is not None else n
        if a >= n:
            break
        seg = slice(a, min(b, n))
        tt = t[seg] - note.onset
        prev = notes[j - 1] if j > 0 else None
        if prev is not None and prev.phrase == note.phrase:
            # Portamento centred on the onset (its first half is written over the end of the
            # previous note below).
            g = note.glide
            lo = int(max(note.onset - g / 2, 0) * sr)
            ramp_t = t[lo : seg.stop] - (note.onset - g / 2)
            midi[lo : seg.stop] = prev.midi + (note.midi - prev.midi) * _raised_cosine(ramp_t / g)
        else:
            # A scoop from below into the phrase's first note.
            midi[seg] = note.midi - 1.0 * (1.0 - _raised_cosine(tt / 0.09))
        fade = _raised_cosine((tt - note.vibrato_delay) / 0.25)
        phase = 2 * np.pi * note.vibrato_rate * np.maximum(tt - note.vibrato_delay, 0.0)
        vibrato[seg] = note.vibrato_depth * fade * np.sin(phase)
    return _midi_hz(midi + vibrato)


def _vowel_sos(vowel: str, scale: float, sr: int) -> np.ndarray:
    freqs, bws = VOWELS[vowel]
    sos = []
    for f, bw in zip(freqs, bws):
        f = min(f * scale, 0.45 * sr)
        r = np.exp(-np.pi * bw * scale / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
        sos.append([sum(a), 0.0, 0.0, *a])  # unity gain at DC
    sos = np.array(sos)
    # Normalise the loudness of each vowel over the voice band.
    w, h = signal.sosfreqz(sos, worN=np.linspace(150, 3500, 64), fs=sr)
    sos[0, :3] /= np.sqrt(np.mean(np.abs(h) ** 2))
    return sos


def _consonant_burst(rng, kind: str, sr: int, n: int) -> np.ndarray:
    nyq = sr / 2
    x = rng.standard_normal(n)
    if kind == "s":
        x = signal.lfilter(*signal.butter(4, min(2800, 0.7 * nyq) / nyq, btype="high"), x)
    elif kind == "sh":
        x = signal.lfilter(*signal.butter(2, [1700 / nyq, min(3400, 0.85 * nyq) / nyq], "band"), x)
    elif kind == "k":
        x = signal.lfilter(*signal.butter(2, [1100 / nyq, 2600 / nyq], "band"), x)
    elif kind == "h":
        x = signal.lfilter(*signal.butter(2, [400 / nyq, 3000 / nyq], "band"), x)
    t = np.linspace(0, 1, n)
    env = (
        np.minimum(t / 0.2, 1.0) * np.minimum((1 - t) / 0.4, 1.0)
        if kind in ("s", "sh", "h")
        else np.exp(-t * 5)
    )
    return x * env / (np.sqrt(np.mean(x**2)) + 1e-12)


def _render_vocals(rng, plan: SongPlan, n: int) -> np.ndarray:
    """The sung line ``[n]``: pitch with a slow drift, a loudness envelope, a glottal-like
    source through the vowels' formants, and consonant bursts (``rng`` drawn in that order)."""
    f0 = vocal_f0_track(plan, n)
    # Slow random pitch drift (a few cents) so sustained notes are not perfectly steady.
    drift = _smooth(rng.standard_normal(n // 64 + 2), 8)
    drift = np.interp(np.arange(n) / 64, np.arange(len(drift)), drift)
    f0 = f0 * 2 ** (0.06 * drift / 12)
    env, note_db = _vocal_envelope(plan, n)
    excitation = _glottal_source(rng, plan, f0, env) * env
    voiced = _through_vowels(plan, excitation)
    _add_consonants(rng, plan, voiced, env, note_db)
    return voiced


def _vocal_envelope(plan: SongPlan, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Loudness ``[n]`` (phrase level and swell, per-note accents, attack / release, syllable
    dips) and the phrase level in dB ``[n]``."""
    sr = plan.sr
    t = np.arange(n) / sr
    env = np.zeros(n)
    note_db = np.zeros(n)
    for start, end, gain_db, swell_db in plan.phrases:
        a, b = int(start * sr), min(int((end + 0.05) * sr), n)
        if a >= n:
            continue
        x = (t[a:b] - start) / max(end - start, 1e-3)
        shape = _raised_cosine((t[a:b] - start) / 0.035) * (
            1 - _raised_cosine((t[a:b] - (end - 0.06)) / 0.1)
        )
        env[a:b] = shape
        note_db[a:b] = gain_db + swell_db * np.sin(np.pi * np.clip(x, 0, 1))
    dips = np.ones(n)
    accent = np.zeros(n)
    for j, note in enumerate(plan.notes):
        a = int(note.onset * sr)
        if a >= n:
            break
        b = min(int((note.onset + note.duration) * sr), n)
        accent[a:b] = note.accent_db
        if note.new_syllable and j > 0 and plan.notes[j - 1].phrase == note.phrase:
            w = int(0.06 * sr)
            lo = max(a - w // 2, 0)
            seg = np.arange(lo, min(lo + w, n))
            dips[seg] *= 1 - 0.6 * np.sin(np.pi * (seg - (a - w // 2)) / w) ** 2
    accent = _smooth(accent, int(0.03 * sr))
    return env * dips * 10 ** ((note_db + accent) / 20), note_db


def _glottal_source(rng, plan: SongPlan, f0: np.ndarray, env: np.ndarray) -> np.ndarray:
    """Band-limited harmonics of ``f0`` whose tilt softens when louder, plus breath noise."""
    sr, n = plan.sr, len(f0)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    top = 0.45 * sr
    count = int(top / f0.min())
    f0_max = f0.max()

    def fade(k):
        if k * f0_max < top - 200:
            return None
        return np.clip((top - k * f0) / 200.0, 0.0, 1.0)

    bright = np.clip(env, 0.0, 1.0)
    loud_tilt, soft_tilt = plan.style.voice_tilt
    source = bright * _harmonics(phase, [k**-loud_tilt for k in range(1, count + 1)], fade)
    source += (1 - bright) * _harmonics(phase, [k**-soft_tilt for k in range(1, count + 1)], fade)
    source += plan.style.breath * rng.standard_normal(n)  # breath
    return source


def _through_vowels(plan: SongPlan, excitation: np.ndarray) -> np.ndarray:
    """The excitation filtered by each note's vowel formants, cross-faded between syllables."""
    sr, n = plan.sr, len(excitation)
    vowel_index = np.zeros(n, dtype=int)
    for note in plan.notes:
        a = int(note.onset * sr)
        if a < n:
            vowel_index[a:] = note.vowel
    fade = int(0.04 * sr)
    voiced = np.zeros(n)
    for v, name in enumerate(VOWEL_NAMES):
        weight = _smooth((vowel_index == v).astype(float), fade)
        if weight.max() <= 0:
            continue
        voiced += weight * signal.sosfilt(_vowel_sos(name, plan.formant_scale, sr), excitation)
    return voiced


def _add_consonants(rng, plan: SongPlan, voiced, env, note_db) -> None:
    """Noise bursts at syllable onsets added to ``voiced``, their level following the phrase."""
    sr, n = plan.sr, len(voiced)
    active_rms = np.sqrt(np.mean(voiced[env > 0.1] ** 2)) if (env > 0.1).any() else 1.0
    durations = {
        "s": (0.07, 0.11),
        "sh": (0.07, 0.11),
        "t": (0.012, 0.025),
        "k": (0.015, 0.03),
        "h": (0.04, 0.07),
    }
    for note in plan.notes:
        if note.consonant is None:
            continue
        length = int(rng.uniform(*durations[note.consonant]) * sr)
        start = int(note.onset * sr) - int(0.7 * length)
        if start >= n:
            continue
        level = active_rms * 10 ** (rng.uniform(-12, -5) / 20)
        idx = min(max(int(note.onset * sr) + int(0.03 * sr), 0), n - 1)
        level *= 10 ** (note_db[idx] / 20)
        _add(voiced, start, level * _consonant_burst(rng, note.consonant, sr, length))


# --------------------------------------------------------------------------------------------
# Levels and the song.


def _frames_rms(x: np.ndarray, sr: int, frame: float = ACTIVITY_FRAME) -> np.ndarray:
    size = max(1, int(round(frame * sr)))
    count = len(x) // size
    x = np.asarray(x[: count * size], dtype=np.float64).reshape(count, size)
    return np.sqrt(np.mean(x**2, axis=1))


def vocal_activity(vocals: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Which 50 ms frames of ``vocals`` are active: above -40 dB re the loudest frame."""
    rms = _frames_rms(vocals, sr)
    if rms.size == 0 or rms.max() <= 0:
        return np.zeros(rms.shape, dtype=bool)
    return rms > rms.max() * 10 ** (ACTIVITY_THRESHOLD_DB / 20)


def vocal_level_db(vocals: np.ndarray, accompaniment: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Vocals-to-accompaniment ratio (dB): RMS of both over the vocals' active 50 ms frames."""
    active = vocal_activity(vocals, sr)
    if not active.any():
        return float("-inf")
    v = _frames_rms(vocals, sr)[active]
    a = _frames_rms(accompaniment, sr)[active]
    return float(10 * np.log10(np.mean(v**2) / max(np.mean(a**2), 1e-20)))


def generate_song(
    seed: int, seconds: float = 10.0, sr: int = SAMPLE_RATE, style: str | Style = DEFAULT_STYLE
) -> dict[str, np.ndarray]:
    """One synthetic song of ``style``: ``{"mixture", "vocals", "accompaniment"}``, float32
    ``[samples]`` with ``round(seconds * sr)`` samples, and ``mixture == vocals +
    accompaniment`` exactly."""
    plan = song_plan(seed, seconds, sr, style)
    _, rng = _rng_pair(seed)
    n = int(round(seconds * sr))
    drums = _render_drums(rng, plan, n)
    bass = _render_bass(rng, plan, n)
    chords = _render_chords(rng, plan, n)
    rms = lambda x: np.sqrt(np.mean(x**2)) + 1e-12  # noqa: E731
    gains = 10 ** (rng.uniform(-2.5, 2.5, size=3) / 20)
    acc = (
        gains[0] * drums / rms(drums) * 1.0
        + gains[1] * bass / rms(bass) * 0.8
        + gains[2] * chords / rms(chords) * 0.7
    )
    acc *= ACCOMPANIMENT_RMS / rms(acc)
    vocals = _render_vocals(rng, plan, n)
    level = vocal_level_db(vocals, acc, sr)
    if np.isfinite(level):
        vocals *= 10 ** ((plan.level_db - level) / 20)
    peak = np.max(np.abs(vocals + acc))
    if peak > 0.99:
        vocals *= 0.99 / peak
        acc *= 0.99 / peak
    vocals32 = vocals.astype(np.float32)
    acc32 = acc.astype(np.float32)
    return {"mixture": vocals32 + acc32, "vocals": vocals32, "accompaniment": acc32}
