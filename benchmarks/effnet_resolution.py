"""EfficientNet-Lite0 input resolution: speed vs agreement with 224 px, on this machine.

Prints, for each resolution, images/second of feature extraction on AnimalShape
silhouettes, the speed-up over 224 px, the Top-1 ImageNet agreement with 224 px on the
animals, and Top-1 agreement on the sample photos.

    python benchmarks/effnet_resolution.py [--n 512] [--resolutions 64,96,128,160,224]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from beyondfid.data import build_animals, build_photos
from beyondfid.extractors import get_extractor, top_k
from beyondfid.features import _forward


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--resolutions", default="64,96,128,160,224")
    args = ap.parse_args()
    animals = build_animals()[0].subsample(args.n, seed=0)
    photos = build_photos(256)[0]
    res_list = [int(r) for r in args.resolutions.split(",")]
    if 224 not in res_list:
        res_list.append(224)
    rows = {}
    for res in res_list:
        e = get_extractor("effnet_lite0", resolution=res)
        _forward(e, animals.images[:32])  # warm-up
        t0 = time.perf_counter()
        out = _forward(e, animals.images)
        dt = time.perf_counter() - t0
        rows[res] = dict(ips=len(animals) / dt, top1=top_k(out["logits"], 1)[:, 0],
                         photo_top1=top_k(_forward(e, photos.images)["logits"], 1)[:, 0])
    ref = rows[224]
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, cpus={os.cpu_count()}, "
          f"load={os.getloadavg()[0]:.2f}, n={len(animals)} AnimalShape images")
    print(f"{'res':>5} {'img/s':>8} {'speed-up vs 224':>16} {'animals top-1 = 224':>20} {'photos top-1 = 224':>19}")
    for res, r in rows.items():
        print(f"{res:>5} {r['ips']:>8.1f} {r['ips'] / ref['ips']:>15.1f}x {np.mean(r['top1'] == ref['top1']):>20.3f}"
              f" {np.mean(r['photo_top1'] == ref['photo_top1']):>19.3f}")


if __name__ == "__main__":
    main()
