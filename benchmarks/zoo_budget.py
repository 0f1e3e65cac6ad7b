"""Zoo budget benchmark: how long the mini zoo takes to train and sample here, old code vs new code.

For every zoo generator and encoder of a profile it projects the stage's wall time with
:mod:`beyondfid.zoo.budget` (``--steps`` timed optimisation steps after ``--warmup`` warm-up
steps, whose extra time counts as start-up, e.g. compilation; sampling timed at two sizes to
separate per-call from per-image cost; extrapolated to the configured steps and images).

With ``--old REF`` (default ``main``) it measures the old code in the same run: ``git archive
REF`` is unpacked into a temporary folder, this file's estimator (``src/beyondfid/zoo/budget.py``
of the working tree) is copied into it, and every stage is projected twice, old then new,
each in a fresh process with the same thread count, with the old tree's code *and* its
params.yaml (so setting changes such as fewer DDIM steps count, as they would in a real run).
The ratio old / new per model is the speed-up; models that exist in one tree only are shown
without a ratio. The stage's measured times (``log.json``) are printed beside the projection
when they exist, with the caveat that they were measured under whatever load the machine had.

Run (under the heavy lock):
    python benchmarks/zoo_budget.py [--profile mini] [--old main] [--root /work/main] [--steps 20] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

_DRIVER = """
import json, sys, torch
if {threads}: torch.set_num_threads({threads})
from beyondfid.config import load_config, MODELS, ENCODERS
from beyondfid.zoo.budget import estimate_stages
cfg = load_config({profile!r}, {params!r}, {root!r})
names = [n for n in {names!r} if n in MODELS + ENCODERS and (n in ENCODERS or n in cfg.params.zoo.models)]
est = estimate_stages(cfg, names, steps={steps}, warmup={warmup}, samples={samples})
print("RESULT" + json.dumps([dict(e.to_dict(), threads=torch.get_num_threads()) for e in est]))
"""


def _estimate(src: Path, params: Path, root: Path, names: list[str], args: argparse.Namespace) -> list[dict]:
    code = _DRIVER.format(threads=args.threads, profile=args.profile, params=str(params), root=str(root), names=names,
                          steps=args.steps, warmup=args.warmup, samples=args.samples)
    env = dict(os.environ, PYTHONPATH=str(src))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root)
    if p.returncode != 0:
        raise RuntimeError(f"estimating {names} with {src} failed:\n{p.stderr[-3000:]}")
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def _old_tree(ref: str, dst: Path) -> Path:
    """``git archive ref`` (src/, params.yaml) unpacked into ``dst``, with the working tree's estimator added."""
    archive = dst / "old.tar"
    subprocess.run(["git", "-C", str(HERE), "archive", "-o", str(archive), ref, "src", "params.yaml"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dst / "tree", filter="data")
    shutil.copy(HERE / "src" / "beyondfid" / "zoo" / "budget.py", dst / "tree" / "src" / "beyondfid" / "zoo" / "budget.py")
    return dst / "tree"


def _logged(root: Path, profile: str, name: str) -> str:
    for sub in ("models", "encoders"):
        path = root / "artifacts" / profile / "zoo" / sub / name / "log.json"
        if path.is_file():
            log = json.loads(path.read_text())
            return f"{log.get('train_seconds', 0) + log.get('sample_seconds', 0):.0f} s"
    return "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--old", default="main", help="git ref of the old code ('' = new code only)")
    ap.add_argument("--root", default=".", help="folder whose artifacts/<profile>/zoo/splits hold real_train")
    ap.add_argument("--logs", default=None, help="folder whose artifacts hold the stages' log.json (default --root)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per model")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up steps per model (their extra time = start-up)")
    ap.add_argument("--samples", type=int, default=200, help="timed samples per generator (two sizes: n/2 and n)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default, as the stages)")
    ap.add_argument("--models", default="", help="comma-separated subset (default: every model and encoder)")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE / "src"))
    from beyondfid.config import ENCODERS, MODELS

    root = Path(args.root).resolve()
    logs = Path(args.logs).resolve() if args.logs else root
    names = args.models.split(",") if args.models else list(MODELS + ENCODERS)
    print(f"profile {args.profile}: load average {os.getloadavg()[0]:.2f} (before), {args.steps} timed steps after "
          f"{args.warmup} warm-up, {args.samples} timed samples per model; old code: {args.old or '-'}")
    print("| model | old per step | new per step | old total | new total (start-up) | old / new | stage's log.json |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    tot = {"old": 0.0, "new": 0.0, "old_common": 0.0, "new_common": 0.0}
    with tempfile.TemporaryDirectory(prefix="zoo-budget-") as tmp:
        old_tree = _old_tree(args.old, Path(tmp)) if args.old else None
        threads = "?"
        for name in names:
            old = _estimate(old_tree / "src", old_tree / "params.yaml", root, [name], args) if old_tree else []
            new = _estimate(HERE / "src", HERE / "params.yaml", root, [name], args)
            if not new and not old:
                continue
            o, n = (old[0] if old else None), (new[0] if new else None)
            threads = (n or o)["threads"]
            if o:
                tot["old"] += o["total_s"]
            if n:
                tot["new"] += n["total_s"]
            if o and n:
                tot["old_common"] += o["total_s"]
                tot["new_common"] += n["total_s"]
            cell = lambda e, k, f: f.format(e[k]) if e else "-"  # noqa: E731
            ratio = f"{o['total_s'] / n['total_s']:.2f}x" if o and n else "-"
            startup = f" ({n['startup_s']:.0f} s)" if n and n["startup_s"] >= 1 else ""
            print(f"| {name} | {cell(o, 'per_step_s', '{:.4f}')} s | {cell(n, 'per_step_s', '{:.4f}')} s | "
                  f"{cell(o, 'total_s', '{:.0f}')} s | {cell(n, 'total_s', '{:.0f}')} s{startup} | {ratio} | "
                  f"{_logged(logs, args.profile, name)} |", flush=True)
    if tot["old"]:
        print(f"| **models in both** | | | **{tot['old_common']:.0f} s** | **{tot['new_common']:.0f} s** | "
              f"**{tot['old_common'] / tot['new_common']:.2f}x** | |")
    print(f"| **whole zoo** | | | {tot['old'] / 60:.1f} min | **{tot['new'] / 60:.1f} min** | | |")
    print(f"torch threads {threads}; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
