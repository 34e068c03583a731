"""Style as a distribution of features: MMD kernels, batch-norm statistics and histograms.

Li, Wang, Liu, Hou ("Demystifying Neural Style Transfer", IJCAI 2017) show that the Gram loss
of Gatys et al. is the squared Maximum Mean Discrepancy between the output's and the style's
feature vectors (one vector of N channels per position) under the kernel k(x, y) = (x^T y)^2:
``E_l = MMD^2 / (4 N^2)``. Other ways of comparing the two distributions give other styles:

* ``mmd-linear``: k(x, y) = x^T y, so MMD^2 = ||mean(x) - mean(y)||^2 (first moments only);
* ``mmd-poly``:   k(x, y) = (x^T y + c)^2, so MMD^2 = ||G_x - G_y||^2 + 2c ||mean(x) - mean(y)||^2
  with G = mean(x x^T): the Gram loss plus c times the linear one (c = 0 is Gatys exactly);
* ``mmd-gauss``:  k(x, y) = exp(-||x - y||^2 / (2 sigma^2)), all moments at once;
* ``bn``:         per-channel mean and standard deviation (what batch normalization keeps).

Risser, Wilmot, Barnes ("Stable and Controllable Neural Texture Synthesis and Style Transfer
Using Histogram Losses", 2017) add the full per-channel histogram: :class:`HistogramKind`.

Every statistic here works on *weighted* sets of positions, because spatial control (a mask
per style) and the photorealistic augmented style loss (segmentation regions) are the same
statistic restricted to a region, and a blend of styles is the mixture of their distributions.
Weights are mask values; a plain run uses all-one weights.

Memory (the Gaussian kernel is the only one without a closed form): the kernel matrix of all
positions is M x M, 4e10 entries at relu1_1 of a 512 px image, so :func:`mmd2_gauss` computes
it in blocks. The output's positions are split into random blocks of at most ``block`` (fixed
for the run, so L-BFGS sees one deterministic function); output pairs are compared within a
block, and every output position against one fixed sample of at most ``block`` style positions
(512 each). The value and its hand-derived gradient are computed together, one block at a time
(about 2 MB of kernel values, sized to stay in cache), so no kernel matrix is kept for the
backward pass: memory is O(block^2) plus a few copies of one layer's features, whatever the
image size (measured: +34 MB peak over the Gram loss for a 512 px VGG16 run), and every
position gets a gradient at every step. The estimate is the mean over blocks of each block's
MMD^2 to the style sample (biased V-statistics, like the Gram loss: never negative, zero when
the distributions are equal).

Bandwidth, as in the paper's code: at every evaluation, 2 sigma^2 is the mean squared distance
over output-output, style-style, output-style and style-output pairs (equally weighted),
computed exactly from the first and second moments rather than from sampled pairs, and held
constant in the gradient. Adapting to the current output matters: a bandwidth fixed from the style alone gives
vanishing kernel values, hence no attraction, for an output far from the style (a texture
from noise came out as coloured noise that way).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from .geometry import Canvas
from .losses import gram_loss
from .tiles import HIST_BINS, Prepared, Tile, pair, prepare_sums

_EPS = 1e-12
#: Kernel exponents are floored here: exp(-80) = 2e-35 is still a normal float32, whereas smaller
#: values become denormals, which make CPU arithmetic several times slower (an output far from
#: the style, as from a noise init, would otherwise run at a fraction of the speed).
_LOG_TINY = -80.0
#: Largest block of output positions compared pairwise, and size of the style sample (mmd-gauss).
GAUSS_BLOCK = 512


def flatten(features: torch.Tensor) -> torch.Tensor:
    """Features (1, C, H, W) as a float32 (C, H*W) matrix: one column per position."""
    if features.dim() == 4:
        if features.shape[0] != 1:
            raise ValueError("style statistics are computed for one image at a time")
        features = features[0]
    return features.reshape(features.shape[0], -1).float()


def _weights(q: torch.Tensor | None, m: int, like: torch.Tensor) -> torch.Tensor:
    """Position weights in ``like``'s dtype and device; None means all ones."""
    return torch.ones(m, dtype=like.dtype, device=like.device) if q is None else q.to(like.device, like.dtype)


def weighted_mean(x: torch.Tensor, q: torch.Tensor | None = None) -> torch.Tensor:
    """Mean feature vector (C,) of x (C, M), positions weighted by q (M,)."""
    q = _weights(q, x.shape[1], x)
    return (x @ q) / q.sum()


def weighted_gram(x: torch.Tensor, q: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_i q_i x_i x_i^T / sum_i q_i`` (C, C): the Gram matrix of Gatys et al. divided by M."""
    q = _weights(q, x.shape[1], x)
    return ((x * q) @ x.T) / q.sum()


def mmd2_linear(
    x: torch.Tensor, y: torch.Tensor, qx: torch.Tensor | None = None, qy: torch.Tensor | None = None
) -> torch.Tensor:
    """MMD^2 under k(x, y) = x^T y: the squared distance of the mean feature vectors."""
    return (weighted_mean(x, qx) - weighted_mean(y, qy)).pow(2).sum()


def mmd2_poly(
    x: torch.Tensor,
    y: torch.Tensor,
    c: float = 0.0,
    qx: torch.Tensor | None = None,
    qy: torch.Tensor | None = None,
) -> torch.Tensor:
    """MMD^2 (biased V-statistic) under k(x, y) = (x^T y + c)^2, in closed form.

    Expanding the kernel, ``mean k(x, x') = ||G_x||^2 + 2c ||mu_x||^2 + c^2``, so
    ``MMD^2 = ||G_x - G_y||^2 + 2c ||mu_x - mu_y||^2``: O(M C^2) time and O(C^2) memory
    instead of M^2 kernel values. With c = 0 it is 4 N^2 times the Gram loss of Gatys et al.
    """
    out = (weighted_gram(x, qx) - weighted_gram(y, qy)).pow(2).sum()
    if c:
        out = out + 2.0 * c * mmd2_linear(x, y, qx, qy)
    return out


def bn_distance(
    x: torch.Tensor, y: torch.Tensor, qx: torch.Tensor | None = None, qy: torch.Tensor | None = None
) -> torch.Tensor:
    """``mean_c (mu_x - mu_y)^2 + (sigma_x - sigma_y)^2``: Li et al.'s BN statistics matching."""
    kind = BNKind()
    return kind.loss(x, qx, kind.target(Samples(y, qy)))


# --------------------------------------------------------------------------- kinds


@dataclass
class Samples:
    """A weighted set of style feature vectors: one region of one or several styles, one layer."""

    feats: torch.Tensor  #: (C, P)
    weights: torch.Tensor | None = None  #: (P,), non-negative; None: all equal


class Kind(Protocol):
    """One style statistic: its target from style samples, and the output's distance to it."""

    def target(self, samples: Samples) -> Any: ...

    def loss(self, x: torch.Tensor, q: torch.Tensor | None, target: Any) -> torch.Tensor:
        """The distance of x (C, M), positions weighted by q (None: equally), to the target."""
        ...

    def zero_loss(self, target: Any) -> float:
        """The loss of an all-zero output: the per-layer normalizer (see :mod:`nst.losses`)."""
        ...

    # Tiled optimization (nst.tiles) splits the loss of a picture into a function of sums over its
    # positions (which add up across tiles) and a sum over positions given those sums.

    def sums(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, positions: torch.Tensor, count: int
    ) -> dict[str, torch.Tensor]:
        """Sums over the positions of x that the loss depends on (add up across tiles); ``positions``
        are x's columns' places (ascending) in the whole picture's grid of ``count`` positions."""
        ...

    def loss_from_sums(self, sums: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor | None:
        """The part of the loss that is a function of the whole picture's sums (None: no such part)."""
        ...

    def local_loss(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, sums: Mapping[str, torch.Tensor]
    ) -> torch.Tensor | None:
        """These positions' part of the loss that is a sum over positions, given the whole picture's
        sums (None: no such part)."""
        ...


def _mass(x: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
    """Total weight of the positions of x (C, M): M when unweighted."""
    return q.sum().float() if q is not None else torch.tensor(float(x.shape[1]), device=x.device)


def _sum(x: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
    """Per-channel sum over positions, accumulated in float64: a variance from these sums subtracts
    two large numbers, and one picture's sum runs over millions of positions."""
    return (x * q).sum(1, dtype=torch.float64) if q is not None else x.sum(1, dtype=torch.float64)


def _gram_sum(x: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
    return (x * q) @ x.T if q is not None else x @ x.T


class _Moments:
    """Kinds whose loss is a function of moments only: nothing is local."""

    def local_loss(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, sums: Mapping[str, torch.Tensor]
    ) -> None:
        return None


class GramKind(_Moments):
    """Gatys et al.: ``||G - A||^2 / (4 N^2)`` with weighted Gram matrices."""

    def sums(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, positions: torch.Tensor, count: int
    ) -> dict[str, torch.Tensor]:
        return {"mass": _mass(x, q), "gram": _gram_sum(x, q)}

    def loss_from_sums(self, sums: Mapping[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return gram_loss(sums["gram"] / sums["mass"], target)

    def target(self, samples: Samples) -> torch.Tensor:
        return weighted_gram(samples.feats, samples.weights)

    def loss(self, x: torch.Tensor, q: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        return gram_loss(weighted_gram(x, q), target)

    def zero_loss(self, target: torch.Tensor) -> float:
        return float(gram_loss(torch.zeros_like(target), target))


class LinearKind(_Moments):
    """MMD with the linear kernel: matches the mean feature vector only."""

    def sums(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, positions: torch.Tensor, count: int
    ) -> dict[str, torch.Tensor]:
        return {"mass": _mass(x, q), "sum": _sum(x, q)}

    def loss_from_sums(self, sums: Mapping[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return (sums["sum"] / sums["mass"] - target).pow(2).sum()

    def target(self, samples: Samples) -> torch.Tensor:
        return weighted_mean(samples.feats, samples.weights)

    def loss(self, x: torch.Tensor, q: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        return (weighted_mean(x, q) - target).pow(2).sum()

    def zero_loss(self, target: torch.Tensor) -> float:
        return float(target.pow(2).sum())


class PolyKind(_Moments):
    """MMD with k(x, y) = (x^T y + c)^2, c = ``c_rel`` times the style's mean squared feature norm.

    Making c relative to the features keeps its meaning across weights files, whose feature
    magnitudes differ by orders of magnitude (an absolute c would be huge for one, nothing for
    another). Only d = 2 is offered, as in the paper's code: it has the closed form above.
    """

    def __init__(self, c_rel: float) -> None:
        self.c_rel = c_rel

    def target(self, samples: Samples) -> tuple[torch.Tensor, torch.Tensor, float]:
        gram = weighted_gram(samples.feats, samples.weights)
        c = self.c_rel * float(gram.diagonal().sum())  # trace of E[s s^T] = E ||s||^2
        return gram, weighted_mean(samples.feats, samples.weights), c

    def loss(self, x: torch.Tensor, q: torch.Tensor | None, target: tuple) -> torch.Tensor:
        gram, mean, c = target
        out = (weighted_gram(x, q) - gram).pow(2).sum()
        return out + 2.0 * c * (weighted_mean(x, q) - mean).pow(2).sum() if c else out

    def zero_loss(self, target: tuple) -> float:
        gram, mean, c = target
        return float(gram.pow(2).sum() + 2.0 * c * mean.pow(2).sum())

    def sums(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, positions: torch.Tensor, count: int
    ) -> dict[str, torch.Tensor]:
        return {"mass": _mass(x, q), "gram": _gram_sum(x, q), "sum": _sum(x, q)}

    def loss_from_sums(self, sums: Mapping[str, torch.Tensor], target: tuple) -> torch.Tensor:
        gram, mean, c = target
        out = (sums["gram"] / sums["mass"] - gram).pow(2).sum()
        return out + 2.0 * c * (sums["sum"] / sums["mass"] - mean).pow(2).sum() if c else out


class BNKind(_Moments):
    """Per-channel mean and standard deviation (Li et al.'s BN statistics matching)."""

    def target(self, samples: Samples) -> tuple[torch.Tensor, torch.Tensor, float]:
        x, q = samples.feats, _weights(samples.weights, samples.feats.shape[1], samples.feats)
        mean = (x @ q) / q.sum()
        var = ((x - mean[:, None]).pow(2) @ q) / q.sum()
        # A floor for sqrt's gradient at zero variance, tiny against the style's own spread.
        eps = 1e-8 * float(var.mean()) + 1e-30
        return mean, var.clamp_min(0).sqrt(), eps

    def loss(self, x: torch.Tensor, q: torch.Tensor | None, target: tuple) -> torch.Tensor:
        mean_t, std_t, eps = target
        q = _weights(q, x.shape[1], x)
        total = q.sum()
        mean = (x @ q) / total
        std = ((((x - mean[:, None]).pow(2)) @ q) / total + eps).sqrt()
        return ((mean - mean_t).pow(2) + (std - std_t).pow(2)).mean()

    def zero_loss(self, target: tuple) -> float:
        mean_t, std_t, _ = target
        return float((mean_t.pow(2) + std_t.pow(2)).mean())

    def sums(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, positions: torch.Tensor, count: int
    ) -> dict[str, torch.Tensor]:
        return {"mass": _mass(x, q), "sum": _sum(x, q), "sq": _sum(x.pow(2), q)}

    def loss_from_sums(self, sums: Mapping[str, torch.Tensor], target: tuple) -> torch.Tensor:
        mean_t, std_t, eps = target
        mean = sums["sum"] / sums["mass"]
        std = ((sums["sq"] / sums["mass"] - mean.pow(2)).clamp_min(0.0) + eps).sqrt()
        return ((mean - mean_t).pow(2) + (std - std_t).pow(2)).mean()


@dataclass
class GaussTarget:
    samples: torch.Tensor  #: (P, C) style positions, at most ``block``
    weights: torch.Tensor  #: (P,) summing to 1
    mean: torch.Tensor  #: (C,) the style's mean feature vector (all positions)
    mean_sq: float  #: the style's mean squared norm E ||s||^2 (all positions)
    zero_loss: float  #: MMD^2 of an all-zero output, for the normalizer


def gauss_gamma(x: torch.Tensor, q: torch.Tensor | None, target: GaussTarget) -> float:
    """1 / (2 sigma^2), 2 sigma^2 = mean squared distance of output-output, style-style and output-style pairs.

    From moments: over all pairs of a set, mean ||a - b||^2 = 2 (E||a||^2 - ||E a||^2); across
    two sets, E||a||^2 + E||b||^2 - 2 E a . E b. The three kinds of pairs weigh 1/4, 1/4, 1/2, as
    the xx, yy, xy and yx pairs of the paper's code do.
    """
    with torch.no_grad():
        q = _weights(q, x.shape[1], x)
        mean = (x @ q) / q.sum()
        mean_sq = float((x.pow(2).sum(0) @ q) / q.sum())
    return _gamma(mean, mean_sq, target)


def _gamma(mean: torch.Tensor, mean_sq: float, target: GaussTarget) -> float:
    """1 / (2 sigma^2) from the output's mean feature vector and mean squared norm (see gauss_gamma)."""
    d_xx = 2.0 * (mean_sq - float(mean.pow(2).sum()))
    d_yy = 2.0 * (target.mean_sq - float(target.mean.pow(2).sum()))
    d_xy = mean_sq + target.mean_sq - 2.0 * float(mean @ target.mean.to(mean.dtype))
    return 1.0 / max(0.25 * d_xx + 0.25 * d_yy + 0.5 * d_xy, _EPS)


def _gauss_self_term(s: torch.Tensor, w: torch.Tensor, gamma: float) -> torch.Tensor:
    """The style-style part of MMD^2 over the style sample s (P, C) with weights w (P,)."""
    norm = s.pow(2).sum(1)
    k = torch.exp(-gamma * (norm[:, None] + norm[None, :] - 2.0 * s @ s.T).clamp_min(0.0))
    return w @ k @ w


class _GaussBlocks(torch.autograd.Function):
    """``sum_b bw_b sum_{i, j in b} q_i q_j k_ij - 2 cw sum_i q_i sum_j p_j k(f_i, s_j)`` and its gradient.

    The gradient is computed in the same pass as the value, one group of blocks at a time, so
    no kernel matrix outlives its group: memory is O(group * block^2) plus one gradient the size
    of the features. With W_ij = bw q_i q_j k_ij and V_ij = cw q_i p_j k(f_i, s_j), and
    d k / d f_i = -2 gamma k (f_i - y): grad_i = -4 gamma sum_j W_ij (f_i - f_j)
    + 4 gamma sum_j V_ij (f_i - s_j).
    """

    @staticmethod
    def forward(
        ctx,
        f: torch.Tensor,
        q: torch.Tensor,
        s: torch.Tensor,
        p: torch.Tensor,
        gamma: float,
        block_w: torch.Tensor,
        cross_w: float,
    ) -> torch.Tensor:  # type: ignore[override]
        # On a CPU the kernel matrices' memory traffic is the cost, so each is written once by a
        # matrix product, exponentiated in place, and read once by a matrix product:
        # -gamma ||a - b||^2 = [a, 1, |a|^2] . [2 gamma b, -gamma |b|^2, -gamma], and the weighted
        # sums are K @ [q f, q] and K @ [p s, p].
        need_grad = ctx.needs_input_grad[0]
        grad = torch.zeros_like(f) if need_grad else None
        c = f.shape[-1]
        s_aug = torch.cat(
            [2.0 * gamma * s, -gamma * s.pow(2).sum(-1, keepdim=True), torch.full_like(s[:, :1], -gamma)], 1
        )  # (P, C+2)
        s_rhs = torch.cat([s * p[:, None], p[:, None]], 1)  # (P, C+1)
        size = f.shape[1]
        group = max(1, (1 << 18) // (size * (size + s.shape[0])))  # ~1 MB per matrix: stays in cache
        total = torch.zeros((), dtype=f.dtype, device=f.device)
        for i in range(0, f.shape[0], group):
            fb, qb, bw = f[i : i + group], q[i : i + group], block_w[i : i + group]
            g = fb.shape[0]
            n = fb.pow(2).sum(-1, keepdim=True)  # (g, B, 1)
            left = torch.cat([fb, torch.ones_like(n), n], -1)  # (g, B, C+2)
            right = torch.cat([2.0 * gamma * fb, -gamma * n, torch.full_like(n, -gamma)], -1)
            # Within blocks: K_ij = exp(-gamma ||f_i - f_j||^2).
            k = torch.bmm(left, right.transpose(1, 2)).clamp_min_(_LOG_TINY).exp_()
            kr = torch.bmm(k, torch.cat([fb * qb[..., None], qb[..., None]], -1))
            del k
            u = qb * bw[:, None]
            uk = u * kr[..., c]  # sum_j W_ij
            total += uk.sum()
            # Against the style sample: V_ij = cw q_i p_j k(f_i, s_j).
            v = (left.reshape(-1, c + 2) @ s_aug.T).clamp_min_(_LOG_TINY).exp_()
            vr = (v @ s_rhs).reshape(g, size, c + 1)
            del v
            qc = qb * cross_w
            vk = qc * vr[..., c]  # sum_j V_ij
            total -= 2.0 * vk.sum()
            if need_grad:
                gw = uk[..., None] * fb - u[..., None] * kr[..., :c]
                gv = vk[..., None] * fb - qc[..., None] * vr[..., :c]
                grad[i : i + group] = (gv - gw).mul_(4.0 * gamma)
        ctx.save_for_backward(grad if need_grad else torch.empty(0))
        return total

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None, None, None, None


def mmd2_gauss(
    x: torch.Tensor,
    q: torch.Tensor | None,
    target: GaussTarget,
    *,
    block: int = GAUSS_BLOCK,
    seed: int = 0,
    gamma: float | None = None,
) -> torch.Tensor:
    """MMD^2 under the Gaussian kernel between x (C, M) weighted by q and the target, in blocks.

    With M <= ``block`` it is the usual (biased, V-statistic) estimate over all pairs, as the
    Gram loss is for its kernel; beyond, output pairs are taken within random blocks of at most
    ``block`` positions (the same blocks at every call for a given ``seed``), so memory stays
    O(block^2). ``gamma`` defaults to :func:`gauss_gamma`
    (computed before positions of weight zero are dropped). See the module docstring.
    """
    gamma = gauss_gamma(x, q, target) if gamma is None else gamma
    q = _weights(q, x.shape[1], x).to(x.dtype)
    keep = (q > 0).nonzero().squeeze(1)
    if keep.numel() < x.shape[1]:
        x, q = x[:, keep], q[keep]
    m, c = x.shape[1], x.shape[0]
    if m > block:
        order = torch.randperm(m, generator=torch.Generator().manual_seed(seed)).to(x.device)
        x, q = x[:, order], q[order]
    n_blocks = math.ceil(m / block)
    size = math.ceil(m / n_blocks)  # equal blocks, so none is tiny
    pad = n_blocks * size - m
    f = F.pad(x.T, (0, 0, 0, pad)).reshape(n_blocks, size, c)
    qb = F.pad(q, (0, pad)).reshape(n_blocks, size)
    # Each block's mean over its pairs, weighted by the block's mass: mass_b / mass_b^2 / sum mass.
    mass = qb.sum(1)
    block_w = torch.where(
        mass > 0, 1.0 / mass.clamp_min(_EPS), torch.zeros_like(mass)
    ) / mass.sum().clamp_min(_EPS)
    s, p = target.samples.to(x.device, x.dtype), target.weights.to(x.device, x.dtype)
    value = _GaussBlocks.apply(f, qb, s, p, gamma, block_w, 1.0 / float(q.sum()))
    return value + _gauss_self_term(s, p, gamma)


class GaussKind:
    """MMD with the Gaussian kernel, computed in blocks (see the module docstring)."""

    def __init__(self, block: int = GAUSS_BLOCK, seed: int = 0) -> None:
        self.block, self.seed = block, seed

    def target(self, samples: Samples) -> GaussTarget:
        s = samples.feats
        p = _weights(samples.weights, s.shape[1], s)
        p = p / p.sum()
        mean, mean_sq = s @ p, float(s.pow(2).sum(0) @ p)
        if s.shape[1] > self.block:
            gen = torch.Generator().manual_seed(self.seed + 1)
            idx = torch.multinomial(p.cpu().double(), self.block, replacement=True, generator=gen).to(
                s.device
            )
            sample = s[:, idx].T.contiguous()
            w = torch.full((self.block,), 1.0 / self.block, dtype=s.dtype, device=s.device)
        else:
            sample, w = s.T.contiguous(), p
        target = GaussTarget(sample, w, mean, mean_sq, 0.0)
        # Normalizer: MMD^2 of an all-zero output (every k(0, 0) = 1) at that output's bandwidth.
        zeros = torch.zeros(s.shape[0], 1, dtype=s.dtype, device=s.device)
        gamma = gauss_gamma(zeros, None, target)
        cross = float(torch.exp(-gamma * sample.pow(2).sum(1)) @ w)
        target.zero_loss = 1.0 + float(_gauss_self_term(sample, w, gamma)) - 2.0 * cross
        return target

    def loss(self, x: torch.Tensor, q: torch.Tensor | None, target: GaussTarget) -> torch.Tensor:
        return mmd2_gauss(x, q, target, block=self.block, seed=self.seed)

    def zero_loss(self, target: GaussTarget) -> float:
        return target.zero_loss

    def sums(
        self, x: torch.Tensor, q: torch.Tensor | None, target: Any, positions: torch.Tensor, count: int
    ) -> dict[str, torch.Tensor]:
        """The moments that set the bandwidth, and this tile's part of a fixed random sample of
        ``block`` of the whole picture's positions (zeros at the sample's other places, so the
        tiles' parts add up to the whole sample)."""
        chosen = torch.randperm(count, generator=torch.Generator().manual_seed(self.seed + 2))[: self.block]
        chosen = chosen.sort().values.to(positions.device)
        at = torch.searchsorted(positions, chosen).clamp_(max=positions.numel() - 1)
        inside = positions[at] == chosen
        sample = torch.zeros(chosen.numel(), x.shape[0], dtype=x.dtype, device=x.device)
        sample[inside] = x[:, at[inside]].T
        weight = torch.zeros(chosen.numel(), dtype=x.dtype, device=x.device)
        weight[inside] = q[at[inside]].to(x.dtype) if q is not None else 1.0
        return {
            "mass": _mass(x, q),
            "sum": _sum(x, q),
            "sq": _sum(x.pow(2), q).sum(),
            "sample": sample,
            "sample_weight": weight,
        }

    def loss_from_sums(self, sums: Mapping[str, torch.Tensor], target: GaussTarget) -> None:
        return None

    def local_loss(
        self, x: torch.Tensor, q: torch.Tensor | None, target: GaussTarget, sums: Mapping[str, torch.Tensor]
    ) -> torch.Tensor | None:
        """These positions' part of ``E k(x, x') - 2 E k(x, s) + E k(s, s')`` at the picture's bandwidth,
        the output pairs taken against the sample of the whole picture from ``sums``.

        The sample is a constant here, so the output-output term's gradient is counted twice (as both
        ends of each pair move): its value once, its gradient twice.
        """
        mass = float(_mass(x, q))
        total = float(sums["mass"])
        if mass <= 0 or total <= 0:
            return None
        gamma = _gamma(sums["sum"] / total, float(sums["sq"]) / total, target)
        q = _weights(q, x.shape[1], x)
        f = x.T
        sample_weight = sums["sample_weight"].to(f)
        pairs = (
            _GaussCross.apply(f, q, sums["sample"].to(f), sample_weight / sample_weight.sum(), gamma) / total
        )
        style = _GaussCross.apply(f, q, target.samples.to(f), target.weights.to(f), gamma) / total
        own = (mass / total) * _gauss_self_term(target.samples.to(f), target.weights.to(f), gamma)
        return 2.0 * pairs - pairs.detach() - 2.0 * style + own


class _GaussCross(torch.autograd.Function):
    """``sum_i q_i sum_j p_j k(f_i, s_j)`` for f (M, C) against a constant sample s (P, C), and its
    gradient ``-2 gamma q_i sum_j p_j k_ij (f_i - s_j)``, computed together in chunks of positions so
    no kernel matrix is kept (as in :class:`_GaussBlocks`)."""

    @staticmethod
    def forward(ctx, f, q, s, p, gamma):  # type: ignore[override]
        c = f.shape[1]
        s_aug = torch.cat(
            [2.0 * gamma * s, -gamma * s.pow(2).sum(-1, keepdim=True), torch.full_like(s[:, :1], -gamma)], 1
        )
        s_rhs = torch.cat([s * p[:, None], p[:, None]], 1)
        grad = torch.empty_like(f) if ctx.needs_input_grad[0] else None
        total = torch.zeros((), dtype=f.dtype, device=f.device)
        chunk = max(1, (1 << 18) // max(1, s.shape[0]))
        for i in range(0, f.shape[0], chunk):
            fb, qb = f[i : i + chunk], q[i : i + chunk]
            n = fb.pow(2).sum(-1, keepdim=True)
            v = (torch.cat([fb, torch.ones_like(n), n], 1) @ s_aug.T).clamp_min_(_LOG_TINY).exp_()
            vr = v @ s_rhs  # (chunk, C+1): sum_j p_j k_ij s_j and sum_j p_j k_ij
            del v
            total += (qb * vr[:, c]).sum()
            if grad is not None:
                grad[i : i + chunk] = (-2.0 * gamma) * qb[:, None] * (vr[:, c : c + 1] * fb - vr[:, :c])
        ctx.save_for_backward(grad if grad is not None else torch.empty(0))
        return total

    @staticmethod
    def backward(ctx, grad_output):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None, None


@dataclass
class HistTarget:
    values: torch.Tensor  #: (C, P) each channel's style values, sorted
    cdf: torch.Tensor  #: (C or 1, P) float64 cumulative weight at the middle of each value, in (0, 1)
    mean_sq: float  #: sum over channels of the weighted mean square: the normalizer


def _midpoints(w: torch.Tensor) -> torch.Tensor:
    """Cumulative weight at the middle of each (sorted) sample, normalized: (k + 1/2) / P when equal."""
    cum = torch.cumsum(w, dim=-1)
    return (cum - 0.5 * w) / cum[..., -1:]


def _interpolate(cdf: torch.Tensor, mid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices lo, hi into ``cdf`` (sorted along the last dim) around each ``mid``, and the weight of hi."""
    hi = torch.searchsorted(cdf, mid).clamp_(1, cdf.shape[-1] - 1)
    lo = hi - 1
    if cdf.dim() == 1:
        c_lo, c_hi = cdf[lo], cdf[hi]
    else:
        c_lo, c_hi = cdf.gather(-1, lo), cdf.gather(-1, hi)
    t = ((mid - c_lo) / (c_hi - c_lo).clamp_min(1e-300)).clamp_(0.0, 1.0).float()
    return lo, hi, t


def histogram_match(x: torch.Tensor, q: torch.Tensor | None, target: HistTarget) -> torch.Tensor:
    """R(x): each channel's values replaced by the style's quantiles at their (weighted) ranks.

    Exact sort-based matching: the k-th smallest of M output values gets the style's quantile
    at (k + 1/2) / M, interpolated linearly between style samples; with as many style values as
    output values it is exactly the k-th smallest style value (``torch.lerp`` returns an end
    point exactly when the weight is 0 or 1). Computed without gradient: the loss treats R(x)
    as a constant target, as in Risser et al.
    """
    with torch.no_grad():
        c, m = x.shape
        order = torch.argsort(x, dim=1)
        values = target.values.to(x.device)
        cdf = target.cdf.to(x.device)
        if q is None and cdf.shape[0] == 1:
            # Equal weights on both sides: the rank -> quantile map is the same for every channel.
            mid = _midpoints(torch.ones(m, dtype=torch.float64, device=x.device))
            lo, hi, t = _interpolate(cdf[0], mid)
            matched = torch.lerp(values[:, lo], values[:, hi], t.expand(c, m))
        else:
            w = (
                torch.ones(c, m, dtype=torch.float64, device=x.device)
                if q is None
                else q.to(torch.float64)[order]
            )
            lo, hi, t = _interpolate(cdf.expand(c, -1).contiguous(), _midpoints(w))
            matched = torch.lerp(values.gather(1, lo), values.gather(1, hi), t)
        out = torch.empty_like(x)
        out.scatter_(1, order, matched)
    return out


class HistogramKind:
    """Risser et al.'s histogram loss: ``sum_c mean_i (x - R(x))^2`` with R(x) held constant."""

    def target(self, samples: Samples) -> HistTarget:
        s = samples.feats
        values, order = torch.sort(s, dim=1)
        if samples.weights is None:
            w = torch.ones(1, s.shape[1], dtype=torch.float64, device=s.device)
            mean_sq = float(s.pow(2).mean(1).sum())
        else:
            w = samples.weights.to(torch.float64)[order]
            mean_sq = float((s.pow(2) @ samples.weights.float()).sum() / samples.weights.float().sum())
        return HistTarget(values.contiguous(), _midpoints(w), mean_sq)

    def loss(self, x: torch.Tensor, q: torch.Tensor | None, target: HistTarget) -> torch.Tensor:
        matched = histogram_match(x, q, target)
        if q is None:
            return (x - matched).pow(2).mean(1).sum()
        return ((x - matched).pow(2) @ q).sum() / q.sum()

    def zero_loss(self, target: HistTarget) -> float:
        return target.mean_sq

    def sums(
        self, x: torch.Tensor, q: torch.Tensor | None, target: HistTarget, positions: torch.Tensor, count: int
    ) -> dict[str, torch.Tensor]:
        """The mass of each channel's values in HIST_BINS bins spanning the style's range and half as
        much again (values beyond fall in the end bins)."""
        _, bins = _bin_of(x, target)
        weights = (
            q.to(torch.float64)
            if q is not None
            else torch.ones(x.shape[1], dtype=torch.float64, device=x.device)
        )
        counts = torch.zeros(x.shape[0], HIST_BINS, dtype=torch.float64, device=x.device)
        counts.scatter_add_(1, bins, weights.expand(x.shape[0], -1))
        return {"mass": _mass(x, q), "counts": counts}

    def loss_from_sums(self, sums: Mapping[str, torch.Tensor], target: HistTarget) -> None:
        return None

    def local_loss(
        self, x: torch.Tensor, q: torch.Tensor | None, target: HistTarget, sums: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """``sum (x - R(x))^2 / mass`` over these positions, R ranking each value in the whole picture's
        binned histogram (linear within its bin) instead of by an exact sort."""
        with torch.no_grad():
            counts = sums["counts"].to(x.device)
            position, bins = _bin_of(x, target)
            below = (counts.cumsum(1) - counts).gather(1, bins)
            inside = counts.gather(1, bins)
            within = (position - bins).clamp_(0.0, 1.0).to(torch.float64)
            rank = ((below + within * inside) / counts.sum(1, keepdim=True).clamp_min(1e-300)).clamp_(
                0.0, 1.0
            )
            cdf = target.cdf.to(x.device)
            lo, hi, t = _interpolate(cdf[0] if cdf.shape[0] == 1 else cdf, rank)
            values = target.values.to(x.device)
            matched = torch.lerp(values.gather(1, lo), values.gather(1, hi), t)
        diff = (x - matched).pow(2)
        total = diff.sum() if q is None else (diff @ q).sum()
        return total / float(sums["mass"])


def _bin_of(x: torch.Tensor, target: HistTarget) -> tuple[torch.Tensor, torch.Tensor]:
    """Each value's position in its channel's bins (a float) and its bin (clamped to the end bins)."""
    low, high = target.values[:, 0].to(x.device), target.values[:, -1].to(x.device)
    span = (high - low).clamp_min(1e-12)
    position = (x - (low - 0.25 * span)[:, None]) / (1.5 * span / HIST_BINS)[:, None]
    return position, position.floor().clamp_(0, HIST_BINS - 1).long()


def make_kind(style_loss: str, *, mmd_poly_c: float = 1.0, seed: int = 0) -> Kind:
    """The statistic for a ``Settings.style_loss`` name (or ``"hist"``)."""
    kinds = {
        "gram": GramKind,
        "mmd-linear": LinearKind,
        "mmd-poly": lambda: PolyKind(mmd_poly_c),
        "mmd-gauss": lambda: GaussKind(seed=seed),
        "bn": BNKind,
        "hist": HistogramKind,
    }
    return kinds[style_loss]()


# --------------------------------------------------------------------------- the loss term


@dataclass
class RegionTarget:
    """One region of the output at one layer and the style statistic it must have."""

    weights: torch.Tensor | None  #: (M,) output position weights (a mask); None: every position, equally
    share: float  #: the region's share of the picture (mean of the weights)
    target: Any
    scale: float  #: 1 / the loss of an all-zero output


class DistributionStyleLoss:
    """``sum_l w_l sum_regions share * L_kind(output, target) / L_kind(0, target)``.

    The normalizer makes every layer and region start near 1 from a content init, like
    :class:`nst.losses.GramStyleLoss`, so weights keep their meaning across weights files.
    """

    def __init__(
        self,
        name: str,
        kind: Kind,
        targets: Mapping[str, Sequence[RegionTarget]],
        layer_weights: Sequence[float],
    ) -> None:
        self.name, self.kind = name, kind
        self.targets = {layer: list(t) for layer, t in targets.items()}
        self.layers = tuple(self.targets)
        self.weights = tuple(layer_weights)

    def __call__(self, features: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        total = torch.zeros((), device=image.device)
        for layer, w in zip(self.layers, self.weights):
            if not w:
                continue
            x = flatten(features[layer])
            for region in self.targets[layer]:
                total = total + (w * region.share * region.scale) * self.kind.loss(
                    x, region.weights, region.target
                )
        return total

    # Tiled (nst.tiles): per layer and region, the kind's sums over positions add up across tiles.

    def _parts(self) -> Iterator[tuple[str, int, float, RegionTarget]]:
        for layer, w in zip(self.layers, self.weights):
            if w:
                for r, region in enumerate(self.targets[layer]):
                    yield layer, r, w * region.share * region.scale, region

    def tile_sums(self, features: Mapping[str, torch.Tensor], tile: Tile) -> dict[Any, torch.Tensor]:
        out: dict[Any, torch.Tensor] = {}
        for layer, r, _, region in self._parts():
            positions, count = tile.positions(layer)
            found = self.kind.sums(
                flatten(features[layer]),
                tile.weights_of(region.weights, layer),
                region.target,
                positions,
                count,
            )
            out.update({(layer, r, key): value for key, value in found.items()})
        return out

    def prepare(self, sums: Mapping[Any, torch.Tensor], canvas: Canvas) -> Prepared:
        def value(totals: Mapping[Any, torch.Tensor]) -> torch.Tensor | float:
            found = [
                (coef, self.kind.loss_from_sums(_part(totals, layer, r), region.target))
                for layer, r, coef, region in self._parts()
            ]
            return sum(coef * v for coef, v in found if v is not None)

        return prepare_sums(sums, value)

    def tile_loss(
        self, features: Mapping[str, torch.Tensor], tile: Tile, prepared: Prepared
    ) -> tuple[torch.Tensor, torch.Tensor]:
        differentiate, local = [], []
        for layer, r, coef, region in self._parts():
            x, q = flatten(features[layer]), tile.weights_of(region.weights, layer)
            grads = _part(prepared.grads, layer, r)
            if grads:
                differentiate.append(pair(grads, self.kind.sums(x, q, region.target, *tile.positions(layer))))
            part = self.kind.local_loss(x, q, region.target, _part(prepared.sums, layer, r))
            if part is not None:
                differentiate.append(coef * part)
                local.append(coef * part.detach())
        zero = torch.zeros((), device=next(iter(features.values())).device)
        return sum(differentiate, zero), sum(local, zero)


def _part(sums: Mapping[Any, torch.Tensor], layer: str, region: int) -> dict[str, torch.Tensor]:
    """One layer and region's entries of a term's sums, by the kind's own keys."""
    return {key: v for (at, r, key), v in sums.items() if at == layer and r == region}


def region_target(kind: Kind, samples: Samples, weights: torch.Tensor | None) -> RegionTarget | None:
    """The target of one region, or None when the region or its style samples are empty."""
    share = 1.0 if weights is None else float(weights.mean())
    if share <= 0 or (samples.weights is not None and float(samples.weights.sum()) <= 0):
        return None
    target = kind.target(samples)
    return RegionTarget(weights, share, target, 1.0 / (kind.zero_loss(target) + _EPS))


def mixture_samples(parts: Sequence[tuple[torch.Tensor, torch.Tensor | None, float]]) -> Samples:
    """The weighted mixture of style feature sets ``(feats (C, M_k), position weights or None, mass)``.

    Each part gets total weight ``mass`` (a blend weight), spread over its positions by its
    mask; positions of weight zero are dropped. One unmasked part stays unweighted, so a plain
    run computes exactly what the plain formulas say.
    """
    parts = [(f, w, mass) for f, w, mass in parts if mass > 0]
    if len(parts) == 1 and parts[0][1] is None:
        return Samples(parts[0][0], None)
    feats, weights = [], []
    for f, w, mass in parts:
        w = torch.ones(f.shape[1], device=f.device) if w is None else w.to(f.device, torch.float32)
        keep = w > 0
        total = float(w.sum())
        if total <= 0:
            continue
        feats.append(f[:, keep])
        weights.append(w[keep] * (mass / total))
    if not feats:
        return Samples(parts[0][0][:, :0], torch.zeros(0))
    return Samples(torch.cat(feats, 1), torch.cat(weights))
