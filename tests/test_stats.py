"""Statistics: streaming accumulation, weighted statistics, add-one-sample update, .npz I/O."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from beyondfid.stats import (
    SingularCovarianceWarning,
    StreamingStats,
    add_sample,
    compute_stats,
    load_stats,
    save_stats,
    weighted_stats,
)


def _features(n: int, d: int, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mix + rng.uniform(-1, 1, d) + offset


def _assert_stats_close(mu, sigma, mu_ref, sigma_ref, rtol=1e-12):
    scale = np.abs(sigma_ref).max()
    np.testing.assert_allclose(mu, mu_ref, rtol=rtol, atol=rtol * np.abs(mu_ref).max())
    np.testing.assert_allclose(sigma, sigma_ref, rtol=0, atol=rtol * scale)


# ----------------------------------------------------------------------------------------------
# streaming accumulator
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 100, 333, 1000])
def test_chunked_equals_one_go(chunk):
    x = _features(1000, 16, seed=1)
    acc = StreamingStats()
    for start in range(0, len(x), chunk):
        acc.update(x[start : start + chunk])
    one_go = StreamingStats().update(x)
    assert acc.count == one_go.count == 1000
    _assert_stats_close(acc.mean, acc.cov, one_go.mean, one_go.cov)
    _assert_stats_close(acc.mean, acc.cov, x.mean(0), np.cov(x, rowvar=False))


def test_internal_blocks_and_empty_chunks_do_not_matter():
    x = _features(257, 8, seed=2)
    small_blocks = StreamingStats(block_rows=5).update(x[:0]).update(x).update(x[:0])
    _assert_stats_close(small_blocks.mean, small_blocks.cov, x.mean(0), np.cov(x, rowvar=False))


def test_merge_equals_one_go_in_any_order():
    x = _features(900, 12, seed=3)
    parts = [x[:10], x[10:400], x[400:401], x[401:]]
    accs = [StreamingStats().update(p) for p in parts]
    merged = StreamingStats()
    for a in reversed(accs):  # different shifts, different order
        merged.merge(a)
    merged.merge(StreamingStats())  # merging an empty accumulator is a no-op
    assert merged.count == 900
    _assert_stats_close(merged.mean, merged.cov, x.mean(0), np.cov(x, rowvar=False))


def test_large_offset_has_no_cancellation():
    # Features with a common offset 1e4 times their spread: a naive XᵀX − nμμᵀ would lose
    # ~8 of 16 digits; the shifted accumulation keeps the covariance to ~1e-12.
    x = _features(2000, 6, seed=4, offset=1e4)
    chunks = StreamingStats()
    for start in range(0, 2000, 300):
        chunks.update(x[start : start + 300])
    # reference: centre first (two-pass), in float64
    xc = x - x.mean(0)
    _assert_stats_close(chunks.mean, chunks.cov, x.mean(0), xc.T @ xc / 1999, rtol=1e-10)


def test_float32_input_is_accumulated_in_float64():
    x32 = _features(500, 10, seed=5).astype(np.float32)
    acc = StreamingStats().update(x32)
    assert acc.mean.dtype == np.float64 and acc.cov.dtype == np.float64
    x64 = x32.astype(np.float64)
    _assert_stats_close(acc.mean, acc.cov, x64.mean(0), np.cov(x64, rowvar=False))
    t = StreamingStats().update(torch.from_numpy(x32))  # torch tensors are accepted too
    _assert_stats_close(t.mean, t.cov, acc.mean, acc.cov, rtol=0)


def test_covariance_is_exactly_symmetric():
    acc = StreamingStats().update(_features(300, 20, seed=6))
    c = acc.cov
    assert np.array_equal(c, c.T)


def test_accumulator_errors():
    acc = StreamingStats()
    with pytest.raises(ValueError, match="no samples"):
        acc.mean
    acc.update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        acc.cov
    with pytest.raises(ValueError, match="d=4.*d=3"):
        acc.update(np.ones((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        acc.update(np.ones(3))
    bad = np.ones((5, 3))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        StreamingStats().update(bad)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        StreamingStats().update(bad)
    # a bad row in a later block: the error names it and nothing of the chunk is accumulated
    good = StreamingStats(block_rows=4).update(np.ones((3, 3)))
    chunk = np.arange(30.0).reshape(10, 3)
    chunk[9, 2] = np.nan
    with pytest.raises(ValueError, match="chunk contains.*NaN.*row 9, column 2"):
        good.update(chunk)
    assert good.count == 3 and np.array_equal(good.mean, np.ones(3))
    with pytest.raises(ValueError, match="cannot merge"):
        acc.merge(StreamingStats().update(np.ones((2, 5))))
    with pytest.raises(TypeError):
        acc.merge((np.zeros(3), np.eye(3)))


def test_compute_stats_warns_when_singular():
    x = _features(10, 16, seed=7)
    with pytest.warns(SingularCovarianceWarning, match="singular"):
        mu, sigma = compute_stats(x)
    assert np.linalg.matrix_rank(sigma) == 9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_stats(_features(17, 16, seed=7))


# ----------------------------------------------------------------------------------------------
# weighted statistics
# ----------------------------------------------------------------------------------------------
def _explicit_weighted(x, w):
    p = w / w.sum()
    mu = sum(pi * xi for pi, xi in zip(p, x))
    sigma = sum(pi * np.outer(xi - mu, xi - mu) for pi, xi in zip(p, x))
    return mu, sigma, p


def test_weighted_stats_match_explicit_formula():
    rng = np.random.default_rng(8)
    x = _features(60, 5, seed=8)
    w = rng.uniform(0.0, 3.0, 60)
    mu, sigma = weighted_stats(x, w)
    mu_ref, sigma_ref, p = _explicit_weighted(x, w)
    _assert_stats_close(mu, sigma, mu_ref, sigma_ref)
    # same thing as NumPy's weighted covariance without Bessel correction
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False, aweights=w, bias=True), rtol=1e-12)
    # unbiased=True: reliability-weights correction 1 / (1 − Σ p²) == np.cov(aweights=w)
    mu_u, sigma_u = weighted_stats(x, w, unbiased=True)
    np.testing.assert_allclose(sigma_u, sigma_ref / (1 - p @ p), rtol=1e-12)
    np.testing.assert_allclose(sigma_u, np.cov(x, rowvar=False, aweights=w), rtol=1e-12)
    # weights are normalised: scaling them changes nothing
    mu_s, sigma_s = weighted_stats(x, 1e6 * w)
    _assert_stats_close(mu_s, sigma_s, mu, sigma)


def test_weighted_stats_uniform_weights():
    x = _features(40, 4, seed=9)
    mu, sigma = weighted_stats(x, np.ones(40))
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False) * 39 / 40, rtol=1e-12)
    _, sigma_u = weighted_stats(x, np.ones(40), unbiased=True)
    np.testing.assert_allclose(sigma_u, np.cov(x, rowvar=False), rtol=1e-12)


def test_weighted_stats_torch_matches_numpy_and_is_differentiable():
    x = _features(30, 4, seed=10)
    logw = torch.randn(30, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    mu_t, sigma_t = weighted_stats(torch.from_numpy(x), logw.exp())
    mu_n, sigma_n = weighted_stats(x, logw.detach().exp().numpy())
    _assert_stats_close(mu_t.detach().numpy(), sigma_t.detach().numpy(), mu_n, sigma_n)
    assert mu_t.dtype == torch.float64
    xt = torch.from_numpy(x)

    def f(lw):
        m, s = weighted_stats(xt, lw.exp())
        return m.sum() + (s * s).sum()

    assert torch.autograd.gradcheck(f, (logw,))


def test_weighted_stats_errors():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="non-negative"):
        weighted_stats(x, np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="sum to zero"):
        weighted_stats(x, np.zeros(4))
    with pytest.raises(ValueError, match="one weight per row"):
        weighted_stats(x, np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        weighted_stats(np.full((4, 2), np.nan), np.ones(4))
    with pytest.raises(ValueError, match="one sample"):
        weighted_stats(x, np.array([0.0, 1.0, 0.0, 0.0]), unbiased=True)
    with pytest.raises(ValueError, match="non-negative"):
        weighted_stats(torch.ones(4, 2), torch.tensor([1.0, -1.0, 1.0, 1.0]))


# ----------------------------------------------------------------------------------------------
# add-one-sample update
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_total", [3, 4, 50, 1000])
def test_add_sample_equals_recompute(n_total):
    x = _features(n_total, 6, seed=11)
    mu, sigma = x[:-1].mean(0), np.cov(x[:-1], rowvar=False)
    mu_new, sigma_new = add_sample(mu, sigma, x[-1], n_total)
    np.testing.assert_allclose(mu_new, x.mean(0), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sigma_new, np.cov(x, rowvar=False), rtol=0, atol=1e-12 * np.abs(sigma_new).max())


def test_add_sample_chained_and_torch():
    x = _features(200, 5, seed=12)
    mu, sigma = x[:100].mean(0), np.cov(x[:100], rowvar=False)
    for i in range(100, 200):
        mu, sigma = add_sample(mu, sigma, x[i], i + 1)
    _assert_stats_close(mu, sigma, x.mean(0), np.cov(x, rowvar=False), rtol=1e-11)
    # torch: same values, differentiable in f
    f = torch.from_numpy(x[-1]).clone().requires_grad_(True)
    mu0, sig0 = x[:-1].mean(0), np.cov(x[:-1], rowvar=False)
    mu_t, sigma_t = add_sample(torch.from_numpy(mu0), torch.from_numpy(sig0), f, 200)
    mu_n, sigma_n = add_sample(mu0, sig0, x[-1], 200)
    _assert_stats_close(mu_t.detach().numpy(), sigma_t.detach().numpy(), mu_n, sigma_n, rtol=1e-14)
    sigma_t.sum().backward()
    # d/df Σ_ij (f−μ)_i (f−μ)_j / N = 2 Σ_j (f−μ)_j / N
    np.testing.assert_allclose(f.grad.numpy(), np.full(5, 2 * (x[-1] - mu0).sum() / 200), rtol=1e-12)


def test_add_sample_errors():
    with pytest.raises(ValueError, match=">= 3"):
        add_sample(np.zeros(2), np.eye(2), np.ones(2), 2)
    with pytest.raises(ValueError, match="mu \\(d,\\)"):
        add_sample(np.zeros(2), np.eye(3), np.ones(2), 10)


# ----------------------------------------------------------------------------------------------
# .npz I/O
# ----------------------------------------------------------------------------------------------
def test_save_load_roundtrip(tmp_path):
    mu, sigma = compute_stats(_features(50, 7, seed=13))
    path = save_stats(tmp_path / "sub" / "stats.npz", mu.astype(np.float32), sigma)
    assert sorted(p.name for p in path.parent.iterdir()) == ["stats.npz"]  # no temp files left
    with np.load(path, allow_pickle=False) as z:  # plain npz, keys mu and sigma, float64
        assert sorted(z.files) == ["mu", "sigma"]
        assert z["mu"].dtype == np.float64 and z["sigma"].dtype == np.float64
    mu2, sigma2 = load_stats(path)
    np.testing.assert_array_equal(mu2, mu.astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(sigma2, sigma)


def test_save_load_errors(tmp_path):
    with pytest.raises(ValueError, match="shape \\(3, 3\\)"):
        save_stats(tmp_path / "a.npz", np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        save_stats(tmp_path / "a.npz", np.array([0.0, np.nan]), np.eye(2))
    assert not (tmp_path / "a.npz").exists()
    np.savez(tmp_path / "b.npz", mu=np.zeros(2))
    with pytest.raises(ValueError, match="no sigma"):
        load_stats(tmp_path / "b.npz")
    with pytest.raises(FileNotFoundError):
        load_stats(tmp_path / "missing.npz")
