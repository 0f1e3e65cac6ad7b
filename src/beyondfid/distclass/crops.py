"""Spatial crops of the distribution-classification paper (Sec. 7.1, Table 7, Fig. 7).

The paper classifies U-ViT-H/2 against ImageNet-256 after cropping both classes: centre crops
of 128, 64, 32 and 16 px, and random crops of 128 and 64 px (four random crops per training
image, results over four trials). :func:`map_crop_sizes` carries those sizes to another image
size by the same fraction of the side, and refuses sizes that fall below 2 px; :func:`center_crop`
and :func:`random_crops` are pure functions over NCHW arrays that both classes go through
identically (before the shared resize of the pixel path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_CROP = 2  # the issue: where a fraction falls below 2 px, say so and stop there


class CropError(ValueError):
    """Bad crop size or image array."""


@dataclass(frozen=True)
class CropMapping:
    """One of the paper's crop sizes carried to our image size."""

    paper_size: int
    paper_image: int
    fraction: float
    exact: float          # fraction * our image side, before rounding
    size: int | None      # the crop side we use; None = below MIN_CROP px, not run

    @property
    def runnable(self) -> bool:
        return self.size is not None


def map_crop_sizes(paper_sizes: tuple[int, ...], paper_image: int, image: int) -> list[CropMapping]:
    """Map crop sides from a ``paper_image``-px image to an ``image``-px one by the same fraction.

    ``exact = image * s / paper_image`` is rounded half up (3.5 -> 4: on a 28-px image an even crop
    is exactly centred); a crop whose exact side is below :data:`MIN_CROP` px is kept in the list
    with ``size=None`` so that tables can say it was not run and why.
    """
    out = []
    for s in paper_sizes:
        if not 0 < s <= paper_image:
            raise CropError(f"crop size {s} must lie in 1..{paper_image}")
        exact = image * s / paper_image
        size = None if exact < MIN_CROP else int(math.floor(exact + 0.5))
        out.append(CropMapping(s, paper_image, s / paper_image, exact, size))
    return out


def _check(images: np.ndarray, size: int) -> tuple[int, int]:
    x = np.asarray(images)
    if x.ndim != 4:
        raise CropError(f"crops take NCHW arrays, got shape {x.shape}")
    h, w = x.shape[-2:]
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_CROP <= size <= min(h, w):
        raise CropError(f"crop size must be an integer in {MIN_CROP}..{min(h, w)} for {h}x{w} images, got {size!r}")
    return h, w


def center_crop(images: np.ndarray, size: int) -> np.ndarray:
    """The central ``size x size`` window, rows/cols ``(H - size) // 2 ..`` (same dtype)."""
    h, w = _check(images, size)
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(np.asarray(images)[..., top: top + size, left: left + size])


def random_boxes(n: int, h: int, w: int, size: int, per_image: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (top, left) corners, each ``(n, per_image)``, uniform over all valid placements."""
    if per_image < 1:
        raise CropError(f"per_image must be >= 1, got {per_image}")
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, h - size + 1, size=(n, per_image))
    lefts = rng.integers(0, w - size + 1, size=(n, per_image))
    return tops, lefts


def random_crops(images: np.ndarray, size: int, per_image: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_image`` seeded random ``size x size`` windows of every image (corners from :func:`random_boxes`).

    Returns ``(crops, source)``: crops ``(N * per_image, C, size, size)`` ordered image by image,
    and ``source[k]``, the row of ``images`` crop ``k`` came from (labels follow it).
    """
    h, w = _check(images, size)
    x = np.asarray(images)
    tops, lefts = random_boxes(len(x), h, w, size, per_image, seed)
    source = np.repeat(np.arange(len(x)), per_image)
    rows = tops.reshape(-1)[:, None] + np.arange(size)[None, :]     # (K, size): source rows of crop k
    cols = lefts.reshape(-1)[:, None] + np.arange(size)[None, :]
    sel = np.take_along_axis(x[source], rows[:, None, :, None], axis=2)
    crops = np.take_along_axis(sel, cols[:, None, None, :], axis=3)
    return np.ascontiguousarray(crops), source
