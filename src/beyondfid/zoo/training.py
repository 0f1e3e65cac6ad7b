"""A generic deterministic, resumable training loop.

:func:`fit` repeatedly calls a user ``step_fn(step, gen) -> {loss_name: value}`` that performs
one optimisation step and draws *all* of its randomness (batch indices, noise, dropout masks)
from the :class:`torch.Generator` ``gen`` it is handed. Because the full training state --
module weights and buffers, optimizer states, the generator state, the global torch RNG
state and the step counter -- is saved in every checkpoint, a run that is killed and restarted
continues from its last checkpoint to *the same final weights, bit for bit*, as a run that was
never interrupted (on CPU, with deterministic algorithms enabled).

Checkpoints are written atomically (temporary file + ``os.replace``) and contain only
tensors and plain containers of numbers and strings, so they load with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import nn

from ..io import atomic_path
from ..progress import progress_bar

StepFn = Callable[[int, torch.Generator], Mapping[str, float]]

CKPT_FORMAT = "beyondfid-train-v1"


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; training stopped instead of producing a bad model."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, malformed, or does not match the modules/run it is loaded into."""


@dataclass
class TrainLog:
    """What happened during training.

    ``history`` holds one dict per optimisation step: ``{"step": s, <loss>: value, ...}``.
    ``wall_time`` is the total training time in seconds, summed over all resumed calls.
    ``steps_done`` is the number of completed steps; ``resumed_from`` the step this call
    started at (0 for a fresh run).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    wall_time: float = 0.0
    steps_done: int = 0
    resumed_from: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "wall_time": self.wall_time,
            "steps_done": self.steps_done,
            "resumed_from": self.resumed_from,
        }

    def curve(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one logged loss, e.g. for a training-curve plot."""
        pts = [(int(h["step"]), float(h[key])) for h in self.history if key in h]
        return [p[0] for p in pts], [p[1] for p in pts]


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str) -> str:
    """``"fp32"`` or ``"bf16"``: ``"auto"`` means bf16 mixed precision where the CPU computes bf16 natively
    (:func:`beyondfid.machine.native_bf16`), else float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        from ..machine import native_bf16

        return "bf16" if native_bf16() else "fp32"
    return precision


def autocast(precision: str):
    """A context for forward passes: CPU autocast to bfloat16 (weights, optimizer states and reductions
    stay float32; matrix products and convolutions run in bf16) for ``"bf16"``, nothing for ``"fp32"``;
    ``"auto"`` is resolved by :func:`resolve_precision`."""
    from contextlib import nullcontext

    if resolve_precision(precision) == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def adam(params, lr: float, betas: tuple[float, float] = (0.9, 0.999), weight_decay: float = 0.0,
         decoupled: bool = False) -> torch.optim.Optimizer:
    """Adam (or AdamW with ``decoupled``) with PyTorch's fused CPU kernel: one pass over all parameters
    instead of a loop over tensors (measured 5% of a zoo step; same update rule)."""
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return cls(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for parameters (one fused foreach pass); buffers
    (e.g. BatchNorm statistics) are copied."""
    pe, pm = list(ema.parameters()), [p.detach() for p in model.parameters()]
    if pe:
        torch._foreach_lerp_(pe, pm, 1.0 - decay)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


@contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch's global RNG and enable deterministic algorithms; restore both afterwards."""
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_rng = torch.random.get_rng_state()
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
        torch.random.set_rng_state(prev_rng)


def _check_finite(losses: Mapping[str, float], step: int, desc: str) -> dict[str, float]:
    if not isinstance(losses, Mapping) or not losses:
        raise TypeError(f"{desc or 'step_fn'}: step_fn must return a non-empty dict of scalar losses, got {losses!r}")
    out: dict[str, float] = {}
    for k, v in losses.items():
        if isinstance(v, torch.Tensor):
            if v.numel() != 1:
                raise TypeError(f"{desc or 'step_fn'}: loss {k!r} must be a scalar, got shape {tuple(v.shape)}")
            v = v.item()
        fv = float(v)
        if not math.isfinite(fv):
            raise TrainingDivergedError(
                f"{desc or 'training'} diverged: loss {k!r} = {fv} at step {step}. The model is not saved past "
                f"the last finite checkpoint; lower the learning rate, check the data for NaN/inf, or change the seed."
            )
        out[str(k)] = fv
    return out


def _save_checkpoint(path: Path, modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
                     gen: torch.Generator, step: int, log: TrainLog, seed: int, meta: Mapping[str, str]) -> None:
    state = {
        "format": CKPT_FORMAT,
        "meta": dict(meta),
        "step": int(step),
        "seed": int(seed),
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "gen_state": gen.get_state(),
        "torch_rng_state": torch.random.get_rng_state(),
        "elapsed": float(log.wall_time),
        "history": log.history,
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def load_checkpoint(ckpt_path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`fit` (``weights_only=True``: never unpickles code)."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise CheckpointError(f"checkpoint {ckpt_path} does not exist; train the model first")
    try:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupted / foreign file
        raise CheckpointError(f"cannot read checkpoint {ckpt_path} ({type(err).__name__}: {err}); delete it to retrain") from None
    if not isinstance(state, dict) or state.get("format") != CKPT_FORMAT:
        raise CheckpointError(f"{ckpt_path} is not a beyondfid training checkpoint ({CKPT_FORMAT}); delete it to retrain")
    return state


def _restore_modules(state: dict[str, Any], modules: Mapping[str, nn.Module], ckpt_path: Path) -> None:
    saved = state["modules"]
    missing = sorted(set(modules) - set(saved))
    if missing:
        raise CheckpointError(f"{ckpt_path} has no weights for module(s) {missing}; saved: {sorted(saved)}")
    for k, m in modules.items():
        try:
            m.load_state_dict(saved[k], strict=True)
        except RuntimeError as err:
            raise CheckpointError(
                f"{ckpt_path}: weights for module {k!r} do not fit the architecture ({err}); "
                f"the config changed since training -- delete the checkpoint to retrain"
            ) from None


def load_modules(ckpt_path: str | Path, modules: Mapping[str, nn.Module]) -> int:
    """Restore the weights of ``modules`` (by name) from a :func:`fit` checkpoint; returns its step."""
    ckpt_path = Path(ckpt_path)
    state = load_checkpoint(ckpt_path)
    _restore_modules(state, modules, ckpt_path)
    return int(state["step"])


def load_log(ckpt_path: str | Path) -> TrainLog:
    """The :class:`TrainLog` stored in a checkpoint."""
    state = load_checkpoint(ckpt_path)
    return TrainLog(history=list(state["history"]), wall_time=float(state["elapsed"]),
                    steps_done=int(state["step"]), resumed_from=int(state["step"]))


def fit(
    step_fn: StepFn,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    *,
    n_steps: int,
    ckpt_path: str | Path,
    seed: int,
    ckpt_every: int = 200,
    log_every: int = 50,
    desc: str = "",
    max_steps_this_call: int | None = None,
    progress: bool = True,
    meta: Mapping[str, str] | None = None,
    precision: str | None = None,
) -> TrainLog:
    """Run ``step_fn`` for steps ``0 .. n_steps-1``, resuming from ``ckpt_path`` if it exists.

    A fresh run seeds the global torch RNG and ``gen`` with ``seed``; a resumed run restores
    both (and all module/optimizer states) from the checkpoint. A checkpoint is written every
    ``ckpt_every`` steps and at the end; ``max_steps_this_call`` stops (after checkpointing)
    once that many steps were done in this call, which is how tests emulate a killed run.
    Every loss is checked; NaN/inf raises :class:`TrainingDivergedError` naming step and loss.
    ``log_every`` sets how often the progress bar shows the running losses. ``meta`` (strings,
    e.g. a config fingerprint) is stored in the checkpoint; resuming with different ``meta``
    raises :class:`CheckpointError` instead of silently mixing two configurations.
    ``precision`` (``"auto"``, ``"fp32"``, ``"bf16"``; default ``None`` = leave ``step_fn`` as it is)
    runs every step under :func:`autocast`; the resolved precision is recorded in ``meta``, so a
    checkpoint is never resumed at another precision.
    """
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    if ckpt_every < 1 or log_every < 1:
        raise ValueError(f"ckpt_every and log_every must be >= 1, got {ckpt_every} and {log_every}")
    if max_steps_this_call is not None and max_steps_this_call < 1:
        raise ValueError(f"max_steps_this_call must be >= 1 or None, got {max_steps_this_call}")
    if not modules:
        raise ValueError("fit needs at least one module to train and checkpoint")
    ckpt_path = Path(ckpt_path)
    meta = {str(k): str(v) for k, v in (meta or {}).items()}
    if precision is not None:
        meta["precision"] = resolve_precision(precision)
        inner = step_fn

        def step_fn(step: int, gen: torch.Generator) -> Mapping[str, float]:  # noqa: F811
            with autocast(meta["precision"]):
                return inner(step, gen)

    log = TrainLog()
    gen = torch.Generator(device="cpu")
    with deterministic(seed):
        gen.manual_seed(seed)
        start = 0
        if ckpt_path.exists():
            state = load_checkpoint(ckpt_path)
            if int(state["seed"]) != int(seed):
                raise CheckpointError(
                    f"{ckpt_path} was trained with seed {state['seed']}, not {seed}; delete it to retrain with the new seed"
                )
            saved_meta = state.get("meta", {})
            if saved_meta != meta:
                changed = sorted(k for k in set(saved_meta) | set(meta) if saved_meta.get(k) != meta.get(k))
                raise CheckpointError(
                    f"{ckpt_path} was written by a run with different settings ({', '.join(changed)}); "
                    f"delete it to retrain with the new ones"
                )
            start = int(state["step"])
            if start > n_steps:
                raise CheckpointError(
                    f"{ckpt_path} is at step {start}, beyond the requested n_steps={n_steps}; delete it to retrain"
                )
            _restore_modules(state, modules, ckpt_path)
            missing = sorted(set(optimizers) - set(state["optimizers"]))
            if missing:
                raise CheckpointError(f"{ckpt_path} has no state for optimizer(s) {missing}; delete it to retrain")
            for k, o in optimizers.items():
                o.load_state_dict(state["optimizers"][k])
            gen.set_state(state["gen_state"])
            torch.random.set_rng_state(state["torch_rng_state"])
            log.history = list(state["history"])
            log.wall_time = float(state["elapsed"])
        log.resumed_from = log.steps_done = start
        stop = n_steps if max_steps_this_call is None else min(n_steps, start + max_steps_this_call)
        bar = progress_bar(total=n_steps, initial=start, desc=desc or "train", unit="step", disable=not progress,
                           leave=False)
        t0 = time.perf_counter()
        base = log.wall_time
        try:
            for step in range(start, stop):
                losses = _check_finite(step_fn(step, gen), step, desc)
                log.history.append({"step": step, **losses})
                log.steps_done = step + 1
                log.wall_time = base + time.perf_counter() - t0
                bar.update(1)
                if (step + 1) % log_every == 0:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)
                if (step + 1) % ckpt_every == 0 and step + 1 < stop:
                    _save_checkpoint(ckpt_path, modules, optimizers, gen, step + 1, log, seed, meta)
        finally:
            bar.close()
        if stop > start or not ckpt_path.exists():
            _save_checkpoint(ckpt_path, modules, optimizers, gen, stop, log, seed, meta)
    return log
