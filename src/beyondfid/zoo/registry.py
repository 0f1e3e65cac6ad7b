"""The mini model zoo: splits, the generator registry, training/sampling, and the CLI.

Nine generators of the AnimalShape domain, each standing in for a knob of the papers'
experiments:

==============  =======================  ==============================================
name            family                   role
==============  =======================  ==============================================
ddpm_s          UNet DDPM, DDIM          small member of one family (EDM2-XS)
ddpm_l          UNet DDPM, DDIM          same family, ~2x width (EDM2-XXL)
dit             DiT on 4x4 patches       another architecture (DiT)
uvit            U-ViT (long skips)       other architecture at similar FID (U-ViT, paper 3)
gan             DCGAN                    StyleGAN2 stand-in; snapshots + 5x candidate pool
projected_gan   FastGAN G, projected D   Projected FastGAN: D on frozen ImageNet EfficientNet-Lite0
                                         features, random CCM/CSM, DiffAugment
memorizer       UNet DDPM, tiny subset   trained long on a few hundred images: copies them
vae             conv VAE                 a third family
ddpm_cond       class-conditional UNet   labelled synthetic data (paper 3, Fig. 6 / Table 8)
==============  =======================  ==============================================

Every model is trained by :func:`beyondfid.zoo.training.fit` (deterministic, resumable,
NaN-checked) and leaves in its output folder ``ckpt.pt``, ``samples.npz`` (``images`` uint8
N x 1 x 28 x 28) and ``log.json``; the GANs add ``candidates.npz`` and ``snapshots/``.

The class-conditional ``ddpm_cond`` also writes labels: ``samples.npz`` holds ``images`` and
``labels`` (int64, N, the class each image was generated for), and ``labelled.npz`` the
labelled synthetic set of ``n_labelled`` images (mini: 8,000, the size of ``real_train``) with
``images`` (uint8, N x 1 x 28 x 28), ``labels`` (int64, N) and ``class_names`` (str, C).
Labels are class-balanced in blocks: every consecutive block of C images holds each class
once, in a seeded random order, so any prefix of a multiple of C images is balanced;
``samples.npz`` is the first ``n_samples`` images of ``labelled.npz``. Read them with
:func:`load_labelled`.

CLI (the DVC stages ``zoo_splits``, ``zoo_train@<model>``, ``zoo_encoder@<name>``; outputs
under ``artifacts/<profile>/zoo/``)::

    python -m beyondfid.zoo splits  --profile mini
    python -m beyondfid.zoo train   --profile mini --model ddpm_s
    python -m beyondfid.zoo encoder --profile mini --name classifier
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import json
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import diffusion, generators
from ..config import (ENCODERS, FAMILY_OF as _FAMILY_OF, MODELS, Config, ConfigError, GeneratorConfig,
                      add_stage_arguments, apply_threads, load_config)
from ..data import DataError, ImageFolder, ImageSet, load_imageset, save_imageset, train_val_split
from .transforms import diff_augment
from ..io import load_npz, save_json, save_npz, sha256_array
from .training import (CheckpointError, TrainingDivergedError, adam, autocast, deterministic, ema_update, fit,
                       load_checkpoint, load_modules, resolve_precision)

#: Families whose convolutions run in channels-last layout (measured faster for the UNet; see README "Performance").
CHANNELS_LAST_FAMILIES = frozenset({"unet_ddpm", "dcgan", "projected_gan", "vae"})

SPLITS = ("real_train", "real_heldout", "real_half_a", "real_half_b")


class ZooError(ValueError):
    """Bad zoo configuration or inputs."""


# --------------------------------------------------------------------------------------
# Splits and nearest neighbours
# --------------------------------------------------------------------------------------


def animal_splits(ds: ImageSet, seed: int, heldout_fraction: float) -> dict[str, ImageSet]:
    """Stratified, seeded splits: ``real_train`` / ``real_heldout``, and ``real_half_a``/``real_half_b``,
    two disjoint stratified halves of ``real_heldout`` for same-distribution controls."""
    if len(ds) < 4 * max(1, len(np.unique(ds.labels))):
        raise DataError(f"{ds.name}: {len(ds)} images are too few for train/held-out/half splits")
    train, held = train_val_split(ds, heldout_fraction, seed)
    half_a, half_b = train_val_split(held, 0.5, seed + 1)
    out = {"real_train": train, "real_heldout": held, "real_half_a": half_a, "real_half_b": half_b}
    return {k: dataclasses.replace(v, name=k) for k, v in out.items()}


def nearest_neighbor_l2(samples: np.ndarray, reference: np.ndarray, k: int = 1,
                        batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-space L2 distances from each sample to its ``k`` nearest reference images.

    Images are scaled to ``[0, 1]``; ``d(a, b) = ||a - b||_2`` over all pixels, computed as
    ``sqrt(max(0, |a|^2 + |b|^2 - 2 a.b))`` in float64. Returns ``(dist, index)``, each
    ``(N, k)``, nearest first. ``dist[:, 0] / dist[:, 1]`` is the usual copy-detection ratio.
    """
    a = np.asarray(samples)
    b = np.asarray(reference)
    if a.ndim < 2 or b.ndim < 2 or a.shape[1:] != b.shape[1:]:
        raise ZooError(f"samples {a.shape} and reference {b.shape} must share the image shape")
    if not 1 <= k <= len(b):
        raise ZooError(f"k={k} must be between 1 and the number of reference images ({len(b)})")
    bf = torch.as_tensor(b.reshape(len(b), -1), dtype=torch.float64) / 255.0
    bn = (bf ** 2).sum(1)
    dists, idxs = [], []
    for s in range(0, len(a), batch):
        af = torch.as_tensor(a[s : s + batch].reshape(-1, bf.shape[1]), dtype=torch.float64) / 255.0
        d2 = ((af ** 2).sum(1)[:, None] + bn[None] - 2 * af @ bf.T).clamp_min(0)
        d, i = torch.topk(d2, k, dim=1, largest=False, sorted=True)
        dists.append(d.sqrt().numpy())
        idxs.append(i.numpy())
    if not dists:
        return np.zeros((0, k)), np.zeros((0, k), dtype=np.int64)
    return np.concatenate(dists), np.concatenate(idxs)


# --------------------------------------------------------------------------------------
# Model construction
# --------------------------------------------------------------------------------------


def _frozen_copy(net: nn.Module) -> nn.Module:
    ema = copy.deepcopy(net)
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


def build_modules(cfg: GeneratorConfig) -> dict[str, nn.Module]:
    """The trainable modules of a model, by role (``model``/``ema`` or ``G``/``D``, plus ``G_ema`` for a
    GAN with ``ema > 0``), freshly initialised from the global torch RNG (call inside
    :func:`beyondfid.zoo.training.deterministic`); conv families in channels-last layout."""
    modules = _build_modules(cfg)
    if cfg.family in CHANNELS_LAST_FAMILIES:
        for m in modules.values():
            m.to(memory_format=torch.channels_last)
    return modules


def _cl(x: torch.Tensor, cfg: GeneratorConfig) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if cfg.family in CHANNELS_LAST_FAMILIES else x


def _build_modules(cfg: GeneratorConfig) -> dict[str, nn.Module]:
    if cfg.family == "unet_ddpm":
        net: nn.Module = generators.UNet(cfg.width, (1,) + (2,) * (cfg.depth - 1), n_res=1, space_to_depth=2,
                                         n_classes=cfg.n_classes if cfg.class_cond else 0)
    elif cfg.family == "dit":
        net = generators.DiT(cfg.width, cfg.depth, cfg.heads, patch=4)
    elif cfg.family == "uvit":
        net = generators.UViT(cfg.width, cfg.depth, cfg.heads, patch=cfg.patch)
    elif cfg.family == "vae":
        return {"model": generators.ConvVAE(cfg.z_dim, cfg.width)}
    elif cfg.family == "dcgan":
        return {"G": generators.DCGANGenerator(cfg.z_dim, cfg.width), "D": generators.DCGANDiscriminator(cfg.width)}
    else:
        G = generators.FastGANGenerator(cfg.z_dim, cfg.width)
        out = {"G": G, "D": generators.ProjectedDiscriminator(cfg.width, cfg.feature_resolution, cfg.proj_channels)}
        if cfg.ema > 0:
            out["G_ema"] = _frozen_copy(G)
        return out
    return {"model": net, "ema": _frozen_copy(net)}


def _adam(module: nn.Module, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    return adam([p for p in module.parameters() if p.requires_grad], lr=lr, betas=betas)


def build_optimizers(cfg: GeneratorConfig, modules: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
    """Adam for every trained module: DCGAN's betas (0.5, 0.999); Projected GAN's (0, 0.99); (0.9, 0.999)
    for the diffusion models and the VAE."""
    if "G" in modules:
        betas = (0.0, 0.99) if cfg.family == "projected_gan" else (0.5, 0.999)
        return {"G": _adam(modules["G"], cfg.lr, betas), "D": _adam(modules["D"], cfg.lr, betas)}
    return {"model": _adam(modules["model"], cfg.lr, (0.9, 0.999))}


def _set_lr(opt: torch.optim.Optimizer, cfg: GeneratorConfig, step: int) -> None:
    scale = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else 1.0
    for group in opt.param_groups:
        group["lr"] = cfg.lr * scale


_ema_update = ema_update  # the shared foreach EMA of beyondfid.zoo.training


def make_step_fn(cfg: GeneratorConfig, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                 x: torch.Tensor, on_step_end: Callable[[int], None] | None = None, y: torch.Tensor | None = None
                 ) -> Callable[[int, torch.Generator], dict[str, float]]:
    """One optimisation step of the model family on model-space training images ``x`` (with their
    labels ``y`` for a class-conditional model)."""
    n = len(x)
    if n < 2:
        raise ZooError(f"need at least 2 training images, got {n}")
    if cfg.class_cond and (y is None or len(y) != n):
        raise ZooError(f"a class-conditional model needs one label per training image, got "
                       f"{'none' if y is None else len(y)} for {n}")
    bs = min(cfg.batch_size, n)
    x = _cl(x, cfg)
    ac = functools.partial(autocast, resolve_precision(cfg.precision))

    def batch(gen: torch.Generator) -> torch.Tensor:
        return _cl(x[torch.randint(0, n, (bs,), generator=gen)], cfg)

    if cfg.family in ("unet_ddpm", "dit", "uvit"):
        alpha_bar = diffusion.cosine_alpha_bar(cfg.timesteps)
        model, ema, opt = modules["model"], modules["ema"], optimizers["model"]

        def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
            _set_lr(opt, cfg, step)
            model.train()
            with ac():
                if cfg.class_cond:
                    idx = torch.randint(0, n, (bs,), generator=gen)
                    drop = torch.rand(bs, generator=gen) < cfg.label_dropout  # -> the null label (index n_classes)
                    labels = torch.where(drop, torch.full_like(y[idx], cfg.n_classes), y[idx])
                    loss = diffusion.eps_loss(model, _cl(x[idx], cfg), alpha_bar, gen, labels)
                else:
                    loss = diffusion.eps_loss(model, batch(gen), alpha_bar, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
            opt.step()
            _ema_update(ema, model, cfg.ema)
            if on_step_end:
                on_step_end(step)
            return {"loss": loss.item(), "grad_norm": float(gnorm)}

    elif cfg.family == "vae":
        model, opt = modules["model"], optimizers["model"]

        def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
            _set_lr(opt, cfg, step)
            model.train()
            with ac():
                loss, parts = model.loss(batch(gen), gen, cfg.beta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return {"loss": loss.item(), **parts}

    elif cfg.family == "projected_gan":  # Projected GAN: hinge loss on the heads of four feature scales
        G, D, G_ema = modules["G"], modules["D"], modules.get("G_ema")
        opt_g, opt_d = optimizers["G"], optimizers["D"]

        def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
            _set_lr(opt_g, cfg, step)
            _set_lr(opt_d, cfg, step)
            G.train()
            D.train()
            real = batch(gen)
            aug = functools.partial(diff_augment, gen=gen, color=True) if cfg.diffaug else (lambda t: t)
            with ac():
                fake = G(torch.randn(bs, cfg.z_dim, generator=gen))
                with torch.no_grad():
                    f_real = D.features(_cl(aug(real), cfg))
                f_fake = D.features(_cl(aug(fake), cfg))  # one pass for both losses: frozen features do not depend on D
                d_loss = (F.relu(1 - D.heads(f_real).float()).mean()
                          + F.relu(1 + D.heads([f.detach() for f in f_fake]).float()).mean())
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            with ac():
                g_loss = -D.heads(f_fake).float().mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if G_ema is not None:
                _ema_update(G_ema, G, cfg.ema)
            if on_step_end:
                on_step_end(step)
            return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    else:  # dcgan: non-saturating logistic loss
        G, D = modules["G"], modules["D"]
        opt_g, opt_d = optimizers["G"], optimizers["D"]

        def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
            _set_lr(opt_g, cfg, step)
            _set_lr(opt_d, cfg, step)
            G.train()
            D.train()
            real = batch(gen)
            z = torch.randn(bs, cfg.z_dim, generator=gen)
            with ac():
                fake = G(z)
                if cfg.diffaug:  # fresh augmentations for every D input (real, fake for D, fake for G)
                    real = diff_augment(real, gen)
                    d_fake, g_fake = diff_augment(fake.detach(), gen), diff_augment(fake, gen)
                else:
                    d_fake, g_fake = fake.detach(), fake
                d_loss = F.softplus(-D(real).float()).mean() + F.softplus(D(d_fake).float()).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            with ac():
                g_loss = F.softplus(-D(g_fake).float()).mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if on_step_end:
                on_step_end(step)
            return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    return step_fn


# --------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------


@torch.no_grad()
def _precise_bn(G: nn.Module, z_dim: int, seed: int, n: int = 4096, batch: int = 512) -> nn.Module:
    """A copy of ``G`` whose BatchNorm statistics are the exact average over ``n`` fresh latents,
    so that sampling in eval mode draws i.i.d. images (no dependence on batch composition)."""
    G = copy.deepcopy(G)
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average = exact mean over the batches seen
    G.train()
    gen = torch.Generator().manual_seed(seed)
    for s in range(0, n, batch):
        G(torch.randn(min(batch, n - s), z_dim, generator=gen))
    return G.eval()


def balanced_labels(n: int, n_classes: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` labels in blocks of ``n_classes``, each block a random permutation of all classes
    (so every prefix of a multiple of ``n_classes`` labels is exactly class-balanced)."""
    if n < 0 or n_classes < 1:
        raise ZooError(f"need n >= 0 and n_classes >= 1, got {n}, {n_classes}")
    blocks = -(-n // n_classes)
    perms = torch.argsort(torch.rand(blocks, n_classes, generator=gen), dim=1)
    return perms.reshape(-1)[:n].to(torch.int64)


def sample_labelled(cfg: GeneratorConfig, modules: dict[str, nn.Module], n: int, seed: int, batch: int = 500,
                    labels: np.ndarray | torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A class-conditional model's ``n`` samples and the labels they were generated for.

    ``labels`` default to :func:`balanced_labels` (drawn from their own stream of ``seed``); sampling
    is DDIM with classifier-free guidance scale ``cfg.guidance`` (:func:`beyondfid.zoo.diffusion.guided`)
    from noise drawn from ``seed``. Deterministic in ``seed`` (and ``labels``), independent of
    ``batch``, and a prefix: the first ``m`` of ``n`` samples are the ``m`` samples of the same seed.
    """
    if not cfg.class_cond:
        raise ZooError("sample_labelled needs a class-conditional model (class_cond: true)")
    gen = torch.Generator().manual_seed(seed)
    if labels is None:
        y = balanced_labels(n, cfg.n_classes, torch.Generator().manual_seed(seed + 1_000_003))
    else:
        y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if len(y) != n or (n and (int(y.min()) < 0 or int(y.max()) >= cfg.n_classes)):
        raise ZooError(f"need {n} labels in 0..{cfg.n_classes - 1}, got {len(y)}")
    out = []
    with deterministic(seed), autocast(resolve_precision(cfg.precision)):
        net = (modules["ema"] if cfg.ema > 0 else modules["model"]).eval()
        alpha_bar = diffusion.cosine_alpha_bar(cfg.timesteps)
        noise = torch.randn(n, 1, generators.MODEL_SIZE, generators.MODEL_SIZE, generator=gen)
        for s in range(0, n, batch):
            den = diffusion.guided(net, y[s : s + batch], cfg.n_classes, cfg.guidance)
            out.append(generators.to_uint8(diffusion.ddim_sample(den, noise[s : s + batch], alpha_bar, cfg.sample_steps)))
    images = np.concatenate(out) if out else np.zeros((0, 1, generators.IMAGE_SIZE, generators.IMAGE_SIZE), np.uint8)
    return images, y.numpy()


def sample(cfg: GeneratorConfig, modules: dict[str, nn.Module], n: int, seed: int, batch: int = 500) -> np.ndarray:
    """``n`` uint8 samples ``(n, 1, 28, 28)``; deterministic in ``seed`` and independent of ``batch``
    (a class-conditional model: the images of :func:`sample_labelled` with balanced labels)."""
    if n < 0:
        raise ZooError(f"cannot draw {n} samples")
    if cfg.class_cond:
        return sample_labelled(cfg, modules, n, seed, batch)[0]
    gen = torch.Generator().manual_seed(seed)
    out = []
    with deterministic(seed), autocast(resolve_precision(cfg.precision)):
        if cfg.family in ("unet_ddpm", "dit", "uvit"):
            net = modules["ema"] if cfg.ema > 0 else modules["model"]
            net.eval()
            alpha_bar = diffusion.cosine_alpha_bar(cfg.timesteps)
            noise = torch.randn(n, 1, generators.MODEL_SIZE, generators.MODEL_SIZE, generator=gen)
            for s in range(0, n, batch):
                out.append(generators.to_uint8(diffusion.ddim_sample(net, noise[s : s + batch], alpha_bar,
                                                                     cfg.sample_steps)))
        elif cfg.family == "vae":
            vae = modules["model"].eval()
            z = torch.randn(n, cfg.z_dim, generator=gen)
            for s in range(0, n, batch):
                with torch.no_grad():
                    out.append(generators.to_uint8(vae.decode(z[s : s + batch])))
        else:
            G = _precise_bn(modules.get("G_ema", modules["G"]), cfg.z_dim, seed + 7919, n=cfg.bn_samples)
            z = torch.randn(n, cfg.z_dim, generator=gen)
            for s in range(0, n, batch):
                with torch.no_grad():
                    out.append(generators.to_uint8(G(z[s : s + batch])))
    if not out:
        return np.zeros((0, 1, generators.IMAGE_SIZE, generators.IMAGE_SIZE), np.uint8)
    return np.concatenate(out)


def snapshot_steps(cfg: GeneratorConfig) -> list[int]:
    """Steps (1-based counts of completed steps) after which a GAN snapshot is sampled; the last is ``steps``."""
    if not cfg.n_snapshots:
        return []
    return sorted({int(round(cfg.steps * (i + 1) / cfg.n_snapshots)) for i in range(cfg.n_snapshots)})


# --------------------------------------------------------------------------------------
# Training a zoo model end to end
# --------------------------------------------------------------------------------------


_SAMPLING_ONLY = ("n_samples", "sample_steps", "candidate_factor", "bn_samples", "guidance", "n_labelled")
_OPTIONAL_OFF = ("diffaug",)


def training_fingerprint(cfg: GeneratorConfig) -> dict[str, Any]:
    """The config fields that determine the training trajectory.

    Sampling-only fields are left out (changing them re-samples without retraining), and so is
    ``steps`` when no snapshot schedule depends on it: the learning-rate schedule does not
    depend on the total, so training 3000 steps then resuming to 6000 gives bit for bit the
    weights of a 6000-step run, and raising ``steps`` continues from the checkpoint.
    """
    fp = {k: v for k, v in cfg.model_dump().items() if k not in _SAMPLING_ONLY}
    for k in _OPTIONAL_OFF:  # options added later are left out while off, so existing checkpoints stay valid
        if not fp[k]:
            fp.pop(k)
    if not cfg.n_snapshots:
        fp.pop("steps")
    return fp


def train_model(name: str, cfg: GeneratorConfig, real_train: ImageSet, out_dir: str | Path, *,
                ckpt_every: int = 200, sample_batch: int = 500, progress: bool = True,
                max_steps_this_call: int | None = None) -> dict[str, Any]:
    """Train (or resume, or skip if finished) zoo model ``name`` and write its outputs to ``out_dir``.

    Writes ``ckpt.pt``, ``samples.npz``, ``log.json``; GANs also ``candidates.npz`` (a pool of
    ``candidate_factor * n_samples`` extra samples, disjoint seeds) and ``snapshots/step_XXXXXXX.npz``.
    Returns the summary that goes into ``log.json``.
    """
    if name not in MODELS:
        raise ZooError(f"unknown zoo model {name!r}; choose from {', '.join(MODELS)}")
    if cfg.family != _FAMILY_OF[name]:
        raise ZooError(f"{name} must use family {_FAMILY_OF[name]!r}, got {cfg.family!r}")
    out_dir = Path(out_dir)
    data = real_train
    if cfg.train_subset:
        if cfg.train_subset > len(real_train):
            raise ZooError(f"{name}: train_subset={cfg.train_subset} exceeds real_train's {len(real_train)} images")
        data = real_train.subsample(cfg.train_subset, cfg.seed)
    x = generators.to_model_space(data.images)
    y = None
    if cfg.class_cond:
        if len(data.class_names) != cfg.n_classes or data.labels.min() < 0 or data.labels.max() >= cfg.n_classes:
            raise ZooError(f"{name}: n_classes={cfg.n_classes}, but the training split has {len(data.class_names)} "
                           f"classes (labels {data.labels.min()}..{data.labels.max()}); set zoo.models.{name}.n_classes")
        y = torch.as_tensor(data.labels, dtype=torch.int64)
    with deterministic(cfg.seed):
        modules = build_modules(cfg)
    optimizers = build_optimizers(cfg, modules)

    snaps = set(snapshot_steps(cfg))

    def on_step_end(step: int) -> None:
        if step + 1 in snaps:
            path = out_dir / "snapshots" / f"step_{step + 1:07d}.npz"
            imgs = sample(cfg, modules, cfg.snapshot_samples, cfg.seed + 1, sample_batch)
            save_npz(path, images=imgs, step=np.int64(step + 1))

    step_fn = make_step_fn(cfg, modules, optimizers, x, on_step_end if snaps else None, y=y)
    ckpt_path = out_dir / "ckpt.pt"
    meta = {"model": name, "config": json.dumps(training_fingerprint(cfg), sort_keys=True),
            "train_images_sha256": sha256_array(data.images), "precision": resolve_precision(cfg.precision)}
    if ckpt_path.exists() and (load_checkpoint(ckpt_path).get("meta") != meta
                               or load_checkpoint(ckpt_path)["step"] > cfg.steps):
        # A checkpoint of another configuration or training set (e.g. params.yaml changed): it can
        # never be resumed, so it is discarded, exactly as a fresh `dvc repro` would.
        warnings.warn(f"{ckpt_path}: stale checkpoint of a different configuration; retraining {name} from scratch",
                      stacklevel=2)
        ckpt_path.unlink()
        shutil.rmtree(out_dir / "snapshots", ignore_errors=True)
    log = fit(step_fn, modules, optimizers, n_steps=cfg.steps, ckpt_path=ckpt_path, seed=cfg.seed,
              ckpt_every=ckpt_every, desc=name, max_steps_this_call=max_steps_this_call, progress=progress,
              meta=meta)
    summary: dict[str, Any] = {
        "model": name, "family": cfg.family, "config": cfg.model_dump(),
        "n_params": {k: generators.n_params(m) for k, m in modules.items() if k != "ema"},
        "train_images": len(data), "train_index": data.index, "steps_done": log.steps_done,
        "train_seconds": log.wall_time, "history": log.history, "finished": log.steps_done == cfg.steps,
    }
    if log.steps_done < cfg.steps:
        return summary  # interrupted on purpose (max_steps_this_call): no samples yet
    t0 = time.perf_counter()
    if cfg.class_cond:  # one labelled set; samples.npz is its class-balanced prefix
        n_lab = max(cfg.n_labelled, cfg.n_samples)
        imgs, labels = sample_labelled(cfg, modules, n_lab, cfg.seed + 1, sample_batch)
        save_npz(out_dir / "labelled.npz", images=imgs, labels=labels, class_names=np.asarray(data.class_names))
        save_npz(out_dir / "samples.npz", images=imgs[: cfg.n_samples], labels=labels[: cfg.n_samples])
        summary["class_names"] = list(data.class_names)
        summary["labelled"] = {"file": "labelled.npz", "count": int(n_lab), "guidance": cfg.guidance}
    else:
        save_npz(out_dir / "samples.npz", images=sample(cfg, modules, cfg.n_samples, cfg.seed + 1, sample_batch))
    if cfg.candidate_factor:
        pool = sample(cfg, modules, cfg.candidate_factor * cfg.n_samples, cfg.seed + 2, sample_batch)
        save_npz(out_dir / "candidates.npz", images=pool)
    summary["sample_seconds"] = time.perf_counter() - t0
    summary["snapshots"] = [f"snapshots/step_{s:07d}.npz" for s in sorted(snaps)]
    save_json(out_dir / "log.json", summary)
    return summary


def load_trained(cfg: GeneratorConfig, ckpt_path: str | Path) -> dict[str, nn.Module]:
    """Rebuild a zoo model's modules and load its trained weights (``weights_only=True``)."""
    with deterministic(cfg.seed):
        modules = build_modules(cfg)
    load_modules(ckpt_path, modules)
    return modules


def load_samples(out_dir: str | Path, which: str = "samples") -> np.ndarray:
    """``images`` of ``samples.npz`` / ``candidates.npz`` / ``labelled.npz`` in a zoo model folder."""
    return load_npz(Path(out_dir) / f"{which}.npz")["images"]


def load_labelled(out_dir: str | Path, which: str = "labelled") -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """A class-conditional model's labelled set: ``(images uint8 (N,1,28,28), labels int64 (N,), class_names)``.

    ``which="samples"`` reads the ``n_samples`` prefix in ``samples.npz`` (class names from ``labelled.npz``).
    """
    path = Path(out_dir) / f"{which}.npz"
    if not path.is_file():
        raise ZooError(f"{path} not found: train the class-conditional model first (`dvc repro zoo_train@ddpm_cond`)")
    z = load_npz(path)
    if "labels" not in z:
        raise ZooError(f"{path} holds no labels: it was not written by a class-conditional model")
    names = z["class_names"] if "class_names" in z else load_npz(Path(out_dir) / "labelled.npz")["class_names"]
    images, labels = z["images"], z["labels"].astype(np.int64)
    if len(images) != len(labels):
        raise ZooError(f"{path}: {len(images)} images but {len(labels)} labels")
    return images, labels, tuple(str(c) for c in names)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def zoo_dirs(cfg: Config) -> dict[str, Path]:
    """Where the zoo stages write: ``splits/``, ``models/<name>/``, ``encoders/<name>/``."""
    root = cfg.artifacts / "zoo"
    return {"splits": root / "splits", "models": root / "models", "encoders": root / "encoders"}


def write_splits(cfg: Config) -> dict[str, int]:
    """The ``zoo_splits`` stage: split ``zoo.real`` (from the prepare stage) into the four real splits.

    Builtin (labelled, in-memory) datasets are written as image sets; a paper-profile image
    folder is split by index only (``<split>.json`` lists the file indices), since its images
    stay in the user's folder.
    """
    zcfg = cfg.params.zoo
    out = zoo_dirs(cfg)["splits"]
    if cfg.params.data.source == "builtin":
        ds = load_imageset(cfg.datasets_dir, zcfg.real)
        splits = animal_splits(ds, zcfg.split_seed, zcfg.heldout_fraction)
        for split in splits.values():
            save_imageset(split, out, {"source": ds.name, "split_seed": zcfg.split_seed})
        return {k: len(v) for k, v in splits.items()}
    n = int(json.loads((cfg.datasets_dir / f"{zcfg.real}.json").read_text())["count"])
    idx = ImageSet("index", np.zeros((n, 1, 1, 1), np.uint8), np.zeros(n, np.int64), ("all",))
    splits = animal_splits(idx, zcfg.split_seed, zcfg.heldout_fraction)
    for k, v in splits.items():
        save_json(out / f"{k}.json", {"source": zcfg.real, "folder": str(Path(cfg.params.data.root) / zcfg.real),
                                      "split_seed": zcfg.split_seed, "index": v.index.tolist()})
    return {k: len(v) for k, v in splits.items()}


def import_folder(name: str, gcfg: GeneratorConfig, data_root: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Paper profile: record a folder of a paper's samples as zoo model ``name`` (no training).

    Checks that the folder holds at least ``n_samples`` readable images and writes ``log.json``
    naming the folder(s); downstream stages stream the images from there.
    """
    folders = {"samples": Path(data_root) / gcfg.folder}
    if gcfg.candidates_folder:
        folders["candidates"] = Path(data_root) / gcfg.candidates_folder
    counts = {k: len(ImageFolder(v)) for k, v in folders.items()}
    if counts["samples"] < gcfg.n_samples:
        raise ZooError(f"{folders['samples']}: {counts['samples']} images, but zoo.models.{name}.n_samples is "
                       f"{gcfg.n_samples}; add images or lower n_samples")
    summary = {"model": name, "family": "folder", "config": gcfg.model_dump(),
               "folders": {k: str(v) for k, v in folders.items()}, "counts": counts, "finished": True}
    save_json(Path(out_dir) / "log.json", summary)
    return summary


def train_encoder(name: str, cfg: Config, progress: bool = True) -> dict[str, Any]:
    """The ``zoo_encoder`` stages: train ``ssl_contrastive`` / ``ssl_masked`` / ``classifier`` on ``real_train``.

    Writes ``ckpt.pt`` and ``log.json`` (the classifier's also holds its held-out accuracy and
    confusion matrix). A ``null`` config (paper profile) writes only a ``log.json`` saying so.
    """
    from . import classifier as clf
    from . import ssl

    if name not in ENCODERS:
        raise ZooError(f"unknown encoder {name!r}; choose from {', '.join(ENCODERS)}")
    out = zoo_dirs(cfg)["encoders"] / name
    ecfg = getattr(cfg.params.zoo, name)
    if ecfg is None:
        summary: dict[str, Any] = {"encoder": name, "skipped": f"profiles.{cfg.profile}.zoo.{name} is null"}
        save_json(out / "log.json", summary)
        return summary
    splits = zoo_dirs(cfg)["splits"]
    train = load_imageset(splits, "real_train")
    ckpt = out / "ckpt.pt"
    if ckpt.exists() and load_checkpoint(ckpt).get("meta") != ssl.encoder_meta(ecfg):
        # written by another configuration, precision or code version (a persisted DVC output): never resumed
        warnings.warn(f"{ckpt}: stale checkpoint of a different configuration; retraining {name} from scratch",
                      stacklevel=2)
        ckpt.unlink()
    summary = {"encoder": name, "config": ecfg.model_dump(), "train_images": len(train)}
    if name == "classifier":
        held = load_imageset(splits, "real_heldout")
        res = clf.train_classifier(train, ecfg, ckpt, heldout=held, n_classes=len(train.class_names),
                                   progress=progress)
        pred = clf.predict_labels(res.model, held.images)
        summary.update(heldout_accuracy=res.heldout_accuracy, class_names=list(train.class_names),
                       confusion=clf.confusion_matrix(held.labels, pred, len(train.class_names)).tolist())
        log = res.log
    else:
        train_fn = ssl.train_ssl_contrastive if name == "ssl_contrastive" else ssl.train_ssl_masked
        log = train_fn(train, ecfg, ckpt, progress=progress).log
    summary.update(steps_done=log.steps_done, train_seconds=log.wall_time, history=log.history)
    save_json(out / "log.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m beyondfid.zoo", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("splits", help="write real_train / real_heldout / real_half_a / real_half_b")
    pt = sub.add_parser("train", help="train one zoo generator (or import its folder), sample it")
    pe = sub.add_parser("encoder", help="train ssl_contrastive / ssl_masked / classifier on real_train")
    for q in (ps, pt, pe):
        add_stage_arguments(q, progress=True, threads=True)
    pt.add_argument("--model", required=True, choices=MODELS)
    pe.add_argument("--name", required=True, choices=ENCODERS)
    args = p.parse_args(argv)
    apply_threads(p, args)
    try:
        cfg = load_config(args.profile, args.params, args.root)
        zcfg = cfg.params.zoo
        if args.cmd == "splits":
            print(", ".join(f"{k}: {n}" for k, n in write_splits(cfg).items()))
        elif args.cmd == "encoder":
            s = train_encoder(args.name, cfg, progress=not args.no_progress)
            done = s.get("skipped") or f"{s['steps_done']} steps in {s['train_seconds']:.1f}s"
            print(f"{args.name}: {done}")
        else:
            gcfg = zcfg.models[args.model]
            out = zoo_dirs(cfg)["models"] / args.model
            if gcfg.family == "folder":
                s = import_folder(args.model, gcfg, cfg.params.data.root, out)
                print(f"{args.model}: folder {s['folders']['samples']} ({s['counts']['samples']} images)")
                return 0
            real_train = load_imageset(zoo_dirs(cfg)["splits"], "real_train")
            s = train_model(args.model, gcfg, real_train, out, ckpt_every=zcfg.ckpt_every,
                            sample_batch=zcfg.sample_batch, progress=not args.no_progress)
            print(f"{args.model}: {s['steps_done']} steps in {s['train_seconds']:.1f}s, "
                  f"sampling {s.get('sample_seconds', 0):.1f}s -> {out}")
        return 0
    except (ConfigError, ZooError, DataError, CheckpointError, TrainingDivergedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
