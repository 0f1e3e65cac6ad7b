"""Self-supervised encoders trained on ``real_train``: the mini profile's label-free feature spaces.

* ``ssl_contrastive`` -- SimCLR: a small CNN ``f`` and projection MLP ``g`` trained so that two
  random augmentations of one image map close together (NT-Xent loss, :func:`nt_xent`).
  Features are the pooled CNN output ``f(x)`` (before the projection head, as in SimCLR).
  Augmentations suit 28x28 grayscale silhouettes: random resized crop, small rotation and
  translation, and left-right flips (an animal facing left is the same animal; vertical flips
  are *not* used, upside-down animals never occur). There is no colour jitter: the images have
  one channel and are nearly binary, so brightness/contrast jitter would only teach invariance
  to the intensity of the silhouette edge -- exactly the kind of low-level artefact a feature
  space for comparing generators should still see -- and SimCLR's reason for colour jitter
  (colour histograms as a shortcut between crops) does not arise without colour.
* ``ssl_masked`` -- MAE: a small ViT sees a random 25% of 4x4 patches and a light transformer
  decoder reconstructs the pixels of the masked ones (loss only on masked patches,
  :func:`mae_loss`). Features are the mean of the encoder's patch tokens on the full, unmasked
  image.

Both train through :func:`beyondfid.zoo.training.fit` (deterministic, resumable) and store their
architecture in a buffer, so the registered extractors need only ``checkpoint=<path>``.
Importing this module registers both extractors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ContrastiveConfig, EncoderConfig, MaskedConfig
from ..data import ImageSet
from ..extractors.base import ExtractorError, MissingWeightsError, as_uint8_tensor, register, resolve_device
from .training import TrainLog, adam, autocast, deterministic, fit, load_checkpoint, resolve_precision
from .transforms import random_affine

NATIVE_RESOLUTION = 28

# Which pipeline stage writes each checkpoint (named in MissingWeightsError messages).
PRODUCING_STAGE = {"ssl_contrastive": "zoo_encoder@ssl_contrastive", "ssl_masked": "zoo_encoder@ssl_masked"}


class SSLError(ValueError):
    """Bad input or configuration for a self-supervised encoder."""


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def to_unit(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 NCHW (1 or 3 channels, any size) -> float32 (N,1,28,28) in [0, 1].

    RGB is converted to gray by the channel mean; other sizes are resized (bilinear, antialiased).
    """
    x = as_uint8_tensor(images).float().div(255.0)
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-2:] != (NATIVE_RESOLUTION, NATIVE_RESOLUTION):
        x = F.interpolate(x, size=(NATIVE_RESOLUTION, NATIVE_RESOLUTION), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > NATIVE_RESOLUTION)
    return x


def _train_images(data: ImageSet | np.ndarray, batch_size: int) -> torch.Tensor:
    images = data.images if isinstance(data, ImageSet) else np.asarray(data)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (1, NATIVE_RESOLUTION, NATIVE_RESOLUTION):
        raise SSLError(f"SSL encoders train on uint8 (N, 1, 28, 28) images, got {images.dtype} {images.shape}")
    if len(images) < batch_size:
        raise SSLError(f"{len(images)} training images are fewer than batch_size={batch_size}; lower batch_size")
    return to_unit(images)


def lr_at(step: int, cfg: EncoderConfig) -> float:
    """Linear warm-up to ``cfg.lr`` over ``warmup_steps``, then cosine decay to 0 at ``n_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.n_steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = float(lr)


@dataclass
class EncoderResult:
    encoder: nn.Module
    log: TrainLog


# --------------------------------------------------------------------------------------
# Contrastive (SimCLR)
# --------------------------------------------------------------------------------------


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (normalised temperature-scaled cross-entropy) of ``N`` positive pairs.

    With ``u`` the 2N rows of ``[z1; z2]`` scaled to unit norm and ``s_ij = u_i . u_j / tau``,
    ``loss = (1/2N) sum_i -log( exp(s_{i,p(i)}) / sum_{k != i} exp(s_ik) )`` where ``p(i)`` is
    the other view of the same image.
    """
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
        raise SSLError(f"nt_xent needs two (N, d) batches with N >= 2, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise SSLError(f"temperature must be > 0, got {temperature}")
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = u @ u.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=sim.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(sim.device)
    return F.cross_entropy(sim, target)


def _conv_bn(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ContrastiveEncoder(nn.Module):
    """CNN ``f`` (w, 2w, 4w channels at 28, 14, 7 px; global average pool) + MLP projection ``g``."""

    def __init__(self, width: int = 32, proj_dim: int = 64) -> None:
        super().__init__()
        self.register_buffer("arch", torch.tensor([width, proj_dim], dtype=torch.int64))
        self.backbone = nn.Sequential(
            *_conv_bn(1, width),
            *_conv_bn(width, 2 * width, stride=2), *_conv_bn(2 * width, 2 * width),
            *_conv_bn(2 * width, 4 * width, stride=2), *_conv_bn(4 * width, 4 * width),
        )
        d = 4 * width
        self.projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, proj_dim))

    @property
    def dim(self) -> int:
        return 4 * int(self.arch[0])

    def features(self, x01: torch.Tensor) -> torch.Tensor:
        """(N,1,28,28) in [0,1] -> (N, 4w) representation."""
        return self.backbone(x01 * 2 - 1).mean(dim=(2, 3))

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return self.projector(self.features(x01))


def simclr_views(x01: torch.Tensor, gen: torch.Generator, cfg: ContrastiveConfig) -> torch.Tensor:
    """One random augmentation per image (see the module docstring for the choice)."""
    return random_affine(x01, gen, scale=(cfg.crop_scale_min, 1.0), ratio=(3 / 4, 4 / 3),
                         max_rotation_deg=cfg.max_rotation_deg, max_translate=cfg.max_translate, hflip=cfg.hflip)


def train_ssl_contrastive(
    data: ImageSet | np.ndarray,
    cfg: ContrastiveConfig,
    ckpt_path: str | Path,
    *,
    progress: bool = True,
    max_steps_this_call: int | None = None,
) -> EncoderResult:
    """Train (or resume) the SimCLR encoder on uint8 (N,1,28,28) images; returns it in eval mode."""
    x_all = _train_images(data, cfg.batch_size)
    with deterministic(cfg.seed):
        enc = ContrastiveEncoder(cfg.width, cfg.proj_dim)
    opt = adam(enc.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, decoupled=True)
    n = len(x_all)
    precision = resolve_precision(cfg.precision)

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        enc.train()
        _set_lr(opt, lr_at(step, cfg))
        idx = torch.randperm(n, generator=gen)[: cfg.batch_size]
        x = x_all[idx]
        v = torch.cat([simclr_views(x, gen, cfg), simclr_views(x, gen, cfg)])
        with autocast(precision):
            z = enc(v).float()  # the similarities and the loss in float32
        loss = nt_xent(z[: len(idx)], z[len(idx):], cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    log = fit(step_fn, {"encoder": enc}, {"opt": opt}, n_steps=cfg.n_steps, ckpt_path=ckpt_path, seed=cfg.seed,
              ckpt_every=cfg.ckpt_every, desc="ssl_contrastive", progress=progress,
              max_steps_this_call=max_steps_this_call, meta=encoder_meta(cfg))
    return EncoderResult(enc.eval(), log)


def encoder_meta(cfg: EncoderConfig | Any) -> dict[str, str]:
    """Checkpoint meta of an encoder run: its settings and resolved precision (a checkpoint written under
    other settings is never resumed; :func:`beyondfid.zoo.registry.train_encoder` discards it)."""
    import json

    settings = {k: v for k, v in cfg.model_dump().items() if k not in ("ckpt_every",)}
    return {"config": json.dumps(settings, sort_keys=True), "precision": resolve_precision(cfg.precision)}


def _encoder_state(ckpt_path: str | Path, model: str) -> dict[str, torch.Tensor]:
    path = Path(ckpt_path)
    if not path.is_file():
        raise MissingWeightsError(
            f"{model}: checkpoint {path} does not exist. It is written by the DVC stage "
            f"`{PRODUCING_STAGE[model]}` (run `dvc repro {PRODUCING_STAGE[model]}`, or train it with "
            f"beyondfid.zoo.ssl.train_{model}); pass its ckpt.pt as checkpoint=<path>"
        )
    sd = load_checkpoint(path)["modules"].get("encoder")
    if sd is None or "arch" not in sd:
        raise ExtractorError(f"{path} holds no {model} encoder; point checkpoint= at the {model} stage's ckpt.pt")
    return sd


def load_ssl_contrastive(ckpt_path: str | Path) -> ContrastiveEncoder:
    """Rebuild the SimCLR encoder from its checkpoint (``weights_only`` load), in eval mode."""
    sd = _encoder_state(ckpt_path, "ssl_contrastive")
    if sd["arch"].numel() != 2:
        raise ExtractorError(f"{ckpt_path} is not an ssl_contrastive checkpoint (arch buffer {sd['arch'].tolist()})")
    width, proj_dim = (int(v) for v in sd["arch"].tolist())
    enc = ContrastiveEncoder(width, proj_dim)
    try:
        enc.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        raise ExtractorError(f"{ckpt_path} is not an ssl_contrastive checkpoint ({err})") from None
    return enc.eval()


# --------------------------------------------------------------------------------------
# Masked autoencoder (MAE)
# --------------------------------------------------------------------------------------


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(N,C,H,W) -> (N, (H/p)(W/p), p*p*C), patches in row-major order."""
    n, c, h, w = x.shape
    if h % p or w % p:
        raise SSLError(f"patch size {p} does not divide the image size {h}x{w}")
    x = x.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(t: torch.Tensor, p: int, c: int = 1) -> torch.Tensor:
    """Inverse of :func:`patchify` for square images."""
    n, L, _ = t.shape
    g = int(round(math.sqrt(L)))
    x = t.reshape(n, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(n, c, g * p, g * p)


def mae_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over *masked* patches only.

    ``pred``, ``target``: (N, L, D) patch pixels; ``mask``: (N, L) with 1 = masked (hidden from
    the encoder). ``loss = sum_{n,l} m_nl * mean_d (pred - target)^2 / sum_{n,l} m_nl``.
    """
    if pred.shape != target.shape or mask.shape != pred.shape[:2]:
        raise SSLError(f"mae_loss shapes disagree: pred {tuple(pred.shape)}, target {tuple(target.shape)}, "
                       f"mask {tuple(mask.shape)}")
    m = mask.to(pred.dtype)
    if m.sum() <= 0:
        raise SSLError("mae_loss: no patch is masked, the loss is undefined; use mask_ratio > 0")
    per_patch = (pred - target).pow(2).mean(dim=-1)
    return (per_patch * m).sum() / m.sum()


def random_masking(n: int, L: int, ratio: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample uniform random choice of ``L - round(ratio L)`` visible patches.

    Returns ``(ids_keep (n, L_keep), mask (n, L) with 1 = masked)``; visible ids are sorted.
    """
    n_keep = L - int(round(ratio * L))
    if not 1 <= n_keep < L:
        raise SSLError(f"mask_ratio {ratio} leaves {n_keep} of {L} patches visible; need 1 .. {L - 1}")
    noise = torch.rand(n, L, generator=gen)
    ids_keep = noise.argsort(dim=1)[:, :n_keep].sort(dim=1).values
    mask = torch.ones(n, L)
    mask.scatter_(1, ids_keep, 0.0)
    return ids_keep, mask


def sincos_pos_embed(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embedding, (grid*grid, dim); half the channels per axis."""
    if dim % 4:
        raise SSLError(f"token width must be a multiple of 4 for 2-D sin-cos embeddings, got {dim}")
    q = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(q, dtype=torch.float64) / q))
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64),
                            indexing="ij")
    parts = []
    for pos in (ys.reshape(-1), xs.reshape(-1)):
        ang = pos[:, None] * omega[None]
        parts += [torch.sin(ang), torch.cos(ang)]
    return torch.cat(parts, dim=1).float()


def _transformer(dim: int, depth: int, heads: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)


class MaskedAutoencoder(nn.Module):
    """ViT encoder on p x p patches of a 28x28 image + light transformer decoder (MAE)."""

    def __init__(self, patch: int = 4, dim: int = 96, depth: int = 3, heads: int = 4,
                 decoder_dim: int = 64, decoder_depth: int = 1) -> None:
        super().__init__()
        if NATIVE_RESOLUTION % patch:
            raise SSLError(f"patch size {patch} must divide {NATIVE_RESOLUTION}")
        if dim % heads or decoder_dim % heads:
            raise SSLError(f"dim={dim} and decoder_dim={decoder_dim} must be multiples of heads={heads}")
        self.register_buffer("arch", torch.tensor([patch, dim, depth, heads, decoder_dim, decoder_depth],
                                                  dtype=torch.int64))
        self.patch = patch
        self.grid = NATIVE_RESOLUTION // patch
        L = self.grid**2
        self.embed = nn.Linear(patch * patch, dim)
        self.register_buffer("pos", sincos_pos_embed(self.grid, dim)[None], persistent=False)
        self.encoder = _transformer(dim, depth, heads)
        self.norm = nn.LayerNorm(dim)
        self.dec_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer("dec_pos", sincos_pos_embed(self.grid, decoder_dim)[None], persistent=False)
        self.decoder = _transformer(decoder_dim, decoder_depth, heads)
        self.dec_norm = nn.LayerNorm(decoder_dim)
        self.dec_out = nn.Linear(decoder_dim, patch * patch)
        self.n_patches = L

    @property
    def dim(self) -> int:
        return int(self.arch[1])

    def encode(self, x01: torch.Tensor, ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens of the visible patches (all patches if ``ids_keep`` is None), after the final norm."""
        tok = self.embed(patchify(x01 * 2 - 1, self.patch)) + self.pos
        if ids_keep is not None:
            tok = torch.gather(tok, 1, ids_keep[..., None].expand(-1, -1, tok.shape[-1]))
        return self.norm(self.encoder(tok))

    def features(self, x01: torch.Tensor) -> torch.Tensor:
        """(N,1,28,28) in [0,1] -> (N, dim): mean of the encoder's tokens over all patches, no masking."""
        return self.encode(x01).mean(dim=1)

    def reconstruct(self, x01: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """Predicted pixels (in [-1,1] units) of every patch, (N, L, p*p), from the visible ones."""
        vis = self.dec_embed(self.encode(x01, ids_keep))
        n, L = x01.shape[0], self.n_patches
        full = self.mask_token.expand(n, L, -1).to(vis.dtype).clone()  # vis is bf16 under autocast
        full = full.scatter(1, ids_keep[..., None].expand(-1, -1, vis.shape[-1]), vis)
        return self.dec_out(self.dec_norm(self.decoder(full + self.dec_pos)))


def mae_target(x01: torch.Tensor, patch: int, norm_pix: bool) -> torch.Tensor:
    """Per-patch pixel targets in [-1,1] units; optionally normalised per patch (MAE's norm_pix_loss)."""
    t = patchify(x01 * 2 - 1, patch)
    if norm_pix:
        t = (t - t.mean(dim=-1, keepdim=True)) / (t.var(dim=-1, keepdim=True) + 1e-6).sqrt()
    return t


def train_ssl_masked(
    data: ImageSet | np.ndarray,
    cfg: MaskedConfig,
    ckpt_path: str | Path,
    *,
    progress: bool = True,
    max_steps_this_call: int | None = None,
) -> EncoderResult:
    """Train (or resume) the MAE on uint8 (N,1,28,28) images; returns it in eval mode.

    Augmentation is a random left-right flip only (MAE relies on masking, not augmentation).
    """
    x_all = _train_images(data, cfg.batch_size)
    with deterministic(cfg.seed):
        mae = MaskedAutoencoder(cfg.patch, cfg.dim, cfg.depth, cfg.heads, cfg.decoder_dim, cfg.decoder_depth)
    opt = adam(mae.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay, decoupled=True)
    n = len(x_all)
    precision = resolve_precision(cfg.precision)

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        mae.train()
        _set_lr(opt, lr_at(step, cfg))
        idx = torch.randperm(n, generator=gen)[: cfg.batch_size]
        x = x_all[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        ids_keep, mask = random_masking(len(idx), mae.n_patches, cfg.mask_ratio, gen)
        with autocast(precision):
            pred = mae.reconstruct(x, ids_keep).float()
        loss = mae_loss(pred, mae_target(x, cfg.patch, cfg.norm_pix_loss), mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    log = fit(step_fn, {"encoder": mae}, {"opt": opt}, n_steps=cfg.n_steps, ckpt_path=ckpt_path, seed=cfg.seed,
              ckpt_every=cfg.ckpt_every, desc="ssl_masked", progress=progress, max_steps_this_call=max_steps_this_call,
              meta=encoder_meta(cfg))
    return EncoderResult(mae.eval(), log)


def load_ssl_masked(ckpt_path: str | Path) -> MaskedAutoencoder:
    """Rebuild the MAE from its checkpoint (``weights_only`` load), in eval mode."""
    sd = _encoder_state(ckpt_path, "ssl_masked")
    if sd["arch"].numel() != 6:
        raise ExtractorError(f"{ckpt_path} is not an ssl_masked checkpoint (arch buffer {sd['arch'].tolist()})")
    mae = MaskedAutoencoder(*(int(v) for v in sd["arch"].tolist()))
    try:
        mae.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        raise ExtractorError(f"{ckpt_path} is not an ssl_masked checkpoint ({err})") from None
    return mae.eval()


# --------------------------------------------------------------------------------------
# Extractors
# --------------------------------------------------------------------------------------


class SSLExtractor:
    """Wraps a trained encoder as a registry extractor: uint8 NCHW -> {"features": (N, dim)}."""

    def __init__(self, name: str, model: ContrastiveEncoder | MaskedAutoencoder, device: str = "cpu",
                 batch_size: int = 512) -> None:
        self.name = name
        self.resolution = NATIVE_RESOLUTION
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.dim = int(model.dim)
        self.outputs = {"features": self.dim}
        self.batch_size = batch_size

    @torch.no_grad()
    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        """Images of any size/channels are converted to 28x28 gray (see :func:`to_unit`)."""
        x = to_unit(images).to(self.device)
        out = [self.model.features(x[s : s + self.batch_size]) for s in range(0, len(x), self.batch_size)]
        feats = torch.cat(out) if out else torch.zeros(0, self.dim)
        return {"features": feats.float().cpu()}


def _need_checkpoint(name: str, checkpoint: str | Path | None) -> Path:
    if checkpoint is None:
        raise MissingWeightsError(
            f"{name} is trained by the zoo: pass checkpoint=<path to its ckpt.pt> "
            f"(written by the DVC stage `{PRODUCING_STAGE[name]}`, e.g. artifacts/<profile>/zoo/encoders/{name}/ckpt.pt)"
        )
    return Path(checkpoint)


@register("ssl_contrastive")
def _ssl_contrastive(checkpoint: str | Path | None = None, device: str = "cpu", **_: object) -> SSLExtractor:
    return SSLExtractor("ssl_contrastive", load_ssl_contrastive(_need_checkpoint("ssl_contrastive", checkpoint)),
                        device)


@register("ssl_masked")
def _ssl_masked(checkpoint: str | Path | None = None, device: str = "cpu", **_: object) -> SSLExtractor:
    return SSLExtractor("ssl_masked", load_ssl_masked(_need_checkpoint("ssl_masked", checkpoint)), device)
