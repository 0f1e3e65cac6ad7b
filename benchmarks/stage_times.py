"""Re-time pipeline stages by running their `dvc.yaml` commands verbatim, one after another.

`make repro` records each stage's time, but only for the stages DVC decides to run, in whatever
state the machine is in at that moment. This script runs the named stages' commands directly,
without DVC's dependency checks, in the given repository (which must already hold their inputs,
e.g. the zoo's models and `zoo_eval`'s output), and prints one line per stage: its wall time,
the load average before and after, and the reference GEMM time (`beyondfid.machine`) measured
just before it, so a slow moment of the machine shows up next to the time it inflated.

Use it on a clone, not on the working copy: the stages overwrite their outputs
(`results/<profile>/...`), and DVC's lock file is not updated.

    python benchmarks/stage_times.py --stages fid_features,fid_heatmaps --root /tmp/clone [--jsonl out.jsonl]

A `name@item` stage (e.g. `zoo_train@projected_gan`) takes the `foreach` stage's command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from beyondfid.machine import machine_summary, reference_gemm_seconds


def stage_command(dvc_stages: dict, stage: str, profile: str) -> str:
    """The shell command of ``stage`` in ``dvc.yaml``'s ``stages`` with ``${profile}``/``${item}`` filled."""
    name, _, item = stage.partition("@")
    if name not in dvc_stages:
        raise SystemExit(f"error: no stage {name!r} in dvc.yaml (stages: {', '.join(dvc_stages)})")
    spec = dvc_stages[name]
    if "foreach" in spec:
        if not item or item not in spec["foreach"]:
            raise SystemExit(f"error: {name} is a foreach stage; name one of {spec['foreach']} as {name}@<item>")
        spec = spec["do"]
    return spec["cmd"].replace("${profile}", profile).replace("${item}", item)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stages", required=True, help="comma-separated stage names, run in this order")
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--root", default=".", help="the repository clone to run in (holds dvc.yaml)")
    ap.add_argument("--jsonl", default=None, help="also append one JSON line per stage here")
    args = ap.parse_args()
    root = Path(args.root)
    dvc_stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    stages = [s for s in args.stages.split(",") if s]
    commands = {s: stage_command(dvc_stages, s, args.profile) for s in stages}  # all checked before any runs
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    m = machine_summary()
    print(f"machine: {m['cpu']}, {m['cores']} cores; profile {args.profile}; root {root.resolve()}")
    print("| stage | seconds | load before | load after | reference GEMM s | start |")
    print("| --- | --- | --- | --- | --- | --- |")
    total = 0.0
    for s in stages:
        load0, ref = os.getloadavg()[0], reference_gemm_seconds()
        t0, start = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M:%S")
        rc = subprocess.call(commands[s], shell=True, cwd=root, env=env, stdout=sys.stderr)
        dt = time.perf_counter() - t0
        rec = {"stage": s, "rc": rc, "seconds": round(dt, 1), "load_before": round(load0, 2),
               "load_after": round(os.getloadavg()[0], 2), "reference_gemm_s": round(ref, 5), "start": start}
        print(f"| {s} | {dt:.1f} | {load0:.2f} | {rec['load_after']:.2f} | {ref:.4f} | {start} |", flush=True)
        if args.jsonl:
            with open(args.jsonl, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if rc:
            print(f"error: stage {s} exited with {rc}; later stages not run", file=sys.stderr)
            return rc
        total += dt
    print(f"total: {total:.1f} s = {total / 60:.1f} min over {len(stages)} stages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
