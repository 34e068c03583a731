"""Backward passes through a float16 network without underflow.

A step's gradient reaches the network's taps at around 1e-5 of the loss and shrinks layer by layer;
in float16 (smallest normal 6e-5) most of it becomes zero, L-BFGS builds its history from the
rounding and the run diverges within tens of steps. As in mixed-precision training (torch's
GradScaler), the loss is multiplied by a large power of two before the backward and the gradient
divided by it after; a backward that overflows is redone at half the scale. bfloat16 and float32
have float32's range and are left alone.
"""

from __future__ import annotations

import torch

from .errors import ResourceError

#: The first scale tried in float16 (GradScaler's default).
INITIAL_SCALE = 2.0**16


class LossScale:
    """The scale of one run's backward passes, halved for good at each overflow."""

    def __init__(self, dtype: torch.dtype | None) -> None:
        self.value = INITIAL_SCALE if dtype == torch.float16 else 1.0

    def backward(self, loss: torch.Tensor, leaf: torch.Tensor) -> None:
        """``loss.backward()`` into ``leaf.grad`` (which starts empty), in range."""
        if self.value == 1.0:
            loss.backward()
            return
        while True:
            (loss * self.value).backward(retain_graph=True)
            if bool(torch.isfinite(leaf.grad).all()):
                leaf.grad.div_(self.value)
                return
            leaf.grad = None
            self.value /= 2
            if self.value < 1.0:
                raise ResourceError(
                    "the gradient overflows float16 even unscaled; use precision bf16 or fp32"
                )
