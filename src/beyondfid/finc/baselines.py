"""The three baselines of FINC's scalability table, each from its own paper's definition.

* :func:`ken_exact` — KEN (Zhang, Li & Farnia, ICML 2024) with the exact Gaussian kernel: the
  fused (n+m) × (n+m) kernel matrix

      K = [[ K_XX / n,              √η · K_XY / √(nm) ],
           [ −√η · K_YX / √(nm),    −η · K_YY / m     ]]

  whose non-zero eigenvalues are those of Λ = C_X − η C_Y (write A = [Φ_X/√n ; √(η/m)·Φ_Y]
  and S = diag(I_n, −I_m); then Λ = AᵀSA and K = S·AAᵀ, and AᵀB and BAᵀ share their non-zero
  eigenvalues), followed by a dense **non-symmetric** eigendecomposition (LAPACK ``geev`` via
  ``torch.linalg.eig``), as in the official code.  Time O((n+m)²d + (n+m)³), memory O((n+m)²).
* :func:`rarity_score` — Rarity score (Han et al., ICLR 2023): every real sample r_i gets the
  radius R_i = distance to its k-th nearest other real sample (k = 3); a fake sample g lies in
  ball i when ‖g − r_i‖ < R_i (strict, as in the official code) and its score is the smallest
  radius among the balls containing it, ``min{R_i : ‖g − r_i‖ < R_i}``; it is undefined (NaN)
  when no ball contains it.  Time O(n²d + mnd).  Memory O(n² + mn) in the default dense mode
  (the full distance matrices, as the official implementation holds them), O(block·n) with
  ``block_size``.
* :func:`fld` — Feature Likelihood Divergence (Jiralerspong et al., NeurIPS 2023): a mixture of
  isotropic Gaussians, one centred at each generated sample x_j with its own variance σ_j²,
  ``p(x) = (1/N) Σ_j N(x | x_j, σ_j² I)``; the σ_j are fitted by maximising the likelihood of
  the training samples (Adam on log σ_j², initialised from nearest-train distances, as in the
  official code), then FLD reports the dimension-normalised negative log-likelihood of held-out
  samples.  Time O(N·n_train·(d + epochs)), memory O(N·n_train) (the cached distance matrix).

Resource caps
-------------
Every baseline estimates the memory it will allocate **before** allocating anything and raises
:class:`MemoryLimitExceeded` (record the paper's "–") when the estimate exceeds
``memory_limit`` (default: 80 % of the currently available memory).  With ``time_limit`` (s) it
runs in a spawned child process that is killed at the cap, raising :class:`TimeLimitExceeded`
(record "> cap"); the parent never blocks past the cap and nothing is left running.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = [
    "ResourceLimitExceeded",
    "MemoryLimitExceeded",
    "TimeLimitExceeded",
    "KenResult",
    "RarityResult",
    "FldResult",
    "ken_exact",
    "rarity_score",
    "fld",
    "fused_kernel_matrix",
    "gaussian_kernel",
    "available_memory",
    "estimate_ken_bytes",
    "estimate_rarity_bytes",
    "estimate_fld_bytes",
]


# --------------------------------------------------------------------------------------------
# resource limits
# --------------------------------------------------------------------------------------------


class ResourceLimitExceeded(RuntimeError):
    """A baseline would exceed (or exceeded) a memory or time cap. ``table_entry`` is what to print."""

    table_entry = "?"

    def __init__(self, message: str, *, needed: float | None = None, limit: float | None = None):
        super().__init__(message)
        self.needed = needed
        self.limit = limit


class MemoryLimitExceeded(ResourceLimitExceeded):
    """Estimated memory (bytes, ``needed``) exceeds ``limit``: the paper's "–" (out of memory)."""

    table_entry = "–"


class TimeLimitExceeded(ResourceLimitExceeded):
    """The run passed ``limit`` seconds and was stopped: the paper's "> cap"."""

    @property
    def table_entry(self) -> str:  # type: ignore[override]
        return f"> {self.limit:g} s"


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo; psutil-free)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def _check_memory(needed: float, memory_limit: float | None, what: str) -> None:
    limit = float(memory_limit) if memory_limit is not None else 0.8 * available_memory()
    if needed > limit:
        raise MemoryLimitExceeded(
            f"{what} needs about {needed / 2**30:.2f} GiB, over the limit of {limit / 2**30:.2f} GiB",
            needed=needed,
            limit=limit,
        )


def _child_main(conn: Any, fn_name: str, paths: dict[str, str], kwargs: dict[str, Any]) -> None:
    try:
        arrays = {k: np.load(p, mmap_mode="r") for k, p in paths.items()}
        fn = globals()[fn_name]
        t0 = time.perf_counter()
        res = fn(**arrays, **kwargs)
        res.seconds = time.perf_counter() - t0
        conn.send(("ok", res))
    except BaseException as e:  # report any failure to the parent
        conn.send(("error", e))
    finally:
        conn.close()


def _run_capped(fn_name: str, arrays: dict[str, Any], kwargs: dict[str, Any], time_limit: float) -> Any:
    """Run ``fn_name(**arrays, **kwargs)`` in a spawned process killed after ``time_limit`` s."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="beyondfid-baseline-") as tmp:
        paths = {}
        for name, arr in arrays.items():
            path = os.path.join(tmp, f"{name}.npy")
            np.save(path, np.asarray(arr.detach().cpu() if isinstance(arr, torch.Tensor) else arr))
            paths[name] = path
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child_main, args=(child, fn_name, paths, kwargs), daemon=True)
        t0 = time.perf_counter()
        proc.start()
        child.close()
        try:
            if not parent.poll(time_limit):
                raise TimeLimitExceeded(
                    f"{fn_name} did not finish within {time_limit:g} s (stopped)", needed=None, limit=time_limit
                )
            try:
                status, payload = parent.recv()
            except EOFError:
                proc.join(5)
                raise MemoryLimitExceeded(
                    f"{fn_name} died (exit code {proc.exitcode}); most likely out of memory", limit=None
                ) from None
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(10)
            parent.close()
        if status == "error":
            raise payload
        payload.wall_seconds = time.perf_counter() - t0
        return payload


# --------------------------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------------------------


def _as_tensor(x: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D feature array, got shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty")
    t = x.detach().cpu() if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x, copy=True))
    t = t.to(dtype)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def _pairwise_sq_dists(a: torch.Tensor, b: torch.Tensor, block: int = 4096) -> torch.Tensor:
    """‖a_i − b_j‖² (clamped at 0), computed by GEMM in row blocks, in the dtype of a."""
    out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype)
    bn = (b * b).sum(1)
    for s in range(0, a.shape[0], block):
        blk = a[s : s + block]
        d2 = (blk * blk).sum(1)[:, None] + bn[None, :] - 2.0 * (blk @ b.T)
        out[s : s + block] = d2.clamp_min_(0)
    return out


def gaussian_kernel(a: Any, b: Any, sigma: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Exact Gaussian kernel matrix ``exp(−‖a_i − b_j‖² / (2σ²))``."""
    at = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a))
    bt = b if isinstance(b, torch.Tensor) else torch.from_numpy(np.asarray(b))
    d2 = _pairwise_sq_dists(at.to(dtype), bt.to(dtype))
    return torch.exp_(d2.mul_(-1.0 / (2.0 * sigma * sigma)))


def fused_kernel_matrix(Kxx: Any, Kxy: Any, Kyy: Any, eta: float) -> torch.Tensor:
    """KEN's fused matrix [[Kxx/n, √η Kxy/√(nm)], [−√η Kyx/√(nm), −η Kyy/m]] (unnormalised K in).

    Its non-zero eigenvalues equal those of ``C_X − η C_Y`` whenever ``Kxx = Φ_XΦ_Xᵀ``,
    ``Kxy = Φ_XΦ_Yᵀ``, ``Kyy = Φ_YΦ_Yᵀ`` and ``C = ΦᵀΦ / (rows)`` (see the module docstring).
    """
    Kxx, Kxy, Kyy = (torch.as_tensor(k) for k in (Kxx, Kxy, Kyy))
    n, m = Kxx.shape[0], Kyy.shape[0]
    cross = math.sqrt(eta / (n * m))
    top = torch.cat([Kxx / n, cross * Kxy], dim=1)
    bottom = torch.cat([-cross * Kxy.T, -(eta / m) * Kyy], dim=1)
    return torch.cat([top, bottom], dim=0)


# --------------------------------------------------------------------------------------------
# KEN
# --------------------------------------------------------------------------------------------


@dataclass
class KenResult:
    eigenvalues: np.ndarray  # positive eigenvalues (real parts), descending
    ken: float  # S · H(λ⁺/S), see beyondfid.finc.ken_score
    top_indices: list[np.ndarray]  # test indices of each mode's largest eigenvector entries
    n: int
    m: int
    seconds: float = 0.0
    wall_seconds: float = 0.0
    bytes_estimate: float = 0.0


def estimate_ken_bytes(n: int, m: int, *, eigenvectors: bool = True, itemsize: int = 4, d: int = 0) -> float:
    """Memory of :func:`ken_exact`: the N² fused matrix, LAPACK geev's copy, the real eigenvector
    matrix and the complex eigenvector output (N = n+m), plus one distance block."""
    N = n + m
    per = (1 + 1 + (1 + 2 if eigenvectors else 0)) * itemsize
    return N * N * per + 4096 * N * 8 + N * d * 8 + 64 * 2**20


def ken_exact(
    test: Any,
    ref: Any,
    *,
    sigma: float,
    eta: float = 1.0,
    top_k: int = 10,
    top_samples: int = 25,
    eigenvectors: bool = True,
    dtype: torch.dtype = torch.float32,
    memory_limit: float | None = None,
    time_limit: float | None = None,
) -> KenResult:
    """KEN with the exact Gaussian kernel (fused kernel matrix + dense ``geev``).

    ``dtype=torch.float32`` matches the official code's precision.  The modes' samples are the
    test indices with the largest entries of each eigenvector (oriented to a positive test sum),
    as in the official visualisation.  See :class:`ResourceLimitExceeded` for the caps.
    """
    if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if not (eta >= 0 and math.isfinite(eta)):
        raise ValueError(f"eta must be ≥ 0, got {eta}")
    n, d = _shape(test, "test")
    m, d2 = _shape(ref, "ref")
    if d != d2:
        raise ValueError(f"test has {d} dimensions, ref has {d2}")
    itemsize = torch.empty(0, dtype=dtype).element_size()
    need = estimate_ken_bytes(n, m, eigenvectors=eigenvectors, itemsize=itemsize, d=d)
    _check_memory(need, memory_limit, f"KEN (exact kernel, N={n + m})")
    kwargs = dict(sigma=sigma, eta=eta, top_k=top_k, top_samples=top_samples, eigenvectors=eigenvectors, dtype=dtype, memory_limit=float("inf"))
    if time_limit is not None:
        res = _run_capped("ken_exact", {"test": test, "ref": ref}, kwargs, time_limit)
        res.bytes_estimate = need
        return res
    t0 = time.perf_counter()
    x = _as_tensor(test, "test", torch.float64)
    y = _as_tensor(ref, "ref", torch.float64)
    K = torch.empty(n + m, n + m, dtype=dtype)
    cross = math.sqrt(eta / (n * m))
    K[:n, :n] = gaussian_kernel(x, x, sigma) / n
    kxy = gaussian_kernel(x, y, sigma) * cross
    K[:n, n:] = kxy
    K[n:, :n] = -kxy.T
    del kxy
    K[n:, n:] = gaussian_kernel(y, y, sigma) * (-eta / m)
    del x, y
    if eigenvectors:
        evals_c, evecs_c = torch.linalg.eig(K)
    else:
        evals_c, evecs_c = torch.linalg.eigvals(K), None
    del K
    evals = evals_c.real.to(torch.float64)
    order = torch.argsort(evals, descending=True)
    pos = order[evals[order] > 0]
    lam = evals[pos].numpy()
    from beyondfid.finc import ken_score

    tops: list[np.ndarray] = []
    if eigenvectors:
        for j in pos[: int(top_k)].tolist():
            v = evecs_c[:, j].real.to(torch.float64)
            if v[:n].sum() < 0:
                v = -v
            order_t = torch.argsort(v[:n], descending=True, stable=True)
            tops.append(order_t[: int(top_samples)].numpy())
    return KenResult(eigenvalues=lam, ken=ken_score(lam), top_indices=tops, n=n, m=m, seconds=time.perf_counter() - t0, bytes_estimate=need)


def _shape(x: Any, name: str) -> tuple[int, int]:
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D feature array, got shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return int(shape[0]), int(shape[1])


# --------------------------------------------------------------------------------------------
# Rarity score
# --------------------------------------------------------------------------------------------


@dataclass
class RarityResult:
    scores: np.ndarray  # (m,) rarity of each fake sample; NaN outside every real k-NN ball
    radii: np.ndarray  # (n,) k-NN radius of each real sample
    k: int
    seconds: float = 0.0
    wall_seconds: float = 0.0
    bytes_estimate: float = 0.0

    @property
    def in_manifold(self) -> np.ndarray:
        return ~np.isnan(self.scores)


def estimate_rarity_bytes(n_real: int, n_fake: int, *, block_size: int | None = None, itemsize: int = 4, d: int = 0) -> float:
    """Dense: the n×n real distances, the m×n fake-to-real distances, one m×n temporary (+ mask)
    and the GEMM temporaries of one 4,096-row distance block.  Blocked: two block×n distance
    blocks plus the same GEMM temporaries.  (Measured: n = m = 8,000, d = 64 dense: 1.02 GB
    peak extra RSS.)"""
    inputs = (n_real + n_fake) * d * itemsize
    gemm_temps = 3 * min(4096, max(n_real, n_fake)) * n_real * itemsize  # _pairwise_sq_dists blocks
    if block_size is None:
        return n_real * n_real * itemsize + n_fake * n_real * (2 * itemsize + 1) + gemm_temps + inputs + 64 * 2**20
    return 2 * block_size * n_real * (3 * itemsize + 1) + gemm_temps + inputs + 64 * 2**20


def rarity_score(
    real: Any,
    fake: Any,
    *,
    k: int = 3,
    block_size: int | None = None,
    dtype: torch.dtype = torch.float32,
    memory_limit: float | None = None,
    time_limit: float | None = None,
) -> RarityResult:
    """Rarity score of each fake sample w.r.t. the real set (see the module docstring).

    ``block_size=None`` holds the full distance matrices (the reference implementation's memory
    profile); an integer computes the same scores in row blocks of that size.
    """
    if int(k) < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    n, d = _shape(real, "real")
    m, d2 = _shape(fake, "fake")
    if d != d2:
        raise ValueError(f"real has {d} dimensions, fake has {d2}")
    if n <= k:
        raise ValueError(f"need more than k={k} real samples, got {n}")
    if block_size is not None and int(block_size) < 1:
        raise ValueError("block_size must be ≥ 1")
    itemsize = torch.empty(0, dtype=dtype).element_size()
    need = estimate_rarity_bytes(n, m, block_size=block_size, itemsize=itemsize, d=d)
    _check_memory(need, memory_limit, f"Rarity score (n_real={n}, n_fake={m})")
    kwargs = dict(k=k, block_size=block_size, dtype=dtype, memory_limit=float("inf"))
    if time_limit is not None:
        res = _run_capped("rarity_score", {"real": real, "fake": fake}, kwargs, time_limit)
        res.bytes_estimate = need
        return res
    t0 = time.perf_counter()
    xr = _as_tensor(real, "real", dtype)
    xf = _as_tensor(fake, "fake", dtype)
    blk = n if block_size is None else int(block_size)
    radii = torch.empty(n, dtype=dtype)
    # k-th nearest other real sample: the (k+1)-th smallest distance in a row that contains the
    # sample itself at distance 0 (duplicates count as neighbours, as in the reference code)
    for s in range(0, n, blk):
        dist = _pairwise_sq_dists(xr[s : s + blk], xr).sqrt_()
        dist[torch.arange(dist.shape[0]), torch.arange(s, s + dist.shape[0])] = 0.0
        radii[s : s + blk] = torch.kthvalue(dist, k + 1, dim=1).values
        del dist
    fblk = m if block_size is None else int(block_size)
    scores = torch.empty(m, dtype=torch.float64)
    for s in range(0, m, fblk):
        dist = _pairwise_sq_dists(xf[s : s + fblk], xr).sqrt_()
        inside = dist < radii[None, :]
        dist.copy_(radii[None, :].expand_as(dist)).masked_fill_(~inside, float("inf"))
        best = dist.min(dim=1).values.to(torch.float64)
        best[torch.isinf(best)] = float("nan")
        scores[s : s + fblk] = best
        del dist, inside
    return RarityResult(scores=scores.numpy(), radii=radii.to(torch.float64).numpy(), k=int(k), seconds=time.perf_counter() - t0, bytes_estimate=need)


# --------------------------------------------------------------------------------------------
# FLD
# --------------------------------------------------------------------------------------------


@dataclass
class FldResult:
    log_variances: np.ndarray  # (N,) fitted log σ_j² of each generated sample's Gaussian
    nll_train: float  # dimension-normalised NLL of the training set under the fitted MoG
    nll_test: float  # the same for the held-out set (FLD's "test" mode); nan if none given
    fld: float  # 100·(nll_test − baseline_nll) when a baseline is given or computed, else nan
    losses: list[float] = field(default_factory=list)
    epochs: int = 0
    origin_log_variance: float = float("nan")  # log-variance of the fitting-only origin component
    seconds: float = 0.0
    wall_seconds: float = 0.0
    bytes_estimate: float = 0.0


FLD_LR = 0.5
FLD_EPOCHS = 50
FLD_BATCH = 10000
FLD_ORIGIN_PROP = 0.1
FLD_CACHE_ROWS = 250_000


def estimate_fld_bytes(n_train: int, n_gen: int, n_test: int = 0, *, d: int = 0, batch_size: int = FLD_BATCH) -> float:
    """Cached train×gen distances (float32, when n_train < 250k), autograd temporaries of one
    batch (≈ 6 batch×gen float32), the test×gen distances, and the normalised inputs."""
    cache = 4 * n_train * n_gen if n_train < FLD_CACHE_ROWS else 0
    batch = 6 * 4 * min(batch_size, n_train) * n_gen
    evaluate = 3 * 4 * max(n_test, n_train if n_train >= FLD_CACHE_ROWS else 0, min(n_train, FLD_CACHE_ROWS)) * n_gen
    return cache + batch + evaluate + 4 * (n_train + n_gen + n_test) * d * 2 + 64 * 2**20


def _mog_pairwise_ll(d2: torch.Tensor, log_var: torch.Tensor, dim: int) -> torch.Tensor:
    """log N(x_i | μ_j, σ_j² I) from squared distances d2 (rows i, columns j) and log σ_j²."""
    return -0.5 * d2 / torch.exp(log_var) - 0.5 * dim * log_var - 0.5 * dim * math.log(2 * math.pi)


def _mog_ll(d2: torch.Tensor, log_var: torch.Tensor, dim: int) -> torch.Tensor:
    """log p(x_i) with p = (1/N) Σ_j N(x | μ_j, σ_j² I)."""
    return torch.logsumexp(_mog_pairwise_ll(d2, log_var, dim), dim=1) - math.log(d2.shape[1])


def fld(
    train: Any,
    gen: Any,
    test: Any = None,
    *,
    epochs: int = FLD_EPOCHS,
    lr: float = FLD_LR,
    batch_size: int = FLD_BATCH,
    normalize: bool = True,
    baseline_nll: float | None = None,
    seed: int = 0,
    tol: float = 5e-4,
    max_gen: int | None = None,
    memory_limit: float | None = None,
    time_limit: float | None = None,
) -> FldResult:
    """Fit FLD's per-sample isotropic MoG to ``train`` and score ``test`` (see module docstring).

    Follows the official procedure: features are standardised with the test set's per-dimension
    mean and std (the train set's if no test set); log σ_j² starts at
    ``log((min_i ‖t_i − x_j‖² + 1e-3) / d)``; Adam (lr 0.5) minimises the mean train NLL / d over
    shuffled batches of 10,000 for at most 50 epochs, stopping when the epoch loss changed less
    than 5e-4 against each of the previous 4 epochs (from the 7th epoch on); during fitting an extra component centred at the train mean
    (distances shrunk by (1 − 0.1)², its own log-variance, weight 1) bounds every train sample's
    likelihood away from 0; log σ_j² is clamped to [−40, 40].  The official metric also
    subsamples the generated set to 10,000 points; pass ``max_gen=10000`` for that (default: all,
    so every generated sample gets its own fitted σ_j).
    """
    n_tr, d = _shape(train, "train")
    n_gen, d2 = _shape(gen, "gen")
    if d != d2:
        raise ValueError(f"train has {d} dimensions, gen has {d2}")
    if max_gen is not None and n_gen > int(max_gen):
        pick = np.sort(np.random.default_rng(seed).choice(n_gen, size=int(max_gen), replace=False))
        gen = gen[torch.as_tensor(pick)] if isinstance(gen, torch.Tensor) else np.asarray(gen)[pick]
        n_gen = int(max_gen)
    n_te = 0
    if test is not None:
        n_te, d3 = _shape(test, "test")
        if d3 != d:
            raise ValueError(f"test has {d3} dimensions, train has {d}")
    if int(epochs) < 1 or not lr > 0 or int(batch_size) < 1:
        raise ValueError("epochs ≥ 1, lr > 0 and batch_size ≥ 1 are required")
    need = estimate_fld_bytes(n_tr, n_gen, n_te, d=d, batch_size=batch_size)
    _check_memory(need, memory_limit, f"FLD (n_train={n_tr}, n_gen={n_gen})")
    kwargs = dict(epochs=epochs, lr=lr, batch_size=batch_size, normalize=normalize, baseline_nll=baseline_nll, seed=seed, tol=tol, max_gen=None, memory_limit=float("inf"))
    if time_limit is not None:
        arrays = {"train": train, "gen": gen}
        if test is not None:
            arrays["test"] = test
        res = _run_capped("fld", arrays, kwargs, time_limit)
        res.bytes_estimate = need
        return res
    t0 = time.perf_counter()
    xtr = _as_tensor(train, "train", torch.float32)
    xg = _as_tensor(gen, "gen", torch.float32)
    xte = _as_tensor(test, "test", torch.float32) if test is not None else None
    if normalize:
        ref = xte if xte is not None else xtr
        mu, sd = ref.mean(0), ref.std(0)
        sd = torch.where(sd > 0, sd, torch.ones_like(sd))
        xtr, xg = (xtr - mu) / sd, (xg - mu) / sd
        if xte is not None:
            xte = (xte - mu) / sd
    g = torch.Generator().manual_seed(int(seed))
    xtr = xtr[torch.randperm(n_tr, generator=g)]
    mean_tr = xtr.mean(0, keepdim=True)

    cached = _pairwise_sq_dists(xtr, xg) if n_tr < FLD_CACHE_ROWS else None
    if cached is not None:
        min_d2 = cached.min(dim=0).values
    else:
        min_d2 = torch.full((n_gen,), float("inf"))
        for s in range(0, n_tr, batch_size):
            min_d2 = torch.minimum(min_d2, _pairwise_sq_dists(xtr[s : s + batch_size], xg).min(dim=0).values)
    log_var = ((min_d2 + 1e-3) / d).log().clone().requires_grad_(True)
    origin_log_var = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([log_var, origin_log_var], lr=lr)
    shrink = (1 - FLD_ORIGIN_PROP) ** 2
    losses: list[float] = []
    ep = 0
    for ep in range(1, int(epochs) + 1):
        ep_losses = []
        for s in range(0, n_tr, batch_size):
            opt.zero_grad()
            batch = xtr[s : s + batch_size]
            d2m = cached[s : s + batch_size] if cached is not None else _pairwise_sq_dists(batch, xg)
            pair = _mog_pairwise_ll(d2m, log_var, d) - math.log(n_gen)
            o_d2 = shrink * _pairwise_sq_dists(batch, mean_tr)
            o_ll = _mog_pairwise_ll(o_d2, origin_log_var.reshape(1), d)
            ll = torch.logsumexp(torch.cat([pair, o_ll], dim=1), dim=1)
            loss = -ll.mean() / d
            loss.backward()
            opt.step()
            with torch.no_grad():
                log_var.clamp_(-40, 40)
            ep_losses.append(loss.item())
        losses.append(sum(ep_losses) / len(ep_losses))
        if ep > 6 and max(abs(losses[-1] - losses[-j]) for j in range(2, 6)) < tol:
            break
    lv = log_var.detach()

    def nll(x: torch.Tensor) -> float:
        tot = 0.0
        for s in range(0, x.shape[0], batch_size):
            tot += float(_mog_ll(_pairwise_sq_dists(x[s : s + batch_size], xg), lv, d).sum())
        return -tot / x.shape[0] / d

    with torch.no_grad():
        nll_tr = nll(xtr)
        nll_te = nll(xte) if xte is not None else float("nan")
    value = 100.0 * (nll_te - baseline_nll) if (baseline_nll is not None and xte is not None) else float("nan")
    return FldResult(
        log_variances=lv.numpy().astype(np.float64),
        nll_train=nll_tr,
        nll_test=nll_te,
        fld=value,
        losses=losses,
        epochs=ep,
        origin_log_variance=float(origin_log_var.detach()),
        seconds=time.perf_counter() - t0,
        bytes_estimate=need,
    )
