"""The one pixel path every distribution of a task goes through.

A classifier that separates two image sets may be reading how they were *stored* rather than
what they *show*: JPEG vs PNG, a different resize filter, float vs uint8 rounding. So every
distribution -- real splits and generated samples alike -- is loaded by :func:`load_pool`, which
calls the zoo's loader for that set (``beyondfid.zoo.eval.first_images``: the split's / the
model's ``.npz`` on mini, the image folder on the paper profile) and then :func:`apply`:

1. uint8 NCHW in, **uint8 out** (quantised once, at the source: real splits are uint8 from the
   dataset, samples are quantised by the zoo as ``round((x + 1) * 127.5)``);
2. channels: RGB -> gray by the ITU-R 601 luma ``(299 R + 587 G + 114 B) / 1000`` rounded, gray
   -> RGB by repetition;
3. side: a centre square crop and one PIL bicubic resize to ``size`` (skipped when the images
   already have that side, so mini's 28-px images are untouched);
4. optionally a codec round trip (``png`` or ``jpeg:<quality>``) applied to *every* distribution,
   for sources stored in different formats (the paper's JPEG ImageNet vs PNG samples).

The classifiers then see ``uint8 / 255``; nothing downstream treats the classes differently.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..zoo.eval import first_images

ALL = 10**12  # "every image" for first_images


class PixelPathError(ValueError):
    """Images that cannot go through the pixel path, or an unknown pool."""


@dataclass(frozen=True)
class PixelPath:
    """``size`` (0 = keep), ``channels`` (1 or 3) and ``codec`` ("none", "png" or "jpeg:<q>")."""

    size: int = 0
    channels: int = 1
    codec: str = "none"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise PixelPathError(f"channels must be 1 or 3, got {self.channels}")
        if self.size < 0:
            raise PixelPathError(f"size must be >= 0, got {self.size}")
        _parse_codec(self.codec)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """uint8 NCHW -> uint8 (N, channels, S, S); see the module docstring for the steps."""
        return apply(images, self)


def _parse_codec(codec: str) -> tuple[str, int]:
    if codec in ("none", "png"):
        return codec, 0
    if codec.startswith("jpeg:"):
        try:
            q = int(codec.split(":", 1)[1])
        except ValueError:
            q = -1
        if 1 <= q <= 100:
            return "jpeg", q
    raise PixelPathError(f"codec must be 'none', 'png' or 'jpeg:<1-100>', got {codec!r}")


def _check(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise PixelPathError(f"the pixel path takes uint8 NCHW images with 1 or 3 channels, got {x.dtype} {x.shape}")
    return x


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 NCHW with 1 or 3 channels -> ``channels`` channels (luma ITU-R 601 for RGB -> gray)."""
    x = _check(images)
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return np.repeat(x, 3, axis=1)
    w = np.array([299, 587, 114], dtype=np.int64).reshape(1, 3, 1, 1)
    return (((x.astype(np.int64) * w).sum(1, keepdims=True) + 500) // 1000).astype(np.uint8)


def _pil(img: np.ndarray):
    from PIL import Image

    return Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))


def _from_pil(pil, channels: int) -> np.ndarray:
    a = np.asarray(pil)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Centre square crop + PIL bicubic resize of every image to ``size`` (no-op at that side already)."""
    from PIL import Image

    x = _check(images)
    n, c, h, w = x.shape
    if size == 0 or (h == w == size):
        return x
    out = np.empty((n, c, size, size), np.uint8)
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    for i in range(n):
        crop = x[i, :, top : top + s, left : left + s]
        out[i] = _from_pil(_pil(crop).resize((size, size), Image.BICUBIC), c)
    return out


def codec_roundtrip(images: np.ndarray, codec: str) -> np.ndarray:
    """Encode every image with ``codec`` and decode it again (``none``: unchanged)."""
    from PIL import Image

    kind, q = _parse_codec(codec)
    x = _check(images)
    if kind == "none":
        return x
    out = np.empty_like(x)
    for i in range(len(x)):
        buf = io.BytesIO()
        if kind == "png":
            _pil(x[i]).save(buf, format="PNG")
        else:
            _pil(x[i]).save(buf, format="JPEG", quality=q)
        buf.seek(0)
        with Image.open(buf) as im:
            out[i] = _from_pil(im.convert("L" if x.shape[1] == 1 else "RGB"), x.shape[1])
    return out


def apply(images: np.ndarray, path: PixelPath) -> np.ndarray:
    """The pixel path: channels, then resize, then codec; always uint8 NCHW."""
    x = to_channels(images, path.channels)
    x = resize(x, path.size)
    return np.ascontiguousarray(codec_roundtrip(x, path.codec))


def pixel_path(cfg: Config) -> PixelPath:
    """The profile's pixel path (``distclass.task``)."""
    t = cfg.params.distclass.task
    return PixelPath(size=t.image_size, channels=t.channels, codec=t.codec)


def load_pool(cfg: Config, name: str, path: PixelPath | None = None) -> np.ndarray:
    """Every image of a real split (``real_heldout``...) or a zoo sample set (``ddpm_l``,
    ``gan_candidates``...), through the pixel path (the profile's unless ``path`` is given)."""
    try:
        images = first_images(cfg, name, ALL)
    except ValueError as err:  # ZooEvalError / DataError name the missing stage
        raise PixelPathError(f"cannot load distribution {name!r}: {err}") from None
    return apply(images, path or pixel_path(cfg))
