"""How fast is this machine? A reference workload for machine-relative time caps and time plans.

Absolute seconds do not carry from one machine to another: the same stage ran 2-3x slower on
another 2-core machine of the same kind. Wherever a verdict or a plan depends on time, the
project therefore measures a fixed reference workload in the same run and expresses times as
multiples of it:

* FINC's Table 1 (``beyondfid.finc.scalability``) caps the baselines at a multiple of the
  reference measured at the start of the run, so a slower machine gives the same table;
* the ``make repro`` plan (``beyondfid.zoo.plan``) scales recorded stage times by the ratio of
  this machine's reference to the recording machine's.

The reference is one float32 ``REFERENCE_GEMM_SIZE`` x ``REFERENCE_GEMM_SIZE`` matrix product
through torch (2 n^3 = 17.2 GFLOP at n = 2048), the operation that dominates FINC (its
covariance pass is a SYRK) and a fair proxy for dense training steps. :func:`reference_gemm_seconds`
returns the mean of ``repeats`` products after one untimed warm-up, at the current torch thread
count.
"""

from __future__ import annotations

import os
import time

REFERENCE_GEMM_SIZE = 2048


def gemm_inputs(size: int = REFERENCE_GEMM_SIZE, seed: int = 0) -> tuple:
    """Two seeded float32 ``size x size`` matrices, after one untimed warm-up product."""
    import torch

    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(size, size, generator=g)
    b = torch.randn(size, size, generator=g)
    torch.mm(a, b)
    return a, b


def gemm_repeat(a, b, repeats: int) -> None:
    """``repeats`` products ``a @ b`` (the timed part of the reference)."""
    import torch

    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(repeats):
        torch.mm(a, b)


def reference_gemm_seconds(size: int = REFERENCE_GEMM_SIZE, repeats: int = 5) -> float:
    """Mean wall seconds of one float32 ``size``-square GEMM in this process (current threads)."""
    a, b = gemm_inputs(size)
    t0 = time.perf_counter()
    gemm_repeat(a, b, repeats)
    return (time.perf_counter() - t0) / repeats


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where it is not readable)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16() -> bool:
    """Does this CPU compute bfloat16 products natively (AVX512-BF16 or AMX-BF16)? Without them
    oneDNN emulates bf16, which is slower than float32, so mixed precision is only worth it here."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def machine_summary() -> dict[str, object]:
    """CPU model, logical cores and the 1-minute load average (for timing records)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {"cpu": model, "cores": os.cpu_count(), "load_1min": round(load, 2)}
