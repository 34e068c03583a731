"""nst.loss_scale: float16 backward passes keep gradients that would underflow, and survive overflow."""

from __future__ import annotations

import pytest
import torch

from nst.errors import ResourceError
from nst.loss_scale import INITIAL_SCALE, LossScale


def half_path(x: torch.Tensor, gain: float) -> torch.Tensor:
    """A float32 loss reached through float16 arithmetic, as a network under autocast is."""
    return (x.half() * gain).float().sum() * 1e-4


def test_a_gradient_below_float16s_range_survives():
    x = torch.ones(4, requires_grad=True)
    half_path(x, 1e-4).backward()
    assert x.grad.abs().max() == 0  # what a plain float16 backward gives: 1e-8 underflows
    x.grad = None
    LossScale(torch.float16).backward(half_path(x, 1e-4), x)
    torch.testing.assert_close(x.grad, torch.full((4,), 1e-8), rtol=1e-2, atol=0)


def test_an_overflow_halves_the_scale_and_redoes_the_backward():
    x = torch.ones(4, requires_grad=True)
    scale = LossScale(torch.float16)
    scale.backward(half_path(x, 1e4), x)  # d/dx = 1, scaled by 2^16 in float16: inf, then 2^15 fits
    assert scale.value == INITIAL_SCALE / 2
    torch.testing.assert_close(x.grad, torch.ones(4), rtol=1e-3, atol=0)


def test_other_precisions_are_left_alone():
    assert LossScale(torch.bfloat16).value == LossScale(None).value == 1.0


def test_a_gradient_that_overflows_even_unscaled_is_an_error():
    x = torch.ones(4, requires_grad=True)
    with pytest.raises(ResourceError, match="use precision bf16 or fp32"):
        LossScale(torch.float16).backward((x.half() * 1e5).float().sum() * 1e5, x)
