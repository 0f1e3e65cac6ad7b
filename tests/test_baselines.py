"""Baselines (KEN exact, Rarity score, FLD) against direct, naive readings of their definitions,
plus the memory and time caps."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from beyondfid.finc.baselines import (
    MemoryLimitExceeded,
    ResourceLimitExceeded,
    TimeLimitExceeded,
    _mog_ll,
    _pairwise_sq_dists,
    estimate_ken_bytes,
    fld,
    ken_exact,
    rarity_score,
)
from beyondfid.finc import ken_score


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)) + np.r_[3.0, 0, 0] * (rng.random((40, 1)) < 0.3)
    y = rng.standard_normal((35, 3))
    return x, y


# ------------------------------------------------------------------------------------------
# KEN
# ------------------------------------------------------------------------------------------


def test_ken_exact_matches_naive_definition(sets):
    x, y = sets
    n, m, sigma, eta = len(x), len(y), 1.5, 0.7
    k = lambda a, b: math.exp(-sum((ai - bi) ** 2 for ai, bi in zip(a, b)) / (2 * sigma**2))  # noqa: E731
    N = n + m
    K = np.zeros((N, N))
    pts = list(x) + list(y)
    for i in range(N):
        for j in range(N):
            v = k(pts[i], pts[j])
            if i < n and j < n:
                K[i, j] = v / n
            elif i < n <= j:
                K[i, j] = math.sqrt(eta) * v / math.sqrt(n * m)
            elif j < n <= i:
                K[i, j] = -math.sqrt(eta) * v / math.sqrt(n * m)
            else:
                K[i, j] = -eta * v / m
    ev = np.linalg.eigvals(K).real
    naive = np.sort(ev[ev > 1e-9])[::-1]
    res = ken_exact(x, y, sigma=sigma, eta=eta, dtype=torch.float64, top_k=3, top_samples=5)
    got = res.eigenvalues[res.eigenvalues > 1e-9]
    np.testing.assert_allclose(got, naive, rtol=1e-8, atol=1e-12)
    assert math.isclose(res.ken, ken_score(naive), rel_tol=1e-6)
    assert len(res.top_indices) == 3 and all(len(t) == 5 and t.max() < n for t in res.top_indices)
    # the novel cluster (shifted rows of x) dominates mode 1
    shifted = np.where(x[:, 0] > 1.5)[0]
    assert np.isin(res.top_indices[0], shifted).mean() >= 0.8


def test_ken_float32_default_close_to_float64(sets):
    x, y = sets
    a = ken_exact(x, y, sigma=1.5, eigenvectors=False)
    b = ken_exact(x, y, sigma=1.5, eigenvectors=False, dtype=torch.float64)
    np.testing.assert_allclose(a.eigenvalues[:5], b.eigenvalues[:5], rtol=1e-4)


# ------------------------------------------------------------------------------------------
# Rarity
# ------------------------------------------------------------------------------------------


def _naive_rarity(real, fake, k):
    n = len(real)
    radii = []
    for i in range(n):
        dists = sorted(float(np.linalg.norm(real[i] - real[j])) for j in range(n) if j != i)
        radii.append(dists[k - 1])
    scores = []
    for g in fake:
        inside = [radii[i] for i in range(n) if np.linalg.norm(g - real[i]) < radii[i]]
        scores.append(min(inside) if inside else float("nan"))
    return np.array(radii), np.array(scores)


@pytest.mark.parametrize("k", [1, 3])
def test_rarity_matches_naive_definition(k):
    rng = np.random.default_rng(1)
    real = rng.standard_normal((50, 4))
    fake = np.vstack([rng.standard_normal((30, 4)) * 1.2, rng.standard_normal((5, 4)) + 12.0])  # 5 far away
    radii, scores = _naive_rarity(real, fake, k)
    for block in (None, 7):
        res = rarity_score(real, fake, k=k, block_size=block, dtype=torch.float64)
        np.testing.assert_allclose(res.radii, radii, rtol=1e-10)
        np.testing.assert_array_equal(np.isnan(res.scores), np.isnan(scores))
        np.testing.assert_allclose(res.scores[~np.isnan(scores)], scores[~np.isnan(scores)], rtol=1e-10)
    assert np.isnan(res.scores[-5:]).all() and res.in_manifold[:30].sum() > 10
    f32 = rarity_score(real, fake, k=k)  # default float32 agrees
    np.testing.assert_allclose(f32.radii, radii, rtol=1e-4)


def test_rarity_bad_input():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="more than k"):
        rarity_score(rng.standard_normal((3, 2)), rng.standard_normal((4, 2)), k=3)
    with pytest.raises(ValueError, match="dimensions"):
        rarity_score(rng.standard_normal((9, 2)), rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        rarity_score(rng.standard_normal((9, 2)), np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="empty"):
        rarity_score(rng.standard_normal((9, 2)), np.zeros((0, 2)))


# ------------------------------------------------------------------------------------------
# FLD
# ------------------------------------------------------------------------------------------


def test_fld_mixture_likelihood_matches_naive_formula():
    rng = np.random.default_rng(3)
    d = 3
    mus = rng.standard_normal((6, d))
    x = rng.standard_normal((4, d))
    log_var = rng.uniform(-1, 1, 6)
    got = _mog_ll(_pairwise_sq_dists(torch.tensor(x), torch.tensor(mus)), torch.tensor(log_var), d).numpy()
    for i in range(4):
        p = 0.0
        for j in range(6):
            var = math.exp(log_var[j])
            p += (2 * math.pi * var) ** (-d / 2) * math.exp(-np.sum((x[i] - mus[j]) ** 2) / (2 * var)) / 6
        assert math.isclose(got[i], math.log(p), rel_tol=1e-10)


def test_fld_fit_raises_train_likelihood_and_flags_copies():
    rng = np.random.default_rng(4)
    d = 8
    train = rng.standard_normal((600, d))
    test = rng.standard_normal((300, d))
    gen = rng.standard_normal((80, d))
    gen[:10] = train[:10] + 1e-3 * rng.standard_normal((10, d))  # 10 memorised copies
    res = fld(train, gen, test, epochs=30)
    assert res.losses[-1] < res.losses[0]
    assert res.log_variances.shape == (80,)
    # memorised samples get far smaller fitted variances than novel ones (FLD's premise)
    assert np.median(res.log_variances[:10]) < np.median(res.log_variances[10:]) - 3
    assert math.isfinite(res.nll_test) and math.isnan(res.fld)
    assert not math.isnan(fld(train, gen, test, epochs=2, baseline_nll=res.nll_test).fld)


def test_fld_fitted_variances_are_a_likelihood_optimum():
    """At the fit, moving any single σ_j (up or down) does not raise the fitted objective: the
    mean train log-likelihood under the MoG plus FLD's origin component (written out naively)."""
    rng = np.random.default_rng(5)
    d = 4
    train = rng.standard_normal((400, d))
    gen = rng.standard_normal((20, d))
    res = fld(train, gen, epochs=80, normalize=False, tol=0)
    mean = train.mean(0)
    o_var = math.exp(res.origin_log_variance)

    sq = ((train[:, None, :] - gen[None, :, :]) ** 2).sum(-1)  # (train, gen)
    sq_o = 0.81 * ((train - mean) ** 2).sum(-1)

    def objective(lv):
        var = np.exp(lv)[None, :]
        p = ((2 * np.pi * var) ** (-d / 2) * np.exp(-sq / (2 * var))).sum(1) / len(gen)
        p = p + (2 * np.pi * o_var) ** (-d / 2) * np.exp(-sq_o / (2 * o_var))
        return float(np.log(p).mean())

    lv = res.log_variances
    base = objective(lv)
    for j in range(len(gen)):
        for step in (-0.2, 0.2):
            trial = lv.copy()
            trial[j] += step
            assert objective(trial) <= base + 1e-6, (j, step)


# ------------------------------------------------------------------------------------------
# caps
# ------------------------------------------------------------------------------------------


def test_memory_cap_raises_before_allocating():
    x = np.zeros((10, 4))
    with pytest.raises(MemoryLimitExceeded) as e:
        ken_exact(np.zeros((100_000, 4)), x, sigma=1.0, memory_limit=2**30)
    assert e.value.table_entry == "–" and e.value.needed > e.value.limit
    assert isinstance(e.value, ResourceLimitExceeded)
    with pytest.raises(MemoryLimitExceeded):
        rarity_score(np.zeros((200_000, 4)), x, memory_limit=2**30)
    with pytest.raises(MemoryLimitExceeded):
        fld(np.zeros((200_000, 4)), np.zeros((50_000, 4)), memory_limit=2**30)
    # the default limit is the machine's available memory: 1 TB of kernel matrix never fits
    with pytest.raises(MemoryLimitExceeded):
        ken_exact(np.zeros((300_000, 2)), np.zeros((300_000, 2)), sigma=1.0)
    assert estimate_ken_bytes(1000, 1000) > 5 * 4 * 2000**2


@pytest.mark.timeout(60)
def test_time_cap_stops_the_run():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3000, 8))
    t0 = time.perf_counter()
    with pytest.raises(TimeLimitExceeded) as e:
        ken_exact(x, x[:2000], sigma=2.0, time_limit=2.0)  # N = 5000: minutes of geev
    assert time.perf_counter() - t0 < 20
    assert e.value.table_entry == "> 2 s"


@pytest.mark.timeout(60)
def test_capped_run_returns_the_same_result():
    rng = np.random.default_rng(7)
    real, fake = rng.standard_normal((60, 3)), rng.standard_normal((20, 3))
    a = rarity_score(real, fake, time_limit=50)
    b = rarity_score(real, fake)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.wall_seconds >= a.seconds > 0
