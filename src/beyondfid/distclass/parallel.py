"""Processes: torch.distributed under ``torchrun`` (gloo on CPU, NCCL on GPU), and sharded work.

``torchrun --nproc_per_node=N -m beyondfid.distclass run ...`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` set; :func:`init_distributed` joins them into one process group
(backend NCCL when the device is CUDA, gloo otherwise). Without those variables everything runs in
one process and no group is created.

:func:`extract_sharded` is the probes' feature extraction across processes: rank ``r`` extracts
fixed micro-batches ``r, r + W, r + 2W, ...`` (the core's fixed-micro-batch forward, so the bits
do not depend on how rows are grouped) and an all-reduce of the zero-filled results assembles the
whole array on every rank -- identical to one process extracting everything.

A process that joined a group leaves it at exit (:func:`leave_distributed`, registered by
:func:`init_distributed`): a gloo group still alive when the interpreter tears down can abort the
process ("terminate called without an active exception", SIGABRT), which torchrun reports as a failed
run although every result was written.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as torch_dist

from ..features import MICRO_BATCH, _forward


@dataclass(frozen=True)
class Dist:
    """This process's place: ``rank`` of ``world``; ``device`` to compute on."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def resolve_device(device: str, local_rank: int = 0) -> str:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("distclass.runner.device is 'cuda' but no CUDA GPU is visible; set it to cpu or auto")
        return f"cuda:{local_rank}"
    return "cpu"


def init_distributed(device: str = "cpu") -> Dist:
    """Join the ``torchrun`` process group if the environment describes one (idempotent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if world > 1 and not torch_dist.is_initialized():
        if dev.startswith("cuda"):
            torch.cuda.set_device(local)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
        torch_dist.init_process_group("nccl" if dev.startswith("cuda") else "gloo")
        atexit.register(leave_distributed)
    return Dist(rank, world, local, dev)


def leave_distributed() -> None:
    """Destroy this process's group, if it has one (idempotent; not a collective)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def current(device: str = "cpu") -> Dist:
    """The running process group's view (one process if none)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        return Dist(torch_dist.get_rank(), torch_dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                    resolve_device(device, int(os.environ.get("LOCAL_RANK", "0"))))
    return Dist(device=resolve_device(device))


def all_reduce_sum(t: torch.Tensor, dist: Dist) -> torch.Tensor:
    """Sum ``t`` over processes in place (no-op in one process)."""
    if dist.active:
        dev = t.device
        buf = t.to(dist.device) if dist.device.startswith("cuda") else t
        torch_dist.all_reduce(buf, op=torch_dist.ReduceOp.SUM)
        if buf is not t:
            t.copy_(buf.to(dev))
    return t


def barrier(dist: Dist) -> None:
    if dist.active:
        torch_dist.barrier()


def my_chunks(n_rows: int, chunk: int, dist: Dist) -> list[tuple[int, int]]:
    """Row ranges ``[lo, hi)`` of the fixed-size chunks this rank handles (round-robin)."""
    starts = range(0, n_rows, chunk)
    return [(s, min(s + chunk, n_rows)) for i, s in enumerate(starts) if i % dist.world == dist.rank]


def extract_sharded(extractor, images: np.ndarray, dist: Dist | None = None, key: str = "features") -> np.ndarray:
    """``extractor``'s ``key`` output for every image, computed across processes (see module docstring)."""
    dist = dist or current()
    parts = {lo: _forward(extractor, images[lo:hi])[key] for lo, hi in my_chunks(len(images), MICRO_BATCH, dist)}
    if not dist.active:
        return np.concatenate([parts[k] for k in sorted(parts)]) if parts else np.zeros((0, 0), np.float32)
    dim = torch.tensor([next(iter(parts.values())).shape[1] if parts else 0], dtype=torch.int64)
    torch_dist.all_reduce(dim, op=torch_dist.ReduceOp.MAX)
    full = torch.zeros(len(images), int(dim), dtype=torch.float32)
    for lo, v in parts.items():
        full[lo : lo + len(v)] = torch.from_numpy(v)
    return all_reduce_sum(full, dist).numpy()
