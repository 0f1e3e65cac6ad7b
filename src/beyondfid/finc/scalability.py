"""Scalability harness for FINC's Table 1: time and peak memory against sample count.

The paper (Zhang et al., CVPR 2025, Table 1) runs FINC and three baselines -- KEN (exact
kernel), Rarity score and FLD -- on n test and n reference samples of ImageNet features for
growing n, and reports "–" (out of memory) or "> 24 h" where a method cannot finish.  This
module reproduces that measurement on one machine, under explicit caps.

How one run is measured (:func:`measure`)
-----------------------------------------
* **A fresh process per run.**  Each (method, n) runs in its own child process started with
  multiprocessing's ``forkserver`` method: the fork server has imported NumPy, torch and the
  package but holds no data, so every child starts with the same small, clean heap; memory
  freed (or fragmented) by an earlier run cannot hide or inflate a later run's peak, and a
  run that has to be stopped is simply killed.  (``spawn`` gives the same isolation but
  re-imports torch for every run, ≈ 2 s each.)
* **Inputs are built in the child, before the clock starts** (``setup``): the child loads or
  generates the test and reference features, then reports its resident memory ``VmRSS``.
* **Peak extra memory** = the kernel's resident high-water mark ``VmHWM`` after the call
  minus ``VmRSS`` just before it, with the high-water mark reset immediately before the call
  by writing "5" to ``/proc/self/clear_refs``.  This is exact (the kernel tracks every page
  fault, no sampling gaps) and counts only memory that was really touched, i.e. what the
  method costs beyond holding its inputs.  ``ru_maxrss`` cannot be reset and would include
  the input generation, so it is not used.  The parent also samples the child's ``VmRSS``
  every ``poll_s`` seconds (an independent, lower bound reading; used instead of ``VmHWM``
  when ``clear_refs`` is not writable).
* **Caps.**  The parent's watchdog kills the child when its resident memory exceeds the
  memory before the call by more than ``memory_cap_gb`` (status ``"oom"``, the paper's "–")
  or when the call has run ``time_cap_s`` seconds (status ``"timeout"``, the paper's
  "> 24 h"), and whenever the machine's available memory falls below ``min_free_gb``.
  ``time_cap_s=None`` means no time cap: FINC, the method under test, always runs to
  completion (only the baselines are time-capped), so its row can never read "> cap".
* **Machine-relative time caps** (issue 16).  A fixed cap in seconds made the table's verdict
  depend on the machine (FINC at 250k took 73 s here and 110-130 s on a slower machine of the
  same kind, against a 90 s cap).  :func:`run_scalability` therefore accepts the cap as a
  multiple ``time_cap_reference`` of a reference workload measured in the same run, in a
  fresh child process with the same thread count (:func:`measure_reference`: float32 GEMMs of
  :data:`beyondfid.machine.REFERENCE_GEMM_SIZE`); the cap in seconds is that multiple times
  the reference's seconds, so a machine k times slower gets a k times longer cap.
  Before a run is started, :func:`run_grid` compares the method's own memory
  estimate (``beyondfid.finc.baselines.estimate_*_bytes``, :func:`estimate_finc_bytes`) with the
  cap and with the machine's available memory, so an allocation that cannot fit is never
  attempted; a baseline that still raises its own ``MemoryLimitExceeded`` inside the child is
  also recorded as ``"oom"``.
* **Time** = wall-clock seconds of the call alone (``time.perf_counter``), with ``threads``
  torch/BLAS threads.

Grid and budget (:func:`run_grid`)
----------------------------------
Methods are run for increasing n.  Once a method hit a cap at some n, every larger n is
recorded with the same status without running it (cost grows with n); a size whose memory
estimate exceeds the cap is recorded as ``"oom"`` without running.  ``ran`` tells measured
rows from inferred ones.

Inputs
------
Real features where the pool suffices (n ≤ half the pool: disjoint, seeded halves), else
synthetic features of the same dimension from :func:`synthetic_features`: a seeded Gaussian
mixture whose per-dimension mean and variance match the real pool's.  Time and memory of all
four methods depend on n, m and d only, not on the values, so synthetic rows stand in for
real ones; the notebook shows the matched scale (:func:`scale_summary`).

Scaling exponents: :func:`loglog_slope` is the least-squares slope b of ``log y = a + b log n``
over the runs that finished.
"""

from __future__ import annotations

import functools
import gc
import math
import multiprocessing as mp
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from beyondfid.machine import machine_summary

__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "PAPER_SIZES",
    "STATUSES",
    "InputSpec",
    "Measurement",
    "MethodSpec",
    "ScalabilityResult",
    "SyntheticModel",
    "default_methods",
    "estimate_finc_bytes",
    "measure_reference",
    "fit_slopes",
    "fit_synthetic",
    "hardware_note",
    "loglog_slope",
    "make_inputs",
    "measure",
    "metrics_summary",
    "our_entry",
    "paper_entry",
    "run_grid",
    "run_scalability",
    "cap_label",
    "scale_summary",
    "scale_table",
    "synthetic_features",
    "wide_table",
]

STATUSES = ("ok", "oom", "timeout")
METHODS = ("finc", "ken", "rarity", "fld")
METHOD_LABELS = {"finc": "FINC", "ken": "KEN", "rarity": "Rarity", "fld": "FLD"}
GB = 1e9


# --------------------------------------------------------------------------------------------
# one measurement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """Outcome of one capped run.

    ``seconds`` and ``peak_extra_bytes`` are NaN unless ``status == "ok"``; ``ran`` is False
    for rows inferred without running (a cap at a smaller n, or a memory estimate over the cap).
    """

    seconds: float
    peak_extra_bytes: float
    status: str
    note: str = ""
    ran: bool = True
    sampled_peak_extra_bytes: float = float("nan")
    setup_seconds: float = float("nan")

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


def _status_bytes(field_name: str, pid: int | str = "self") -> float:
    """A ``kB`` field of /proc/<pid>/status in bytes (NaN if unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return float(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return float("nan")


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _limit_threads(threads: int | None) -> None:
    if threads is None:
        return
    import torch

    torch.set_num_threads(int(threads))
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(threads), user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass


def _describe(res: Any) -> str:
    """A short description of a method's result (the result itself stays in the child)."""
    name = type(res).__name__
    if name == "FincResult":
        return f"{res.k} modes, {res.n_positive} positive eigenvalues"
    if name == "KenResult":
        return f"{len(res.eigenvalues)} positive eigenvalues"
    if name == "RarityResult":
        return f"{int(np.sum(res.in_manifold))} of {len(res.scores)} fake samples inside the real k-NN balls"
    if name == "FldResult":
        return f"{res.epochs} epochs, train NLL {res.nll_train:.4g}"
    return name


def _child(conn: Any, fn: Callable, args: tuple, kwargs: dict, setup: Callable | None, threads: int | None) -> None:
    """Child process: build inputs, report RSS, reset the high-water mark, time the call."""
    try:
        _limit_threads(threads)
        t0 = time.perf_counter()
        pre = tuple(setup()) if setup is not None else ()
        setup_s = time.perf_counter() - t0
        gc.collect()
        rss0 = _status_bytes("VmRSS")
        conn.send(("ready", rss0, setup_s))
        hwm_ok = _reset_hwm()
        t0 = time.perf_counter()
        res = fn(*pre, *args, **kwargs)
        secs = time.perf_counter() - t0
        hwm = _status_bytes("VmHWM") if hwm_ok else float("nan")
        conn.send(("done", secs, hwm - rss0, _describe(res)))
    except MemoryError as e:
        conn.send(("oom", f"MemoryError: {e}"))
    except BaseException as e:  # report every failure to the parent
        from beyondfid.finc.baselines import MemoryLimitExceeded

        if isinstance(e, MemoryLimitExceeded):
            conn.send(("oom", str(e)))
        else:
            conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


_PRELOAD = ["numpy", "torch", "scipy.linalg", "threadpoolctl", "beyondfid.finc", "beyondfid.finc.baselines", "beyondfid.finc.scalability"]


def _context(start_method: str) -> Any:
    if start_method not in ("forkserver", "spawn"):
        raise ValueError(f"start_method must be 'forkserver' or 'spawn' (a fresh process per run), got {start_method!r}")
    ctx = mp.get_context(start_method)
    if start_method == "forkserver":
        ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def _stop(proc: Any) -> None:
    if proc.is_alive():
        proc.kill()
    proc.join(30)


def measure(
    fn: Callable,
    *args: Any,
    time_cap_s: float | None,
    memory_cap_gb: float,
    setup: Callable[[], Sequence[Any]] | None = None,
    threads: int | None = None,
    setup_timeout_s: float = 900.0,
    poll_s: float = 0.02,
    start_method: str = "forkserver",
    min_free_gb: float = 0.5,
    **kwargs: Any,
) -> Measurement:
    """Run ``fn(*setup(), *args, **kwargs)`` in a fresh child process under a time and a memory cap.

    ``fn`` and ``setup`` must be picklable (module-level functions or ``functools.partial`` of
    them).  ``setup`` (not timed, not counted) builds the inputs inside the child.  Returns a
    :class:`Measurement`: ``"ok"`` with wall seconds and peak extra resident bytes (see the
    module docstring), ``"timeout"`` when the call passed ``time_cap_s``, ``"oom"`` when its
    extra resident memory passed ``memory_cap_gb`` (GB = 1e9 bytes), when it raised
    ``MemoryError`` / ``MemoryLimitExceeded``, or when the kernel killed it; ``time_cap_s=None``
    runs the call to completion (no time cap, memory caps still apply).  Any other error
    in the child is re-raised here as ``RuntimeError`` with the child's traceback.  Whatever
    the caps, the run is also stopped (``"oom"``) when the machine's available memory falls
    below ``min_free_gb``, so a measurement never drives the machine out of memory.
    """
    if time_cap_s is not None and not (time_cap_s > 0 and math.isfinite(time_cap_s)):
        raise ValueError(f"time_cap_s must be a finite number > 0 (or None: no time cap), got {time_cap_s}")
    if not (memory_cap_gb > 0 and math.isfinite(memory_cap_gb)):
        raise ValueError(f"memory_cap_gb must be a finite number > 0, got {memory_cap_gb}")
    cap = memory_cap_gb * GB
    ctx = _context(start_method)
    recv_end, send_end = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send_end, fn, args, kwargs, setup, threads), daemon=True)
    proc.start()
    send_end.close()
    name = getattr(fn, "__name__", repr(fn))
    try:
        # phase 1: input generation (not capped by time_cap_s; bounded by setup_timeout_s)
        if not recv_end.poll(setup_timeout_s):
            raise RuntimeError(f"{name}: building the inputs took more than {setup_timeout_s:g} s")
        try:
            msg = recv_end.recv()
        except EOFError:
            proc.join(5)
            return _died(proc, "while building its inputs")
        if msg[0] == "error":
            raise RuntimeError(f"{name} failed while building its inputs:\n{msg[1]}")
        if msg[0] == "oom":
            return Measurement(float("nan"), float("nan"), "oom", note=msg[1])
        _, rss0, setup_s = msg
        # phase 2: the timed call, watched
        t0 = time.perf_counter()
        sampled = rss0
        while True:
            if recv_end.poll(poll_s):
                try:
                    msg = recv_end.recv()
                except EOFError:
                    proc.join(5)
                    return _died(proc, "during the call", setup_s)
                break
            rss = _status_bytes("VmRSS", proc.pid)
            if not math.isnan(rss):
                sampled = max(sampled, rss)
            if _meminfo_bytes("MemAvailable") < min_free_gb * GB:
                _stop(proc)
                return Measurement(float("nan"), float("nan"), "oom", setup_seconds=setup_s,
                                   note=f"stopped: this machine had less than {min_free_gb:g} GB of memory left")
            if sampled - rss0 > cap:
                _stop(proc)
                return Measurement(float("nan"), float("nan"), "oom", setup_seconds=setup_s,
                                   note=f"stopped: extra resident memory passed the {memory_cap_gb:g} GB cap")
            if time_cap_s is not None and time.perf_counter() - t0 > time_cap_s:
                _stop(proc)
                return Measurement(float("nan"), float("nan"), "timeout", setup_seconds=setup_s,
                                   note=f"stopped after the {time_cap_s:g} s cap")
        kind = msg[0]
        if kind == "error":
            raise RuntimeError(f"{name} failed in the child process:\n{msg[1]}")
        if kind == "oom":
            return Measurement(float("nan"), float("nan"), "oom", note=msg[1], setup_seconds=setup_s)
        _, secs, hwm_extra, desc = msg
        sampled_extra = sampled - rss0
        peak = sampled_extra if math.isnan(hwm_extra) else hwm_extra
        if time_cap_s is not None and secs > time_cap_s:  # finished between two polls, past the cap
            return Measurement(float("nan"), float("nan"), "timeout", setup_seconds=setup_s,
                               note=f"finished in {secs:.1f} s, past the {time_cap_s:g} s cap")
        if peak > cap:
            return Measurement(float("nan"), float("nan"), "oom", setup_seconds=setup_s,
                               note=f"peak extra memory {peak / GB:.2f} GB passed the {memory_cap_gb:g} GB cap")
        return Measurement(float(secs), float(max(peak, 0.0)), "ok", note=desc,
                           sampled_peak_extra_bytes=float(max(sampled_extra, 0.0)), setup_seconds=float(setup_s))
    finally:
        _stop(proc)
        recv_end.close()


def _died(proc: Any, when: str, setup_s: float = float("nan")) -> Measurement:
    code = proc.exitcode
    if code is not None and code < 0 and -code == 9:
        return Measurement(float("nan"), float("nan"), "oom", setup_seconds=setup_s,
                           note=f"killed by SIGKILL {when} (most likely the kernel's out-of-memory killer)")
    raise RuntimeError(f"the measured process exited {when} with code {code} without reporting a result")


# --------------------------------------------------------------------------------------------
# inputs: real features and matched synthetic features
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticModel:
    """Gaussian mixture matched to real features: per-dimension ``mean`` and ``std``.

    ``n_clusters`` centres ``c_k = mean + √(1−within)·std ⊙ z_k`` (z_k ~ N(0, I)) and samples
    ``x = c_label + √within·std ⊙ ε`` (ε ~ N(0, I)), so each dimension's total variance is
    ``std²`` in expectation.  The test set draws ``novel_fraction`` of its rows from one extra
    centre the reference never uses (a novel mode for FINC to find).
    """

    mean: np.ndarray
    std: np.ndarray
    n_clusters: int = 10
    within: float = 0.5
    novel_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.mean.ndim != 1 or self.mean.shape != self.std.shape:
            raise ValueError(f"mean and std must be 1-D of equal length, got {self.mean.shape} and {self.std.shape}")
        if self.n_clusters < 1 or not 0 < self.within <= 1 or not 0 <= self.novel_fraction < 1:
            raise ValueError("need n_clusters >= 1, 0 < within <= 1 and 0 <= novel_fraction < 1")

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])


def fit_synthetic(real: np.ndarray, **kwargs: Any) -> SyntheticModel:
    """Per-dimension mean and standard deviation of ``real`` (n × d) as a :class:`SyntheticModel`."""
    x = np.asarray(real, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"real features must be a 2-D array with at least 2 rows, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("real features contain NaN or infinite values")
    return SyntheticModel(mean=x.mean(0), std=x.std(0), **kwargs)


def synthetic_features(model: SyntheticModel, n: int, *, seed: int, novel: bool = False, chunk: int = 8192) -> np.ndarray:
    """``n`` float32 rows from the mixture (deterministic in ``seed``, ``n`` and ``novel``).

    The centres depend on ``seed`` only, so test (``novel=True``) and reference sets drawn with
    the same seed share their clusters.  Generated in chunks: no float64 temporary of n × d.
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    d, k = model.dim, model.n_clusters
    centres = model.mean + math.sqrt(1 - model.within) * model.std * np.random.default_rng([seed, 0]).standard_normal((k + 1, d))
    centres = centres.astype(np.float32)
    rng = np.random.default_rng([seed, 1 if novel else 2])
    labels = rng.integers(0, k, int(n))
    if novel and model.novel_fraction > 0:
        labels = np.where(rng.random(int(n)) < model.novel_fraction, k, labels)
    scale = (math.sqrt(model.within) * model.std).astype(np.float32)
    out = np.empty((int(n), d), dtype=np.float32)
    for s in range(0, int(n), chunk):
        blk = out[s : s + chunk]
        rng.standard_normal(out=blk, dtype=np.float32)
        blk *= scale
        blk += centres[labels[s : s + chunk]]
    return out


@dataclass(frozen=True)
class InputSpec:
    """How a child process builds its ``(test, ref)`` pair: real rows or synthetic ones."""

    n: int
    m: int
    seed: int
    model: SyntheticModel
    pool_path: str | None = None  # .npy of the real pool (rows); used when n, m <= half of it
    pool_rows: int = 0

    @property
    def source(self) -> str:
        half = self.pool_rows // 2
        return "real" if self.pool_path is not None and self.n <= half and self.m <= half else "synthetic"

    @property
    def input_bytes(self) -> float:
        return 4.0 * (self.n + self.m) * self.model.dim


def make_inputs(spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(test, ref)`` float32 arrays for ``spec``.

    Real: a seeded permutation of the pool cut into two disjoint halves; test = the first n rows
    of one half, ref = the first m of the other.  Synthetic: :func:`synthetic_features` (test
    with the novel cluster, reference without).
    """
    if spec.source == "real":
        pool = np.load(spec.pool_path, allow_pickle=False)
        perm = np.random.default_rng(spec.seed).permutation(len(pool))
        half = len(pool) // 2
        test = np.ascontiguousarray(pool[np.sort(perm[: spec.n])], dtype=np.float32)
        ref = np.ascontiguousarray(pool[np.sort(perm[half : half + spec.m])], dtype=np.float32)
        return test, ref
    return (synthetic_features(spec.model, spec.n, seed=spec.seed, novel=True),
            synthetic_features(spec.model, spec.m, seed=spec.seed, novel=False))


def scale_summary(x: np.ndarray, max_rows: int = 2000, seed: int = 0) -> dict[str, float]:
    """Overall scale of a feature set: mean feature norm, total variance ``Σ_j Var(x_j)``, and the
    median pairwise distance of at most ``max_rows`` rows."""
    x = np.asarray(x, dtype=np.float64)
    rows = x if len(x) <= max_rows else x[np.random.default_rng(seed).choice(len(x), max_rows, replace=False)]
    sq = (rows * rows).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * rows @ rows.T, 0)
    iu = np.triu_indices(len(rows), 1)
    return {"mean_norm": float(np.linalg.norm(x, axis=1).mean()), "total_variance": float(x.var(0).sum()),
            "median_distance": float(np.median(np.sqrt(d2[iu])))}


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------


def estimate_finc_bytes(n: int, m: int, d: int, *, rff_dim: int) -> float:
    """FINC's extra memory (independent of n, m): two float64 block-triangular Gram accumulators
    (2·(2r)²(1+1/B)/2·8 B), the (2r)² float64 Λ, one chunk of 2r float32 features plus its
    r-column projection, W (d×r float32) and 64 MB of slack.  ≈ 0.6 GB at r = 2,000."""
    from beyondfid.finc.algorithm import _default_blocks_per_half, default_chunk_size

    r = int(rff_dim)
    B = 2 * _default_blocks_per_half(r)
    two_r = 2 * r
    chunk = default_chunk_size(r)
    return 2 * two_r**2 * (1 + 1 / B) / 2 * 8 + two_r**2 * 8 + 1.5 * chunk * two_r * 4 + d * r * 4 + 64 * 2**20


def run_finc(test: np.ndarray, ref: np.ndarray, *, sigma: float, rff_dim: int, seed: int) -> Any:
    """FINC as in the paper's benchmark: η = 1, top 10 modes, 25 samples per mode (threads: the
    child's torch thread count, set by :func:`measure`)."""
    from beyondfid.finc import finc

    return finc(test, ref, sigma=sigma, eta=1.0, rff_dim=rff_dim, top_k=10, seed=seed, top_samples=25)


def run_ken(test: np.ndarray, ref: np.ndarray, *, sigma: float, memory_limit: float) -> Any:
    """KEN, exact kernel, dense non-symmetric eigendecomposition with eigenvectors (top 10 modes)."""
    from beyondfid.finc.baselines import ken_exact

    return ken_exact(test, ref, sigma=sigma, eta=1.0, top_k=10, memory_limit=memory_limit)


def run_rarity(test: np.ndarray, ref: np.ndarray, *, memory_limit: float) -> Any:
    """Rarity score of every test ("fake") sample against the reference ("real") set, k = 3, dense."""
    from beyondfid.finc.baselines import rarity_score

    return rarity_score(ref, test, k=3, memory_limit=memory_limit)


def run_fld(test: np.ndarray, ref: np.ndarray, *, seed: int, memory_limit: float) -> Any:
    """FLD: fit the per-sample MoG of the test ("generated") set to the reference ("train") set;
    the train NLL pass stands in for scoring a held-out set of the same size."""
    from beyondfid.finc.baselines import fld

    return fld(ref, test, seed=seed, memory_limit=memory_limit)


def _est_ken(n: int, m: int, d: int) -> float:
    from beyondfid.finc.baselines import estimate_ken_bytes

    return estimate_ken_bytes(n, m, itemsize=4, d=d)


def _est_rarity(n: int, m: int, d: int) -> float:
    from beyondfid.finc.baselines import estimate_rarity_bytes

    return estimate_rarity_bytes(m, n, itemsize=4, d=d)


def _est_fld(n: int, m: int, d: int) -> float:
    from beyondfid.finc.baselines import estimate_fld_bytes

    return estimate_fld_bytes(m, n, 0, d=d)


@dataclass(frozen=True)
class MethodSpec:
    """A method of the table: ``fn(test, ref, **kwargs)`` (picklable), its memory estimate
    ``estimate_bytes(n, m, d)`` (extra bytes, evaluated in the parent before running), and
    whether the time cap applies to it (``time_capped``; False for FINC, which always finishes)."""

    name: str
    fn: Callable
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    estimate_bytes: Callable[[int, int, int], float] | None = None
    time_capped: bool = True


def default_methods(names: Sequence[str], *, sigma: float, rff_dim: int, seed: int, threads: int | None,
                    memory_cap_gb: float) -> list[MethodSpec]:
    """The table's methods by name (``finc``, ``ken``, ``rarity``, ``fld``), in the given order."""
    cap = memory_cap_gb * GB
    table = {
        "finc": MethodSpec("finc", run_finc, dict(sigma=sigma, rff_dim=rff_dim, seed=seed),
                           functools.partial(estimate_finc_bytes, rff_dim=rff_dim), time_capped=False),
        "ken": MethodSpec("ken", run_ken, dict(sigma=sigma, memory_limit=cap), _est_ken),
        "rarity": MethodSpec("rarity", run_rarity, dict(memory_limit=cap), _est_rarity),
        "fld": MethodSpec("fld", run_fld, dict(seed=seed, memory_limit=cap), _est_fld),
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    return [table[n] for n in names]


# --------------------------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------------------------


def _available_bytes() -> float:
    from beyondfid.finc.baselines import available_memory

    return float(available_memory())


def run_grid(
    sizes: Sequence[int],
    methods: Sequence[MethodSpec],
    *,
    make_spec: Callable[[int], InputSpec],
    time_cap_s: float,
    memory_cap_gb: float,
    threads: int | None = None,
    runner: Callable[..., Measurement] = measure,
    available_bytes: Callable[[], float] = _available_bytes,
    log: Callable[[str], None] | None = None,
) -> Any:
    """Measure every method at every n (n test and n reference rows), with the budget rules.

    For each method, sizes are visited in increasing order:

    1. memory estimate ``> memory_cap_gb`` → ``"oom"`` without running;
    2. the method already hit a cap at a smaller n → the same status, without running;
    3. inputs + estimate do not fit in 80 % of the machine's available memory → ``"oom"``
       without running (note says so: it is this machine's limit, not the cap);
    4. otherwise ``runner(method.fn, time_cap_s=, memory_cap_gb=, setup=make_inputs(spec), ...)``,
       with ``time_cap_s=None`` for a method that is not time-capped (FINC).

    Returns a DataFrame with one row per (method, n): method, n, data, status, ran, seconds,
    peak_extra_gb, sampled_peak_extra_gb, estimate_gb, setup_seconds, note.
    """
    import pandas as pd

    sizes = [int(s) for s in sizes]
    if not sizes or any(s < 1 for s in sizes) or sizes != sorted(set(sizes)):
        raise ValueError(f"sizes must be positive, distinct and increasing, got {sizes}")
    cap = memory_cap_gb * GB
    rows = []
    for meth in methods:
        hit: tuple[str, int] | None = None
        for n in sizes:
            spec = make_spec(n)
            d = spec.model.dim
            est = float(meth.estimate_bytes(n, n, d)) if meth.estimate_bytes is not None else float("nan")
            if est > cap:
                res = Measurement(float("nan"), float("nan"), "oom", ran=False,
                                  note=f"not run: needs ≈ {est / GB:.3g} GB (estimate), over the {memory_cap_gb:g} GB cap")
            elif hit is not None:
                res = Measurement(float("nan"), float("nan"), hit[0], ran=False,
                                  note=f"not run: {'out of memory' if hit[0] == 'oom' else 'over the time cap'} already at n = {hit[1]:,}")
            elif spec.input_bytes + (0.0 if math.isnan(est) else est) > 0.8 * available_bytes():
                res = Measurement(float("nan"), float("nan"), "oom", ran=False,
                                  note=f"not run: inputs + estimate ≈ {(spec.input_bytes + est) / GB:.1f} GB exceed 80 % "
                                       f"of this machine's available memory")
            else:
                if log:
                    log(f"{meth.name} n={n:,} ({spec.source}) ...")
                res = runner(meth.fn, time_cap_s=time_cap_s if meth.time_capped else None,
                             memory_cap_gb=memory_cap_gb, setup=functools.partial(make_inputs, spec), threads=threads,
                             **dict(meth.kwargs))
            if res.status != "ok" and hit is None:
                hit = (res.status, n)
            if log and res.ran:
                log(f"  -> {res.status} {res.seconds:.2f} s, {res.peak_extra_bytes / GB:.3f} GB {res.note}")
            rows.append(dict(method=meth.name, n=n, data=spec.source, status=res.status, ran=res.ran,
                             seconds=res.seconds, peak_extra_gb=res.peak_extra_bytes / GB,
                             sampled_peak_extra_gb=res.sampled_peak_extra_bytes / GB, estimate_gb=est / GB,
                             setup_seconds=res.setup_seconds, note=res.note))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# slopes, paper values, tables
# --------------------------------------------------------------------------------------------


def loglog_slope(n: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least squares ``log y = a + b·log n``: returns ``(b, a)`` (natural logs).

    Only pairs with finite, positive n and y are used; fewer than two distinct n give NaNs.
    """
    n_arr, y_arr = np.asarray(n, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if n_arr.shape != y_arr.shape:
        raise ValueError(f"n and y must have the same length, got {n_arr.shape} and {y_arr.shape}")
    ok = np.isfinite(n_arr) & np.isfinite(y_arr) & (n_arr > 0) & (y_arr > 0)
    if len(np.unique(n_arr[ok])) < 2:
        return float("nan"), float("nan")
    b, a = np.polyfit(np.log(n_arr[ok]), np.log(y_arr[ok]), 1)
    return float(b), float(a)


def fit_slopes(table: Any, column: str = "seconds", tail: int | None = None) -> dict[str, tuple[float, float]]:
    """``{method: (slope, intercept)}`` of :func:`loglog_slope` over each method's ``"ok"`` rows.

    ``tail``: use only the ``tail`` largest finished n (the asymptotic exponent; FINC's time is
    ``a + b·n`` with a large constant a, the 2r × 2r eigendecomposition, so its all-point slope
    is below 1 while the tail slope approaches 1).
    """
    if tail is not None and int(tail) < 2:
        raise ValueError(f"tail must be >= 2 points, got {tail}")
    out = {}
    for meth, grp in table.groupby("method", sort=False):
        ok = grp[grp["status"] == "ok"].sort_values("n")
        if tail is not None:
            ok = ok.iloc[-int(tail):]
        out[str(meth)] = loglog_slope(ok["n"].to_numpy(), ok[column].to_numpy())
    return out


# Table 1 of the paper as far as the summary (/work/shared/papers/finc-summary.txt) states it:
# at 50k, 100k and 250k samples the baselines are out of memory ("–") or take more than 24 h,
# and FINC at 250k takes about 3000 s on a CPU and 74 s on a GPU.  No other cell is given.
PAPER_SIZES = (50_000, 100_000, 250_000)
PAPER_FINC_250K = "≈ 3000 s (CPU) / 74 s (GPU)"


def paper_entry(method: str, n: int) -> str:
    """What the paper's Table 1 says for ``method`` at ``n`` samples (only what the summary states)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    if int(n) not in PAPER_SIZES:
        return "(size not in the paper)"
    if method == "finc":
        return PAPER_FINC_250K if int(n) == 250_000 else "(no number in the summary; 'scales linearly')"
    return "– / > 24 h"


def cap_label(time_cap_s: float, time_cap_reference: float | None = None) -> str:
    """How a time cap is written in the table: ``"90 s"``, or ``"1000 ref = 91.2 s"`` when the cap
    is a multiple of the reference workload measured in the run."""
    if time_cap_reference is None:
        return f"{time_cap_s:g} s"
    return f"{time_cap_reference:g} ref = {time_cap_s:.3g} s"


def our_entry(status: str, seconds: float, peak_extra_gb: float, time_cap_s: float,
              time_cap_reference: float | None = None) -> str:
    """Our cell: ``"12.3 s, 0.52 GB"``, ``"–"`` (out of memory) or ``"> 120 s"`` (time cap; with a
    machine-relative cap ``"> 1000 ref = 91.2 s"``)."""
    if status == "ok":
        return f"{seconds:.3g} s, {peak_extra_gb:.2f} GB"
    if status == "oom":
        return "–"
    if status == "timeout":
        return f"> {cap_label(time_cap_s, time_cap_reference)}"
    raise ValueError(f"unknown status {status!r}")


def wide_table(table: Any, time_cap_s: float, time_cap_reference: float | None = None) -> Any:
    """Table 1 layout: one row per n; per method our cell (time, peak extra memory) and the paper's."""
    import pandas as pd

    rows = []
    for n, grp in table.groupby("n", sort=True):
        row: dict[str, Any] = {"n per set": int(n), "data": grp["data"].iloc[0]}
        for _, r in grp.iterrows():
            label = METHOD_LABELS.get(r["method"], r["method"])
            mark = "" if r["ran"] or r["status"] == "ok" else " *"
            row[f"{label} (ours)"] = our_entry(r["status"], r["seconds"], r["peak_extra_gb"], time_cap_s,
                                               time_cap_reference) + mark
            row[f"{label} (paper)"] = paper_entry(r["method"], int(n))
        rows.append(row)
    return pd.DataFrame(rows)


def scale_table(result: "ScalabilityResult", real_dataset: str, profile: str) -> Any:
    """Real vs synthetic features side by side (:func:`scale_summary` of each): the synthetic rows that
    stand in for real ones beyond half the pool have the real features' scale."""
    import pandas as pd

    from ..report import with_note

    df = pd.DataFrame([{"features": f"real ({real_dataset})", **result.real_scale},
                       {"features": "synthetic (matched Gaussian mixture)", **result.synthetic_scale}])
    return with_note(df, f"Scale: {profile} profile; d = {result.dim}; median distance over at most 2,000 rows. "
                         f"Synthetic rows are used for n > {result.real_rows // 2:,} per set.")


def hardware_note() -> str:
    """This machine: CPU model, cores, memory, GPU (none is used)."""
    mem = _status_mem_total()
    return f"{machine_summary()['cpu']}, {os.cpu_count()} cores, {mem / GB:.0f} GB RAM, no GPU used"


def _meminfo_bytes(field_name: str) -> float:
    """A field of /proc/meminfo in bytes (+inf if unavailable, so that no guard fires)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return float(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return float("inf")


def _status_mem_total() -> float:
    return _meminfo_bytes("MemTotal")


# --------------------------------------------------------------------------------------------
# everything at once
# --------------------------------------------------------------------------------------------


@dataclass
class ScalabilityResult:
    table: Any  # long DataFrame of run_grid
    sigma: float  # Gaussian bandwidth used by FINC and KEN (median heuristic on the real pool)
    dim: int
    real_rows: int
    real_scale: dict[str, float]
    synthetic_scale: dict[str, float]
    time_slopes: dict[str, tuple[float, float]]  # over every finished n
    memory_slopes: dict[str, tuple[float, float]]
    tail_time_slopes: dict[str, tuple[float, float]]  # over the 3 largest finished n
    time_cap_s: float = float("nan")  # the baselines' cap in seconds on this machine, in this run
    time_cap_reference: float | None = None  # the cap as a multiple of the reference (None: absolute cap)
    reference_seconds: float = float("nan")  # one reference GEMM in a fresh child, measured in this run


def measure_reference(threads: int | None, *, repeats: int = 5, size: int | None = None,
                      runner: Callable[..., Measurement] = measure) -> float:
    """Seconds of one reference GEMM (:mod:`beyondfid.machine`), measured like every run of the grid:
    in a fresh child process with ``threads`` threads, inputs built and warmed up before the clock;
    the call's wall time divided by ``repeats``."""
    from beyondfid.machine import REFERENCE_GEMM_SIZE, gemm_inputs, gemm_repeat

    res = runner(gemm_repeat, repeats, time_cap_s=None, memory_cap_gb=4.0, threads=threads,
                 setup=functools.partial(gemm_inputs, size or REFERENCE_GEMM_SIZE))
    if res.status != "ok" or not res.seconds > 0:
        raise RuntimeError(f"the reference GEMM did not finish ({res.status}: {res.note})")
    return float(res.seconds) / repeats


def run_scalability(
    real: np.ndarray,
    *,
    sizes: Sequence[int],
    methods: Sequence[str],
    rff_dim: int,
    time_cap_s: float | None = None,
    memory_cap_gb: float,
    threads: int | None,
    time_cap_reference: float | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    runner: Callable[..., Measurement] = measure,
    reference_runner: Callable[..., Measurement] | None = None,
) -> ScalabilityResult:
    """The whole experiment on a real feature pool (n_real × d).

    σ = median heuristic on the real pool (used for every n, so runs differ in n only); the
    synthetic model is fitted to the pool; the pool is written to a temporary .npy that the
    children read (removed afterwards).  See :func:`run_grid` for the budget rules.

    The baselines' time cap is either absolute (``time_cap_s``) or machine-relative
    (``time_cap_reference``: that many reference GEMMs, timed by :func:`measure_reference` at
    the start of this run with ``reference_runner``, default ``runner``); give exactly one.
    FINC is never time-capped.
    """
    from beyondfid.finc import median_bandwidth

    if (time_cap_s is None) == (time_cap_reference is None):
        raise ValueError("give exactly one of time_cap_s (seconds) and time_cap_reference (multiples of the "
                         f"reference GEMM), got {time_cap_s} and {time_cap_reference}")
    if time_cap_reference is not None and not (time_cap_reference > 0 and math.isfinite(time_cap_reference)):
        raise ValueError(f"time_cap_reference must be a finite number > 0, got {time_cap_reference}")
    real = np.ascontiguousarray(real, dtype=np.float32)
    if real.ndim != 2 or len(real) < 4:
        raise ValueError(f"the real feature pool must be 2-D with at least 4 rows, got shape {real.shape}")
    ref_s = measure_reference(threads, runner=reference_runner or runner)
    if time_cap_reference is not None:
        time_cap_s = time_cap_reference * ref_s
    if log:
        log(f"reference GEMM: {ref_s:.4g} s; baselines' time cap {cap_label(time_cap_s, time_cap_reference)}; "
            f"FINC uncapped")
    half = len(real) // 2
    sigma = float(median_bandwidth(real[:half], real[half:], seed=seed))
    model = fit_synthetic(real)
    with tempfile.TemporaryDirectory(prefix="beyondfid-scalability-") as tmp:
        pool_path = str(Path(tmp) / "pool.npy")
        np.save(pool_path, real)

        def make_spec(n: int) -> InputSpec:
            return InputSpec(n=n, m=n, seed=seed, model=model, pool_path=pool_path, pool_rows=len(real))

        specs = default_methods(methods, sigma=sigma, rff_dim=rff_dim, seed=seed, threads=threads,
                                memory_cap_gb=memory_cap_gb)
        table = run_grid(sizes, specs, make_spec=make_spec, time_cap_s=time_cap_s, memory_cap_gb=memory_cap_gb,
                         threads=threads, runner=runner, log=log)
    synth = synthetic_features(model, min(len(real), 2000), seed=seed)
    return ScalabilityResult(
        table=table, sigma=sigma, dim=int(real.shape[1]), real_rows=len(real),
        real_scale=scale_summary(real, seed=seed), synthetic_scale=scale_summary(synth, seed=seed),
        time_slopes=fit_slopes(table, "seconds"), memory_slopes=fit_slopes(table, "peak_extra_gb"),
        tail_time_slopes=fit_slopes(table, "seconds", tail=3), time_cap_s=float(time_cap_s),
        time_cap_reference=time_cap_reference, reference_seconds=ref_s,
    )


def _finite_or_none(x: Any) -> Any:
    return float(x) if x is not None and np.isfinite(x) else None


def metrics_summary(result: ScalabilityResult) -> dict[str, Any]:
    """JSON-safe per-method summary (NaN → None): fitted slopes, largest finished n, its time,
    the largest peak extra memory, the status at every n, and the paper's entries."""
    T = result.table
    out: dict[str, Any] = {}
    for meth, g in T.groupby("method", sort=False):
        ok = g[g["status"] == "ok"].sort_values("n")
        out[str(meth)] = {
            "time_slope": _finite_or_none(result.time_slopes[meth][0]),
            "time_slope_largest_3": _finite_or_none(result.tail_time_slopes[meth][0]),
            "memory_slope": _finite_or_none(result.memory_slopes[meth][0]),
            "largest_n_finished": int(ok["n"].max()) if len(ok) else 0,
            "seconds_at_largest_n": _finite_or_none(ok["seconds"].iloc[-1]) if len(ok) else None,
            "peak_extra_gb_max": _finite_or_none(ok["peak_extra_gb"].max()) if len(ok) else None,
            "status_by_n": {str(int(n)): str(st) for n, st in zip(g["n"], g["status"])},
            "paper": {str(n): paper_entry(str(meth), n) for n in PAPER_SIZES} if meth in METHODS else {},
        }
    return out
