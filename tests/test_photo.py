"""The matting Laplacian and the photorealism loss, against a per-window loop and finite differences."""

import itertools

import numpy as np
import pytest
import torch

from nst.photo import PhotoLoss, matting_laplacian, matting_loss, to_torch


def naive_laplacian(img: np.ndarray, eps: float) -> np.ndarray:
    """Levin et al.'s definition, one 3x3 window at a time, as a dense matrix."""
    h, w, _ = img.shape
    lap = np.zeros((h * w, h * w))
    for y, x in itertools.product(range(1, h - 1), range(1, w - 1)):
        idx = [(y + dy) * w + (x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        px = np.array([img[i // w, i % w] for i in idx])
        mu = px.mean(0)
        cov = (px - mu).T @ (px - mu) / 9
        inv = np.linalg.inv(cov + eps / 9 * np.eye(3))
        for a, i in enumerate(idx):
            for b, j in enumerate(idx):
                lap[i, j] += (i == j) - (1 + (px[a] - mu) @ inv @ (px[b] - mu)) / 9
    return lap


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:7, 0:9] / 9.0
    return np.clip(np.stack([xx, yy, 1 - xx * yy], -1) * 0.7 + 0.3 * rng.random((7, 9, 3)), 0, 1)


def test_laplacian_matches_the_definition_and_is_symmetric_psd_with_constant_null_space(image):
    lap = matting_laplacian(image, eps=1e-4)
    dense = lap.toarray()
    np.testing.assert_allclose(dense, naive_laplacian(image, 1e-4), atol=1e-8)
    np.testing.assert_allclose(dense, dense.T, atol=1e-10)
    assert np.linalg.eigvalsh(dense).min() > -1e-8
    np.testing.assert_allclose(lap @ np.ones(lap.shape[0]), 0.0, atol=1e-10)


def test_affine_recolouring_costs_nothing_noise_costs_a_lot():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:24, 0:32] / 32.0
    content = torch.from_numpy(np.stack([xx, yy, 0.5 + 0.4 * np.sin(6 * xx + 3 * yy)])[None]).float()
    content = content * 0.8 + 0.2 * torch.from_numpy(rng.random((1, 3, 24, 32))).float()
    term = PhotoLoss(content)
    a = torch.tensor([[0.7, 0.2, 0.0], [0.1, 0.6, 0.2], [0.0, 0.3, 0.5]])
    affine = torch.einsum("ij,bjhw->bihw", a, content) + torch.tensor([0.1, -0.05, 0.2]).view(1, 3, 1, 1)
    noisy = content + 0.05 * torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
    assert term.name == "photo" and term.layers == ()
    assert term(None, affine).item() < 1e-4
    assert term(None, noisy).item() > 1e3 * term(None, affine).item()


def test_gradient_matches_finite_differences(image):
    lap = to_torch(matting_laplacian(image), dtype=torch.float64)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: matting_loss(v, lap), (x,))
    # And the value is the quadratic form sum_c V_c^T L V_c.
    dense = matting_laplacian(image).toarray()
    v = image.reshape(-1, 3)
    assert matting_loss(x, lap).item() == pytest.approx(
        sum(v[:, c] @ dense @ v[:, c] for c in range(3)), rel=1e-9
    )


def test_the_loss_a_run_builds_uses_the_papers_epsilon():
    """On a nearly flat photo the window covariances (about 1e-8) are the size of eps / 9, so the
    regularizer's epsilon decides the values: the term a run builds matches Levin's definition at
    1e-7 (the paper's gen_laplacian), not at ten times more or less."""
    rng = np.random.default_rng(3)
    flat = 0.5 + 3e-4 * rng.random((6, 7, 3))
    content = torch.from_numpy(flat).permute(2, 0, 1)[None].float()
    v = rng.random((6 * 7, 3))
    built = PhotoLoss(content)(None, torch.from_numpy(v.T.reshape(1, 3, 6, 7)).float()).item()

    def independent(eps: float) -> float:
        lap = naive_laplacian(content[0].permute(1, 2, 0).double().numpy(), eps)
        return float(np.einsum("ic,ij,jc->", v, lap, v)) / (6 * 7)

    assert built == pytest.approx(independent(1e-7), rel=1e-3)
    assert abs(independent(1e-6) - independent(1e-7)) > 0.05 * independent(1e-7)
    assert abs(independent(1e-8) - independent(1e-7)) > 0.05 * independent(1e-7)
