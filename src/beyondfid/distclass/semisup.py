"""FixMatch-family semi-supervised training with FreeMatch's and FlexMatch's adaptive thresholds
(paper 3, Sec. 7.2, Table 8: real unlabelled data vs replaced by vs augmented with generated images).

Every step (FixMatch, Sohn et al. 2020) draws ``B`` labelled images and ``mu * B`` unlabelled ones;
with a weak view ``w`` (flip + shift) and a strong view ``s`` (RandAugment-style ops + Cutout) of
each unlabelled image, and ``q_b = softmax(f(w_b))``, ``Q_b = softmax(f(s_b))``::

    L = CE(f(weak(x_lab)), y)  +  w_u * (1 / (mu B)) * sum_b  mask_b * CE(Q_b, argmax q_b)  [+ w_f * L_f]

The algorithms differ only in ``mask_b``:

* **FixMatch**: ``mask_b = [max q_b >= tau]`` (fixed ``tau``, 0.95).
* **FreeMatch** (Wang et al., ICLR 2023, Sec. 3; self-adaptive thresholding, SAT): a global
  threshold ``tau_t = lam * tau_{t-1} + (1 - lam) * mean_b max q_b`` and a class-wise model
  expectation ``p_t(c) = lam * p_{t-1}(c) + (1 - lam) * mean_b q_b(c)``, both initialised to
  ``1 / C`` (the paper's Eq. 5-7; USB's code starts them at 1), give
  ``tau_t(c) = p_t(c) / max_c' p_t(c') * tau_t`` and ``mask_b = [max q_b >= tau_t(argmax q_b)]``.
  Its self-adaptive fairness loss (Eq. 11) is ``L_f = -H(SumNorm(p_t / h_t), SumNorm(pbar / hbar))``
  with ``H(a, b) = -sum a log b``, ``h_t`` the EMA histogram of the weak hard labels (initialised
  to ``1 / C``) and ``pbar`` / ``hbar`` the mean strong-view prediction / histogram of the masked
  samples of the batch; it is added with weight ``w_f``.
* **FlexMatch** (Zhang et al., NeurIPS 2021; curriculum pseudo-labelling, CPL): every unlabelled
  image remembers its last confident prediction (``selected[i] = argmax q_i`` once
  ``max q_i >= tau``, else -1); the learning effect ``sigma(c) = #{i : selected[i] = c}`` is
  normalised with threshold warm-up, ``beta(c) = sigma(c) / max(max_c' sigma(c'), #{i : selected[i] = -1})``,
  and mapped convexly, ``tau(c) = beta(c) / (2 - beta(c)) * tau``; ``mask_b = [max q_b >= tau(argmax q_b)]``.

The threshold states are module buffers, so :func:`beyondfid.zoo.training.fit` checkpoints and
resumes them with the weights. Evaluation uses an exponential moving average of the weights and
BatchNorm buffers (``torch.optim.swa_utils.AveragedModel``).

The network trains in channels-last layout, with its forward pass under bf16 autocast where the CPU
computes bf16 natively (``precision: auto``, as the zoo's supervised AnimalCNN; losses, thresholds
and optimiser states stay float32). ``benchmarks/semisup_precision.py`` measured that at 2.15x
float32 on the mini step (from 2026-12-04; Table 8's runs before that date are float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..data import ImageSet
from ..zoo.classifier import AnimalCNN, predict_labels, to_float
from ..zoo.training import TrainLog, autocast, deterministic, fit, resolve_precision
from ..zoo.transforms import random_affine

Algorithm = Literal["fixmatch", "freematch", "flexmatch"]
ALGORITHMS = ("fixmatch", "freematch", "flexmatch")


class SemiSupError(ValueError):
    """Bad input to the semi-supervised trainer."""


# --------------------------------------------------------------------------------------
# Augmentations (batched, per-sample, every random number from the step's generator)
# --------------------------------------------------------------------------------------


def weak_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """FixMatch's weak view: random left-right flip and a shift of up to 12.5% of the side (x in [0, 1])."""
    return random_affine(x, gen, max_translate=0.125, hflip=True)


N_STRONG_OPS = 11  # identity, autocontrast, brightness, contrast, sharpness, posterize, solarize, rotate, shear_x, shear_y, translate


def _u(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def strong_augment(x: torch.Tensor, gen: torch.Generator, n_ops: int = 2, cutout: float = 0.5) -> torch.Tensor:
    """RandAugment-style strong view for FixMatch (x: float (N, C, H, W) in [0, 1]).

    Each sample draws ``n_ops`` distinct operations out of :data:`N_STRONG_OPS` (identity,
    autocontrast, brightness, contrast, sharpness, posterize, solarize, rotate +-30 deg, shear x/y
    +-0.3, translate +-30%), each with a uniformly random magnitude (FixMatch's RandAugment
    variant), then a Cutout square of side ``U(0, cutout) * H`` filled with gray 0.5. The photometric
    ops run in the order listed and the geometric ones are composed into one affine map (a fixed
    order, unlike RandAugment's random one; equalize is left out, it has no cheap batched form).
    """
    if x.ndim != 4 or not x.is_floating_point():
        raise SemiSupError(f"strong_augment needs float (N,C,H,W) in [0, 1], got {x.dtype} {tuple(x.shape)}")
    n, c, h, w = x.shape
    pick = torch.rand(n, N_STRONG_OPS, generator=gen).argsort(dim=1)[:, :n_ops]
    on = torch.zeros(n, N_STRONG_OPS, dtype=torch.bool)
    on[torch.arange(n)[:, None], pick] = True
    sel = lambda k: on[:, k].view(n, 1, 1, 1)  # noqa: E731
    out = x
    lo, hi = out.amin(dim=(1, 2, 3), keepdim=True), out.amax(dim=(1, 2, 3), keepdim=True)
    out = torch.where(sel(1), (out - lo) / (hi - lo).clamp_min(1e-6), out)                        # autocontrast
    out = torch.where(sel(2), out * _u(n, 0.05, 1.95, gen).view(n, 1, 1, 1), out)                   # brightness
    m = out.mean(dim=(1, 2, 3), keepdim=True)
    out = torch.where(sel(3), m + (out - m) * _u(n, 0.05, 1.95, gen).view(n, 1, 1, 1), out)         # contrast
    k = torch.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    blur = F.conv2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), k.view(1, 1, 3, 3).repeat(c, 1, 1, 1), groups=c)
    out = torch.where(sel(4), blur + (out - blur) * _u(n, 0.05, 1.95, gen).view(n, 1, 1, 1), out)   # sharpness
    out = out.clamp(0, 1)
    step = 2.0 ** (8 - torch.randint(4, 9, (n,), generator=gen).float()).view(n, 1, 1, 1)
    out = torch.where(sel(5), torch.floor(out * 255 / step) * step / 255, out)                      # posterize 4-8 bits
    thr = _u(n, 0.0, 1.0, gen).view(n, 1, 1, 1)
    out = torch.where(sel(6) & (out >= thr), 1.0 - out, out)                                          # solarize
    ang = torch.where(on[:, 7], _u(n, -30, 30, gen), torch.zeros(n)) * math.pi / 180
    shx = torch.where(on[:, 8], _u(n, -0.3, 0.3, gen), torch.zeros(n))
    shy = torch.where(on[:, 9], _u(n, -0.3, 0.3, gen), torch.zeros(n))
    tx = torch.where(on[:, 10], _u(n, -0.6, 0.6, gen), torch.zeros(n))   # normalised coords: 0.6 = 30% of the side
    ty = torch.where(on[:, 10], _u(n, -0.6, 0.6, gen), torch.zeros(n))
    cos, sin = torch.cos(ang), torch.sin(ang)
    a = torch.zeros(n, 2, 3)
    a[:, 0, 0], a[:, 0, 1] = cos + shx * sin, -sin + shx * cos
    a[:, 1, 0], a[:, 1, 1] = sin + shy * cos, cos - shy * sin
    a[:, 0, 2], a[:, 1, 2] = tx, ty
    grid = F.affine_grid(a, [n, c, h, w], align_corners=False)
    out = F.grid_sample(out, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if cutout > 0:
        side = (_u(n, 0.0, cutout, gen) * h).round().view(n, 1, 1)
        cy = torch.randint(0, h, (n, 1, 1), generator=gen)
        cx = torch.randint(0, w, (n, 1, 1), generator=gen)
        yy, xx = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
        hole = ((yy - cy).abs() <= side / 2) & ((xx - cx).abs() <= side / 2) & (side > 0)
        out = torch.where(hole.unsqueeze(1), torch.full_like(out, 0.5), out)
    return out


# --------------------------------------------------------------------------------------
# Adaptive thresholds (state in buffers: checkpointed and resumed by fit)
# --------------------------------------------------------------------------------------


class FreeMatchThresholds(nn.Module):
    """FreeMatch's self-adaptive thresholds (global ``tau``, class-wise ``p``, histogram ``h``)."""

    def __init__(self, n_classes: int, momentum: float) -> None:
        super().__init__()
        self.lam = float(momentum)
        self.register_buffer("p_model", torch.full((n_classes,), 1.0 / n_classes))
        self.register_buffer("label_hist", torch.full((n_classes,), 1.0 / n_classes))
        self.register_buffer("tau", torch.tensor(1.0 / n_classes))

    @torch.no_grad()
    def update_and_mask(self, probs_w: torch.Tensor) -> torch.Tensor:
        """Update ``tau_t``, ``p_t``, ``h_t`` with this batch's weak predictions, then the 0/1 mask."""
        lam = self.lam
        conf, hard = probs_w.max(dim=1)
        self.tau.mul_(lam).add_((1 - lam) * conf.mean())
        self.p_model.mul_(lam).add_((1 - lam) * probs_w.mean(dim=0))
        hist = torch.bincount(hard, minlength=len(self.p_model)).to(probs_w.dtype) / len(hard)
        self.label_hist.mul_(lam).add_((1 - lam) * hist)
        class_tau = self.p_model / self.p_model.max() * self.tau
        return (conf >= class_tau[hard]).to(probs_w.dtype)

    def fairness_loss(self, mask: torch.Tensor, logits_s: torch.Tensor) -> torch.Tensor:
        """``-H(SumNorm(p_t / h_t), SumNorm(pbar / hbar)) = sum a log b`` over the masked samples (0 if none)."""
        keep = mask.bool()
        if not keep.any():
            return logits_s.sum() * 0.0
        probs = logits_s[keep].softmax(dim=1)
        hbar = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1]).to(probs.dtype)
        hbar = hbar / hbar.sum()
        inv = lambda v: torch.where(v > 0, 1.0 / v, torch.zeros_like(v))  # noqa: E731  (empty classes drop out)
        a = self.p_model * inv(self.label_hist)
        a = (a / a.sum()).detach()
        b = probs.mean(dim=0) * inv(hbar).detach()
        b = b / b.sum()
        return (a * torch.log(b + 1e-12)).sum()


class FlexMatchThresholds(nn.Module):
    """FlexMatch's curriculum pseudo-labelling state: each unlabelled image's last confident label."""

    def __init__(self, n_unlabelled: int, n_classes: int, tau: float) -> None:
        super().__init__()
        self.tau = float(tau)
        self.n_classes = n_classes
        self.register_buffer("selected", torch.full((n_unlabelled,), -1, dtype=torch.int64))

    def class_thresholds(self) -> torch.Tensor:
        """``tau * beta / (2 - beta)`` with warm-up normalisation ``beta = sigma / max(max sigma, #unused)``."""
        counts = torch.bincount(self.selected + 1, minlength=self.n_classes + 1).double()
        unused, sigma = counts[0], counts[1:]
        beta = sigma / torch.maximum(sigma.max(), unused).clamp_min(1.0)
        return (self.tau * beta / (2.0 - beta)).float()

    @torch.no_grad()
    def mask_and_update(self, probs_w: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The mask from the current thresholds, then record this batch's confident labels."""
        conf, hard = probs_w.max(dim=1)
        mask = (conf >= self.class_thresholds()[hard]).to(probs_w.dtype)
        confident = conf >= self.tau
        self.selected[idx[confident]] = hard[confident]
        return mask


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SemiSupSettings:
    """Hyper-parameters of one run (validated in ``beyondfid.config.DcSemiSupConfig``)."""

    algorithm: Algorithm
    n_steps: int
    batch_size: int          # labelled images per step, B
    uratio: int              # mu: unlabelled images per labelled one
    lr: float
    weight_decay: float
    tau: float               # FixMatch / FlexMatch confidence threshold
    ema_p: float             # FreeMatch threshold momentum lambda
    w_u: float
    w_f: float               # FreeMatch fairness weight
    ema_model: float         # EMA of the weights used for evaluation
    width: int
    seed: int
    ckpt_every: int = 100
    precision: str = "auto"  # forward passes: "auto" (bf16 where native), "fp32" or "bf16"


@dataclass
class SemiSupResult:
    model: AnimalCNN
    log: TrainLog
    test_error: float | None


def fixmatch_lr(step: int, n_steps: int, lr: float) -> float:
    """FixMatch's schedule ``lr * cos(7 pi k / (16 K))``."""
    return lr * math.cos(7.0 * math.pi * step / (16.0 * n_steps))


def labelled_subset(ds: ImageSet, per_class: int, seed: int) -> np.ndarray:
    """Rows of ``ds``: ``per_class`` seeded random images of every class (sorted)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in np.unique(ds.labels):
        members = np.flatnonzero(ds.labels == c)
        if len(members) < per_class:
            raise SemiSupError(f"{ds.name}: class {c} has {len(members)} images, fewer than {per_class} labels")
        rows.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(rows))


def train_semisup(labelled: ImageSet, unlabelled: np.ndarray, s: SemiSupSettings, ckpt_path: str | Path, *,
                  test: ImageSet | None = None, n_classes: int = 10, progress: bool = True,
                  max_steps_this_call: int | None = None) -> SemiSupResult:
    """Train an :class:`AnimalCNN` on ``labelled`` + the (label-free) ``unlabelled`` uint8 images.

    Returns the EMA model and, if ``test`` is given and training finished, its error rate there.
    """
    if s.algorithm not in ALGORITHMS:
        raise SemiSupError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {s.algorithm!r}")
    if len(labelled) < 1 or len(unlabelled) < 1:
        raise SemiSupError(f"need labelled and unlabelled images, got {len(labelled)} and {len(unlabelled)}")
    if labelled.labels.min() < 0 or labelled.labels.max() >= n_classes:
        raise SemiSupError(f"labels must lie in 0..{n_classes - 1}")
    with deterministic(s.seed):
        model = AnimalCNN(n_classes, s.width).to(memory_format=torch.channels_last)
    # EMA of weights and buffers (BatchNorm statistics) for evaluation, torch's ready part
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(s.ema_model), use_buffers=True)
    modules: dict[str, nn.Module] = {"model": model, "ema": ema}
    if s.algorithm == "freematch":
        thr: nn.Module = FreeMatchThresholds(n_classes, s.ema_p)
    elif s.algorithm == "flexmatch":
        thr = FlexMatchThresholds(len(unlabelled), n_classes, s.tau)
    else:
        thr = nn.Module()
    modules["thresholds"] = thr
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    xl = to_float(labelled.images).add(1).div(2)      # [0, 1]
    yl = torch.from_numpy(labelled.labels)
    xu = to_float(np.asarray(unlabelled)).add(1).div(2)
    nl, nu, bu = len(xl), len(xu), s.batch_size * s.uratio
    precision = resolve_precision(s.precision)

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        model.train()
        for g in opt.param_groups:
            g["lr"] = fixmatch_lr(step, s.n_steps, s.lr)
        il = torch.randint(0, nl, (s.batch_size,), generator=gen)
        iu = torch.randint(0, nu, (bu,), generator=gen)
        x_l = weak_augment(xl[il], gen)
        x_w = weak_augment(xu[iu], gen)
        x_s = strong_augment(xu[iu], gen)
        x = (torch.cat([x_l, x_w, x_s]) * 2 - 1).contiguous(memory_format=torch.channels_last)
        with autocast(precision):
            logits = model(x).float()   # one forward, as USB's use_cat
        lg_l, lg_w, lg_s = logits[: s.batch_size], logits[s.batch_size: s.batch_size + bu], logits[s.batch_size + bu:]
        sup = F.cross_entropy(lg_l, yl[il])
        probs_w = lg_w.detach().softmax(dim=1)
        if s.algorithm == "freematch":
            mask = thr.update_and_mask(probs_w)
        elif s.algorithm == "flexmatch":
            mask = thr.mask_and_update(probs_w, iu)
        else:
            mask = (probs_w.max(dim=1).values >= s.tau).to(probs_w.dtype)
        unsup = (F.cross_entropy(lg_s, probs_w.argmax(dim=1), reduction="none") * mask).mean()
        loss = sup + s.w_u * unsup
        fair = thr.fairness_loss(mask, lg_s) if s.algorithm == "freematch" else torch.zeros(())
        loss = loss + s.w_f * fair
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update_parameters(model)
        return {"loss": loss.item(), "sup_loss": sup.item(), "unsup_loss": unsup.item(),
                "fair_loss": float(fair.detach()), "mask_ratio": mask.mean().item()}

    meta = {"algorithm": s.algorithm, "n_labelled": str(nl), "n_unlabelled": str(nu), "precision": precision}
    log = fit(step_fn, modules, {"opt": opt}, n_steps=s.n_steps, ckpt_path=ckpt_path, seed=s.seed,
              ckpt_every=s.ckpt_every, desc=s.algorithm, progress=progress, max_steps_this_call=max_steps_this_call,
              meta=meta)
    final: AnimalCNN = ema.module.eval()
    err = None
    if test is not None and log.steps_done == s.n_steps:
        err = float(np.mean(predict_labels(final, test.images) != test.labels))
    return SemiSupResult(final, log, err)
