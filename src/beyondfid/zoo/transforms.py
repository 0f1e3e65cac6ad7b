"""Sample-set transforms with known ground truth, and batched image augmentations.

* :func:`skew_by_class` -- resample a labelled sample set so that chosen classes are over- or
  under-represented by an exactly known amount (FINC's planted-mode experiments; paper 2's
  class-histogram manipulations);
* :func:`colorize` -- tint the foreground of a chosen fraction of grayscale images (FINC's
  "colored digits / colored animals" sanity experiment) while keeping their structure;
* :func:`random_affine` -- seeded random resized crop + rotation + translation + flip of a
  float image batch (used by the contrastive encoder and the domain classifier).

Everything is a pure function of its inputs and an explicit seed / ``torch.Generator``.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F


class TransformError(ValueError):
    """Bad input to a sample-set transform (shape, dtype, impossible counts, bad weights)."""


# --------------------------------------------------------------------------------------
# Class-skewed resampling
# --------------------------------------------------------------------------------------


def _check_labels(labels: np.ndarray | Sequence[int], n_classes: int | None) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise TransformError(f"labels must be a non-empty 1-D array of class ids, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TransformError(f"labels must be integers (class ids), got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise TransformError(f"labels must be >= 0, found {labels.min()}")
    k = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    if labels.max() >= k:
        raise TransformError(f"label {labels.max()} is out of range for n_classes={k}; raise n_classes")
    return labels, k


def class_target_counts(class_weights: np.ndarray | Sequence[float], n: int) -> np.ndarray:
    """Apportion ``n`` samples to classes in proportion to ``class_weights``, exactly.

    Largest-remainder (Hamilton) method: with quotas ``q_k = n w_k / sum(w)``, class ``k``
    gets ``floor(q_k)`` plus one more for the ``n - sum(floor(q))`` classes with the largest
    fractional parts (ties: lower class id first). Hence ``sum(counts) == n`` and
    ``|counts_k - q_k| < 1``; whenever the quotas are integers the counts equal them exactly.
    """
    w = np.asarray(class_weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise TransformError(f"class_weights must be a non-empty 1-D array, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise TransformError(f"class_weights must be finite and >= 0, got {w.tolist()}")
    if w.sum() <= 0:
        raise TransformError("class_weights sum to zero; give at least one class a positive weight")
    if n < 0:
        raise TransformError(f"n must be >= 0, got {n}")
    quota = n * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    rest = int(n - base.sum())
    frac = quota - base  # a quota that float error put at 2.999... has frac ~1 and is topped up first
    order = sorted(range(w.size), key=lambda k: (-round(float(frac[k]), 9), k))
    for k in order[:rest]:
        base[k] += 1
    return base


def class_weights_from_factors(labels: np.ndarray | Sequence[int], factors: Mapping[int, float],
                               n_classes: int | None = None) -> np.ndarray:
    """Target class proportions ``p'_k = p_k f_k / sum_j p_j f_j`` from the observed proportions ``p_k``.

    ``factors`` maps class id -> multiplier: ``f > 1`` over-represents the class, ``0 <= f < 1``
    under-represents it (``0`` removes it); classes not named keep ``f = 1``.
    """
    labels, k = _check_labels(labels, n_classes)
    for c, f in factors.items():
        if not 0 <= int(c) < k:
            raise TransformError(f"factor given for class {c}, but classes are 0..{k - 1}")
        if not math.isfinite(float(f)) or float(f) < 0:
            raise TransformError(f"factor for class {c} must be finite and >= 0, got {f}")
    p = np.bincount(labels, minlength=k).astype(np.float64) / labels.size
    f = np.ones(k)
    for c, v in factors.items():
        f[int(c)] = float(v)
    w = p * f
    if w.sum() <= 0:
        raise TransformError("the factors remove every class that occurs in labels; keep at least one")
    return w / w.sum()


def skew_by_class(
    labels: np.ndarray | Sequence[int],
    n: int,
    seed: int,
    *,
    class_weights: np.ndarray | Sequence[float] | None = None,
    factors: Mapping[int, float] | None = None,
    n_classes: int | None = None,
    replace: bool = False,
) -> np.ndarray:
    """Indices of a class-skewed resample of size ``n`` with exactly known class counts.

    Give either ``class_weights`` (target proportions per class, any positive scale) or
    ``factors`` (over/under-representation multipliers relative to the proportions observed
    in ``labels``, see :func:`class_weights_from_factors`). The per-class counts are
    ``class_target_counts(weights, n)`` -- deterministic, independent of ``seed``; the seed only
    chooses *which* members of each class are taken (uniformly, without replacement unless
    ``replace=True``). Returns sorted int64 indices into ``labels``.
    """
    labels, k = _check_labels(labels, n_classes)
    if (class_weights is None) == (factors is None):
        raise TransformError("give exactly one of class_weights (target proportions) or factors (multipliers)")
    if class_weights is not None:
        w = np.asarray(class_weights, dtype=np.float64)
        if w.shape != (k,):
            raise TransformError(f"class_weights has {w.size} entries but there are {k} classes")
    else:
        w = class_weights_from_factors(labels, factors or {}, k)
    counts = class_target_counts(w, n)
    rng = np.random.default_rng(seed)
    out = []
    for c in range(k):
        if counts[c] == 0:
            continue
        members = np.flatnonzero(labels == c)
        if members.size == 0:
            raise TransformError(f"class {c} must get {counts[c]} samples but does not occur in labels")
        if counts[c] > members.size and not replace:
            raise TransformError(
                f"class {c} must get {counts[c]} samples but only {members.size} exist; lower n, soften the "
                f"skew, or pass replace=True to sample with replacement"
            )
        out.append(rng.choice(members, size=int(counts[c]), replace=replace))
    return np.sort(np.concatenate(out)).astype(np.int64) if out else np.zeros(0, np.int64)


# --------------------------------------------------------------------------------------
# Colorization (FINC colored-digits / colored-animals)
# --------------------------------------------------------------------------------------

PALETTE_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan")
DEFAULT_PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255),
)


def _check_gray(gray: np.ndarray) -> np.ndarray:
    gray = np.asarray(gray)
    if gray.dtype != np.uint8 or gray.ndim != 4 or gray.shape[1] != 1:
        raise TransformError(f"expected uint8 grayscale images (N, 1, H, W), got {gray.dtype} with shape {gray.shape}")
    return gray


def to_rgb(gray: np.ndarray) -> np.ndarray:
    """uint8 (N,1,H,W) -> uint8 (N,3,H,W) with three identical channels."""
    return np.repeat(_check_gray(gray), 3, axis=1)


def tint(gray: np.ndarray, color: Sequence[int]) -> np.ndarray:
    """Multiplicative tint: ``rgb_c = round(g * color_c / 255)`` for uint8 ``g`` (N,1,H,W).

    The black background stays black and every foreground pixel keeps its relative
    intensity; a colour with a channel equal to 255 reproduces ``g`` exactly in that channel,
    so ``max_c rgb_c == g`` (the HSV value equals the gray image).
    """
    gray = _check_gray(gray)
    col = np.asarray(color, dtype=np.int64).reshape(1, 3, 1, 1)
    return ((gray.astype(np.int64) * col + 127) // 255).astype(np.uint8)


def colorize(
    gray: np.ndarray,
    fraction: float,
    seed: int,
    palette: Sequence[Sequence[int]] = DEFAULT_PALETTE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tint the foreground of ``round(fraction * N)`` images; the rest stay gray.

    Returns ``(rgb, is_colored, color_ids)``: ``rgb`` uint8 (N,3,H,W); ``is_colored`` bool (N,);
    ``color_ids`` int64 (N,) with the palette index of each colored image and ``-1`` for gray
    ones. Which images are colored is a seeded uniform choice; the colours are balanced (each
    palette entry is used ``floor(k/P)`` or ``ceil(k/P)`` times for ``k`` colored images) and
    shuffled. Gray images have three identical channels. Every palette colour must have a
    channel equal to 255 (fully bright), so that for *all* images ``rgb.max(axis=1) == gray``:
    colouring changes hue only, never the silhouette or its intensity profile (see :func:`tint`).
    """
    gray = _check_gray(gray)
    if not (isinstance(fraction, (int, float)) and 0.0 <= float(fraction) <= 1.0):
        raise TransformError(f"fraction must be a number in [0, 1], got {fraction!r}")
    pal = np.asarray(palette, dtype=np.int64)
    if pal.ndim != 2 or pal.shape[1] != 3 or len(pal) == 0:
        raise TransformError(f"palette must be a non-empty list of (r, g, b) triples, got shape {pal.shape}")
    if pal.min() < 0 or pal.max() > 255 or np.any(pal.max(axis=1) != 255):
        raise TransformError(
            "every palette colour must be 0..255 per channel with at least one channel equal to 255 "
            f"(so the tint keeps the image's brightness), got {pal.tolist()}"
        )
    n = len(gray)
    k = int(math.floor(float(fraction) * n + 0.5))
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(n)[:k]
    colors = rng.permutation(np.arange(k) % len(pal))
    color_ids = np.full(n, -1, dtype=np.int64)
    color_ids[chosen] = colors
    rgb = to_rgb(gray)
    for c in range(len(pal)):
        idx = np.flatnonzero(color_ids == c)
        if idx.size:
            rgb[idx] = tint(gray[idx], pal[c])
    return rgb, color_ids >= 0, color_ids


# --------------------------------------------------------------------------------------
# Batched random affine augmentation
# --------------------------------------------------------------------------------------


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)


def random_affine(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
    ratio: tuple[float, float] = (1.0, 1.0),
    max_rotation_deg: float = 0.0,
    max_translate: float = 0.0,
    hflip: bool = False,
) -> torch.Tensor:
    """Seeded per-sample random resized crop + rotation + translation + horizontal flip.

    ``x`` is float (N,C,H,W) whose background value is 0 (pixels outside the source are
    filled with 0). Each sample draws: a crop of area fraction ``s ~ U(scale)`` and aspect
    ``r ~ logU(ratio)`` (side scales ``sqrt(s r)``, ``sqrt(s / r)``, clipped to 1) placed
    uniformly inside the image and resized back to H x W; a rotation ``~ U(+-max_rotation_deg)``;
    a shift ``~ U(+-max_translate)`` of the image side; a left-right flip with probability 1/2
    if ``hflip``. All are composed into one affine map and applied by bilinear resampling.
    """
    if x.ndim != 4 or not x.is_floating_point():
        raise TransformError(f"random_affine needs a float (N,C,H,W) tensor, got {x.dtype} {tuple(x.shape)}")
    if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
        raise TransformError(f"need 0 < scale_min <= scale_max <= 1 and 0 < ratio_min <= ratio_max, got {scale}, {ratio}")
    n = x.shape[0]
    s = _uniform(n, scale[0], scale[1], gen)
    logr = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), gen)
    sx = torch.sqrt(s * torch.exp(logr)).clamp(max=1.0)
    sy = torch.sqrt(s / torch.exp(logr)).clamp(max=1.0)
    # crop centre (normalised coords) so that the crop lies inside the image
    cx = _uniform(n, -1.0, 1.0, gen) * (1 - sx)
    cy = _uniform(n, -1.0, 1.0, gen) * (1 - sy)
    theta = _uniform(n, -1.0, 1.0, gen) * math.radians(max_rotation_deg)
    tx = _uniform(n, -1.0, 1.0, gen) * 2 * max_translate
    ty = _uniform(n, -1.0, 1.0, gen) * 2 * max_translate
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).double() if hflip else torch.ones(n, dtype=torch.float64)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # output coord u -> source coord: crop(rotate(flip(u))) - shift
    a = torch.zeros(n, 2, 3, dtype=torch.float64)
    a[:, 0, 0] = sx * cos * flip
    a[:, 0, 1] = -sx * sin
    a[:, 1, 0] = sy * sin * flip
    a[:, 1, 1] = sy * cos
    a[:, 0, 2] = cx - tx
    a[:, 1, 2] = cy - ty
    grid = F.affine_grid(a.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def diff_augment(x: torch.Tensor, gen: torch.Generator, *, translate: float = 0.125, cutout: float = 0.5,
                 background: float = -1.0, color: bool = False) -> torch.Tensor:
    """DiffAugment "translation + cutout" (Zhao et al. 2020), optionally "color" first, differentiable in ``x``.

    ``color`` (Projected GAN's policy "color,translation,cutout"): per sample, brightness
    ``x + (u - 0.5)`` and contrast ``(x - mean) (u' + 0.5) + mean`` with ``u, u' ~ U(0, 1)`` and
    the sample's mean over all its pixels (saturation, the third colour op, is the identity on
    gray images and is left out); on ``[-1, 1]`` images the brightness shift is doubled to keep
    its size relative to the range.

    Each sample of ``x`` (float, N,C,H,W) is shifted by an integer number of pixels drawn
    uniformly from ``[-translate*H, translate*H]`` (and likewise for W), with uncovered pixels
    set to ``background``; then a square of side ``cutout*H`` (x ``cutout*W``) at a uniform
    random centre is set to ``background``. Applied to both real and generated images before a
    GAN discriminator, as Projected GANs do, so that the discriminator cannot win on details
    no augmentation-invariant generator could match. The output is a gather/mask of ``x``, so
    gradients flow to the generator.
    """
    if x.ndim != 4 or not x.is_floating_point():
        raise TransformError(f"diff_augment needs a float (N,C,H,W) tensor, got {x.dtype} {tuple(x.shape)}")
    if not (0.0 <= translate < 0.5 and 0.0 <= cutout < 1.0):
        raise TransformError(f"need 0 <= translate < 0.5 and 0 <= cutout < 1, got {translate}, {cutout}")
    n, _, h, w = x.shape
    out = x
    if color:
        out = out + 2 * (torch.rand(n, 1, 1, 1, generator=gen, dtype=x.dtype) - 0.5)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * (torch.rand(n, 1, 1, 1, generator=gen, dtype=x.dtype) + 0.5) + mean
    if translate > 0:
        ph, pw = int(round(h * translate)), int(round(w * translate))
        dy = torch.randint(-ph, ph + 1, (n, 1, 1), generator=gen)
        dx = torch.randint(-pw, pw + 1, (n, 1, 1), generator=gen)
        ys = torch.arange(h).view(1, h, 1) - dy  # source row of each output row
        xs = torch.arange(w).view(1, 1, w) - dx
        inside = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1)
        flat = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
        shifted = torch.gather(out.reshape(n, x.shape[1], h * w), 2, flat).view_as(x)
        out = torch.where(inside, shifted, torch.full_like(shifted, background))
    if cutout > 0:
        ch, cw = int(round(h * cutout)), int(round(w * cutout))
        cy = torch.randint(0, h, (n, 1, 1), generator=gen)
        cx = torch.randint(0, w, (n, 1, 1), generator=gen)
        yy, xx = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
        hole = ((yy - cy).abs() <= ch // 2) & ((xx - cx).abs() <= cw // 2)
        out = torch.where(hole.unsqueeze(1), torch.full_like(out, background), out)
    return out
