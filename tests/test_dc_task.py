"""Distribution-classification tasks and the shared pixel path (paper 3, issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from beyondfid.distclass.pixels import PixelPath, PixelPathError, apply, codec_roundtrip, to_channels
from beyondfid.distclass.task import PoolRef, TaskError, TaskSpec, halves, make_task


def _pool(n: int, value: int) -> np.ndarray:
    x = np.zeros((n, 1, 6, 6), np.uint8)
    x[:, 0, 0, 0] = value
    x[:, 0, 0, 1:3] = np.stack([np.arange(n) // 256, np.arange(n) % 256], 1)  # row id in the pixels
    return x


def _ids(x: np.ndarray) -> np.ndarray:
    return x[:, 0, 0, 1].astype(int) * 256 + x[:, 0, 0, 2]


def test_balanced_disjoint_and_labelled():
    pools = {"a": _pool(50, 1), "b": _pool(60, 2), "c": _pool(40, 3)}
    t = make_task(pools, TaskSpec(("a", "b", "c"), n_train=20, n_val=10, split_seed=3))
    assert t.class_names == ("a", "b", "c")
    assert np.bincount(t.y_train).tolist() == [20, 20, 20] and np.bincount(t.y_val).tolist() == [10, 10, 10]
    for c, v in enumerate((1, 2, 3)):
        tr, va = t.x_train[t.y_train == c], t.x_val[t.y_val == c]
        assert (tr[:, 0, 0, 0] == v).all() and (va[:, 0, 0, 0] == v).all()  # labels match pools
        assert not set(_ids(tr)) & set(_ids(va))                            # disjoint train/val
        assert len(set(_ids(tr))) == 20                                     # no repeats
        assert (_ids(tr) == t.train_index[t.y_train == c]).all()


def test_val_fixed_across_sizes_and_tasks_and_train_nested():
    pools = {"a": _pool(100, 1), "b": _pool(100, 2), "c": _pool(100, 3)}
    small = make_task(pools, TaskSpec(("a", "b"), 10, 20))
    big = make_task(pools, TaskSpec(("a", "b"), 70, 20))
    other = make_task(pools, TaskSpec(("c", "a"), 30, 20))
    va_small, va_big = _ids(small.x_val[small.y_val == 0]), _ids(big.x_val[big.y_val == 0])
    assert (va_small == va_big).all() and (va_small == _ids(other.x_val[other.y_val == 1])).all()
    assert set(_ids(small.x_train[small.y_train == 0])) <= set(_ids(big.x_train[big.y_train == 0]))
    seed_changed = make_task(pools, TaskSpec(("a", "b"), 10, 20, split_seed=1))
    assert not (_ids(seed_changed.x_val[:20]) == va_small).all()


def test_halves_are_disjoint_parts_of_one_pool():
    pools = {"m": _pool(41, 5)}
    t = make_task(pools, TaskSpec(halves("m"), n_train=12, n_val=8))
    assert t.class_names == ("m[1/2]", "m[2/2]")
    used = [set(_ids(np.concatenate([t.x_train[t.y_train == c], t.x_val[t.y_val == c]]))) for c in (0, 1)]
    assert not used[0] & used[1] and all(len(u) == 20 for u in used)


@pytest.mark.parametrize("classes", [("a", "a"), (PoolRef("a"), PoolRef("a", 0, 2)),
                                     (PoolRef("a", 0, 2), PoolRef("a", 0, 2, label="x")),
                                     (PoolRef("a", 0, 2), PoolRef("a", 1, 3))])
def test_a_pool_in_two_classes_must_be_cut_into_parts(classes):
    with pytest.raises(TaskError, match="disjoint parts|distinct"):
        TaskSpec(classes, 5, 5)


def test_too_few_images_and_mixed_shapes_fail_with_the_fix():
    with pytest.raises(TaskError, match="fewer than n_val \\+ n_train.*lower the sizes"):
        make_task({"a": _pool(10, 1), "b": _pool(50, 2)}, TaskSpec(("a", "b"), 8, 5))
    with pytest.raises(TaskError, match="same pixel path"):
        make_task({"a": _pool(20, 1), "b": np.zeros((20, 1, 7, 7), np.uint8)}, TaskSpec(("a", "b"), 5, 5))
    with pytest.raises(TaskError, match="at least 2"):
        TaskSpec(("a",), 5, 5)


def test_pixel_path_is_identity_on_the_zoo_format_and_matches_pil():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    assert (apply(gray, PixelPath()) == gray).all()
    rgb = rng.integers(0, 256, (3, 3, 9, 9), dtype=np.uint8)
    ref = np.stack([np.asarray(Image.fromarray(im.transpose(1, 2, 0)).convert("L")) for im in rgb])[:, None]
    assert np.abs(to_channels(rgb, 1).astype(int) - ref).max() <= 1  # PIL's luma uses fixed-point rounding
    big = apply(gray, PixelPath(size=14))
    ref = np.stack([np.asarray(Image.fromarray(im[0]).resize((14, 14), Image.BICUBIC)) for im in gray])[:, None]
    assert (big == ref).all()
    assert apply(gray, PixelPath(channels=3)).shape == (5, 3, 28, 28)


def test_codec_roundtrip_png_is_lossless_jpeg_is_not():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    assert (codec_roundtrip(x, "png") == x).all()
    assert (codec_roundtrip(x, "jpeg:75") != x).any()
    with pytest.raises(PixelPathError, match="codec"):
        PixelPath(codec="webp")
    with pytest.raises(PixelPathError, match="uint8 NCHW"):
        apply(np.zeros((2, 28, 28), np.uint8), PixelPath())
