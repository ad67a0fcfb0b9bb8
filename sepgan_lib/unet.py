"""The separator: a U-Net of valid convolutions (Stoller et al. 2018, after Jansson et al.).

Input ``[batch, F_in, T_in, 1]`` log1p mixture magnitudes (frequency zero-padded to ``F_in``),
outputs ``(accompaniment, vocals)`` log1p magnitudes ``[batch, F_out, T_out, 1]`` where
``(F_in, T_in) -> (F_out, T_out)`` is given by :func:`sepgan_lib.shapes.unet_shapes`.
At defaults 350 x 158 -> 258 x 66, about 0.96 M parameters.

The time axis may be left open (``frames=None``): skip connections are cropped to the size
they meet at run time, so one set of weights separates windows of any valid length.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="sepgan")
class CropLike(layers.Layer):
    """Centre-crop ``x`` ``[B, F, T, C]`` to the spatial size of ``ref`` ``[B, F', T', C']``."""

    def call(self, x, ref):
        xs, rs = tf.shape(x), tf.shape(ref)
        f0 = (xs[1] - rs[1]) // 2
        t0 = (xs[2] - rs[2]) // 2
        return x[:, f0 : f0 + rs[1], t0 : t0 + rs[2], :]

    def compute_output_shape(self, x_shape, ref_shape):
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


def _conv(filters: int, name: str) -> layers.Layer:
    return layers.Conv2D(filters, 3, padding="valid", activation="relu", name=name)


def build_separator(
    input_shape: tuple[int, int | None],
    num_layers: int = 4,
    base_filters: int = 16,
    name: str = "separator",
    output_activation: str = "relu",
) -> keras.Model:
    """Build the U-Net for ``input_shape = (F_in, T_in)`` (``T_in`` may be ``None``).

    ``output_activation`` of the two 1x1 heads: ``"relu"`` (the original), ``"leaky_relu"``
    (slope 0.2 below zero) or ``"softplus"``. A ReLU head whose inputs are all pushed below
    zero outputs silence and gets no gradient again (a dead head). A leaky head keeps a
    gradient of a fixed size, so Adam brings it back; its small negative outputs are clipped
    to zero magnitude when audio is made. Softplus keeps only an exponentially small gradient
    far below zero, which Adam cannot use: measured, it dies as well (see
    ``experiments/head_health.py``).
    """
    mix = keras.Input(shape=(*input_shape, 1), name="mixture")
    x = _conv(base_filters, "conv_in")(mix)
    skips = []
    for level in range(1, num_layers + 1):
        skips.append(x)
        x = layers.MaxPool2D(2, name=f"pool_{level}")(x)
        x = _conv(base_filters * 2**level, f"down_{level}")(x)
    for level in range(num_layers - 1, -1, -1):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(
            filters, 2, strides=2, activation="relu", name=f"upsample_{level}"
        )(x)
        skip = CropLike(name=f"crop_skip_{level}")(skips[level], x)
        x = layers.Concatenate(name=f"concat_{level}")([x, skip])
        x = _conv(filters, f"up_{level}")(x)
    x = layers.Concatenate(name="concat_input")([x, CropLike(name="crop_input")(mix, x)])
    # float32 heads: under a mixed_float16 policy the outputs and losses stay float32
    heads = {"activation": output_activation, "dtype": "float32"}
    accompaniment = layers.Conv2D(1, 1, name="accompaniment", **heads)(x)
    vocals = layers.Conv2D(1, 1, name="vocals", **heads)(x)
    return keras.Model(mix, [accompaniment, vocals], name=name)
