"""Generator architectures of the mini model zoo, sized for a 2-core CPU.

All networks work on float images in ``[-1, 1]`` of shape ``(N, 1, 32, 32)``: the 28x28
AnimalShape silhouettes are zero-padded (value ``-1``, i.e. black background) by
:func:`to_model_space`, and :func:`to_uint8` crops the centre 28x28 back out.

* :class:`UNet` -- the epsilon-prediction denoiser of ``ddpm_s``/``ddpm_l``/``memorizer``, and,
  with ``n_classes``, of the class-conditional ``ddpm_cond`` (class embedding added to the time
  embedding, a learned "null" class for classifier-free guidance);
* :class:`DiT` -- a diffusion transformer on 4x4 patches with adaLN-Zero time conditioning;
* :class:`UViT` -- U-ViT (Bao et al. 2023): time as a token, long skip connections between
  shallow and deep blocks, a 3x3 output convolution;
* :class:`DCGANGenerator` / :class:`DCGANDiscriminator` -- the GAN family;
* :class:`FastGANGenerator` / :class:`ProjectedDiscriminator` -- Projected FastGAN (Sauer et al.
  2021): a FastGAN-lite generator (GLU up-blocks, skip-layer excitation) judged by
  discriminators on *frozen* ImageNet EfficientNet-Lite0 features at four scales, after fixed
  random cross-channel (CCM) and cross-scale (CSM) mixing;
* :class:`ConvVAE` -- a convolutional VAE with a Bernoulli decoder.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 28
MODEL_SIZE = 32
_PAD = (MODEL_SIZE - IMAGE_SIZE) // 2


class GeneratorError(ValueError):
    """Bad architecture parameters or inputs of the wrong shape/range."""


# --------------------------------------------------------------------------------------
# Image conversions
# --------------------------------------------------------------------------------------


def to_model_space(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 1, 28, 28)`` -> float32 ``(N, 1, 32, 32)`` in ``[-1, 1]``: ``x/127.5 - 1``, padded with -1."""
    x = torch.as_tensor(np.asarray(images))
    if x.dtype != torch.uint8 or x.dim() != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIZE, IMAGE_SIZE):
        raise GeneratorError(
            f"expected uint8 images of shape (N, 1, {IMAGE_SIZE}, {IMAGE_SIZE}), got {x.dtype} {tuple(x.shape)}"
        )
    x = x.to(torch.float32) / 127.5 - 1.0
    return F.pad(x, (_PAD,) * 4, value=-1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``(N, 1, 32, 32)`` in ``[-1, 1]`` -> uint8 ``(N, 1, 28, 28)``: centre crop, ``round((x+1) 127.5)``."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, MODEL_SIZE, MODEL_SIZE):
        raise GeneratorError(f"expected model-space images (N, 1, {MODEL_SIZE}, {MODEL_SIZE}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise GeneratorError("generated images contain NaN/inf; the model diverged -- retrain it")
    x = x[:, :, _PAD : _PAD + IMAGE_SIZE, _PAD : _PAD + IMAGE_SIZE].detach().to(torch.float64)
    return torch.round((x.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).cpu().numpy()


def n_params(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------
# Diffusion denoisers
# --------------------------------------------------------------------------------------


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[cos(t w_k), sin(t w_k)]`` with ``w_k = max_period^(-k/(dim/2))``."""
    if dim % 2:
        raise GeneratorError(f"timestep embedding dim must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _groups(c: int) -> int:
    return math.gcd(c, 8)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, tdim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """A small DDPM-style UNet: ``len(mults)`` resolutions, ``n_res`` ResBlocks each.

    The image is first folded ``space_to_depth`` x ``space_to_depth`` into channels (pixel
    unshuffle: 1x32x32 -> 4x16x16 by default, unfolded again at the output), which cuts the
    cost of the full-resolution convolutions 4x -- the CPU budget's main lever.
    Width ``base * mult`` per level; skip connections concatenate the encoder features of
    the same resolution. The output convolution starts at zero, so the initial model
    predicts ``eps = 0``.
    """

    def __init__(self, base: int = 32, mults: tuple[int, ...] = (1, 2, 2), n_res: int = 1,
                 space_to_depth: int = 2, n_classes: int = 0) -> None:
        super().__init__()
        if n_classes < 0:
            raise GeneratorError(f"n_classes must be >= 0, got {n_classes}")
        if base < 8 or base % 2 or not mults or n_res < 1 or space_to_depth not in (1, 2, 4):
            raise GeneratorError(
                f"bad UNet config base={base}, mults={mults}, n_res={n_res}, space_to_depth={space_to_depth}"
            )
        if MODEL_SIZE % (space_to_depth * 2 ** (len(mults) - 1)):
            raise GeneratorError(f"{len(mults)} levels after space_to_depth={space_to_depth} do not divide {MODEL_SIZE}px")
        self.tdim = tdim = 4 * base
        self.base = base
        self.s2d = space_to_depth
        self.temb = nn.Sequential(nn.Linear(base, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.n_classes = n_classes
        if n_classes:  # row n_classes is the learned "no label" embedding (classifier-free guidance)
            self.class_emb = nn.Embedding(n_classes + 1, tdim)
        self.inp = nn.Conv2d(space_to_depth ** 2, base, 3, padding=1)
        chans = [base * m for m in mults]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = base
        for i, ch in enumerate(chans):
            self.down.append(nn.ModuleList([ResBlock(c if j == 0 else ch, ch, tdim) for j in range(n_res)]))
            c = ch
            self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1) if i < len(chans) - 1 else nn.Identity())
        self.mid = nn.ModuleList([ResBlock(c, c, tdim), ResBlock(c, c, tdim)])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            self.up.append(nn.ModuleList([ResBlock((c + ch) if j == 0 else ch, ch, tdim) for j in range(n_res)]))
            c = ch
            self.upsample.append(nn.Conv2d(c, chans[i - 1], 3, padding=1) if i > 0 else nn.Identity())
            if i > 0:
                c = chans[i - 1]
        self.out_norm = nn.GroupNorm(_groups(c), c)
        self.out = nn.Conv2d(c, space_to_depth ** 2, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``eps_hat(x_t, t)``; a class-conditional UNet also takes labels ``y`` (``n_classes`` = no label,
        also used when ``y`` is None)."""
        temb = self.temb(timestep_embedding(t, self.base))
        if self.n_classes:
            if y is None:
                y = torch.full((x.shape[0],), self.n_classes, dtype=torch.long)
            temb = temb + self.class_emb(y)
        elif y is not None:
            raise GeneratorError("this UNet is unconditional (n_classes=0) but got labels")
        h = self.inp(F.pixel_unshuffle(x, self.s2d))
        skips = []
        for blocks, down in zip(self.down, self.downsample):
            for b in blocks:
                h = b(h, temb)
            skips.append(h)
            h = down(h)
        for b in self.mid:
            h = b(h, temb)
        for k, (blocks, up) in enumerate(zip(self.up, self.upsample)):
            h = torch.cat([h, skips.pop()], dim=1)
            for b in blocks:
                h = b(h, temb)
            if k < len(self.up) - 1:
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return F.pixel_shuffle(self.out(F.silu(self.out_norm(h))), self.s2d)


class DiTBlock(nn.Module):
    """Pre-norm transformer block whose LayerNorm shift/scale and residual gates come from the
    time embedding (adaLN-Zero: the gates start at zero, so each block starts as the identity)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_ratio * dim, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def _attn(self, h: torch.Tensor) -> torch.Tensor:
        n, L, d = h.shape
        q, k, v = self.qkv(h).view(n, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1) @ v
        return self.proj(a.transpose(1, 2).reshape(n, L, d))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s1, b1, g1, s2, b2, g2 = self.ada(c)[:, None].chunk(6, dim=2)
        h = self.norm1(x) * (1 + s1) + b1
        x = x + g1 * self._attn(h)
        h = self.norm2(x) * (1 + s2) + b2
        return x + g2 * self.mlp(h)


class DiT(nn.Module):
    """Diffusion transformer: ``(32/patch)^2`` patch tokens, learned position embeddings,
    ``depth`` adaLN-Zero blocks of width ``dim``, a zero-initialised linear un-patchify head."""

    def __init__(self, dim: int = 128, depth: int = 6, heads: int = 4, patch: int = 4) -> None:
        super().__init__()
        if MODEL_SIZE % patch or dim % heads or dim % 2 or depth < 1:
            raise GeneratorError(f"bad DiT config dim={dim}, depth={depth}, heads={heads}, patch={patch}")
        self.dim, self.patch = dim, patch
        self.grid = MODEL_SIZE // patch
        self.embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.pos = nn.Parameter(0.02 * torch.randn(1, self.grid * self.grid, dim))
        self.temb = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList([DiTBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.head = nn.Linear(dim, patch * patch)
        for lin in (self.ada[1], self.head):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        h = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        c = self.temb(timestep_embedding(t, self.dim))
        for b in self.blocks:
            h = b(h, c)
        shift, scale = self.ada(c)[:, None].chunk(2, dim=2)
        h = self.head(self.norm(h) * (1 + scale) + shift)  # (n, grid*grid, p*p)
        p, g = self.patch, self.grid
        return h.reshape(n, g, g, p, p).permute(0, 1, 3, 2, 4).reshape(n, 1, g * p, g * p)


class UViTBlock(nn.Module):
    """Pre-norm transformer block (attention + GELU MLP); with ``skip``, the long skip from the
    matching shallow block is concatenated and projected back first: ``x = W [x, skip]``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, skip: bool = False) -> None:
        super().__init__()
        self.skip = nn.Linear(2 * dim, dim) if skip else None
        self.norm1 = nn.LayerNorm(dim)
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if self.skip is not None:
            x = self.skip(torch.cat([x, skip], dim=-1))
        n, L, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(a.transpose(1, 2).reshape(n, L, d))
        return x + self.mlp(self.norm2(x))


class UViT(nn.Module):
    """U-ViT (Bao et al., CVPR 2023, "All are Worth Words"): a ViT denoiser whose inputs are all tokens.

    Tokens: one time token (sinusoidal embedding of ``t`` through a small MLP) followed by the
    ``(32/patch)^2`` patch tokens, plus a learned position embedding. ``depth`` blocks are
    arranged as ``depth // 2`` "in" blocks, one middle block and ``depth // 2`` "out" blocks;
    out block ``i`` receives a long skip from in block ``depth//2 - 1 - i`` (concatenate +
    linear), the paper's key ingredient for fast training. The patch tokens go through a
    LayerNorm and a linear head back to pixels, then a 3x3 convolution (the paper's final
    conv block); the head and the conv's bias start at zero, so the initial model predicts ``eps = 0``.
    ``depth`` must be odd.
    """

    def __init__(self, dim: int = 128, depth: int = 7, heads: int = 4, patch: int = 4, mlp_ratio: int = 4) -> None:
        super().__init__()
        if MODEL_SIZE % patch or dim % heads or dim % 2 or depth < 1 or depth % 2 == 0:
            raise GeneratorError(f"bad U-ViT config dim={dim}, depth={depth} (must be odd), heads={heads}, patch={patch}")
        self.dim, self.patch = dim, patch
        self.grid = MODEL_SIZE // patch
        self.embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.time_mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Linear(4 * dim, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, 1 + self.grid * self.grid, dim))
        half = depth // 2
        self.in_blocks = nn.ModuleList([UViTBlock(dim, heads, mlp_ratio) for _ in range(half)])
        self.mid = UViTBlock(dim, heads, mlp_ratio)
        self.out_blocks = nn.ModuleList([UViTBlock(dim, heads, mlp_ratio, skip=True) for _ in range(half)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch * patch)
        self.final = nn.Conv2d(1, 1, 3, padding=1)
        for p in (self.head.weight, self.head.bias, self.final.bias):
            nn.init.zeros_(p)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        tok = self.embed(x).flatten(2).transpose(1, 2)
        time_tok = self.time_mlp(timestep_embedding(t, self.dim))[:, None]
        h = torch.cat([time_tok, tok], dim=1) + self.pos
        skips = []
        for b in self.in_blocks:
            h = b(h)
            skips.append(h)
        h = self.mid(h)
        for b in self.out_blocks:
            h = b(h, skips.pop())
        h = self.head(self.norm(h[:, 1:]))  # drop the time token: (n, grid*grid, p*p)
        p, g = self.patch, self.grid
        img = h.reshape(n, g, g, p, p).permute(0, 1, 3, 2, 4).reshape(n, 1, g * p, g * p)
        return self.final(img)


# --------------------------------------------------------------------------------------
# GANs
# --------------------------------------------------------------------------------------


class DCGANGenerator(nn.Module):
    """``z (N, z_dim)`` -> ``(N, 1, 32, 32)`` in ``[-1, 1]``: 4x4 -> 8 -> 16 -> 32 transposed convs, BN + ReLU, tanh."""

    def __init__(self, z_dim: int = 64, base: int = 32) -> None:
        super().__init__()
        if z_dim < 1 or base < 4:
            raise GeneratorError(f"bad DCGAN generator config z_dim={z_dim}, base={base}")
        self.z_dim = z_dim
        self.fc = nn.Sequential(nn.Linear(z_dim, 4 * base * 16, bias=False), nn.BatchNorm1d(4 * base * 16), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * base, 2 * base, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * base), nn.ReLU(),
            nn.ConvTranspose2d(2 * base, base, 4, 2, 1, bias=False), nn.BatchNorm2d(base), nn.ReLU(),
            nn.ConvTranspose2d(base, 1, 4, 2, 1), nn.Tanh(),
        )
        self.base = base

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(len(z), 4 * self.base, 4, 4))


class DCGANDiscriminator(nn.Module):
    """``(N, 1, 32, 32)`` -> one logit per image: strided convs 32 -> 16 -> 8 -> 4, LeakyReLU, BN."""

    def __init__(self, base: int = 32) -> None:
        super().__init__()
        if base < 4:
            raise GeneratorError(f"bad DCGAN discriminator base={base}")
        self.net = nn.Sequential(
            nn.Conv2d(1, base, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(base, 2 * base, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * base), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * base, 4 * base, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * base), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * base, 1, 4, 1, 0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


def _sn(module: nn.Module) -> nn.Module:
    """Spectral normalisation of a layer's weight (one power iteration per training forward)."""
    return nn.utils.parametrizations.spectral_norm(module)


class _GLU(nn.Module):
    """Gated linear unit over channels: ``a * sigmoid(b)`` for ``[a, b] = x`` split in two."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class _SkipExcitation(nn.Module):
    """FastGAN's skip-layer excitation: channel gates for a high-resolution map from a low-resolution one."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.AdaptiveAvgPool2d(4), _sn(nn.Conv2d(cin, cout, 4, 1, 0, bias=False)), nn.SiLU(),
                                 _sn(nn.Conv2d(cout, cout, 1, 1, 0, bias=False)), nn.Sigmoid())

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.net(small)


def _up_block(cin: int, cout: int) -> nn.Sequential:
    """FastGAN-lite's small up-block: nearest x2, spectrally normalised 3x3 conv to 2*cout, BN, GLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _sn(nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False)),
                         nn.BatchNorm2d(2 * cout), _GLU())


class FastGANGenerator(nn.Module):
    """FastGAN-lite generator (Liu et al. 2021, as Projected FastGAN uses) at 32x32.

    ``z`` -> 4x4 (transposed conv, BN, GLU) -> 8 -> 16 -> 32 up-blocks (nearest upsampling,
    spectrally normalised 3x3 conv, BN, GLU: the "lite" variant, without noise injection, so
    a sample is a deterministic function of ``z``), with skip-layer excitation from the 4x4 map
    into the 16x16 one and from 8x8 into 32x32, then a 3x3 conv and tanh. Channels:
    ``8w, 4w, 2w, w`` at 4, 8, 16, 32 px.
    """

    def __init__(self, z_dim: int = 64, base: int = 32) -> None:
        super().__init__()
        if z_dim < 1 or base < 4:
            raise GeneratorError(f"bad FastGAN generator config z_dim={z_dim}, base={base}")
        self.z_dim = z_dim
        c4, c8, c16, c32 = 8 * base, 4 * base, 2 * base, base
        self.init = nn.Sequential(_sn(nn.ConvTranspose2d(z_dim, 2 * c4, 4, 1, 0, bias=False)),
                                  nn.BatchNorm2d(2 * c4), _GLU())
        self.up8 = _up_block(c4, c8)
        self.up16 = _up_block(c8, c16)
        self.up32 = _up_block(c16, c32)
        self.se16 = _SkipExcitation(c4, c16)
        self.se32 = _SkipExcitation(c8, c32)
        self.to_img = _sn(nn.Conv2d(c32, 1, 3, 1, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        f4 = self.init(z.view(len(z), -1, 1, 1))
        f8 = self.up8(f4)
        f16 = self.se16(f4, self.up16(f8))
        f32 = self.se32(f8, self.up32(f16))
        return torch.tanh(self.to_img(f32))


#: EfficientNet-Lite0's blocks grouped into the four stages the projected discriminator reads
#: (as Projected GAN splits timm's tf_efficientnet_lite0): stem + blocks 0-2 (24 ch, 1/4 of the
#: input side), 3-4 (40 ch, 1/8), 5-10 (112 ch, 1/16), 11-15 (320 ch, 1/32).
EFFNET_STAGES = ((0, 3), (3, 5), (5, 11), (11, 16))


@functools.lru_cache(maxsize=2)
def _frozen_effnet() -> nn.ModuleList:
    """ImageNet EfficientNet-Lite0 as four frozen stages (eval mode, no grad), cached and shared:
    the modules are never modified."""
    from ..extractors.effnet import EfficientNetLite

    net = EfficientNetLite("efficientnet-lite0", resolution=MODEL_SIZE, device="cpu").net
    blocks = list(net._blocks)
    stem = [net._conv_stem, net._bn0, net._swish]
    stages = nn.ModuleList([nn.Sequential(*(stem if i == 0 else []), *blocks[a:b])
                            for i, (a, b) in enumerate(EFFNET_STAGES)]).eval()
    for p in stages.parameters():
        p.requires_grad_(False)
    return stages


class FrozenEffNetFeatures(nn.Module):
    """Four-scale features of ImageNet EfficientNet-Lite0, frozen (:data:`EFFNET_STAGES`).

    Input: model-space images ``(N, 1, 32, 32)`` in ``[-1, 1]``; they are mapped to ``[0, 1]``,
    repeated to RGB, bilinearly resized to ``resolution`` and ImageNet-normalised, exactly as
    the ``effnet_lite0`` extractor sees images. Gradients flow to the input; the weights never
    change (eval mode, no grad), and they are *not* part of ``state_dict`` -- they come from the
    installed weight package.
    """

    def __init__(self, resolution: int = 64) -> None:
        super().__init__()
        from ..extractors.base import IMAGENET_MEAN, IMAGENET_STD

        if resolution < 32 or resolution % 32:
            raise GeneratorError(f"feature_resolution must be a multiple of 32 (EfficientNet's stride), got {resolution}")
        object.__setattr__(self, "_frozen", _frozen_effnet())  # hidden from state_dict/parameters/train()
        self.resolution = resolution
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.channels = (24, 40, 112, 320)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2).expand(-1, 3, -1, -1)
        if self.resolution != x.shape[-1]:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        h = (x - self.mean) / self.std
        out = []
        for stage in self._frozen:
            h = stage(h)
            out.append(h)
        return out


class RandomProjection(nn.Module):
    """Projected GAN's fixed random feature mixing (Sauer et al. 2021, Sec. 3.2), never trained.

    * CCM, cross-channel mixing: a random 1x1 convolution per scale to ``c, 2c, 4c, 8c`` channels;
    * CSM, cross-scale mixing: top-down, each scale's mixed map plus the (already mixed) coarser
      one, bilinearly upsampled x2 and a random 1x1 convolution halving the channels (the
      finest keeps them), so scale ``i`` of the output has ``(c, c, 2c, 4c)[i]`` channels at
      twice the backbone's resolution.

    Weights: PyTorch's default convolution initialisation from the global RNG, frozen
    (``requires_grad=False``); they are buffers of the checkpoint, so a reloaded discriminator
    sees the same projection.
    """

    def __init__(self, in_channels: tuple[int, ...], c: int = 32) -> None:
        super().__init__()
        if len(in_channels) != 4 or c < 1:
            raise GeneratorError(f"RandomProjection needs 4 scales and c >= 1, got {in_channels}, c={c}")
        ccm_out = (c, 2 * c, 4 * c, 8 * c)
        self.ccm = nn.ModuleList([nn.Conv2d(ci, co, 1) for ci, co in zip(in_channels, ccm_out)])
        csm_out = (c, c, 2 * c, 4 * c)
        self.csm = nn.ModuleList([nn.Conv2d(ci, co, 1) for ci, co in zip(ccm_out, csm_out)])
        self.channels = csm_out
        self.requires_grad_(False)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [conv(f) for conv, f in zip(self.ccm, feats)]
        out: list[torch.Tensor] = [None] * 4  # type: ignore[list-item]
        h = None
        for i in (3, 2, 1, 0):
            h = mixed[i] if h is None else mixed[i] + h
            h = self.csm[i](F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=True))
            out[i] = h
        return out


class _MiniDisc(nn.Module):
    """One scale's discriminator: strided 4x4 down-blocks (spectral norm, BN, LeakyReLU) to 8x8
    (or fewer if the map is smaller), then a 4x4 conv to a logit map (padded below 4x4)."""

    def __init__(self, cin: int, size: int, base: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = cin
        while size > 8:
            cout = base * max(1, 32 // size) * 2
            layers += [_sn(nn.Conv2d(c, cout, 4, 2, 1)), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
            c, size = cout, size // 2
        layers.append(_sn(nn.Conv2d(c, 1, 4, 1, 0 if size >= 4 else 2, bias=False)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class ProjectedDiscriminator(nn.Module):
    """Projected GAN discriminator: frozen EfficientNet-Lite0 features at four scales
    (:class:`FrozenEffNetFeatures`), fixed random CCM + CSM (:class:`RandomProjection`), and one
    trainable :class:`_MiniDisc` per scale; returns every head's logits concatenated
    ``(N, n_logits)`` (the hinge loss averages over them).

    Augment the images (DiffAugment) before calling it. :meth:`features` and :meth:`heads`
    split the forward pass so a training step can reuse one feature pass for the
    discriminator's and the generator's losses (the features do not depend on the heads).
    """

    def __init__(self, base: int = 32, resolution: int = 64, proj_channels: int = 32) -> None:
        super().__init__()
        self.backbone = FrozenEffNetFeatures(resolution)
        self.project = RandomProjection(self.backbone.channels, proj_channels)
        sizes = [2 * resolution // s for s in (4, 8, 16, 32)]  # CSM doubles the backbone's resolution
        self.discs = nn.ModuleList([_MiniDisc(c, sz, base) for c, sz in zip(self.project.channels, sizes)])

    def train(self, mode: bool = True) -> "ProjectedDiscriminator":
        super().train(mode)
        self.project.eval()  # fixed: no mode-dependent layers, kept in eval for clarity
        return self

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.project(self.backbone(x))

    def heads(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([d(f) for d, f in zip(self.discs, feats)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(self.features(x))


# --------------------------------------------------------------------------------------
# VAE
# --------------------------------------------------------------------------------------


class ConvVAE(nn.Module):
    """Convolutional VAE, latent ``z ~ N(0, I)`` of size ``z_dim``, Bernoulli decoder on ``[0, 1]`` pixels.

    ``loss`` is the negative ELBO per image: ``BCE(logits, (x+1)/2)`` summed over pixels plus
    ``beta * KL(q(z|x) || N(0, I))``, ``KL = 1/2 sum(mu^2 + s^2 - 1 - log s^2)``.
    """

    def __init__(self, z_dim: int = 32, base: int = 32) -> None:
        super().__init__()
        if z_dim < 1 or base < 4:
            raise GeneratorError(f"bad VAE config z_dim={z_dim}, base={base}")
        self.z_dim, self.base = z_dim, base
        self.enc = nn.Sequential(
            nn.Conv2d(1, base, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(base, 2 * base, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * base, 4 * base, 4, 2, 1), nn.SiLU(),
            nn.Flatten(), nn.Linear(4 * base * 16, 2 * z_dim),
        )
        self.fc = nn.Linear(z_dim, 4 * base * 16)
        self.dec = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose2d(4 * base, 2 * base, 4, 2, 1), nn.SiLU(),
            nn.ConvTranspose2d(2 * base, base, 4, 2, 1), nn.SiLU(),
            nn.ConvTranspose2d(base, 1, 4, 2, 1),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc(x).float().chunk(2, dim=1)  # float32 even under bf16 autocast (KL, exp)
        return mu, logvar.clamp(-12, 8)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(self.fc(z).view(len(z), 4 * self.base, 4, 4))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder mean mapped to model space ``[-1, 1]``."""
        return 2 * torch.sigmoid(self.decode_logits(z)) - 1

    def loss(self, x: torch.Tensor, gen: torch.Generator, beta: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z).float(), (x.float() + 1) / 2, reduction="none")
        rec = rec.flatten(1).sum(1).mean()
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1).mean()
        return rec + beta * kl, {"rec": rec.item(), "kl": kl.item()}
