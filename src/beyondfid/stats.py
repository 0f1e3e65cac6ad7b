"""Feature statistics: streaming mean/covariance, weighted statistics, the add-one-sample update.

Everything is accumulated and returned in float64, whatever the input dtype.

* :class:`StreamingStats` accumulates a running sum and ``XᵀX`` over chunks of features and
  yields the mean and the unbiased (``N − 1``) covariance. Chunks may be of any size and
  accumulators can be merged, so the result does not depend on how the data were split.
* :func:`weighted_stats` gives the weighted mean and covariance used by the resampling attack
  of Kynkäänniemi et al. (ICLR 2023, Sec. 3.2); it works on NumPy arrays and, differentiably,
  on torch tensors.
* :func:`add_sample` is the rank-one update of the paper-2 heatmaps (Sec. 2).
* :func:`save_stats` / :func:`load_stats` store ``mu`` and ``sigma`` as an ``.npz`` (atomic
  write, no pickle).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .io import load_npz, save_npz

__all__ = [
    "SingularCovarianceWarning",
    "StreamingStats",
    "as_features",
    "compute_stats",
    "weighted_stats",
    "add_sample",
    "save_stats",
    "load_stats",
    "warn_if_singular",
]

#: Rows converted to float64 at a time inside :meth:`StreamingStats.update` (bounds memory:
#: 8192 × 2048 × 8 bytes = 128 MiB).
BLOCK_ROWS = 8192


class SingularCovarianceWarning(UserWarning):
    """The sample covariance is singular because there are no more samples than dimensions."""


def warn_if_singular(n: int, d: int, name: str = "features", stacklevel: int = 3) -> bool:
    """Warn when ``n`` samples in ``d`` dimensions give a singular covariance (rank ≤ n − 1 < d).

    Returns True when it warned. The Fréchet distance stays finite and real in that case (the
    square root is taken on a symmetric PSD matrix with negative rounding clamped), but it is
    a strongly biased estimate of the population value.
    """
    if n <= d:
        warnings.warn(
            f"{name}: {n} samples in {d} dimensions -> the covariance has rank <= {n - 1} < {d} and is "
            f"singular; the Fréchet distance is still finite and real but strongly biased. "
            f"Use more samples than feature dimensions (ideally many more) for a meaningful FID.",
            SingularCovarianceWarning,
            stacklevel=stacklevel,
        )
        return True
    return False


def _to_numpy(x: Any) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return np.asarray(x)


def _check_finite(x: np.ndarray, name: str, row_offset: int = 0) -> None:
    finite = np.isfinite(x)
    if not finite.all():
        bad = ~finite
        n_nan = int(np.isnan(x).sum())
        n_inf = int(bad.sum()) - n_nan
        first = np.argwhere(bad)[0]
        where = f"row {first[0] + row_offset}, column {first[1]}" if x.ndim == 2 else f"index {tuple(first)}"
        raise ValueError(
            f"{name} contains non-finite values ({n_nan} NaN, {n_inf} inf; first at {where}); "
            f"features must be finite"
        )


def as_count(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as a Python int ≥ ``minimum``: integers and integral floats (``3.0``) pass; ``2.7``,
    ``"3"`` and ``True`` are rejected instead of being truncated or coerced."""
    import numbers

    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if not float(value).is_integer():
        raise ValueError(f"{name} must be an integer, got {value!r}")
    n = int(value)
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return n


def as_features(x: Any, name: str = "features", *, min_rows: int = 0, check_finite: bool = True) -> np.ndarray:
    """Validate an ``(n, d)`` feature matrix (NumPy array, torch tensor or nested list).

    Raises ``ValueError`` naming the problem for 1-D or >2-D input, non-numeric dtypes, too few
    rows and NaN/inf entries. The dtype is preserved (floats) so large float32 sets are not
    copied; integer/bool input is converted to float64.
    """
    a = _to_numpy(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be a numeric (n, d) array, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise ValueError(f"{name} must be real-valued, got complex dtype {a.dtype}")
    if a.ndim != 2:
        hint = (
            " (1-D input is ambiguous: use x[:, None] for n scalar features or x[None, :] for one "
            "d-dimensional sample)"
            if a.ndim == 1
            else ""
        )
        raise ValueError(f"{name} must be a 2-D (n, d) array of n samples by d features, got shape {a.shape}{hint}")
    if a.shape[1] == 0:
        raise ValueError(f"{name} has zero feature dimensions (shape {a.shape})")
    if a.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples, got {a.shape[0]} (shape {a.shape})")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    if check_finite:
        _check_finite(a, name)
    return a


class StreamingStats:
    """Streaming mean and covariance, accumulated in float64 as a running sum and ``XᵀX``.

    To keep the ``XᵀX − n·μμᵀ`` subtraction free of cancellation when the features have a large
    common offset (e.g. non-negative post-ReLU activations), the sums are taken over shifted
    rows ``x − K``, where the shift ``K`` is the mean of the first rows seen (the classic
    "shifted data" algorithm). ``K`` only affects rounding, not the result.

    >>> acc = StreamingStats()
    >>> for chunk in chunks:           # doctest: +SKIP
    ...     acc.update(chunk)
    >>> mu, sigma = acc.mean, acc.cov  # doctest: +SKIP
    """

    def __init__(self, dim: int | None = None, *, block_rows: int = BLOCK_ROWS) -> None:
        if dim is not None and int(dim) < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self._dim = None if dim is None else int(dim)
        self._block_rows = int(block_rows)
        self._n = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None  # Σ (x − K)
        self._gram: np.ndarray | None = None  # Σ (x − K)(x − K)ᵀ

    # -- accumulation -------------------------------------------------------------------------
    def _init(self, d: int, shift: np.ndarray) -> None:
        self._dim = d
        self._shift = np.asarray(shift, dtype=np.float64).copy()
        self._sum = np.zeros(d, dtype=np.float64)
        self._gram = np.zeros((d, d), dtype=np.float64)

    def update(self, chunk: Any, name: str = "chunk") -> "StreamingStats":
        """Add a chunk of features of shape ``(m, d)`` (any m ≥ 0, any float dtype); returns self.

        ``name`` is what error messages call the chunk (e.g. ``"x"`` for a caller's argument).
        """
        x = as_features(chunk, name, check_finite=False)
        if self._dim is not None and x.shape[1] != self._dim:
            raise ValueError(f"{name} has d={x.shape[1]} features but this accumulator has d={self._dim}")
        if x.shape[0] == 0:
            return self
        n, d = x.shape
        shift = self._shift
        if shift is None:
            head = np.asarray(x[:1024], dtype=np.float64)
            _check_finite(head, name)
            shift = head.mean(axis=0)
        # Accumulate the chunk locally and commit at the end, so a chunk that fails validation
        # leaves the accumulator unchanged.
        total = np.zeros(d, dtype=np.float64)
        gram = np.zeros((d, d), dtype=np.float64)
        buf = np.empty((min(self._block_rows, n), d), dtype=np.float64)  # reused for every block
        for start in range(0, n, self._block_rows):
            xb = x[start : start + self._block_rows]
            b = buf[: xb.shape[0]]
            np.subtract(xb, shift, out=b)  # float64 conversion and shift in one pass
            colsum = b.sum(axis=0)
            # NaN/inf anywhere in the block propagate into its column sums: a cheap check first,
            # the element-wise search only to name the culprit.
            if not np.isfinite(colsum).all():
                _check_finite(np.asarray(xb), name, row_offset=start)
                rows = f"{start}..{start + xb.shape[0] - 1}"
                raise ValueError(f"{name} rows {rows}: feature values too large, their sum overflows float64")
            total += colsum
            # ``b.T @ b`` on one buffer is dispatched by NumPy to BLAS syrk (half the flops of gemm)
            # and comes back exactly symmetric.
            gram += b.T @ b
        if self._gram is None:
            self._init(d, shift)
        self._sum += total
        self._gram += gram
        self._n += n
        return self

    def merge(self, other: "StreamingStats") -> "StreamingStats":
        """Fold another accumulator into this one (in place); returns self."""
        if not isinstance(other, StreamingStats):
            raise TypeError(f"can only merge a StreamingStats, got {type(other).__name__}")
        if other._n == 0:
            if self._dim is not None and other._dim is not None and other._dim != self._dim:
                raise ValueError(f"cannot merge d={other._dim} statistics into d={self._dim}")
            return self
        if self._dim is not None and other._dim != self._dim:
            raise ValueError(f"cannot merge d={other._dim} statistics into d={self._dim}")
        if self._gram is None:
            self._init(other._dim, other._shift)
        # Re-base the other sums from shift K_o to our shift K: x − K = (x − K_o) + δ, δ = K_o − K.
        delta = other._shift - self._shift
        s_o, n_o = other._sum, other._n
        cross = np.outer(s_o, delta)
        self._gram += other._gram + cross + cross.T + n_o * np.outer(delta, delta)
        self._sum += s_o + n_o * delta
        self._n += n_o
        return self

    # -- results ------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Number of samples accumulated so far."""
        return self._n

    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def mean(self) -> np.ndarray:
        """Mean, shape ``(d,)``, float64."""
        if self._n == 0:
            raise ValueError("no samples accumulated yet: the mean is undefined")
        return self._shift + self._sum / self._n

    @property
    def cov(self) -> np.ndarray:
        """Unbiased covariance (divisor ``N − 1``), shape ``(d, d)``, float64, exactly symmetric."""
        if self._n < 2:
            raise ValueError(f"the covariance needs at least 2 samples, got {self._n}")
        c = (self._gram - np.outer(self._sum, self._sum) / self._n) / (self._n - 1)
        return c

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, cov)``."""
        return self.mean, self.cov

    @classmethod
    def from_features(cls, x: Any, **kwargs: Any) -> "StreamingStats":
        return cls(**kwargs).update(x)

    def __repr__(self) -> str:
        return f"StreamingStats(count={self._n}, dim={self._dim})"


def compute_stats(x: Any, name: str = "features", *, warn_singular: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of an ``(n, d)`` feature matrix, float64.

    Warns (:class:`SingularCovarianceWarning`) when ``n ≤ d``.
    """
    a = as_features(x, name, min_rows=2, check_finite=False)  # finiteness is checked per block
    if warn_singular:
        warn_if_singular(a.shape[0], a.shape[1], name, stacklevel=3)
    acc = StreamingStats(a.shape[1]).update(a, name)
    return acc.mean, acc.cov


def weighted_stats(x: Any, w: Any, *, unbiased: bool = False) -> tuple[Any, Any]:
    """Weighted mean and covariance; NumPy in -> NumPy out, torch in -> torch out (differentiable).

    The weights are normalised to ``p = w / Σw`` (they must be non-negative with a positive sum).

    Convention (``unbiased=False``, the default) follows Kynkäänniemi et al. 2023, Eq. 3::

        μ = Σ_i p_i f_i,      Σ = Σ_i p_i (f_i − μ)(f_i − μ)ᵀ

    i.e. the *biased* weighted covariance: with uniform weights it equals ``(n−1)/n`` times
    the unbiased sample covariance. With ``unbiased=True`` the reliability-weights correction
    is applied, ``Σ / (1 − Σ_i p_i²)``, which reduces to the usual ``N − 1`` divisor for uniform
    weights and equals ``np.cov(x, rowvar=False, aweights=w)``.

    Torch inputs are computed in float64 so gradients w.r.t. ``w`` (e.g. log-weights through
    ``softmax``) are accurate.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None  # type: ignore[assignment]

    if torch is not None and (isinstance(x, torch.Tensor) or isinstance(w, torch.Tensor)):
        xt = torch.as_tensor(x)
        wt = torch.as_tensor(w, device=xt.device)
        if xt.ndim != 2:
            raise ValueError(f"x must be a 2-D (n, d) tensor, got shape {tuple(xt.shape)}")
        if wt.ndim != 1 or wt.shape[0] != xt.shape[0]:
            raise ValueError(f"w must be 1-D with one weight per row of x ({xt.shape[0]}), got shape {tuple(wt.shape)}")
        if not bool(torch.isfinite(xt).all()):
            raise ValueError("x contains NaN or inf values; features must be finite")
        if not bool(torch.isfinite(wt).all()) or bool((wt < 0).any()):
            raise ValueError("weights must be finite and non-negative")
        xt = xt.to(torch.float64)
        wt = wt.to(torch.float64)
        total = wt.sum()
        if not bool(total > 0):
            raise ValueError("weights sum to zero")
        p = wt / total
        mu = p @ xt
        xc = xt - mu
        sigma = (xc * p[:, None]).T @ xc
        sigma = 0.5 * (sigma + sigma.T)
        if unbiased:
            sigma = sigma / (1.0 - (p * p).sum())
        return mu, sigma

    a = as_features(x, "x", min_rows=1)
    wa = np.asarray(_to_numpy(w), dtype=np.float64)
    if wa.ndim != 1 or wa.shape[0] != a.shape[0]:
        raise ValueError(f"w must be 1-D with one weight per row of x ({a.shape[0]}), got shape {wa.shape}")
    if not np.isfinite(wa).all() or (wa < 0).any():
        raise ValueError("weights must be finite and non-negative")
    total = wa.sum()
    if not total > 0:
        raise ValueError("weights sum to zero")
    p = wa / total
    a = a.astype(np.float64, copy=False)
    mu = p @ a
    xc = a - mu
    sigma = (xc * p[:, None]).T @ xc
    sigma = 0.5 * (sigma + sigma.T)
    if unbiased:
        denom = 1.0 - float(p @ p)
        if denom <= 0:
            raise ValueError("unbiased weighted covariance is undefined: all weight is on one sample")
        sigma = sigma / denom
    return mu, sigma


def add_sample(mu: Any, sigma: Any, f: Any, N: int) -> tuple[Any, Any]:
    """Add one sample ``f`` to the statistics of ``N − 1`` samples (Kynkäänniemi et al. 2023, Sec. 2).

    ``mu`` and ``sigma`` are the mean and unbiased covariance of ``N − 1`` samples; the result
    is the mean and unbiased covariance of the ``N`` samples including ``f``::

        μ' = (N−1)/N · μ + f/N
        Σ' = (N−2)/(N−1) · Σ + (f − μ)(f − μ)ᵀ / N

    (The paper writes the outer product as ``(f − μ)ᵀ(f − μ)`` for row vectors.) Works on NumPy
    arrays and on torch tensors (differentiable w.r.t. ``f``); ``N`` must be ≥ 3 so that ``Σ``
    of ``N − 1 ≥ 2`` samples is defined.
    """
    N = int(N)
    if N < 3:
        raise ValueError(f"N is the size of the updated set and must be >= 3, got {N}")
    try:
        import torch

        is_torch = any(isinstance(t, torch.Tensor) for t in (mu, sigma, f))
    except ImportError:  # pragma: no cover
        is_torch = False
    if not is_torch:
        mu = np.asarray(mu, dtype=np.float64)
        sigma = np.asarray(sigma, dtype=np.float64)
        f = np.asarray(f, dtype=np.float64)
    if mu.ndim != 1 or f.shape != mu.shape or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"add_sample needs mu (d,), sigma (d, d) and f (d,); got {tuple(mu.shape)}, "
            f"{tuple(sigma.shape)}, {tuple(f.shape)}"
        )
    v = f - mu
    mu_new = (N - 1) / N * mu + f / N
    sigma_new = (N - 2) / (N - 1) * sigma + (v[:, None] * v[None, :]) / N
    return mu_new, sigma_new


def _check_stats(mu: np.ndarray, sigma: np.ndarray, where: str) -> None:
    if mu.ndim != 1:
        raise ValueError(f"{where}: mu must be 1-D, got shape {mu.shape}")
    d = mu.shape[0]
    if sigma.shape != (d, d):
        raise ValueError(f"{where}: sigma must have shape ({d}, {d}) to match mu, got {sigma.shape}")
    _check_finite(mu, f"{where}: mu")
    _check_finite(sigma, f"{where}: sigma")


def save_stats(path: str | Path, mu: Any, sigma: Any) -> Path:
    """Atomically write ``mu`` (d,) and ``sigma`` (d, d) as float64 to an ``.npz`` (no pickle)."""
    mu_a = np.asarray(_to_numpy(mu), dtype=np.float64)
    sigma_a = np.asarray(_to_numpy(sigma), dtype=np.float64)
    _check_stats(mu_a, sigma_a, f"save_stats({path})")
    return save_npz(path, mu=mu_a, sigma=sigma_a)


def load_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Load ``(mu, sigma)`` written by :func:`save_stats` (or any ``.npz`` with those keys)."""
    z = load_npz(path)
    missing = [k for k in ("mu", "sigma") if k not in z]
    if missing:
        raise ValueError(f"{path} has no {' or '.join(missing)} array (keys: {sorted(z)})")
    mu = np.asarray(z["mu"], dtype=np.float64)
    sigma = np.asarray(z["sigma"], dtype=np.float64)
    _check_stats(mu, sigma, str(path))
    return mu, sigma
