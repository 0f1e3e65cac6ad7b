"""EfficientNet-Lite0 and the control extractors: registry, real ImageNet predictions, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from beyondfid.data import build_photos
from beyondfid.extractors import ExtractorError, available, get_extractor, imagenet_class_names, probabilities, top_k
from beyondfid.extractors.effnet import EfficientNetLite


def test_registry_lists_and_rejects():
    assert {"effnet_lite0", "pixels", "random_cnn"} <= set(available())
    with pytest.raises(ExtractorError, match="unknown extractor 'incepshun'.*registered:"):
        get_extractor("incepshun")


@pytest.fixture(scope="module")
def photos():
    return build_photos(256)[0]


@pytest.mark.parametrize("resolution", [224, 128])
def test_cat_photo_is_an_imagenet_cat(photos, resolution):
    """The scikit-image cat (Chelsea) must be classified into ImageNet cats 281-285."""
    e = get_extractor("effnet_lite0", resolution=resolution)
    i = photos.class_names.index("skimage:cat")
    logits = e.extract(photos.images[i : i + 1])["logits"].numpy()
    top1 = int(top_k(logits, 1)[0, 0])
    assert 281 <= top1 <= 285, imagenet_class_names()[top1]


def test_other_photos_are_sensible(photos):
    """A couple more real photos whose ImageNet class is unambiguous."""
    e = get_extractor("effnet_lite0", resolution=224)
    names = imagenet_class_names()
    out = e.extract(photos.images)["logits"].numpy()
    top5 = {photos.class_names[i]: [names[j] for j in top_k(out[i : i + 1], 5)[0]] for i in range(len(out))}
    assert "espresso" in top5["skimage:coffee"] or "cup" in top5["skimage:coffee"]
    assert "tripod" in top5["skimage:camera"] or "reflex camera" in top5["skimage:camera"]


def test_effnet_outputs_and_head_consistency(effnet64):
    x = np.random.default_rng(0).integers(0, 256, (3, 1, 28, 28), dtype=np.uint8)
    out = effnet64.extract(x)
    assert out["features"].shape == (3, 1280) and out["logits"].shape == (3, 1000)
    maps = effnet64.spatial_maps(effnet64.preprocess(x))
    assert maps.shape[:2] == (3, 1280) and maps.ndim == 4
    pooled, logits = effnet64.head(maps)
    torch.testing.assert_close(pooled, out["features"])
    torch.testing.assert_close(logits, out["logits"])


def test_gray_and_replicated_rgb_agree(effnet64):
    x = np.random.default_rng(1).integers(0, 256, (2, 1, 28, 28), dtype=np.uint8)
    a = effnet64.extract(x)["features"]
    b = effnet64.extract(np.repeat(x, 3, axis=1))["features"]
    torch.testing.assert_close(a, b)


def test_probabilities_and_topk():
    z = np.array([[1.0, 3.0, 2.0, 3.0]])
    p = probabilities(z)
    assert np.isclose(p.sum(), 1.0) and np.allclose(p[0], np.exp(z[0]) / np.exp(z[0]).sum())
    assert top_k(z, 3).tolist() == [[1, 3, 2]]  # ties -> lower index first


def test_imagenet_names():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[281] == "tabby" and names[285] == "Egyptian cat"


def test_bad_input_is_rejected(effnet64):
    with pytest.raises(ExtractorError, match="uint8 NCHW"):
        effnet64.extract(np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(ExtractorError, match="uint8 NCHW"):
        effnet64.extract(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ExtractorError, match="resolution"):
        EfficientNetLite(resolution=8)


def test_controls():
    x = np.random.default_rng(0).integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    px = get_extractor("pixels", resolution=28).extract(x)["features"]
    assert px.shape == (4, 3 * 28 * 28)
    assert torch.allclose(px[:, : 28 * 28], torch.from_numpy(x.reshape(4, -1)).float() / 255)
    a = get_extractor("random_cnn", seed=1).extract(x)["features"]
    b = get_extractor("random_cnn", seed=1).extract(x)["features"]
    c = get_extractor("random_cnn", seed=2).extract(x)["features"]
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == (4, 256)
