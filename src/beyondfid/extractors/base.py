"""The extractor interface and registry.

An extractor is anything with a ``name``, a feature dimension ``dim``, a dict ``outputs``
of named output dimensions, and ``extract(batch)`` mapping a uint8 NCHW batch to a dict of
float32 tensors. The key ``"features"`` is always present and is the space FD/FID/FINC use;
classifiers add ``"logits"``.

Extractors are looked up by name in a registry of factories; a factory validates its
arguments and raises a clear error when a needed local weight file is missing.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ExtractorError(ValueError):
    """Unknown extractor, bad arguments, or missing weights."""


class MissingWeightsError(ExtractorError, FileNotFoundError):
    """A local weight file an extractor needs is absent (nothing is ever downloaded)."""


@runtime_checkable
class Extractor(Protocol):
    name: str
    dim: int
    outputs: dict[str, int]
    resolution: int

    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]: ...


_REGISTRY: dict[str, Callable[..., Extractor]] = {}


def register(name: str) -> Callable[[Callable[..., Extractor]], Callable[..., Extractor]]:
    """Decorator: register an extractor factory under ``name``."""

    def deco(factory: Callable[..., Extractor]) -> Callable[..., Extractor]:
        if name in _REGISTRY:
            raise ExtractorError(f"extractor {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return deco


def available() -> list[str]:
    return sorted(_REGISTRY)


def get_extractor(name: str, **kwargs: Any) -> Extractor:
    """Build a registered extractor, e.g. ``get_extractor("effnet_lite0", resolution=128)``."""
    if name not in _REGISTRY:
        raise ExtractorError(f"unknown extractor {name!r}; registered: {', '.join(available())}")
    return _REGISTRY[name](**kwargs)


def as_uint8_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Validate a uint8 NCHW batch and return it as a tensor (no copy when possible)."""
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[1] not in (1, 3):
        raise ExtractorError(
            f"extractors take uint8 NCHW batches with 1 or 3 channels, got {t.dtype} with shape {tuple(t.shape)}"
        )
    return t


def preprocess(
    images: np.ndarray | torch.Tensor,
    resolution: int,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """uint8 NCHW -> float32 NCHW: scale to [0,1], gray->RGB, bilinear (antialiased) resize, normalise."""
    x = as_uint8_tensor(images).to(device).float().div_(255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > resolution)
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ExtractorError("device 'cuda' requested but no CUDA GPU is visible; set features.device: cpu")
    return torch.device(device)


def core_extractors() -> list[str]:
    """Names registered by the core's own modules (``beyondfid.extractors.*``): the values
    ``features.extractor`` may take. Extractors registered by subpackages (the zoo's SSL
    encoders) are left out whether or not they have been imported."""
    from importlib import import_module

    import_module(__package__)  # registers the core extractors
    return sorted(n for n, f in _REGISTRY.items() if f.__module__.startswith(f"{__package__}."))
