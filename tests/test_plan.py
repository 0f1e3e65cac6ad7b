"""The `make repro` plan (issue 16): which stages run, their expected times, recorded stage times."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from pathlib import Path

import math

import networkx as nx
import pytest

from beyondfid.zoo import plan


def _graph() -> tuple[list[str], nx.DiGraph]:
    g = nx.DiGraph()  # a -> b: a depends on b
    g.add_edges_from([("features", "prepare"), ("zoo_splits", "prepare"), ("zoo_train@gan", "zoo_splits"),
                      ("zoo_eval", "zoo_train@gan"), ("zoo_eval", "features"), ("zoo", "zoo_eval"),
                      ("overview", "features")])
    order = [n for n in reversed(list(nx.topological_sort(g)))]
    return order, g


def test_stages_downstream_of_a_change_run_in_execution_order():
    order, g = _graph()
    todo = plan.stages_to_run(order, g, {"zoo_train@gan"})
    assert todo == [s for s in order if s in {"zoo_train@gan", "zoo_eval", "zoo"}]
    assert todo.index("zoo_train@gan") < todo.index("zoo_eval") < todo.index("zoo")
    assert set(plan.stages_to_run(order, g, {"prepare"})) == set(order)  # a fresh clone: everything
    assert plan.stages_to_run(order, g, set()) == []


def test_plan_scales_recorded_times_by_the_machine_and_prefers_estimates(tmp_path):
    path = tmp_path / "stage_times.json"
    plan.record_times(path, {"features": 100.0, "zoo_eval": 40.0}, reference_s=0.1)
    times = plan.load_times(path)
    assert times["stages"]["features"]["seconds"] == 100.0 and times["stages"]["features"]["machine"]["cores"]
    rows = plan.make_plan(["features", "zoo_train@gan", "zoo_eval", "zoo"], times, reference_s=0.25,
                          estimates={"zoo_train@gan": 33.0})
    by = {r.stage: r for r in rows}
    assert by["features"].seconds == pytest.approx(250.0)  # a machine 2.5x slower on the reference
    assert by["zoo_train@gan"].seconds == 33.0 and "estimated" in by["zoo_train@gan"].source
    assert math.isnan(by["zoo"].seconds) and "never" in by["zoo"].source
    text = plan.format_plan(rows, "mini", 0.25)
    assert "4:10" in text and "0:33" in text and "1 stage(s) never timed" in text and "total" in text
    assert "nothing will run" in plan.format_plan([], "mini", 0.25)
    plan.record_times(path, {"zoo": 5.0}, reference_s=0.2)  # merged, not overwritten
    assert set(plan.load_times(path)["stages"]) == {"features", "zoo_eval", "zoo"}


def test_run_repro_times_each_stage_from_dvcs_output(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dvc"
    fake.parent.mkdir()
    fake.write_text(f"""#!{sys.executable}
import time, sys
print("Running stage 'a':"); print("> python -m a"); sys.stdout.flush(); time.sleep(0.3)
print("Updating lock file 'dvc.lock'")
print("Stage 'b' didn't change, skipping")
print("Running stage 'c':"); sys.stdout.flush(); time.sleep(0.1)
print("Updating lock file 'dvc.lock'")
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    buf = io.StringIO()
    code, times = plan.run_repro([], tmp_path, out=buf)
    assert code == 0 and set(times) == {"a", "c"}
    assert 0.29 < times["a"] < 2.0 and 0.09 < times["c"] < times["a"]
    assert "Running stage 'a'" in buf.getvalue()  # DVC's output is passed through
