"""Command line of paper 3's runs.

``python -m beyondfid.distclass run-specs --specs pending.json --runs-root DIR --profile P`` executes
a list of run specs in this process -- under ``torchrun`` every run uses DDP over all processes.
``python -m beyondfid.distclass runs --profile P`` trains every run the ``dc_*`` notebooks need
(the ``dc_runs`` stage) with the profile's runner: a local pool, or ``torchrun`` (see the README
for the multi-GPU command); ``--list`` shows them and whether they are finished.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..config import ConfigError, add_stage_arguments, load_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m beyondfid.distclass", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("run-specs", help="execute the run specs of a JSON file (DDP under torchrun)")
    add_stage_arguments(ps, progress=True)
    ps.add_argument("--specs", required=True)
    ps.add_argument("--runs-root", required=True)
    ps.add_argument("--config-json", default=None, help="a Config serialised by run_all (instead of --params)")
    pr = sub.add_parser("runs", help="train every run of the dc_* notebooks that is not finished (dc_runs stage)")
    add_stage_arguments(pr, progress=True)
    pr.add_argument("--list", action="store_true", help="only list the runs and whether they are finished")
    args = p.parse_args(argv)
    try:
        if getattr(args, "config_json", None):
            from pathlib import Path

            from ..config import Config

            cfg = Config.model_validate_json(Path(args.config_json).read_text())
        else:
            cfg = load_config(args.profile, args.params, args.root)
        from .parallel import init_distributed
        from .runs import RunSpec, execute

        if args.cmd == "run-specs":
            dist = init_distributed(cfg.params.distclass.runner.device)
            threads = cfg.params.distclass.runner.threads
            if threads:
                import torch

                torch.set_num_threads(threads)
            with open(args.specs) as fh:
                specs = [RunSpec.from_dict(d) for d in json.load(fh)]
            for s in specs:
                execute(cfg, s, args.runs_root, progress=not args.no_progress, dist=dist)
            return 0
        import os
        import time

        from .experiments import all_runs, runs_root
        from .probes import extract_all
        from .runs import load_result, pool_digests, run_all

        specs = all_runs(cfg)
        if args.list:
            for sp in specs:
                done = load_result(runs_root(cfg), sp, pool_digests(cfg, sp.task)) is not None
                print(sp.run_id, "done" if done else "todo", sp.tag, sp.arch_name,
                      " vs ".join(sp.task.class_names), sp.task.n_train)
            return 0
        rc = cfg.params.distclass.runner
        t0 = time.perf_counter()
        if rc.launcher == "torchrun" and "WORLD_SIZE" not in os.environ:
            # re-launch this very command under torchrun: every run and the probe features use DDP
            import subprocess

            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={rc.nproc_per_node}", "-m", "beyondfid.distclass", *sys.argv[1:]]
            return subprocess.run(cmd).returncode
        if "WORLD_SIZE" in os.environ:
            dist = init_distributed(rc.device)
            if rc.threads:
                import torch

                torch.set_num_threads(rc.threads)
            for sp in sorted(specs, key=lambda sp: -sp.cost):
                execute(cfg, sp, runs_root(cfg), progress=not args.no_progress, dist=dist)
        else:
            dist = None
            run_all(cfg, specs, runs_root(cfg), progress=not args.no_progress)
        t1 = time.perf_counter()
        extract_all(cfg, dist, progress=not args.no_progress)
        if dist is None or dist.is_main:
            print(f"{len(specs)} runs in {runs_root(cfg)} ({t1 - t0:.1f} s); probe features "
                  f"({time.perf_counter() - t1:.1f} s)")
        return 0
    except (ConfigError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
