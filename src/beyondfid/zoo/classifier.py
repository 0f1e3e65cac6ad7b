"""Domain classifier: a small CNN trained on AnimalShape's 10 animal labels.

It labels generated samples so that every model gets a class histogram -- the ground truth
against which FINC's modes and the class-skew experiments are checked. Training goes through
the shared deterministic, resumable loop :func:`beyondfid.zoo.training.fit` (cross-entropy,
AdamW, mild shift/flip augmentation); the checkpoint stores the architecture in a buffer, so
:func:`load_classifier` needs only the path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ClassifierConfig
from ..data import ImageSet
from .training import TrainLog, adam, autocast, deterministic, fit, load_checkpoint, resolve_precision
from .transforms import random_affine


class ClassifierError(ValueError):
    """Bad input to the domain classifier (shape, dtype, labels, too few images)."""


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N,1,H,W) -> float32 in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[1] != 1:
        raise ClassifierError(
            f"expected uint8 grayscale images (N, 1, H, W), got {t.dtype} with shape {tuple(t.shape)}; "
            f"convert RGB sets to gray first"
        )
    return t.float().div(127.5).sub(1.0)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class AnimalCNN(nn.Module):
    """Three conv stages (w, 2w, 4w channels; 28 -> 14 -> 7 px), global average pool, linear head."""

    def __init__(self, n_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        self.register_buffer("arch", torch.tensor([n_classes, width], dtype=torch.int64))
        self.body = nn.Sequential(
            _block(1, width), nn.MaxPool2d(2),
            _block(width, 2 * width), nn.MaxPool2d(2),
            _block(2 * width, 4 * width),
        )
        self.head = nn.Linear(4 * width, n_classes)

    @property
    def n_classes(self) -> int:
        return int(self.arch[0])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class ClassifierResult:
    model: AnimalCNN
    log: TrainLog
    heldout_accuracy: float | None


def _check_train(ds: ImageSet, n_classes: int, batch_size: int) -> None:
    if ds.images.shape[1] != 1:
        raise ClassifierError(f"{ds.name}: the classifier trains on grayscale images, got shape {ds.images.shape}")
    if len(ds) < batch_size:
        raise ClassifierError(f"{ds.name}: {len(ds)} images are fewer than batch_size={batch_size}; lower batch_size")
    if ds.labels.min() < 0 or ds.labels.max() >= n_classes:
        raise ClassifierError(f"{ds.name}: labels must lie in 0..{n_classes - 1}, got {ds.labels.min()}..{ds.labels.max()}")


def train_classifier(
    train: ImageSet,
    cfg: ClassifierConfig,
    ckpt_path: str | Path,
    *,
    heldout: ImageSet | None = None,
    n_classes: int = 10,
    progress: bool = True,
    max_steps_this_call: int | None = None,
    channels_last: bool = False,
) -> ClassifierResult:
    """Train (or resume) the CNN with cross-entropy on ``train``; report accuracy on ``heldout``.

    Loss per step: ``mean_i -log softmax(f(aug(x_i)))[y_i]`` over a batch drawn uniformly with
    replacement from ``gen``; the learning rate follows ``lr * (1 + cos(pi t / T)) / 2``.
    ``channels_last`` trains in that memory layout: the same function with faster convolutions under
    bf16 on CPU (``benchmarks/semisup_precision.py --supervised``), but other rounding, which Adam
    amplifies on near-zero gradients, so a run agrees with its contiguous twin only statistically
    (Fig. 6's 27 runs: +0.14 +- 0.35 accuracy points). It is recorded in the checkpoint's meta, so a
    run is never resumed in the other layout.
    """
    _check_train(train, n_classes, cfg.batch_size)
    with deterministic(cfg.seed):
        model = AnimalCNN(n_classes, cfg.width)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, decoupled=True)
    precision = resolve_precision(cfg.precision)
    x_all = to_float(train.images)
    y_all = torch.from_numpy(train.labels)
    n = len(train)

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        model.train()
        for g in opt.param_groups:
            g["lr"] = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * step / cfg.n_steps))
        idx = torch.randint(0, n, (cfg.batch_size,), generator=gen)
        x = random_affine((x_all[idx] + 1) / 2, gen, max_translate=cfg.max_translate, hflip=cfg.hflip) * 2 - 1
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(precision):
            logits = model(x).float()
        loss = F.cross_entropy(logits, y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        acc = (logits.argmax(1) == y_all[idx]).float().mean()
        return {"loss": loss.item(), "train_acc": acc.item()}

    from .ssl import encoder_meta

    meta = encoder_meta(cfg) | ({"layout": "channels_last"} if channels_last else {})  # the default adds no key
    log = fit(step_fn, {"classifier": model}, {"opt": opt}, n_steps=cfg.n_steps, ckpt_path=ckpt_path,
              seed=cfg.seed, ckpt_every=cfg.ckpt_every, desc="classifier", progress=progress,
              max_steps_this_call=max_steps_this_call, meta=meta)
    model.eval()
    acc = None
    if heldout is not None and log.steps_done == cfg.n_steps:
        acc = accuracy(model, heldout.images, heldout.labels)
    return ClassifierResult(model, log, acc)


def load_classifier(ckpt_path: str | Path) -> AnimalCNN:
    """Rebuild the classifier from a :func:`train_classifier` checkpoint (``weights_only`` load), in eval mode."""
    state = load_checkpoint(ckpt_path)
    sd = state["modules"].get("classifier")
    if sd is None or "arch" not in sd:
        raise ClassifierError(f"{ckpt_path} holds no domain-classifier weights; it was written by another model")
    n_classes, width = (int(v) for v in sd["arch"].tolist())
    model = AnimalCNN(n_classes, width)
    model.load_state_dict(sd, strict=True)
    return model.eval()


@torch.no_grad()
def predict_proba(model: AnimalCNN, images: np.ndarray | torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """Softmax class probabilities (N, n_classes), float64, for uint8 gray images (N,1,28,28)."""
    model.eval()
    x = to_float(images)
    out = [F.softmax(model(x[s : s + batch_size]), dim=1).double() for s in range(0, len(x), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.n_classes))


def predict_labels(model: AnimalCNN, images: np.ndarray | torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """Arg-max class id per image (int64, shape (N,))."""
    return predict_proba(model, images, batch_size).argmax(axis=1).astype(np.int64)


def accuracy(model: AnimalCNN, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images whose predicted label equals ``labels``."""
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ClassifierError(f"{len(labels)} labels for {len(images)} images")
    return float(np.mean(predict_labels(model, images) == labels))


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``C[i, j] = #{k : true_k = i, pred_k = j}`` (int64); ``diag(C) / C.sum(1)`` is per-class accuracy."""
    true, pred = np.asarray(true), np.asarray(pred)
    if true.shape != pred.shape or true.ndim != 1:
        raise ClassifierError(f"true and pred must be 1-D of equal length, got {true.shape} and {pred.shape}")
    class_histogram(true, n_classes), class_histogram(pred, n_classes)  # validates ranges
    return np.bincount(true.astype(np.int64) * n_classes + pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes).astype(np.int64)


def class_histogram(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``h_k = #{i : labels_i = k}`` for ``k = 0..n_classes-1`` (int64; divide by N for fractions)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ClassifierError(f"labels must be a 1-D integer array, got {labels.dtype} with shape {labels.shape}")
    if n_classes < 1:
        raise ClassifierError(f"n_classes must be >= 1, got {n_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ClassifierError(f"labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    return np.bincount(labels.astype(np.int64), minlength=n_classes).astype(np.int64)
