"""The mini model zoo: splits, the generator registry, training/sampling, and the CLI.

Seven generators of the AnimalShape domain, each standing in for a knob of the papers'
experiments:

==============  =====================  ==============================================
name            family                 role
==============  =====================  ==============================================
ddpm_s          UNet DDPM, DDIM        small member of one family (EDM2-XS)
ddpm_l          UNet DDPM, DDIM        same family, ~2x width (EDM2-XXL)
dit             DiT on 4x4 patches     other architecture at similar FID (U-ViT/DiT)
gan             DCGAN                  StyleGAN2 stand-in; snapshots + 5x candidate pool
projected_gan   DCGAN G, projected D   D on frozen ImageNet EfficientNet-Lite0 features
memorizer       UNet DDPM, tiny subset trained long on a few hundred images: copies them
vae             conv VAE               a third family
==============  =====================  ==============================================

Every model is trained by :func:`beyondfid.training.fit` (deterministic, resumable,
NaN-checked) and leaves in its output folder ``ckpt.pt``, ``samples.npz`` (``images`` uint8
N x 1 x 28 x 28) and ``log.json``; the GANs add ``candidates.npz`` and ``snapshots/``.

CLI (paths are always passed in)::

    python -m beyondfid.zoo splits --params params.yaml --profile mini --out DIR
    python -m beyondfid.zoo train  --params params.yaml --profile mini --model ddpm_s --splits DIR --out DIR
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from torch import nn

from . import diffusion, generators
from .data import DataError, ImageSet, load_imageset, save_imageset, train_val_split
from .io import load_npz, save_json, save_npz, sha256_array
from .training import CheckpointError, TrainingDivergedError, deterministic, fit, load_checkpoint, load_modules

MODELS = ("ddpm_s", "ddpm_l", "dit", "gan", "projected_gan", "memorizer", "vae")
SPLITS = ("real_train", "real_heldout", "real_half_a", "real_half_b")
Family = Literal["unet_ddpm", "dit", "dcgan", "projected_gan", "vae"]
_FAMILY_OF = {"ddpm_s": "unet_ddpm", "ddpm_l": "unet_ddpm", "dit": "dit", "gan": "dcgan",
              "projected_gan": "projected_gan", "memorizer": "unet_ddpm", "vae": "vae"}


class ZooError(ValueError):
    """Bad zoo configuration or inputs."""


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class GeneratorConfig(_Strict):
    """One generator: architecture, optimisation and sampling. Fields a family does not use are ignored."""

    family: Family = Field(description="unet_ddpm | dit | dcgan | projected_gan | vae")
    width: int = Field(32, ge=4, le=1024, description="UNet base channels / DiT token dim / GAN & VAE base channels")
    depth: int = Field(3, ge=1, le=32, description="UNet resolution levels / DiT blocks")
    heads: int = Field(4, ge=1, le=32, description="DiT attention heads")
    z_dim: int = Field(64, ge=1, le=4096, description="GAN / VAE latent size")
    steps: int = Field(ge=1, le=10_000_000, description="optimisation steps")
    batch_size: int = Field(64, ge=2, le=8192)
    lr: float = Field(2.0e-4, gt=0.0, le=1.0, description="Adam learning rate")
    warmup: int = Field(0, ge=0, le=1_000_000, description="linear learning-rate warm-up steps")
    ema: float = Field(0.0, ge=0.0, lt=1.0, description="diffusion: EMA decay of the sampled weights (0 = off)")
    timesteps: int = Field(1000, ge=2, le=100_000, description="diffusion: T of the cosine schedule")
    sample_steps: int = Field(25, ge=1, le=10_000, description="diffusion: DDIM steps")
    beta: float = Field(1.0, gt=0.0, le=100.0, description="VAE: KL weight")
    feature_resolution: int = Field(64, ge=32, le=512, description="projected_gan: EfficientNet input side")
    train_subset: int = Field(0, ge=0, le=10_000_000, description="train on this many images (0 = all of real_train)")
    n_samples: int = Field(ge=1, le=10_000_000, description="samples written to samples.npz")
    candidate_factor: int = Field(0, ge=0, le=1000, description="GANs: candidate pool of factor x n_samples (0 = none)")
    n_snapshots: int = Field(0, ge=0, le=1000, description="GANs: evenly spaced training snapshots with samples")
    snapshot_samples: int = Field(0, ge=0, le=10_000_000, description="samples per snapshot")
    bn_samples: int = Field(4096, ge=1, le=10_000_000,
                            description="GANs: latents used to fix the generator's BatchNorm statistics for sampling")
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> "GeneratorConfig":
        if self.n_snapshots and not self.snapshot_samples:
            raise ValueError("n_snapshots > 0 needs snapshot_samples > 0")
        if self.n_snapshots > self.steps:
            raise ValueError(f"n_snapshots={self.n_snapshots} exceeds steps={self.steps}")
        if self.family == "dit" and self.width % (2 * self.heads):
            raise ValueError(f"DiT width {self.width} must be a multiple of 2*heads={2 * self.heads}")
        if self.family == "unet_ddpm" and (self.width % 2 or self.depth > 3):
            raise ValueError(f"UNet needs an even width and depth <= 3 on 16x16 folded images, got {self.width}/{self.depth}")
        if self.train_subset and self.train_subset < self.batch_size:
            raise ValueError(f"train_subset={self.train_subset} is smaller than batch_size={self.batch_size}")
        return self


class ZooConfig(_Strict):
    """``profiles.<profile>.zoo``: splits, checkpointing and one :class:`GeneratorConfig` per model."""

    split_seed: int = Field(0, ge=0, le=2**31 - 1)
    heldout_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of the real animals held out")
    ckpt_every: int = Field(200, ge=1, le=10_000_000, description="steps between checkpoints")
    sample_batch: int = Field(500, ge=1, le=100_000, description="images per sampling forward pass")
    models: dict[str, GeneratorConfig]

    @model_validator(mode="after")
    def _known_models(self) -> "ZooConfig":
        unknown = sorted(set(self.models) - set(MODELS))
        if unknown:
            raise ValueError(f"unknown zoo model(s) {unknown}; the zoo has {', '.join(MODELS)}")
        for name, cfg in self.models.items():
            if cfg.family != _FAMILY_OF[name]:
                raise ValueError(f"models.{name}.family must be {_FAMILY_OF[name]!r}, got {cfg.family!r}")
        return self


def load_zoo_config(params_path: str | Path, profile: str) -> ZooConfig:
    """Read and validate ``profiles.<profile>.zoo`` from a params YAML file."""
    import yaml

    raw = yaml.safe_load(Path(params_path).read_text())
    try:
        section = raw["profiles"][profile]["zoo"]
    except (KeyError, TypeError):
        raise ZooError(f"{params_path}: no section profiles.{profile}.zoo; add it (see README, 'Model zoo')") from None
    try:
        return ZooConfig.model_validate(section)
    except ValidationError as err:
        lines = [f"profiles.{profile}.zoo.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ZooError("invalid zoo config:\n  " + "\n  ".join(lines)) from None


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


def build_modules(cfg: GeneratorConfig) -> dict[str, nn.Module]:
    """The trainable modules of a model, by role (``model``/``ema`` or ``G``/``D``), freshly initialised
    from the global torch RNG (call inside :func:`beyondfid.training.deterministic`)."""
    if cfg.family == "unet_ddpm":
        net: nn.Module = generators.UNet(cfg.width, (1,) + (2,) * (cfg.depth - 1), n_res=1, space_to_depth=2)
    elif cfg.family == "dit":
        net = generators.DiT(cfg.width, cfg.depth, cfg.heads, patch=4)
    elif cfg.family == "vae":
        return {"model": generators.ConvVAE(cfg.z_dim, cfg.width)}
    elif cfg.family == "dcgan":
        return {"G": generators.DCGANGenerator(cfg.z_dim, cfg.width), "D": generators.DCGANDiscriminator(cfg.width)}
    else:
        return {"G": generators.DCGANGenerator(cfg.z_dim, cfg.width),
                "D": generators.ProjectedDiscriminator(cfg.width, cfg.feature_resolution)}
    ema = copy.deepcopy(net)
    for p in ema.parameters():
        p.requires_grad_(False)
    return {"model": net, "ema": ema}


def _adam(module: nn.Module, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    return torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr, betas=betas)


def build_optimizers(cfg: GeneratorConfig, modules: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
    if "G" in modules:
        return {"G": _adam(modules["G"], cfg.lr, (0.5, 0.999)), "D": _adam(modules["D"], cfg.lr, (0.5, 0.999))}
    return {"model": _adam(modules["model"], cfg.lr, (0.9, 0.999))}


def _set_lr(opt: torch.optim.Optimizer, cfg: GeneratorConfig, step: int) -> None:
    scale = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else 1.0
    for group in opt.param_groups:
        group["lr"] = cfg.lr * scale


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


def make_step_fn(cfg: GeneratorConfig, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                 x: torch.Tensor, on_step_end: Callable[[int], None] | None = None
                 ) -> Callable[[int, torch.Generator], dict[str, float]]:
    """One optimisation step of the model family on model-space training images ``x``."""
    n = len(x)
    if n < 2:
        raise ZooError(f"need at least 2 training images, got {n}")
    bs = min(cfg.batch_size, n)

    def batch(gen: torch.Generator) -> torch.Tensor:
        return x[torch.randint(0, n, (bs,), generator=gen)]

    if cfg.family in ("unet_ddpm", "dit"):
        alpha_bar = diffusion.cosine_alpha_bar(cfg.timesteps)
        model, ema, opt = modules["model"], modules["ema"], optimizers["model"]

        def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
            _set_lr(opt, cfg, step)
            model.train()
            loss = diffusion.eps_loss(model, batch(gen), alpha_bar, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
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
            loss, parts = model.loss(batch(gen), gen, cfg.beta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return {"loss": loss.item(), **parts}

    else:  # dcgan / projected_gan: non-saturating logistic loss
        G, D = modules["G"], modules["D"]
        opt_g, opt_d = optimizers["G"], optimizers["D"]

        def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
            _set_lr(opt_g, cfg, step)
            _set_lr(opt_d, cfg, step)
            G.train()
            D.train()
            real = batch(gen)
            z = torch.randn(bs, cfg.z_dim, generator=gen)
            fake = G(z)
            d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_loss = F.softplus(-D(fake)).mean()
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


def sample(cfg: GeneratorConfig, modules: dict[str, nn.Module], n: int, seed: int, batch: int = 500) -> np.ndarray:
    """``n`` uint8 samples ``(n, 1, 28, 28)``; deterministic in ``seed`` and independent of ``batch``."""
    if n < 0:
        raise ZooError(f"cannot draw {n} samples")
    gen = torch.Generator().manual_seed(seed)
    out = []
    with deterministic(seed):
        if cfg.family in ("unet_ddpm", "dit"):
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
            G = _precise_bn(modules["G"], cfg.z_dim, seed + 7919, n=cfg.bn_samples)  # fixed BN batch
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


_SAMPLING_ONLY = ("n_samples", "sample_steps", "candidate_factor", "bn_samples")


def training_fingerprint(cfg: GeneratorConfig) -> dict[str, Any]:
    """The config fields that determine the training trajectory.

    Sampling-only fields are left out (changing them re-samples without retraining), and so is
    ``steps`` when no snapshot schedule depends on it: the learning-rate schedule does not
    depend on the total, so training 3000 steps then resuming to 6000 gives bit for bit the
    weights of a 6000-step run, and raising ``steps`` continues from the checkpoint.
    """
    fp = {k: v for k, v in cfg.model_dump().items() if k not in _SAMPLING_ONLY}
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
    with deterministic(cfg.seed):
        modules = build_modules(cfg)
    optimizers = build_optimizers(cfg, modules)

    snaps = set(snapshot_steps(cfg))

    def on_step_end(step: int) -> None:
        if step + 1 in snaps:
            path = out_dir / "snapshots" / f"step_{step + 1:07d}.npz"
            imgs = sample(cfg, modules, cfg.snapshot_samples, cfg.seed + 1, sample_batch)
            save_npz(path, images=imgs, step=np.int64(step + 1))

    step_fn = make_step_fn(cfg, modules, optimizers, x, on_step_end if snaps else None)
    ckpt_path = out_dir / "ckpt.pt"
    meta = {"model": name, "config": json.dumps(training_fingerprint(cfg), sort_keys=True),
            "train_images_sha256": sha256_array(data.images)}
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
    """``images`` of ``samples.npz`` / ``candidates.npz`` in a zoo model folder."""
    return load_npz(Path(out_dir) / f"{which}.npz")["images"]


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def _load_animals(data_dir: str | None) -> ImageSet:
    if data_dir:
        return load_imageset(data_dir, "animals")
    from .data import build_animals

    return build_animals()[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m beyondfid.zoo", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("splits", help="write real_train / real_heldout / real_half_a / real_half_b")
    pt = sub.add_parser("train", help="train one zoo model, sample it, write ckpt/samples/log")
    for q in (ps, pt):
        q.add_argument("--params", default="params.yaml", help="YAML with profiles.<profile>.zoo")
        q.add_argument("--profile", required=True, choices=("smoke", "mini", "paper"))
        q.add_argument("--out", required=True, help="output folder")
        q.add_argument("--no-progress", action="store_true")
        q.add_argument("--threads", type=int, default=0,
                       help="torch intra-op threads (0 = torch's default); 1 is far faster on a busy CPU")
    ps.add_argument("--data", default=None, help="folder with animals.npz (default: build from the installed package)")
    ps.add_argument("--animals-n", type=int, default=0, help="keep this many animals (0 = all)")
    pt.add_argument("--model", required=True, choices=MODELS)
    pt.add_argument("--splits", required=True, help="folder written by the `splits` command")
    args = p.parse_args(argv)
    if args.threads < 0:
        p.error(f"--threads must be >= 0, got {args.threads}")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        zoo = load_zoo_config(args.params, args.profile)
        if args.cmd == "splits":
            ds = _load_animals(args.data)
            if args.animals_n:
                ds = ds.subsample(args.animals_n, zoo.split_seed)
            for split in animal_splits(ds, zoo.split_seed, zoo.heldout_fraction).values():
                save_imageset(split, args.out, {"source": ds.name, "split_seed": zoo.split_seed})
            return 0
        if args.model not in zoo.models:
            raise ZooError(f"profiles.{args.profile}.zoo.models has no entry for {args.model!r}")
        real_train = load_imageset(args.splits, "real_train")
        s = train_model(args.model, zoo.models[args.model], real_train, args.out, ckpt_every=zoo.ckpt_every,
                        sample_batch=zoo.sample_batch, progress=not args.no_progress)
        print(f"{args.model}: {s['steps_done']} steps in {s['train_seconds']:.1f}s, "
              f"sampling {s.get('sample_seconds', 0):.1f}s -> {args.out}")
        return 0
    except (ZooError, DataError, CheckpointError, TrainingDivergedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
