"""The critics (one for vocals, one for accompaniment): DCGAN-style WGAN critics.

Input ``[batch, 256, frames, 1]`` log1p source magnitudes (a centre crop of the separator's
output, or a real source excerpt); output one unnormalised score per example ``[batch, 1]``.

Built as the original builds them (WGAN_Critic.py): a 4x4 stride-2 convolution with
``filters`` filters, then more 4x4 stride-2 convolutions, doubling the filters each time
(capped at ``max_filters``), for as long as BOTH spatial axes are larger than 4; then [4, 2]
stride-[2, 1] convolutions while the frequency axis is larger than 4. The depth follows the
input size, not a filter count, so the time axis is never squeezed below 4 frames whatever
``filters`` is. LeakyReLU(0.2) after every convolution, a ``dense_units`` LeakyReLU layer and
a linear output without bias: about 1.87 M parameters at the defaults (256 x 64 input, 32
filters). No batch normalisation: the gradient penalty is defined per example.
"""

from __future__ import annotations

import keras
from keras import layers

SMALLEST_AXIS = 4  # the original stops halving an axis once it is at most 4


def _halved(size: int) -> int:
    return -(-size // 2)  # "same" padding, stride 2


def build_critic(
    input_shape: tuple[int, int] = (256, 64),
    filters: int = 32,
    max_filters: int = 256,
    dense_units: int = 32,
    name: str = "critic",
) -> keras.Model:
    """Build one critic for spectrogram patches of ``input_shape = (freq, frames)``."""
    spec = keras.Input(shape=(*input_shape, 1), name="spectrogram")
    freq, frames = input_shape
    filters = min(filters, max_filters)
    x, index = spec, 0
    while True:
        x = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"conv_{index}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{index}")(x)
        freq, frames, index = _halved(freq), _halved(frames), index + 1
        if freq <= SMALLEST_AXIS or frames <= SMALLEST_AXIS:
            break
        filters = min(filters * 2, max_filters)
    while freq > SMALLEST_AXIS:
        x = layers.Conv2D(filters, (4, 2), strides=(2, 1), padding="same", name=f"conv_{index}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{index}")(x)
        freq, index = _halved(freq), index + 1
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="lrelu_dense")(x)
    # no bias, as in the original; float32 under mixed precision
    score = layers.Dense(1, use_bias=False, name="score", dtype="float32")(x)
    return keras.Model(spec, score, name=name)
