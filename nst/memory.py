"""What a run costs in memory, and whether the device can take it, decided before any work.

A run's peak is the optimization of the output (VGG activations and their gradients, for every
output pixel) plus the building of the style targets (one VGG pass per style image, at
``style_scale`` times the output's size, whose features are kept while targets are made; the
distribution losses keep every style's features at their layers until all styles are read).
Both grow with pixels, so the check is in pixels, computed from the settings alone (the
output as a square of ``size``, its upper bound), before any image is decoded:

    cost = size^2 * (1 + style_scale^2 * STYLE_SHARE)           Gram matrices (styles one at a time)
    cost = size^2 * (1 + style_scale^2 * HELD_SHARE * n)        distribution losses (n styles held)

The device allows what a one-style picture of its largest size costs. The bytes per pixel are
measured (``benchmarks/bench_memory.py``, results in ``benchmarks/results/memory-cpu.md``): the
output's one-step peak (the L-BFGS history adds up to 2.4 KB per output pixel over 100 steps,
the same for every run of that size, so it does not change the comparison).
"""

from __future__ import annotations

import math

import torch

from .errors import ResourceError, SettingsError
from .settings import Settings

#: Largest output (longest side) per device type. CPU: 2048 px needs about 12 GB for VGG19
#: activations and their gradients, within a 24 GB machine. CUDA: see :func:`max_size_for`.
MAX_SIZE_CPU = 2048
#: Peak bytes per output pixel of one optimization step with VGG19 (activations, gradients,
#: optimizer state), measured on the CPU in bf16 autocast: 1667.
BYTES_PER_PIXEL = 1700
#: Peak memory of one style image's pass through the network, per style pixel, relative to one output
#: pixel (measured: 695 bytes, 0.42).
STYLE_SHARE = 0.42
#: Memory per style pixel of a style held for a distribution loss (its features at every layer, their
#: float32 copies and the mixture of all styles), relative to one output pixel (measured: 1194 bytes).
HELD_SHARE = 0.72


def max_size_for(device: torch.device) -> int:
    """Largest longest-side the device can take for VGG19 optimization (see README, Limits)."""
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        # About 3 GB per megapixel for VGG19 activations + gradients in fp32 (measured), 20% headroom.
        megapixels = total * 0.8 / 3e9
        return int(min(4096, math.sqrt(megapixels * 1e6 * 4 / 3)))
    return MAX_SIZE_CPU


def check_size(settings: Settings, device: torch.device) -> None:
    limit = max_size_for(device)
    if settings.size > limit:
        raise SettingsError(
            f"size: {settings.size} px is above this device's limit of {limit} px ({device.type})"
        )


def run_cost(settings: Settings, n_styles: int) -> float:
    """The run's peak memory in output pixels (see the module docstring)."""
    distribution = settings.hist_weight > 0 or (settings.style_weight > 0 and settings.style_loss != "gram")
    share = HELD_SHARE * n_styles if distribution else STYLE_SHARE
    return settings.size**2 * (1.0 + settings.style_scale**2 * share)


def check_memory(settings: Settings, n_styles: int, device: torch.device) -> None:
    """Refuse, before any work, a run larger than the device's size limit or whose memory exceeds
    what the device's largest picture needs."""
    check_size(settings, device)
    limit = max_size_for(device)
    budget = limit * limit * (1.0 + STYLE_SHARE)
    cost = run_cost(settings, n_styles)
    if cost > budget:
        gb = lambda pixels: pixels * BYTES_PER_PIXEL / 1e9  # noqa: E731
        styles = f"{n_styles} style images" if n_styles > 1 else "one style image"
        raise ResourceError(
            f"this run would need about {gb(cost):.0f} GB of memory ({settings.size} px with {styles} at style_scale "
            f"{settings.style_scale:g}); this device ({device.type}) allows about {gb(budget):.0f} GB, what one "
            f"{limit} px picture needs. Lower the size, the style_scale or the number of style images"
        )
