"""FID Grad-CAM (paper 2, Sec. 2.1, Eq. 2): gradients, the one-image update, maps, masks, noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from beyondfid.features import _forward
from beyondfid.fidclasses.heatmaps import (HeatmapError, add_region_noise, affine_head, agreement_table,
                                           class_gradcam, fid_gradcam, important_half, leave_one_out_gradients,
                                           mass_share, minmax, oracle_map, spatial_maps, spearman, subject_mask,
                                           to_image_size, top_fraction_iou, upsample)
from beyondfid.metrics import fid_from_features, frechet_distance, frechet_grad_feature
from beyondfid.stats import add_sample, compute_stats

pytestmark = pytest.mark.usefixtures("one_thread")


def _sets(d=5, n_real=40, n_gen=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_real, d)), rng.normal(size=(n_gen, d)) * 1.2 + 0.3


def test_one_image_augmented_fid_equals_fid_of_all_n():
    real, gen = _sets()
    mr, sr = compute_stats(real)
    n = len(gen)
    for i in (0, 5, n - 1):
        others = np.delete(gen, i, axis=0)
        mu, sigma = compute_stats(others)  # the N - 1 precomputed images (the old mean is used)
        mu2, sigma2 = add_sample(mu, sigma, gen[i], n)
        assert frechet_distance(mr, sr, mu2, sigma2) == pytest.approx(fid_from_features(real, gen), rel=1e-12)


def test_leave_one_out_gradients_equal_the_per_image_closed_form():
    real, gen = _sets()
    mr, sr = compute_stats(real)
    g = leave_one_out_gradients(gen, mr, sr)
    for i in (0, 3, 11):
        others = np.delete(gen, i, axis=0)
        mu, sigma = compute_stats(others)
        np.testing.assert_allclose(g[i], frechet_grad_feature(gen[i], mu, sigma, len(gen), mr, sr), rtol=1e-9,
                                   atol=1e-12)


def test_heatmap_gradient_wrt_one_activation_matches_finite_differences():
    rng = np.random.default_rng(1)
    c, h, w, n = 5, 2, 3, 12
    maps = rng.normal(size=(n, c, h, w)) + 1.0
    real = rng.normal(size=(40, c))
    mr, sr = compute_stats(real)
    feats = maps.mean(axis=(2, 3))
    grads = leave_one_out_gradients(feats, mr, sr)
    i = 4
    mu, sigma = compute_stats(np.delete(feats, i, axis=0))

    def fid_of(a_i):
        mu2, s2 = add_sample(mu, sigma, a_i.mean(axis=(1, 2)), n)
        return frechet_distance(mr, sr, mu2, s2)

    eps = 1e-5
    for k, y, x in ((0, 0, 0), (3, 1, 2), (4, 0, 1)):
        plus, minus = maps[i].copy(), maps[i].copy()
        plus[k, y, x] += eps
        minus[k, y, x] -= eps
        numeric = (fid_of(plus) - fid_of(minus)) / (2 * eps)
        assert numeric == pytest.approx(grads[i, k] / (h * w), rel=1e-5)
    # Eq. 2 with the gradient spread over the positions
    alpha = ((np.broadcast_to(grads[i][:, None, None] / (h * w), (c, h, w))) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(fid_gradcam(maps[i:i + 1], grads[i:i + 1])[0],
                               np.einsum("k,kyx->yx", alpha, maps[i]), rtol=1e-12)


def test_class_gradcam_equals_autograd_gradcam_of_a_linear_head():
    rng = np.random.default_rng(2)
    maps = torch.tensor(rng.normal(size=(3, 4, 2, 2)), requires_grad=True)
    wt = torch.tensor(rng.normal(size=(6, 4)))
    logits = maps.mean(dim=(2, 3)) @ wt.T
    cls = torch.tensor([1, 5, 0])
    logits[torch.arange(3), cls].sum().backward()
    alpha = maps.grad.mean(dim=(2, 3))
    ref = torch.relu((alpha[:, :, None, None] * maps).sum(1)).detach().numpy()
    np.testing.assert_allclose(class_gradcam(maps.detach().numpy(), wt.numpy()[cls.numpy()]), ref, rtol=1e-10)


class _LinearNet:
    dim = 4
    device = torch.device("cpu")

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.w = torch.randn(7, 4, generator=g)
        self.b = torch.randn(7, generator=g)

    def head(self, maps):
        pooled = maps.mean(dim=(2, 3))
        return pooled, pooled @ self.w.T + self.b


def test_affine_head_recovers_the_linear_layer():
    net = _LinearNet()
    w, b = affine_head(net)
    np.testing.assert_allclose(w, net.w.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(b, net.b.numpy(), rtol=1e-6, atol=1e-6)


def test_spatial_maps_pool_to_the_cached_features(effnet64):
    imgs = np.random.default_rng(3).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    maps = spatial_maps(effnet64, imgs)
    assert maps.shape == (5, 1280, 2, 2)
    np.testing.assert_allclose(maps.mean(axis=(2, 3)), _forward(effnet64, imgs)["features"], rtol=1e-5, atol=1e-6)


def _planted():
    """Three 8 x 8 images with a 4 x 4 square subject in the top-left corner."""
    mask = np.zeros((3, 8, 8), bool)
    mask[:, :4, :4] = True
    img = (mask[:, None] * 255).astype(np.uint8)
    return img, mask


def test_subject_share_and_agreement_on_a_planted_image():
    img, mask = _planted()
    assert np.array_equal(subject_mask(img, 128), mask)
    on = mask.astype(float)
    off = (~mask).astype(float)
    assert np.allclose(mass_share(on, mask), 1.0) and np.allclose(mass_share(off, mask), 0.0)
    assert np.allclose(mass_share(np.ones_like(on), mask), 16 / 64)  # uniform: the area share
    ramp = np.broadcast_to(np.arange(64.0).reshape(8, 8), (3, 8, 8))
    assert np.allclose(spearman(ramp, ramp), 1.0) and np.allclose(spearman(ramp, -ramp), -1.0)
    assert np.allclose(spearman(on, mask), 1.0)  # two-valued map = the mask
    assert np.allclose(top_fraction_iou(on, mask, 0.25, b_is_mask=True), 1.0)  # top quarter = the 16 subject pixels
    assert np.allclose(top_fraction_iou(off, mask, 0.25, b_is_mask=True), 0.0)
    orc = oracle_map(mask, (2, 2))
    assert np.allclose(orc[:, 0, 0], 1.0) and np.allclose(orc[:, 1, 1], 0.0)
    t = agreement_table(on, off, mask, on).set_index("map")
    assert t.loc["FID heatmap (Eq. 2)", "mass on subject"] == pytest.approx(1.0)
    assert t.loc["FID heatmap (Eq. 2)", "Spearman with Top-1 Grad-CAM"] == pytest.approx(-1.0)
    assert t.loc["uniform map (chance)", "mass on subject"] == pytest.approx(0.25)
    with pytest.raises(HeatmapError, match="non-negative"):
        mass_share(-on, mask)


def test_scaling_upsampling_and_halves():
    m = np.random.default_rng(4).normal(size=(2, 3, 3))
    s = minmax(m)
    assert np.allclose(s.min(axis=(1, 2)), 0) and np.allclose(s.max(axis=(1, 2)), 1)
    assert np.allclose(minmax(np.ones((3, 3))), 0.0)
    assert np.allclose(upsample(np.full((2, 2), 0.7), 8), 0.7, atol=1e-6)
    u = to_image_size(m, 12)
    assert u.shape == (2, 12, 12) and u.min() >= 0 and u.max() <= 1
    heat = np.broadcast_to(np.arange(16.0).reshape(4, 4), (2, 4, 4))
    half = important_half(heat)
    assert half.sum(axis=(1, 2)).tolist() == [8, 8] and half[:, 2:, :].all() and not half[:, :2, :].any()


def test_region_noise_only_touches_its_region():
    img, mask = _planted()
    img = (img // 2).astype(np.uint8)  # mid-gray subject so that noise is not clipped away
    noisy = add_region_noise(img, mask, 0.2, seed=0)
    assert noisy.dtype == np.uint8 and np.array_equal(noisy[:, 0][~mask], img[:, 0][~mask])
    assert (noisy[:, 0][mask] != img[:, 0][mask]).mean() > 0.8
    assert np.array_equal(add_region_noise(img, mask, 0.0, seed=1), img)
    assert np.array_equal(add_region_noise(img, mask, 0.2, seed=0), noisy)
