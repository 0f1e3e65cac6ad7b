"""Zoo budget benchmark: how long the mini zoo takes to train and sample on this machine.

For every zoo generator and encoder of a profile (default: mini) it times ``--steps`` real
optimisation steps (after 3 warm-up steps) on ``real_train`` and the sampling of ``--samples``
images, then extrapolates linearly to the configured step count and to every image the stage
draws (samples + GAN candidate pool + GAN snapshots). DVC runs the zoo stages one after another
with torch's default thread count, so the projected total is the wall time of
``dvc repro zoo_train zoo_encoder`` on this machine. Training time is linear in the step count
(fixed batch size, no data-dependent work), which is what makes the extrapolation valid; the
stage's measured times (``log.json``) are printed beside the projection when they exist, with
the caveat that they were measured under whatever load the machine had then.

Run:  python benchmarks/zoo_budget.py [--profile mini] [--steps 20] [--samples 200] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from beyondfid.zoo import classifier as clf
from beyondfid.zoo import generators, registry as zoo, ssl
from beyondfid.config import ENCODERS, MODELS, load_config
from beyondfid.data import load_imageset


def _per_step(step_fn, n: int) -> float:
    gen = torch.Generator().manual_seed(0)
    for i in range(3):
        step_fn(i, gen)
    t0 = time.perf_counter()
    for i in range(n):
        step_fn(3 + i, gen)
    return (time.perf_counter() - t0) / n


def time_generator(gcfg, real_train, steps: int, samples: int) -> dict[str, float]:
    data = real_train.subsample(gcfg.train_subset, gcfg.seed) if gcfg.train_subset else real_train
    torch.manual_seed(gcfg.seed)
    modules = zoo.build_modules(gcfg)
    step_fn = zoo.make_step_fn(gcfg, modules, zoo.build_optimizers(gcfg, modules), generators.to_model_space(data.images))
    per_step = _per_step(step_fn, steps)
    t0 = time.perf_counter()
    zoo.sample(gcfg, modules, samples, seed=1)
    per_image = (time.perf_counter() - t0) / samples
    n_images = gcfg.n_samples * (1 + gcfg.candidate_factor) + gcfg.n_snapshots * gcfg.snapshot_samples
    return {"per_step_ms": 1e3 * per_step, "train_s": per_step * gcfg.steps, "sample_s": per_image * n_images}


def time_encoder(name: str, ecfg, real_train, steps: int) -> dict[str, float]:
    """Wall time of ``steps`` steps through the real training function (checkpointing included), minus warm-up."""
    fn = {"ssl_contrastive": ssl.train_ssl_contrastive, "ssl_masked": ssl.train_ssl_masked}.get(name)
    with tempfile.TemporaryDirectory() as tmp:
        def run(n: int) -> float:
            ckpt = Path(tmp) / f"{n}.pt"
            t0 = time.perf_counter()
            if fn is None:
                clf.train_classifier(real_train, ecfg, ckpt, progress=False, max_steps_this_call=n)
            else:
                fn(real_train, ecfg, ckpt, progress=False, max_steps_this_call=n)
            return time.perf_counter() - t0

        per_step = (run(3 + steps) - run(3)) / steps
    return {"per_step_ms": 1e3 * per_step, "train_s": per_step * ecfg.n_steps, "sample_s": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per model")
    ap.add_argument("--samples", type=int, default=200, help="timed samples per generator")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default, as the stages)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.profile)
    real_train = load_imageset(zoo.zoo_dirs(cfg)["splits"], "real_train")
    print(f"profile {args.profile}: torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} "
          f"(before), {args.steps} timed steps, {args.samples} timed samples per model")
    print("| model | per step | projected train | projected sampling | projected total | stage's log.json (train + sample) |")
    print("| --- | --- | --- | --- | --- | --- |")
    total = 0.0
    for name in MODELS + ENCODERS:
        if name in MODELS:
            r = time_generator(cfg.params.zoo.models[name], real_train, args.steps, args.samples)
            log_path = zoo.zoo_dirs(cfg)["models"] / name / "log.json"
        else:
            ecfg = getattr(cfg.params.zoo, name)
            if ecfg is None:
                continue
            r = time_encoder(name, ecfg, real_train, args.steps)
            log_path = zoo.zoo_dirs(cfg)["encoders"] / name / "log.json"
        proj = r["train_s"] + r["sample_s"]
        total += proj
        logged = "-"
        if log_path.is_file():
            log = json.loads(log_path.read_text())
            logged = f"{log.get('train_seconds', 0) + log.get('sample_seconds', 0):.0f} s"
        print(f"| {name} | {r['per_step_ms']:.1f} ms | {r['train_s']:.0f} s | {r['sample_s']:.0f} s | {proj:.0f} s | {logged} |",
              flush=True)
    print(f"| **total** | | | | **{total:.0f} s = {total / 60:.1f} min** | |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
