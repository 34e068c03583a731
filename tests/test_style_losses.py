"""Style statistics (MMD kernels, BN, histogram) against independent, explicit computations."""

import numpy as np
import pytest
import torch

from nst.losses import gram_loss, gram_matrix
from nst.style_losses import (
    BNKind,
    DistributionStyleLoss,
    GaussKind,
    GramKind,
    HistogramKind,
    LinearKind,
    PolyKind,
    Samples,
    bn_distance,
    gauss_gamma,
    histogram_match,
    make_kind,
    mixture_samples,
    mmd2_gauss,
    mmd2_linear,
    mmd2_poly,
    region_target,
)


def explicit_mmd2(x: np.ndarray, y: np.ndarray, kernel) -> float:
    """Biased MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y), one kernel value at a time.

    x, y: (C, M) arrays, one column per position (a feature vector).
    """

    def mean_k(a, b):
        return np.mean([[kernel(a[:, i], b[:, j]) for j in range(b.shape[1])] for i in range(a.shape[1])])

    return mean_k(x, x) + mean_k(y, y) - 2 * mean_k(x, y)


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 20)).astype(np.float32)
    y = (rng.normal(size=(6, 28)) * 1.5 + 0.3).astype(np.float32)
    return x, y


def test_poly_mmd_with_c0_d2_is_the_gram_loss_times_4_n_squared(features):
    x, y = features
    explicit = explicit_mmd2(x.astype(np.float64), y.astype(np.float64), lambda a, b: (a @ b) ** 2)
    ours = mmd2_poly(torch.from_numpy(x), torch.from_numpy(y), c=0.0).item()
    assert ours == pytest.approx(explicit, rel=1e-5)
    # Li et al.: L_style = MMD^2 / (4 N^2) for the M-normalized Gram loss (here 20 vs 28 positions).
    n = x.shape[0]
    gatys = gram_loss(
        gram_matrix(torch.from_numpy(x).reshape(1, 6, 4, 5)),
        gram_matrix(torch.from_numpy(y).reshape(1, 6, 4, 7)),
    ).item()
    assert gatys == pytest.approx(explicit / (4 * n * n), rel=1e-5)


def test_poly_mmd_with_c_and_linear_mmd_against_explicit_kernels(features):
    x, y = (f.astype(np.float64) for f in features)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert mmd2_poly(tx, ty, c=0.7).item() == pytest.approx(
        explicit_mmd2(x, y, lambda a, b: (a @ b + 0.7) ** 2), rel=1e-9
    )
    assert mmd2_linear(tx, ty).item() == pytest.approx(explicit_mmd2(x, y, lambda a, b: a @ b), rel=1e-9)
    # PolyKind's c is relative to the style's mean squared feature norm.
    kind = PolyKind(0.5)
    target = kind.target(Samples(ty))
    c = 0.5 * np.mean(np.sum(y**2, axis=0))
    assert kind.loss(tx, None, target).item() == pytest.approx(
        explicit_mmd2(x, y, lambda a, b: (a @ b + c) ** 2), rel=1e-9
    )


def test_gaussian_mmd_matches_explicit_kernel_and_the_papers_bandwidth(features):
    x, y = (f.astype(np.float64) for f in features)
    kind = GaussKind(block=64)
    target = kind.target(Samples(torch.from_numpy(y)))
    tx = torch.from_numpy(x)

    # Bandwidth (the paper's code): 2 sigma^2 = mean squared distance over output-output,
    # style-style and output-style pairs, weighted 1/4, 1/4, 1/2 (its xx, yy, xy, yx pairs).
    def mean_d2(a, b):
        return ((a[:, :, None] - b[:, None, :]) ** 2).sum(0).mean()

    two_sigma2 = 0.25 * mean_d2(x, x) + 0.25 * mean_d2(y, y) + 0.5 * mean_d2(x, y)
    gamma = gauss_gamma(tx, None, target)
    assert 1 / gamma == pytest.approx(two_sigma2, rel=1e-9)
    explicit = explicit_mmd2(x, y, lambda a, b: np.exp(-gamma * np.sum((a - b) ** 2)))
    assert kind.loss(tx, None, target).item() == pytest.approx(explicit, rel=1e-9)
    assert kind.loss(torch.from_numpy(y), None, target).item() == pytest.approx(0.0, abs=1e-12)


def test_gaussian_mmd_in_blocks_keeps_memory_bounded_and_stays_close():
    torch.manual_seed(1)
    y = torch.randn(4, 3000, dtype=torch.float64)
    x = torch.randn(4, 3000, dtype=torch.float64) * 1.3 + 0.2
    full = GaussKind(block=4096)
    blocked = GaussKind(block=256)
    exact = full.loss(x, None, full.target(Samples(y))).item()
    estimate = blocked.loss(x, None, blocked.target(Samples(y))).item()
    assert estimate == pytest.approx(exact, rel=0.15)
    # Same blocks at every call: a deterministic function for L-BFGS.
    target = blocked.target(Samples(y))
    assert blocked.loss(x, None, target).item() == blocked.loss(x, None, target).item()


def test_gaussian_mmd_gradient_matches_finite_differences():
    torch.manual_seed(2)
    y = torch.randn(3, 17, dtype=torch.float64)
    x = torch.randn(3, 13, dtype=torch.float64, requires_grad=True)
    q = torch.rand(13, dtype=torch.float64)
    for block in (64, 4):  # one block, and several blocks
        target = GaussKind(block=block).target(Samples(y))
        # The bandwidth is held constant in the gradient (as in the paper's code), so check at a fixed one.
        assert torch.autograd.gradcheck(
            lambda v, t=target, b=block: mmd2_gauss(v, q, t, block=b, gamma=0.07), (x,)
        )


def test_histogram_target_is_exactly_the_styles_sorted_values():
    torch.manual_seed(3)
    style = torch.randn(5, 40) * 3 + 1
    out = torch.randn(5, 40)
    target = HistogramKind().target(Samples(style))
    matched = histogram_match(out, None, target)
    for c in range(5):
        # Exactly the style's values, placed in the output's rank order.
        assert torch.equal(torch.sort(matched[c]).values, torch.sort(style[c]).values)
        assert torch.equal(torch.argsort(matched[c]), torch.argsort(out[c]))
    assert HistogramKind().loss(style, None, target).item() == 0.0
    assert HistogramKind().loss(out, None, target).item() > 0.0


def test_histogram_of_another_size_interpolates_the_style_quantiles():
    rng = np.random.default_rng(4)
    style = rng.gamma(2.0, size=(3, 50)).astype(np.float32)
    out = rng.normal(size=(3, 23)).astype(np.float32)
    matched = histogram_match(
        torch.from_numpy(out), None, HistogramKind().target(Samples(torch.from_numpy(style)))
    ).numpy()
    for c in range(3):
        ranks = np.argsort(np.argsort(out[c]))
        expected = np.interp((ranks + 0.5) / 23, (np.arange(50) + 0.5) / 50, np.sort(style[c]))
        np.testing.assert_allclose(matched[c], expected, rtol=1e-5, atol=1e-6)


def test_bn_loss_zero_for_equal_channel_mean_and_std_positive_otherwise():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 30)) * rng.uniform(0.5, 2, size=(4, 1)) + rng.normal(size=(4, 1))
    other = rng.exponential(size=(4, 45))  # a different distribution and size...
    z = (other - other.mean(1, keepdims=True)) / other.std(1, keepdims=True)
    y = z * x.std(1, keepdims=True) + x.mean(1, keepdims=True)  # ...with x's mean and std per channel
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert bn_distance(tx, ty).item() == pytest.approx(0.0, abs=1e-10)
    shifted = torch.from_numpy(y + 0.5)
    expected = np.mean((x.mean(1) - (y + 0.5).mean(1)) ** 2 + (x.std(1) - y.std(1)) ** 2)
    assert bn_distance(tx, shifted).item() == pytest.approx(expected, rel=1e-6)
    assert bn_distance(tx, torch.from_numpy(y * 2)).item() > 0


def test_blend_target_is_the_weighted_mixture_and_masks_select_positions():
    torch.manual_seed(6)
    a, b = torch.randn(4, 30), torch.randn(4, 50) + 1
    mix = mixture_samples([(a, None, 0.7), (b, None, 0.3)])
    gram = GramKind().target(mix)
    expected = 0.7 * (a @ a.T / 30) + 0.3 * (b @ b.T / 50)
    assert torch.allclose(gram, expected, atol=1e-5)
    mask = torch.zeros(30)
    mask[:12] = 1.0
    masked = GramKind().target(mixture_samples([(a, mask, 1.0)]))
    assert torch.allclose(masked, a[:, :12] @ a[:, :12].T / 12, atol=1e-5)
    assert LinearKind().target(mixture_samples([(a, mask, 1.0)])).allclose(a[:, :12].mean(1), atol=1e-6)


@pytest.mark.parametrize("name", ["gram", "mmd-linear", "mmd-poly", "mmd-gauss", "bn", "hist"])
def test_every_kind_is_one_for_a_zero_output_and_zero_at_the_target(name):
    torch.manual_seed(7)
    style = torch.relu(torch.randn(1, 8, 6, 5)) * 40
    kind = make_kind(name)
    target = region_target(kind, Samples(style.reshape(8, 30)), None)
    term = DistributionStyleLoss("style", kind, {"conv1_1": [target]}, [1.0])
    # (bn: the std of a constant is floored at 1e-4 of the style's, so 1 - 2e-4.)
    assert term({"conv1_1": torch.zeros_like(style)}, torch.zeros(1)).item() == pytest.approx(1.0, rel=1e-3)
    assert term({"conv1_1": style}, torch.zeros(1)).item() == pytest.approx(0.0, abs=1e-5)


def test_region_weights_restrict_the_output_and_empty_regions_are_dropped():
    torch.manual_seed(8)
    x = torch.randn(3, 20)
    style = torch.randn(3, 25)
    q = torch.zeros(20)
    q[5:15] = 1.0
    kind = BNKind()
    target = region_target(kind, Samples(style), q)
    assert target.share == pytest.approx(0.5)
    assert kind.loss(x, q, target.target).item() == pytest.approx(
        bn_distance(x[:, 5:15], style).item(), rel=1e-5
    )
    assert region_target(kind, Samples(style), torch.zeros(20)) is None


@pytest.mark.parametrize("name", ["gram", "mmd-linear", "mmd-poly", "mmd-gauss", "bn", "hist"])
def test_blend_masses_count_by_their_ratio_and_the_heavier_part_wins(name):
    """A target from a blend of two feature sets: 9/1 is 0.9/0.1 (its normalizer too), and an output
    drawn like one set is nearer the blend where that set weighs 0.9 than where it weighs 0.1."""
    gen = torch.Generator().manual_seed(9)

    def draw(m: int, centre: float, spread: float) -> torch.Tensor:
        return torch.relu(torch.randn(4, m, generator=gen) * spread + centre)

    a, b = draw(30, 2.0, 0.5), draw(40, 0.5, 1.5)
    like_a, like_b = draw(36, 2.0, 0.5), draw(36, 0.5, 1.5)  # other draws of the same two distributions
    kind = make_kind(name)

    def loss(x: torch.Tensor, masses: tuple[float, float]) -> float:
        region = region_target(kind, mixture_samples([(a, None, masses[0]), (b, None, masses[1])]), None)
        return region.scale * kind.loss(x, None, region.target).item()

    for x in (like_a, like_b):
        # float32 features, as the engine's: the two targets differ by rounding only
        assert loss(x, (9.0, 1.0)) == pytest.approx(loss(x, (0.9, 0.1)), rel=1e-4)
    assert loss(like_a, (0.9, 0.1)) < 0.5 * loss(like_a, (0.1, 0.9))
    assert loss(like_b, (0.1, 0.9)) < 0.5 * loss(like_b, (0.9, 0.1))
