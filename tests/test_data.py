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


# --------------------------------------------------------------------------------------
# Pixels exactly as stored (issue 10, cases 3-7)
# --------------------------------------------------------------------------------------


def test_16bit_png_is_scaled_to_8bit(tmp_path):
    """Case 3: a 0..65535 gray gradient must map v -> round(v * 255 / 65535), not clip at 255."""
    (tmp_path / "med").mkdir()
    grad = np.round(np.linspace(0, 65535, 64 * 256)).astype(np.uint16).reshape(64, 256)
    Image.fromarray(grad).save(tmp_path / "med" / "grad.png")
    assert Image.open(tmp_path / "med" / "grad.png").mode.startswith("I")  # really a 16-bit file
    img = ImageFolder(tmp_path / "med").get(0, 1)[0]
    assert img.shape == (3, 64, 256) and img.dtype == np.uint8
    expected = np.round(grad.astype(np.float64) * 255.0 / 65535.0).astype(np.uint8)
    for c in range(3):
        assert np.array_equal(img[c], expected)
    assert abs(float(img.mean()) - 127.5) < 0.5 and float((img == 255).mean()) < 0.01


def test_exif_orientation_is_applied(tmp_path):
    """Case 4: a JPEG stored sideways with EXIF Orientation=6 loads upright."""
    (tmp_path / "cam").mkdir()
    upright = np.zeros((32, 64, 3), np.uint8)  # 32 high, 64 wide; left half bright
    upright[:, :32] = 230
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # what the camera wrote (64 high)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    Image.fromarray(stored).save(tmp_path / "cam" / "photo.jpg", quality=95, exif=exif)
    img = ImageFolder(tmp_path / "cam").get(0, 1)[0].transpose(1, 2, 0)
    assert img.shape == (32, 64, 3)
    assert np.abs(img.astype(int) - upright).mean() < 3  # JPEG round-off only


def test_alpha_is_composited_onto_the_documented_background(tmp_path):
    """Case 5: transparent pixels show the background, not their hidden colour."""
    (tmp_path / "rgba").mkdir()
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # hidden red everywhere
    rgba[:4, :, 3] = 0  # top half fully transparent
    rgba[4:6, :, 3] = 255  # opaque red
    rgba[6:, :, 3] = 128  # half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba" / "a.png")
    # a palette image with a transparent index, and gray + alpha, go the same way
    pal = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), "P")
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.save(tmp_path / "rgba" / "b.png", transparency=0)
    la = np.stack([np.full((2, 2), 200, np.uint8), np.array([[0, 255], [255, 0]], np.uint8)], -1)
    Image.fromarray(la, "LA").save(tmp_path / "rgba" / "c.png")
    folder = ImageFolder(tmp_path / "rgba")
    img = folder.get(0, 1)[0].transpose(1, 2, 0).astype(np.float64)
    assert (img[:4, :, 0] < 255).all()  # the hidden red of transparent pixels must not show
    from beyondfid.data import ALPHA_BACKGROUND, decode_image

    bg = np.array(ALPHA_BACKGROUND, np.float64)
    assert np.array_equal(img[:4], np.broadcast_to(bg, (4, 8, 3)))
    assert np.array_equal(img[4:6], np.broadcast_to([255.0, 0, 0], (2, 8, 3)))
    half = 128 / 255 * np.array([255.0, 0, 0]) + (1 - 128 / 255) * bg
    assert np.abs(img[6:] - half).max() <= 1
    p = decode_image(tmp_path / "rgba" / "b.png").transpose(1, 2, 0)
    assert np.array_equal(p[0, 0], bg) and np.array_equal(p[0, 1], [0, 0, 255])
    g = decode_image(tmp_path / "rgba" / "c.png").transpose(1, 2, 0)
    assert np.array_equal(g[0, 0], bg) and np.array_equal(g[0, 1], [200, 200, 200])


def test_every_pillow_format_is_read_case_insensitively_and_the_rest_is_reported(tmp_path):
    """Case 6: `.Jpg`, `.webp`, `.bmp`, `.TIFF` are images; other files are counted and reported."""
    d = tmp_path / "mixed"
    d.mkdir()
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    for name, kw in (("a.png", {}), ("b.Jpg", {"format": "JPEG"}), ("c.webp", {"lossless": True}),
                     ("d.BMP", {}), ("e.TIFF", {})):
        Image.fromarray(arr).save(d / name, **kw)
    (d / "notes.txt").write_text("not an image")
    (d / ".DS_Store").write_bytes(b"\0\0")
    (d / "sub").mkdir()
    with pytest.warns(UserWarning, match=r"3 entries are not images.*\.DS_Store.*notes\.txt.*sub"):
        f = ImageFolder(d)
    assert [p.name for p in f.files] == ["a.png", "b.Jpg", "c.webp", "d.BMP", "e.TIFF"]
    assert f.ignored_files == [".DS_Store", "notes.txt", "sub/"]
    lossless = f.get(0, 5)
    for i in (0, 2, 3, 4):
        assert np.array_equal(lossless[i], arr.transpose(2, 0, 1))


def test_decompression_bomb_is_a_named_skippable_error(tmp_path):
    """Case 7: a ~27 KB PNG of 15000 x 15000 pixels fails naming the file, or is skipped and counted."""
    import struct
    import zlib

    d = tmp_path / "gen"
    _write_folder(d, n=3)
    w = h = 15000  # 1-bit gray: 225 Mpixel, far beyond Pillow's decompression-bomb limit
    raw = zlib.compress((b"\x00" + bytes((w + 7) // 8)) * h, 9)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
           + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    (d / "img_1.png").write_bytes(png)
    assert len(png) < 40_000
    with pytest.raises(CorruptImageError, match=r"img_1\.png.*pixels") as ei:
        ImageFolder(d).get(0, 3)
    assert "skip_corrupt" in str(ei.value)
    with pytest.warns(UserWarning, match="skipped 1"):
        f = ImageFolder(d, skip_corrupt=True)
    assert f.skipped_files == ["img_1.png"] and len(f) == 2
