"""Inputs of the colored-digits experiment: disjoint halves, exact colored share, gray reference."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.finc.colored import colored_pair
from beyondfid.data import ImageSet, build_digits


def test_colored_pair_ground_truth():
    ds = build_digits()[0].subsample(400, seed=0)
    test, ref, is_colored, color_ids = colored_pair(ds, 0.5, seed=3)
    assert len(test) == len(ref) == 200 and set(test.index).isdisjoint(ref.index)
    assert test.images.shape[1] == ref.images.shape[1] == 3
    assert is_colored.sum() == 100 and np.array_equal(is_colored, color_ids >= 0)
    # gray reference: identical channels equal to the source images
    assert np.array_equal(ref.images, np.repeat(ds.images[np.searchsorted(ds.index, ref.index)], 3, axis=1))
    # colored test images keep their silhouette (brightest channel == gray) and are not gray
    src = ds.images[np.searchsorted(ds.index, test.index)][:, 0]
    assert np.array_equal(test.images.max(axis=1), src)
    chans_equal = (test.images[:, 0] == test.images[:, 1]).all(axis=(1, 2)) & (
        test.images[:, 1] == test.images[:, 2]).all(axis=(1, 2))
    assert np.array_equal(chans_equal, ~is_colored)
    again = colored_pair(ds, 0.5, seed=3)
    assert np.array_equal(again[0].images, test.images)


def test_colored_pair_rejects_rgb_and_tiny_sets():
    rgb = ImageSet("x", np.random.default_rng(0).integers(0, 255, (10, 3, 4, 4), dtype=np.uint8), np.zeros(10))
    with pytest.raises(ValueError, match="grayscale"):
        colored_pair(rgb, 0.5, 0)
    with pytest.raises(ValueError, match="too few"):
        colored_pair(ImageSet("y", np.zeros((3, 1, 4, 4), np.uint8), np.zeros(3)), 0.5, 0)
