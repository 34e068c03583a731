"""nst.lbfgs takes the same steps as torch.optim.LBFGS (one iteration per step, no line search)."""

from __future__ import annotations

import pytest
import torch

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
    return torch.stack(points)


@pytest.mark.parametrize("history", [1, 3, 100])  # 1 and 3 wrap the history many times
def test_the_same_steps_as_torchs_lbfgs(history):
    ours = path(lambda x: LBFGS(x, lr=0.8, history_size=history), 40)
    theirs = path(
        lambda x: torch.optim.LBFGS(
            [x], lr=0.8, max_iter=1, history_size=history, tolerance_grad=0.0, tolerance_change=0.0
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
