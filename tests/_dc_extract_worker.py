"""Sharded feature extraction for the probes' equivalence test (run by `torchrun` or plainly)."""

from __future__ import annotations

import sys

import numpy as np
import torch

from beyondfid.distclass.parallel import extract_sharded, init_distributed
from beyondfid.extractors import get_extractor


def main() -> None:
    torch.set_num_threads(1)
    dist = init_distributed("cpu")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (101, 1, 28, 28), dtype=np.uint8)  # not a multiple of the micro-batch
    feats = extract_sharded(get_extractor("random_cnn", resolution=28), images, dist)
    if dist.is_main:
        np.save(sys.argv[1], feats)


if __name__ == "__main__":
    main()
