"""The ``make repro`` plan: which stages will run, and how long each should take on this machine.

Before ``dvc repro`` starts, :func:`make_plan` lists every stage that will run -- the stages
``dvc status`` reports as changed (or never run) plus everything downstream of them in the
pipeline's DAG, in execution order -- with its expected wall time:

* ``zoo_train@<model>`` / ``zoo_encoder@<name>``: estimated now, on this machine, by timing a
  few real training steps and samples (:mod:`beyondfid.zoo.budget`, the logic of
  ``benchmarks/zoo_budget.py``);
* every other stage: its recorded time (``results/<profile>/stage_times.json``, written by
  ``--run``), scaled by the ratio of this machine's reference GEMM to the recording machine's
  (:mod:`beyondfid.machine`); "?" when it was never recorded.

The list is an upper bound: DVC skips a downstream stage whose inputs turn out bitwise
unchanged. ``python -m beyondfid.zoo.plan --run`` (what ``make repro`` calls) prints the plan,
runs ``dvc repro``, times every stage from DVC's "Running stage" lines and records the times
for the next plan. It lives in the zoo package because it uses the zoo's estimator; it reads
the rest of the pipeline only through DVC.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable

from ..config import ENCODERS, MODELS, ConfigError, load_config
from ..io import save_json
from ..machine import machine_summary, reference_gemm_seconds

TIMES_FILE = "stage_times.json"
_RUNNING = re.compile(r"^Running stage '([^']+)'")
_STAGE_END = re.compile(r"^(Running stage '|Updating lock file|Stage '[^']+' didn't change|Stage '[^']+' is cached)")


@dataclass(frozen=True)
class PlanRow:
    stage: str
    seconds: float  # NaN: unknown
    source: str


def pipeline_order(repo_root: str | Path) -> tuple[list[str], Any]:
    """Stage names (``name@item`` for ``foreach`` stages) in DVC's execution order, and the DAG
    (networkx; an edge ``a -> b`` means ``a`` depends on ``b``)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(repo_root)) as repo:
        graph = repo.index.graph
        names = {st: st.addressing for st in graph.nodes}
        position = {st.addressing: i for i, st in enumerate(repo.index.stages)}  # dvc.yaml order
        g = nx.relabel_nodes(graph, names)
    # dependencies first; among stages that could run in either order, dvc.yaml's order
    ordered = nx.lexicographical_topological_sort(g.reverse(copy=True), key=lambda n: position.get(n, len(position)))
    stages = [n for n in ordered if not n.endswith(".dvc")]
    return stages, g


def changed_stages(repo_root: str | Path) -> set[str]:
    """Stages ``dvc status`` reports (changed deps/params/outs, or never run)."""
    from dvc.repo import Repo

    with Repo(str(repo_root)) as repo:
        status = repo.status()
    return {k for k in status if not k.endswith(".dvc")}


def stages_to_run(order: list[str], graph: Any, changed: Iterable[str]) -> list[str]:
    """``changed`` plus every stage downstream of one of them, in execution order."""
    import networkx as nx

    run = set()
    for s in changed:
        if s in graph:
            run.add(s)
            run |= nx.ancestors(graph, s)  # a -> b means a depends on b: ancestors are downstream
    return [s for s in order if s in run]


def times_path(root: str | Path, profile: str) -> Path:
    return Path(root) / "results" / profile / TIMES_FILE


def load_times(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"stages": {}}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {"stages": {}}
    return data if isinstance(data.get("stages"), dict) else {"stages": {}}


def record_times(path: Path, seconds: dict[str, float], reference_s: float) -> dict[str, Any]:
    """Merge measured stage times into ``path`` (each with the reference GEMM time it was measured at)."""
    data = load_times(path)
    stamp = _dt.datetime.now().isoformat(timespec="seconds")
    for stage, secs in seconds.items():
        data["stages"][stage] = {"seconds": round(float(secs), 1), "reference_gemm_s": round(reference_s, 5),
                                 "date": stamp, "machine": machine_summary()}
    save_json(path, data)
    return data


def make_plan(stages: list[str], times: dict[str, Any], reference_s: float,
              estimates: dict[str, float] | None = None) -> list[PlanRow]:
    """One row per stage: the zoo estimate if there is one, else the recorded time scaled by
    ``reference_s / recorded reference``, else NaN."""
    rows = []
    for s in stages:
        if estimates and s in estimates:
            rows.append(PlanRow(s, float(estimates[s]), "estimated now (timed steps)"))
            continue
        rec = times["stages"].get(s)
        if rec and rec.get("seconds") is not None and rec.get("reference_gemm_s"):
            scale = reference_s / float(rec["reference_gemm_s"])
            rows.append(PlanRow(s, float(rec["seconds"]) * scale,
                                f"recorded {rec.get('date', '?')[:10]}, x{scale:.2f} for this machine"))
        else:
            rows.append(PlanRow(s, float("nan"), "never recorded"))
    return rows


def _fmt(seconds: float) -> str:
    if seconds != seconds:
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def format_plan(rows: list[PlanRow], profile: str, reference_s: float) -> str:
    if not rows:
        return f"make repro plan ({profile}): every stage is up to date; nothing will run."
    width = max(len(r.stage) for r in rows)
    lines = [f"make repro plan ({profile} profile; reference GEMM {reference_s * 1e3:.0f} ms on this machine): "
             f"{len(rows)} stage(s) will run (an upper bound: DVC skips stages whose inputs come out unchanged)"]
    lines += [f"  {r.stage:<{width}}  {_fmt(r.seconds):>7}  {r.source}" for r in rows]
    known = [r.seconds for r in rows if r.seconds == r.seconds]
    unknown = len(rows) - len(known)
    lines.append(f"  {'total':<{width}}  {_fmt(sum(known)):>7}" + (f"  (+ {unknown} stage(s) never timed)" if unknown else ""))
    return "\n".join(lines)


def zoo_estimates(cfg: Any, stages: list[str], steps: int) -> dict[str, float]:
    """Timed estimates for the zoo training stages among ``stages`` (``zoo_train@m``, ``zoo_encoder@e``)."""
    from .budget import estimate_stages

    names = [s.split("@", 1)[1] for s in stages
             if s.startswith(("zoo_train@", "zoo_encoder@")) and s.split("@", 1)[1] in MODELS + ENCODERS]
    if not names:
        return {}
    out = {}
    for e in estimate_stages(cfg, names, steps=steps, warmup=2, samples=40):
        prefix = "zoo_encoder@" if e.name in ENCODERS else "zoo_train@"
        out[prefix + e.name] = e.total_s
    return out


def run_repro(args: list[str], cwd: Path, out: IO[str] = sys.stdout) -> tuple[int, dict[str, float]]:
    """``dvc repro <args>`` with its stdout passed through line by line, timing each stage from DVC's
    "Running stage" line to the next stage boundary."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(["dvc", "repro", *args], cwd=cwd, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
    times: dict[str, float] = {}
    current: tuple[str, float] | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        out.write(line)
        out.flush()
        if _STAGE_END.match(line) and current is not None:
            times[current[0]] = time.perf_counter() - current[1]
            current = None
        m = _RUNNING.match(line)
        if m:
            current = (m.group(1), time.perf_counter())
    code = proc.wait()
    if current is not None and code == 0:
        times[current[0]] = time.perf_counter() - current[1]
    return code, times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m beyondfid.zoo.plan", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=".", help="the repository (where dvc.yaml is)")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--steps", type=int, default=4, help="timed steps per zoo stage for the estimate")
    p.add_argument("--no-estimate", action="store_true", help="skip the timed zoo estimates (recorded times only)")
    p.add_argument("--run", action="store_true", help="then run `dvc repro` and record every stage's time")
    p.add_argument("dvc_args", nargs="*", help="passed to `dvc repro` with --run (after --)")
    args = p.parse_args(argv)
    root = Path(args.root)
    try:
        cfg = load_config(None, root / args.params, root)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ref = reference_gemm_seconds()
    try:
        order, graph = pipeline_order(root)
        todo = stages_to_run(order, graph, changed_stages(root))
    except Exception as err:  # a broken DVC state must not block the run itself
        print(f"plan: could not read the pipeline's status ({type(err).__name__}: {err}); "
              "no plan (fix dvc.yaml, or run `dvc status` to see the problem)", file=sys.stderr)
        if not args.run:
            return 1
        todo = None
    path = times_path(root, cfg.profile)
    if todo is None:  # --run: let dvc itself report the broken pipeline
        code, _ = run_repro(args.dvc_args, root)
        return code
    est = {} if args.no_estimate else zoo_estimates(cfg, todo, args.steps)
    print(format_plan(make_plan(todo, load_times(path), ref, est), cfg.profile, ref), flush=True)
    if not args.run:
        return 0
    t0 = time.perf_counter()
    code, times = run_repro(args.dvc_args, root)
    if times:
        record_times(path, times, ref)
        print(f"plan: recorded {len(times)} stage time(s) in {path} ({_fmt(time.perf_counter() - t0)} in all)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
