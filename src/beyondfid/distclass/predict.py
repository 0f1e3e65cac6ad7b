"""A finished run's classifier, restored exactly as it was evaluated, and its per-image probabilities.

:func:`beyondfid.distclass.train.train_and_evaluate` stores the trained weights in the run's
``ckpt.pt`` (the last :func:`beyondfid.zoo.training.fit` checkpoint) and then recomputes the
BatchNorm statistics ("precise BN") on a seeded subset of the training images before it
evaluates. :func:`restore_classifier` repeats exactly those steps (same subset: rows
``permutation(seed, 0xB17)[:precise_bn_images]``, same micro-batches), so the restored network's
arg-max on the validation images reproduces the stored confusion matrix bit for bit (tested);
:func:`predict_proba` then gives the softmax of every image (fixed, zero-padded micro-batches of
:data:`~beyondfid.distclass.train.EVAL_MICRO`: the same bits whatever the number of images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import DCArchConfig, DCTrainConfig
from ..zoo.training import deterministic, load_modules
from .models import Classifier, build_classifier
from .train import EVAL_MICRO, _to01, precise_bn


class PredictError(ValueError):
    """A run's checkpoint that does not belong to the task or architecture given."""


def precise_bn_rows(n_train: int, recipe: DCTrainConfig, seed: int) -> np.ndarray:
    """The (sorted) training rows the precise-BN pass of a run with ``seed`` uses."""
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB17])).permutation(n_train)
    return np.sort(order[: recipe.precise_bn_images])


def restore_classifier(x_train: np.ndarray, n_classes: int, arch: DCArchConfig, recipe: DCTrainConfig, *,
                       seed: int, ckpt_path: str | Path, device: str = "cpu") -> Classifier:
    """The classifier of a finished run, as its evaluation saw it: weights from ``ckpt_path``, then the
    precise-BN pass on ``x_train`` (the run's training images, in task order)."""
    from .train import n_steps

    with deterministic(seed):
        model = build_classifier(arch, n_classes, x_train.shape[1], x_train.shape[-1])
    step = load_modules(ckpt_path, {"model": model})
    if step != n_steps(len(x_train), recipe):
        raise PredictError(f"{ckpt_path} is at step {step}, not the {n_steps(len(x_train), recipe)} steps of this "
                           f"task and recipe; the run is unfinished or belongs to another task")
    model.to(device)
    if recipe.precise_bn_images:
        precise_bn(model, x_train[precise_bn_rows(len(x_train), recipe, seed)],
                   recipe.batch_size // recipe.grad_shards, device)
    model.eval()
    return model


@torch.no_grad()
def predict_proba(model: torch.nn.Module, images: np.ndarray, micro: int = EVAL_MICRO, device: str = "cpu"
                  ) -> np.ndarray:
    """Softmax probabilities (N, K) float64 of uint8 NCHW ``images`` (fixed, zero-padded micro-batches)."""
    model.eval()
    out = []
    for lo in range(0, len(images), micro):
        x = images[lo : lo + micro]
        n = len(x)
        if n < micro:
            x = np.concatenate([x, np.zeros((micro - n,) + x.shape[1:], np.uint8)])
        out.append(torch.softmax(model(_to01(x, device)).double(), 1)[:n].cpu().numpy())
    if not out:
        return np.zeros((0, 0))
    return np.concatenate(out)
