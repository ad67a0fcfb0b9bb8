"""The critics (one for vocals, one for accompaniment): DCGAN-style WGAN critics.

Input ``[batch, 256, frames, 1]`` log1p source magnitudes (a centre crop of the separator's
output, or a real source excerpt); output one unnormalised score per example ``[batch, 1]``.
4x4 stride-2 convolutions from 32 filters doubling up to 256, then [4, 2] stride-[2, 1]
convolutions until the frequency axis is at most 4, LeakyReLU(0.2), a 32-unit dense layer and
a linear output: about 1.87 M parameters at defaults. No batch normalisation: the gradient
penalty is defined per example.
"""

from __future__ import annotations

import keras
from keras import layers


def build_critic(
    input_shape: tuple[int, int] = (256, 64),
    filters: int = 32,
    max_filters: int = 256,
    dense_units: int = 32,
    name: str = "critic",
) -> keras.Model:
    """Build one critic for spectrogram patches of ``input_shape = (freq, frames)``."""
    spec = keras.Input(shape=(*input_shape, 1), name="spectrogram")
    x, freq, index = spec, input_shape[0], 0
    while filters <= max_filters:
        x = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"conv_{index}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{index}")(x)
        freq, filters, index = -(-freq // 2), filters * 2, index + 1
    while freq > 4:
        x = layers.Conv2D(
            max_filters, (4, 2), strides=(2, 1), padding="same", name=f"conv_{index}"
        )(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{index}")(x)
        freq, index = -(-freq // 2), index + 1
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="lrelu_dense")(x)
    score = layers.Dense(1, name="score", dtype="float32")(x)  # float32 under mixed precision
    return keras.Model(spec, score, name=name)
