"""sepgan: semi-supervised adversarial singing-voice separation in TensorFlow 2.

Modules, one job each: ``audio`` (decode, resample, write), ``spectral`` (STFT front-end),
``shapes`` (U-Net shape arithmetic), ``unet`` (separator), ``critic`` (WGAN critics),
``losses``, ``config``, ``synth`` (synthetic songs), ``datasets`` (readers), ``plans``
(which songs play which role), ``pipeline`` (tf.data), ``train``, ``separate``,
``evaluate``, ``display`` (notebook helpers), ``book`` (building the book).
"""

from .config import Config, make_config
from .errors import AudioError, ConfigError, DataError, SepganError, TrainingError

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
