"""Datasets: the standard format, seeded subsampling and splits, image folders and corrupt files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from beyondfid.data import (
    ANIMAL_CLASSES,
    CorruptImageError,
    DataError,
    ImageFolder,
    ImageSet,
    build_animals,
    build_digits,
    build_photos,
    load_imageset,
    train_val_split,
)
from beyondfid.io import sha256_array


def test_animals_come_from_the_package():
    ds, manifest = build_animals()
    assert ds.images.shape == (10000, 1, 28, 28) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [1000] * 10
    assert ds.class_names == ANIMAL_CLASSES
    assert manifest["source_package"].startswith("animal-shape-mnist")
    assert len(manifest["source_files"]) == 2


def test_digits_rescaled_to_full_uint8_range():
    ds, _ = build_digits()
    assert ds.images.shape == (1797, 1, 8, 8)
    assert ds.images.min() == 0 and ds.images.max() == 255


def test_photos_include_the_cat():
    ds, _ = build_photos(64)
    assert ds.images.shape[1:] == (3, 64, 64)
    assert "skimage:cat" in ds.class_names


def test_prepared_manifests_have_checksums(smoke_cfg):
    for name in ("animals", "digits", "photos"):
        manifest = json.loads((smoke_cfg.datasets_dir / f"{name}.json").read_text())
        ds = load_imageset(smoke_cfg.datasets_dir, name, verify=True)
        assert manifest["count"] == len(ds)
        assert manifest["sha256_images"] == sha256_array(ds.images)
        for key in ("source_package", "license", "image_shape_chw", "class_counts"):
            assert key in manifest
    assert len(load_imageset(smoke_cfg.datasets_dir, "animals")) == smoke_cfg.params.data.animals_n


def test_tampered_dataset_fails_verification(smoke_cfg, tmp_path):
    import shutil

    from beyondfid.io import load_npz, save_npz

    for ext in ("npz", "json"):
        shutil.copy(smoke_cfg.datasets_dir / f"digits.{ext}", tmp_path / f"digits.{ext}")
    z = load_npz(tmp_path / "digits.npz")
    z["images"][0, 0, 0, 0] ^= 1
    save_npz(tmp_path / "digits.npz", **z)
    with pytest.raises(DataError, match="checksum"):
        load_imageset(tmp_path, "digits", verify=True)


def _toy(n=100, classes=4):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, 1, 4, 4), dtype=np.uint8)
    return ImageSet("toy", imgs, np.arange(n) % classes, tuple("abcd"[:classes]))


def test_subsample_is_seeded_and_traceable():
    ds = _toy()
    a, b, c = ds.subsample(30, seed=1), ds.subsample(30, seed=1), ds.subsample(30, seed=2)
    assert np.array_equal(a.index, b.index) and not np.array_equal(a.index, c.index)
    assert np.array_equal(a.images, ds.images[a.index])
    with pytest.raises(DataError, match="only 100 exist"):
        ds.subsample(101, seed=0)


def test_split_is_stratified_disjoint_and_complete():
    ds = _toy(200, 4)
    tr, va = train_val_split(ds, 0.25, seed=3)
    assert set(tr.index).isdisjoint(va.index)
    assert sorted(np.concatenate([tr.index, va.index])) == list(range(200))
    # 50 images per class, 25% held out -> round(12.5) = 12 per class (banker's rounding)
    assert np.bincount(va.labels).tolist() == [12, 12, 12, 12]
    tr2, va2 = train_val_split(ds, 0.25, seed=3)
    assert np.array_equal(va.index, va2.index)


def test_imageset_rejects_bad_arrays():
    with pytest.raises(DataError, match="uint8 NCHW"):
        ImageSet("x", np.zeros((2, 4, 4, 1), np.float32), np.zeros(2))
    with pytest.raises(DataError, match="labels"):
        ImageSet("x", np.zeros((2, 1, 4, 4), np.uint8), np.zeros(3))


def _write_folder(path, n=5, size=(12, 10)):
    path.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(path / f"img_{i}.png")


def test_image_folder_reads_sorted_rgb(tmp_path):
    _write_folder(tmp_path / "real")
    f = ImageFolder(tmp_path / "real")
    assert len(f) == 5 and f.get(0, 5).shape == (5, 3, 12, 10)
    assert np.array_equal(f.get(1, 2)[0], np.asarray(Image.open(tmp_path / "real" / "img_1.png")).transpose(2, 0, 1))
    assert ImageFolder(tmp_path / "real", size=8).get(0, 5).shape == (5, 3, 8, 8)


def test_corrupt_image_error_names_the_file(tmp_path):
    _write_folder(tmp_path / "gen")
    (tmp_path / "gen" / "img_2.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    f = ImageFolder(tmp_path / "gen")
    with pytest.raises(CorruptImageError) as ei:
        f.get(0, 5)
    assert "img_2.png" in str(ei.value) and "skip_corrupt" in str(ei.value)


def test_corrupt_images_can_be_skipped_and_counted(tmp_path):
    _write_folder(tmp_path / "gen", n=6)
    (tmp_path / "gen" / "img_0.png").write_bytes(b"garbage")
    (tmp_path / "gen" / "img_4.png").write_bytes(b"")
    with pytest.warns(UserWarning, match="skipped 2"):
        f = ImageFolder(tmp_path / "gen", skip_corrupt=True)
    assert f.skipped == 2 and sorted(f.skipped_files) == ["img_0.png", "img_4.png"]
    assert len(f) == 4 and f.get(0, 4).shape[0] == 4


def test_missing_folder_explains_layout(tmp_path):
    with pytest.raises(DataError, match="one folder of PNG/JPEG"):
        ImageFolder(tmp_path / "absent")
