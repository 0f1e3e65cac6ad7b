"""Train one classifier on one task and evaluate it: resumable, deterministic, 1 or k processes.

:func:`train_and_evaluate` runs through :func:`beyondfid.zoo.training.fit` (checkpoint every
``ckpt_every`` steps, resume bit for bit, NaN check, tqdm bar) and returns a :class:`RunResult`
whose ``record`` is the validation accuracy with its interval and p-value.

**One step, any number of processes.** Step ``s`` takes the global batch of ``batch_size`` rows
at positions ``[s*B, (s+1)*B)`` of a sequence of per-epoch permutations (seeded by ``(seed,
epoch)``: an epoch is one pass without replacement, as in the paper's epoch-based recipes). The
batch is cut into ``grad_shards`` equal shards; shard ``j`` is augmented with the key ``(seed, s,
j)`` and its dropout/drop-path masks come from torch's generator seeded with the same key; each
shard's BatchNorm statistics are its own (as each GPU's are in the paper's DDP training). With
``W`` processes (``W`` divides ``grad_shards``), rank ``r`` computes shards ``r*S/W ...`` and
``DistributedDataParallel`` averages the gradients; the loss of a shard is scaled by ``W/S`` so
that, in every case, the gradient is ``(1/S) sum_j grad CE_j``. With ``S = 2`` shards (the smoke
and mini profiles) the 1- and 2-process sums are the same floating-point addition (``a + b`` vs
``b + a``; halving is exact), so 1 and 2 processes give bitwise the same weights, BatchNorm
buffers included (tested). With more shards or processes a sum of 3+ terms is associated
differently (one process accumulates ``((a + b) + c) + d``, two give ``(a + b) + (c + d)``), so
the runs agree only to floating-point rounding, which training can amplify.

**BatchNorm running statistics** (buffers, so part of the checkpoint) follow the same rule
(:class:`ShardBNStats`): every step updates them once, ``r <- (1 - m) r + m (1/S) sum_j b_j``,
with ``b_j`` the batch mean / unbiased variance of shard ``j`` as BatchNorm computed it, summed
per process and then over processes like the gradients. Left to themselves, each process's
BatchNorm would instead apply the running-average update once per shard *it* computed (one
process: ``S`` updates per step; rank ``r`` of ``W``: ``S/W`` updates with its shards only), so
the buffers -- and a model evaluated on them -- would depend on ``W``.

**After training** BatchNorm running statistics are recomputed ("precise BN") on a fixed subset
of the training images in shard-sized micro-batches, identically on every rank, so evaluation
does not depend on which process saw which shard. Evaluation runs the validation images in fixed
micro-batches of :data:`EVAL_MICRO` (padded), split round-robin over ranks and summed back.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..config import DCArchConfig, DCTrainConfig
from ..zoo.training import TrainLog, deterministic, fit
from .models import Classifier, build_classifier, n_params
from .parallel import Dist, all_reduce_sum, current, my_chunks
from .recipe import Augmenter, criterion, make_optimizer, make_scheduler, seed_torch_for
from .significance import AccuracyRecord, accuracy_record

EVAL_MICRO = 64
HISTORY_POINTS = 200  # loss values kept in a result (evenly spaced steps)


class TrainError(ValueError):
    """Inputs that cannot be trained on (shapes, counts, process layout)."""


@dataclass
class RunResult:
    """What one training run produced (``record`` = validation accuracy, interval, p-value)."""

    record: AccuracyRecord
    class_names: tuple[str, ...]
    confusion: list[list[int]]
    per_class_accuracy: list[float]
    n_train: int
    n_val: int
    steps: int
    epochs: float
    train_seconds: float
    eval_seconds: float
    world_size: int
    n_params: int
    final_loss: float
    history: list[tuple[int, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["record"] = self.record.to_dict()
        d["class_names"] = list(self.class_names)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunResult":
        d = dict(d)
        d["record"] = AccuracyRecord(**d["record"])
        d["class_names"] = tuple(d["class_names"])
        d["history"] = [tuple(h) for h in d.get("history", [])]
        return cls(**d)


def n_steps(n_images: int, recipe: DCTrainConfig) -> int:
    """``max(min_steps, ceil(epochs * n_images / batch_size))``."""
    return max(recipe.min_steps, math.ceil(recipe.epochs * n_images / recipe.batch_size))


def batch_rows(step: int, batch: int, n: int, seed: int) -> np.ndarray:
    """Rows of step ``step``'s global batch: positions ``[step*batch, (step+1)*batch)`` of the
    concatenation of per-epoch permutations of ``range(n)`` (epoch ``e`` seeded by ``(seed, e)``)."""
    lo, hi = step * batch, (step + 1) * batch
    out = []
    for e in range(lo // n, (hi - 1) // n + 1):
        perm = np.random.default_rng(np.random.SeedSequence([int(seed), e, 0x5EED])).permutation(n)
        a, b = max(lo, e * n) - e * n, min(hi, (e + 1) * n) - e * n
        out.append(perm[a:b])
    return np.concatenate(out)


class ShardBNStats:
    """BatchNorm running statistics that do not depend on how the shards are spread over processes.

    Per step: :meth:`begin` keeps every BatchNorm's buffers and sets its momentum to 1, so after a
    shard's forward pass its running mean/var *are* that shard's batch statistics ``b_j``;
    :meth:`add` sums them (in shard order); :meth:`end` sums over processes and sets
    ``r <- (1 - m) r + m * sum_j b_j / S`` (``m`` = the layer's momentum, or ``1/t`` for a
    cumulative average, ``momentum=None``) and counts one tracked batch per step.
    """

    def __init__(self, model: nn.Module) -> None:
        self.bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                    and m.track_running_stats]
        self._kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float | None]] = []
        self._sum: torch.Tensor | None = None

    def _stats(self) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for bn in self.bns for t in (bn.running_mean, bn.running_var)])

    def begin(self) -> None:
        self._kept = [(bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone(), bn.momentum)
                      for bn in self.bns]
        self._sum = None
        for bn in self.bns:
            bn.momentum = 1.0

    def add(self) -> None:
        if self.bns:
            b = self._stats()
            self._sum = b.clone() if self._sum is None else self._sum.add_(b)

    @torch.no_grad()
    def end(self, n_shards: int, dist: Dist) -> None:
        if not self.bns:
            return
        total = self._sum if self._sum is not None else torch.zeros_like(self._stats())
        mean_b = all_reduce_sum(total, dist).div_(n_shards)
        at = 0
        for bn, (rm, rv, nbt, momentum) in zip(self.bns, self._kept):
            bn.momentum = momentum
            bn.num_batches_tracked.copy_(nbt + 1)
            m = 1.0 / float(bn.num_batches_tracked) if momentum is None else momentum
            for buf, kept in ((bn.running_mean, rm), (bn.running_var, rv)):
                buf.copy_(kept * (1 - m) + mean_b[at : at + buf.numel()].view_as(buf) * m)
                at += buf.numel()


def _to01(x: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0).to(device)


@torch.no_grad()
def precise_bn(model: nn.Module, images: np.ndarray, micro: int, device: str) -> None:
    """Recompute every BatchNorm's running mean/var as the average over ``micro``-sized batches of
    ``images`` (cumulative average: ``momentum=None``); other layers stay in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or len(images) == 0:
        return
    momenta = [bn.momentum for bn in bns]
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    usable = (len(images) // micro) * micro or len(images)
    for s in range(0, usable, micro):
        model(_to01(images[s : s + micro], device))
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    model.eval()


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, dist: Dist | None = None, micro: int = EVAL_MICRO) -> np.ndarray:
    """Arg-max class of every image (fixed, zero-padded micro-batches; ranks share them round-robin)."""
    dist = dist or current()
    model.eval()
    pred = torch.zeros(len(images), dtype=torch.int64)
    for lo, hi in my_chunks(len(images), micro, dist):
        x = images[lo:hi]
        if len(x) < micro:
            x = np.concatenate([x, np.zeros((micro - len(x),) + x.shape[1:], np.uint8)])
        pred[lo:hi] = model(_to01(x, dist.device)).argmax(1)[: hi - lo].cpu()
    return all_reduce_sum(pred, dist).numpy()


def _history(log: TrainLog) -> list[tuple[int, float]]:
    steps, vals = log.curve("loss")
    if not steps:
        return []
    keep = np.unique(np.linspace(0, len(steps) - 1, min(HISTORY_POINTS, len(steps))).round().astype(int))
    return [(int(steps[i]), float(vals[i])) for i in keep]


def train_and_evaluate(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_classes: int,
    arch: DCArchConfig,
    recipe: DCTrainConfig,
    *,
    seed: int,
    ckpt_path: str | Path,
    class_names: Sequence[str] | None = None,
    desc: str = "",
    progress: bool = True,
    dist: Dist | None = None,
    max_steps_this_call: int | None = None,
    meta: dict[str, str] | None = None,
) -> RunResult | None:
    """Train ``arch`` with ``recipe`` on ``(x_train, y_train)`` and evaluate top-1 on ``(x_val, y_val)``.

    Images are uint8 NCHW (any side the architecture accepts), labels ``0..n_classes-1``. The run
    resumes from ``ckpt_path`` if it exists (same ``seed``/``meta``). Returns ``None`` when
    ``max_steps_this_call`` stopped it early (a test's "killed" run).
    """
    dist = dist or current()
    for name, x, y in (("train", x_train, y_train), ("val", x_val, y_val)):
        if x.dtype != np.uint8 or x.ndim != 4 or len(x) != len(y) or len(x) == 0:
            raise TrainError(f"{name}: need uint8 NCHW images with one label each, got {x.dtype} {x.shape}, "
                             f"{len(y)} labels")
        if y.min() < 0 or y.max() >= n_classes:
            raise TrainError(f"{name}: labels must be in [0, {n_classes}), got {int(y.min())}..{int(y.max())}")
    S, W = recipe.grad_shards, dist.world
    if S % W:
        raise TrainError(f"grad_shards={S} must be divisible by the number of processes ({W}); set "
                         f"distclass.train.grad_shards to a multiple of it")
    total = n_steps(len(x_train), recipe)
    warmup = int(round(recipe.warmup_epochs * len(x_train) / recipe.batch_size))
    with deterministic(seed):
        model: Classifier = build_classifier(arch, n_classes, x_train.shape[1], x_train.shape[-1])
    model.to(dist.device)
    opt = make_optimizer(model, recipe)
    sched = make_scheduler(opt, recipe, total, warmup)
    aug = Augmenter(recipe, n_classes, x_train.shape[-1])
    crit = criterion(recipe, aug.soft_targets)
    runner: nn.Module = model
    if dist.active:
        from torch.nn.parallel import DistributedDataParallel as DDP

        runner = DDP(model, device_ids=[dist.local_rank] if dist.device.startswith("cuda") else None,
                     broadcast_buffers=False)
    mine = list(range(dist.rank * S // W, (dist.rank + 1) * S // W))
    y_all = np.asarray(y_train, np.int64)

    bn_stats = ShardBNStats(model)

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        sched.step_update(step)
        model.train()
        shards = np.array_split(batch_rows(step, recipe.batch_size, len(x_train), seed), S)
        loss_sum = torch.zeros(1, dtype=torch.float64)
        bn_stats.begin()
        for i, j in enumerate(mine):
            x, t = aug(x_train[shards[j]], y_all[shards[j]], (seed, step, j))
            seed_torch_for((seed, step, j, 3))
            sync = runner.no_sync() if (dist.active and i < len(mine) - 1) else nullcontext()
            with sync:
                loss = crit(runner(x.to(dist.device)), t.to(dist.device))
                (loss * (W / S)).backward()
            bn_stats.add()
            loss_sum += loss.detach().double().cpu()
        bn_stats.end(S, dist)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return {"loss": float(all_reduce_sum(loss_sum, dist).item() / S), "lr": opt.param_groups[0]["lr"]}

    run_meta = {"arch": json.dumps(arch.model_dump(), sort_keys=True),
                "recipe": json.dumps(recipe.model_dump(), sort_keys=True),
                "n_train": str(len(x_train)), **(meta or {})}
    log = fit(step_fn, {"model": model}, {"opt": opt}, n_steps=total, ckpt_path=ckpt_path, seed=seed,
              ckpt_every=recipe.ckpt_every, log_every=max(1, min(50, total // 10 or 1)), desc=desc or arch.kind,
              max_steps_this_call=max_steps_this_call, progress=progress and dist.is_main, meta=run_meta)
    if log.steps_done < total:
        return None
    t0 = time.perf_counter()
    if recipe.precise_bn_images:
        order = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB17])).permutation(len(x_train))
        precise_bn(model, x_train[np.sort(order[: recipe.precise_bn_images])], recipe.batch_size // S, dist.device)
    pred = predict(model, x_val, dist)
    eval_seconds = time.perf_counter() - t0
    yv = np.asarray(y_val, np.int64)
    conf = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(conf, (yv, pred), 1)
    per_class = (np.diag(conf) / np.maximum(conf.sum(1), 1)).tolist()
    rec = accuracy_record(int((pred == yv).sum()), len(yv), n_classes)
    names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(n_classes))
    hist = _history(log)
    return RunResult(record=rec, class_names=names, confusion=conf.tolist(), per_class_accuracy=per_class,
                     n_train=len(x_train), n_val=len(x_val), steps=total,
                     epochs=total * recipe.batch_size / len(x_train), train_seconds=log.wall_time,
                     eval_seconds=eval_seconds, world_size=W, n_params=n_params(model),
                     final_loss=hist[-1][1] if hist else float("nan"), history=hist)


def train_task(task, arch: DCArchConfig, recipe: DCTrainConfig, **kw: Any) -> RunResult | None:
    """:func:`train_and_evaluate` on a :class:`beyondfid.distclass.task.Task`."""
    return train_and_evaluate(task.x_train, task.y_train, task.x_val, task.y_val, task.n_classes, arch, recipe,
                              class_names=task.class_names, **kw)
