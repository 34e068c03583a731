"""VGG's layers by name, without torch: which taps exist, how deep and how coarse each one is.

Settings, memory planning and the command line's help need these facts, and none of them needs
the network itself (:mod:`nst.vgg`), so this module imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import SettingsError, shown
from .geometry import Canvas

#: Channels per convolution, "M" for pooling: torchvision's configurations D (VGG16) and E (VGG19).
CONFIGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}
BACKBONES = tuple(CONFIGS)
POOLINGS = ("avg", "max")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(backbone: str) -> list[str]:
    """Names of every module of the backbone's ``features`` stack, in order.

    Index ``i`` of this list names ``torchvision.models.<backbone>().features[i]``.
    """
    if backbone not in CONFIGS:
        raise SettingsError(f"backbone: {shown(backbone)} is not known; choose one of {', '.join(BACKBONES)}")
    names: list[str] = []
    block, conv = 1, 1
    for item in CONFIGS[backbone]:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


def tap_names(backbone: str) -> list[str]:
    """Layers whose output can be read: every ``conv*`` and ``relu*`` (not the pools)."""
    return [n for n in layer_names(backbone) if not n.startswith("pool")]


def conv_indices(backbone: str) -> list[int]:
    """Indices of the convolutions in the ``features`` stack (the keys of a state dict)."""
    return [i for i, n in enumerate(layer_names(backbone)) if n.startswith("conv")]


def channels(backbone: str, layer: str) -> int:
    """Number of channels of a tap, e.g. 512 for ``conv4_2``."""
    return {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}[int(layer[4])]


def layer_stride(layer: str) -> int:
    """Pixels per position of a tap's grid: 2 to the number of pools before it (``conv4_2``: 8)."""
    return 1 << (int(layer[4]) - 1)


def layer_grid(canvas: Canvas, layer: str) -> Canvas:
    """The shape of a tap's grid of positions for an input of ``canvas``: halved (floor) by each pool before it."""
    pools = int(layer[4]) - 1
    return Canvas(canvas.width >> pools, canvas.height >> pools)


def reach(backbone: str, layer: str) -> int:
    """How far, in input pixels, the edge of an input changes a tap's features, for an edge on the
    grid of the pools before it: each 3x3 convolution moves the changed band one cell further in,
    each pool rounds it up to its own cells.

    A crop of an image with this much context around a region, cut on that grid, has at the
    region's positions exactly the whole image's features (what tiled optimization relies on;
    ``tests/test_tiles.py`` checks that one cell less is not enough).
    """
    changed, step = 0, 1
    for name in layer_names(backbone)[: layer_names(backbone).index(layer) + 1]:
        if name.startswith("conv"):
            changed += step
        elif name.startswith("pool"):
            step *= 2
            changed = -(-changed // step) * step
    return changed


def check_layers(backbone: str, layers: Iterable[str], setting: str) -> None:
    """Refuse unknown layer names with the list of valid ones."""
    valid = tap_names(backbone)
    for layer in layers:
        if layer not in valid:
            raise SettingsError(
                f"{setting}: {shown(layer)} is not a layer of {backbone}; valid layers are conv1_1 ... "
                f"{valid[-2]} and relu1_1 ... {valid[-1]}"
            )
