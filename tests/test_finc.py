"""Correctness of beyondfid.finc: the RFF maths, streaming, indices, helpers and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from beyondfid.finc.baselines import fused_kernel_matrix, gaussian_kernel
from beyondfid.finc import (
    FincResult,
    draw_frequencies,
    finc,
    finc_swap,
    ken_score,
    median_bandwidth,
    rff_covariances,
    rff_features,
)


def _mixture(rng, n, centers, weights, scale=1.0):
    lab = rng.choice(len(centers), size=n, p=np.asarray(weights) / np.sum(weights))
    x = centers[lab] + scale * rng.standard_normal((n, centers.shape[1]))
    return x.astype(np.float32), lab


@pytest.fixture(scope="module")
def planted():
    """Reference: 4 Gaussian clusters. Test: the same 4 plus a novel 5th cluster (15 %)."""
    rng = np.random.default_rng(0)
    d = 24
    centers = rng.standard_normal((5, d)) * 6.0
    ref, _ = _mixture(rng, 1500, centers[:4], [1, 1, 1, 1])
    test, lab = _mixture(rng, 1203, centers, [0.85 / 4] * 4 + [0.15])
    return test, ref, lab


def _exact_positive_spectrum(x, y, sigma, eta):
    """Positive eigenvalues of the exact-kernel Λ via KEN's fused matrix (float64)."""
    K = fused_kernel_matrix(gaussian_kernel(x, x, sigma), gaussian_kernel(x, y, sigma), gaussian_kernel(y, y, sigma), eta)
    ev = torch.linalg.eigvals(K).real.numpy()
    return np.sort(ev[ev > 1e-12])[::-1]


# ------------------------------------------------------------------------------------------
# the mathematics
# ------------------------------------------------------------------------------------------


def test_rff_kernel_and_frequencies():
    W = draw_frequencies(6, 20000, sigma=2.5, seed=3)
    assert W.shape == (6, 20000) and W.dtype == np.float32
    assert abs(W.std() - 1 / 2.5) < 0.005 and abs(W.mean()) < 0.005
    np.testing.assert_array_equal(W, draw_frequencies(6, 20000, sigma=2.5, seed=3))
    assert not np.array_equal(W, draw_frequencies(6, 20000, sigma=2.5, seed=4))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 6))
    phi = rff_features(x, W)
    assert phi.shape == (30, 40000)
    approx = (phi @ phi.T).numpy()
    exact = gaussian_kernel(x, x, 2.5).numpy()
    np.testing.assert_allclose(np.diag(approx), 1.0, atol=1e-12)  # cos² + sin² = 1, / r · r
    assert np.abs(approx - exact).max() < 0.03  # Monte-Carlo error ~ 1/√r


def test_rff_top_eigenvalue_converges_to_exact_kernel():
    """FINC's top eigenvalue approaches the exact-kernel one as r grows (Monte-Carlo ~ r^-1/2)."""
    rng = np.random.default_rng(2)
    centers = rng.standard_normal((3, 5)) * 4
    x, _ = _mixture(rng, 150, centers, [1, 1, 1])
    y, _ = _mixture(rng, 150, centers[:2], [1, 1])
    sigma, eta = 3.0, 1.0
    exact = _exact_positive_spectrum(x.astype(np.float64), y.astype(np.float64), sigma, eta)[0]
    errs = {}
    for r in (16, 64, 256):
        e = []
        for seed in range(3):
            res = finc(x, y, sigma=sigma, eta=eta, rff_dim=r, top_k=1, seed=seed, precision="float64")
            e.append(abs(res.eigenvalues[0] - exact))
        errs[r] = float(np.mean(e))
    assert errs[64] < errs[16] and errs[256] < errs[64], errs
    assert errs[256] / exact < 0.05, (errs, exact)
    # far larger r through the kernel trick (n+m = 300 ≪ 2r): the gap keeps shrinking
    W = draw_frequencies(5, 20000, sigma, seed=0)
    Fx, Fy = rff_features(x, W), rff_features(y, W)
    K = fused_kernel_matrix(Fx @ Fx.T, Fx @ Fy.T, Fy @ Fy.T, eta)
    top = torch.linalg.eigvals(K).real.max().item()
    assert abs(top - exact) / exact < 0.01


@pytest.mark.filterwarnings("ignore:requested top_k")
def test_ken_identity_fused_matrix_equals_covariance_difference():
    """Non-zero eigenvalues of KEN's fused matrix built from the *same explicit features* equal
    those of C_X − ηC_Y.  With A = [Φ_X/√n ; √(η/m)Φ_Y] and S = diag(I_n, −I_m):
    Λ = AᵀSA and fused = S·AAᵀ = [[K_XX/n, √η K_XY/√(nm)], [−√η K_YX/√(nm), −η K_YY/m]]."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 4)).astype(np.float32) + 1.0
    y = rng.standard_normal((55, 4)).astype(np.float32)
    for r, eta in ((40, 1.0), (90, 0.6)):  # 2r < n+m and 2r > n+m
        res = finc(x, y, sigma=1.3, eta=eta, rff_dim=r, top_k=500, seed=1, precision="float64")
        Fx, Fy = rff_features(x, res.W), rff_features(y, res.W)
        K = fused_kernel_matrix(Fx @ Fx.T, Fx @ Fy.T, Fy @ Fy.T, eta)
        ev = torch.linalg.eigvals(K).real.numpy()
        fused_pos = np.sort(ev[ev > 1e-10])[::-1]
        lam = res.positive_eigenvalues[res.positive_eigenvalues > 1e-10]
        assert len(lam) == len(fused_pos)
        np.testing.assert_allclose(lam, fused_pos, rtol=1e-8, atol=1e-12)
        # and the explicit 2r × 2r matrix agrees with the streamed one
        L = (Fx.T @ Fx / len(x) - eta * Fy.T @ Fy / len(y)).numpy()
        np.testing.assert_allclose(np.linalg.eigvalsh(L)[::-1][: len(lam)], lam, rtol=1e-8, atol=1e-12)


def test_mixed_precision_error_is_small():
    """float32 chunk products + float64 accumulation vs all-float64: the error we accept."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((6000, 32)) * 2).astype(np.float32)
    y = (rng.standard_normal((5000, 32)) * 2.2).astype(np.float32)
    W = draw_frequencies(32, 256, sigma=6.0, seed=0)
    cx, cy = rff_covariances(x, y, W=W, chunk_size=4096)
    dx, dy = rff_covariances(x, y, W=W, chunk_size=4096, precision="float64")
    L = cx.matrix() - cy.matrix()
    L64 = dx.matrix() - dy.matrix()
    rel = float(torch.linalg.norm(L - L64) / torch.linalg.norm(L64))
    assert rel < 2e-5, rel
    e, e64 = torch.linalg.eigvalsh(L).flip(0), torch.linalg.eigvalsh(L64).flip(0)
    assert float((e[:5] - e64[:5]).abs().max() / e64[0]) < 2e-6
    # C_X itself (no cancellation) is accurate to float32-product level
    assert float(torch.linalg.norm(cx.matrix() - dx.matrix()) / torch.linalg.norm(dx.matrix())) < 2e-6


# ------------------------------------------------------------------------------------------
# streaming: chunk sizes, indices, the planted cluster
# ------------------------------------------------------------------------------------------


def test_planted_novel_cluster_found(planted):
    test, ref, lab = planted
    res = finc(test, ref, sigma=6.0, eta=1.0, rff_dim=400, top_k=3, seed=0, top_samples=50)
    assert res.k == 3 and res.message == ""
    frac = float(np.mean(lab[res.top_indices[0]] == 4))
    assert frac >= 0.95, frac
    assert np.all(np.diff(res.eigenvalues) <= 0) and np.all(res.eigenvalues > 0)
    assert res.eigenvectors.shape == (800, 3)
    # scores of the whole test set: top_indices are exactly the arg-top of score(), best first
    s = res.score(test)
    for j in range(3):
        order = np.lexsort((np.arange(len(s)), -s[:, j]))[:50]
        np.testing.assert_array_equal(res.top_indices[j], order)
        np.testing.assert_allclose(res.top_scores[j], s[order, j], rtol=2e-5, atol=1e-9)
        assert s[:, j].sum() > 0  # orientation Σs > 0
    # the mode-1 score is large on the novel cluster and small on the reference
    assert res.score(ref)[:, 0].mean() < 0.2 * s[lab == 4, 0].mean()


def test_chunk_size_independence(planted):
    test, ref, _ = planted
    runs = [finc(test, ref, sigma=6.0, rff_dim=150, top_k=4, seed=5, chunk_size=c, top_samples=30) for c in (13, 97, 1000, 5000)]
    base = runs[0]
    for res in runs[1:]:
        np.testing.assert_allclose(res.eigenvalues, base.eigenvalues, rtol=1e-6)
        np.testing.assert_allclose(res.eigenvectors, base.eigenvectors, atol=1e-5)
        for a, b in zip(res.top_indices, base.top_indices):
            np.testing.assert_array_equal(a, b)


def test_indices_in_last_partial_chunk():
    """The official code loses indices of the last partial batch; here they are exact."""
    rng = np.random.default_rng(6)
    ref = rng.standard_normal((400, 8)).astype(np.float32)
    test = rng.standard_normal((403, 8)).astype(np.float32)
    far = np.full(8, 9.0, dtype=np.float32)
    planted_rows = [0, 150] + list(range(385, 403))  # first row, and the last partial chunks
    test[planted_rows] = far + 0.05 * rng.standard_normal((len(planted_rows), 8)).astype(np.float32)
    for chunk in (100, 7, 1, 403, 1000):
        res = finc(test, ref, sigma=3.0, rff_dim=200, top_k=1, seed=0, chunk_size=chunk, top_samples=len(planted_rows))
        assert sorted(res.top_indices[0].tolist()) == planted_rows, (chunk, res.top_indices[0])


def test_swap_finds_missing_mode(planted):
    test, ref, lab = planted
    # the reference lacks cluster 4: swapped, test (with it) is the "reference"
    res = finc_swap(ref, test[lab == 4], sigma=6.0, rff_dim=200, top_k=2, seed=0)
    assert res.n_test == len(test[lab == 4]) and res.n_ref == len(ref)
    assert res.k >= 1 and res.top_indices[0].max() < (lab == 4).sum()


def test_torch_inputs_and_explicit_W(planted):
    test, ref, _ = planted
    a = finc(test, ref, sigma=6.0, rff_dim=100, top_k=2, seed=11)
    b = finc(torch.from_numpy(test), torch.from_numpy(ref).double(), sigma=6.0, W=a.W, top_k=2)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-6)
    np.testing.assert_array_equal(a.top_indices[0], b.top_indices[0])


def test_memmap_input(planted, tmp_path):
    test, ref, _ = planted
    np.save(tmp_path / "t.npy", test)
    mm = np.load(tmp_path / "t.npy", mmap_mode="r")
    a = finc(mm, ref, sigma=6.0, rff_dim=64, top_k=1, seed=0)
    b = finc(test, ref, sigma=6.0, rff_dim=64, top_k=1, seed=0)
    np.testing.assert_array_equal(a.top_indices[0], b.top_indices[0])


def test_save_and_load_roundtrip(planted, tmp_path):
    test, ref, _ = planted
    res = finc(test, ref, sigma=6.0, rff_dim=60, top_k=3, seed=2)
    path = res.save(tmp_path / "sub" / "finc.npz")
    assert path.exists() and not any(p.name.startswith(".finc") for p in path.parent.iterdir())
    back = FincResult.load(path)
    np.testing.assert_array_equal(back.W, res.W)
    np.testing.assert_array_equal(back.eigenvectors, res.eigenvectors)
    for a, b in zip(back.top_indices, res.top_indices):
        np.testing.assert_array_equal(a, b)
    assert (back.sigma, back.eta, back.rff_dim, back.seed, back.message) == (res.sigma, res.eta, res.rff_dim, res.seed, res.message)
    np.testing.assert_allclose(back.score(test[:10]), res.score(test[:10]))


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def test_median_bandwidth_matches_naive():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((120, 5))
    y = rng.standard_normal((80, 5)) + 2
    est = median_bandwidth(x, y, max_samples=10_000)
    assert est.n_samples == 200 and est.n_pairs == 200 * 199 // 2
    assert math.isclose(est.sigma, float(np.median(pdist(np.vstack([x, y])))), rel_tol=1e-12)
    sub = median_bandwidth(x, y, max_samples=50, seed=1)
    assert sub.n_samples == 50 and 0.5 * est.sigma < sub.sigma < 2 * est.sigma
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    res = finc(x32, y32, sigma="median", rff_dim=32, top_k=1)
    assert math.isclose(res.sigma, median_bandwidth(x32, y32).sigma, rel_tol=1e-12)
    assert res.sigma_source.startswith("median heuristic")


def test_ken_score_formula():
    lam = np.array([0.3, 0.1, -0.2, 0.0, 0.05])
    pos = np.array([0.3, 0.1, 0.05])
    p = pos / pos.sum()
    assert math.isclose(ken_score(lam), pos.sum() * -(p * np.log(p)).sum(), rel_tol=1e-12)
    assert ken_score([-1.0, 0.0]) == 0.0
    assert ken_score([0.5]) == 0.0  # a single mode has zero entropy


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


@pytest.fixture()
def small():
    rng = np.random.default_rng(8)
    return rng.standard_normal((40, 3)).astype(np.float32), rng.standard_normal((30, 3)).astype(np.float32)


@pytest.mark.parametrize("sigma", [0, -1.0, float("nan"), float("inf")])
def test_bad_sigma(small, sigma):
    with pytest.raises(ValueError, match="sigma"):
        finc(*small, sigma=sigma, rff_dim=8)


def test_bad_sigma_type(small):
    with pytest.raises(ValueError, match="sigma"):
        finc(*small, sigma="mean", rff_dim=8)
    with pytest.raises(TypeError, match="sigma"):
        finc(*small, sigma=None, rff_dim=8)


@pytest.mark.parametrize("eta", [-0.1, float("nan")])
def test_bad_eta(small, eta):
    with pytest.raises(ValueError, match="eta"):
        finc(*small, sigma=1.0, eta=eta, rff_dim=8)


@pytest.mark.parametrize("r", [0, -3])
def test_bad_rff_dim(small, r):
    with pytest.raises(ValueError, match="rff_dim"):
        finc(*small, sigma=1.0, rff_dim=r)


def test_bad_shapes(small):
    x, y = small
    with pytest.raises(ValueError, match="dimensions"):
        finc(x, y[:, :2], sigma=1.0, rff_dim=8)
    with pytest.raises(ValueError, match="2-D"):
        finc(x[:, 0], y, sigma=1.0, rff_dim=8)
    with pytest.raises(ValueError, match="empty"):
        finc(x[:0], y, sigma=1.0, rff_dim=8)
    with pytest.raises(ValueError, match="empty"):
        finc(x, y[:0], sigma=1.0, rff_dim=8)
    with pytest.raises(ValueError, match="W must have shape"):
        finc(x, y, sigma=1.0, W=np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match="top_k"):
        finc(x, y, sigma=1.0, rff_dim=8, top_k=0)


@pytest.mark.parametrize("where", ["test", "ref"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_features(small, where, value):
    x, y = (a.copy() for a in small)
    (x if where == "test" else y)[7, 1] = value
    with pytest.raises(ValueError, match=rf"{where} contains NaN.*row 7"):
        finc(x, y, sigma=1.0, rff_dim=8, chunk_size=5)


def test_fewer_modes_than_requested(small):
    x, y = small
    with pytest.warns(RuntimeWarning, match="only"):
        res = finc(x, y, sigma=1.0, rff_dim=3, top_k=50)
    assert 0 < res.k == res.n_positive < 50
    assert "only" in res.message and str(res.n_positive) in res.message
    assert res.eigenvectors.shape == (6, res.k) and len(res.top_indices) == res.k
    assert np.all(res.eigenvalues > res.tolerance)


def test_no_positive_eigenvalue(small):
    x, _ = small
    with pytest.warns(RuntimeWarning, match="no positive eigenvalue"):
        res = finc(x, x.copy(), sigma=1.0, eta=2.0, rff_dim=16, top_k=5)
    assert res.k == 0 and res.n_positive == 0 and "no positive eigenvalue" in res.message
    assert res.eigenvalues.shape == (0,) and res.eigenvectors.shape == (32, 0) and res.top_indices == []
    assert res.novelty == 0.0
    # identical sets with η = 1: Λ = 0 up to round-off, which must not be reported as modes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = finc(x, x.copy(), sigma=1.0, eta=1.0, rff_dim=16, top_k=5)
    assert res.k == 0


def test_mode_label_stats_against_hand_counts():
    from beyondfid.finc import mode_label_stats, top_hit_share

    labels = np.array([0, 0, 1, 2, 2, 2, -1, 1])
    hit = labels >= 1
    top = [np.array([3, 4, 5, 2]), np.array([0, 1, 6])]
    st = mode_label_stats(top, labels, hit=hit)
    assert st[0] == {"majority": 2, "majority_share": 0.75, "hit_share": 1.0}
    assert st[1]["majority"] == 0 and st[1]["majority_share"] == pytest.approx(2 / 3) and st[1]["hit_share"] == 0.0
    assert "hit_share" not in mode_label_stats(top, labels)[0]
    assert top_hit_share(top, hit, 1) == 1.0 and top_hit_share(top, hit, 2) == pytest.approx(4 / 7)
    assert np.isnan(top_hit_share(top, hit, 0))


# ---------------------------------------------------------------------------------------------
# garbage in is rejected or flagged (issue 10, case 11)
# ---------------------------------------------------------------------------------------------
def test_non_integer_rff_dim_and_counts_are_rejected():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 3)), rng.standard_normal((30, 3))
    for kw in ({"rff_dim": 2.5}, {"top_k": 1.5}, {"top_samples": 2.2}, {"chunk_size": 7.5}, {"rff_dim": "64"}):
        with pytest.raises((TypeError, ValueError), match=f"{next(iter(kw))} must be an integer"):
            finc(x, y, sigma=1.0, **kw)
    with pytest.raises((TypeError, ValueError), match="rff_dim must be an integer"):
        draw_frequencies(3, 2.5, 1.0)
    a = finc(x, y, sigma=1.0, rff_dim=16.0, top_k=2)
    b = finc(x, y, sigma=1.0, rff_dim=16, top_k=2)
    assert np.array_equal(a.eigenvalues, b.eigenvalues)


def test_one_sample_per_set_warns():
    rng = np.random.default_rng(0)
    with pytest.warns(RuntimeWarning, match=r"1 test sample.*1 reference sample"):
        finc(rng.standard_normal((1, 3)), rng.standard_normal((1, 3)), sigma=1.0, rff_dim=16)


@pytest.mark.parametrize("sigma", [1e-12, 1e12])
def test_bandwidth_far_outside_the_data_scale_warns(sigma):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((60, 5)), rng.standard_normal((60, 5)) + 1
    with pytest.warns(RuntimeWarning, match=r"sigma=1e[+-]?12 is far outside the pairwise distances"):
        finc(x, y, sigma=sigma, rff_dim=32, top_k=2)


def test_bandwidth_inside_the_data_scale_does_not_warn():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((60, 5)), rng.standard_normal((60, 5)) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for sigma in (0.3, 1.0, median_bandwidth(x, y).sigma, 30.0):
            finc(x, y, sigma=sigma, rff_dim=32, top_k=1)
