"""The training recipe's parts, taken from timm (the paper builds on ConvNeXt's timm-based code).

* optimiser: ``torch.optim.AdamW`` (Tables 10-11: AdamW, betas, weight decay);
* schedule: ``timm.scheduler.CosineLRScheduler`` (linear warm-up from ``min_lr``, cosine decay to
  ``min_lr``), driven by the step number alone (``step_update(step)``) so a resumed run gets the
  same learning rates;
* augmentation: random crop after zero padding and horizontal flips (our 28-px stand-ins for the
  paper's random-resized 224 crops), then timm's ``RandAugment`` (``rand_augment_transform``,
  e.g. ``rand-m9-mstd0.5-inc1`` = the tables' "RandAug (9, 0.5)") on PIL images;
* mixup / cutmix: ``timm.data.Mixup`` (it also applies label smoothing to the soft targets) with
  ``timm.loss.SoftTargetCrossEntropy``; without them ``timm.loss.LabelSmoothingCrossEntropy``.

timm's RandAugment and Mixup draw from Python's ``random`` and NumPy's global generator. Every call
here seeds both from a key ``(seed, step, shard)`` and restores their previous states afterwards,
so a shard's augmentation depends only on that key -- not on which process computes it, nor on
what ran before (the condition for 1-process = k-process training and for bitwise resumption).
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..config import DCTrainConfig


def _seed_int(key: Sequence[int]) -> int:
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1, np.uint32)[0])


@contextmanager
def seeded_global_rngs(key: Sequence[int]) -> Iterator[None]:
    """Seed ``random`` and NumPy's global generator from ``key``; restore both on exit."""
    py_state, np_state = random.getstate(), np.random.get_state()
    s = _seed_int(key)
    random.seed(s)
    np.random.seed(s)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def seed_torch_for(key: Sequence[int]) -> None:
    """Seed torch's global generator (dropout / drop-path masks) from ``key``."""
    torch.manual_seed(_seed_int(key))


class Augmenter:
    """Training-time augmentation of uint8 NCHW images -> float ``[0, 1]`` tensor (+ targets)."""

    def __init__(self, recipe: DCTrainConfig, n_classes: int, image_side: int) -> None:
        self.recipe = recipe
        self.n_classes = int(n_classes)
        self.randaug = None
        if recipe.randaug:
            from timm.data.auto_augment import rand_augment_transform

            # translate_const as timm derives it from the image size; a black fill (our images have a black
            # background; timm's default grey fill would add a border cue); magnitudes capped at 9.99 instead
            # of 10, because at exactly 10 "PosterizeIncreasing" asks for 0 bits, which Pillow >= 10 rejects.
            self.randaug = rand_augment_transform(recipe.randaug, {"translate_const": int(image_side * 0.45),
                                                                   "img_mean": 0, "magnitude_max": 9.99})
        self.mixup = None
        if recipe.mixup > 0 or recipe.cutmix > 0:
            from timm.data import Mixup

            self.mixup = Mixup(mixup_alpha=recipe.mixup, cutmix_alpha=recipe.cutmix,
                               label_smoothing=recipe.label_smoothing, num_classes=self.n_classes)

    @property
    def soft_targets(self) -> bool:
        return self.mixup is not None

    def _geometric(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, c, h, w = x.shape
        p = self.recipe.crop_pad
        if p:
            padded = np.zeros((n, c, h + 2 * p, w + 2 * p), np.uint8)
            padded[:, :, p : p + h, p : p + w] = x
            dy, dx = rng.integers(0, 2 * p + 1, n), rng.integers(0, 2 * p + 1, n)
            x = np.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])
        if self.recipe.hflip:
            flip = rng.random(n) < 0.5
            x = x.copy()
            x[flip] = x[flip][..., ::-1]
        return x

    def _randaug(self, x: np.ndarray) -> np.ndarray:
        from PIL import Image

        out = np.empty_like(x)
        for i in range(len(x)):
            img = x[i, 0] if x.shape[1] == 1 else x[i].transpose(1, 2, 0)
            a = np.asarray(self.randaug(Image.fromarray(img)))
            out[i] = a[None] if x.shape[1] == 1 else a.transpose(2, 0, 1)
        return out

    def __call__(self, images: np.ndarray, labels: np.ndarray, key: Sequence[int]
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Augmented ``(x01, targets)``; targets are int64 labels, or soft (N, K) with mixup/cutmix."""
        rng = np.random.default_rng(np.random.SeedSequence([int(k) for k in key] + [1]))
        x = self._geometric(np.asarray(images), rng)
        with seeded_global_rngs(list(key) + [2]):
            if self.randaug is not None:
                x = self._randaug(x)
            xt = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
            yt = torch.from_numpy(np.asarray(labels, np.int64))
            if self.mixup is not None:
                xt, yt = self.mixup(xt, yt)
        return xt, yt


def criterion(recipe: DCTrainConfig, soft_targets: bool) -> nn.Module:
    """timm's soft-target CE (mixup/cutmix, smoothing inside Mixup) or label-smoothing CE."""
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

    if soft_targets:
        return SoftTargetCrossEntropy()
    return LabelSmoothingCrossEntropy(smoothing=recipe.label_smoothing)


def make_optimizer(model: nn.Module, recipe: DCTrainConfig) -> torch.optim.AdamW:
    """AdamW over all parameters; no weight decay on biases and norm weights (1-d tensors), as timm does."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=(recipe.beta1, recipe.beta2))


def make_scheduler(opt: torch.optim.Optimizer, recipe: DCTrainConfig, total_steps: int, warmup_steps: int):
    """timm's cosine schedule with linear warm-up, in steps (``step_update(step)`` before each step)."""
    from timm.scheduler import CosineLRScheduler

    warmup = min(int(warmup_steps), max(0, total_steps - 1))
    return CosineLRScheduler(opt, t_initial=max(1, total_steps - warmup), lr_min=recipe.min_lr, warmup_t=warmup,
                             warmup_lr_init=recipe.min_lr, warmup_prefix=True, t_in_epochs=False)
