"""FINC scaling benchmark: time and peak memory on synthetic features, beside a plain float32 GEMM.

What is measured
----------------
* Inputs: ``--n`` test rows and ``--m`` reference rows (default m = n; the paper's "n samples"
  is taken per distribution, so the default run streams n + m = 500,000 rows) of ``--d``
  float32 features.  Synthetic: the reference is a mixture of 10 Gaussian clusters, the test set
  the same clusters plus a novel 11th (10 % of the test rows), so FINC has a real mode to find.
* FINC with ``--r`` random frequencies (2r = 4,000 features), top 10 modes, 25 samples per mode,
  σ by the median heuristic on 2,000 pooled rows (timed separately, not part of "FINC").
* Peak memory: the kernel's high-water mark of resident memory (``VmHWM`` in
  /proc/self/status), reset just before FINC by writing "5" to /proc/self/clear_refs; FINC's
  extra peak = VmHWM − VmRSS just before the call (the input arrays are already resident).
  A background thread sampling VmRSS every 10 ms gives a second, independent reading.
* The "equivalent plain float32 matmul": FINC's arithmetic is dominated by the Gram product
  ΦᵀΦ of the N × 2r feature matrix (N = n + m) and the projection XW (N × d by d × r).  The
  same products are timed as plain float32 GEMMs on random buffers of one chunk (the full
  N × 2r matrix would need 8 GB), over ``--matmul-rows`` rows (default: 1/8 of N, at least 16
  chunks) and scaled linearly to N (``--matmul-rows 0`` times all N rows), with the same thread
  count FINC used, once with NumPy's OpenBLAS (FINC's CPU GEMM path) and once with torch's MKL.
  The plain ΦᵀΦ is a full GEMM (2·N·(2r)² FLOPs); FINC computes only the upper block triangle.
* BLAS: on CPUs with AVX-512 the script sets ``OPENBLAS_CORETYPE=SkylakeX`` before NumPy loads
  (unless already set), because OpenBLAS falls back to AVX2 kernels on AMD Zen 5.

Run:  python benchmarks/finc_scaling.py [--n 250000] [--d 768] [--r 2000]
"""

from __future__ import annotations

import os


def _cpu_has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            return any(line.startswith("flags") and " avx512f" in line for line in fh)
    except OSError:
        return False


# OpenBLAS (NumPy's BLAS, used by FINC for CPU GEMMs) picks its AVX2 "Haswell" kernels on
# AMD Zen 5; its AVX-512 kernels are ~1.85x faster there.  This must be set before NumPy loads.
if "OPENBLAS_CORETYPE" not in os.environ and _cpu_has_avx512():
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from beyondfid.finc.algorithm import _thread_policy, default_chunk_size, finc, median_bandwidth  # noqa: E402
from beyondfid.finc.scalability import _reset_hwm as reset_hwm, _status_bytes as status_bytes  # noqa: E402  (the harness's /proc helpers)


def _status_kb(field: str) -> int:
    return int(status_bytes(field) // 1024)


class RssSampler(threading.Thread):
    def __init__(self, period: float = 0.01):
        super().__init__(daemon=True)
        self.period, self.peak_kb, self._stop_evt = period, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_evt.is_set():
            self.peak_kb = max(self.peak_kb, _status_kb("VmRSS"))
            time.sleep(self.period)

    def stop(self) -> int:
        self._stop_evt.set()
        self.join()
        return self.peak_kb


def make_data(n: int, m: int, d: int, seed: int, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = (rng.standard_normal((11, d)) * (6.0 / np.sqrt(d))).astype(np.float32) * 4
    x = np.empty((n, d), dtype=np.float32)
    y = np.empty((m, d), dtype=np.float32)
    lab_x = np.where(rng.random(n) < 0.1, 10, rng.integers(0, 10, n))
    lab_y = rng.integers(0, 10, m)
    for arr, lab in ((x, lab_x), (y, lab_y)):
        for s in range(0, len(arr), chunk):
            blk = arr[s : s + chunk]
            rng.standard_normal(out=blk, dtype=np.float32)
            blk *= 1.0 / np.sqrt(d) * 2
            blk += centers[lab[s : s + chunk]]
    return x, y, lab_x


def plain_matmul_seconds(rows: int, d: int, r: int, chunk: int, threads: int, blas: str) -> tuple[float, float]:
    """Seconds of plain float32 GEMMs over ``rows`` rows: ΦᵀΦ (chunk × 2r blocks, accumulated
    in float32) and XW (chunk × d by d × r), with the given BLAS and thread count."""
    rng = np.random.default_rng(0)
    phi = rng.standard_normal((chunk, 2 * r), dtype=np.float32)
    # a distinct copy as the right operand: NumPy turns A.T @ A (same buffer) into a SYRK,
    # which would not be a plain GEMM
    phi2 = phi.copy()
    x = rng.standard_normal((chunk, d), dtype=np.float32)
    w = rng.standard_normal((d, r), dtype=np.float32)
    gram = np.zeros((2 * r, 2 * r), dtype=np.float32)
    part = np.empty_like(gram)
    proj = np.empty((chunk, r), dtype=np.float32)
    tp, tp2, tx, tw, tg = (torch.from_numpy(a) for a in (phi, phi2, x, w, gram))
    reps = max(1, rows // chunk)

    def gram_step():
        if blas == "numpy":
            np.matmul(phi.T, phi2, out=part)
            gram.__iadd__(part)
        else:
            tg.addmm_(tp.T, tp2)

    def proj_step():
        if blas == "numpy":
            np.matmul(x, w, out=proj)
        else:
            torch.mm(tx, tw, out=torch.from_numpy(proj))

    with _thread_policy("cpu", threads):
        gram_step()
        t0 = time.perf_counter()
        for _ in range(reps):
            gram_step()
        t_gram = (time.perf_counter() - t0) * rows / (reps * chunk)
        proj_step()
        t0 = time.perf_counter()
        for _ in range(reps):
            proj_step()
        t_proj = (time.perf_counter() - t0) * rows / (reps * chunk)
    return t_gram, t_proj


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "uptime unavailable"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=250_000, help="test rows")
    p.add_argument("--m", type=int, default=None, help="reference rows (default: n)")
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--r", type=int, default=2000, help="random frequencies (features: 2r)")
    p.add_argument("--chunk-size", type=int, default=None)
    p.add_argument("--blocks-per-half", type=int, default=None)
    p.add_argument("--sigma", type=float, default=None, help="default: median heuristic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--matmul-rows", type=int, default=None, help="rows timed for the plain GEMM (0 = all)")
    p.add_argument("--skip-matmul", action="store_true")
    a = p.parse_args(argv)
    n, m, d, r = a.n, (a.m if a.m is not None else a.n), a.d, a.r
    chunk = a.chunk_size or default_chunk_size(r)
    N = n + m

    print(f"# FINC scaling benchmark  ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print(f"# load before: {_uptime()}")
    t0 = time.perf_counter()
    x, y, lab = make_data(n, m, d, a.seed)
    t_data = time.perf_counter() - t0
    input_gb = (x.nbytes + y.nbytes) / 1e9

    if a.sigma is None:
        t0 = time.perf_counter()
        est = median_bandwidth(x, y, max_samples=2000, seed=a.seed)
        sigma, t_sigma, sigma_src = est.sigma, time.perf_counter() - t0, f"median heuristic, {est.n_samples} rows"
    else:
        sigma, t_sigma, sigma_src = a.sigma, 0.0, "given"

    rss_before_kb = _status_kb("VmRSS")
    hwm_ok = reset_hwm()
    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    res = finc(x, y, sigma=sigma, eta=1.0, rff_dim=r, top_k=10, seed=a.seed, chunk_size=chunk,
               blocks_per_half=a.blocks_per_half, top_samples=25)
    t_finc = time.perf_counter() - t0
    peak_sampled_kb = sampler.stop()
    hwm_kb = _status_kb("VmHWM")
    extra_hwm_gb = (hwm_kb - rss_before_kb) * 1024 / 1e9 if hwm_ok else float("nan")
    extra_sampled_gb = (peak_sampled_kb - rss_before_kb) * 1024 / 1e9

    frac_novel = float(np.mean(lab[res.top_indices[0]] == 10)) if res.k else float("nan")
    tm = res.timings
    nb = 2 * (a.blocks_per_half or max(1, min(4, round(r / 1000))))
    # FINC's Gram update on the NumPy path: off-diagonal blocks by GEMM, diagonal blocks by
    # SYRK, i.e. N·(2r)² FLOPs in all — the minimum for a symmetric rank-N update
    gram_flops_syrk = 1.0 * N * (2 * r) ** 2
    gram_flops_full = 2.0 * N * (2 * r) ** 2
    proj_flops = 2.0 * N * d * r + 2.0 * n * d * r  # both passes

    rows = []
    rows.append(("input", f"test {n:,} × {d}, ref {m:,} × {d}, float32 ({input_gb:.2f} GB); data generation {t_data:.1f} s"))
    rows.append(("sigma", f"{sigma:.4g} ({sigma_src}; {t_sigma:.1f} s, not counted)"))
    threads = int(res.timings.get("threads", torch.get_num_threads()))
    rows.append(("FINC settings", f"r = {r} (2r = {2 * r} features), chunk = {chunk} rows, {nb} column blocks, top_k = 10, eta = 1"))
    rows.append(("threads / BLAS", f"{threads} thread(s) (BEYONDFID_THREADS={os.environ.get('BEYONDFID_THREADS', 'unset')}); OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(auto)')}"))
    rows.append(("FINC total", f"{t_finc:.1f} s"))
    rows.append(("  input check", f"{tm['check']:.1f} s"))
    rows.append(("  covariances (pass 1)", f"{tm['covariance']:.1f} s  ({N:,} rows; {(gram_flops_syrk + 2.0 * N * d * r) / tm['covariance'] / 1e9:.0f} GFLOP/s counting SYRK FLOPs N·(2r)² + XW)"))
    rows.append(("  eigh (2r × 2r float64)", f"{tm['eigh']:.1f} s"))
    rows.append(("  scores + top samples (pass 2)", f"{tm['scores']:.1f} s  ({n:,} test rows)"))
    rows.append(("FINC extra peak memory", f"{extra_hwm_gb:.2f} GB (VmHWM − VmRSS before), {extra_sampled_gb:.2f} GB (10 ms VmRSS sampler)"))
    rows.append(("result", f"{res.k} modes, {res.n_positive} positive eigenvalues, λ1 = {res.eigenvalues[0]:.4g}; "
                           f"mode 1 top-25 from the novel cluster: {100 * frac_novel:.0f} %" if res.k else res.message))
    if not a.skip_matmul:
        mrows = N if a.matmul_rows == 0 else (a.matmul_rows or max(16 * chunk, N // 8))
        mrows = min(mrows, N)
        how = "all rows" if mrows == N else f"timed on {mrows:,} rows, scaled to N"
        for blas in ("numpy", "torch"):
            t_gram, t_proj = plain_matmul_seconds(mrows, d, r, chunk, threads, blas)
            t_gram_N, t_proj_N = t_gram * N / mrows, t_proj * (N + n) / mrows
            lib = "OpenBLAS via NumPy (FINC's CPU path)" if blas == "numpy" else "MKL via torch"
            rows.append((f"plain f32 ΦᵀΦ, {lib}", f"{t_gram_N:.1f} s  ({gram_flops_full / t_gram_N / 1e9:.0f} GFLOP/s; full GEMM, 2·N·(2r)² FLOPs; {how})"))
            rows.append((f"plain f32 XW, {lib}", f"{t_proj_N:.1f} s  ({proj_flops / t_proj_N / 1e9:.0f} GFLOP/s; both passes)"))
            rows.append((f"plain GEMMs total, {lib}", f"{t_gram_N + t_proj_N:.1f} s  → FINC / plain = {t_finc / (t_gram_N + t_proj_N):.2f}"))
    rows.append(("load after", _uptime()))
    w = max(len(k) for k, _ in rows)
    print("| " + "quantity".ljust(w) + " | value |")
    print("|" + "-" * (w + 2) + "|-------|")
    for k, v in rows:
        print(f"| {k.ljust(w)} | {v} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
