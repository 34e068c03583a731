"""Colour preservation (Gatys, Bethge, Hertzmann, Shechtman, "Preserving Color in Neural
Artistic Style Transfer", 2016).

Style transfer copies the painting's colours along with its strokes. The paper gives two ways
to keep the photo's colours instead:

* **luminance-only transfer**: style transfer is run on luminance images only (the style's
  luminance first matched to the content's mean and spread), and the result's luminance is
  combined with the content's chrominance (the I and Q channels of YIQ, as in the paper). The
  output then has exactly the content's chrominance, up to clipping into the RGB cube.
* **colour histogram matching**: before transfer, the style image's pixels are moved by the
  affine map ``x -> A x + b`` that gives them the content's mean and covariance, with
  ``A = Sigma_c^(1/2) Sigma_s^(-1/2)`` (symmetric square roots, the "Image Analogies" colour
  transfer the paper uses).

All functions work on (1, 3, H, W) RGB tensors in [0, 1].
"""

from __future__ import annotations

import torch
from PIL import Image

from .images import image_to_tensor, tensor_to_image

#: RGB -> YIQ (NTSC 1953), the colour space of the paper.
RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ],
    dtype=torch.float64,
)
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image.device, image.dtype), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB to YIQ: Y is luminance, I and Q chrominance."""
    return _apply(RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """The exact inverse of :func:`rgb_to_yiq` (no clipping)."""
    return _apply(YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel, shape (B, 1, H, W)."""
    return rgb_to_yiq(image)[:, :1]


def gray(y: torch.Tensor) -> torch.Tensor:
    """A luminance channel as an RGB image with that luminance and no chrominance (R = G = B = Y)."""
    return y.expand(-1, 3, -1, -1).clamp(0.0, 1.0)


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """The style's luminance shifted and scaled to the content's mean and standard deviation.

    The paper does this so the luminance-only transfer does not also change the photo's
    brightness and contrast to the painting's.
    """
    s_mean, s_std = style_y.mean(), style_y.std()
    c_mean, c_std = content_y.mean(), content_y.std()
    return ((style_y - s_mean) * (c_std / s_std.clamp_min(1e-6)) + c_mean).clamp(0.0, 1.0)


def combine_luminance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's luminance with the content's chrominance, as RGB (not clipped).

    ``stylized`` and ``content`` have the same size. Converting the result back to YIQ gives the
    content's I and Q exactly (to float precision); values outside [0, 1] are for the caller to
    clip, which changes the colour only where the combination leaves the RGB cube.
    """
    yiq = rgb_to_yiq(content.to(torch.float64))
    yiq[:, :1] = luminance(stylized.to(torch.float64))
    return yiq_to_rgb(yiq).to(stylized.dtype)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    # The floor (a standard deviation of 0.001, a quarter of an 8-bit level) keeps near-monochrome
    # images, whose covariance is singular, from blowing up their noise; others are untouched.
    vals = vals.clamp_min(1e-6)
    power = -0.5 if inverse else 0.5
    return vecs @ torch.diag(vals.pow(power)) @ vecs.T


def color_statistics(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3) of the pixels, in float64."""
    px = image.to(torch.float64).reshape(3, -1)
    mean = px.mean(1)
    centred = px - mean[:, None]
    return mean, centred @ centred.T / px.shape[1]


def color_map(style: torch.Tensor, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, b)`` such that ``A x + b`` gives the style's pixels the content's mean and covariance."""
    mu_s, cov_s = color_statistics(style)
    mu_c, cov_c = color_statistics(content)
    a = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    return a, mu_c - a @ mu_s


def apply_color_map(image: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``A x + b`` on every pixel, clipped to [0, 1]."""
    px = image.to(torch.float64).reshape(3, -1)
    return (a @ px + b[:, None]).reshape(image.shape).clamp(0.0, 1.0).to(image.dtype)


def match_color(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style image recoloured to the content's colour mean and covariance (clipped to [0, 1])."""
    return apply_color_map(style, *color_map(style, content))


def match_color_image(style: Image.Image, content: Image.Image) -> Image.Image:
    """:func:`match_color` for PIL images: statistics from versions of at most about 512 px."""
    small = lambda im: image_to_tensor(im.reduce(max(1, max(im.size) // 512)))  # noqa: E731
    return tensor_to_image(apply_color_map(image_to_tensor(style), *color_map(small(style), small(content))))


def luminance_image(image: Image.Image) -> Image.Image:
    """A PIL image's luminance as a gray RGB image."""
    return tensor_to_image(gray(luminance(image_to_tensor(image))))


def matched_luminance_image(style: Image.Image, content: Image.Image) -> Image.Image:
    """The style's luminance, matched to the content's mean and spread, as a gray RGB image."""
    y = match_luminance(luminance(image_to_tensor(style)), luminance(image_to_tensor(content)))
    return tensor_to_image(gray(y))
