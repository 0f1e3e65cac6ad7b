"""The resampling attack (paper 2, Sec. 3.2, Eq. 3, Algorithm 1): gradient, optimisers, planted optimum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from beyondfid.fidclasses.resampling import (METHODS, ResamplingError, WeightedFrechet, effective_sample_size,
                                             optimize_weights, sample_with_weights)
from beyondfid.metrics import fid_from_features, frechet_distance, frechet_distance_torch
from beyondfid.stats import compute_stats, weighted_stats

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(d=6, n_real=60, n_cand=45, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    real = rng.normal(size=(n_real, d)) @ a + 0.2
    cand = rng.normal(size=(n_cand, d)) @ (1.3 * a) + 0.5
    return real, cand


def test_value_matches_the_core_fid_of_the_weighted_statistics():
    real, cand = _data()
    w = np.random.default_rng(1).normal(size=len(cand))
    p = np.exp(w) / np.exp(w).sum()
    obj = WeightedFrechet(real, cand, dtype=torch.float64)
    mu, sigma = weighted_stats(cand, p)
    mr, sr = compute_stats(real)
    assert obj.value(torch.tensor(p)) == pytest.approx(frechet_distance(mr, sr, mu, sigma), rel=1e-10)


def test_gradient_equals_autograd_through_softmax():
    real, cand = _data()
    obj = WeightedFrechet(real, cand, dtype=torch.float64, chunk_size=7)
    w = torch.tensor(np.random.default_rng(2).normal(size=len(cand)) * 0.7, requires_grad=True)
    p = torch.softmax(w, 0)
    mu, sigma = weighted_stats(torch.as_tensor(cand), p)
    rt = torch.as_tensor(real)
    loss = frechet_distance_torch(rt.mean(0), torch.cov(rt.T), mu, sigma)
    loss.backward()
    val, g = obj.value_and_grad(p.detach())
    assert val == pytest.approx(float(loss.detach()), rel=1e-10)
    np.testing.assert_allclose((p.detach() * g).numpy(), w.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_gradient_equals_finite_differences():
    real, cand = _data(d=5, n_real=40, n_cand=30, seed=3)
    obj = WeightedFrechet(real, cand, dtype=torch.float64)
    w0 = np.random.default_rng(4).normal(size=len(cand)) * 0.5

    def f(w):
        return obj.value(torch.softmax(torch.tensor(w), 0))

    _, g = obj.value_and_grad(torch.softmax(torch.tensor(w0), 0))
    grad = (torch.softmax(torch.tensor(w0), 0) * g).numpy()
    h = 1e-5
    for i in (0, 7, 29):
        e = np.zeros_like(w0)
        e[i] = h
        fd = (f(w0 + e) - f(w0 - e)) / (2 * h)
        assert fd == pytest.approx(grad[i], rel=1e-5, abs=1e-9)


def test_uniform_weights_reproduce_the_unweighted_fid():
    real, cand = _data(n_cand=200)
    n = len(cand)
    obj = WeightedFrechet(real, cand, dtype=torch.float64)
    uniform = obj.value(torch.full((n,), 1.0 / n, dtype=torch.float64))
    mr, sr = compute_stats(real)
    mc, sc = compute_stats(cand)
    # Eq. 3's covariance is the biased one: uniform weights give (n-1)/n times the sample covariance
    assert uniform == pytest.approx(frechet_distance(mr, sr, mc, sc * (n - 1) / n), rel=1e-10)
    assert uniform == pytest.approx(fid_from_features(real, cand), rel=0.02)


def test_chunk_size_does_not_change_value_or_gradient():
    real, cand = _data(n_cand=101)
    p = torch.softmax(torch.tensor(np.random.default_rng(5).normal(size=101)), 0)
    ref_v, ref_g = WeightedFrechet(real, cand, dtype=torch.float64, chunk_size=1000).value_and_grad(p)
    for chunk in (1, 3, 17, 100):
        v, g = WeightedFrechet(real, cand, dtype=torch.float64, chunk_size=chunk).value_and_grad(p)
        assert v == pytest.approx(ref_v, rel=1e-12)
        np.testing.assert_allclose(g.numpy(), ref_g.numpy(), rtol=1e-9, atol=1e-12)


def test_float32_products_agree_with_float64():
    real, cand = _data(n_cand=300)
    p = torch.full((300,), 1 / 300, dtype=torch.float64)
    v64, g64 = WeightedFrechet(real, cand, dtype=torch.float64).value_and_grad(p)
    v32, g32 = WeightedFrechet(real.astype(np.float32), cand.astype(np.float32)).value_and_grad(p)
    assert v32 == pytest.approx(v64, rel=1e-4)
    np.testing.assert_allclose(g32.numpy(), g64.numpy(), rtol=1e-3, atol=1e-4 * float(g64.abs().max()))


def test_planted_optimum_mass_goes_to_the_real_like_candidates():
    rng = np.random.default_rng(6)
    d = 4
    real = rng.normal(size=(500, d))
    good = rng.normal(size=(100, d))  # real-like
    bad = rng.normal(size=(100, d)) * 0.4 + 3.0  # off-distribution
    cand = np.concatenate([good, bad])
    res = optimize_weights(real, cand, method="mirror", max_iter=200, dtype="float64", tol=0)
    assert res.probabilities[:100].sum() > 0.97
    assert res.fid < 0.2 * res.history[0]
    assert res.fid <= fid_from_features(real, good) + 0.05  # at least as good as the real-like half


@pytest.mark.parametrize("method", METHODS)
def test_every_method_lowers_fid_and_returns_probabilities(method):
    real, cand = _data(n_cand=80, seed=7)
    res = optimize_weights(real, cand, method=method, max_iter=30, tol=0, dtype="float64",
                           lr=1.0 if method == "gd" else None, keep_weights_at=(0, 10))
    p = res.probabilities
    assert p.shape == (80,) and (p >= 0).all() and p.sum() == pytest.approx(1.0)
    assert res.fid < res.history[0]
    assert len(res.history) == res.iterations + 1 == len(res.evaluations) == len(res.seconds)
    assert set(res.snapshots) == {0, 10}
    if method in ("mirror", "lbfgs"):  # Armijo line search: monotone
        assert np.all(np.diff(res.history) <= 1e-12)


def test_convergence_stop_and_bad_inputs():
    real, cand = _data()
    res = optimize_weights(real, cand, method="mirror", max_iter=500, tol=1e-3, patience=5, dtype="float64")
    assert res.converged and res.iterations < 500
    with pytest.raises(ResamplingError, match="method"):
        optimize_weights(real, cand, method="sgd")
    with pytest.raises(ResamplingError, match="dimension mismatch"):
        optimize_weights(real[:, :3], cand)
    bad = cand.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ResamplingError, match="NaN"):
        optimize_weights(real, bad)


def test_sampling_with_weights():
    p = np.array([0.0, 0.5, 0.5, 0.0])
    idx = sample_with_weights(p, 1000, seed=0)
    assert set(np.unique(idx)) <= {1, 2} and np.array_equal(idx, sample_with_weights(p, 1000, seed=0))
    assert effective_sample_size(np.ones(10)) == pytest.approx(10.0)
    with pytest.raises(ResamplingError):
        sample_with_weights(np.array([-1.0, 2.0]), 3, 0)
