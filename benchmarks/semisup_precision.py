"""How much do bf16 autocast and channels-last speed up paper 3's AnimalCNN training steps?

Times one training step of the AnimalCNN as `dc_augment`'s mini runs take it, in float32, bf16
autocast and bf16 + channels-last, on random images, 1 torch thread (`distclass.augment.threads`),
alternating the modes so that a drift of the machine's speed hits all of them:
- default, Table 8's FixMatch-style step (`distclass.semisup.train_semisup`): B labelled + mu*B weak
  + mu*B strong views of 28 px images, one forward, backward, AdamW;
- ``--supervised``, Fig. 6's step (`zoo.classifier.train_classifier`): B randomly shifted and
  flipped images (``--batch 128``, `distclass.augment.classifier.batch_size`).
The network part (forward, backward, optimiser) is timed; the augmentations are not.

    python benchmarks/semisup_precision.py [--steps 25] [--rounds 2]
    python benchmarks/semisup_precision.py --supervised --batch 128
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from beyondfid.config import ClassifierConfig
from beyondfid.distclass.semisup import strong_augment, weak_augment
from beyondfid.machine import machine_summary, native_bf16
from beyondfid.zoo.classifier import AnimalCNN
from beyondfid.zoo.transforms import random_affine

MODES = ("fp32", "bf16", "bf16+channels_last")


def _batch(pool: torch.Tensor, gen: torch.Generator, batch: int, uratio: int, supervised: bool) -> torch.Tensor:
    """One step's input in [-1, 1]: Fig. 6's shifted/flipped batch, or Table 8's labelled + weak + strong views."""
    il = torch.randint(0, len(pool), (batch,), generator=gen)
    if supervised:
        c = ClassifierConfig()  # the classifier's default augmentation (Fig. 6's runs keep it)
        return random_affine(pool[il], gen, max_translate=c.max_translate, hflip=c.hflip) * 2 - 1
    iu = torch.randint(0, len(pool), (batch * uratio,), generator=gen)
    return torch.cat([weak_augment(pool[il], gen), weak_augment(pool[iu], gen), strong_augment(pool[iu], gen)]) * 2 - 1


def time_steps(mode: str, steps: int, batch: int, uratio: int, width: int, supervised: bool = False) -> float:
    """Mean milliseconds of the network part (forward, backward, optimiser) of ``steps`` steps after 3 warm-up ones."""
    gen = torch.Generator().manual_seed(0)
    pool = torch.rand(2000, 1, 28, 28, generator=gen)
    torch.manual_seed(0)
    model = AnimalCNN(10, width)
    cl = mode.endswith("channels_last")
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    total = 0.0
    for s in range(steps + 3):
        x = _batch(pool, gen, batch, uratio, supervised)
        y = torch.randint(0, 10, (len(x),), generator=gen)
        t0 = time.perf_counter()
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16) if mode != "fp32" else nullcontext():
            logits = model(x).float()
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if s >= 3:
            total += time.perf_counter() - t0
    return 1e3 * total / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="labelled images per step (distclass.augment.semisup)")
    ap.add_argument("--uratio", type=int, default=4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--supervised", action="store_true", help="Fig. 6's supervised step instead of Table 8's")
    args = ap.parse_args()
    if args.uratio < 1 and not args.supervised:
        ap.error("--uratio must be >= 1 for the semi-supervised step (or pass --supervised)")
    torch.set_num_threads(1)
    m = machine_summary()
    print(f"machine: {m['cpu']}, {m['cores']} cores, native bf16: {native_bf16()}; load {os.getloadavg()[0]:.2f}; "
          f"1 torch thread; " + (f"Fig. 6 supervised step, B={args.batch}" if args.supervised
                                 else f"Table 8 semi-supervised step, B={args.batch}, mu={args.uratio}")
          + f", width {args.width}")
    times: dict[str, list[float]] = {k: [] for k in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            times[mode].append(time_steps(mode, args.steps, args.batch, args.uratio, args.width, args.supervised))
    base = min(times["fp32"])
    print("| mode | ms per step (each round) | best | fp32 / mode |")
    print("| --- | --- | --- | --- |")
    for mode in MODES:
        best = min(times[mode])
        print(f"| {mode} | {' / '.join(f'{t:.1f}' for t in times[mode])} | {best:.1f} | {base / best:.2f}x |")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
