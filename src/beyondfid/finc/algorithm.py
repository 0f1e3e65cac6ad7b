"""FINC: Fourier-based Identification of Novel Clusters (Zhang, Jalali, Li & Farnia, CVPR 2025).

Given a *test* feature set X (n × d) and a *reference* feature set Y (m × d), FINC finds the
clusters ("modes") that X expresses more often than Y.

Mathematics (exactly what this module computes)
------------------------------------------------
* Gaussian kernel ``k(x, y) = exp(-‖x - y‖² / (2σ²))``.
* Random frequencies ``W ∈ R^{d×r}`` with i.i.d. entries ``N(0, σ⁻²)`` (i.e. ``W ~ N(0, σ⁻² I)``),
  drawn from an explicit seed through a ``torch.Generator`` on the CPU (so the same seed gives the
  same W on every machine, device and process), or passed in.  W is stored in the result.
* Random Fourier features ``φ(x) = [cos(xW), sin(xW)] / √r ∈ R^{2r}``; then
  ``φ(x)·φ(y) = (1/r) Σ_j cos((x - y)·w_j) → k(x, y)`` as r → ∞ (Bochner).
* Uncentred covariances ``C_X = Φ_Xᵀ Φ_X / n`` and ``C_Y = Φ_Yᵀ Φ_Y / m`` (2r × 2r).
* ``Λ = C_X − η C_Y`` (the paper's Λ_{X|ρY}; the official code calls ρ "eta").  Λ is
  symmetric; it is decomposed with a float64 symmetric eigensolver: on CPU one Householder
  tridiagonal reduction (LAPACK ``dsytrd``) gives all eigenvalues (``dsterf``) and, by MRRR
  (``dstemr``) plus back-transformation, the eigenvectors of the top k only; on GPU
  ``torch.linalg.eigh``.  Both agree to round-off (``eig_method``; tested).
* Modes are the eigenvectors of Λ with **positive** eigenvalues, the top ``top_k`` of them.
  An eigenvalue counts as positive only above the round-off floor ``tol`` (ε₃₂·(1+η) for the
  default mixed precision, 2r·ε₆₄·(1+η) in float64; ``FincResult.tolerance``, see
  ``_positive_tolerance``); eigenvalues ≤ tol are never returned.
* Per-sample mode scores ``s_i = φ(x_i)·v``.  Each eigenvector is oriented so that
  ``Σ_i s_i > 0`` over the test set (computed exactly from the streamed feature mean:
  ``Σ_i s_i = n · mean_φ·v``, so the orientation needs no extra pass), and the top-scoring
  test samples of each mode are found in a second streaming pass with their dataset indices.

Streaming and precision
-----------------------
Features are never materialised for the whole set: rows are processed in chunks of
``chunk_size``.  For each chunk the projection ``xW`` is one float32 GEMM, cos and sin are
written into per-column-block buffers, and the Gram matrix ``ΦᵀΦ`` is accumulated **by
blocks of its upper triangle only** (a blocked SYRK: with the 2r columns cut into B blocks only
B(B+1)/2 of the B² block products are computed; on CPU the B diagonal ones are SYRKs, so the
update costs exactly half a full GEMM's FLOPs; with torch/GPU GEMMs it is (B+1)/(2B)).
Each chunk's block products are float32 GEMMs whose results are added into **float64**
accumulators, so the round-off of a float32 sum is confined to one chunk (≤ ``chunk_size``
terms) while the sum over chunks, and everything after it (Λ, eigh, normalisation), is
float64.  ``precision="float64"`` runs every step in float64 instead (about 2× slower on CPU).
The error accepted (``tests/test_finc.py::test_mixed_precision_error_is_small``; 40k + 40k
rows, d = 64, r = 500): relative Frobenius error of Λ ≈ 3e-7, of C_X ≈ 7e-8 (float32 rounding
of the features themselves dominates), top-10 eigenvalues within 2e-9·λ₁.
Peak extra memory is O(r² + chunk·r): the float64 accumulators (2 sets × (2r)²(1+1/B)/2
entries, 160 MB at r = 2,000), one set of chunk × 2r float32 feature buffers shared by both
streams (128 MB at the default chunk), then one (2r)² float64 Λ (128 MB) that the CPU
eigensolver reduces in place; measured ≈ 0.5 GB at r = 2,000.

Performance (CPU)
-----------------
Almost all the work is float32 GEMM.  On the project's AMD EPYC (Zen 5, AVX-512) machine the
MKL inside the PyTorch wheels ran single-threaded SGEMM at ≈ 47 GFLOP/s, NumPy's OpenBLAS at
≈ 100 GFLOP/s with its default (AVX2 "Haswell") kernels and ≈ 185 GFLOP/s with its AVX-512
kernels, which OpenBLAS 0.3.28–0.3.31 does not select by itself on this CPU family; so CPU GEMMs
go through NumPy (``blas="numpy"``) and users of AVX-512 CPUs should start Python with
``OPENBLAS_CORETYPE=SkylakeX`` (``benchmarks/finc_scaling.py`` does this when /proc/cpuinfo
lists avx512f and the variable is unset; this workplace sets ``OPENBLAS_CORETYPE=Haswell``).
NumPy computes ``a.T @ a`` on one buffer with SYRK (half the FLOPs), so the B diagonal blocks
cost half and the blocked Gram update does 50 % of a full GEMM's FLOPs, i.e. a complete SYRK.
cos/sin and the float64 additions stay in torch.  Threads: see
``_thread_policy`` (oversubscribed cores make multi-threaded BLAS collapse).

Distributed accumulation
------------------------
With ``distributed=True`` (``torch.distributed`` must be initialised: gloo on CPU, NCCL on
GPU, e.g. under ``torchrun``) each process passes **its own shard** of the test and reference
rows; the float64 sums and the row counts are ``all_reduce``-d, so every process obtains the
same Λ as one process holding all rows (up to float64 summation order).  Test-set indices are
global: a rank's rows are numbered after the rows of all lower ranks (shards are taken to be
contiguous in rank order), and the top samples of all ranks are merged.
Run ``torchrun --nproc_per_node=2 -m beyondfid.finc --help`` for a command-line entry point.

KEN-style novelty score
-----------------------
From the positive spectrum λ⁺ of Λ (Zhang, Li & Farnia, ICML 2024, as computed by their
official code): with ``S = Σ λ⁺`` ("total novel frequency") and ``p = λ⁺ / S``,
``KEN = S · H(p) = −Σ_i λ⁺_i log(λ⁺_i / S)`` (natural log).  See :func:`ken_score`.

Relation to the official code (github.com/buyeah1109/FINC)
----------------------------------------------------------
Same W scaling (``randn / σ``), feature map, 1/√r normalisation, ``C_X − η C_Y`` and
Σs > 0 sign rule.  Differences: the official code keeps the n × 2r feature matrix in memory
(O(n·r)), accumulates in float32 with batched outer products, and its feature extractor leaves
the dataset indices of the last partial batch at 0 (``idxes`` is not written on the overflow
branch, and it is a float32 tensor that cannot represent indices above 2²⁴ exactly).  Here
indices are int64 row numbers computed from the chunk offsets.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from ..stats import as_count

__all__ = [
    "FincResult",
    "RffCovariance",
    "BandwidthEstimate",
    "finc",
    "finc_swap",
    "finc_kwargs",
    "rff_covariances",
    "draw_frequencies",
    "rff_features",
    "median_bandwidth",
    "ken_score",
    "default_chunk_size",
    "mode_label_stats",
    "top_hit_share",
]

_EPS64 = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


def _shape2d(x: Any, name: str) -> tuple[int, int]:
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D array of features (rows = samples), got shape {shape}")
    n, d = int(shape[0]), int(shape[1])
    if n == 0:
        raise ValueError(f"{name} is empty (0 samples); FINC needs at least one sample in each set")
    if d == 0:
        raise ValueError(f"{name} has 0 feature dimensions")
    return n, d


def _rows(x: Any, start: int, stop: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Rows ``start:stop`` of ``x`` (numpy array, memmap or torch tensor) as a tensor on ``device``."""
    if isinstance(x, torch.Tensor):
        return x[start:stop].to(device=device, dtype=dtype, non_blocking=True)
    block = np.asarray(x[start:stop])
    if block.dtype != np.float32 and block.dtype != np.float64:
        block = block.astype(np.float64)
    block = np.ascontiguousarray(block)
    if not block.flags.writeable:  # read-only memmap: torch wants a writable buffer
        block = block.copy()
    t = torch.from_numpy(block)
    return t.to(device=device, dtype=dtype)


def _check_finite(x: Any, name: str, chunk: int) -> None:
    """Reject NaN/inf features, chunk by chunk (no full-size temporary)."""
    n = x.shape[0]
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        if isinstance(x, torch.Tensor):
            ok = bool(torch.isfinite(x[start:stop]).all())
        else:
            block = np.asarray(x[start:stop])
            if not np.issubdtype(block.dtype, np.number):
                raise ValueError(f"{name} must be numeric, got dtype {block.dtype}")
            ok = bool(np.isfinite(block).all())
        if not ok:
            bad = _first_bad_row(x[start:stop]) + start
            raise ValueError(f"{name} contains NaN or infinite values (first at row {bad})")


def _first_bad_row(block: Any) -> int:
    if isinstance(block, torch.Tensor):
        rows = (~torch.isfinite(block)).any(dim=1).nonzero()
        return int(rows[0, 0]) if len(rows) else 0
    rows = np.nonzero(~np.isfinite(np.asarray(block)).all(axis=1))[0]
    return int(rows[0]) if len(rows) else 0


def _resolve_device(device: Any, *inputs: Any) -> torch.device:
    if device is not None:
        return torch.device(device)
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return x.device
    return torch.device("cpu")


def default_chunk_size(rff_dim: int, budget_bytes: int = 128 * 2**20) -> int:
    """Rows per chunk so that one chunk's 2r float32 features take about ``budget_bytes``.

    8,192 rows at r = 2,000.  Larger chunks make each block GEMM longer (closer to the GEMM
    peak); the float32 round-off barely depends on it (relative Frobenius error of Λ against
    the all-float64 path: 2.4e-7 at 1,024 rows, 3.1e-7 at 8,192, 4.5e-7 at 16,384 rows in a
    40k + 40k, d = 64, r = 500 experiment; top-10 eigenvalues within 2e-9·λ₁).
    """
    rows = budget_bytes // (8 * max(1, rff_dim))
    return int(min(16384, max(256, rows - rows % 256)))


# --------------------------------------------------------------------------------------------
# random Fourier features
# --------------------------------------------------------------------------------------------


def draw_frequencies(d: int, rff_dim: int, sigma: float, seed: int = 0) -> np.ndarray:
    """W ∈ R^{d×r}, entries i.i.d. N(0, σ⁻²), from ``torch.Generator().manual_seed(seed)`` (float32).

    The draw is made on the CPU, so it is identical on every device and in every process.
    """
    _check_sigma(sigma)
    rff_dim = as_count(rff_dim, "rff_dim", 1)
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    w = torch.randn(int(d), rff_dim, generator=g, dtype=torch.float32) / float(sigma)
    return w.numpy()


def rff_features(x: Any, W: Any, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Explicit feature map ``φ(x) = [cos(xW), sin(xW)] / √r`` (all rows at once; small data only)."""
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(dtype)
    wt = torch.as_tensor(np.asarray(W) if not isinstance(W, torch.Tensor) else W).to(dtype)
    p = xt @ wt
    return torch.cat([torch.cos(p), torch.sin(p)], dim=1) / math.sqrt(wt.shape[1])


def _column_blocks(r: int, n_blocks: int) -> list[tuple[int, int]]:
    """Split range(r) into ``n_blocks`` contiguous blocks of near-equal width."""
    n_blocks = max(1, min(n_blocks, r))
    edges = np.linspace(0, r, n_blocks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _default_blocks_per_half(r: int) -> int:
    # Blocks of ~1000 columns keep each block GEMM large enough to run near the GEMM peak while
    # skipping the lower triangle (B = 2·blocks_per_half blocks, B(B+1)/2 products; on the NumPy
    # path the B diagonal products are SYRKs, so the total is exactly a SYRK's FLOPs for any B).
    return max(1, min(4, round(r / 1000)))


class RffCovariance:
    """Streaming accumulator of ``Σ_i φ(x_i) φ(x_i)ᵀ`` and ``Σ_i φ(x_i)`` for one feature set.

    Internally the 2r feature columns are ordered ``[cos blocks..., sin blocks...]`` (the same
    order as φ) and cut into B contiguous blocks; only the B(B+1)/2 upper-triangular block
    products are accumulated (float64).  ``matrix()`` returns the full symmetric
    ``C = ΦᵀΦ / count`` (float64, scaled by 1/r as in φ).
    """

    def __init__(
        self,
        W: torch.Tensor,
        *,
        device: torch.device,
        precision: str = "mixed",
        blocks_per_half: int | None = None,
        blas: str = "auto",
    ):
        if precision not in ("mixed", "float64"):
            raise ValueError(f"precision must be 'mixed' or 'float64', got {precision!r}")
        if blas not in ("auto", "numpy", "torch"):
            raise ValueError(f"blas must be 'auto', 'numpy' or 'torch', got {blas!r}")
        self.device = torch.device(device)
        # CPU GEMMs go through NumPy's BLAS (OpenBLAS) unless blas="torch" (MKL in the PyTorch
        # wheels): see the module docstring, "Performance"
        if blas == "auto":
            blas = os.environ.get("BEYONDFID_BLAS", "numpy")
        self.numpy_blas = self.device.type == "cpu" and blas == "numpy"
        self.precision = precision
        self.compute_dtype = torch.float32 if precision == "mixed" else torch.float64
        self.W = W.to(device=self.device, dtype=self.compute_dtype)
        self.d, self.r = self.W.shape
        bph = blocks_per_half or _default_blocks_per_half(self.r)
        half = _column_blocks(self.r, bph)
        self.W_blocks = [self.W[:, a:b].contiguous() for a, b in half]
        # feature blocks: (kind, a, b) with kind 0 = cos, 1 = sin; offsets in the 2r vector
        self.blocks = [(0, a, b) for a, b in half] + [(1, a, b) for a, b in half]
        self.offsets = [a if k == 0 else self.r + a for k, a, _ in self.blocks]
        self.widths = [b - a for _, a, b in self.blocks]
        nb = len(self.blocks)
        self.pairs = [(s, t) for s in range(nb) for t in range(s, nb)]
        self.gram: dict[tuple[int, int], torch.Tensor] = {}  # allocated on the first update
        self.sums = [torch.zeros(w, dtype=torch.float64, device=self.device) for w in self.widths]
        self.count = 0
        self._scratch: dict[tuple[int, int], torch.Tensor] = {}
        self._buffers: dict[int, list[torch.Tensor]] = {}

    # -- streaming -----------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unscaled feature blocks ``[cos(xW_j)...] + [sin(xW_j)...]`` of one chunk (reused buffers)."""
        rows = x.shape[0]
        bufs = self._buffers.get(rows)
        if bufs is None:
            # keep buffers for at most two row counts (full chunk and the last partial one)
            if len(self._buffers) >= 2:
                self._buffers.pop(next(iter(self._buffers)))
            bufs = [torch.empty(rows, w, dtype=self.compute_dtype, device=self.device) for w in self.widths]
            bufs.append(torch.empty(rows, max(self.widths), dtype=self.compute_dtype, device=self.device))
            self._buffers[rows] = bufs
        proj_full = bufs[-1]
        nh = len(self.W_blocks)
        for j, wj in enumerate(self.W_blocks):
            proj = proj_full.view(-1)[: rows * wj.shape[1]].view(rows, wj.shape[1])  # contiguous
            self._mm(x, wj, proj)
            torch.cos(proj, out=bufs[j])
            torch.sin(proj, out=bufs[nh + j])
        return bufs[:-1]

    def _mm(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = a @ b (out contiguous; a, b may be transposed views)."""
        if self.numpy_blas:
            np.matmul(a.numpy(), b.numpy(), out=out.numpy())
        else:
            torch.mm(a, b, out=out)
        return out

    def update(self, x: torch.Tensor) -> None:
        """Add the rows of one chunk (a tensor on ``self.device``)."""
        if x.shape[0] == 0:
            return
        x = x.to(device=self.device, dtype=self.compute_dtype)
        feats = self.features(x)
        if not self.gram:
            self._allocate()
        for s, t in self.pairs:
            if self.compute_dtype == torch.float64 and not self.numpy_blas:
                self.gram[(s, t)].addmm_(feats[s].T, feats[t])
            else:
                key = (self.widths[s], self.widths[t])
                buf = self._scratch.get(key)
                if buf is None:
                    buf = torch.empty(*key, dtype=self.compute_dtype, device=self.device)
                    self._scratch[key] = buf
                self._mm(feats[s].T, feats[t], buf)
                self.gram[(s, t)].add_(buf)
        for j, f in enumerate(feats):
            self.sums[j].add_(f.sum(dim=0, dtype=torch.float64) if self.compute_dtype == torch.float64 else f.sum(dim=0))
        self.count += int(x.shape[0])

    def _allocate(self) -> None:
        for s, t in self.pairs:
            self.gram[(s, t)] = torch.zeros(self.widths[s], self.widths[t], dtype=torch.float64, device=self.device)

    def release(self) -> None:
        """Free the Gram accumulators and feature buffers (keeps W, the sums and the count)."""
        self.gram = {}
        self._scratch = {}
        self._buffers = {}

    def all_reduce(self, group: Any = None) -> None:
        """Sum the accumulators and the row count over all processes of ``group``."""
        import torch.distributed as dist

        if not self.gram:  # an empty shard still takes part in the reduction
            self._allocate()
        for p in self.pairs:
            dist.all_reduce(self.gram[p], op=dist.ReduceOp.SUM, group=group)
        for s in self.sums:
            dist.all_reduce(s, op=dist.ReduceOp.SUM, group=group)
        c = torch.tensor([self.count], dtype=torch.float64, device=self.device)
        dist.all_reduce(c, op=dist.ReduceOp.SUM, group=group)
        self.count = int(round(float(c.item())))

    # -- results -----------------------------------------------------------------------------
    def add_to(self, out: torch.Tensor, alpha: float) -> torch.Tensor:
        """``out += alpha · Σ_i ψ(x_i)ψ(x_i)ᵀ`` (ψ = [cos, sin], unscaled), block by block, in place."""
        if not self.gram:
            return out
        for s, t in self.pairs:
            a, b = self.offsets[s], self.offsets[t]
            ws, wt = self.widths[s], self.widths[t]
            g = self.gram[(s, t)]
            if s == t:
                # float32 GEMM round-off may break exact symmetry of a diagonal block
                out[a : a + ws, b : b + wt].add_(g, alpha=0.5 * alpha).add_(g.T, alpha=0.5 * alpha)
            else:
                out[a : a + ws, b : b + wt].add_(g, alpha=alpha)
                out[b : b + wt, a : a + ws].add_(g.T, alpha=alpha)
        return out

    def matrix(self) -> torch.Tensor:
        """``C = ΦᵀΦ / count`` with φ = [cos, sin]/√r (float64, 2r × 2r, symmetric)."""
        if self.count == 0:
            raise ValueError("covariance of an empty set")
        n2 = 2 * self.r
        out = torch.zeros(n2, n2, dtype=torch.float64, device=self.device)
        return self.add_to(out, 1.0 / (self.count * self.r))

    def mean_feature(self) -> torch.Tensor:
        """``Σ_i φ(x_i) / count`` (float64, 2r)."""
        out = torch.empty(2 * self.r, dtype=torch.float64, device=self.device)
        for j, s in enumerate(self.sums):
            out[self.offsets[j] : self.offsets[j] + self.widths[j]] = s
        return out / (self.count * math.sqrt(self.r))

    def scores(self, x: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """``φ(x) V`` for one chunk; V is 2r × k (float64, any device); returns float64 rows × k."""
        x = x.to(device=self.device, dtype=self.compute_dtype)
        feats = self.features(x)
        Vc = V.to(device=self.device, dtype=self.compute_dtype)
        out = torch.zeros(x.shape[0], V.shape[1], dtype=self.compute_dtype, device=self.device)
        part = torch.empty_like(out)
        for j, f in enumerate(feats):
            vj = Vc[self.offsets[j] : self.offsets[j] + self.widths[j]].contiguous()
            out.add_(self._mm(f, vj, part))
        return out.to(torch.float64) / math.sqrt(self.r)


# --------------------------------------------------------------------------------------------
# helpers: bandwidth, KEN
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BandwidthEstimate:
    """Result of :func:`median_bandwidth`: ``sigma`` is the value to use."""

    sigma: float
    n_samples: int
    n_pairs: int
    method: str = "median pairwise Euclidean distance"

    def __float__(self) -> float:
        return float(self.sigma)


def _pooled_pair_distances(x: Any, y: Any, max_samples: int, seed: int) -> tuple[torch.Tensor, int]:
    """Distances ‖a − b‖ (float64) over distinct pairs of a seeded subsample of the pooled rows of x and y,
    and the subsample's size."""
    n, d = _shape2d(x, "x")
    parts = [(x, n)]
    if y is not None:
        m, dy = _shape2d(y, "y")
        if dy != d:
            raise ValueError(f"x has {d} dimensions but y has {dy}")
        parts.append((y, m))
    total = sum(p[1] for p in parts)
    rng = np.random.default_rng(seed)
    take = min(int(max_samples), total)
    if take < 2:
        return torch.zeros(0, dtype=torch.float64), take
    pick = np.sort(rng.choice(total, size=take, replace=False))
    rows = []
    offset = 0
    for arr, cnt in parts:
        sel = pick[(pick >= offset) & (pick < offset + cnt)] - offset
        if len(sel):
            a = arr[torch.as_tensor(sel)] if isinstance(arr, torch.Tensor) else np.asarray(arr)[sel]
            rows.append(torch.as_tensor(np.asarray(a.cpu() if isinstance(a, torch.Tensor) else a), dtype=torch.float64))
        offset += cnt
    z = torch.cat(rows)
    if not torch.isfinite(z).all():
        raise ValueError("features contain NaN or infinite values")
    dist = torch.cdist(z, z, compute_mode="donot_use_mm_for_euclid_dist")
    iu = torch.triu_indices(take, take, offset=1)
    return dist[iu[0], iu[1]], take


#: finc() warns when σ is below 1/SIGMA_RANGE_FACTOR of the smallest or above SIGMA_RANGE_FACTOR
#: times the largest pairwise distance of a sample of the data: there every kernel value between
#: distinct samples is < e^-50 (each sample its own mode) or > e^-0.005 (one flat blob).
SIGMA_RANGE_FACTOR = 10.0


def _warn_if_sigma_off_scale(sigma: float, test: Any, ref: Any, seed: int) -> None:
    try:
        vals, take = _pooled_pair_distances(test, ref, 256, seed)
    except ValueError:  # non-finite rows with check_finite=False: the caller vouched for the data
        return
    vals = vals[vals > 0]
    if not vals.numel():
        return
    lo, hi = float(vals.min()), float(vals.max())
    if sigma < lo / SIGMA_RANGE_FACTOR or sigma > hi * SIGMA_RANGE_FACTOR:
        warnings.warn(
            f"sigma={sigma:g} is far outside the pairwise distances of the data ({lo:.3g} .. {hi:.3g} on a "
            f"sample of {take} rows): the Gaussian kernel "
            f"is then {'~0 between any two samples, so every sample is its own mode' if sigma < lo else 'nearly constant, so there are no clusters'}; "
            "use sigma='median' or a value inside that range",
            RuntimeWarning, stacklevel=3,
        )


def median_bandwidth(
    x: Any, y: Any = None, *, max_samples: int = 2000, seed: int = 0, verbose: bool = False
) -> BandwidthEstimate:
    """Median heuristic: σ = median of ‖a − b‖ over distinct pairs of a random subsample.

    The subsample (at most ``max_samples`` rows, drawn without replacement with ``seed``) is
    taken from the pooled rows of ``x`` and ``y`` (if given).  Distances are computed in
    float64.  Returns a :class:`BandwidthEstimate` recording the value and how it was obtained.
    """
    vals, take = _pooled_pair_distances(x, y, max_samples, seed)
    if take < 2:
        raise ValueError("the median heuristic needs at least 2 samples")
    sigma = float(np.median(vals.numpy()))  # average of the two middle values for an even count
    if not sigma > 0:
        raise ValueError("median pairwise distance is 0 (duplicated samples?); give sigma explicitly")
    est = BandwidthEstimate(sigma=sigma, n_samples=take, n_pairs=int(vals.numel()))
    if verbose:
        print(f"median heuristic: sigma = {sigma:.6g} from {take} samples ({vals.numel()} pairs)")
    return est


def ken_score(eigenvalues: Any) -> float:
    """KEN-style novelty from a spectrum: ``S·H(λ⁺/S) = −Σ λ⁺ log(λ⁺/S)``, ``S = Σ λ⁺``.

    Only strictly positive eigenvalues enter (λ⁺); natural logarithm; 0 if none is positive.
    This is the quantity the official KEN code reports as "KEN score" (Shannon entropy of the
    normalised positive eigenvalues times their sum).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64).ravel()
    lam = lam[lam > 0]
    if lam.size == 0:
        return 0.0
    s = lam.sum()
    p = lam / s
    return float(-(lam * np.log(p)).sum())


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------


@dataclass
class FincResult:
    """Output of :func:`finc`.

    ``eigenvalues`` (k,) positive, descending; ``eigenvectors`` (2r, k), column i oriented so
    that the test scores of mode i sum to a positive number; ``top_indices[i]`` test-set row
    indices of mode i's best samples, best first (``top_scores[i]`` their scores).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    W: np.ndarray
    top_indices: list[np.ndarray]
    top_scores: list[np.ndarray]
    sigma: float
    eta: float
    rff_dim: int
    seed: int
    n_test: int
    n_ref: int
    n_positive: int
    positive_eigenvalues: np.ndarray
    tolerance: float
    top_k_requested: int
    message: str = ""
    sigma_source: str = "given"
    precision: str = "mixed"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def k(self) -> int:
        """Number of modes returned (≤ ``top_k_requested``)."""
        return int(self.eigenvalues.shape[0])

    @property
    def novelty(self) -> float:
        """KEN-style novelty of the positive spectrum (see :func:`ken_score`)."""
        return ken_score(self.positive_eigenvalues)

    @property
    def novel_mass(self) -> float:
        """Sum of the positive eigenvalues (the KEN paper's "total novel frequency")."""
        return float(np.sum(self.positive_eigenvalues))

    def score(
        self,
        features: Any,
        *,
        modes: Sequence[int] | None = None,
        chunk_size: int | None = None,
        device: Any = None,
    ) -> np.ndarray:
        """Scores ``φ(x)·v_i`` of any feature set (N × k float64), same orientation as the modes."""
        n, d = _shape2d(features, "features")
        if d != self.W.shape[0]:
            raise ValueError(f"features have {d} dimensions but W was drawn for {self.W.shape[0]}")
        dev = _resolve_device(device, features)
        cols = list(range(self.k)) if modes is None else list(modes)
        V = torch.from_numpy(np.ascontiguousarray(self.eigenvectors[:, cols]))
        acc = RffCovariance(torch.from_numpy(self.W), device=dev, precision=self.precision)
        chunk = int(chunk_size or default_chunk_size(self.rff_dim))
        _check_finite(features, "features", chunk)
        out = np.empty((n, len(cols)), dtype=np.float64)
        with torch.no_grad(), _thread_policy(dev):
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                out[start:stop] = acc.scores(_rows(features, start, stop, dev, acc.compute_dtype), V).cpu().numpy()
        return out

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Atomically write the result as an uncompressed ``.npz`` (no pickled objects)."""
        from beyondfid.io import save_npz

        k = self.k
        n_top = max((len(t) for t in self.top_indices), default=0)
        idx = np.full((k, n_top), -1, dtype=np.int64)
        sc = np.full((k, n_top), np.nan, dtype=np.float64)
        for i in range(k):
            idx[i, : len(self.top_indices[i])] = self.top_indices[i]
            sc[i, : len(self.top_scores[i])] = self.top_scores[i]
        return save_npz(
            path,
            eigenvalues=self.eigenvalues,
            eigenvectors=self.eigenvectors,
            W=self.W,
            top_indices=idx,
            top_scores=sc,
            positive_eigenvalues=self.positive_eigenvalues,
            sigma=np.float64(self.sigma),
            eta=np.float64(self.eta),
            rff_dim=np.int64(self.rff_dim),
            seed=np.int64(self.seed),
            n_test=np.int64(self.n_test),
            n_ref=np.int64(self.n_ref),
            n_positive=np.int64(self.n_positive),
            tolerance=np.float64(self.tolerance),
            top_k_requested=np.int64(self.top_k_requested),
            message=np.str_(self.message),
            sigma_source=np.str_(self.sigma_source),
            precision=np.str_(self.precision),
            timing_names=np.array(list(self.timings.keys()), dtype=np.str_),
            timing_values=np.array(list(self.timings.values()), dtype=np.float64),
        )

    @classmethod
    def load(cls, path: str | Path) -> "FincResult":
        from beyondfid.io import load_npz

        z = load_npz(path)
        idx, sc = z["top_indices"], z["top_scores"]
        tops = [row[row >= 0] for row in idx]
        scores = [srow[: len(t)] for srow, t in zip(sc, tops)]
        return cls(
            eigenvalues=z["eigenvalues"],
            eigenvectors=z["eigenvectors"],
            W=z["W"],
            top_indices=tops,
            top_scores=scores,
            sigma=float(z["sigma"]),
            eta=float(z["eta"]),
            rff_dim=int(z["rff_dim"]),
            seed=int(z["seed"]),
            n_test=int(z["n_test"]),
            n_ref=int(z["n_ref"]),
            n_positive=int(z["n_positive"]),
            positive_eigenvalues=z["positive_eigenvalues"],
            tolerance=float(z["tolerance"]),
            top_k_requested=int(z["top_k_requested"]),
            message=str(z["message"]),
            sigma_source=str(z["sigma_source"]),
            precision=str(z["precision"]),
            timings=dict(zip([str(s) for s in z["timing_names"]], [float(v) for v in z["timing_values"]])),
        )


# --------------------------------------------------------------------------------------------
# the algorithm
# --------------------------------------------------------------------------------------------


def _check_sigma(sigma: Any) -> None:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating, np.integer)):
        raise TypeError(f"sigma must be a positive number or 'median', got {sigma!r}")
    if not (math.isfinite(float(sigma)) and float(sigma) > 0):
        raise ValueError(f"sigma (kernel bandwidth) must be a finite number > 0, got {sigma}")


def _positive_tolerance(r: int, eta: float, precision: str) -> float:
    """Smallest eigenvalue of Λ reported as positive.

    ‖φ(x)‖ = 1, so tr C_X = tr C_Y = 1 and ‖Λ‖₂ ≤ 1 + η.  With all-float64 arithmetic the
    round-off of Λ's spectrum is below 2r·ε₆₄·(1 + η).  The mixed path rounds features and
    per-chunk products to float32; its measured noise floor (largest eigenvalue of Λ for two
    row-permutations of the same set, η = 1) is 2e-10 – 2e-9, and ε₃₂·(1 + η) ≈ 2.4e-7 sits
    100× above it while far below any meaningful mode (an eigenvalue is roughly the excess
    probability mass of its mode).
    """
    eps = float(np.finfo(np.float32).eps) if precision == "mixed" else 2 * r * _EPS64
    return eps * (1.0 + eta)


def _iter_chunks(n: int, chunk: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, chunk):
        yield start, min(n, start + chunk)


def _merge_top(
    best_v: np.ndarray | None, best_i: np.ndarray | None, vals: np.ndarray, idx: np.ndarray, n_top: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep, per column (mode), the ``n_top`` largest scores; ties broken by smaller index."""
    if best_v is not None:
        vals = np.concatenate([best_v, vals], axis=0)
        idx = np.concatenate([best_i, idx], axis=0)
    k = vals.shape[1]
    keep = min(n_top, vals.shape[0])
    out_v = np.empty((keep, k))
    out_i = np.empty((keep, k), dtype=np.int64)
    for j in range(k):
        order = np.lexsort((idx[:, j], -vals[:, j]))[:keep]
        out_v[:, j] = vals[order, j]
        out_i[:, j] = idx[order, j]
    return out_v, out_i


def rff_covariances(
    test: Any,
    ref: Any,
    *,
    W: Any,
    chunk_size: int | None = None,
    device: Any = None,
    precision: str = "mixed",
    distributed: bool = False,
    process_group: Any = None,
    blocks_per_half: int | None = None,
    blas: str = "auto",
) -> tuple[RffCovariance, RffCovariance]:
    """Stream both sets once and return their accumulators (``.matrix()`` gives C_X and C_Y).

    No input validation beyond shapes (see :func:`finc`).  With ``distributed=True`` the sums
    and counts are all-reduced over ``process_group`` before returning, so
    ``cx.matrix() − η·cy.matrix()`` is the Λ of the union of all processes' rows.
    """
    W_np = np.asarray(W.detach().cpu() if isinstance(W, torch.Tensor) else W, dtype=np.float32)
    dev = _resolve_device(device, test, ref)
    chunk = int(chunk_size or default_chunk_size(W_np.shape[1]))
    Wt = torch.from_numpy(W_np)
    cov_x = RffCovariance(Wt, device=dev, precision=precision, blocks_per_half=blocks_per_half, blas=blas)
    cov_y = RffCovariance(Wt, device=dev, precision=precision, blocks_per_half=blocks_per_half, blas=blas)
    cov_y._buffers = cov_x._buffers  # one set of chunk buffers for both streams
    cov_y._scratch = cov_x._scratch
    cdt = cov_x.compute_dtype
    with torch.no_grad():
        for a, b in _iter_chunks(int(test.shape[0]), chunk):
            cov_x.update(_rows(test, a, b, dev, cdt))
        for a, b in _iter_chunks(int(ref.shape[0]), chunk):
            cov_y.update(_rows(ref, a, b, dev, cdt))
        if distributed:
            cov_x.all_reduce(process_group)
            cov_y.all_reduce(process_group)
    return cov_x, cov_y


def finc(
    test: Any,
    ref: Any,
    *,
    sigma: float | str,
    eta: float = 1.0,
    rff_dim: int = 2000,
    top_k: int = 10,
    seed: int = 0,
    chunk_size: int | None = None,
    W: Any = None,
    top_samples: int = 25,
    device: Any = None,
    precision: str = "mixed",
    distributed: bool = False,
    process_group: Any = None,
    blocks_per_half: int | None = None,
    eig_method: str = "auto",
    threads: int | None = None,
    blas: str = "auto",
    check_finite: bool = True,
    verbose: bool = False,
) -> FincResult:
    """Find the modes of ``test`` that are over-represented relative to ``ref`` (FINC).

    Parameters
    ----------
    test, ref
        Feature matrices (n × d and m × d): numpy arrays, memmaps or torch tensors (float32 or
        float64).  They are read chunk by chunk and never copied whole.
    sigma
        Gaussian-kernel bandwidth (> 0), or ``"median"`` for :func:`median_bandwidth` on the
        pooled sets (the value used is ``result.sigma``).
    eta
        Novelty threshold η ≥ 0 in ``Λ = C_X − η C_Y`` (the paper's ρ).
    rff_dim
        Number r ≥ 1 of random frequencies (features have 2r dimensions).  Ignored when ``W``
        is given unless it disagrees with W's shape (then an error is raised).
    top_k
        Number of modes requested; fewer are returned (with ``result.message``) when Λ has
        fewer positive eigenvalues.
    seed
        Seed of the frequency draw (:func:`draw_frequencies`).
    chunk_size
        Rows per streaming chunk (default :func:`default_chunk_size`).  Results do not depend
        on it beyond float32 round-off inside a chunk.
    W
        Frequencies (d × r) to use instead of drawing them.
    top_samples
        Number of best test samples reported per mode.
    device
        ``"cpu"``, ``"cuda"``, … (default: the device of a tensor input, else CPU).
    precision
        ``"mixed"`` (float32 GEMMs, float64 accumulation; default) or ``"float64"``.
    distributed, process_group
        Sum the covariance accumulators over ``torch.distributed`` processes (each passes its
        own shard).  See the module docstring.
    blocks_per_half
        Column blocks per cos/sin half for the blocked Gram update (default: r/1000, 1 to 4).
    eig_method
        ``"tridiagonal"`` (CPU: one LAPACK ``dsytrd`` reduction, all eigenvalues by ``dsterf``,
        only the top-k eigenvectors by MRRR ``dstemr`` and Householder back-transformation),
        ``"eigh"`` (full ``torch.linalg.eigh``), or ``"auto"`` (tridiagonal on CPU, eigh on GPU).
        Both are float64 and agree to round-off (tested).
    threads
        CPU threads for torch and BLAS (default: ``torch.get_num_threads()``, see
        ``_thread_policy``; the number used is ``result.timings["threads"]``).
    blas
        CPU GEMM library: ``"numpy"`` (NumPy's OpenBLAS; the default, see "Performance" in the
        module docstring) or ``"torch"`` (PyTorch's MKL).  Ignored on GPU.
    """
    import time

    t0 = time.perf_counter()
    n_local, d = _shape2d(test, "test")
    m_local, d_ref = _shape2d(ref, "ref")
    if d != d_ref:
        raise ValueError(f"test has {d} feature dimensions but ref has {d_ref}")
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.floating, np.integer)):
        raise TypeError(f"eta must be a number ≥ 0, got {eta!r}")
    if not (math.isfinite(float(eta)) and float(eta) >= 0):
        raise ValueError(f"eta (novelty threshold) must be a finite number ≥ 0, got {eta}")
    top_k = as_count(top_k, "top_k", 1)
    top_samples = as_count(top_samples, "top_samples", 1)
    if W is None or rff_dim is not None:
        rff_dim = as_count(rff_dim, "rff_dim", 1)
    if chunk_size is not None:
        chunk_size = as_count(chunk_size, "chunk_size", 1)
    if distributed:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("distributed=True needs torch.distributed to be initialised (e.g. under torchrun)")

    dev = _resolve_device(device, test, ref)
    sigma_source = "given"
    if isinstance(sigma, str):
        if sigma != "median":
            raise ValueError(f"sigma must be a positive number or 'median', got {sigma!r}")
        if distributed:
            raise ValueError("sigma='median' is per-process; compute it once and pass the number when distributed")
        est = median_bandwidth(test, ref, seed=seed)
        sigma = est.sigma
        sigma_source = f"median heuristic ({est.n_samples} samples)"
        if verbose:
            print(f"[finc] sigma = {sigma:.6g} ({sigma_source})")
    _check_sigma(sigma)
    sigma = float(sigma)

    if W is None:
        W_np = draw_frequencies(d, int(rff_dim), sigma, seed)
    else:
        W_np = np.asarray(W.detach().cpu() if isinstance(W, torch.Tensor) else W, dtype=np.float32)
        if W_np.ndim != 2 or W_np.shape[0] != d:
            raise ValueError(f"W must have shape (d={d}, r), got {W_np.shape}")
        if W_np.shape[1] < 1:
            raise ValueError("W must have at least one column (r ≥ 1)")
        if not np.isfinite(W_np).all():
            raise ValueError("W contains NaN or infinite values")
        if rff_dim not in (None, 2000) and int(rff_dim) != W_np.shape[1]:
            raise ValueError(f"rff_dim={rff_dim} disagrees with W, which has {W_np.shape[1]} columns")
    r = int(W_np.shape[1])
    chunk = int(chunk_size or default_chunk_size(r))

    if check_finite:
        _check_finite(test, "test", chunk)
        _check_finite(ref, "ref", chunk)
    if W is None and not distributed:
        _warn_if_sigma_off_scale(sigma, test, ref, seed)
    t_checked = time.perf_counter()

    with torch.no_grad(), _thread_policy(dev, threads) as policy:
        cov_x, cov_y = rff_covariances(
            test, ref, W=W_np, chunk_size=chunk, device=dev, precision=precision,
            distributed=distributed, process_group=process_group, blocks_per_half=blocks_per_half,
            blas=blas,
        )
        cdt = cov_x.compute_dtype
        t_cov = time.perf_counter()
        if min(cov_x.count, cov_y.count) < 2:
            warnings.warn(
                f"FINC on {cov_x.count} test sample(s) and {cov_y.count} reference sample(s): a mode is a cluster "
                f"of samples, and a set with fewer than 2 cannot show one; the modes returned are single points",
                RuntimeWarning, stacklevel=2,
            )

        # Λ = C_X − η C_Y assembled in place (one 2r × 2r float64 buffer), then the
        # accumulators are released before the eigensolver runs
        cov_x._buffers.clear()  # chunk buffers (shared by both streams) are not needed now
        lam_mat = cov_x.matrix()
        cov_y.add_to(lam_mat, -float(eta) / (cov_y.count * cov_y.r))
        cov_x.release()
        cov_y.release()
        solver = _SymmetricEigen(lam_mat, method=eig_method)
        del lam_mat
        evals = solver.values  # all eigenvalues, descending (float64)
        if distributed:  # every rank uses rank 0's decomposition (bitwise-identical modes)
            evals = _broadcast(evals, dev, process_group)

        tol = _positive_tolerance(r, float(eta), precision)
        positive = evals > tol
        n_pos = int(positive.sum())
        k = min(int(top_k), n_pos)
        message = ""
        if n_pos == 0:
            message = (
                f"Λ = C_X − {eta:g}·C_Y has no positive eigenvalue (largest {float(evals[0]):.3e}, "
                f"tolerance {tol:.1e}): the test set has no mode over-represented by a factor > η; "
                "try a smaller eta or another sigma"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        elif k < int(top_k):
            message = (
                f"requested top_k={int(top_k)} modes but Λ has only {n_pos} positive eigenvalue(s) "
                f"(> tolerance {tol:.1e}); returning {k}"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        V = solver.top_vectors(k).contiguous()
        if distributed and k:
            V = _broadcast(V, dev, process_group)
        del solver
        t_eig = time.perf_counter()
        lam_top = evals[:k].clone()
        pos_vals = evals[:n_pos].cpu().numpy().copy()

        # orientation: Σ_i φ(x_i)·v = n · mean_φ·v must be > 0
        if k:
            sums = cov_x.mean_feature() @ V
            flip = torch.where(sums < 0, -1.0, 1.0).to(V.dtype)
            V = (V * flip).contiguous()

        # second pass: per-sample scores and streaming top-k with global indices
        offset = 0
        if distributed:
            import torch.distributed as dist

            counts = [torch.zeros(1, dtype=torch.float64, device=dev) for _ in range(dist.get_world_size(process_group))]
            dist.all_gather(counts, torch.tensor([float(n_local)], dtype=torch.float64, device=dev), group=process_group)
            rank = dist.get_rank(process_group)
            offset = int(sum(float(c.item()) for c in counts[:rank]))
        best_v = best_i = None
        if k:
            for a, b in _iter_chunks(n_local, chunk):
                s = cov_x.scores(_rows(test, a, b, dev, cdt), V)
                kk = min(int(top_samples), b - a)
                tv, ti = torch.topk(s, kk, dim=0)
                best_v, best_i = _merge_top(best_v, best_i, tv.cpu().numpy(), ti.cpu().numpy() + a + offset, int(top_samples))
            if distributed:
                best_v, best_i = _gather_top(best_v, best_i, int(top_samples), k, dev, process_group)
        t_scores = time.perf_counter()

    n_total, m_total = cov_x.count, cov_y.count
    tops = [best_i[:, j].copy() for j in range(k)] if k else []
    top_sc = [best_v[:, j].copy() for j in range(k)] if k else []
    res = FincResult(
        eigenvalues=lam_top.cpu().numpy(),
        eigenvectors=V.cpu().numpy(),
        W=W_np,
        top_indices=tops,
        top_scores=top_sc,
        sigma=sigma,
        eta=float(eta),
        rff_dim=r,
        seed=int(seed),
        n_test=n_total,
        n_ref=m_total,
        n_positive=n_pos,
        positive_eigenvalues=pos_vals,
        tolerance=tol,
        top_k_requested=int(top_k),
        message=message,
        sigma_source=sigma_source,
        precision=precision,
        timings={
            "check": t_checked - t0,
            "covariance": t_cov - t_checked,
            "eigh": t_eig - t_cov,
            "scores": t_scores - t_eig,
            "total": time.perf_counter() - t0,
            "threads": float(policy.threads or torch.get_num_threads()),
        },
    )
    if verbose:
        print(f"[finc] {res.k} mode(s), {n_pos} positive eigenvalues, timings {res.timings}")
    return res


def _broadcast(t: torch.Tensor, dev: torch.device, group: Any) -> torch.Tensor:
    import torch.distributed as dist

    x = t.to(dev).contiguous()
    dist.broadcast(x, src=dist.get_global_rank(group, 0) if group is not None else 0, group=group)
    return x.to(t.device)


def _gather_top(best_v, best_i, n_top, k, dev, group):
    """Merge every rank's top candidates (padded to n_top rows with −inf) on every rank."""
    import torch.distributed as dist

    ws = dist.get_world_size(group)
    pad_v = np.full((n_top, k), -np.inf)
    pad_i = np.full((n_top, k), np.iinfo(np.int64).max, dtype=np.int64)
    if best_v is not None:
        pad_v[: best_v.shape[0]] = best_v
        pad_i[: best_i.shape[0]] = best_i
    tv = torch.from_numpy(pad_v).to(dev)
    ti = torch.from_numpy(pad_i).to(dev)
    all_v = [torch.empty_like(tv) for _ in range(ws)]
    all_i = [torch.empty_like(ti) for _ in range(ws)]
    dist.all_gather(all_v, tv, group=group)
    dist.all_gather(all_i, ti, group=group)
    v = np.concatenate([x.cpu().numpy() for x in all_v])
    i = np.concatenate([x.cpu().numpy() for x in all_i])
    v, i = _merge_top(None, None, v, i, n_top)
    keep = np.isfinite(v).all(axis=1)
    return v[keep], i[keep]



class _thread_policy:
    """Choose how many threads torch and the BLAS libraries use for one FINC computation.

    Parallel BLAS/LAPACK calls end in barriers; when other processes keep the cores busy,
    every barrier waits for a descheduled thread and 2 threads run far *slower* than 1
    (measured on the 2-core machine at load ≈ 5: FINC's covariance pass 169 GFLOP/s with
    1 thread vs 40 with 2; a 600 × 600 ``eigh`` 0.13 s vs 22 s).  The default is
    ``torch.get_num_threads()``, fixed for a machine, so that results are the same on every run
    (the last bits of float reductions depend on the thread count).  ``threads`` or the
    environment variable ``BEYONDFID_THREADS`` override it; ``BEYONDFID_THREADS=auto`` opts in
    to using only the cores left free by the current 1-minute load average,
    ``max(1, cpu_count − round(load))``, which is faster on a shared, busy machine.
    """

    def __init__(self, device: Any, threads: int | None = None):
        self.active = torch.device(device).type == "cpu"
        self.threads: int | None = None
        if not self.active:
            return
        env = os.environ.get("BEYONDFID_THREADS")
        if threads is not None:
            self.threads = max(1, int(threads))
        elif env and env.strip().lower() != "auto":
            self.threads = max(1, int(env))
        elif env:
            try:
                load = os.getloadavg()[0]
            except OSError:
                load = 0.0
            free = (os.cpu_count() or 1) - int(round(load))
            self.threads = max(1, min(torch.get_num_threads(), free))
        else:
            self.threads = torch.get_num_threads()

    def __enter__(self) -> "_thread_policy":
        self._torch_threads = torch.get_num_threads()
        self._ctl = None
        if self.active and self.threads is not None:
            torch.set_num_threads(self.threads)
            try:
                import scipy.linalg  # noqa: F401  (load its BLAS before limiting it)
                from threadpoolctl import threadpool_limits

                self._ctl = threadpool_limits(limits=self.threads, user_api="blas")
            except ImportError:
                self._ctl = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.active and self.threads is not None:
            torch.set_num_threads(self._torch_threads)
            if self._ctl is not None:
                self._ctl.restore_original_limits()


class _SymmetricEigen:
    """Eigenvalues of a symmetric float64 matrix, then eigenvectors of the largest k only.

    ``tridiagonal`` (CPU): Householder reduction A = Q T Qᵀ (LAPACK ``dsytrd``, blocked), all
    eigenvalues of T by ``dsterf`` (root-free QL/QR), the top-k eigenvectors of T by MRRR
    (``dstemr``), mapped back with Q through ``ormqr`` — about the cost of ``eigvalsh``, a
    fraction of a full ``eigh``, which also forms all 2r eigenvectors.  ``eigh``: full
    ``torch.linalg.eigh`` (used on GPU).  The input matrix is overwritten.
    """

    def __init__(self, A: torch.Tensor, method: str = "auto"):
        if method not in ("auto", "tridiagonal", "eigh"):
            raise ValueError(f"eig_method must be 'auto', 'tridiagonal' or 'eigh', got {method!r}")
        if method == "auto":
            method = "tridiagonal" if A.device.type == "cpu" else "eigh"
        self.method, self.device, self.n = method, A.device, A.shape[0]
        self._solve(A)

    def _solve(self, A: torch.Tensor) -> None:
        method = self.method
        if method == "eigh":
            w, v = torch.linalg.eigh(A)
            self.values, self._vectors = w.flip(0), v
            return
        from scipy.linalg import eigh_tridiagonal, lapack

        a = A.cpu().numpy().T  # symmetric: the transpose is the same matrix, Fortran-ordered
        n = self.n
        if n == 1:
            self._trid = None
            self.values = torch.from_numpy(a.reshape(1).copy())
            return
        c, d, e, tau, info = lapack.dsytrd(a, lower=1, lwork=max(1, 64 * n), overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"dsytrd failed (info={info})")
        w, info = lapack.dsterf(d.copy(), e.copy())
        if info != 0:
            raise np.linalg.LinAlgError(f"dsterf failed (info={info})")
        self._trid = (c, d, e, tau, eigh_tridiagonal)
        self.values = torch.from_numpy(w[::-1].copy())

    def top_vectors(self, k: int) -> torch.Tensor:
        """Eigenvectors of the k largest eigenvalues, columns in descending eigenvalue order."""
        return self._top_vectors(k)

    def _top_vectors(self, k: int) -> torch.Tensor:
        n = self.n
        if k == 0:
            return torch.zeros(n, 0, dtype=torch.float64, device=self.device)
        if self.method == "eigh":
            return self._vectors[:, n - k :].flip(1).clone()
        if self._trid is None:
            return torch.ones(1, 1, dtype=torch.float64, device=self.device)
        c, d, e, tau, eigh_tridiagonal = self._trid
        _, z = eigh_tridiagonal(d, e, select="i", select_range=(n - k, n - 1), lapack_driver="stemr")
        z = torch.from_numpy(z[:, ::-1].copy())
        # Q = H(1)…H(n−1); reflector i acts on rows i+1.. with v = [1, c[i+2:, i]]: that is the
        # QR-style storage of the sub-matrix c[1:, :n−1], so ormqr applies Q to rows 1..n−1.
        refl = torch.from_numpy(np.ascontiguousarray(c[1:, : n - 1]))
        z[1:] = torch.ormqr(refl, torch.from_numpy(tau.copy()), z[1:].contiguous(), left=True, transpose=False)
        return z.to(self.device)


def finc_swap(test: Any, ref: Any, **kwargs: Any) -> FincResult:
    """The swap: modes of ``ref`` over-represented relative to ``test`` (Λ = C_ref − η C_test).

    With ``test`` = generated samples and ``ref`` = real data this shows the modes the model
    misses or under-represents.  Indices in the result refer to rows of ``ref``.
    """
    return finc(ref, test, **kwargs)


def finc_kwargs(settings: Any, seed: int) -> dict[str, Any]:
    """:func:`finc`'s keyword arguments (``eta, rff_dim, top_k, seed, top_samples``) from a config section
    that has the fields ``eta``, ``rff_dim``, ``top_k`` and ``top_samples`` (the FINC notebooks' sections)."""
    return dict(eta=settings.eta, rff_dim=settings.rff_dim, top_k=settings.top_k, seed=seed,
                top_samples=settings.top_samples)


def mode_label_stats(top_indices: Sequence[np.ndarray], labels: np.ndarray, hit: np.ndarray | None = None
                     ) -> list[dict[str, float | int]]:
    """Check modes against ground truth: for each mode's top samples (rows of ``labels``),
    the majority label, its share, and (if ``hit`` is a boolean mask over rows) the share of hits."""
    labels = np.asarray(labels)
    out = []
    for top in top_indices:
        values, counts = np.unique(labels[top], return_counts=True)
        row: dict[str, float | int] = {"majority": int(values[counts.argmax()]),
                                       "majority_share": float(counts.max() / len(top))}
        if hit is not None:
            row["hit_share"] = float(np.asarray(hit)[top].mean())
        out.append(row)
    return out


def top_hit_share(top_indices: Sequence[np.ndarray], hit: np.ndarray, modes: int) -> float:
    """Share of hits (boolean mask over rows) among the pooled top samples of the first ``modes`` modes."""
    if modes < 1 or not len(top_indices):
        return float("nan")
    return float(np.asarray(hit)[np.concatenate(list(top_indices[:modes]))].mean())


# --------------------------------------------------------------------------------------------
# command line (works under torchrun: one shard of each .npy per rank)
# --------------------------------------------------------------------------------------------


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import os

    p = argparse.ArgumentParser(
        prog="python -m beyondfid.finc",
        description="FINC on two .npy feature files. Under torchrun every rank reads its own contiguous shard.",
    )
    p.add_argument("test", help="test features (.npy, n × d)")
    p.add_argument("ref", help="reference features (.npy, m × d)")
    p.add_argument("--sigma", required=True, help="bandwidth (number) or 'median'")
    p.add_argument("--eta", type=float, default=1.0)
    p.add_argument("--rff-dim", type=int, default=2000)
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-size", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=None, help="write the result here (.npz, atomically; rank 0 only)")
    a = p.parse_args(argv)

    world = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = world > 1
    if distributed:
        import torch.distributed as dist

        backend = "nccl" if (a.device or "").startswith("cuda") else "gloo"
        dist.init_process_group(backend)
        rank = dist.get_rank()
    else:
        rank = 0
    x = np.load(a.test, mmap_mode="r")
    y = np.load(a.ref, mmap_mode="r")
    if distributed:
        x = x[_shard(len(x), world, rank)]
        y = y[_shard(len(y), world, rank)]
    sigma: Any = a.sigma if a.sigma == "median" else float(a.sigma)
    res = finc(
        x, y, sigma=sigma, eta=a.eta, rff_dim=a.rff_dim, top_k=a.top_k, seed=a.seed,
        chunk_size=a.chunk_size, device=a.device, distributed=distributed,
    )
    if rank == 0:
        print(f"modes: {res.k}, positive eigenvalues: {res.n_positive}, novelty (KEN-style): {res.novelty:.6g}")
        for i, (lam, idx) in enumerate(zip(res.eigenvalues, res.top_indices)):
            print(f"mode {i + 1}: eigenvalue {lam:.6g}, top test rows {idx[:10].tolist()}")
        if res.message:
            print(res.message)
        if a.out:
            res.save(a.out)
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


def _shard(n: int, world: int, rank: int) -> slice:
    edges = np.linspace(0, n, world + 1).round().astype(int)
    return slice(int(edges[rank]), int(edges[rank + 1]))


if __name__ == "__main__":
    raise SystemExit(_main())
