"""Tests for class-skewed resampling, colorization and the batched random affine augmentation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from beyondfid.zoo.transforms import (
    DEFAULT_PALETTE,
    TransformError,
    class_target_counts,
    class_weights_from_factors,
    colorize,
    random_affine,
    skew_by_class,
    tint,
    to_rgb,
)

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------- skew


def test_target_counts_are_a_valid_apportionment_for_random_weights() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(1, 12))
        w = rng.random(k) * (rng.random(k) > 0.2)
        if w.sum() == 0:
            w[0] = 1.0
        n = int(rng.integers(0, 500))
        counts = class_target_counts(w, n)
        quota = n * w / w.sum()
        assert counts.sum() == n
        assert np.all(counts >= np.floor(quota - 1e-9)) and np.all(counts <= np.ceil(quota + 1e-9))
        assert np.all(counts[w == 0] == 0)


def test_target_counts_exact_when_quotas_are_integers() -> None:
    assert class_target_counts([1, 2, 3, 4], 100).tolist() == [10, 20, 30, 40]
    # weights that are not exactly representable in binary still give the exact integer quotas
    assert class_target_counts([0.1, 0.2, 0.7], 10).tolist() == [1, 2, 7]
    assert class_target_counts([1 / 3, 1 / 3, 1 / 3], 9).tolist() == [3, 3, 3]
    # equal remainders are broken by class id, deterministically
    assert class_target_counts([1, 1, 1], 4).tolist() == [2, 1, 1]


def _balanced_labels(k: int = 10, per: int = 100) -> np.ndarray:
    return np.repeat(np.arange(k), per)[np.random.default_rng(1).permutation(k * per)]


def test_skew_by_factors_gives_exact_planted_counts() -> None:
    labels = _balanced_labels()
    # class 0 four times as frequent, class 1 removed, the other 8 unchanged: weights 4:0:1:...:1 of 12
    idx = skew_by_class(labels, 240, seed=3, factors={0: 4.0, 1: 0.0})
    expected = np.array([80, 0] + [20] * 8)
    assert np.array_equal(np.bincount(labels[idx], minlength=10), expected)
    assert len(np.unique(idx)) == len(idx)  # without replacement
    assert np.all(np.diff(idx) > 0)


def test_skew_factors_are_relative_to_observed_proportions() -> None:
    labels = np.array([0] * 300 + [1] * 100)  # 3:1 observed
    w = class_weights_from_factors(labels, {1: 3.0})
    assert np.allclose(w, [0.5, 0.5])
    idx = skew_by_class(labels, 200, seed=0, factors={1: 3.0})
    assert np.bincount(labels[idx]).tolist() == [100, 100]


def test_skew_by_class_weights_and_seeding() -> None:
    labels = _balanced_labels()
    w = np.array([0.25, 0.25] + [0.5 / 8] * 8)
    a = skew_by_class(labels, 400, seed=5, class_weights=w)
    b = skew_by_class(labels, 400, seed=5, class_weights=w)
    c = skew_by_class(labels, 400, seed=6, class_weights=w)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.array_equal(np.bincount(labels[a], minlength=10), np.bincount(labels[c], minlength=10))
    assert np.bincount(labels[a], minlength=10).tolist() == [100, 100] + [25] * 8


def test_skew_needs_replacement_when_a_class_runs_out() -> None:
    labels = _balanced_labels(k=2, per=10)
    with pytest.raises(TransformError, match="replace=True"):
        skew_by_class(labels, 30, seed=0, class_weights=[2, 1])
    idx = skew_by_class(labels, 30, seed=0, class_weights=[2, 1], replace=True)
    assert np.bincount(labels[idx]).tolist() == [20, 10]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(), "exactly one"),
        (dict(class_weights=[1, 1], factors={0: 2}), "exactly one"),
        (dict(class_weights=[1, 1, 1]), "3 entries"),
        (dict(class_weights=[1, -1]), ">= 0"),
        (dict(factors={5: 2.0}), "classes are 0..1"),
        (dict(factors={0: float("nan")}), "finite"),
        (dict(factors={0: 0.0, 1: 0.0}), "at least one"),
    ],
)
def test_skew_rejects_bad_specs(kwargs: dict, match: str) -> None:
    with pytest.raises(TransformError, match=match):
        skew_by_class(np.array([0, 1, 0, 1]), 2, seed=0, **kwargs)


def test_skew_rejects_bad_labels() -> None:
    with pytest.raises(TransformError, match="integers"):
        skew_by_class(np.array([0.0, 1.0]), 2, seed=0, class_weights=[1, 1])
    with pytest.raises(TransformError, match="out of range"):
        skew_by_class(np.array([0, 3]), 2, seed=0, class_weights=[1, 1], n_classes=2)


# ---------------------------------------------------------------------------------- colorize


def _silhouettes(n: int = 60, size: int = 12, seed: int = 0) -> np.ndarray:
    """Gray images with a black background and a foreground covering every gray level 1..255."""
    rng = np.random.default_rng(seed)
    img = np.zeros((n, 1, size, size), np.uint8)
    for i in range(n):
        r0, c0 = rng.integers(0, size // 2, 2)
        h, w = rng.integers(2, size // 2 + 1, 2)
        img[i, 0, r0 : r0 + h, c0 : c0 + w] = rng.integers(1, 256, (h, w))
    img[0, 0].flat[: 255] = np.arange(1, 256)[: img[0, 0].size]  # every level, incl. the darkest
    return img


def test_colorize_counts_and_balance() -> None:
    gray = _silhouettes(60)
    rgb, colored, ids = colorize(gray, 0.5, seed=1)
    assert rgb.dtype == np.uint8 and rgb.shape == (60, 3, 12, 12)
    assert colored.sum() == 30 and np.array_equal(colored, ids >= 0)
    counts = np.bincount(ids[colored], minlength=len(DEFAULT_PALETTE))
    assert counts.sum() == 30 and counts.max() - counts.min() <= 1
    for frac, k in [(0.0, 0), (1.0, 60), (0.1, 6), (1 / 7, 9)]:  # round(60/7)=round(8.57)=9
        assert colorize(gray, frac, seed=0)[1].sum() == k == math.floor(frac * 60 + 0.5)


def test_colorize_keeps_structure_exactly() -> None:
    gray = _silhouettes(60)
    rgb, colored, ids = colorize(gray, 0.5, seed=2)
    g = gray[:, 0]
    # every image, colored or not: brightest channel reproduces the gray image exactly
    assert np.array_equal(rgb.max(axis=1), g)
    # foreground masks are unchanged
    assert np.array_equal(rgb.max(axis=1) > 0, g > 0)
    # gray images: three identical channels equal to the original
    assert np.all(rgb[~colored] == gray[~colored])
    # colored images: each channel is the gray image scaled by the palette colour (manual formula)
    for i in np.flatnonzero(colored):
        col = DEFAULT_PALETTE[ids[i]]
        for c in range(3):
            expect = np.round(g[i].astype(np.float64) * col[c] / 255.0 + 1e-9).astype(np.uint8)
            assert np.array_equal(rgb[i, c], expect)
        fg = g[i] > 0
        assert not np.all(rgb[i, 0][fg] == rgb[i, 1][fg]) or not np.all(rgb[i, 1][fg] == rgb[i, 2][fg])


def test_colorize_is_seeded() -> None:
    gray = _silhouettes(40)
    a, b, c = colorize(gray, 0.5, seed=7), colorize(gray, 0.5, seed=7), colorize(gray, 0.5, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[2], c[2])


def test_colorize_custom_palette_and_errors() -> None:
    gray = _silhouettes(10)
    rgb, colored, ids = colorize(gray, 1.0, seed=0, palette=[(255, 128, 0)])
    assert np.all(ids == 0) and np.array_equal(rgb[:, 0], gray[:, 0])
    assert np.array_equal(rgb[:, 1], tint(gray, (255, 128, 0))[:, 1])
    with pytest.raises(TransformError, match="255"):
        colorize(gray, 0.5, seed=0, palette=[(128, 0, 0)])
    with pytest.raises(TransformError, match=r"\(N, 1, H, W\)"):
        colorize(to_rgb(gray), 0.5, seed=0)
    with pytest.raises(TransformError, match=r"\[0, 1\]"):
        colorize(gray, 1.5, seed=0)


# ---------------------------------------------------------------------------------- augmentation


def test_random_affine_identity_and_flip() -> None:
    x = torch.rand(8, 1, 16, 16)
    gen = torch.Generator().manual_seed(0)
    assert torch.allclose(random_affine(x, gen), x, atol=1e-5)
    y = random_affine(x, gen, hflip=True)
    same = [torch.allclose(y[i], x[i], atol=1e-5) for i in range(8)]
    flipped = [torch.allclose(y[i], x[i].flip(-1), atol=1e-5) for i in range(8)]
    assert all(s or f for s, f in zip(same, flipped)) and any(flipped) and any(same)


def test_random_affine_crop_magnifies_and_is_seeded() -> None:
    # a crop of half the side (area 1/4) resized to full size halves a linear ramp's per-pixel slope
    ramp = torch.linspace(0, 1, 32).repeat(32, 1)[None, None].repeat(4, 1, 1, 1)
    out = random_affine(ramp, torch.Generator().manual_seed(0), scale=(0.25, 0.25))
    slope_in = (ramp[..., 1:] - ramp[..., :-1]).mean()
    slope_out = (out[..., 8:24, 1:] - out[..., 8:24, :-1])[..., 4:-4].mean()
    assert torch.isclose(slope_out, 0.5 * slope_in, rtol=0.02)
    kw = dict(scale=(0.5, 1.0), ratio=(0.75, 1.33), max_rotation_deg=20.0, max_translate=0.1, hflip=True)
    a = random_affine(ramp, torch.Generator().manual_seed(3), **kw)
    b = random_affine(ramp, torch.Generator().manual_seed(3), **kw)
    c = random_affine(ramp, torch.Generator().manual_seed(4), **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_diff_augment_translates_cuts_out_and_passes_gradients() -> None:
    import torch

    from beyondfid.zoo.transforms import diff_augment

    x = torch.full((6, 1, 16, 16), -1.0)
    x[:, :, 8, 8] = 1.0  # one bright pixel per image
    y = diff_augment(x, torch.Generator().manual_seed(0), translate=0.125, cutout=0.0)
    for img in y[:, 0]:  # the bright pixel moved by at most 2 pixels per axis; nothing else changed
        (r, c), = torch.nonzero(img == 1.0).tolist()
        assert abs(r - 8) <= 2 and abs(c - 8) <= 2 and int((img == -1.0).sum()) == 255
    ones = torch.ones(4, 1, 16, 16)
    z = diff_augment(ones, torch.Generator().manual_seed(1), translate=0.0, cutout=0.5)
    holes = (z == -1.0).sum(dim=(1, 2, 3))
    assert torch.all(holes > 0) and torch.all(holes <= 9 * 9)  # a (clipped) square of side 8 (+1 centre row/col)
    assert torch.equal(diff_augment(x, torch.Generator().manual_seed(3)), diff_augment(x, torch.Generator().manual_seed(3)))
    assert torch.equal(diff_augment(x, torch.Generator().manual_seed(3), translate=0.0, cutout=0.0), x)
    # differentiable: d(sum of output)/dx is 1 where a pixel is kept (each source pixel used at most once), else 0
    xr = torch.randn(3, 1, 16, 16, requires_grad=True)
    out = diff_augment(xr, torch.Generator().manual_seed(2))
    out.sum().backward()
    assert set(torch.unique(xr.grad).tolist()) <= {0.0, 1.0} and xr.grad.sum() > 0
    with pytest.raises(TransformError, match="translate"):
        diff_augment(x, torch.Generator(), translate=0.6)
