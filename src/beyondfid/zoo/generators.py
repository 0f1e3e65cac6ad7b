"""Generator architectures of the mini model zoo, sized for a 2-core CPU.

All networks work on float images in ``[-1, 1]`` of shape ``(N, 1, 32, 32)``: the 28x28
AnimalShape silhouettes are zero-padded (value ``-1``, i.e. black background) by
:func:`to_model_space`, and :func:`to_uint8` crops the centre 28x28 back out.

* :class:`UNet` -- the epsilon-prediction denoiser of ``ddpm_s``/``ddpm_l``/``memorizer``;
* :class:`DiT` -- a diffusion transformer on 4x4 patches with adaLN-Zero time conditioning;
* :class:`DCGANGenerator` / :class:`DCGANDiscriminator` -- the GAN family;
* :class:`ProjectedDiscriminator` -- discriminator heads on *frozen* ImageNet EfficientNet-Lite0
  early-block features (the Projected GAN recipe: the generator is judged in an ImageNet
  feature space, which is what lets it "fool" ImageNet-feature metrics);
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
                 space_to_depth: int = 2) -> None:
        super().__init__()
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

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.temb(timestep_embedding(t, self.base))
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


@functools.lru_cache(maxsize=4)
def _frozen_effnet_blocks(n_blocks: int) -> nn.ModuleList:
    """Stem + first ``n_blocks`` MBConv blocks of ImageNet EfficientNet-Lite0, eval mode, no grad.

    Cached: the modules are never modified, so every discriminator can share one copy."""
    from ..extractors.effnet import EfficientNetLite

    net = EfficientNetLite("efficientnet-lite0", resolution=MODEL_SIZE, device="cpu").net
    stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
    frozen = nn.ModuleList([stem, *list(net._blocks)[:n_blocks]]).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


class FrozenEffNetFeatures(nn.Module):
    """Multi-scale features of ImageNet EfficientNet-Lite0's stem and first blocks, frozen.

    Input: model-space images ``(N, 1, 32, 32)`` in ``[-1, 1]``; they are mapped to ``[0, 1]``,
    repeated to RGB, bilinearly resized to ``resolution`` and ImageNet-normalised, exactly as
    the ``effnet_lite0`` extractor sees images. Returns the activations after the blocks in
    ``taps``. Gradients flow to the input; the weights never change (eval mode, no grad), and
    they are *not* part of ``state_dict`` -- they come from the installed weight package.
    """

    def __init__(self, resolution: int = 64, taps: tuple[int, ...] = (2, 4, 7)) -> None:
        super().__init__()
        from ..extractors.base import IMAGENET_MEAN, IMAGENET_STD

        if not taps or min(taps) < 0 or max(taps) > 15:
            raise GeneratorError(f"taps must index EfficientNet-Lite0's 16 blocks (0..15), got {taps}")
        frozen = _frozen_effnet_blocks(max(taps) + 1)
        object.__setattr__(self, "_frozen", frozen)  # hidden from state_dict/parameters/train()
        self.resolution = resolution
        self.taps = tuple(sorted(taps))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():
            self.channels = tuple(f.shape[1] for f in self(torch.zeros(1, 1, MODEL_SIZE, MODEL_SIZE)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2).expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        h = self._frozen[0]((x - self.mean) / self.std)
        out = []
        for i, block in enumerate(self._frozen[1:]):
            h = block(h)
            if i in self.taps:
                out.append(h)
        return out


class ProjectedDiscriminator(nn.Module):
    """Projected-GAN discriminator: on each frozen EfficientNet feature map, a fixed random 1x1
    channel projection (cross-channel mixing, not trained) followed by a small trainable conv
    head producing one logit map; the image's logit is the sum of the heads' mean logits."""

    def __init__(self, base: int = 32, resolution: int = 64, taps: tuple[int, ...] = (2, 4, 7),
                 proj_channels: int = 32) -> None:
        super().__init__()
        self.features = FrozenEffNetFeatures(resolution, taps)
        self.proj = nn.ModuleList()
        self.heads = nn.ModuleList()
        for c in self.features.channels:
            proj = nn.Conv2d(c, proj_channels, 1, bias=False)
            nn.init.kaiming_normal_(proj.weight)
            proj.weight.requires_grad_(False)
            self.proj.append(proj)
            self.heads.append(nn.Sequential(
                nn.Conv2d(proj_channels, base, 3, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(base, base, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(base, 1, 1),
            ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = 0.0
        for f, proj, head in zip(self.features(x), self.proj, self.heads):
            logits = logits + head(proj(f)).mean(dim=(1, 2, 3))
        return logits  # type: ignore[return-value]


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
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(self.fc(z).view(len(z), 4 * self.base, 4, 4))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder mean mapped to model space ``[-1, 1]``."""
        return 2 * torch.sigmoid(self.decode_logits(z)) - 1

    def loss(self, x: torch.Tensor, gen: torch.Generator, beta: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z), (x + 1) / 2, reduction="none")
        rec = rec.flatten(1).sum(1).mean()
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1).mean()
        return rec + beta * kl, {"rec": rec.item(), "kl": kl.item()}
