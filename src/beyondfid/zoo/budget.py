"""How long the zoo stages take on this machine: measured steps, extrapolated (the zoo budget).

For a generator, :func:`estimate_generator` builds the modules and the step function exactly
as :func:`beyondfid.zoo.registry.train_model` does, runs ``warmup`` steps (their time, minus
that of as many steady steps, is the one-off start-up cost: first-call allocations and, for a
compiled model, compilation), times ``steps`` steady steps, and times sampling at two sizes
to separate the per-call cost (e.g. the GAN's BatchNorm re-estimation) from the per-image
cost. It then extrapolates linearly to the configured step count and to every image and call
the stage makes (samples, GAN candidate pool and snapshots, the labelled set of a
conditional model). Training time is linear in the step count (fixed batch size, no
data-dependent work), which is what makes the extrapolation valid. Encoders are timed through
their real training functions (checkpointing included) by the difference of two runs.

The same numbers serve ``benchmarks/zoo_budget.py`` (the budget table, old vs new code) and
the ``make repro`` plan (:mod:`beyondfid.zoo.plan`).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import ENCODERS, MODELS, Config, GeneratorConfig
from ..data import ImageSet, load_imageset
from . import generators
from . import registry as zoo
from .training import deterministic


@dataclass(frozen=True)
class Estimate:
    """Projected wall time of one zoo stage (seconds), from measured steps and samples."""

    name: str
    per_step_s: float
    steps: int
    startup_s: float  # one-off: warm-up steps beyond their steady-state time (allocation, compilation)
    train_s: float  # per_step_s * steps + startup_s
    sample_s: float  # every image and sampling call of the stage
    timed_steps: int

    @property
    def total_s(self) -> float:
        return self.train_s + self.sample_s

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), total_s=self.total_s)


def sampling_calls(cfg: GeneratorConfig) -> tuple[int, int]:
    """``(images, calls)`` the stage samples: ``samples.npz`` (or the labelled set), the candidate pool,
    the snapshots."""
    images = max(cfg.n_samples, getattr(cfg, "n_labelled", 0)) + cfg.candidate_factor * cfg.n_samples
    images += cfg.n_snapshots * cfg.snapshot_samples
    calls = 1 + (cfg.candidate_factor > 0) + cfg.n_snapshots
    return images, calls


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def estimate_generator(name: str, gcfg: GeneratorConfig, real_train: ImageSet, *, steps: int = 20,
                       warmup: int = 3, samples: int = 200, sample_batch: int = 500) -> Estimate:
    """Projected train + sample time of zoo model ``name`` (see the module docstring)."""
    if steps < 1 or warmup < 1 or samples < 2:
        raise ValueError(f"need steps >= 1, warmup >= 1 and samples >= 2, got {steps}, {warmup}, {samples}")
    data = real_train.subsample(gcfg.train_subset, gcfg.seed) if gcfg.train_subset else real_train
    x = generators.to_model_space(data.images)
    cond = getattr(gcfg, "class_cond", False)  # getattr: benchmarks/zoo_budget.py also runs this on older code
    with deterministic(gcfg.seed):
        modules = zoo.build_modules(gcfg)
        optimizers = zoo.build_optimizers(gcfg, modules)
        extra = {"y": torch.as_tensor(data.labels, dtype=torch.int64)} if cond else {}
        step_fn = zoo.make_step_fn(gcfg, modules, optimizers, x, **extra)
        gen = torch.Generator().manual_seed(gcfg.seed)
        t_warm = _timed(lambda: [step_fn(i, gen) for i in range(warmup)])
        t_steps = _timed(lambda: [step_fn(warmup + i, gen) for i in range(steps)])
    per_step = t_steps / steps
    startup = max(0.0, t_warm - warmup * per_step)
    half = max(1, samples // 2)
    t_small = _timed(lambda: zoo.sample(gcfg, modules, half, seed=1, batch=sample_batch))
    t_large = _timed(lambda: zoo.sample(gcfg, modules, 2 * half, seed=1, batch=sample_batch))
    per_image = max(0.0, (t_large - t_small) / half)
    per_call = max(0.0, t_small - half * per_image)
    images, calls = sampling_calls(gcfg)  # guided sampling is timed as configured (zoo.sample uses cfg.guidance)
    return Estimate(name, per_step, gcfg.steps, startup, per_step * gcfg.steps + startup,
                    per_image * images + per_call * calls, steps)


def estimate_encoder(name: str, cfg: Config, real_train: ImageSet, *, steps: int = 20, warmup: int = 3) -> Estimate:
    """Projected training time of encoder ``name`` through its real training function (checkpoints
    included): the time of ``warmup + steps`` steps minus that of ``warmup`` steps, both measured after a
    first run of ``warmup`` steps that absorbs the process's one-off start-up (first-call allocations,
    kernel selection). Without it the start-up lands in the shorter run only and can cancel the steps'
    time (the estimate then came out as 0 s per step)."""
    from . import classifier as clf
    from . import ssl

    ecfg = getattr(cfg.params.zoo, name)
    fn = {"ssl_contrastive": ssl.train_ssl_contrastive, "ssl_masked": ssl.train_ssl_masked}.get(name)
    with tempfile.TemporaryDirectory() as tmp:
        calls = itertools.count()

        def run(n: int) -> float:
            ckpt = Path(tmp) / f"run{next(calls)}.pt"  # a fresh checkpoint per run: never resumed
            if fn is None:
                return _timed(lambda: clf.train_classifier(real_train, ecfg, ckpt, progress=False,
                                                           max_steps_this_call=n))
            return _timed(lambda: fn(real_train, ecfg, ckpt, progress=False, max_steps_this_call=n))

        t_first = run(warmup)
        t_warm = run(warmup)
        per_step = max(0.0, (run(warmup + steps) - t_warm) / steps)
    startup = max(0.0, t_first - warmup * per_step)
    return Estimate(name, per_step, ecfg.n_steps, startup, per_step * ecfg.n_steps + startup, 0.0, steps)


def timing_data(cfg: Config, n: int = 8000, n_classes: int = 10) -> ImageSet:
    """``real_train`` if the ``zoo_splits`` stage has run, else ``n`` random images of the same shape and
    ``n_classes`` labels: step and sampling times depend on shapes, not on pixel values, so a plan can be
    made on a fresh clone."""
    import numpy as np

    splits = zoo.zoo_dirs(cfg)["splits"]
    if (splits / "real_train.npz").is_file():
        return load_imageset(splits, "real_train")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 1, generators.IMAGE_SIZE, generators.IMAGE_SIZE), dtype=np.uint8)
    return ImageSet("timing", images, np.arange(n) % n_classes, tuple(f"c{i}" for i in range(n_classes)))


def estimate_stages(cfg: Config, names: list[str] | None = None, *, steps: int = 20, warmup: int = 3,
                    samples: int = 200) -> list[Estimate]:
    """Estimates for the named zoo models / encoders (default: every trained one of the profile)."""
    real_train = timing_data(cfg)
    out = []
    for name in names if names is not None else [*MODELS, *ENCODERS]:
        if name in MODELS:
            gcfg = cfg.params.zoo.models[name]
            if gcfg.family == "folder":
                continue
            out.append(estimate_generator(name, gcfg, real_train, steps=steps, warmup=warmup, samples=samples,
                                          sample_batch=cfg.params.zoo.sample_batch))
        elif name in ENCODERS:
            if getattr(cfg.params.zoo, name) is None:
                continue
            out.append(estimate_encoder(name, cfg, real_train, steps=steps, warmup=warmup))
        else:
            raise ValueError(f"unknown zoo stage {name!r}; choose from {', '.join(MODELS + ENCODERS)}")
    return out
