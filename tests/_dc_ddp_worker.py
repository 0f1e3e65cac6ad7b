"""Run one tiny training for the DDP-equivalence test (executed by `torchrun` or plainly).

Usage: python _dc_ddp_worker.py OUT_JSON CKPT  -- writes weights digest, predictions and losses.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import torch

from beyondfid.config import DCArchConfig, DCTrainConfig
from beyondfid.distclass.parallel import init_distributed
from beyondfid.distclass.train import train_and_evaluate
from beyondfid.zoo.training import load_checkpoint


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.random((2 * n, 1, 28, 28)) < 0.3).astype(np.uint8) * 255
    x[:, :, :4, :4] = 0
    x[n:, 0, 1, 1] = 255
    return x, np.repeat([0, 1], n).astype(np.int64)


def main() -> None:
    out, ckpt = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    dist = init_distributed("cpu")
    xt, yt = planted(48, 0)
    xv, yv = planted(16, 1)
    arch = DCArchConfig(kind=sys.argv[3] if len(sys.argv) > 3 else "resnet", widths="8,8,16,16", depths="1,1,1,1",
                        embed_dim=16, depth=1, heads=2)
    recipe = DCTrainConfig(epochs=2, batch_size=16, lr=2e-3, weight_decay=0.05, warmup_epochs=0.5, grad_shards=2,
                           randaug="rand-m9-mstd0.5-inc1", crop_pad=1, hflip=True, label_smoothing=0.1,
                           precise_bn_images=32, ckpt_every=3)
    res = train_and_evaluate(xt, yt, xv, yv, 2, arch, recipe, seed=0, ckpt_path=ckpt, progress=False, dist=dist)
    if dist.is_main:
        state = load_checkpoint(ckpt)["modules"]["model"]
        h = hashlib.sha256()
        for k in sorted(state):
            h.update(k.encode())
            h.update(state[k].numpy().tobytes())
        with open(out, "w") as fh:
            json.dump({"weights": h.hexdigest(), "world": dist.world, "accuracy": res.record.accuracy,
                       "confusion": res.confusion, "history": res.history}, fh)


if __name__ == "__main__":
    main()
