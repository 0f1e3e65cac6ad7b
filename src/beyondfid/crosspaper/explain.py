"""Q2 of issue 15: does FINC explain what the real-vs-generated classifier sees?

For each zoo model, paper 3's binary classifier (real vs that model; the ``dc_runs`` stage's
Table 2 run) is restored exactly as it was evaluated (:mod:`beyondfid.distclass.predict`; its
arg-max reproduces the stored confusion matrix) and scores the model's *validation* images, which
it never trained on: ``p_gen`` = its softmax probability of "generated". FINC (paper 1) of all
the model's samples against the real class's pool (``finc_model_bias``'s setting) gives the
novel modes; each validation image gets its mode scores ``φ(x)·v_m``.

* **FINC's set** ``F``: for each of the top ``modes`` modes, the ``per_mode`` validation images
  with the highest score of that mode (the paper's "top samples of a mode"), pooled.
* **The classifier's set** ``C``: the ``|F|`` validation images with the highest ``p_gen``.
* **Overlap against chance** (:func:`overlap_test`): if the classifier's confidence were unrelated
  to FINC's modes, ``C`` would be a uniformly random ``|C|``-subset of the ``n`` validation images
  given ``F``, so ``|F ∩ C| ~ Hypergeometric(n, |F|, |C|)``; the one-sided p-value is
  ``P(X ≥ observed)``, the enrichment ``observed / E[X]`` with ``E[X] = |F||C|/n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..config import Config

if TYPE_CHECKING:
    import pandas as pd


class CrossExplainError(ValueError):
    """Inputs of the explain question that do not fit together."""


@dataclass(frozen=True)
class Overlap:
    """``|A ∩ B|`` of two subsets of ``n`` items against the hypergeometric null."""

    n: int
    size_a: int
    size_b: int
    overlap: int
    expected: float
    p_value: float

    @property
    def enrichment(self) -> float:
        return self.overlap / self.expected if self.expected > 0 else float("nan")


def overlap_test(a: Sequence[int], b: Sequence[int], n: int) -> Overlap:
    """Overlap of index sets ``a`` and ``b`` (each within ``range(n)``, no repeats) and its one-sided p-value
    ``P(X >= |a ∩ b|)``, ``X ~ Hypergeometric(population n, |a| successes, |b| draws)``."""
    from scipy.stats import hypergeom

    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    for name, s in (("a", a), ("b", b)):
        if len(np.unique(s)) != len(s):
            raise CrossExplainError(f"set {name} has repeated indices")
        if len(s) and (s.min() < 0 or s.max() >= n):
            raise CrossExplainError(f"set {name} has indices outside range({n})")
    k = int(len(np.intersect1d(a, b)))
    p = float(hypergeom.sf(k - 1, n, len(a), len(b)))
    return Overlap(int(n), len(a), len(b), k, len(a) * len(b) / n, min(1.0, max(0.0, p)))


def top_rows(values: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` largest ``values`` (ties: the lower row first), in descending order of value."""
    v = np.asarray(values, np.float64)
    order = np.lexsort((np.arange(len(v)), -v))
    return order[: min(k, len(v))]


def mode_members(scores: np.ndarray, per_mode: int) -> np.ndarray:
    """FINC's set: the union over columns (modes) of the ``per_mode`` rows with the highest score; sorted."""
    s = np.asarray(scores, np.float64)
    if s.ndim != 2:
        raise CrossExplainError(f"scores must be (images, modes), got shape {s.shape}")
    if s.shape[1] == 0:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate([top_rows(s[:, m], per_mode) for m in range(s.shape[1])]))


@dataclass
class ExplainRun:
    """One model: the classifier's view of its validation images and FINC's modes of its samples."""

    model: str
    arch: str
    stored_accuracy: float
    reproduced: float          # share of validation images whose restored arg-max equals the stored run's
    val_rows: np.ndarray       # rows of the model's samples that are its validation images
    p_gen: np.ndarray          # the classifier's P(generated) of each of them
    mode_scores: np.ndarray    # (val images, modes) FINC scores
    finc: Any                  # FincResult of all samples vs the real pool
    members: np.ndarray        # FINC's set F (positions in val_rows)
    confident: np.ndarray      # the classifier's set C (positions in val_rows)
    overlap: Overlap


def table2_spec(cfg: Config, model: str, arch: str):
    """The ``dc_runs`` Table 2 run of ``model`` (real class vs the model) with architecture ``arch``."""
    from ..distclass.experiments import plan_binary

    b = cfg.params.distclass.binary
    for s in plan_binary(cfg):
        if s.tag == "table2" and s.arch_name == arch and s.task.class_names == (b.real, model):
            return s
    raise CrossExplainError(f"no Table 2 run of {model!r} with arch {arch!r} in the dc_binary plan")


def explain_model(cfg: Config, model: str, arch: str, *, modes: int, per_mode: int, finc_kwargs: dict,
                  cache: dict | None = None) -> ExplainRun:
    """Restore ``model``'s Table 2 classifier, score its validation images, run FINC of the model's samples
    against the real class's pool, and compare the two sets (module docstring)."""
    from ..distclass.experiments import runs_root
    from ..distclass.predict import predict_proba, restore_classifier
    from ..distclass.runs import RunError, load_result, pool_digests, run_dir
    from ..distclass.task import build_task
    from ..finc.model_bias import run_model_bias
    from ..zoo.eval import load_eval

    spec = table2_spec(cfg, model, arch)
    root = runs_root(cfg)
    stored = load_result(root, spec, pool_digests(cfg, spec.task))
    if stored is None:
        raise RunError(f"the Table 2 run {spec.run_id} ({arch}, {model}) is not in {root}, or was trained on other "
                       f"images than the current pools; run `dvc repro dc_runs`")
    cache = {} if cache is None else cache
    task = build_task(cfg, spec.task, cache=cache)
    clf = restore_classifier(task.x_train, task.n_classes, spec.arch, spec.recipe, seed=spec.seed,
                             ckpt_path=run_dir(root, spec) / "ckpt.pt")
    proba = predict_proba(clf, task.x_val)
    pred = proba.argmax(1)
    conf = np.zeros((task.n_classes, task.n_classes), np.int64)
    np.add.at(conf, (task.y_val, pred), 1)
    # the stored run's own count: the restored classifier is the evaluated one when the matrices agree
    same = float(1.0 - np.abs(conf - np.asarray(stored.confusion)).sum() / (2 * len(pred)))
    gen = task.y_val == 1
    val_rows = task.val_index[gen]
    real_name = spec.task.classes[0].source
    gen_feat = load_eval(cfg, model)["effnet"]
    real_feat = load_eval(cfg, real_name)["effnet"]
    if len(gen_feat) != len(cache[model]):  # the task's rows are rows of zoo_eval's arrays only if both hold all samples
        raise CrossExplainError(f"{model}: zoo_eval has {len(gen_feat)} rows, the model {len(cache[model])} samples; "
                                f"re-run `dvc repro zoo_eval`")
    run = run_model_bias(model, gen_feat, real_feat, finc_kwargs).result
    m = min(modes, run.k)
    scores = run.score(gen_feat[val_rows], modes=range(m)) if m else np.zeros((len(val_rows), 0))
    members = mode_members(scores, per_mode)
    confident = np.sort(top_rows(proba[gen, 1], len(members)))
    return ExplainRun(model, arch, stored.record.accuracy, same, val_rows, proba[gen, 1], scores, run, members,
                      confident, overlap_test(members, confident, len(val_rows)))


def overlap_table(runs: Sequence[ExplainRun]) -> "pd.DataFrame":
    """One row per model: the classifier's accuracy (stored, and the share reproduced by the restored network),
    FINC's modes used, the two sets' sizes, the overlap, its chance expectation, enrichment and p-value, and the
    classifier's mean P(generated) on FINC's set against all validation images."""
    import pandas as pd

    rows = []
    for r in runs:
        o = r.overlap
        inside = r.p_gen[r.members].mean() if len(r.members) else np.nan
        rows.append({"model": r.model, "arch": r.arch, "accuracy": r.stored_accuracy, "reproduced": r.reproduced,
                     "finc_modes": r.mode_scores.shape[1], "val_images": o.n, "finc_set": o.size_a,
                     "confident_set": o.size_b, "overlap": o.overlap, "chance": o.expected,
                     "enrichment": o.enrichment, "p_value": o.p_value, "p_gen_finc_set": inside,
                     "p_gen_all": float(r.p_gen.mean())})
    return pd.DataFrame(rows)


def combined_p(p_values: Sequence[float]) -> float:
    """Fisher's method over independent tests (one per model): ``-2 Σ log p ~ χ²(2k)`` (conservative for discrete p)."""
    from scipy.stats import combine_pvalues

    p = np.clip(np.asarray(p_values, np.float64), 1e-300, 1.0)
    return float(combine_pvalues(p, method="fisher")[1]) if len(p) else float("nan")
