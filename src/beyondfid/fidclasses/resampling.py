"""The resampling attack on FID (Kynkäänniemi et al., ICLR 2023, Sec. 3.2, Eq. 3, Algorithm 1), fast.

Objective (Eq. 3). Log-weights ``w`` over ``n`` candidate features ``x_i``, ``p = softmax(w)``::

    L(p) = ‖μr − μ(p)‖² + tr Σr + tr Σ(p) − 2 tr((Σr Σ(p))^½)
    μ(p) = Σ_i p_i x_i,     Σ(p) = Σ_i p_i (x_i − μ)(x_i − μ)ᵀ          (the biased weighted
                                                                         covariance of Eq. 3)

``(μr, Σr)`` are the mean and the unbiased covariance of the real features (Algorithm 1,
lines 3-4). The paper runs ~100k steps of plain gradient descent on ``w`` with autograd
through a non-symmetric ``eig`` (36 GPU-hours at 50k × 250k × 2048).

Closed-form gradient through the symmetric route. With a factor ``F Fᵀ = Σr``
(``F = V₊ diag(√w₊)`` from one ``eigh`` of Σr, restricted to its numerically non-zero
eigenvalues), ``M = Fᵀ Σ(p) F = U Λ Uᵀ`` has the eigenvalues of ``Σr Σ(p)``, so
``tr((Σr Σ)^½) = Σ √λ`` and ``∂L/∂Σ = I − T`` with ``T = F M^{-½} Fᵀ``. Hence, up to a
constant that is the same for every ``i`` (it cancels below)::

    g_i = ∂L/∂p_i = 2 (μ − μr)ᵀ(x_i − μ) + ‖x_i − μ‖² − ‖Λ^{-¼} Uᵀ Fᵀ (x_i − μ)‖²
    ∂L/∂w_i = p_i (g_i − Σ_j p_j g_j)

One evaluation = two streamed passes over the candidates (weighted mean/covariance; then the
per-candidate quadratic forms), each in row chunks, so the extra memory is O(d² + chunk·d),
plus one symmetric ``eigh`` of the ``r × r`` matrix ``M``. Chunk products run in the
candidates' precision (float32 by default) and are accumulated in float64; everything
``d × d`` is float64.

Optimisers over ``w`` (:func:`optimize_weights`, ``method=``):

* ``"gd"``     -- the paper's plain gradient descent, ``w ← w − lr ∇_w L``;
* ``"adam"``   -- Adam on ``w``;
* ``"mirror"`` -- mirror descent on the simplex (exponentiated gradient,
  ``w ← w − η (g − ḡ)``) with an Armijo backtracking step size;
* ``"lbfgs"``  -- L-BFGS on ``w`` with Armijo backtracking, preconditioned by ``diag(1/p)``
  (the metric mirror descent uses), so its first step is a mirror-descent step.

``benchmarks/resampling.py`` measures them against long runs of plain GD; the pipeline uses
the one configured in ``params.yaml`` (``fid_resampling.method``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

__all__ = [
    "METHODS",
    "ResamplingError",
    "ResamplingResult",
    "WeightedFrechet",
    "optimize_weights",
    "sample_with_weights",
    "effective_sample_size",
]

METHODS = ("gd", "adam", "mirror", "lbfgs")
_EPS64 = float(np.finfo(np.float64).eps)

#: Default rows per chunk: 4096 × 2048 float32 = 32 MiB per chunk buffer.
DEFAULT_CHUNK = 4096


class ResamplingError(ValueError):
    """Bad inputs or options for the resampling attack."""


def _rtol(d: int) -> float:
    """Relative eigenvalue threshold below which an eigenvalue of a PSD d × d matrix is rounding noise
    (the same rule as :mod:`beyondfid.metrics`)."""
    return 4.0 * math.sqrt(max(d, 1)) * _EPS64


def _as_tensor(x: Any, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        a = np.asarray(x)
        if a.dtype == object or not np.issubdtype(a.dtype, np.number):
            raise ResamplingError(f"{name} must be a numeric (n, d) array, got dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a))
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ResamplingError(f"{name} must be a non-empty 2-D (n, d) array, got shape {tuple(t.shape)}")
    t = t.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(t).all()):
        raise ResamplingError(f"{name} contains NaN or inf values; features must be finite")
    return t


class WeightedFrechet:
    """``L(p)`` of Eq. 3 and its closed-form gradient for a fixed real set and candidate pool.

    ``real_features`` (m, d) give ``μr`` and the unbiased ``Σr`` (or pass ``real_stats=(mu, sigma)``);
    ``candidate_features`` (n, d) stay in their own memory (no copy for C-contiguous float32 input
    when ``dtype=torch.float32``), and are read in chunks of ``chunk_size`` rows.
    """

    def __init__(self, real_features: Any | None, candidate_features: Any, *,
                 real_stats: tuple[Any, Any] | None = None, chunk_size: int = DEFAULT_CHUNK,
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        if chunk_size < 1:
            raise ResamplingError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk = int(chunk_size)
        self.x = _as_tensor(candidate_features, "candidate_features", dtype, self.device)
        n, d = self.x.shape
        if real_stats is None:
            if real_features is None:
                raise ResamplingError("pass real_features or real_stats=(mu, sigma)")
            r = _as_tensor(real_features, "real_features", torch.float64, self.device)
            if r.shape[1] != d:
                raise ResamplingError(f"dimension mismatch: real features have d={r.shape[1]}, candidates d={d}")
            if r.shape[0] < 2:
                raise ResamplingError("the real covariance needs at least 2 real samples")
            mu_r = r.mean(0)
            rc = r - mu_r
            sigma_r = rc.T @ rc / (r.shape[0] - 1)
        else:
            mu_r = torch.as_tensor(np.asarray(real_stats[0]), dtype=torch.float64, device=self.device)
            sigma_r = torch.as_tensor(np.asarray(real_stats[1]), dtype=torch.float64, device=self.device)
            if mu_r.shape != (d,) or sigma_r.shape != (d, d):
                raise ResamplingError(f"real_stats must be ((d,), (d, d)) with d={d}, got {tuple(mu_r.shape)}, "
                                      f"{tuple(sigma_r.shape)}")
        sigma_r = 0.5 * (sigma_r + sigma_r.T)
        self.mu_r = mu_r
        self.tr_r = float(torch.trace(sigma_r))
        w, v = torch.linalg.eigh(sigma_r)
        keep = w > _rtol(d) * max(float(w[-1]), 0.0) if float(w[-1]) > 0 else torch.zeros_like(w, dtype=torch.bool)
        self.factor = v[:, keep] * w[keep].sqrt()  # d × r, F Fᵀ = Σr
        self.shift = mu_r.to(dtype)  # rows are centred on μr before products (float32 accuracy)
        self.n, self.d = n, d
        self.evaluations = 0

    # ------------------------------------------------------------------ statistics
    def _chunks(self) -> range:
        return range(0, self.n, self.chunk)

    def stats(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted mean and biased weighted covariance (Eq. 3) for probabilities ``p`` (n,), float64."""
        s_acc = torch.zeros(self.d, dtype=torch.float64, device=self.device)
        c_acc = torch.zeros(self.d, self.d, dtype=torch.float64, device=self.device)
        p_c = p.to(self.dtype)
        for lo in self._chunks():
            xc = self.x[lo:lo + self.chunk] - self.shift
            pc = p_c[lo:lo + self.chunk]
            s_acc += (pc @ xc).double()
            c_acc += ((xc * pc[:, None]).T @ xc).double()
        total = float(p.sum())
        mu_s = s_acc / total
        sigma = c_acc / total - torch.outer(mu_s, mu_s)
        return self.mu_r + mu_s, 0.5 * (sigma + sigma.T)

    # ------------------------------------------------------------------ value and gradient
    def value(self, p: torch.Tensor) -> float:
        """``L(p)`` (FID of the weighted statistics) without the gradient pass."""
        mu, sigma = self.stats(p)
        m = self.factor.T @ sigma @ self.factor
        lam = torch.linalg.eigvalsh(0.5 * (m + m.T))
        self.evaluations += 1
        return self._fid(mu, sigma, lam)

    def _fid(self, mu: torch.Tensor, sigma: torch.Tensor, lam: torch.Tensor) -> float:
        lam_max = float(lam[-1]) if lam.numel() else 0.0
        lam_c = torch.where(lam > _rtol(lam.numel()) * lam_max, lam, torch.zeros_like(lam))
        diff = mu - self.mu_r
        val = float(diff @ diff) + self.tr_r + float(torch.trace(sigma)) - 2.0 * float(lam_c.clamp_min(0).sqrt().sum())
        return max(val, 0.0)

    def value_and_grad(self, p: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(L(p), g)`` with ``g_i = ∂L/∂p_i − Σ_j p_j ∂L/∂p_j`` (float64, shape (n,)).

        ``∂L/∂w = p ⊙ g`` for ``p = softmax(w)``.
        """
        val, state = self.value_state(p)
        return val, self.gradient(state)

    def value_state(self, p: torch.Tensor) -> tuple[float, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``L(p)`` and what :meth:`gradient` needs (one pass over the candidates and one ``eigh``), so a
        line search can reject a step without paying for the gradient pass."""
        mu, sigma = self.stats(p)
        m = self.factor.T @ sigma @ self.factor
        lam, u = torch.linalg.eigh(0.5 * (m + m.T))
        self.evaluations += 1
        val = self._fid(mu, sigma, lam)
        lam_max = float(lam[-1]) if lam.numel() else 0.0
        keep = lam > _rtol(lam.numel()) * lam_max
        # B = F U Λ^{-¼} on the numerically non-zero eigenvalues: ‖Bᵀ(x − μ)‖² = (x − μ)ᵀ T (x − μ)
        b = (self.factor @ u[:, keep]) * lam[keep].pow(-0.25)
        return val, (p, mu, b)

    def gradient(self, state: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The second pass: ``g`` of :meth:`value_and_grad` from :meth:`value_state`'s state."""
        p, mu, b = state
        b_c = b.to(self.dtype)
        mu_c = mu.to(self.dtype)
        lin = (2.0 * (mu - self.mu_r)).to(self.dtype)
        g = torch.empty(self.n, dtype=torch.float64, device=self.device)
        for lo in self._chunks():
            xc = self.x[lo:lo + self.chunk] - mu_c
            z = xc @ b_c
            g[lo:lo + self.chunk] = (xc @ lin + (xc * xc).sum(1) - (z * z).sum(1)).double()
        pn = p / p.sum()
        g -= pn @ g
        return g


# ---------------------------------------------------------------------------------------------
# optimisers
# ---------------------------------------------------------------------------------------------
@dataclass
class ResamplingResult:
    """Output of :func:`optimize_weights`.

    ``history[k]`` is the FID of the weighted statistics (Eq. 3) after iteration ``k``
    (``history[0]``: uniform weights); ``evaluations[k]`` and ``seconds[k]`` are the cumulative
    objective evaluations (one ``eigh`` each) and wall time at that point. ``snapshots`` maps
    iteration -> log-weights for the iterations requested in ``keep_weights_at``.
    """

    probabilities: np.ndarray
    log_weights: np.ndarray
    history: np.ndarray
    evaluations: np.ndarray
    seconds: np.ndarray
    method: str
    converged: bool
    message: str
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def fid(self) -> float:
        """FID of the final weighted statistics."""
        return float(self.history[-1])

    @property
    def iterations(self) -> int:
        return len(self.history) - 1

    def evaluations_to_reach(self, target: float) -> int | None:
        """First cumulative evaluation count at which ``history <= target`` (None if never)."""
        hit = np.flatnonzero(self.history <= target)
        return int(self.evaluations[hit[0]]) if hit.size else None

    def seconds_to_reach(self, target: float) -> float | None:
        hit = np.flatnonzero(self.history <= target)
        return float(self.seconds[hit[0]]) if hit.size else None


_DEFAULT_LR = {"gd": 10.0, "adam": 0.05, "mirror": None, "lbfgs": None}


def _softmax(w: torch.Tensor) -> torch.Tensor:
    return torch.softmax(w, dim=0)


def optimize_weights(real_features: Any, candidate_features: Any, *, method: str = "lbfgs",
                     max_iter: int = 300, max_evaluations: int | None = None, lr: float | None = None,
                     tol: float = 1e-5, patience: int = 10, history_size: int = 20,
                     real_stats: tuple[Any, Any] | None = None, chunk_size: int = DEFAULT_CHUNK,
                     dtype: torch.dtype | str = torch.float32, device: str = "cpu",
                     init_log_weights: Any = None, keep_weights_at: Sequence[int] = (),
                     callback: Callable[[int, float], None] | None = None, progress: bool = False,
                     stop_when: Callable[[int, float], bool] | None = None) -> ResamplingResult:
    """Minimise the FID of the weighted candidate statistics (Eq. 3) over log-weights (Algorithm 1).

    Returns :class:`ResamplingResult` with ``probabilities`` (n,) = ``softmax(w)`` (≥ 0, sum 1) and
    ``history`` (FID per iteration). ``method``: ``gd`` (the paper's plain GD, ``lr`` default 10 as
    the paper's pre-logit runs), ``adam`` (``lr`` default 0.05), ``mirror`` (Armijo-backtracked
    exponentiated gradient) or ``lbfgs`` (preconditioned L-BFGS, Armijo backtracking). Stops after
    ``max_iter`` iterations or ``max_evaluations`` objective evaluations, or when the FID fell by
    less than ``tol`` (relative) over the last ``patience`` iterations (``tol=0``: never), or when
    ``stop_when(iteration, fid)`` returns True (benchmarks: stop at a target).
    ``dtype`` is the precision of the chunk products (``"float64"`` for tests and oracles).
    """
    if method not in METHODS:
        raise ResamplingError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if max_iter < 0:
        raise ResamplingError(f"max_iter must be >= 0, got {max_iter}")
    if isinstance(dtype, str):
        if dtype not in ("float32", "float64"):
            raise ResamplingError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        dtype = getattr(torch, dtype)
    obj = WeightedFrechet(real_features, candidate_features, real_stats=real_stats, chunk_size=chunk_size,
                          dtype=dtype, device=device)
    n = obj.n
    if init_log_weights is None:
        w = torch.zeros(n, dtype=torch.float64, device=obj.device)
    else:
        w = torch.as_tensor(np.asarray(init_log_weights), dtype=torch.float64, device=obj.device).clone()
        if w.shape != (n,) or not bool(torch.isfinite(w).all()):
            raise ResamplingError(f"init_log_weights must be {n} finite values, got shape {tuple(w.shape)}")
    lr = _DEFAULT_LR[method] if lr is None else float(lr)
    max_evaluations = max_evaluations if max_evaluations is not None else 10 * max(max_iter, 1) + 10
    keep = set(int(k) for k in keep_weights_at)
    t0 = time.perf_counter()
    hist: list[float] = []
    evals: list[int] = []
    secs: list[float] = []
    snaps: dict[int, np.ndarray] = {}

    def record(value: float, it: int) -> None:
        hist.append(float(value))
        evals.append(obj.evaluations)
        secs.append(time.perf_counter() - t0)
        if it in keep:
            snaps[it] = w.detach().cpu().numpy().copy()
        if callback is not None:
            callback(it, float(value))

    bar = None
    if progress:
        from ..progress import progress_bar

        bar = progress_bar(total=max_iter, desc=f"resampling ({method})", unit="it")

    p = _softmax(w)
    val, g = obj.value_and_grad(p)
    record(val, 0)
    message = f"reached max_iter={max_iter}"
    converged = False
    # optimiser state
    adam_m = torch.zeros_like(w)
    adam_v = torch.zeros_like(w)
    step = None  # mirror / lbfgs step size
    s_hist: list[torch.Tensor] = []
    y_hist: list[torch.Tensor] = []
    grad_w = p * g
    for it in range(1, max_iter + 1):
        if obj.evaluations >= max_evaluations:
            message = f"reached max_evaluations={max_evaluations}"
            break
        if method == "gd":
            w = w - lr * grad_w
            p = _softmax(w)
            val, g = obj.value_and_grad(p)
            grad_w = p * g
        elif method == "adam":
            b1, b2 = 0.9, 0.999
            adam_m = b1 * adam_m + (1 - b1) * grad_w
            adam_v = b2 * adam_v + (1 - b2) * grad_w * grad_w
            mh = adam_m / (1 - b1 ** it)
            vh = adam_v / (1 - b2 ** it)
            w = w - lr * mh / (vh.sqrt() + 1e-12 * float(vh.max().sqrt()) + 1e-300)
            p = _softmax(w)
            val, g = obj.value_and_grad(p)
            grad_w = p * g
        else:
            # search direction in w-space
            if method == "mirror" or not s_hist:
                direction = -g  # preconditioned by diag(1/p): -(1/p) ⊙ ∇_w L = -g
            else:
                direction = -_lbfgs_direction(grad_w, p, s_hist, y_hist)
            slope = float(grad_w @ direction)
            if slope >= 0:  # not a descent direction (curvature pair went bad): restart from mirror step
                s_hist.clear()
                y_hist.clear()
                direction = -g
                slope = float(grad_w @ direction)
            if step is None or (method == "lbfgs" and s_hist):
                # first step: move the largest log-weight by at most 1; L-BFGS steps start at 1
                step = 1.0 / max(float(direction.abs().max()), 1e-300) if (step is None) else 1.0
            t = step
            accepted = False
            while obj.evaluations < max_evaluations:
                w_try = w + t * direction
                p_try = _softmax(w_try)
                v_try, state = obj.value_state(p_try)
                if v_try <= val + 1e-4 * t * slope:
                    accepted = True
                    g_try = obj.gradient(state)  # the gradient pass only for accepted steps
                    break
                t *= 0.5
            if not accepted:
                message = f"line search stopped at max_evaluations={max_evaluations}"
                break
            grad_try = p_try * g_try
            if method == "lbfgs":
                s, y = w_try - w, grad_try - grad_w
                if float(s @ y) > 1e-12 * float(s @ s) ** 0.5 * float(y @ y) ** 0.5:
                    s_hist.append(s)
                    y_hist.append(y)
                    if len(s_hist) > history_size:
                        s_hist.pop(0)
                        y_hist.pop(0)
            else:
                step = 2.0 * t  # grow after a success (mirror descent)
            w, p, val, g, grad_w = w_try, p_try, v_try, g_try, grad_try
        record(val, it)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(fid=f"{val:.4g}")
        if not math.isfinite(val):
            message = f"FID became non-finite at iteration {it}; lower the learning rate"
            break
        if stop_when is not None and stop_when(it, val):
            message = f"stop_when was met at iteration {it}"
            break
        if tol > 0 and it >= patience and hist[-1 - patience] - val <= tol * max(abs(hist[-1 - patience]), 1e-300):
            converged = True
            message = f"converged: FID fell by <= {tol:g} (relative) over the last {patience} iterations"
            break
    if bar is not None:
        bar.close()
    probs = _softmax(w).detach().cpu().numpy()
    return ResamplingResult(probabilities=probs, log_weights=w.detach().cpu().numpy(), history=np.asarray(hist),
                            evaluations=np.asarray(evals), seconds=np.asarray(secs), method=method,
                            converged=converged, message=message, snapshots=snaps)


def _lbfgs_direction(grad: torch.Tensor, p: torch.Tensor, s_hist: list[torch.Tensor],
                     y_hist: list[torch.Tensor]) -> torch.Tensor:
    """Two-loop recursion ``H ∇`` with the initial matrix ``γ · diag(1/p)`` (``γ`` from the newest pair
    in the ``diag(p)`` inner product)."""
    q = grad.clone()
    alphas = []
    rhos = [1.0 / float(y @ s) for s, y in zip(s_hist, y_hist)]
    for s, y, rho in zip(reversed(s_hist), reversed(y_hist), reversed(rhos)):
        a = rho * float(s @ q)
        alphas.append(a)
        q -= a * y
    s, y = s_hist[-1], y_hist[-1]
    pinv = 1.0 / p.clamp_min(1e-300)
    gamma = float(s @ y) / max(float(y @ (pinv * y)), 1e-300)
    r = gamma * pinv * q
    for (s, y, rho), a in zip(zip(s_hist, y_hist, rhos), reversed(alphas)):
        b = rho * float(y @ r)
        r += (a - b) * s
    return r


# ---------------------------------------------------------------------------------------------
# using the weights
# ---------------------------------------------------------------------------------------------
def sample_with_weights(probabilities: Any, size: int, seed: int) -> np.ndarray:
    """``size`` indices drawn with replacement according to ``probabilities`` (the paper's FID^PL draw)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
        raise ResamplingError("probabilities must be a finite, non-negative 1-D vector with a positive sum")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(p), size=int(size), replace=True, p=p / p.sum()))


def effective_sample_size(probabilities: Any) -> float:
    """Kish's effective sample size ``1 / Σ p_i²`` of normalised weights."""
    p = np.asarray(probabilities, dtype=np.float64)
    p = p / p.sum()
    return float(1.0 / (p @ p))
