"""Does ``torch.compile`` pay for a zoo model's training? (issue 16, section 3)

For each model: the training step of ``beyondfid.zoo.registry.make_step_fn`` with the network as
built (eager), then with the network wrapped in ``torch.compile`` (inductor, CPU, gcc). Prints
the compile time (the first compiled steps minus an eager step), the steady per-step time of
both, the break-even step count and the projected saving over the model's configured steps.
Eager and compiled steps are interleaved in blocks (eager, compiled, eager, compiled, ...) so a
change of the machine's load hits both alike; the best block of each is reported.

Run (nothing else heavy running):
    python benchmarks/zoo_compile.py --models ddpm_s,memorizer --root /path/with/artifacts/mini/zoo/splits
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from beyondfid.config import load_config
from beyondfid.zoo import generators, registry as zoo
from beyondfid.zoo.budget import timing_data
from beyondfid.zoo.training import deterministic, resolve_precision


def _step_maker(g, data, compiled: bool):
    with deterministic(g.seed):
        modules = zoo.build_modules(g)
        if compiled:
            for role in ("model", "G", "D"):
                if role in modules:
                    modules[role] = torch.compile(modules[role])
        step_fn = zoo.make_step_fn(g, modules, zoo.build_optimizers(g, modules), generators.to_model_space(data.images),
                                   y=torch.as_tensor(data.labels) if g.class_cond else None)
    return step_fn


def _block(step_fn, gen, start: int, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        step_fn(start + i, gen)
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--models", default="ddpm_s,memorizer")
    ap.add_argument("--precision", default=None, help="override the models' precision (auto, fp32, bf16)")
    ap.add_argument("--block", type=int, default=10, help="steps per timed block")
    ap.add_argument("--blocks", type=int, default=3, help="timed blocks per variant")
    ap.add_argument("--root", default=".")
    args = ap.parse_args()
    cfg = load_config(args.profile, "params.yaml", args.root)
    data0 = timing_data(cfg)
    print(f"profile {args.profile}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load {os.getloadavg()[0]:.2f}; blocks of {args.block} steps, best of {args.blocks}")
    print("| model | precision | eager ms/step | compiled ms/step | ratio | compile s | break-even steps "
          "| configured steps | saving |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.models.split(","):
        g = cfg.params.zoo.models[name]
        if args.precision:
            g = g.model_copy(update={"precision": args.precision})
        data = data0.subsample(g.train_subset, g.seed) if g.train_subset else data0
        eager = _step_maker(g, data, compiled=False)
        comp = _step_maker(g, data, compiled=True)
        ge, gc = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        for i in range(2):
            eager(i, ge)
        t_eager1 = _block(eager, ge, 2, 1)
        t0 = time.perf_counter()
        for i in range(2):  # the first calls compile (forward and backward graphs)
            comp(i, gc)
        first = time.perf_counter() - t0
        te, tc = [], []
        for b in range(args.blocks):
            te.append(_block(eager, ge, 3 + b * args.block, args.block))
            tc.append(_block(comp, gc, 2 + b * args.block, args.block))
        e, c = min(te), min(tc)
        compile_s = first - 2 * t_eager1
        steps = g.steps
        be = compile_s / (e - c) if e > c else float("inf")
        saving = steps * (e - c) - compile_s
        print(f"| {name} | {resolve_precision(g.precision)} | {1e3 * e:.1f} | {1e3 * c:.1f} | {e / c:.2f}x | "
              f"{compile_s:.0f} | {be:.0f} | {steps} | {saving:.0f} s |", flush=True)
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
