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
    pr = sub.add_parser("runs", help="train every run of the dc_* notebooks that is not finished (dc_runs stage)")
    add_stage_arguments(pr, progress=True)
    pr.add_argument("--list", action="store_true", help="only list the runs and whether they are finished")
    args = p.parse_args(argv)
    try:
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
        from .experiments import all_runs, runs_root
        from .runs import load_result, run_all

        specs = all_runs(cfg)
        if args.list:
            for sp in specs:
                done = load_result(runs_root(cfg), sp) is not None
                print(sp.run_id, "done" if done else "todo", sp.tag, sp.arch_name,
                      " vs ".join(sp.task.class_names), sp.task.n_train)
            return 0
        results = run_all(cfg, specs, runs_root(cfg), progress=not args.no_progress)
        print(f"{len(results)} runs finished in {runs_root(cfg)}")
        return 0
    except (ConfigError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
