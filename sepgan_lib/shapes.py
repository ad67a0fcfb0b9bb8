"""Shape arithmetic of the valid-convolution U-Net (the original's ``getUnetPadding``).

Every 3x3 valid convolution removes 2 from each axis, every 2x2 max-pool halves it (so the
size before a pool must be even), every 2x2 stride-2 transposed convolution doubles it.
Going up from the bottom size ``b`` of an ``L``-layer U-Net gives an output of
``2**L * b - 2**(L + 1) + 2``; the helper picks the smallest ``b`` whose output reaches the
desired size and walks back down to the input size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UNetShapes:
    input: tuple[int, int]  # (freq, frames) the network must be fed
    output: tuple[int, int]  # (freq, frames) it produces
    desired: tuple[int, int]  # (freq, frames) asked for (<= output)

    @property
    def context(self) -> tuple[int, int]:
        """Input bins/frames on each side of the desired output that the network needs."""
        return tuple((i - d) // 2 for i, d in zip(self.input, self.desired))


def _axis(desired: int, num_layers: int) -> tuple[int, int]:
    if desired < 1:
        raise ValueError(f"desired output size must be positive, got {desired}")
    scale = 2**num_layers
    bottom = max(1, math.ceil((desired + 2 * scale - 2) / scale))
    output = scale * bottom - 2 * scale + 2
    size = bottom + 2  # the bottom 3x3 conv
    for _ in range(num_layers):
        size = 2 * size + 2  # undo a pool, then the 3x3 conv before it
    return size, output


def unet_shapes(desired: tuple[int, int], num_layers: int = 4) -> UNetShapes:
    """Input and output shapes of the U-Net for a desired output ``(freq, frames)``.

    >>> unet_shapes((256, 64), 4)
    UNetShapes(input=(350, 158), output=(258, 66), desired=(256, 64))
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}")
    (fin, fout), (tin, tout) = (_axis(d, num_layers) for d in desired)
    return UNetShapes(input=(fin, tin), output=(fout, tout), desired=tuple(desired))


def unet_output_size(size: int, num_layers: int) -> int:
    """Forward arithmetic: the output size for an input size (the model's ground truth)."""
    size -= 2
    for _ in range(num_layers):
        size = size // 2 - 2
    for _ in range(num_layers):
        size = 2 * size - 2
    return size


def pad_freq(spec: np.ndarray, target_bins: int, axis: int = 0) -> np.ndarray:
    """Zero-pad the frequency axis of a log-magnitude spectrogram evenly to ``target_bins``."""
    missing = target_bins - spec.shape[axis]
    if missing < 0:
        raise ValueError(f"spectrogram has {spec.shape[axis]} bins, more than {target_bins}")
    pad = [(0, 0)] * spec.ndim
    pad[axis] = (missing // 2, missing - missing // 2)
    return np.pad(spec, pad)


def crop_center(x, size: tuple[int, int]):
    """Centre crop of the two spatial axes of ``[batch, freq, frames, channels]`` (TF or numpy)."""
    f0 = (x.shape[1] - size[0]) // 2
    t0 = (x.shape[2] - size[1]) // 2
    return x[:, f0 : f0 + size[0], t0 : t0 + size[1], :]
