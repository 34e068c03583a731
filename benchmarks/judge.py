"""The project's own measure of a stylized picture: how close it is to the style, and to the content.

Both distances use the real VGG16 in ``../shared/weights`` (max pooling, as it was trained), fp32, the
paper's post-ReLU responses, with every image at the output's size (the style fitted to the output's
longest side):

* **style distance**: for each of relu1_1 ... relu5_1, ``||G(out) - G(style)||^2 / ||G(content) - G(style)||^2``
  (Gram matrices divided by the number of positions), averaged over the five layers. 1 is as far from the
  painting's statistics as the photo itself; 0 is the painting's statistics exactly.
* **content distance**: ``||F(out) - F(content)||^2 / ||F(style) - F(content)||^2`` at relu4_2, the style
  resized to the output's exact size. 0 is the photo's features; 1 is as far from them as the painting.

A lower style distance with a content distance well under 1 is a picture painted in the style that
still shows the photo; neither number replaces looking at it.

**The outside judge** (:func:`outside_judge`, the second opinion asked for by issue 23, as it was
written there) weighs the layers differently, so that an engine tuned to the first judge's equal
layer weights cannot win on that alone: the same max-pool VGG16, Gram matrices (divided by positions)
*summed* over relu1_1 ... relu4_1 before the ratio, ``sum_l ||G_l(out) - G_l(style)||^2 /
sum_l ||G_l(content) - G_l(style)||^2``, so the layers with the largest Gram entries (relu3_1 and
relu4_1 on these pictures) decide it, as they decide a raw Caffe-scale loss such as neural-style-pt's;
content at conv4_2 (before the ReLU), again as a ratio to the painting's distance.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from PIL import Image

from nst.images import image_to_tensor
from nst.losses import gram_matrix
from nst.weights import load_vgg

SHARED = Path(__file__).resolve().parents[2] / "shared"
VGG16 = Path(os.environ.get("NST_VGG16_WEIGHTS", SHARED / "weights" / "vgg16-imagenet-features.safetensors"))
#: How the benchmarks run this engine: on the judge's VGG16, on the CPU, seed 0.
BENCH_RUN = {"backbone": "vgg16", "vgg_weights": str(VGG16), "device": "cpu", "seed": 0}
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def _digest(image: Image.Image) -> str:
    return hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest() + f"{image.size}{image.mode}"


class Judge:
    """Style and content distances of pictures (see the module docstring). ``summed``: one ratio of the
    layers' summed Gram distances instead of the mean of each layer's ratio."""

    def __init__(
        self,
        weights: Path = VGG16,
        device: str = "cpu",
        style_layers: tuple[str, ...] = STYLE_LAYERS,
        content_layer: str = CONTENT_LAYER,
        summed: bool = False,
    ) -> None:
        self.net = load_vgg("vgg16", "max", weights, device)
        self.device = device
        self.style_layers, self.content_layer, self.summed = style_layers, content_layer, summed
        self._references: dict[tuple, tuple] = {}

    def _features(self, image: Image.Image) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.net(
                image_to_tensor(image.convert("RGB"), self.device), (*self.style_layers, self.content_layer)
            )

    def distances(self, output: Image.Image, content: Image.Image, style: Image.Image) -> tuple[float, float]:
        """(style distance, content distance) of ``output`` for this content and style."""
        size = output.size
        key = (_digest(content), _digest(style), size)
        if key not in self._references:  # the photo's and the painting's features, once per pair and size
            content_fit = content.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            scale = max(size) / max(style.size)
            fitted = style.convert("RGB").resize(
                (max(1, round(style.width * scale)), max(1, round(style.height * scale))),
                Image.Resampling.LANCZOS,
            )
            self._references[key] = (
                self._features(content_fit),
                self._features(fitted),
                self._features(style.convert("RGB").resize(size, Image.Resampling.LANCZOS)),
            )
        cont, sty, sty_exact = self._references[key]
        out = self._features(output)
        apart, photo_apart = [], []
        for layer in self.style_layers:
            g_out, g_content, g_style = (gram_matrix(f[layer]) for f in (out, cont, sty))
            apart.append(float((g_out - g_style).pow(2).sum()))
            photo_apart.append(float((g_content - g_style).pow(2).sum()))
        if self.summed:
            style_d = sum(apart) / sum(photo_apart)
        else:
            style_d = sum(a / p for a, p in zip(apart, photo_apart)) / len(apart)
        f_out, f_content, f_style = (f[self.content_layer] for f in (out, cont, sty_exact))
        content_d = float((f_out - f_content).pow(2).sum() / (f_style - f_content).pow(2).sum())
        return style_d, content_d


def outside_judge(weights: Path = VGG16, device: str = "cpu") -> Judge:
    """The second judge (see the module docstring): summed Gram distance over relu1_1 ... relu4_1,
    content at conv4_2."""
    return Judge(weights, device, STYLE_LAYERS[:4], "conv4_2", summed=True)
