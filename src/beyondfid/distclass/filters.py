"""Fourier filters of the distribution-classification paper (Sec. 2.2, Eq. 3-4; Appendix F).

Every filter follows the paper's recipe on each channel of each image ``f(x, y)`` (M x N):

1. ``F = FFT2(f)`` and ``F_c = fftshift(F)`` (DC moves to bin ``(M // 2, N // 2)``);
2. ``G = F_c * H`` with a 0/1 mask ``H(u, v)``;
3. ``g = Re(IFFT2(ifftshift(G)))``.

**The masks.** With centred frequency coordinates ``du = u - M // 2`` and ``dv = v - N // 2``:

* square (Eq. 3), ``H = 1`` iff ``max(|du|, |dv|) <= threshold`` -- the paper's rectangular
  filter, a square of side ``2 * threshold + 1`` bins centred on DC;
* circle (Appendix F's "ideal" filter), ``H = 1`` iff ``du^2 + dv^2 <= threshold^2``.

``low_pass`` keeps ``H``, ``high_pass`` keeps ``1 - H`` (Eq. 4), and ``band_pass(low, high)``
keeps ``H_high - H_low``, the frequencies with ``low < r <= high`` (``r`` the square or circular
radius); ``low = 0`` is the band *from* DC, ``band_pass(x, 0, t) == low_pass(x, t)``, so the
paper's bands 0-10, 10-30, 30-50, 50-100 tile the spectrum up to 100 with no gap or overlap.

**Hermitian symmetry (our choice, documented).** The paper says it follows FreeU's filter,
which sets the slice ``[c - t, c + t)`` of the shifted spectrum: ``2t`` bins, frequencies
``-t .. t-1``. That square is off-centre by one bin -- frequency ``-t`` is kept, its conjugate
partner ``+t`` is not -- so the kept spectrum is not Hermitian-symmetric, the inverse transform
is complex, and taking its real part silently keeps the ``|f| = t`` ring at half amplitude. We
use the symmetric mask of Eq. 3 as written (``|du| <= t``): for every kept frequency its
partner ``-f (mod M, N)`` is kept too (for even sizes the Nyquist bin ``-M/2`` is its own
partner), so ``IFFT2`` is real up to rounding and the real part loses nothing. Our square keeps
``2t + 1`` bins per axis where FreeU's keeps ``2t`` (one of them at half weight).

**Thresholds** are integers ``0 <= t <= max(M, N) // 2``; beyond half the image size every bin
is already inside the square (FreeU's slice would wrap around and mask the wrong bins), so a
larger threshold is rejected with an error rather than clamped.

All functions take NCHW ``uint8`` or floating arrays and return float64 arrays of the same
shape, on the input's value scale (uint8 0..255 stays 0..255; a high-pass has zero mean).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

MaskShape = Literal["square", "circle"]
MASK_SHAPES = ("square", "circle")


class FilterError(ValueError):
    """Bad input to a Fourier filter (array layout, dtype, threshold)."""


def _check_images(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4:
        raise FilterError(f"filters take NCHW image arrays, got shape {x.shape}; add batch/channel axes")
    if not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
        raise FilterError(f"filters take uint8 or float images, got dtype {x.dtype}")
    return x


def _check_threshold(t: object, h: int, w: int, name: str = "threshold") -> int:
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise FilterError(f"{name} must be an integer number of frequency bins, got {t!r}")
    limit = max(h, w) // 2
    if not 0 <= int(t) <= limit:
        raise FilterError(
            f"{name}={int(t)} is outside 0..{limit}: for {h}x{w} images a threshold above half the image size "
            f"would wrap around the spectrum; use at most {limit} (which already keeps every frequency)"
        )
    return int(t)


def _radius(h: int, w: int, shape: str) -> np.ndarray:
    """Distance of each shifted bin from DC: Chebyshev (square) or Euclidean squared (circle)."""
    du = np.abs(np.arange(h) - h // 2)[:, None]
    dv = np.abs(np.arange(w) - w // 2)[None, :]
    if shape == "square":
        return np.maximum(du, dv)
    if shape == "circle":
        return du * du + dv * dv
    raise FilterError(f"mask shape must be one of {', '.join(MASK_SHAPES)}, got {shape!r}")


def lowpass_mask(h: int, w: int, threshold: int, shape: MaskShape = "square") -> np.ndarray:
    """The centred (fftshift-ed) 0/1 mask ``H`` of Eq. 3 (square) or of the ideal circle, as float64 (h, w)."""
    t = _check_threshold(threshold, h, w)
    r = _radius(h, w, shape)
    return (r <= (t if shape == "square" else t * t)).astype(np.float64)


def band_mask(h: int, w: int, low: int, high: int, shape: MaskShape = "square") -> np.ndarray:
    """Centred 0/1 mask of ``low < r <= high`` (``low = 0``: ``r <= high``, DC included)."""
    lo = _check_threshold(low, h, w, "low")
    hi = _check_threshold(high, h, w, "high")
    if lo >= hi:
        raise FilterError(f"band_pass needs low < high, got low={lo}, high={hi}")
    m = lowpass_mask(h, w, hi, shape)
    return m - lowpass_mask(h, w, lo, shape) if lo > 0 else m


def apply_centred_mask(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``Re(IFFT2(ifftshift(fftshift(FFT2(x)) * mask)))`` per image and channel; float64 out."""
    x = _check_images(images).astype(np.float64, copy=False)
    if mask.shape != x.shape[-2:]:
        raise FilterError(f"mask shape {mask.shape} does not match the images' {x.shape[-2:]}")
    spec = np.fft.fftshift(np.fft.fft2(x, axes=(-2, -1)), axes=(-2, -1))
    spec = np.fft.ifftshift(spec * mask, axes=(-2, -1))
    return np.fft.ifft2(spec, axes=(-2, -1)).real


def low_pass(images: np.ndarray, threshold: int, shape: MaskShape = "square") -> np.ndarray:
    """Keep the frequencies with ``r <= threshold`` (Eq. 3); ``threshold = 0`` keeps only the mean."""
    x = _check_images(images)
    return apply_centred_mask(x, lowpass_mask(*x.shape[-2:], threshold, shape))


def high_pass(images: np.ndarray, threshold: int, shape: MaskShape = "square") -> np.ndarray:
    """Keep the frequencies with ``r > threshold`` (Eq. 4): ``x - low_pass(x, threshold)``."""
    x = _check_images(images)
    return apply_centred_mask(x, 1.0 - lowpass_mask(*x.shape[-2:], threshold, shape))


def band_pass(images: np.ndarray, low: int, high: int, shape: MaskShape = "square") -> np.ndarray:
    """Keep ``low < r <= high``: ``low_pass(x, high) - low_pass(x, low)``, or ``low_pass(x, high)`` if ``low = 0``."""
    x = _check_images(images)
    return apply_centred_mask(x, band_mask(*x.shape[-2:], low, high, shape))


def spectrum_share(h: int, w: int, threshold: int, shape: MaskShape = "square") -> float:
    """Fraction of the ``h * w`` frequency bins a low-pass with ``threshold`` keeps."""
    return float(lowpass_mask(h, w, threshold, shape).mean())


def scale_threshold(threshold: int, from_size: int, to_size: int) -> int:
    """The integer threshold at ``to_size`` whose square low-pass keeps the share of the spectrum
    nearest to the one ``threshold`` keeps at ``from_size`` (shares ``(2t + 1)^2 / N^2``).

    This is how the paper's 256-px thresholds are mapped to mini's image size; ties go to the
    smaller threshold.
    """
    target = spectrum_share(from_size, from_size, threshold)
    cands = range(to_size // 2 + 1)
    return min(cands, key=lambda t: (abs(spectrum_share(to_size, to_size, t) - target), t))


def to_display(images: np.ndarray) -> np.ndarray:
    """Filtered float images rescaled to uint8 for figures: each image min-max stretched to 0..255.

    For display only (Figs 5, 8): a high-pass image has zero mean and negative values, which a
    plain cast would clip. Constant images map to mid-gray.
    """
    x = np.asarray(images, dtype=np.float64)
    lo = x.min(axis=(1, 2, 3), keepdims=True)
    hi = x.max(axis=(1, 2, 3), keepdims=True)
    span = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    out = np.where(hi - lo > 1e-9, (x - lo) / span * 255.0, 127.5)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
