"""What FID looks at: Grad-CAM heatmaps of FID (Kynkäänniemi et al., ICLR 2023, Sec. 2.1, Eq. 2).

The paper precomputes the statistics of ``N − 1`` generated images, adds one more image ``f``
with the rank-one update (``stats.add_sample``, which uses the *old* generated mean), and
differentiates FID with respect to the last spatial feature maps ``A`` (``C × h × w``, before
global average pooling, so ``f_k = mean_ij A^k_ij``)::

    α_k = 1/(h w) Σ_ij (∂FID / ∂A^k_ij)²                                          (Eq. 2)
    H   = Σ_k α_k A^k          (no ReLU), min-max scaled, Lanczos-upsampled to the image

Because pooling is a mean, ``∂FID/∂A^k_ij = (∂FID/∂f_k) / (h w)`` for every position, so
``α_k = (∂FID/∂f_k)² / (h w)²`` and no backward pass through the network is needed: the
closed-form ``∂FID/∂f`` (:func:`beyondfid.metrics.frechet_grad_feature`) and one forward pass
for ``A`` suffice.

**Leave-one-out.** For the images of the evaluation set itself we take, for image ``i``, the
other ``N − 1`` images as the precomputed set (so the image is not one of the ``N − 1``, as in
the official code). Adding ``f_i`` back gives the statistics of the whole set, the same for
every ``i``, hence one eigendecomposition serves all ``N`` gradients::

    ∂FID/∂f_i = 2/N (μ − μr) + 2/(N − 1) (I − T(Σ)) (f_i − μ)

(``μ, Σ`` of all ``N``; ``I − T`` = :func:`beyondfid.metrics.frechet_grad`'s ``∂FD/∂Σ``). This
is exactly the gradient of the evaluation set's FID with respect to image ``i``'s features.

Also here: the Top-1 class's own Grad-CAM (Selvaraju et al.: ``α^c_k`` = spatial mean of
``∂y_c/∂A^k`` = ``W_ck/(h w)`` for a linear head, map = ReLU(Σ α^c_k A^k)), the overlay of the
official code (2·colormap(heatmap) + image, min-max scaled again), the subject-mask measures
(share of heatmap mass on the silhouette, Spearman rank correlation, IoU of the top quarter),
and the pixel halves and region noise of Fig. 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..features import MICRO_BATCH
from ..metrics import frechet_grad
from ..stats import compute_stats

__all__ = [
    "HeatmapError",
    "leave_one_out_gradients",
    "fid_gradcam",
    "class_gradcam",
    "affine_head",
    "spatial_maps",
    "HeatmapSet",
    "compute_heatmaps",
    "minmax",
    "upsample",
    "overlay",
    "subject_mask",
    "mass_share",
    "spearman",
    "top_fraction_iou",
    "oracle_map",
    "important_half",
    "add_region_noise",
    "to_image_size",
    "agreement_table",
    "gradcam_controls_table",
    "noise_fid_table",
    "map_size_table",
]


class HeatmapError(ValueError):
    """Bad inputs for the heatmap computations."""


# ---------------------------------------------------------------------------------------------
# gradients and Grad-CAM (Eq. 2)
# ---------------------------------------------------------------------------------------------
def leave_one_out_gradients(features: Any, mu_r: Any, sigma_r: Any, *, sqrt_sigma_r: Any = None) -> np.ndarray:
    """``∂FID/∂f_i`` for every image of an evaluation set (N, d), each added to the other N − 1.

    See the module docstring; one :func:`beyondfid.metrics.frechet_grad` (one eigendecomposition)
    for all rows. Float64, shape (N, d).
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 3:
        raise HeatmapError(f"features must be (N >= 3, d), got shape {f.shape}")
    n = len(f)
    mu, sigma = compute_stats(f, "generated features", warn_singular=False)
    g_mu, g_sigma = frechet_grad(mu, sigma, mu_r, sigma_r, sqrt_sigma_r=sqrt_sigma_r)
    # g_mu = 2 (μ − μr); the gradient of the mean term w.r.t. f_i is g_mu / N
    return g_mu[None, :] / n + 2.0 / (n - 1) * ((f - mu) @ g_sigma)


def fid_gradcam(maps: Any, grads: Any) -> np.ndarray:
    """Eq. 2: ``H_i = Σ_k α_ik A_i^k`` with ``α_ik = mean_ij (g_ik / (h w))²`` (no ReLU).

    ``maps`` (B, C, h, w) are the last spatial feature maps, ``grads`` (B, C) = ``∂FID/∂f`` for the
    pooled features ``f = mean_ij A``. Returns (B, h, w) float64.
    """
    a = np.asarray(maps, dtype=np.float64)
    g = np.asarray(grads, dtype=np.float64)
    if a.ndim != 4 or g.shape != a.shape[:2]:
        raise HeatmapError(f"maps must be (B, C, h, w) and grads (B, C); got {a.shape} and {g.shape}")
    hw = a.shape[2] * a.shape[3]
    alpha = (g / hw) ** 2  # mean over positions of a constant
    return np.einsum("bc,bchw->bhw", alpha, a)


def class_gradcam(maps: Any, class_weights: Any) -> np.ndarray:
    """Standard Grad-CAM of a class logit ``y_c = W_c · mean_ij A + b_c``: ReLU(Σ_k (W_ck / (h w)) A^k).

    ``class_weights`` (B, C): the head's weight row of each image's class. Returns (B, h, w).
    """
    a = np.asarray(maps, dtype=np.float64)
    w = np.asarray(class_weights, dtype=np.float64)
    if a.ndim != 4 or w.shape != a.shape[:2]:
        raise HeatmapError(f"maps must be (B, C, h, w) and class_weights (B, C); got {a.shape} and {w.shape}")
    hw = a.shape[2] * a.shape[3]
    return np.maximum(np.einsum("bc,bchw->bhw", w / hw, a), 0.0)


def affine_head(extractor: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` of an extractor's pooled-features -> logits map, read off its ``head``.

    ``head`` (as :class:`beyondfid.extractors.effnet.EfficientNetLite` and the FID Inception define
    it) pools maps and applies the final linear layer; on 1 × 1 maps pooling is the identity, so
    ``b = head(0)`` and ``W = head(I) − b``. Returns float64 ``W`` (K, C) and ``b`` (K,).
    """
    c = int(extractor.dim)
    dev = getattr(extractor, "device", torch.device("cpu"))
    with torch.no_grad():
        zero = torch.zeros(1, c, 1, 1, device=dev)
        eye = torch.eye(c, device=dev)[:, :, None, None]
        b = extractor.head(zero)[1].double().cpu().numpy()[0]
        w = extractor.head(eye)[1].double().cpu().numpy() - b[None, :]
    return w.T.copy(), b


def spatial_maps(extractor: Any, images: np.ndarray) -> np.ndarray:
    """Last spatial feature maps (B, C, h, w) float32 of uint8 NCHW images, in fixed micro-batches of
    :data:`beyondfid.features.MICRO_BATCH` (zero-padded), the same forward as the feature cache."""
    out = []
    with torch.no_grad():
        for s in range(0, len(images), MICRO_BATCH):
            batch = images[s:s + MICRO_BATCH]
            n = len(batch)
            if n < MICRO_BATCH:
                batch = np.concatenate([batch, np.zeros((MICRO_BATCH - n,) + batch.shape[1:], np.uint8)])
            maps = extractor.spatial_maps(extractor.preprocess(batch))
            out.append(maps[:n].float().cpu().numpy())
    if not out:
        raise HeatmapError("no images given")
    return np.concatenate(out)


@dataclass
class HeatmapSet:
    """Native-resolution heatmaps of a set of images (rows align with the images)."""

    fid: np.ndarray  # (N, h, w) Eq. 2, unscaled
    cls: np.ndarray  # (N, h, w) Grad-CAM of each image's Top-1 class
    pooled: np.ndarray  # (N, C) mean of the maps = the features the gradient was taken for
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # controls: other classes' Grad-CAMs, ...


def compute_heatmaps(extractor: Any, images: Any, grads: np.ndarray, class_weights: np.ndarray,
                     chunk: int = 256, progress: bool = False,
                     control_weights: dict[str, np.ndarray] | None = None) -> HeatmapSet:
    """Eq. 2 heatmaps and Top-1 Grad-CAMs of ``images`` (a uint8 array or a batch source with ``get``).

    ``grads`` (N, C) are ``∂FID/∂f`` per image (e.g. :func:`leave_one_out_gradients`),
    ``class_weights`` (N, C) the head's weight row of each image's Top-1 class. Controls go to
    ``extra``: the Grad-CAM for each ``control_weights[name]`` (N, C) (e.g. another class's rows)
    and ``"activation"``, the plain channel mean ``mean_k A^k``. The maps are computed chunk by
    chunk and dropped, so memory stays O(chunk · C · h · w).
    """
    n = len(images)
    if grads.shape[0] != n or class_weights.shape[0] != n:
        raise HeatmapError(f"{n} images but {grads.shape[0]} gradients and {class_weights.shape[0]} class rows")
    get = images.get if hasattr(images, "get") else (lambda lo, hi: images[lo:hi])
    fid, cls, pooled = [], [], []
    controls = control_weights or {}
    extra: dict[str, list[np.ndarray]] = {k: [] for k in [*controls, "activation"]}
    bar = None
    if progress:
        from ..progress import progress_bar

        bar = progress_bar(total=n, desc="heatmaps", unit="img")
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        a = spatial_maps(extractor, np.asarray(get(lo, hi)))
        fid.append(fid_gradcam(a, grads[lo:hi]))
        cls.append(class_gradcam(a, class_weights[lo:hi]))
        pooled.append(a.mean(axis=(2, 3)))
        for k, wk in controls.items():
            extra[k].append(class_gradcam(a, wk[lo:hi]))
        extra["activation"].append(a.mean(axis=1, dtype=np.float64))
        if bar is not None:
            bar.update(hi - lo)
    if bar is not None:
        bar.close()
    return HeatmapSet(np.concatenate(fid), np.concatenate(cls), np.concatenate(pooled),
                      {k: np.concatenate(v) for k, v in extra.items()})


# ---------------------------------------------------------------------------------------------
# scaling, upsampling, overlay
# ---------------------------------------------------------------------------------------------
def minmax(x: Any) -> np.ndarray:
    """Min-max scale each map of (B, h, w) (or one (h, w)) to [0, 1]; constant maps become 0."""
    a = np.asarray(x, dtype=np.float64)
    single = a.ndim == 2
    a = a[None] if single else a
    lo = a.min(axis=(1, 2), keepdims=True)
    span = a.max(axis=(1, 2), keepdims=True) - lo
    out = np.where(span > 0, (a - lo) / np.where(span > 0, span, 1.0), 0.0)
    return out[0] if single else out


def upsample(maps: Any, size: int | tuple[int, int]) -> np.ndarray:
    """Lanczos upsampling (Pillow, float32 "F" images: no uint8 rounding) of (B, h, w) maps to ``size``."""
    from PIL import Image

    a = np.asarray(maps, dtype=np.float32)
    single = a.ndim == 2
    a = a[None] if single else a
    hs, ws = (size, size) if isinstance(size, int) else size
    out = np.empty((len(a), hs, ws), np.float32)
    for i, m in enumerate(a):
        out[i] = np.asarray(Image.fromarray(m, mode="F").resize((ws, hs), Image.Resampling.LANCZOS))
    return out[0] if single else out


def overlay(image: np.ndarray, heat01: np.ndarray, weight: float = 2.0, cmap: str = "viridis") -> np.ndarray:
    """The official overlay: ``minmax(weight · colormap(heatmap) + minmax(image))`` -> uint8 (H, W, 3).

    ``image`` uint8 (C, H, W); ``heat01`` (H, W) in [0, 1] at the image size. Yellow = important
    (viridis, close to the paper's parula).
    """
    import matplotlib

    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.shape[1:] != heat01.shape:
        raise HeatmapError(f"image (C, H, W) {img.shape} and heatmap (H, W) {heat01.shape} must share H, W")
    rgb = img.transpose(1, 2, 0)
    rgb = np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb
    span = rgb.max() - rgb.min()
    rgb = (rgb - rgb.min()) / span if span > 0 else rgb * 0.0
    colored = matplotlib.colormaps[cmap](np.clip(heat01, 0, 1))[..., :3]
    mix = weight * colored + rgb
    mix = (mix - mix.min()) / max(mix.max() - mix.min(), 1e-12)
    return np.clip(np.round(mix * 255), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# subject masks and agreement (mini: AnimalShape silhouettes)
# ---------------------------------------------------------------------------------------------
def subject_mask(images: Any, threshold: int = 128) -> np.ndarray:
    """Silhouette masks (B, H, W) bool: gray value >= ``threshold`` (AnimalShape: white animals on black)."""
    a = np.asarray(images)
    if a.ndim != 4 or a.dtype != np.uint8:
        raise HeatmapError(f"images must be uint8 (B, C, H, W), got {a.dtype} {a.shape}")
    return a.max(axis=1) >= threshold


def _flat(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise HeatmapError(f"expected (B, H, W) maps, got shape {a.shape}")
    return a.reshape(len(a), -1)


def mass_share(heat01: Any, mask: Any) -> np.ndarray:
    """Share of each (non-negative, e.g. min-max scaled) heatmap's mass that lies on the mask, (B,)."""
    h, m = _flat(heat01), _flat(mask) > 0
    if h.shape != m.shape:
        raise HeatmapError(f"heatmaps {h.shape} and masks {m.shape} differ in shape")
    if (h < 0).any():
        raise HeatmapError("mass_share needs non-negative heatmaps (min-max scale them first)")
    total = h.sum(1)
    return np.where(total > 0, (h * m).sum(1) / np.where(total > 0, total, 1.0), np.nan)


def _ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank), float64."""
    from scipy.stats import rankdata

    return rankdata(a, axis=1, method="average").astype(np.float64)


def spearman(a: Any, b: Any) -> np.ndarray:
    """Spearman rank correlation per image between two sets of maps (B, H, W) (ties: average ranks).

    NaN where either map is constant.
    """
    x, y = _flat(a), _flat(b)
    if x.shape != y.shape:
        raise HeatmapError(f"maps {x.shape} and {y.shape} differ in shape")
    rx, ry = _ranks(x), _ranks(y)
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    den = np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    return np.where(den > 0, (rx * ry).sum(1) / np.where(den > 0, den, 1.0), np.nan)


def top_fraction_iou(a: Any, b: Any, fraction: float = 0.25, b_is_mask: bool = False) -> np.ndarray:
    """IoU of the top ``fraction`` of pixels of map ``a`` with the top ``fraction`` of ``b`` (or with
    the mask ``b`` itself when ``b_is_mask``), per image. Ties are broken by pixel order."""
    x, y = _flat(a), _flat(b)
    if x.shape != y.shape:
        raise HeatmapError(f"maps {x.shape} and {y.shape} differ in shape")
    k = max(1, int(round(fraction * x.shape[1])))

    def top(v: np.ndarray) -> np.ndarray:
        sel = np.zeros(v.shape, bool)
        idx = np.argsort(-v, axis=1, kind="stable")[:, :k]
        np.put_along_axis(sel, idx, True, 1)
        return sel

    ta = top(x)
    tb = y > 0 if b_is_mask else top(y)
    union = (ta | tb).sum(1)
    return np.where(union > 0, (ta & tb).sum(1) / np.where(union > 0, union, 1), np.nan)


def oracle_map(mask: Any, grid: int | tuple[int, int]) -> np.ndarray:
    """The mask area-averaged onto the heatmap grid (B, h, w): the best a map of that size can hold."""
    m = np.asarray(mask, dtype=np.float64)
    m = m[None] if m.ndim == 2 else m
    gh, gw = (grid, grid) if isinstance(grid, int) else grid
    t = torch.from_numpy(m)[:, None]
    return torch.nn.functional.adaptive_avg_pool2d(t, (gh, gw))[:, 0].numpy()


# ---------------------------------------------------------------------------------------------
# Fig. 10: noise in the important / unimportant half
# ---------------------------------------------------------------------------------------------
def important_half(heat: Any) -> np.ndarray:
    """(B, H, W) bool: the ``ceil(H·W / 2)`` pixels with the largest heatmap values of each image
    (ties broken by pixel order), so important and unimportant halves have equal areas."""
    x = _flat(heat)
    k = (x.shape[1] + 1) // 2
    sel = np.zeros(x.shape, bool)
    np.put_along_axis(sel, np.argsort(-x, axis=1, kind="stable")[:, :k], True, 1)
    a = np.asarray(heat)
    return sel.reshape(a.shape if a.ndim == 3 else (1,) + a.shape)


def add_region_noise(images: Any, region: Any, sigma: float, seed: int) -> np.ndarray:
    """Add N(0, σ²) noise (pixel values in [0, 1]) inside ``region`` (B, H, W) bool, clip, round to uint8.

    Every channel gets its own noise; the result goes through the same uint8 pixel path as any
    other image set.
    """
    a = np.asarray(images)
    if a.ndim != 4 or a.dtype != np.uint8:
        raise HeatmapError(f"images must be uint8 (B, C, H, W), got {a.dtype} {a.shape}")
    r = np.asarray(region, bool)
    if r.shape != (a.shape[0],) + a.shape[2:]:
        raise HeatmapError(f"region {r.shape} must be (B, H, W) = {(a.shape[0],) + a.shape[2:]}")
    if sigma < 0:
        raise HeatmapError(f"sigma must be >= 0, got {sigma}")
    rng = np.random.default_rng(seed)
    x = a.astype(np.float64) / 255.0
    noise = rng.normal(0.0, sigma, size=a.shape) * r[:, None]
    return np.clip(np.round((x + noise) * 255.0), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# tables for the notebook
# ---------------------------------------------------------------------------------------------
def to_image_size(heat: Any, size: int | tuple[int, int]) -> np.ndarray:
    """The official display pipeline minus the uint8 rounding: min-max scale the native maps, Lanczos-upsample
    to the image size, clip to [0, 1] (Lanczos overshoots)."""
    return np.clip(upsample(minmax(heat), size), 0.0, 1.0)


def agreement_table(fid01: np.ndarray, cls01: np.ndarray, mask: np.ndarray, oracle01: np.ndarray,
                    top_fraction: float = 0.25) -> "Any":
    """Per-map-type agreement with the subject mask and with the Top-1 Grad-CAM (image resolution).

    Rows: the FID heatmap, the Top-1 class Grad-CAM, the mask-oracle map (the mask averaged onto the
    heatmap grid and upsampled: the ceiling a map of that size can reach) and a constant map (chance).
    Columns: mean (and std over images) of the mass share on the subject, Spearman ρ with the mask,
    IoU of the top ``top_fraction`` with the mask, and, for the FID heatmap, ρ and IoU with the Grad-CAM.
    """
    import pandas as pd

    area = _flat(mask).mean(1)
    rows = []
    maps = {"FID heatmap (Eq. 2)": fid01, "Top-1 class Grad-CAM": cls01, "mask oracle (same grid)": oracle01}
    for name, m in maps.items():
        share = mass_share(m, mask)
        rho = spearman(m, mask)
        iou = top_fraction_iou(m, mask, top_fraction, b_is_mask=True)
        row = {"map": name, "mass on subject": np.nanmean(share), "mass on subject std": np.nanstd(share),
               "subject area": area.mean(), "enrichment (mass / area)": np.nanmean(share) / area.mean(),
               "Spearman with mask": np.nanmean(rho), "Spearman with mask std": np.nanstd(rho),
               f"IoU top {top_fraction:g} with mask": np.nanmean(iou)}
        if m is fid01:
            r2 = spearman(fid01, cls01)
            row["Spearman with Top-1 Grad-CAM"] = np.nanmean(r2)
            row["Spearman with Top-1 Grad-CAM std"] = np.nanstd(r2)
            row[f"IoU top {top_fraction:g} with Top-1 Grad-CAM"] = np.nanmean(top_fraction_iou(fid01, cls01, top_fraction))
        rows.append(row)
    rows.append({"map": "uniform map (chance)", "mass on subject": area.mean(), "subject area": area.mean(),
                 "enrichment (mass / area)": 1.0, f"IoU top {top_fraction:g} with mask":
                 float(np.mean(top_fraction * area / (top_fraction + area - top_fraction * area)))})
    return pd.DataFrame(rows)


def gradcam_controls_table(fid01: np.ndarray, maps01: dict[str, np.ndarray], mask: np.ndarray | None,
                           top_fraction: float = 0.25) -> "Any":
    """How closely the FID heatmap follows each comparison map (all at image resolution, in [0, 1]).

    ``maps01``: e.g. the Top-1 class Grad-CAM and its controls (another class's Grad-CAM, the plain
    activation map). Columns: Spearman mean/std over images, IoU of the top ``top_fraction``, and the
    comparison map's own Spearman with the subject ``mask`` (when given).
    """
    import pandas as pd

    rows = []
    for name, m in maps01.items():
        rho = spearman(fid01, m)
        row = {"compared with the FID heatmap": name, "Spearman mean": np.nanmean(rho), "Spearman std": np.nanstd(rho),
               f"IoU top {top_fraction:g}": np.nanmean(top_fraction_iou(fid01, m, top_fraction))}
        if mask is not None:
            row["its own Spearman with the mask"] = np.nanmean(spearman(m, mask))
        rows.append(row)
    return pd.DataFrame(rows)


def noise_fid_table(images: np.ndarray, regions: dict[str, np.ndarray], scales: Any, fid_of: Any,
                    seed: int = 0) -> "Any":
    """Fig. 10: FID (``fid_of(images) -> float``) of the images with noise of each std in ``scales`` added
    inside each region (and the clean images at std 0, shared by every region)."""
    import pandas as pd

    clean = float(fid_of(images))
    rows = [{"region": r, "noise std": 0.0, "FID": clean} for r in regions]
    for sigma in scales:
        for j, (name, reg) in enumerate(regions.items()):
            rows.append({"region": name, "noise std": float(sigma),
                         "FID": float(fid_of(add_region_noise(images, reg, float(sigma), seed=seed + j)))})
    return pd.DataFrame(rows)


def map_size_table(extractors: dict[int, Any], images: np.ndarray, mask: np.ndarray | None, size: int) -> "Any":
    """Cost of the forward to the last maps per input resolution (``{px: extractor}``), the map grid, and
    the ceiling a map of that grid can reach (the mask oracle's Spearman with the mask)."""
    import time

    import pandas as pd

    rows = []
    for res, e in extractors.items():
        e.spatial_maps(e.preprocess(images[:2]))  # warm-up
        t0 = time.perf_counter()
        maps = e.spatial_maps(e.preprocess(images))
        dt = time.perf_counter() - t0
        row = {"input px": res, "map grid": f"{maps.shape[2]} x {maps.shape[3]}", "ms per image": 1e3 * dt / len(images)}
        if mask is not None:
            row["oracle Spearman with mask"] = float(np.nanmean(spearman(to_image_size(oracle_map(mask, maps.shape[2:]),
                                                                                       size), mask)))
        rows.append(row)
    df = pd.DataFrame(rows)
    df["cost vs first"] = df["ms per image"] / df["ms per image"].iloc[0]
    return df
