"""nst: neural style transfer (Gatys optimization and its extensions, CycleGAN painters).

The public API in one place; see README for a tour.
"""

from .engine import StepInfo, StyleResult, stylize
from .errors import ImageError, NSTError, ResourceError, SettingsError, WeightsError
from .images import load_image, save_image
from .settings import Settings
from .texture import synthesize_texture

__all__ = [
    "ImageError",
    "NSTError",
    "ResourceError",
    "Settings",
    "SettingsError",
    "StepInfo",
    "StyleResult",
    "WeightsError",
    "load_image",
    "save_image",
    "stylize",
    "synthesize_texture",
]
__version__ = "0.1.0"
