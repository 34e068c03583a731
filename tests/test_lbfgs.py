"""nst.lbfgs takes the same steps as torch.optim.LBFGS (one iteration per step, no line search) while
no step overshoots, and its guard takes back the steps that do, so a run does not blow up."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

import nst
from nst.lbfgs import LBFGS

N = 200


def problem() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(N, N, generator=gen, dtype=torch.float64)
    return a @ a.T / N + 0.1 * torch.eye(N, dtype=torch.float64), torch.randn(
        N, generator=gen, dtype=torch.float64
    )


def path(make, steps: int) -> torch.Tensor:
    """Each step's point on a convex quadratic with a quartic term (curvature changes along the way)."""
    a, b = problem()
    x = torch.zeros(N, dtype=torch.float64, requires_grad=True)
    optimizer = make(x)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = 0.5 * x @ a @ x + 0.25 * x.pow(4).sum() - b @ x
        value.backward()
        return value

    points = []
    for _ in range(steps):
        optimizer.step(closure)
        points.append(x.detach().clone())
    if isinstance(optimizer, LBFGS):
        assert optimizer.rejections == 0  # the guard never fired: the normal path
    return torch.stack(points)


# At lr 0.8 the third step overshoots (the loss goes from -1 to 215, then comes back): unguarded, the
# same steps as torch's; at lr 0.5 nothing overshoots and the guarded optimizer takes torch's steps.
@pytest.mark.parametrize("lr,guard", [(0.8, None), (0.5, 10.0)], ids=["unguarded", "guarded"])
@pytest.mark.parametrize("history", [1, 3, 100])  # 1 and 3 wrap the history many times
def test_the_same_steps_as_torchs_lbfgs(history, lr, guard):
    ours = path(lambda x: LBFGS(x, lr=lr, history_size=history, guard=guard), 40)
    theirs = path(
        lambda x: torch.optim.LBFGS(
            [x], lr=lr, max_iter=1, history_size=history, tolerance_grad=0.0, tolerance_change=0.0
        ),
        40,
    )
    assert (theirs[-1] - theirs[0]).norm() > 1.0  # the path goes somewhere
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


def test_a_stationary_point_is_left_alone():
    x = torch.zeros(3, requires_grad=True)
    optimizer = LBFGS(x)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = x.pow(2).sum()
        value.backward()
        return value

    optimizer.step(closure)
    assert x.detach().abs().max() == 0


def losses(f, x0: torch.Tensor, steps: int, **kwargs) -> tuple[list[float], LBFGS]:
    """The loss each step evaluated, from ``x0`` at unit steps."""
    x = x0.clone().requires_grad_(True)
    optimizer = LBFGS(x, **kwargs)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = f(x)
        value.backward()
        return value

    return [float(optimizer.step(closure).detach()) for _ in range(steps)], optimizer


@pytest.mark.parametrize("seed", [1, 2])
def test_steps_that_overshoot_are_taken_back_so_the_run_converges(seed):
    """sum sqrt(1 + (Ax - b)^2) (pseudo-Huber): far from the minimum the gradient saturates, the secant
    curvature is tiny and unit quasi-Newton steps (like Newton's) fly off ever further: the unguarded
    optimizer's loss passes 1e30 (seed 1: then inf). Guarded, it reaches the minimum, n, where Ax = b."""
    n = 8
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    x0 = 3 * torch.randn(n, generator=gen, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(1 + (a @ x - b) ** 2).sum()

    unguarded, _ = losses(f, x0, 60, guard=None)
    assert not all(v < 1e30 for v in unguarded), unguarded  # it blows up (seed 1: to inf)
    guarded, optimizer = losses(f, x0, 60)
    assert all(math.isfinite(v) for v in guarded)
    assert min(guarded) < n + 1e-3, guarded  # converged (it gets to n within 1e-8)
    assert optimizer.rejections > 0


def test_a_nan_or_infinite_loss_is_taken_back():
    """sum(-2x - log(1 - x)) is NaN beyond its barrier at 1: from -3 the second unit step lands at 18
    (the secant sees almost no curvature yet). Unguarded the run is NaN from there; guarded, that point
    is taken back and the run reaches the minimum, x = 0.5."""
    x0 = torch.full((4,), -3.0, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        return (-2 * x - torch.log(1 - x)).sum()

    unguarded, _ = losses(f, x0, 30, guard=None)
    assert math.isnan(unguarded[2]) and math.isnan(unguarded[-1]), unguarded
    guarded, optimizer = losses(f, x0, 30)
    assert math.isnan(guarded[2]) and optimizer.rejections >= 1  # evaluated, then taken back
    assert math.isfinite(guarded[-1])
    assert min(v for v in guarded if math.isfinite(v)) < 4 * (-1 - math.log(0.5)) + 1e-6, guarded


def rise(totals: list[float]) -> float:
    """How far the loss ever rose above its lowest so far, as a factor."""
    return max(b / min(totals[: i + 1]) for i, b in enumerate(totals[1:]))


# Noise-started textures of the red/blue blend test_cli's blend test makes (there, on an AMD EPYC
# without AVX-512, one went from 7.9 to 1e25 and ended "diverged"): unguarded, these rise 1e6x-1e9x
# above their lowest loss on the way (seed 0 at 32 px: to 4e8); guarded, no kept step is above 10x
# the lowest and every run ends far below its start. Margins of orders of magnitude both ways, so
# the outcome does not depend on the CPU's summation order.
@pytest.mark.parametrize("size,seed", [(32, 0), (40, 3), (48, 6)])
def test_noise_started_textures_do_not_blow_up(vgg19_file, size, seed):
    red, blue = Image.new("RGB", (32, 32), (220, 30, 30)), Image.new("RGB", (32, 32), (30, 30, 220))
    result = nst.synthesize_texture(
        [red, blue],
        width=size,
        height=size,
        steps=25,
        seed=seed,
        style_blend="1,9",
        style_layers="conv1_1,conv2_1",
        precision="fp32",
        vgg_weights=vgg19_file,
    )
    totals = [loss["total"] for loss in result.losses]
    assert result.steps == 25 and all(math.isfinite(v) for v in totals)
    assert rise(totals) < 100, totals
    assert totals[-1] < 0.1 * totals[0], totals
