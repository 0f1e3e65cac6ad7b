"""Seed-to-seed spread of every zoo model's FID (issue 16, section 4): not a pipeline stage, not in CI.

For each zoo model it trains the model with several seeds (``GeneratorConfig.seed``: the
initialisation, the batch order, the noise and the sampling latents all change), evaluates
each run's samples exactly as the ``zoo_eval`` stage does (``beyondfid.zoo.eval.evaluate_images``:
same extractor, encoders and pixel path) and compares them with ``real_heldout`` as the zoo
table does (``beyondfid.zoo.eval.compare``). It also draws two extra sample sets from the
seed-0 model with other sampling seeds, which isolates the part of the spread that comes from
sampling alone. The mean, standard deviation and values per metric go to
``benchmarks/results/zoo_seed_spread.json`` (merged per model, so runs can be split), which
the ``zoo`` notebook shows as the ± of the zoo table.

Seed 0 is the pipeline's own setting; it is retrained here too (in ``--out``), unless
``--reuse`` is given and the pipeline's model folder holds a finished run of the same config,
whose zoo_eval arrays are then used.

Run (under the heavy lock; about the zoo's training time per extra seed):
    python benchmarks/zoo_seeds.py [--profile mini] [--models ddpm_s,gan] [--seeds 0,1,2] [--out /tmp/zoo-seeds]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np

from beyondfid.config import MODELS, load_config
from beyondfid.data import load_imageset
from beyondfid.io import save_json
from beyondfid.machine import machine_summary
from beyondfid.zoo import registry as zoo
from beyondfid.zoo.eval import ZooEvalError, compare, eval_context, evaluate_images, load_eval, load_split
from beyondfid.zoo.report import SEED_SPREAD_FILE

METRICS = ("FID_effnet", "FD_ssl_contrastive", "FD_ssl_masked", "precision", "recall")


def _summary(rows: list[dict[str, float]]) -> dict[str, dict[str, object]]:
    out = {}
    for k in METRICS:
        v = np.array([r[k] for r in rows], dtype=np.float64)
        out[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                  "values": [float(x) for x in v]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sample-seeds", default="101,202", help="extra sampling seeds for the seed-0 model")
    ap.add_argument("--out", default="/tmp/zoo-seeds")
    ap.add_argument("--root", default=".")
    ap.add_argument("--reuse", action="store_true", help="use the pipeline's seed-0 model when its config matches")
    ap.add_argument("--results", default=None, help=f"JSON to merge into (default {SEED_SPREAD_FILE})")
    args = ap.parse_args()
    cfg = load_config(args.profile, Path(args.root) / "params.yaml", args.root)
    seeds = [int(s) for s in args.seeds.split(",")]
    real_train = load_imageset(zoo.zoo_dirs(cfg)["splits"], "real_train")
    ctx = eval_context(cfg)
    try:
        ref = load_eval(cfg, "real_heldout")
    except ZooEvalError:  # no zoo_eval output (e.g. a tree where only the encoders were built): evaluate it here
        held = load_split(cfg, "real_heldout")
        print("zoo_eval's real_heldout not found: evaluating real_heldout here, as an in-memory set")
        ref = evaluate_images(cfg, held.get(0, len(held)), "real_heldout", ctx)
    results_path = Path(args.results) if args.results else Path(args.root) / SEED_SPREAD_FILE
    data = json.loads(results_path.read_text()) if results_path.is_file() else {}
    entry = data.setdefault(cfg.profile, {"models": {}})
    print(f"profile {cfg.profile}: seeds {seeds}, load {os.getloadavg()[0]:.2f}")
    print("| model | seed | FID_effnet | FD_ssl_contrastive | FD_ssl_masked | precision | recall | train+sample s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.models.split(","):
        base = cfg.params.zoo.models[name]
        rows, dirs = [], []
        for seed in seeds:
            gcfg = base.model_copy(update={"seed": seed})
            pipe = zoo.zoo_dirs(cfg)["models"] / name
            t0 = time.perf_counter()
            log = json.loads((pipe / "log.json").read_text()) if (pipe / "log.json").is_file() else {}
            if args.reuse and seed == base.seed and log.get("config") == base.model_dump() and log.get("finished"):
                arrays = load_eval(cfg, name)
                dirs.append(pipe)
            else:
                out = Path(args.out) / cfg.profile / name / f"seed{seed}"
                dirs.append(out)
                zoo.train_model(name, gcfg, real_train, out, ckpt_every=cfg.params.zoo.ckpt_every,
                                sample_batch=cfg.params.zoo.sample_batch, progress=False)
                arrays = evaluate_images(cfg, zoo.load_samples(out), f"{name}_seed{seed}", ctx)
            row = compare(ref, arrays, seed=cfg.params.seed)
            rows.append(row)
            print(f"| {name} | {seed} | " + " | ".join(f"{row[k]:.4g}" for k in METRICS)
                  + f" | {time.perf_counter() - t0:.0f} |", flush=True)
        summary = _summary(rows)
        # sampling alone: the first seed's model, other sampling seeds
        first = dirs[0]
        if (first / "ckpt.pt").is_file():
            gcfg = base.model_copy(update={"seed": seeds[0]})
            modules = zoo.load_trained(gcfg, first / "ckpt.pt")
            srows = [rows[0]]
            for s in (int(x) for x in args.sample_seeds.split(",") if x):
                imgs = zoo.sample(gcfg, modules, gcfg.n_samples, s, cfg.params.zoo.sample_batch)
                srows.append(compare(ref, evaluate_images(cfg, imgs, f"{name}_sample{s}", ctx), seed=cfg.params.seed))
            for k in METRICS:
                summary[k]["sampling_std"] = float(np.std([r[k] for r in srows], ddof=1))
        entry["models"][name] = summary
        entry.update(seeds=seeds, date=dt.date.today().isoformat(),
                     machine=f"{machine_summary()['cpu']}, {machine_summary()['cores']} cores")
        save_json(results_path, data)
        print(f"  {name}: FID {summary['FID_effnet']['mean']:.1f} ± {summary['FID_effnet']['std']:.1f} over seeds; "
              f"sampling alone ± {summary['FID_effnet'].get('sampling_std', float('nan')):.1f}", flush=True)


if __name__ == "__main__":
    main()
