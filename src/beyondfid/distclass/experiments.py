"""Issue 13's experiments as lists of runs (one list per ``dc_*`` notebook).

Every plan is a pure function of the configuration, so the ``dc_runs`` stage (which trains every
run of every notebook, in one pool: runs shared between tables are trained once) and the
notebooks (which only read the results) agree on which runs exist. Model names come from
``params.yaml`` (``distclass.<section>``), so a model added to the zoo slots in by editing a list.

============== ==================================================================================
stage          runs (tag)
============== ==================================================================================
dc_binary      ``table1``: two disjoint real splits, and two disjoint halves of each
               ``same_models`` sample set, for every architecture (paper Table 1);
               ``table2``: the real class vs each generator, every architecture (Tables 2, 14);
               ``fig2``: the real class vs ``sweep_model`` at every ``sweep_sizes`` x ``seeds``
dc_multiway    ``table3``: real + three generators at each training size, every architecture;
               ``table5``: the ``similar_models`` added one by one: 2-way (first two), 3-way
               (+ the real class), 4-way (+ the third), as in the paper's Table 5. The real
               class is always label 0, so Table 3's largest run *is* Table 5's 4-way run when
               both name the same three models
dc_family      ``table6``: ``small`` vs ``large`` (same family) and the ``cross`` pair (the same
               runs as Table 5's 2-way when ``cross`` = the first two ``similar_models``)
dc_pretrained  ``table13``: EfficientNet-Lite0 from ImageNet weights vs from scratch, per generator
============== ==================================================================================
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from .runs import RunSpec
from .task import PoolRef, halves, task_spec

STAGES = ("dc_binary", "dc_multiway", "dc_family", "dc_pretrained")


def runs_root(cfg: Config) -> Path:
    """``artifacts/<profile>/distclass/runs`` -- the run cache of the ``dc_runs`` stage (persisted)."""
    return cfg.artifacts / "distclass" / "runs"


def _spec(cfg: Config, classes, n_train: int, arch: str, tag: str, seed: int = 0) -> RunSpec:
    d = cfg.params.distclass
    return RunSpec(task_spec(cfg, classes, n_train), arch, d.archs[arch], d.train, seed, tag)


def plan_binary(cfg: Config) -> list[RunSpec]:
    b = cfg.params.distclass.binary
    out = []
    same = [tuple(PoolRef(r) for r in b.same_real_names)] + [halves(m) for m in b.same_model_names]
    for classes in same:
        out += [_spec(cfg, classes, b.same_n_train, a, "table1") for a in b.arch_names]
    for m in b.model_names:
        out += [_spec(cfg, (b.real, m), b.n_train, a, "table2") for a in b.arch_names]
    for n in b.size_list:
        out += [_spec(cfg, (b.real, b.sweep_model), n, b.sweep_arch, "fig2", seed) for seed in b.seed_list]
    return out


def plan_multiway(cfg: Config) -> list[RunSpec]:
    m = cfg.params.distclass.multiway
    out = []
    for n in m.size_list:
        out += [_spec(cfg, (m.real,) + m.fourway_names, n, a, "table3") for a in m.arch_names]
    s = m.similar_names  # labels: the real class first, then the models (Table 3's 4-way = Table 5's if same set)
    for classes in ((s[0], s[1]), (m.real, s[0], s[1]), (m.real, s[0], s[1], s[2])):
        out += [_spec(cfg, classes, m.n_train, a, "table5") for a in m.arch_names]
    return out


def plan_family(cfg: Config) -> list[RunSpec]:
    f = cfg.params.distclass.family
    out = []
    for classes, tag in (((f.small, f.large), "table6"), (f.cross_names, "table6_cross")):
        out += [_spec(cfg, classes, f.n_train, a, tag) for a in f.arch_names]
    return out


def plan_pretrained(cfg: Config) -> list[RunSpec]:
    p = cfg.params.distclass.pretrained
    out = []
    for m in p.model_names:
        for pre in (True, False):
            arch = p.arch.model_copy(update={"pretrained": pre})
            out.append(RunSpec(task_spec(cfg, (p.real, m), p.n_train), "pretrained" if pre else "scratch", arch,
                               p.train, 0, "table13"))
    return out


def stage_plan(cfg: Config, stage: str) -> list[RunSpec]:
    return {"dc_binary": plan_binary, "dc_multiway": plan_multiway, "dc_family": plan_family,
            "dc_pretrained": plan_pretrained}[stage](cfg)


def all_runs(cfg: Config) -> list[RunSpec]:
    """Every run of every stage, each once (runs shared by two tables have one id)."""
    seen: dict[str, RunSpec] = {}
    for st in STAGES:
        for spec in stage_plan(cfg, st):
            seen.setdefault(spec.run_id, spec)
    return list(seen.values())


def stage_results(cfg: Config, stage: str) -> tuple[list[RunSpec], dict]:
    """The specs of ``stage`` and their finished results (error naming ``dc_runs`` if any is missing)."""
    from .runs import RunError, collect

    specs = stage_plan(cfg, stage)
    root = runs_root(cfg)
    out, missing = collect(root, specs, cfg)
    if missing:
        raise RunError(f"{len(missing)} run(s) of {stage} are not in {root}, or were trained on other images than "
                       f"the current pools; run `dvc repro dc_runs` "
                       f"(first missing: {missing[0].tag}, {missing[0].arch_name}, {missing[0].task.class_names})")
    return specs, out
