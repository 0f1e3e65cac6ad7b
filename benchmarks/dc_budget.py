"""Paper 3's CPU budget: cost per training step of each classifier, projected to every run of a profile.

Times ``--steps`` optimisation steps (after 2 warm-up steps) of each architecture in
``distclass.archs`` and of the Table 13 EfficientNet, with the profile's recipe (augmentation
included) on random 28-px uint8 images, in one process with ``--threads`` torch threads (the mini
runner uses 1 thread per worker). It then lists every run that ``dc_runs`` would train, projects
its time (steps x cost per step), and sums per table and in total; the wall time assumes the
runs are spread over ``distclass.runner.workers`` processes (longest first).

    flock /tmp/beyondfid-heavy.lock python benchmarks/dc_budget.py --profile mini

No accuracy is computed: this sizes the runs before any of them is trained.
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from beyondfid.config import load_config  # noqa: E402
from beyondfid.distclass.experiments import all_runs  # noqa: E402
from beyondfid.distclass.models import build_classifier, n_params  # noqa: E402
from beyondfid.distclass.recipe import Augmenter, criterion, make_optimizer  # noqa: E402
from beyondfid.distclass.train import n_steps  # noqa: E402


def step_cost(arch, recipe, n_classes: int, steps: int) -> float:
    """Seconds per optimisation step (global batch, all shards in this process)."""
    torch.manual_seed(0)
    model = build_classifier(arch, n_classes, 1, 28)
    opt = make_optimizer(model, recipe)
    aug = Augmenter(recipe, n_classes, 28)
    crit = criterion(recipe, aug.soft_targets)
    rng = np.random.default_rng(0)
    x = (rng.random((recipe.batch_size, 1, 28, 28)) < 0.3).astype(np.uint8) * 255
    y = rng.integers(0, n_classes, recipe.batch_size)
    shards = np.array_split(np.arange(recipe.batch_size), recipe.grad_shards)

    def one(s: int) -> None:
        model.train()
        for j, idx in enumerate(shards):
            xb, tb = aug(x[idx], y[idx], (0, s, j))
            (crit(model(xb), tb) / len(shards)).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for s in range(2):
        one(s)
    t0 = time.perf_counter()
    for s in range(steps):
        one(s + 2)
    return (time.perf_counter() - t0) / steps, n_params(model)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--params", default=str(Path(__file__).resolve().parents[1] / "params.yaml"))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.profile, args.params)
    d = cfg.params.distclass
    print(f"load average before: {os.getloadavg()[0]:.2f}; {args.threads} torch thread(s); profile {args.profile}")
    cost, params = {}, {}
    for name, arch in d.archs.items():
        cost[name], params[name] = step_cost(arch, d.train, 2, args.steps)
    for name in ("pretrained", "scratch"):
        arch = d.pretrained.arch.model_copy(update={"pretrained": name == "pretrained"})
        cost[name], params[name] = step_cost(arch, d.pretrained.train, 2, max(3, args.steps // 2))
    print("\n| architecture | parameters | seconds per step (batch %d) |\n| --- | --- | --- |" % d.train.batch_size)
    for k in cost:
        print(f"| {k} | {params[k] / 1e3:.0f}k | {cost[k]:.3f} |")
    runs = all_runs(cfg)
    per_tag: dict[str, float] = {}
    jobs = []
    for s in runs:
        t = n_steps(s.task.n_classes * s.task.n_train, s.recipe) * cost[s.arch_name]
        per_tag[s.tag] = per_tag.get(s.tag, 0.0) + t
        jobs.append(t)
    workers = d.runner.workers
    loads = [0.0] * workers
    for t in sorted(jobs, reverse=True):  # longest first onto the least-loaded worker
        heapq.heapreplace(loads, loads[0] + t)
    print(f"\n{len(runs)} runs; projected training seconds per table (one process each):")
    print("\n| table | runs | seconds |\n| --- | --- | --- |")
    counts: dict[str, int] = {}
    for s in runs:
        counts[s.tag] = counts.get(s.tag, 0) + 1
    for tag, t in per_tag.items():
        print(f"| {tag} | {counts[tag]} | {t:.0f} |")
    total = sum(jobs)
    print(f"| **total** | {len(runs)} | **{total:.0f}** |")
    print(f"\nwall time over {workers} worker(s): {max(loads):.0f} s = {max(loads) / 60:.1f} min "
          f"(+ start-up, evaluation, probe features and notebooks); load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
