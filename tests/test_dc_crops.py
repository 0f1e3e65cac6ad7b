"""Crops of paper 3's Table 7: the size mapping to 28 px, centre crops and seeded random crops."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.distclass.crops import CropError, center_crop, map_crop_sizes, random_boxes, random_crops


def test_paper_sizes_map_to_28_px_and_stop_below_2_px():
    m = map_crop_sizes((128, 64, 32, 16), 256, 28)
    assert [c.size for c in m] == [14, 7, 4, None]
    assert [c.exact for c in m] == [14.0, 7.0, 3.5, 1.75]
    assert not m[3].runnable and m[2].runnable
    assert [c.size for c in map_crop_sizes((128, 64, 32, 16), 256, 256)] == [128, 64, 32, 16]
    with pytest.raises(CropError):
        map_crop_sizes((300,), 256, 28)


def test_center_crop_is_the_central_window():
    x = np.arange(2 * 3 * 28 * 28, dtype=np.int64).reshape(2, 3, 28, 28).astype(np.uint8)
    for s, off in [(14, 7), (7, 10), (4, 12), (28, 0)]:
        c = center_crop(x, s)
        assert c.shape == (2, 3, s, s) and c.dtype == np.uint8
        np.testing.assert_array_equal(c, x[:, :, off: off + s, off: off + s])
    # an even crop of an even image is centred exactly: equal margins on both sides
    x = np.zeros((1, 1, 28, 28))
    x[..., 12:16, 12:16] = 1
    assert center_crop(x, 4).sum() == 16


def test_random_crops_are_windows_of_their_source_at_the_drawn_corners():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 2, 28, 28)).astype(np.uint8)
    crops, source = random_crops(x, 7, 4, seed=3)
    tops, lefts = random_boxes(5, 28, 28, 7, 4, seed=3)
    assert crops.shape == (20, 2, 7, 7)
    np.testing.assert_array_equal(source, np.repeat(np.arange(5), 4))
    for k in range(20):
        i, j = divmod(k, 4)
        t, l = tops[i, j], lefts[i, j]
        np.testing.assert_array_equal(crops[k], x[i, :, t: t + 7, l: l + 7])
    again, _ = random_crops(x, 7, 4, seed=3)
    other, _ = random_crops(x, 7, 4, seed=4)
    np.testing.assert_array_equal(crops, again)
    assert not np.array_equal(crops, other)


def test_random_corners_cover_every_placement_uniformly():
    tops, lefts = random_boxes(20000, 28, 28, 14, 1, seed=0)
    assert tops.min() == 0 and tops.max() == 14 and lefts.max() == 14
    counts = np.bincount(tops.ravel(), minlength=15)
    assert counts.min() > 0.8 * 20000 / 15 and counts.max() < 1.2 * 20000 / 15


@pytest.mark.parametrize("size", [1, 29, 3.0])
def test_bad_sizes_are_rejected(size):
    with pytest.raises(CropError, match="crop size"):
        center_crop(np.zeros((1, 1, 28, 28), np.uint8), size)
