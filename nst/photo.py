"""Photorealism: the matting Laplacian regularizer of Luan, Paris, Shechtman, Bala ("Deep Photo
Style Transfer", CVPR 2017).

Style transfer between photos tends to warp straight lines and paint texture into flat areas.
Luan et al. penalize outputs that are not, in every small window, an affine function of the
content's colours: ``L_m = sum_c V_c^T L V_c``, where V_c is output channel c as a vector and L
the matting Laplacian of the content (Levin, Lischinski, Weiss, "A Closed-Form Solution to
Natural Image Matting", 2008). An output that is a global (or any locally) affine colour
transform of the content has ``L_m`` near 0; edges cannot move, only change colour.

L is built once per run (per scale of a coarse-to-fine run) with scipy.sparse, from 3x3
windows with epsilon = 1e-7 as in the paper's code (``gen_laplacian``), then used as a torch
sparse tensor. The loss is divided by the number of pixels so ``photo_weight`` means the same
thing at any size. Its gradient, ``2 L V`` (L is symmetric), is computed in the forward pass.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch

#: Levin et al.'s regularizer of the window covariance; the paper's code uses 1e-7 (colours in [0, 1]).
EPSILON = 1e-7
#: Window radius: 1 gives the 3x3 windows of the paper.
RADIUS = 1


def matting_laplacian(
    image: np.ndarray, eps: float = EPSILON, radius: int = RADIUS, chunk: int = 20_000
) -> scipy.sparse.csr_matrix:
    """The (H*W, H*W) matting Laplacian of an (H, W, 3) image with values in [0, 1].

    For every window w_k of (2 radius + 1)^2 pixels fully inside the image, with colour mean
    mu_k and covariance Sigma_k, pixels i, j of the window get the affinity
    ``(1 + (I_i - mu_k)^T (Sigma_k + eps/|w| I)^-1 (I_j - mu_k)) / |w|``, summed over windows;
    ``L = D - A`` with D the row sums of A. Pixels are numbered row-major (y * W + x). Windows are
    processed ``chunk`` at a time to bound memory (81 entries per 3x3 window in float64).
    """
    img = np.asarray(image, dtype=np.float64)
    h, w, _ = img.shape
    size = 2 * radius + 1
    n = size * size
    if h < size or w < size:
        raise ValueError(f"the image ({w}x{h}) is smaller than one {size}x{size} window")
    index = np.arange(h * w).reshape(h, w)
    win_idx = np.lib.stride_tricks.sliding_window_view(index, (size, size)).reshape(-1, n)
    win_px = np.lib.stride_tricks.sliding_window_view(img, (size, size), axis=(0, 1))  # (h', w', 3, s, s)
    win_px = win_px.reshape(-1, 3, n).transpose(0, 2, 1)  # (K, n, 3)
    total = scipy.sparse.csr_matrix((h * w, h * w))
    for start in range(0, win_idx.shape[0], chunk):
        px = win_px[start : start + chunk]
        idx = win_idx[start : start + chunk]
        mean = px.mean(1, keepdims=True)
        centred = px - mean
        cov = np.einsum("kni,knj->kij", centred, centred) / n
        inv = np.linalg.inv(cov + (eps / n) * np.eye(3))
        vals = (1.0 + np.einsum("kni,kij,kmj->knm", centred, inv, centred)) / n
        rows = np.repeat(idx, n, axis=1).ravel()
        cols = np.tile(idx, (1, n)).ravel()
        total = total + scipy.sparse.csr_matrix((vals.ravel(), (rows, cols)), shape=(h * w, h * w))
    affinity = total
    degree = np.asarray(affinity.sum(axis=1)).ravel()
    return (scipy.sparse.diags(degree) - affinity).tocsr()


def to_torch(
    laplacian: scipy.sparse.spmatrix, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A scipy sparse matrix as a coalesced torch sparse COO tensor (the stable sparse layout)."""
    lap = laplacian.tocoo()
    indices = torch.from_numpy(np.vstack([lap.row, lap.col]).astype(np.int64))
    return torch.sparse_coo_tensor(
        indices, torch.from_numpy(lap.data).to(dtype), size=lap.shape, device=device, check_invariants=False
    ).coalesce()


class _QuadraticForm(torch.autograd.Function):
    """``sum_c V_c^T L V_c`` for an image (1, 3, H, W), with gradient ``2 L V`` (L symmetric)."""

    @staticmethod
    def forward(ctx, image: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        v = image.reshape(image.shape[1], -1).T.contiguous()  # (H*W, 3): one column per channel
        lv = torch.sparse.mm(laplacian, v) if laplacian.layout != torch.strided else laplacian @ v
        ctx.save_for_backward(lv)
        ctx.shape = image.shape
        return (v * lv).sum()

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        (lv,) = ctx.saved_tensors
        grad = (2.0 * grad_output) * lv.T.reshape(ctx.shape)
        return grad, None


def matting_loss(image: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:
    """``sum_c V_c^T L V_c`` (not normalized); ``laplacian`` is a torch sparse (or dense) matrix."""
    return _QuadraticForm.apply(image, laplacian)


class PhotoLoss:
    """Luan et al.'s photorealism regularizer for one content image, per pixel."""

    name = "photo"
    layers: tuple[str, ...] = ()

    def __init__(self, content: torch.Tensor, eps: float = EPSILON) -> None:
        if content.dim() != 4 or content.shape[:2] != (1, 3):
            raise ValueError(f"expected a (1, 3, H, W) content image, got {tuple(content.shape)}")
        array = content[0].permute(1, 2, 0).detach().cpu().double().numpy()
        self.laplacian = to_torch(matting_laplacian(array, eps), content.device)
        self.pixels = content.shape[-1] * content.shape[-2]

    def __call__(self, features: object, image: torch.Tensor) -> torch.Tensor:
        return matting_loss(image.float(), self.laplacian) / self.pixels
