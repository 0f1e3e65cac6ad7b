"""Profile one zoo model's training step: where does the time go? (issue 16, section 3)

Runs ``--steps`` real training steps of a zoo model (the step function of
``beyondfid.zoo.registry.make_step_fn``, after warm-up) under ``torch.profiler`` and prints
(1) the operators with the most self CPU time, (2) the share of the step spent in
convolutions and matrix products (the FLOP-bound part) against everything else (elementwise
ops, normalisation, optimizer, Python), and (3) the achieved GFLOP/s of the convolutions and
matrix products (counted by the profiler) beside the reference GEMM of ``beyondfid.machine``
measured in the same run. A step whose products run near the reference GEMM's rate is
compute-bound: only fewer FLOPs or faster arithmetic (bf16) can speed it up.

Run (under the heavy lock):
    python benchmarks/zoo_profile.py [--model ddpm_l] [--precision auto|fp32|bf16] [--steps 5] [--root /work/main]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch.profiler import ProfilerActivity, profile

from beyondfid.config import load_config
from beyondfid.machine import reference_gemm_seconds
from beyondfid.zoo import generators, registry as zoo
from beyondfid.zoo.budget import timing_data
from beyondfid.zoo.training import deterministic, resolve_precision

PRODUCTS = ("conv", "mm", "addmm", "bmm", "matmul", "linear", "scaled_dot_product", "mkldnn")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--model", default="ddpm_l")
    ap.add_argument("--precision", default=None, help="override the model's precision (auto, fp32, bf16)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--root", default=".")
    ap.add_argument("--rows", type=int, default=15)
    args = ap.parse_args()
    cfg = load_config(args.profile, "params.yaml", args.root)
    g = cfg.params.zoo.models[args.model]
    if args.precision:
        g = g.model_copy(update={"precision": args.precision})
    data = timing_data(cfg)
    data = data.subsample(g.train_subset, g.seed) if g.train_subset else data
    with deterministic(g.seed):
        modules = zoo.build_modules(g)
        step_fn = zoo.make_step_fn(g, modules, zoo.build_optimizers(g, modules), generators.to_model_space(data.images),
                                   y=torch.as_tensor(data.labels) if g.class_cond else None)
        gen = torch.Generator().manual_seed(0)
        for i in range(3):
            step_fn(i, gen)
        t0 = time.perf_counter()
        for i in range(args.steps):
            step_fn(3 + i, gen)
        plain = (time.perf_counter() - t0) / args.steps
        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            for i in range(args.steps):
                step_fn(3 + args.steps + i, gen)
    ref = reference_gemm_seconds()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    prod = [e for e in events if any(k in e.key.lower() for k in PRODUCTS)]
    prod_t = sum(e.self_cpu_time_total for e in prod)
    flops = sum(e.flops for e in events if e.flops)
    print(f"{args.model} ({resolve_precision(g.precision)}), {torch.get_num_threads()} threads, load "
          f"{os.getloadavg()[0]:.2f}: {1e3 * plain:.1f} ms/step unprofiled")
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    print(f"convolutions + matrix products: {100 * prod_t / total:.0f}% of the profiled self time; "
          f"everything else {100 * (1 - prod_t / total):.0f}%")
    if flops and prod_t:
        print(f"counted FLOPs per step {flops / args.steps / 1e9:.2f} G -> {flops / (prod_t * 1e-6) / 1e9:.0f} GFLOP/s "
              f"inside the products (the profiler counts forward convolutions and matrix products only), "
              f"{flops / args.steps / plain / 1e9:.0f} GFLOP/s over the whole step; reference GEMM "
              f"(float32 2048^3): {2 * 2048 ** 3 / ref / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
