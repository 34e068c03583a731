"""Optical flow (nst.flow): warping moves pixels the way the flow says, both methods find a known shift
with the sign the engine relies on, and the reliability mask is Ruder et al.'s check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst.errors import SettingsError
from nst.flow import FLOW_METHODS, optical_flow, reliable, warp

ROOT = Path(__file__).resolve().parents[1]
SHIFT = (3, -2)  # (dx, dy): the content moves 3 px right and 2 px up
MARGIN = 8


def interior(a: np.ndarray | torch.Tensor, margin: int = MARGIN):
    return (
        a[..., margin:-margin, margin:-margin]
        if isinstance(a, torch.Tensor)
        else a[margin:-margin, margin:-margin]
    )


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real, textured 256 px picture as uint8 (H, W, 3)."""
    image = Image.open(ROOT / "examples" / "content" / "astronaut.jpg").convert("RGB")
    return np.asarray(image.resize((256, 256), Image.Resampling.LANCZOS))


def moved(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The frame with its content moved by (dx, dy): ``out(q) = frame(q - d)``, so that
    ``frame(p) = out(p + d)`` and the flow from ``frame`` to ``out`` is d (the border wraps)."""
    return np.roll(frame, (dy, dx), axis=(0, 1))


def test_warp_with_an_integer_flow_moves_pixels_exactly():
    torch.manual_seed(0)
    original = torch.rand(2, 3, 40, 50)
    dx, dy = SHIFT
    shifted = torch.roll(original, (dy, dx), dims=(2, 3))  # shifted(p + d) = original(p)
    flow = np.broadcast_to(np.array(SHIFT, np.float32), (40, 50, 2))
    back = warp(shifted, flow)
    assert back.dtype == original.dtype and back.shape == original.shape
    torch.testing.assert_close(interior(back), interior(original), atol=1e-5, rtol=0)
    # The opposite convention, out(p) = image(p - flow(p)), is far off.
    assert (interior(warp(shifted, -flow)) - interior(original)).abs().mean() > 0.2
    # A per-image flow (N, H, W, 2) and a torch flow do the same.
    torch.testing.assert_close(warp(shifted, torch.from_numpy(np.stack([flow, flow]))), back)


def test_warp_with_a_half_pixel_flow_interpolates():
    height, width = 48, 64
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")

    def smooth(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (torch.sin(0.3 * x) + torch.cos(0.2 * y))[None, None].double()

    d = (0.5, -1.5)
    original = smooth(xs.double(), ys.double())
    shifted = smooth(xs - d[0], ys - d[1])  # the content moved by d
    flow = torch.tensor(d).expand(height, width, 2)
    back = warp(shifted, flow)
    assert back.dtype == torch.float64
    # Bilinear interpolation half-way between samples is off by at most (0.3^2 + 0.2^2) / 8 here.
    assert (interior(back) - interior(original)).abs().max() < 0.02
    assert (interior(warp(shifted, -flow)) - interior(original)).abs().max() > 0.5


def test_a_picture_carried_frame_after_frame_keeps_its_detail_with_bicubic_sampling():
    """A video carries its result along the flow every frame: ten half-pixel moves there and back. Bilinear
    sampling blurs a little each time and it adds up; bicubic keeps four times as much of it (on white noise,
    the hardest case: half of it against an eighth)."""
    picture = torch.from_numpy(np.random.default_rng(0).random((1, 3, 40, 40)))
    flow = torch.tensor((0.5, 0.0)).expand(40, 40, 2)

    def carried(mode: str) -> torch.Tensor:
        x = picture
        for k in range(10):
            x = warp(x, flow if k % 2 == 0 else -flow, mode)
        return x

    def detail(x: torch.Tensor) -> float:
        return float(interior(x).diff(dim=-1).abs().mean())

    assert detail(carried("bilinear")) < 0.15 * detail(picture)
    assert detail(carried("bicubic")) > 0.4 * detail(picture)


def test_warp_keeps_dtype_and_repeats_the_border():
    image = torch.arange(12, dtype=torch.float32).reshape(1, 1, 3, 4)
    out = warp(image.half(), np.full((3, 4, 2), (100.0, 0.0), np.float32))
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), image[..., -1:].expand(1, 1, 3, 4))  # the last column


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_optical_flow_finds_a_known_shift_with_the_engines_sign(photo, method):
    second = moved(photo, *SHIFT)
    flow = optical_flow(Image.fromarray(photo), Image.fromarray(second), method)
    assert flow.dtype == np.float32 and flow.shape == (256, 256, 2)
    median = np.median(interior(flow, 16).reshape(-1, 2), axis=0)
    assert np.abs(median - SHIFT).max() < 0.25, median
    # first(p) ≈ second(p + flow(p)): warping second along the flow gives back first.
    as_tensor = lambda a: torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]  # noqa: E731
    back = warp(as_tensor(second), flow)
    error = (interior(back, 16) - interior(as_tensor(photo), 16)).abs().mean().item()
    unmoved = (interior(as_tensor(second), 16) - interior(as_tensor(photo), 16)).abs().mean().item()
    assert error < 3 and error < unmoved / 5, (error, unmoved)


def test_optical_flow_takes_arrays_and_rejects_unknown_methods(photo):
    flow = optical_flow(photo, moved(photo, *SHIFT))  # uint8 arrays, the default method
    assert np.abs(np.median(interior(flow, 16).reshape(-1, 2), axis=0) - SHIFT).max() < 0.25
    with pytest.raises(SettingsError, match=r"^flow: 'x' is not one of dis, farneback$"):
        optical_flow(photo, photo, "x")
    with pytest.raises(ValueError):
        optical_flow(photo, photo[:128])


def test_a_pure_shift_is_reliable_inside(photo):
    previous, current = photo, moved(photo, *SHIFT)
    backward = optical_flow(current, previous)  # frame t -> t-1
    forward = optical_flow(previous, current)
    mask = reliable(backward, forward)
    assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
    assert interior(mask, 16).mean() > 0.95
    # Where the flow points out of frame t-1 (the strip the camera just brought in) is not.
    assert mask[:, :2].mean() == 0 and mask[-1:, :].mean() == 0


def test_the_strip_an_object_uncovers_is_unreliable(photo):
    step = 8  # the object (a cup of coffee) moves 8 px right over the astronaut
    background = photo[::2, ::2].copy()  # 128 x 128
    cup = np.asarray(
        Image.open(ROOT / "examples" / "content" / "coffee.jpg")
        .convert("RGB")
        .resize((64, 40), Image.Resampling.LANCZOS)
    )
    previous, current = background.copy(), background.copy()
    previous[40:80, 24:88] = cup
    current[40:80, 24 + step : 88 + step] = cup  # x in [24, 32) of frame t was hidden at t-1
    true_backward, true_forward = np.zeros((128, 128, 2), np.float32), np.zeros((128, 128, 2), np.float32)
    true_backward[40:80, 24 + step : 88 + step] = (-step, 0)
    true_forward[40:80, 24:88] = (step, 0)
    for backward, forward in (
        (true_backward, true_forward),
        (optical_flow(current, previous), optical_flow(previous, current)),
    ):
        mask = reliable(backward, forward)
        assert mask[42:78, 25:31].mean() < 0.05  # the uncovered strip, off its edges
        assert mask[44:76, 24 + step + 4 : 88 + step - 4].mean() > 0.95  # the cup, where it came from
        assert mask[4:32, 4:124].mean() > 0.95  # and the still background well away from it


def independent_reliable(flow: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """The consistency check pixel by pixel, written from consistencyChecker.cpp (Ruder et al.'s code):
    0 where reliable, else why not: 1 points outside frame t-1, 2 disocclusion, 3 motion boundary."""
    height, width = flow.shape[:2]
    why = np.zeros((height, width), int)
    at = lambda f, y, x, c: f[min(max(y, 0), height - 1), min(max(x, 0), width - 1), c]  # noqa: E731
    for y in range(height):
        for x in range(width):
            u, v = flow[y, x]
            bx, by = x + u, y + v
            if not (0 <= bx <= width - 1 and 0 <= by <= height - 1):
                why[y, x] = 1
                continue
            x1, y1 = int(np.floor(bx)), int(np.floor(by))
            ax, ay = bx - x1, by - y1
            ru, rv = (
                (1 - ay) * ((1 - ax) * at(reverse, y1, x1, c) + ax * at(reverse, y1, x1 + 1, c))
                + ay * ((1 - ax) * at(reverse, y1 + 1, x1, c) + ax * at(reverse, y1 + 1, x1 + 1, c))
                for c in (0, 1)
            )
            if (bx + ru - x) ** 2 + (by + rv - y) ** 2 >= 0.01 * (u * u + v * v + ru * ru + rv * rv) + 0.5:
                why[y, x] = 2
                continue
            edge = sum(
                ((at(flow, y, x + 1, c) - at(flow, y, x - 1, c)) / 2) ** 2
                + ((at(flow, y + 1, x, c) - at(flow, y - 1, x, c)) / 2) ** 2
                for c in (0, 1)
            )
            if edge > 0.01 * (u * u + v * v) + 0.002:
                why[y, x] = 3
    return why


def hand_made_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Flow pairs on which every criterion decides some pixels, and decides them differently from its near
    misses (the other flow's length in the threshold, an unhalved or wrapped gradient). Exact ties (>= against
    >) are vanishingly rare with real-valued flows (none found in a search), so that choice is not tested."""
    rng = np.random.default_rng(1)
    ys, xs = np.mgrid[0:14, 0:17]
    # A smooth flow (2 px right, a gentle shear) with a block moving differently, and a reverse flow that
    # cancels it in some places and not in others.
    smooth = np.stack((2 + 0.02 * ys, -1 + 0.01 * xs), -1)
    smooth[4:9, 5:10] = (-3.0, 1.0)
    reverse = -smooth + rng.normal(0, 0.3, smooth.shape)
    reverse[2:6, 8:14] += 2.0
    # A fast, rough flow (15 px right, each pixel's own), whose gradients straddle the boundary threshold,
    # against a reverse flow that undoes it only roughly.
    rough = np.stack((rng.normal(15, 1.5, (16, 48)), rng.normal(0, 0.3, (16, 48))), -1)
    rough_reverse = np.stack((rng.normal(-15, 1.0, (16, 48)), rng.normal(0, 0.3, (16, 48))), -1)
    return [
        (f.astype(np.float32), r.astype(np.float32)) for f, r in ((smooth, reverse), (rough, rough_reverse))
    ]


@pytest.mark.parametrize("pair", [0, 1])
def test_reliable_is_the_papers_check_pixel_for_pixel(pair):
    flow, reverse = hand_made_pairs()[pair]
    why = independent_reliable(flow.astype(np.float64), reverse.astype(np.float64))
    assert all((why == reason).sum() >= 5 for reason in (0, 1, 2, 3)), np.bincount(why.ravel())
    np.testing.assert_array_equal(reliable(flow, reverse), (why == 0).astype(np.float32))
