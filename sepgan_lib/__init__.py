"""sepgan: semi-supervised adversarial singing-voice separation in TensorFlow 2.

Modules, one job each: ``audio`` (decode, resample, write), ``spectral`` (STFT front-end),
``shapes`` (U-Net shape arithmetic), ``unet`` (separator), ``critic`` (WGAN critics),
``losses``, ``config``, ``synth`` (synthetic songs), ``datasets`` (readers), ``plans``
(which songs play which role), ``pipeline`` (tf.data), ``train``, ``separate``,
``evaluate``, ``display`` (notebook helpers), ``book`` (building the book).
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probes, CPU feature notes) hides what matters. On a
# machine without an NVIDIA driver, TensorFlow logs "failed call to cuInit" at ERROR level, so
# only level 3 hides it there (TensorFlow's real errors still arrive as Python exceptions). A
# value the user set wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if os.path.exists("/dev/nvidiactl") else "3")

from .config import Config, make_config  # noqa: E402
from .errors import AudioError, ConfigError, DataError, SepganError, TrainingError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Config",
    "make_config",
    "SepganError",
    "AudioError",
    "ConfigError",
    "DataError",
    "TrainingError",
]
