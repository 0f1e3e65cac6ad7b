"""Cost per optimisation step of the issue-14 trainers (replace/augment classifier, FixMatch family),
at one torch thread, on random 28-px images: prints ms/step, to size params.yaml's dc_augment.

    flock /tmp/beyondfid-heavy.lock python benchmarks/dc_augment_budget.py
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch

from beyondfid.config import ClassifierConfig
from beyondfid.data import ImageSet
from beyondfid.distclass.semisup import SemiSupSettings, train_semisup
from beyondfid.zoo.classifier import train_classifier


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    ds = ImageSet("x", rng.integers(0, 256, (4000, 1, 28, 28)).astype(np.uint8), rng.integers(0, 10, 4000))
    steps = 40
    print("| trainer | setting | ms/step (1 thread) |\n|---|---|---|")
    for width, bs in [(16, 128), (16, 64), (8, 128)]:
        cfg = ClassifierConfig(width=width, n_steps=steps, batch_size=bs, ckpt_every=10_000)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            train_classifier(ds, cfg, f"{d}/c.pt", progress=False)
            print(f"| supervised AnimalCNN | width {width}, batch {bs} | {1000 * (time.perf_counter() - t) / steps:.1f} |")
    lab = ds.take(np.arange(250))
    for algo, width, b, mu in [("freematch", 16, 32, 4), ("freematch", 16, 16, 7), ("flexmatch", 16, 32, 4),
                               ("freematch", 8, 32, 4)]:
        s = SemiSupSettings(algorithm=algo, n_steps=steps, batch_size=b, uratio=mu, lr=3e-3, weight_decay=1e-4,
                            tau=0.95, ema_p=0.99, w_u=1.0, w_f=0.01, ema_model=0.99, width=width, seed=0,
                            ckpt_every=10_000)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            train_semisup(lab, ds.images, s, f"{d}/s.pt", progress=False)
            print(f"| {algo} | width {width}, B {b}, mu {mu} ({b + 2 * b * mu} images) | "
                  f"{1000 * (time.perf_counter() - t) / steps:.1f} |")


if __name__ == "__main__":
    main()
