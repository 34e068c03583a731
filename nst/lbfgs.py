"""L-BFGS as the paper's implementations run it (one function evaluation per step, no line search, a
long history), with the history's two-loop recursion done as two small triangular solves.

torch.optim.LBFGS walks its history pair by pair and reads every coefficient back to the host
(``q.add_(y, alpha=-al[i])``): two device round trips per pair, 200 per step at a history of 100,
which on a GPU is most of a 512 px step. Each loop of the recursion is linear in its coefficients:
the first loop's coefficients solve an upper triangular system built from the pairs' inner products
``s_i . y_j``, the second loop's a lower one. The inner products are kept as a small matrix, one new
row and column per step, and the pairs in two (history, pixels) buffers, so a direction costs four
matrix-vector products and two tiny solves, with no round trip. Steps are the same as torch's
(``tests/test_lbfgs.py`` follows both along the same path).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: A pair is kept only when its curvature s . y is above this (torch's threshold).
MIN_CURVATURE = 1e-10


class LBFGS(torch.optim.Optimizer):
    """One L-BFGS iteration per ``step`` on a single tensor: torch.optim.LBFGS with ``max_iter=1``,
    no line search and zero tolerances, the same directions and step lengths."""

    def __init__(self, param: torch.Tensor, lr: float = 1.0, history_size: int = 100) -> None:
        if history_size < 1:
            raise ValueError("history_size must be at least 1")
        super().__init__([param], {"lr": lr, "history_size": history_size})

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        group = self.param_groups[0]
        x: torch.Tensor = group["params"][0]
        state = self.state[x]
        with torch.enable_grad():
            loss = closure()
        grad = x.grad.reshape(-1)
        if not bool(grad.abs().max() > 0):  # a stationary point: nothing to do (torch's tolerance_grad=0)
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
        if float(grad.dot(direction)) > 0:  # not a descent direction: torch skips the update too
            return loss
        x.add_(direction.view_as(x), alpha=step_length)
        return loss

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
