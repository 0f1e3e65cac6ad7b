"""EfficientNet-Lite0 forward: NCHW vs channels_last memory layout, on this machine.

The profile of paper 2's biggest mini stage (``fid_heatmaps``, 6.9 min) puts 331 s in one cell,
Fig. 10's 13,000 noised forwards at 128 px; the forward itself is the cost. This benchmark asks
whether a channels_last layout would buy time, and what it would do to the numbers: it times the
pipeline's own path (``features._forward``: micro-batches of 32, NCHW) against the same batches in
channels_last, and reports the largest feature difference and the FID difference between the two
(FID of two disjoint AnimalShape halves, each computed once per layout).

Nothing in the pipeline uses channels_last: the two layouts round differently (about 1e-5 in the
features), so switching would change every cached feature file and needs a full mini re-run to
check; this script only measures.

    python benchmarks/effnet_layout.py [--n 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

from beyondfid.data import build_animals
from beyondfid.extractors import get_extractor
from beyondfid.features import MICRO_BATCH, _forward
from beyondfid.metrics import frechet_distance
from beyondfid.stats import compute_stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fid_speed import timed  # noqa: E402


def _forward_channels_last(ext, images: np.ndarray) -> np.ndarray:
    """Pooled features of ``images`` with the network and its inputs in channels_last layout."""
    net = ext.net.to(memory_format=torch.channels_last)
    out = []
    with torch.no_grad():
        for s in range(0, len(images), MICRO_BATCH):
            x = ext.preprocess(images[s:s + MICRO_BATCH]).contiguous(memory_format=torch.channels_last)
            out.append(ext.head(net.extract_features(x))[0].float().numpy())
    ext.net.to(memory_format=torch.contiguous_format)
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    images = build_animals()[0].subsample(args.n, seed=0).images
    ext = get_extractor("effnet_lite0", resolution=128)
    _forward(ext, images[:MICRO_BATCH])  # warm-up, both layouts
    _forward_channels_last(ext, images[:MICRO_BATCH])
    load = os.getloadavg()[0]
    f_nchw, t_nchw = timed(lambda: _forward(ext, images)["features"], args.repeats)
    f_cl, t_cl = timed(lambda: _forward_channels_last(ext, images), args.repeats)
    half = len(images) // 2

    def fid(f: np.ndarray) -> float:
        # n <= d here, so the covariances are singular; the Frechet distance is still well defined
        return frechet_distance(*compute_stats(f[:half], warn_singular=False), *compute_stats(f[half:], warn_singular=False))

    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, cpus={os.cpu_count()}, "
          f"load={load:.2f} before / {os.getloadavg()[0]:.2f} after, n={len(images)} AnimalShape images, "
          f"128 px, micro-batch {MICRO_BATCH}, best of {args.repeats}")
    print(f"{'layout':>14} {'ms/img':>8} {'speed-up':>9}")
    print(f"{'NCHW (ours)':>14} {1e3 * t_nchw / len(images):>8.2f} {1.0:>8.2f}x")
    print(f"{'channels_last':>14} {1e3 * t_cl / len(images):>8.2f} {t_nchw / t_cl:>8.2f}x")
    print(f"max |feature difference| = {np.abs(f_nchw - f_cl).max():.3g} (feature scale: max |f| = {np.abs(f_nchw).max():.3g})")
    a, b = fid(f_nchw), fid(f_cl)
    print(f"FID(half A, half B): NCHW {a:.6f}, channels_last {b:.6f}, difference {abs(a - b):.2g}")
    saved = 13_000 * (t_nchw - t_cl) / len(images)
    print(f"projected saving on fid_heatmaps' Fig. 10 cell (13,000 forwards): {saved:.0f} s")


if __name__ == "__main__":
    main()
