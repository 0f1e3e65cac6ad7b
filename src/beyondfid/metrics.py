"""Distances between feature distributions: Fréchet distance (FID/FD), its gradients, KID, P/R.

Fréchet distance
----------------
``FD = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2·tr((Σ1Σ2)^½)``, computed in float64.

``tr((Σ1Σ2)^½)`` is the sum of square roots of the eigenvalues of ``Σ1Σ2``. That product is not
symmetric, so instead of ``scipy.linalg.sqrtm`` (slow, complex-valued round-off, API changes
across SciPy releases) or ``eigvals`` on the non-symmetric product, we use the *symmetric
route*: for any factor ``F`` with ``F Fᵀ = Σ1``, ``Σ1Σ2 = F (Fᵀ Σ2 F) F⁻¹`` has the same
non-zero eigenvalues as the symmetric PSD matrix ``M = Fᵀ Σ2 F``, so

    tr((Σ1Σ2)^½) = Σ_i sqrt(λ_i(M)),   λ from ``eigvalsh`` (symmetric solver, real output).

Choice of ``F`` (``_trace_sqrt_product``):

* both covariances numerically positive definite (the normal case, n ≫ d): the Cholesky factor
  ``F = L`` of Σ1. It is backward stable like ``eigh`` but ~8× cheaper, and the products use
  triangular BLAS, which is what makes FD at d = 2048 several times faster than sqrtm;
* otherwise the symmetric square root ``√Σ = V diag(√w) Vᵀ`` of a *singular* covariance from
  one ``eigh``, used in the equivalent form ``F = V₊ diag(√w₊)`` restricted to the numerically
  non-zero eigenvalues (``w > 4·√d·eps·w_max``; below that an eigenvalue is rounding noise). This
  gives the same non-zero eigenvalues of ``M`` (orthogonal similarity) with one fewer product,
  and an ``r × r`` matrix ``M`` without structural zero eigenvalues: zeros would come out of
  ``eigvalsh`` as ±eps·‖M‖ and each add ~√(eps·‖M‖) to the trace, which is exactly the error
  of the sqrtm/eigvals oracles for n ≤ d. FD is symmetric in its arguments, so either
  covariance may be the factored one. ``method="eigh"`` forces ``√Σ1`` via eigh.

A covariance must be positive semi-definite. Covariances computed in float32 are slightly
indefinite from round-off (measured: smallest eigenvalue down to −1.3e-5 × the largest for an
uncentred float32 sum at d = 1024, n = 300), so ``λ_min(Σ) ≥ −10⁻³·‖Σ‖_F`` is accepted
(:data:`PSD_RTOL`) and a matrix below that, e.g. ``[[1, 2], [2, 1]]`` (eigenvalues 3 and −1),
is rejected with its smallest eigenvalue. The check costs nothing when Cholesky succeeds (a
positive definite Σ1 and, by Sylvester's law of inertia, Σ2 when ``L1ᵀ Σ2 L1`` is positive
definite); otherwise it reuses the eigendecomposition the computation needs anyway, or one
shifted Cholesky. Negative eigenvalues of the PSD matrix ``M`` are rounding noise and are
clamped to 0 before the square root. Rounding can also make the final FD slightly negative when the two distributions
are (nearly) identical: it is clipped at 0.

Gradients
---------
``∂FD/∂Σg = I − T`` with ``T = Σr^½ (Σr^½ Σg Σr^½)^{-½} Σr^½`` (:func:`frechet_grad`), and the
per-feature gradient through the add-one-sample update (:func:`frechet_grad_feature`).
:func:`frechet_distance_torch` is differentiable with custom backward passes that stay finite
for repeated eigenvalues (see its docstring).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from .stats import (
    SingularCovarianceWarning,  # noqa: F401  (re-exported for callers filtering warnings)
    StreamingStats,
    _check_finite,
    _to_numpy,
    add_sample,
    as_count,
    as_features,
    warn_if_singular,
)

__all__ = [
    "frechet_distance",
    "fid_from_features",
    "fd",
    "trace_sqrt_product",
    "sqrtm_psd",
    "frechet_grad",
    "frechet_grad_feature",
    "frechet_distance_torch",
    "sqrtm_psd_torch",
    "kid",
    "mmd2_poly",
    "precision_recall",
]

_EPS = np.finfo(np.float64).eps

#: A covariance is accepted as PSD if ``λ_min ≥ −PSD_RTOL · ‖Σ‖_F`` (float32 round-off; see the module docs).
PSD_RTOL = 1e-3


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
_SYM_TILE = 128  # tile side of _symmetrize (measured: 64-256 alike, 512 slower, at d = 2048)


def _as_mu(mu: Any, name: str) -> np.ndarray:
    a = np.asarray(_to_numpy(mu))
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise ValueError(f"{name} must be a real numeric vector, got dtype {a.dtype}")
    if a.ndim != 1 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a 1-D mean vector of shape (d,) with d >= 1, got shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    _check_finite(a, name)
    return a


def _symmetrize(a: np.ndarray, tile: int = _SYM_TILE) -> tuple[np.ndarray, float]:
    """``(½(A + Aᵀ), max |A − Aᵀ|)`` for a square float64 ``A``, tile by tile.

    A whole-matrix ``A + A.T`` reads one operand with a stride of d·8 bytes, which misses the
    cache on every element at d = 2048; tile pairs ``(A_ij, A_jiᵀ)`` of ``tile`` × ``tile`` fit in
    the cache. An exactly symmetric ``A`` (what SYRK-built covariances are) is returned as it is,
    without a copy: nothing downstream writes to it. ``benchmarks/fid_speed.py`` times what these
    checks add to the bare linear algebra. The result is exactly symmetric.
    """
    d = a.shape[0]
    blocks = [(i, min(i + tile, d), j, min(j + tile, d)) for i in range(0, d, tile) for j in range(i, d, tile)]
    asym = 0.0
    for i, i1, j, j1 in blocks:
        diff = a[i:i1, j:j1] - a[j:j1, i:i1].T
        asym = max(asym, float(diff.max()), -float(diff.min()))
    if asym == 0.0:
        return a, 0.0
    sym = np.empty_like(a)
    for i, i1, j, j1 in blocks:
        block = a[i:i1, j:j1] + a[j:j1, i:i1].T  # commutative: a diagonal tile comes out exactly symmetric
        block *= 0.5
        sym[i:i1, j:j1] = block
        sym[j:j1, i:i1] = block.T
    return sym, asym


def _as_sigma(sigma: Any, d: int, name: str) -> np.ndarray:
    a = np.asarray(_to_numpy(sigma))
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise ValueError(f"{name} must be a real numeric matrix, got dtype {a.dtype}")
    if a.shape != (d, d):
        raise ValueError(f"{name} must be a ({d}, {d}) covariance matrix to match the mean, got shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    _check_finite(a, name)
    sym, asym = _symmetrize(a)
    scale = max(float(a.max()), -float(a.min()))  # = max |Σ|, without a temporary
    # Covariances computed in float32 (e.g. by other libraries) are symmetric to ~1e-7 relative.
    if asym > 1e-5 * scale:
        raise ValueError(
            f"{name} is not symmetric (max |Σ − Σᵀ| = {asym:.3g}, max |Σ| = {scale:.3g}); is it a covariance?"
        )
    if float(np.diagonal(a).min()) < -1e-10 * max(scale, 1e-300):
        raise ValueError(f"{name} has negative diagonal entries (variances); it is not a covariance matrix")
    return sym


def _check_pair(x: np.ndarray, y: np.ndarray, nx: str = "x", ny: str = "y") -> None:
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dimension mismatch: {nx} has d={x.shape[1]} features but {ny} has d={y.shape[1]}")


# ---------------------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------------------
def _eig_rtol(d: int) -> float:
    """Relative threshold below which an eigenvalue of a d × d PSD matrix is rounding noise.

    Exact zero eigenvalues come out of ``eigh``/``eigvalsh`` as ±(a few)·eps·λ_max (measured on
    covariance congruences: up to ~11·eps at d = 2048, ~6·eps at d = 256); ``4·√d·eps`` (181·eps
    and 64·eps there) leaves a margin of ≥ 10× while keeping genuine small eigenvalues.
    """
    return 4.0 * math.sqrt(max(d, 1)) * _EPS


def _psd_tolerance(sigma: np.ndarray) -> float:
    return PSD_RTOL * float(np.linalg.norm(sigma))


def _reject_indefinite(w_min: float, w_max: float, tol: float, name: str) -> None:
    if w_min < -tol:
        raise ValueError(
            f"{name} is not positive semi-definite: its smallest eigenvalue {w_min:.4g} is below "
            f"-{tol:.3g} (= -{PSD_RTOL:g} x its Frobenius norm, the allowance for float32 round-off; largest "
            f"eigenvalue {w_max:.4g}); a covariance matrix has no negative eigenvalues"
        )


def _check_psd(sigma: np.ndarray, name: str) -> None:
    """Raise if ``sigma`` is clearly not PSD: one Cholesky of ``Σ + tol·I`` (eigvalsh only to report)."""
    tol = _psd_tolerance(sigma)
    try:
        np.linalg.cholesky(sigma + tol * np.eye(sigma.shape[0]))
    except np.linalg.LinAlgError:
        w = np.linalg.eigvalsh(sigma)
        _reject_indefinite(float(w[0]), float(w[-1]), tol, name)


def _psd_factor_eigh(sigma: np.ndarray, name: str = "sigma") -> np.ndarray:
    """``F = V_+ diag(√w_+)`` with ``F Fᵀ = Σ`` over the numerically non-zero eigenvalues (d × r).

    Raises if Σ is clearly not PSD (see :data:`PSD_RTOL`).
    """
    w, v = np.linalg.eigh(sigma)
    if w.size:
        _reject_indefinite(float(w[0]), float(w[-1]), _psd_tolerance(sigma), name)
    wmax = float(w[-1]) if w.size else 0.0
    if wmax <= 0.0:
        return np.zeros((sigma.shape[0], 0))
    keep = w > _eig_rtol(sigma.shape[0]) * wmax  # negative and noise-level eigenvalues are dropped
    return v[:, keep] * np.sqrt(w[keep])


def sqrtm_psd(sigma: Any) -> np.ndarray:
    """Symmetric PSD square root ``V diag(√max(w, 0)) Vᵀ`` via one ``eigh`` (float64)."""
    s = np.asarray(_to_numpy(sigma), dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"sqrtm_psd needs a square matrix, got shape {s.shape}")
    _check_finite(s, "sigma")
    w, v = np.linalg.eigh(0.5 * (s + s.T))
    # negative eigenvalues of a PSD matrix are rounding noise: clamp them to 0
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _congruence_eigvals(factor: np.ndarray, sigma: np.ndarray, lower_triangular: bool) -> np.ndarray:
    """Eigenvalues of the symmetric PSD matrix ``M = Fᵀ Σ F`` (``Σ`` exactly symmetric)."""
    if lower_triangular:
        from scipy.linalg.blas import dtrmm  # triangular products: half the flops of gemm

        # BLAS wants Fortran order. For C-ordered L and symmetric Σ, ``L.T`` is U = Lᵀ and
        # ``Σ.T`` is Σ, both as Fortran-ordered views, so nothing is copied.
        upper = factor.T
        sf = dtrmm(1.0, upper, sigma.T, side=1, lower=0, trans_a=1)  # Σ Uᵀ = Σ L
        m = dtrmm(1.0, upper, sf, side=0, lower=0, trans_a=0, overwrite_b=1)  # U Σ L = Lᵀ Σ L
    else:
        m = factor.T @ (sigma @ factor)
    # eigvalsh reads one triangle only, so M's rounding-level asymmetry needs no averaging.
    return np.linalg.eigvalsh(m)


def _is_noise_floor(ev: np.ndarray) -> bool:
    """True when the PSD matrix with eigenvalues ``ev`` is numerically singular."""
    return bool(ev.size) and float(ev.min()) <= _eig_rtol(ev.size) * float(ev.max())


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, method: str = "auto") -> float:
    """``tr((Σ1Σ2)^½) = Σ √λ(Fᵀ Σ_other F)`` for a factor ``F Fᵀ`` of one of the covariances.

    ``auto`` picks the factor so that ``M = Fᵀ Σ_other F`` has no *structural* zero eigenvalues
    (those would come out as ±eps·‖M‖ and add √(eps·‖M‖) each to the trace):

    * Σ1 and Σ2 positive definite: Cholesky ``L1`` of Σ1 (fast path; M is positive definite);
    * exactly one singular: the eigh factor of the singular one restricted to its range
      (``d × r``), so M is ``r × r`` and positive definite;
    * both singular (n ≤ d, dead units): the eigh factor of the one of lower rank.
    """
    if method not in ("auto", "cholesky", "eigh"):
        raise ValueError(f"method must be 'auto', 'cholesky' or 'eigh', got {method!r}")
    if sigma1.shape[0] == 0:
        return 0.0
    if method == "eigh":
        f1 = _psd_factor_eigh(sigma1, "sigma1")
        _check_psd(sigma2, "sigma2")
        ev = _congruence_eigvals(f1, sigma2, lower_triangular=False)
    elif method == "cholesky":
        low1 = np.linalg.cholesky(sigma1)
        ev = _congruence_eigvals(low1, sigma2, lower_triangular=True)
        if _is_noise_floor(ev):  # M positive definite proves Σ2 PD (Sylvester); else check Σ2 directly
            _check_psd(sigma2, "sigma2")
    else:
        try:
            low1 = np.linalg.cholesky(sigma1)
        except np.linalg.LinAlgError:
            low1 = None  # Σ1 numerically singular (or indefinite)
        if low1 is not None:
            ev = _congruence_eigvals(low1, sigma2, lower_triangular=True)
            if _is_noise_floor(ev):  # Σ2 is singular (or indefinite): factor it instead
                ev = _congruence_eigvals(_psd_factor_eigh(sigma2, "sigma2"), sigma1, lower_triangular=False)
        else:
            f1 = _psd_factor_eigh(sigma1, "sigma1")
            try:
                np.linalg.cholesky(sigma2)
                f, other = f1, sigma2
            except np.linalg.LinAlgError:  # both singular: factor the one of lower rank
                f2 = _psd_factor_eigh(sigma2, "sigma2")
                f, other = (f1, sigma2) if f1.shape[1] <= f2.shape[1] else (f2, sigma1)
            ev = _congruence_eigvals(f, other, lower_triangular=False)
    # M is PSD: negative eigenvalues are rounding noise around 0; clamp them to 0 before the sqrt.
    return float(np.sqrt(np.clip(ev, 0.0, None)).sum())


def trace_sqrt_product(sigma1: Any, sigma2: Any, *, method: str = "auto") -> float:
    """``tr((Σ1Σ2)^½)`` for two covariance matrices, by the symmetric route (see module docs).

    ``method``: ``"auto"`` (Cholesky when both are positive definite, else the eigh factor of a
    singular one, see ``_trace_sqrt_product``), ``"eigh"`` (always ``√Σ1`` via eigh, restricted
    to its range) or ``"cholesky"`` (Cholesky of Σ1; fails if Σ1 is singular).
    """
    s1 = np.asarray(_to_numpy(sigma1))
    if s1.ndim != 2:
        raise ValueError(f"sigma1 must be a (d, d) matrix, got shape {s1.shape}")
    d = s1.shape[0]
    return _trace_sqrt_product(_as_sigma(s1, d, "sigma1"), _as_sigma(sigma2, d, "sigma2"), method)


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, *, method: str = "auto") -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (float64, ≥ 0).

    Accepts NumPy arrays or torch tensors; raises ``ValueError`` for NaN/inf, mismatched
    shapes, non-symmetric covariances and covariances that are clearly not positive
    semi-definite (smallest eigenvalue below ``−PSD_RTOL·‖Σ‖_F``). Singular covariances are
    fine (finite, real result).
    """
    m1 = _as_mu(mu1, "mu1")
    m2 = _as_mu(mu2, "mu2")
    if m1.shape != m2.shape:
        raise ValueError(f"dimension mismatch: mu1 has d={m1.shape[0]} but mu2 has d={m2.shape[0]}")
    d = m1.shape[0]
    s1 = _as_sigma(sigma1, d, "sigma1")
    s2 = _as_sigma(sigma2, d, "sigma2")
    diff = m1 - m2
    tr_covmean = _trace_sqrt_product(s1, s2, method)
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    # FD ≥ 0 mathematically; a tiny negative value is cancellation round-off (nearly identical
    # distributions), so it is clipped at 0.
    return max(value, 0.0)


def fid_from_features(x: Any, y: Any) -> float:
    """Fréchet distance between the Gaussians fitted to feature sets ``x`` (n, d) and ``y`` (m, d).

    Statistics are accumulated in float64 (:class:`beyondfid.stats.StreamingStats`). Warns
    (:class:`~beyondfid.stats.SingularCovarianceWarning`) when a set has ``n ≤ d`` samples.
    """
    xa = as_features(x, "x", min_rows=2, check_finite=False)  # finiteness checked per block
    ya = as_features(y, "y", min_rows=2, check_finite=False)
    _check_pair(xa, ya)
    warn_if_singular(xa.shape[0], xa.shape[1], "x")
    warn_if_singular(ya.shape[0], ya.shape[1], "y")
    sx = StreamingStats(xa.shape[1]).update(xa, "x")
    sy = StreamingStats(ya.shape[1]).update(ya, "y")
    return frechet_distance(sx.mean, sx.cov, sy.mean, sy.cov)


#: ``fd(x, y)``: the same computation for any feature space (FID is FD on Inception features).
fd = fid_from_features


def __getattr__(name: str) -> Callable[[Any, Any], float]:
    """``beyondfid.metrics.fd_<extractor>(x, y)`` for every registered extractor, e.g. ``fd_pixels``.

    These are :func:`fd` under the feature space's name (for tables such as FID_effnet, FD_ssl);
    ``x`` and ``y`` must be features produced by that extractor.
    """
    if name.startswith("fd_") and len(name) > 3:
        from .extractors import available

        space = name[3:]
        if space in available():

            def _fd(x: Any, y: Any) -> float:
                return fid_from_features(x, y)

            _fd.__name__ = name
            _fd.__qualname__ = name
            _fd.__doc__ = f"Fréchet distance between two sets of {space!r} features (see :func:`fd`)."
            return _fd
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}: no extractor named {space!r} is registered"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# closed-form gradients
# ---------------------------------------------------------------------------------------------
def _inv_sqrt_psd(m: np.ndarray) -> np.ndarray:
    """``M^{-½}`` on the numerically non-zero eigenvalues (pseudo-inverse square root)."""
    w, v = np.linalg.eigh(0.5 * (m + m.T))
    wmax = float(w[-1]) if w.size else 0.0
    keep = w > _eig_rtol(m.shape[0]) * wmax if wmax > 0 else np.zeros_like(w, dtype=bool)
    h = np.zeros_like(w)
    h[keep] = 1.0 / np.sqrt(w[keep])
    return (v * h) @ v.T


def _root_r(sigma_r: Any, sqrt_sigma_r: Any, d: int) -> np.ndarray:
    if sqrt_sigma_r is None:
        return sqrtm_psd(_as_sigma(sigma_r, d, "sigma_r"))
    return _as_sigma(sqrt_sigma_r, d, "sqrt_sigma_r")


def _grad_sigma(sigma_g: np.ndarray, root_r: np.ndarray) -> np.ndarray:
    t = root_r @ _inv_sqrt_psd(root_r @ sigma_g @ root_r) @ root_r
    t = 0.5 * (t + t.T)
    return np.eye(sigma_g.shape[0]) - t


def frechet_grad(
    mu_g: Any, sigma_g: Any, mu_r: Any, sigma_r: Any, *, sqrt_sigma_r: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form gradient of ``FD(μg, Σg; μr, Σr)`` w.r.t. ``μg`` and ``Σg``.

    ``∂FD/∂μg = 2(μg − μr)`` and ``∂FD/∂Σg = I − T`` with
    ``T = Σr^½ (Σr^½ Σg Σr^½)^{-½} Σr^½`` (symmetric; the gradient for a perturbation ``E`` of
    ``Σg`` is ``tr((I − T) E)``). When ``Σr^½ Σg Σr^½`` is singular the derivative of the square
    root does not exist on its null space; the pseudo-inverse square root is used there
    (eigenvalues below ``4·√d·eps·λ_max`` count as zero), matching :func:`frechet_distance_torch`.
    ``sqrt_sigma_r`` may pass a precomputed :func:`sqrtm_psd` of ``Σr``.
    """
    m_g, m_r = _as_mu(mu_g, "mu_g"), _as_mu(mu_r, "mu_r")
    if m_g.shape != m_r.shape:
        raise ValueError(f"dimension mismatch: mu_g has d={m_g.shape[0]} but mu_r has d={m_r.shape[0]}")
    d = m_g.shape[0]
    s_g = _as_sigma(sigma_g, d, "sigma_g")
    root_r = _root_r(sigma_r, sqrt_sigma_r, d)
    return 2.0 * (m_g - m_r), _grad_sigma(s_g, root_r)


def frechet_grad_feature(
    f: Any, mu_g: Any, sigma_g: Any, N: int, mu_r: Any, sigma_r: Any, *, sqrt_sigma_r: Any = None
) -> np.ndarray:
    """Gradient of FD w.r.t. the feature ``f`` of one image added to the generated statistics.

    ``(mu_g, sigma_g)`` describe ``N − 1`` generated samples; ``f`` is the ``N``-th
    (Kynkäänniemi et al. 2023, Sec. 2). With ``(μ', Σ') = add_sample(μg, Σg, f, N)``::

        ∂FD/∂f = 2/N · (μ' − μr) + 2/N · (I − T(Σ')) (f − μg)

    where ``I − T(Σ')`` is :func:`frechet_grad` evaluated at the updated covariance.
    """
    m_g, m_r = _as_mu(mu_g, "mu_g"), _as_mu(mu_r, "mu_r")
    fv = _as_mu(f, "f")
    if not (m_g.shape == m_r.shape == fv.shape):
        raise ValueError(f"dimension mismatch: f {fv.shape}, mu_g {m_g.shape}, mu_r {m_r.shape}")
    d = m_g.shape[0]
    s_g = _as_sigma(sigma_g, d, "sigma_g")
    root_r = _root_r(sigma_r, sqrt_sigma_r, d)
    mu_new, sigma_new = add_sample(m_g, s_g, fv, N)
    g_sigma = _grad_sigma(sigma_new, root_r)
    return 2.0 / N * (mu_new - m_r) + 2.0 / N * (g_sigma @ (fv - m_g))


# ---------------------------------------------------------------------------------------------
# torch, differentiable
# ---------------------------------------------------------------------------------------------
def _torch() -> Any:
    import torch

    return torch


def _clean_psd_eigvals_torch(w: Any) -> Any:
    """Eigenvalues of a PSD matrix with the rounding noise around 0 removed.

    Negative eigenvalues are clamped to 0, and those at or below ``4·√d·eps·λ_max`` (where exact
    zeros land, ±eps·‖M‖) are set to 0: otherwise each structural zero — present whenever a
    covariance is singular, since the torch route keeps full ``d × d`` matrices — would add
    ``√(eps·‖M‖)`` to ``tr(M^½)``.
    """
    if w.numel() == 0:
        return w
    w = w.clamp_min(0.0)
    return w.masked_fill(w <= _eig_rtol(w.shape[0]) * w.max(), 0.0)


class _FnCache:
    """Builds the autograd Functions lazily so importing this module does not import torch."""

    sqrtm = None
    trace_sqrt = None

    @classmethod
    def get(cls) -> tuple[Any, Any]:
        if cls.sqrtm is None:
            torch = _torch()

            class SqrtmPSD(torch.autograd.Function):
                """Symmetric PSD square root with a Daleckii–Krein backward.

                Forward: ``S = V diag(s) Vᵀ``, ``s = √max(w, 0)``. Backward: ``dS`` solves
                ``S dS + dS S = dA``, so ``Ā = V ((Vᵀ S̄ V) ∘ K) Vᵀ`` with
                ``K_ij = 1/(s_i + s_j)``. Unlike eigh's generic backward (terms
                ``1/(w_i − w_j)``) this is finite for repeated eigenvalues; only pairs with
                ``s_i + s_j`` at rounding level (both eigenvalues zero, where √ has no
                derivative) get ``K_ij = 0``.
                """

                @staticmethod
                def forward(ctx: Any, a: Any) -> Any:
                    w, v = torch.linalg.eigh(a)
                    s = _clean_psd_eigvals_torch(w).sqrt()
                    ctx.save_for_backward(v, s)
                    return (v * s) @ v.T

                @staticmethod
                def backward(ctx: Any, g: Any) -> Any:
                    v, s = ctx.saved_tensors
                    g = 0.5 * (g + g.T)
                    denom = s[:, None] + s[None, :]
                    tol = math.sqrt(_eig_rtol(s.shape[0])) * float(s.max()) if s.numel() else 0.0
                    k = torch.where(denom > tol, 1.0 / denom.clamp_min(1e-300), torch.zeros_like(denom))
                    return v @ ((v.T @ g @ v) * k) @ v.T

            class TraceSqrtPSD(torch.autograd.Function):
                """``tr(M^½) = Σ √λ_i`` of a symmetric PSD matrix; gradient ``½ M^{-½}``.

                The gradient ``V diag(1/(2√λ)) Vᵀ`` has no eigen-gap terms, so repeated eigenvalues
                are harmless. Eigenvalues below ``4·√d·eps·λ_max`` are numerically zero; √ has no
                derivative there and their contribution is set to 0 (pseudo-inverse).
                """

                @staticmethod
                def forward(ctx: Any, m: Any) -> Any:
                    if ctx.needs_input_grad[0]:
                        w, v = torch.linalg.eigh(m)
                        ctx.save_for_backward(v, w)
                    else:
                        w = torch.linalg.eigvalsh(m)
                    return _clean_psd_eigvals_torch(w).sqrt().sum()

                @staticmethod
                def backward(ctx: Any, g: Any) -> Any:
                    v, w = ctx.saved_tensors
                    wmax = float(w.max()) if w.numel() else 0.0
                    keep = w > _eig_rtol(w.shape[0]) * wmax
                    h = torch.where(keep, 0.5 / w.clamp_min(1e-300).sqrt(), torch.zeros_like(w))
                    return g * ((v * h) @ v.T)

            cls.sqrtm, cls.trace_sqrt = SqrtmPSD, TraceSqrtPSD
        return cls.sqrtm, cls.trace_sqrt


def sqrtm_psd_torch(sigma: Any) -> Any:
    """Differentiable symmetric PSD square root (float64), finite gradients for repeated eigenvalues."""
    torch = _torch()
    s = torch.as_tensor(sigma).to(torch.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"sqrtm_psd_torch needs a square matrix, got shape {tuple(s.shape)}")
    sqrtm, _ = _FnCache.get()
    return sqrtm.apply(0.5 * (s + s.T))


def frechet_distance_torch(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, *, sqrt_sigma1: Any = None) -> Any:
    """Differentiable Fréchet distance (0-dim float64 tensor), same value as :func:`frechet_distance`.

    Route: ``S = √Σ1`` (eigh), ``M = S Σ2 S``, ``tr(M^½)`` (eigh). Both steps have custom
    backward passes (see ``SqrtmPSD`` / ``TraceSqrtPSD`` above) that avoid the
    ``1/(λ_i − λ_j)`` terms of ``torch.linalg.eigh``'s generic backward, which are infinite
    or NaN for repeated eigenvalues (e.g. ``Σ = I`` or several zero eigenvalues when n ≤ d).
    Where the derivative truly does not exist (√ at a zero eigenvalue of a singular ``M``) the
    null-space contribution is set to 0, as in the closed form :func:`frechet_grad`.

    Inputs are cast to float64; ``sigma`` inputs are symmetrised, so the gradient w.r.t. a
    covariance is the symmetric matrix ``I − T``. ``sqrt_sigma1`` may pass a precomputed
    square root (any ``F`` with ``F Fᵀ = Σ1``, e.g. for a fixed reference set); ``sigma1`` then
    only enters through its trace and must not require a gradient. The result is clipped at 0
    (negative values are round-off); the clip has zero gradient only where FD would be < 0.
    """
    torch = _torch()
    t = [torch.as_tensor(a) for a in (mu1, sigma1, mu2, sigma2)]
    for name, a in zip(("mu1", "sigma1", "mu2", "sigma2"), t):
        if not bool(torch.isfinite(a.detach()).all()):
            raise ValueError(f"{name} contains NaN or inf values")
    m1, s1, m2, s2 = (a.to(torch.float64) for a in t)
    d = m1.shape[0] if m1.ndim == 1 else -1
    if m1.ndim != 1 or m2.shape != m1.shape:
        raise ValueError(f"mu1 and mu2 must be 1-D of equal length, got {tuple(m1.shape)} and {tuple(m2.shape)}")
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"sigma1 and sigma2 must be ({d}, {d}), got {tuple(s1.shape)} and {tuple(s2.shape)}")
    s1 = 0.5 * (s1 + s1.T)
    s2 = 0.5 * (s2 + s2.T)
    sqrtm, trace_sqrt = _FnCache.get()
    if sqrt_sigma1 is None:
        root = sqrtm.apply(s1)
    else:
        if s1.requires_grad:
            raise ValueError("sqrt_sigma1 is given but sigma1 requires grad; pass sigma1 detached (a constant)")
        root = torch.as_tensor(sqrt_sigma1).to(device=s2.device, dtype=torch.float64)
    m = root.T @ s2 @ root
    m = 0.5 * (m + m.T)
    diff = m1 - m2
    value = diff @ diff + torch.trace(s1) + torch.trace(s2) - 2.0 * trace_sqrt.apply(m)
    return value.clamp_min(0.0)  # FD ≥ 0; negative values are round-off


# ---------------------------------------------------------------------------------------------
# KID
# ---------------------------------------------------------------------------------------------
def _poly_kernel_sums(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with ``k(a, b) = (aᵀb/d + 1)³`` for equal-size float64 sets."""
    m, d = x.shape
    n = y.shape[0]

    def kern(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        k = a @ b.T  # a @ a.T is dispatched to syrk
        k /= d
        k += 1.0
        return k * k * k

    kxx = kern(x, x)
    kyy = kern(y, y)
    kxy = kern(x, y)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.sum() / (m * n))


def mmd2_poly(x: Any, y: Any) -> float:
    """Unbiased MMD² between two feature sets with the cubic kernel ``(xᵀy/d + 1)³`` (float64).

    Diagonal terms ``k(x_i, x_i)`` are excluded from the within-set means (U-statistic); the
    cross term uses all pairs, as in Bińkowski et al. 2018 and torch-fidelity's ``mmd2``.
    Can be slightly negative for similar distributions (unbiased estimator; not clipped).
    """
    xa = as_features(x, "x", min_rows=2).astype(np.float64, copy=False)
    ya = as_features(y, "y", min_rows=2).astype(np.float64, copy=False)
    _check_pair(xa, ya)
    return _poly_kernel_sums(xa, ya)


def kid(x: Any, y: Any, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std of unbiased MMD² over random subsets.

    For each of ``num_subsets`` subsets, ``subset_size`` rows of ``x`` and then of ``y`` are drawn
    without replacement with ``np.random.RandomState(seed).choice`` — the same draws, in the same
    order, as torch-fidelity's ``kid_features_to_metric`` with ``rng_seed=seed`` — and
    :func:`mmd2_poly` is evaluated in float64. Returns ``(mean, std)`` with ``std`` the
    population standard deviation over subsets (``ddof=0``, as torch-fidelity). KID may be
    slightly negative when the distributions are close (unbiased estimator; not clipped).

    If either set has fewer than ``subset_size`` samples the subset size shrinks to the smaller
    set size, with a warning.
    """
    xa = as_features(x, "x", min_rows=2)
    ya = as_features(y, "y", min_rows=2)
    _check_pair(xa, ya)
    num_subsets = as_count(num_subsets, "num_subsets", 1)
    subset_size = as_count(subset_size, "subset_size", 2)
    nx, ny = xa.shape[0], ya.shape[0]
    m = min(subset_size, nx, ny)
    if m < subset_size:
        warnings.warn(
            f"KID: subset_size={subset_size} exceeds the available samples (x: {nx}, y: {ny}); "
            f"using subsets of {m}. KID estimates from small subsets have high variance.",
            UserWarning,
            stacklevel=2,
        )
    rng = np.random.RandomState(seed)
    values = np.empty(num_subsets, dtype=np.float64)
    for i in range(num_subsets):
        ix = rng.choice(nx, m, replace=False)
        iy = rng.choice(ny, m, replace=False)
        values[i] = _poly_kernel_sums(xa[ix].astype(np.float64), ya[iy].astype(np.float64))
    return float(values.mean()), float(values.std())


# ---------------------------------------------------------------------------------------------
# improved precision and recall (Kynkäänniemi et al. 2019)
# ---------------------------------------------------------------------------------------------
_PR_BLOCK_ELEMENTS = 1 << 24  # distance-block budget: 16M entries (128 MiB in float64)


def _sq_norms(a: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, a)


def _sqdist_block(a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d2 = a @ b.T
    d2 *= -2.0
    d2 += a_sq[:, None]
    d2 += b_sq[None, :]
    # ‖a‖² + ‖b‖² − 2aᵀb can round below 0 for (near-)coincident points: clip at 0.
    np.maximum(d2, 0.0, out=d2)
    return d2


def _rows_per_block(n_cols: int, block_rows: int | None) -> int:
    if block_rows is not None:
        return max(1, int(block_rows))
    return max(1, _PR_BLOCK_ELEMENTS // max(n_cols, 1))


def _kth_nn_sqradius(a: np.ndarray, k: int, block_rows: int | None) -> np.ndarray:
    """Squared distance from each row of ``a`` to its k-th nearest other row of ``a``."""
    n = a.shape[0]
    sq = _sq_norms(a)
    out = np.empty(n, dtype=a.dtype)
    step = _rows_per_block(n, block_rows)
    for start in range(0, n, step):
        stop = min(start + step, n)
        d2 = _sqdist_block(a[start:stop], sq[start:stop], a, sq)
        d2[np.arange(stop - start), np.arange(start, stop)] = 0.0  # self-distance is exactly 0
        # index k of the sorted row = (k+1)-th smallest including self = k-th nearest neighbour
        out[start:stop] = np.partition(d2, k, axis=1)[:, k]
    return out


def _fraction_inside(probes: np.ndarray, manifold: np.ndarray, sqradius: np.ndarray, block_rows: int | None) -> float:
    """Fraction of probes inside at least one ball ``‖p − m_j‖ ≤ r_j`` around the manifold points."""
    m_sq = _sq_norms(manifold)
    p_sq = _sq_norms(probes)
    inside = 0
    step = _rows_per_block(manifold.shape[0], block_rows)
    for start in range(0, probes.shape[0], step):
        stop = min(start + step, probes.shape[0])
        d2 = _sqdist_block(probes[start:stop], p_sq[start:stop], manifold, m_sq)
        inside += int(np.count_nonzero((d2 <= sqradius[None, :]).any(axis=1)))
    return inside / probes.shape[0]


def precision_recall(real: Any, fake: Any, k: int = 3, *, block_rows: int | None = None) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019), neighbourhood ``k``.

    Each real sample gets a ball whose radius is the distance to its k-th nearest real
    neighbour; *precision* is the fraction of fake samples inside at least one real ball.
    *Recall* swaps the roles (fraction of real samples inside the fake manifold). Distances
    are computed in blocks of at most ~16M entries (``block_rows`` rows per block if given), so
    memory stays bounded for 50k+ samples. Computation is in float64 if either input is
    float64, else float32 (as the reference implementation). Matches torch-fidelity's
    ``calculate_precision_recall_full`` (ties at exactly the radius count as inside).
    """
    r = as_features(real, "real")
    g = as_features(fake, "fake")
    _check_pair(r, g, "real", "fake")
    k = as_count(k, "k", 1)
    for name, a in (("real", r), ("fake", g)):
        if a.shape[0] <= k:
            raise ValueError(f"{name} has {a.shape[0]} samples; the k={k} nearest-neighbour radius needs more than k")
    dtype = np.float64 if np.float64 in (r.dtype, g.dtype) else np.float32
    r = np.ascontiguousarray(r, dtype=dtype)
    g = np.ascontiguousarray(g, dtype=dtype)
    precision = _fraction_inside(g, r, _kth_nn_sqradius(r, k, block_rows), block_rows)
    recall = _fraction_inside(r, g, _kth_nn_sqradius(g, k, block_rows), block_rows)
    return precision, recall
