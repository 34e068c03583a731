"""L-BFGS as the paper's implementations run it (one function evaluation per step, no line search, a
long history), with the history's two-loop recursion done as two small triangular solves, and a guard
against the steps that overshoot so far that the run never comes back.

torch.optim.LBFGS walks its history pair by pair and reads every coefficient back to the host
(``q.add_(y, alpha=-al[i])``): two device round trips per pair, 200 per step at a history of 100,
which on a GPU is most of a 512 px step. Each loop of the recursion is linear in its coefficients:
the first loop's coefficients solve an upper triangular system built from the pairs' inner products
``s_i . y_j``, the second loop's a lower one. The inner products are kept as a small matrix, one new
row and column per step, and the pairs in two (history, pixels) buffers, so a direction costs four
matrix-vector products and two tiny solves, with no round trip. Steps are the same as torch's
(``tests/test_lbfgs.py`` follows both along the same path).

The guard. Without a line search a step of length 1 along the quasi-Newton direction can land far
up the far side of a valley: usually the next step comes back (the pair it adds teaches the history
the curvature there), but from noise, where the history is young and the Gram losses are quartic in
the pixels, a run can climb from one overshoot to the next, 10x, 1000x, to infinity. Line searches
(torch's ``line_search_fn="strong_wolfe"``, scipy's L-BFGS-B) stop that by evaluating several trial
lengths per step, which costs the paper's one network pass per step. The guard keeps that one pass:
it checks the loss each step evaluates anyway, and when it is not finite (or its gradient is not),
or above the lowest accepted loss by more than ``guard`` times that loss's size (``f > f_min +
(guard - 1) |f_min|``, so 10x for a positive loss), it rejects that point: the image goes back to
where the step began, no curvature pair is learned from it, and the same direction is tried again
shorter, at the minimum of the quadratic through the loss and slope at the start and the rejected
loss, kept within [0.1, 0.5] of the rejected length (backtracking with interpolation, Nocedal and
Wright, Numerical Optimization, 3.5). The retry is evaluated by the next ``step``. A rejected point
cost a network pass, so it counts as a step; :attr:`LBFGS.rejected` says that the last step was
one, and :attr:`LBFGS.rejections` how many there were. Runs whose steps never rise that far (the
usual content-started run) take exactly the unguarded steps, torch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

#: A pair is kept only when its curvature s . y is above this (torch's threshold).
MIN_CURVATURE = 1e-10
#: A step is rejected when its loss is above the lowest accepted loss by more than this many times
#: that loss's size (or not finite); see the module's docstring.
GUARD = 10.0
#: A rejected step is retried along the same direction at this fraction of its length, at least and at most.
SHRINK = (0.1, 0.5)


class LBFGS(torch.optim.Optimizer):
    """One L-BFGS iteration per ``step`` on a single tensor: torch.optim.LBFGS with ``max_iter=1``,
    no line search and zero tolerances, the same directions and step lengths, except that a step whose
    loss explodes is taken back and retried shorter (``guard``; None turns that off)."""

    def __init__(
        self, param: torch.Tensor, lr: float = 1.0, history_size: int = 100, guard: float | None = GUARD
    ) -> None:
        if history_size < 1:
            raise ValueError("history_size must be at least 1")
        if guard is not None and not guard > 1:
            raise ValueError("guard must be above 1 (or None)")
        super().__init__([param], {"lr": lr, "history_size": history_size})
        self.guard = guard
        self.rejected = False  #: whether the last step's point was rejected (the image went back)
        self.rejections = 0  #: how many steps' points were rejected so far

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        group = self.param_groups[0]
        x: torch.Tensor = group["params"][0]
        state = self.state[x]
        with torch.enable_grad():
            loss = closure()
        grad = x.grad.reshape(-1)
        largest = float(grad.abs().max())
        self.rejected = self.guard is not None and "start" in state and self._explodes(state, loss, largest)
        if self.rejected:
            self.rejections += 1
            self._retry(x, state, float(loss.detach()))
            return loss
        if not largest > 0:  # a stationary point: nothing to do (torch's tolerance_grad=0)
            return loss
        state["n_iter"] = n_iter = state.get("n_iter", 0) + 1
        if n_iter == 1:
            direction = grad.neg()
            step_length = min(1.0, 1.0 / float(grad.abs().sum())) * group["lr"]
        else:
            self._remember(state, grad, group["history_size"])
            direction = self._direction(state, grad)
            step_length = group["lr"]
        state["prev_grad"] = grad.clone()
        state["direction"], state["step_length"] = direction, step_length
        slope = float(grad.dot(direction))
        if slope > 0:  # not a descent direction: torch skips the update too
            return loss
        if self.guard is not None:  # where this step begins, to come back to if it overshoots
            value = float(loss.detach())
            state["lowest"] = min(value, state.get("lowest", math.inf))
            state["start_loss"], state["slope"] = value, slope
            if "start" in state:
                state["start"].copy_(x)
            else:
                state["start"] = x.detach().clone()
        x.add_(direction.view_as(x), alpha=step_length)
        return loss

    def _explodes(self, state: dict, loss: torch.Tensor, largest_grad: float) -> bool:
        """Whether the point just evaluated is to be rejected: its loss or gradient not finite, or the
        loss above the lowest accepted one by more than ``guard`` times that loss's size."""
        value, lowest = float(loss.detach()), state["lowest"]
        assert self.guard is not None
        return not (math.isfinite(value) and math.isfinite(largest_grad)) or (
            value > lowest + (self.guard - 1) * abs(lowest)
        )

    @staticmethod
    def _retry(x: torch.Tensor, state: dict, value: float) -> None:
        """Back to where the rejected step began, and along the same direction a shorter way: to the
        minimum of the quadratic through the start's loss and slope and the rejected loss, within SHRINK."""
        length, start_loss, slope = (
            state["step_length"],
            state["start_loss"],
            state["slope"] * state["step_length"],
        )
        low, high = SHRINK[0] * length, SHRINK[1] * length
        shorter = low
        if math.isfinite(value) and value - start_loss - slope > 0:
            shorter = min(max(-slope * length / (2 * (value - start_loss - slope)), low), high)
        state["step_length"] = shorter
        x.copy_(state["start"]).add_(state["direction"].view_as(x), alpha=shorter)

    @staticmethod
    def _remember(state: dict, grad: torch.Tensor, size: int) -> None:
        """Add the last step's (s, y) pair when its curvature is positive, dropping the oldest when full."""
        y = grad - state["prev_grad"]
        s = state["direction"] * state["step_length"]
        ys = y.dot(s)
        if not bool(ys > MIN_CURVATURE):
            return
        if "s" not in state:
            state["s"] = grad.new_empty(size, grad.numel())
            state["y"] = grad.new_empty(size, grad.numel())
            state["sy"] = torch.zeros(size, size, dtype=torch.float64, device=grad.device)
            state["rho"] = torch.zeros(size, dtype=torch.float64, device=grad.device)
            state["count"] = 0
        slot = state["count"] % size
        state["count"] += 1
        kept = min(state["count"], size)
        state["s"][slot], state["y"][slot] = s, y
        S, Y = state["s"][:kept], state["y"][:kept]
        state["sy"][slot, :kept] = (Y @ s).double()  # s_slot . y_j
        state["sy"][:kept, slot] = (S @ y).double()  # s_i . y_slot
        state["rho"][slot] = 1.0 / ys.double()
        state["h_diag"] = ys / y.dot(y)

    @staticmethod
    def _direction(state: dict, grad: torch.Tensor) -> torch.Tensor:
        """-H grad by the two-loop recursion, each loop as one triangular solve over the kept pairs."""
        q = grad.neg()
        if "s" not in state:  # no pair kept yet: a plain gradient step
            return q
        size = state["s"].shape[0]
        kept = min(state["count"], size)
        start = state["count"] % size if state["count"] > size else 0
        order = (torch.arange(kept, device=grad.device) + start) % kept  # oldest first
        S, Y = state["s"][:kept], state["y"][:kept]
        sy = state["sy"][:kept, :kept][order][:, order]  # sy[i, j] = s_i . y_j, oldest first
        rho = state["rho"][:kept][order]
        eye = torch.eye(kept, dtype=torch.float64, device=grad.device)

        # First loop, newest to oldest: a_i = rho_i (s_i . q - sum_{j>i} a_j s_i . y_j).
        sq = (S @ q).double()[order]
        upper = eye + rho[:, None] * torch.triu(sy, 1)
        alpha = torch.linalg.solve_triangular(upper, (rho * sq)[:, None], upper=True)[:, 0]
        q = q - Y.T @ _in_slots(alpha, order).to(q.dtype)
        r = q * state["h_diag"]

        # Second loop, oldest to newest: c_i = a_i - rho_i (y_i . r + sum_{j<i} c_j y_i . s_j).
        yr = (Y @ r).double()[order]
        lower = eye + rho[:, None] * torch.tril(sy.T, -1)
        c = torch.linalg.solve_triangular(lower, (alpha - rho * yr)[:, None], upper=False)[:, 0]
        return r + S.T @ _in_slots(c, order).to(r.dtype)


def _in_slots(values: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Values listed oldest first, placed back at their pairs' buffer slots."""
    return torch.empty_like(values).index_copy_(0, order, values)
