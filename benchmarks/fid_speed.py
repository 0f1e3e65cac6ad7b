"""FID speed: beyondfid's symmetric route vs pytorch-fid's ``scipy.linalg.sqrtm`` route.

Prints a table with two rows, both timed in this one process on this machine:

* FID from two sets of ``n × d`` float32 features. beyondfid: ``fid_from_features`` (streaming
  float64 statistics + symmetric route). pytorch-fid: its own way of computing the statistics
  (``np.mean`` / ``np.cov`` as in ``calculate_activation_statistics``) followed by
  ``calculate_frechet_distance`` (sqrtm of Σ1Σ2).
* FID from given statistics (the same float64 ``mu``/``sigma`` passed to both functions).

Usage::

    python benchmarks/fid_speed.py                 # 50,000 × 2048, the issue's setting
    python benchmarks/fid_speed.py --n 5000 --d 256

Target (issue 3): ≥ 5× faster than the sqrtm route at d = 2048 with relative difference ≤ 1e-6.
This is a script that prints numbers, not a timed test; the machine's load is printed too.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any, Callable

import numpy as np


def make_features(n: int, d: int, seed: int, scale: float) -> np.ndarray:
    """Inception-like float32 features: non-negative, correlated (rank-k mixing + noise)."""
    rng = np.random.default_rng(seed)
    k = min(d, 256)
    basis = (rng.standard_normal((k, d)) * (np.arange(1, k + 1) ** -0.5)[:, None]).astype(np.float32)
    x = np.empty((n, d), dtype=np.float32)
    step = 8192
    for start in range(0, n, step):
        m = min(step, n - start)
        z = rng.standard_normal((m, k), dtype=np.float32) * np.float32(scale)
        block = z @ basis
        block += 0.2 * rng.standard_normal((m, d), dtype=np.float32)
        block += np.float32(0.3)
        np.maximum(block, 0.0, out=block)
        x[start : start + m] = block
    return x


def timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def load_average() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000, help="samples per set (default 50,000)")
    ap.add_argument("--d", type=int, default=2048, help="feature dimension (default 2048)")
    ap.add_argument("--repeats", type=int, default=1, help="best of this many runs per timing (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import scipy
    from pytorch_fid.fid_score import calculate_frechet_distance

    from beyondfid.metrics import fid_from_features, frechet_distance
    from beyondfid.stats import compute_stats

    n, d = args.n, args.d
    print(f"# FID speed, n={n:,} per set, d={d}, float32 features, best of {args.repeats}")
    print(
        f"# numpy {np.__version__}, scipy {scipy.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average before: {load_average()}"
    )
    x = make_features(n, d, args.seed, scale=1.0)
    y = make_features(n, d, args.seed + 1, scale=1.1)

    def pytorch_fid_from_features() -> float:
        # pytorch_fid.fid_score.calculate_activation_statistics: np.mean + np.cov(rowvar=False)
        m1, s1 = np.mean(x, axis=0), np.cov(x, rowvar=False)
        m2, s2 = np.mean(y, axis=0), np.cov(y, rowvar=False)
        return float(calculate_frechet_distance(m1, s1, m2, s2))

    rows = []
    ours_f, t_ours_f = timed(lambda: fid_from_features(x, y), args.repeats)
    ref_f, t_ref_f = timed(pytorch_fid_from_features, args.repeats)
    rows.append((f"FID from features ({n:,} x {d}, x2)", t_ours_f, t_ref_f, ours_f, ref_f))

    m1, s1 = compute_stats(x)
    m2, s2 = compute_stats(y)
    ours_s, t_ours_s = timed(lambda: frechet_distance(m1, s1, m2, s2), args.repeats)
    ref_s, t_ref_s = timed(lambda: float(calculate_frechet_distance(m1, s1, m2, s2)), args.repeats)
    rows.append((f"FID from stats (d={d})", t_ours_s, t_ref_s, ours_s, ref_s))

    overhead = bare_route_overhead(m1, s1, m2, s2, args.repeats)

    header = (
        "case", "beyondfid [s]", "pytorch-fid sqrtm [s]", "speed-up", "FID beyondfid", "FID pytorch-fid", "rel. diff"
    )
    table = [
        (name, f"{to:.3f}", f"{tr:.3f}", f"{tr / to:.1f}x", f"{vo:.6f}", f"{vr:.6f}", f"{abs(vo - vr) / abs(vr):.2e}")
        for name, to, tr, vo, vr in rows
    ]
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    line = "| " + " | ".join("{:<%d}" % w for w in widths) + " |"
    print(line.format(*header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in table:
        print(line.format(*r))
    print(
        f"# frechet_distance vs its bare linear algebra (one Cholesky, two TRMMs, one eigvalsh on "
        f"already-validated float64 matrices), d={d}: {overhead['full']:.3f} s vs {overhead['bare']:.3f} s "
        f"= {overhead['ratio']:.3f}x (issue 12's target <= 1.1x; the difference is input validation: "
        f"finiteness, symmetry, variances)"
    )
    print(f"# load average after: {load_average()}")


def bare_route_overhead(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray, repeats: int) -> dict:
    """Seconds of ``frechet_distance`` and of the bare linear algebra of its positive-definite
    route (what it costs without any checks), and their ratio, timed alternately in this process."""
    from scipy.linalg.blas import dtrmm

    from beyondfid.metrics import frechet_distance

    a1, a2 = np.asarray(s1, dtype=np.float64), np.asarray(s2, dtype=np.float64)
    b1, b2 = np.asarray(m1, dtype=np.float64), np.asarray(m2, dtype=np.float64)

    def bare() -> float:
        upper = np.linalg.cholesky(a1).T
        sf = dtrmm(1.0, upper, a2.T, side=1, lower=0, trans_a=1)
        m = dtrmm(1.0, upper, sf, side=0, lower=0, trans_a=0, overwrite_b=1)
        tr = float(np.sqrt(np.clip(np.linalg.eigvalsh(m), 0.0, None)).sum())
        diff = b1 - b2
        return float(diff @ diff + np.trace(a1) + np.trace(a2) - 2.0 * tr)

    full_s, bare_s = float("inf"), float("inf")
    for _ in range(max(repeats, 3)):  # alternate, so that a load change hits both alike
        full_s = min(full_s, timed(lambda: frechet_distance(m1, s1, m2, s2), 1)[1])
        bare_s = min(bare_s, timed(bare, 1)[1])
    return {"full": full_s, "bare": bare_s, "ratio": full_s / bare_s}


if __name__ == "__main__":
    main()
