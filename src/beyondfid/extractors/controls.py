"""Cheap control feature spaces for smoke tests and sanity baselines.

* ``pixels``     -- images resized to ``resolution`` (default 16) and flattened, in [0, 1];
* ``random_cnn`` -- a seeded, randomly initialised 4-layer CNN with global average pooling.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import ExtractorError, preprocess, register, resolve_device


class PixelExtractor:
    def __init__(self, resolution: int = 16, device: str = "cpu") -> None:
        if resolution < 1:
            raise ExtractorError(f"pixels: resolution must be >= 1, got {resolution}")
        self.name = "pixels"
        self.resolution = int(resolution)
        self.dim = 3 * self.resolution**2
        self.outputs = {"features": self.dim}
        self.device = resolve_device(device)

    @torch.no_grad()
    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        x = preprocess(images, self.resolution, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), self.device)
        return {"features": x.flatten(1).float().cpu()}


class RandomCNN(nn.Module):
    def __init__(self, resolution: int = 32, width: int = 64, seed: int = 0, device: str = "cpu") -> None:
        super().__init__()
        if resolution < 8:
            raise ExtractorError(f"random_cnn: resolution must be >= 8, got {resolution}")
        self.name = "random_cnn"
        self.resolution = int(resolution)
        self.dim = 4 * width
        self.outputs = {"features": self.dim}
        self.device = resolve_device(device)
        gen = torch.Generator().manual_seed(seed)
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(4):
            conv = nn.Conv2d(chans[i], chans[i + 1], 3, stride=2 if i else 1, padding=1)
            with torch.no_grad():
                fan_in = chans[i] * 9
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                conv.bias.zero_()
            layers += [conv, nn.ReLU()]
        self.net = nn.Sequential(*layers).eval().to(self.device)

    @torch.no_grad()
    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        x = preprocess(images, self.resolution, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), self.device)
        return {"features": self.net(x).mean(dim=(2, 3)).float().cpu()}


@register("pixels")
def _pixels(resolution: int = 16, device: str = "cpu", **_: object) -> PixelExtractor:
    return PixelExtractor(resolution=resolution, device=device)


@register("random_cnn")
def _random_cnn(resolution: int = 32, device: str = "cpu", seed: int = 0, **_: object) -> RandomCNN:
    return RandomCNN(resolution=resolution, seed=seed, device=device)
