"""Fourier filters (paper 3, Sec. 2.2 Eq. 3-4, Appendix F) against a direct DFT and analytic identities."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.distclass.filters import (FilterError, band_mask, band_pass, high_pass, low_pass, lowpass_mask,
                                         scale_threshold, spectrum_share, to_display)


def _signed_freq(n: int) -> np.ndarray:
    """Signed frequency of each unshifted DFT index k (what fftshift puts at k + n//2)."""
    return (np.arange(n) + n // 2) % n - n // 2


def _direct_filter(img: np.ndarray, keep) -> np.ndarray:
    """Oracle: the DFT as an explicit double sum, the mask applied to signed frequencies, inverse DFT."""
    m, n = img.shape
    xs, ys = np.arange(m), np.arange(n)
    wm = np.exp(-2j * np.pi * np.outer(xs, xs) / m)  # wm[k, x] = exp(-2 pi i k x / M)
    wn = np.exp(-2j * np.pi * np.outer(ys, ys) / n)
    spec = wm @ img @ wn.T                            # F[k, l] = sum_x sum_y f[x, y] e^{-2 pi i (kx/M + ly/N)}
    fu, fv = _signed_freq(m)[:, None], _signed_freq(n)[None, :]
    spec = spec * keep(np.abs(fu), np.abs(fv))
    back = np.conj(wm) @ spec @ np.conj(wn).T / (m * n)
    assert np.abs(back.imag).max() < 1e-9 * max(1.0, np.abs(img).max())  # symmetric masks: real result
    return back.real


def _square(t):
    return lambda au, av: np.maximum(au, av) <= t


def _circle(t):
    return lambda au, av: au ** 2 + av ** 2 <= t ** 2


@pytest.mark.parametrize("size", [(6, 6), (7, 7), (8, 5)])
@pytest.mark.parametrize("shape", ["square", "circle"])
def test_filters_match_a_direct_dft(size, shape):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(2, 3) + size).astype(np.uint8)
    keep = _square if shape == "square" else _circle
    for t in range(0, max(size) // 2 + 1):
        lp, hp = low_pass(x, t, shape), high_pass(x, t, shape)
        for i in range(2):
            for c in range(3):
                img = x[i, c].astype(np.float64)
                np.testing.assert_allclose(lp[i, c], _direct_filter(img, keep(t)), atol=1e-9)
                np.testing.assert_allclose(hp[i, c], _direct_filter(img, lambda au, av: ~keep(t)(au, av)), atol=1e-9)
    lo, hi = 1, max(size) // 2
    bp = band_pass(x, lo, hi, shape)
    band = lambda au, av: keep(hi)(au, av) & ~keep(lo)(au, av)  # noqa: E731
    np.testing.assert_allclose(bp[1, 2], _direct_filter(x[1, 2].astype(np.float64), band), atol=1e-9)


def test_low_plus_high_is_the_identity():
    x = np.random.default_rng(2).normal(size=(4, 1, 28, 28)) * 40 + 100
    for t in (0, 1, 3, 5, 10, 14):
        for shape in ("square", "circle"):
            np.testing.assert_allclose(low_pass(x, t, shape) + high_pass(x, t, shape), x, atol=1e-9)


def test_band_pass_is_a_difference_of_low_passes_and_the_paper_bands_tile():
    x = np.random.default_rng(3).integers(0, 256, size=(3, 1, 28, 28)).astype(np.uint8)
    for shape in ("square", "circle"):
        for lo, hi in [(1, 3), (3, 5), (5, 10), (2, 14)]:
            np.testing.assert_allclose(band_pass(x, lo, hi, shape), low_pass(x, hi, shape) - low_pass(x, lo, shape),
                                       atol=1e-9)
        np.testing.assert_allclose(band_pass(x, 0, 4, shape), low_pass(x, 4, shape), atol=1e-9)  # 0-t keeps DC
        bands = [(0, 1), (1, 3), (3, 5), (5, 10)]          # the paper's 0-10, 10-30, 30-50, 50-100 at 28 px
        total = sum(band_pass(x, lo, hi, shape) for lo, hi in bands)
        np.testing.assert_allclose(total, low_pass(x, 10, shape), atol=1e-9)
        masks = sum(band_mask(28, 28, lo, hi, shape) for lo, hi in bands)
        assert set(np.unique(masks)) <= {0.0, 1.0}          # no overlap


def test_kept_energy_of_white_noise_is_the_masks_share():
    """Parseval: E||low_pass(x)||^2 / E||x||^2 = (kept bins) / (all bins) for a flat (white) spectrum."""
    x = np.random.default_rng(4).normal(size=(3000, 1, 28, 28))
    e = np.sum(x ** 2)
    for shape in ("square", "circle"):
        for t in (1, 3, 5, 10):
            share = spectrum_share(28, 28, t, shape)
            kept = np.sum(low_pass(x, t, shape) ** 2) / e
            assert kept == pytest.approx(share, rel=0.05, abs=2e-4), (shape, t, kept, share)
            hp = np.sum(high_pass(x, t, shape) ** 2) / e
            assert hp == pytest.approx(1 - share, rel=0.02)


def test_our_square_is_hermitian_and_freeu_square_is_not():
    """The FreeU slice [c - t, c + t) keeps frequency -t but not +t: the inverse FFT is complex."""
    x = np.random.default_rng(5).normal(size=(1, 1, 16, 16))
    spec = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
    c, t = 8, 3
    freeu = np.zeros((16, 16))
    freeu[c - t: c + t, c - t: c + t] = 1
    ours = lowpass_mask(16, 16, t)
    assert ours.sum() == (2 * t + 1) ** 2 and freeu.sum() == (2 * t) ** 2
    imag = lambda m: np.abs(np.fft.ifft2(np.fft.ifftshift(spec * m, axes=(-2, -1))).imag).max()  # noqa: E731
    assert imag(ours) < 1e-12
    assert imag(freeu) > 1e-2


def test_dtypes_shapes_and_scale():
    x8 = np.random.default_rng(6).integers(0, 256, size=(2, 1, 10, 10)).astype(np.uint8)
    out = low_pass(x8, 2)
    assert out.dtype == np.float64 and out.shape == x8.shape
    np.testing.assert_allclose(out, low_pass(x8.astype(np.float32), 2), atol=1e-4)
    np.testing.assert_allclose(low_pass(x8, 0), np.broadcast_to(x8.mean(axis=(2, 3), keepdims=True), x8.shape))
    np.testing.assert_allclose(low_pass(x8, 5), x8, atol=1e-9)   # half the size keeps every bin
    assert abs(high_pass(x8, 0).mean(axis=(2, 3))).max() < 1e-9


@pytest.mark.parametrize("call, match", [
    (lambda x: low_pass(x, 15), "outside 0..14"),
    (lambda x: high_pass(x, -1), "outside 0..14"),
    (lambda x: low_pass(x, 2.0), "integer"),
    (lambda x: band_pass(x, 5, 5), "low < high"),
    (lambda x: band_pass(x, 3, 40), "high=40 is outside"),
    (lambda x: low_pass(x[0], 2), "NCHW"),
    (lambda x: low_pass(x.astype(np.int32), 2), "uint8 or float"),
    (lambda x: low_pass(x, 2, "hexagon"), "mask shape"),
])
def test_bad_input_is_rejected_with_a_clear_error(call, match):
    x = np.zeros((1, 1, 28, 28), np.uint8)
    with pytest.raises(FilterError, match=match):
        call(x)


def test_threshold_mapping_from_256_to_28_px():
    assert [scale_threshold(t, 256, 28) for t in (10, 30, 50, 100)] == [1, 3, 5, 10]
    assert [scale_threshold(t, 28, 28) for t in range(15)] == list(range(15))
    assert scale_threshold(100, 256, 256) == 100


def test_to_display_stretches_each_image():
    x = np.stack([np.linspace(-3, 5, 16).reshape(1, 4, 4), np.full((1, 4, 4), 7.0)])
    d = to_display(x)
    assert d.dtype == np.uint8 and d[0].min() == 0 and d[0].max() == 255 and (d[1] == 128).all()
