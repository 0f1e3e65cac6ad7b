"""Runs: one (task, architecture, recipe, seed) each, cached on disk, executed locally or under torchrun.

A :class:`RunSpec` is hashed into a run id; its folder ``<root>/<id>/`` holds ``ckpt.pt`` (the
resumable training state) and, when finished, ``result.json`` (the spec and the
:class:`~beyondfid.distclass.train.RunResult`). :func:`run_all` computes whatever is missing:

* ``launcher: local`` -- in this process (``workers: 1``, with progress bars) or in a pool of
  ``workers`` spawned processes, one run each at a time, ``threads`` torch threads apiece (two
  single-thread runs use both cores of the mini machine better than one two-thread run);
* ``launcher: torchrun`` -- ``torchrun --standalone --nproc_per_node=<n> -m beyondfid.distclass
  run-specs ...``: every run trains with DistributedDataParallel over all processes (gloo on CPU,
  NCCL on GPU) and rank 0 writes its result.

A run's result does not depend on the launcher (tested: 1 vs 2 processes), so results computed
one way are reused by the other. An interrupted stage resumes: finished runs are read back,
a half-trained run continues from its checkpoint.

The run id names the pools, not their pixels, so ``result.json`` and the checkpoint also record the
SHA-256 of every pool the run trained on (:func:`pool_digests`). A run folder written for other
pixels (a zoo model retrained with new settings, a changed real split) is stale: :func:`collect`
counts it as missing and :func:`execute` deletes it and trains again, so a persisted cache is never
reused for images it did not see.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..config import Config, DCArchConfig, DCRunnerConfig, DCTrainConfig
from ..io import save_json, save_text, sha256_array
from .parallel import Dist, barrier, init_distributed
from .task import TaskSpec, build_task
from .train import RunResult, train_task

RESULT = "result.json"


class RunError(RuntimeError):
    """A run could not be executed or its stored result is unusable."""


@dataclass(frozen=True)
class RunSpec:
    """One training run. ``arch_name`` is the label in tables; ``tag`` groups runs of one table."""

    task: TaskSpec
    arch_name: str
    arch: DCArchConfig
    recipe: DCTrainConfig
    seed: int = 0
    tag: str = ""

    def key(self) -> dict[str, Any]:
        """Everything the result depends on (``tag`` and ``arch_name`` are labels, not inputs)."""
        return {"task": self.task.to_dict(), "arch": self.arch.model_dump(), "recipe": self.recipe.model_dump(),
                "seed": int(self.seed)}

    @property
    def run_id(self) -> str:
        return hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.key(), arch_name=self.arch_name, tag=self.tag)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSpec":
        return cls(TaskSpec.from_dict(d["task"]), d["arch_name"], DCArchConfig.model_validate(d["arch"]),
                   DCTrainConfig.model_validate(d["recipe"]), int(d["seed"]), d.get("tag", ""))

    @property
    def cost(self) -> float:
        """A rough relative cost (training images x epochs), to start big runs first."""
        return self.task.n_classes * self.task.n_train * self.recipe.epochs


def run_dir(root: str | Path, spec: RunSpec) -> Path:
    return Path(root) / spec.run_id


def load_result(root: str | Path, spec: RunSpec, pools: dict[str, str] | None = None) -> RunResult | None:
    """The stored result of ``spec``, or ``None`` if it has not finished, or (``pools`` given, see
    :func:`pool_digests`) if it was trained on other pixels than those."""
    path = run_dir(root, spec) / RESULT
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    if d.get("spec", {}).get("task") != spec.task.to_dict() or d["spec"].get("seed") != spec.seed:
        raise RunError(f"{path} belongs to another run (hash collision or edited file); delete the folder")
    if pools is not None and d.get("pools") != pools:
        return None
    return RunResult.from_dict(d["result"])


_POOLS: dict[str, np.ndarray] = {}  # pools loaded by this process (shared by its runs)


def pool_digests(cfg: Config, task: TaskSpec, cache: dict[str, np.ndarray] | None = None) -> dict[str, str]:
    """``source -> SHA-256`` of every pool of ``task``, as loaded through the pixel path (``cache`` as in
    :func:`~beyondfid.distclass.task.build_task`; this process's pools by default)."""
    from .pixels import load_pool

    cache = _POOLS if cache is None else cache
    for ref in task.classes:
        if ref.source not in cache:
            cache[ref.source] = load_pool(cfg, ref.source)
    return {src: sha256_array(cache[src]) for src in sorted({ref.source for ref in task.classes})}


def recorded_pools(folder: str | Path) -> dict[str, str] | None:
    """The pool digests a run folder was written for: from ``result.json``, else from ``ckpt.pt``'s meta
    (``{}`` if they predate the digests); ``None`` if the folder holds neither file."""
    folder = Path(folder)
    if (folder / RESULT).is_file():
        return json.loads((folder / RESULT).read_text()).get("pools", {})
    if (folder / "ckpt.pt").is_file():
        from ..zoo.training import load_checkpoint

        return json.loads(load_checkpoint(folder / "ckpt.pt").get("meta", {}).get("pools", "{}"))
    return None


def discard_stale(folder: str | Path, pools: dict[str, str]) -> bool:
    """Delete ``result.json`` and ``ckpt.pt`` of a run folder written for other pool digests (a warning
    names the pools that changed); ``True`` if something was deleted."""
    import warnings

    folder = Path(folder)
    recorded = recorded_pools(folder)
    if recorded is None or recorded == pools:
        return False
    if recorded:
        changed = sorted(k for k in set(recorded) | set(pools) if recorded.get(k) != pools.get(k))
        why = f"trained on other images of {', '.join(changed)}"
    else:
        why = "records no pool digests (written before they were checked), so its images are unknown"
    warnings.warn(f"{folder}: {why}; discarding it and training again", stacklevel=2)
    (folder / RESULT).unlink(missing_ok=True)
    (folder / "ckpt.pt").unlink(missing_ok=True)
    return True


def collect(root: str | Path, specs: Iterable[RunSpec],
            cfg: Config | None = None) -> tuple[dict[str, RunResult], list[RunSpec]]:
    """The finished results among ``specs`` (``run_id -> RunResult``) and the specs still to run. With
    ``cfg``, a result trained on other pixels than the pools' current ones counts as still to run."""
    done: dict[str, RunResult] = {}
    missing = []
    for s in specs:
        r = load_result(root, s, pool_digests(cfg, s.task) if cfg is not None else None)
        if r is None:
            missing.append(s)
        else:
            done[s.run_id] = r
    return done, missing


def execute(cfg: Config, spec: RunSpec, root: str | Path, *, progress: bool = True, dist: Dist | None = None,
            max_steps_this_call: int | None = None) -> RunResult | None:
    """Train and evaluate ``spec`` (or read its finished result); rank 0 writes ``result.json``."""
    dist = dist or init_distributed(cfg.params.distclass.runner.device)
    pools = pool_digests(cfg, spec.task)
    d = run_dir(root, spec)
    if dist.is_main:
        discard_stale(d, pools)
    barrier(dist)
    found = load_result(root, spec, pools)
    if found is not None:
        return found
    d.mkdir(parents=True, exist_ok=True)
    task = build_task(cfg, spec.task, cache=_POOLS)
    label = f"{spec.tag}:{spec.arch_name}:{'/'.join(spec.task.class_names)}"
    res = train_task(task, spec.arch, spec.recipe, seed=spec.seed, ckpt_path=d / "ckpt.pt", desc=label[:60],
                     progress=progress, dist=dist, max_steps_this_call=max_steps_this_call,
                     meta={"task": json.dumps(spec.task.to_dict(), sort_keys=True),
                           "pools": json.dumps(pools, sort_keys=True)})
    if res is not None and dist.is_main:
        save_json(d / RESULT, {"spec": spec.to_dict(), "pools": pools, "result": res.to_dict()})
    barrier(dist)
    return res


def _worker_init(threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # this process already ran parallel work (in-process runner): keep its pool
            pass


def _worker(cfg: Config, spec_dict: dict[str, Any], root: str) -> dict[str, Any]:
    spec = RunSpec.from_dict(spec_dict)
    t0 = time.perf_counter()
    res = execute(cfg, spec, root, progress=False, dist=Dist())
    return {"run_id": spec.run_id, "wall": time.perf_counter() - t0, "result": res.to_dict() if res else None}


def _torchrun(cfg: Config, specs: Sequence[RunSpec], root: Path, rc: DCRunnerConfig) -> None:
    batch = root / f"pending-{os.getpid()}.json"
    config = root / f"pending-{os.getpid()}.config.json"
    save_text(batch, json.dumps([s.to_dict() for s in specs]))
    save_text(config, cfg.model_dump_json())  # the exact configuration, wherever it was loaded from
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={rc.nproc_per_node}",
           "-m", "beyondfid.distclass", "run-specs", "--config-json", str(config), "--specs", str(batch),
           "--runs-root", str(root)]
    env = dict(os.environ)
    if rc.threads:
        env["OMP_NUM_THREADS"] = str(rc.threads)
    try:
        subprocess.run(cmd, check=True, env=env)
    except subprocess.CalledProcessError as err:
        raise RunError(f"torchrun failed ({err.returncode}): {' '.join(cmd)}") from None
    finally:
        batch.unlink(missing_ok=True)
        config.unlink(missing_ok=True)


def run_all(cfg: Config, specs: Iterable[RunSpec], root: str | Path, *, progress: bool = True,
            runner: DCRunnerConfig | None = None) -> dict[str, RunResult]:
    """Results of every spec (``run_id -> RunResult``), computing the missing ones with the runner."""
    from ..progress import progress_bar

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rc = runner or cfg.params.distclass.runner
    out, todo = collect(root, list({s.run_id: s for s in specs}.values()), cfg)
    todo.sort(key=lambda s: -s.cost)
    if todo and rc.launcher == "torchrun":
        _torchrun(cfg, todo, root, rc)
    elif todo and rc.workers > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(rc.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                 initargs=(rc.threads,)) as ex:
            futs = [ex.submit(_worker, cfg, s.to_dict(), str(root)) for s in todo]
            for f in progress_bar(as_completed(futs), total=len(futs), desc="runs", unit="run", disable=not progress):
                f.result()
    elif todo:
        _worker_init(rc.threads)
        for s in progress_bar(todo, desc="runs", unit="run", disable=not progress or len(todo) < 2):
            execute(cfg, s, root, progress=progress, dist=Dist())
    for s in todo:
        r = load_result(root, s, pool_digests(cfg, s.task))
        if r is None:
            raise RunError(f"run {s.run_id} ({s.tag}, {s.arch_name}, {s.task.class_names}) produced no result")
        out[s.run_id] = r
    return out


def records(specs: Sequence[RunSpec], results: dict[str, RunResult]) -> list[dict[str, Any]]:
    """One flat row per spec: labels, sizes, accuracy, interval, p-value, time (for DataFrames)."""
    rows = []
    for s in specs:
        r = results[s.run_id]
        rec = r.record
        rows.append({"tag": s.tag, "arch": s.arch_name, "classes": " vs ".join(s.task.class_names),
                     "k": s.task.n_classes, "n_train": s.task.n_train, "n_val": s.task.n_val, "seed": s.seed,
                     "accuracy": rec.accuracy, "ci_low": rec.ci_low, "ci_high": rec.ci_high, "p_value": rec.p_value,
                     "correct": rec.correct, "n": rec.n, "steps": r.steps, "epochs": r.epochs,
                     "train_seconds": r.train_seconds, "n_params": r.n_params, "run_id": s.run_id})
    return rows
