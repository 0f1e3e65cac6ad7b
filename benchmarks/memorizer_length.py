"""Does the mini memorizer start copying if it trains longer? (analysis, not a pipeline stage)

The pipeline's `memorizer` (profiles.<p>.zoo.models.memorizer) does not copy its 200 training
images pixel for pixel after its budgeted steps. This script continues that exact run from the
stage's checkpoint (resuming is bit-for-bit identical to an uninterrupted longer run, because
the step count is not part of the training fingerprint) to larger step counts, in a scratch
folder, and prints after each one the copy statistics of 1,000 fresh samples: the share that
passes the ratio test d1 < d2/3 (pixel L2 to the nearest / second nearest real_train image),
the median d1, and the share whose nearest image is one of the 200 training images.

Run:  python benchmarks/memorizer_length.py [--profile mini] [--steps 4000,6000,8000] [--out /tmp/memorizer_length]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np

from beyondfid.zoo import registry as zoo
from beyondfid.config import load_config
from beyondfid.data import load_imageset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--steps", default="4000,6000,8000", help="comma-separated step counts, increasing")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--out", default="/tmp/memorizer_length")
    args = ap.parse_args()
    cfg = load_config(args.profile)
    base = cfg.params.zoo.models["memorizer"]
    src = zoo.zoo_dirs(cfg)["models"] / "memorizer" / "ckpt.pt"
    if not src.is_file():
        raise SystemExit(f"{src} not found: run `dvc repro zoo_train@memorizer` first")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "ckpt.pt").exists():
        shutil.copy(src, out / "ckpt.pt")
    real_train = load_imageset(zoo.zoo_dirs(cfg)["splits"], "real_train")
    subset = real_train.subsample(base.train_subset, base.seed).index
    in_subset = np.isin(real_train.index, subset)  # rows of real_train the memorizer trained on
    print(f"profile {args.profile}: memorizer on {len(subset)} images, {base.steps} budgeted steps; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| steps | epochs | ratio-test copies | median d1 | nearest is a training image | train time (this call) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for steps in [base.steps] + [int(s) for s in args.steps.split(",")]:
        c = base.model_copy(update={"steps": steps, "n_samples": args.samples})
        t0 = time.perf_counter()
        zoo.train_model("memorizer", c, real_train, out, ckpt_every=cfg.params.zoo.ckpt_every, progress=False)
        dt = time.perf_counter() - t0
        s = zoo.load_samples(out)
        d, i = zoo.nearest_neighbor_l2(s, real_train.images, k=2)
        print(f"| {steps} | {steps * base.batch_size / len(subset):.0f} | {np.mean(d[:, 0] < d[:, 1] / 3):.1%} | "
              f"{np.median(d[:, 0]):.2f} | {np.mean(in_subset[i[:, 0]]):.1%} | {dt:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
