"""Q1 of issue 15: does paper 2's FID attack fool the other two judges (paper 3's classifier, paper 1's FINC)?

**The attacked sample.** Paper 2's resampling attack (Sec. 3.2, Eq. 3, Algorithm 1;
:func:`beyondfid.fidclasses.resampling.optimize_weights`) gives weights ``p`` over the GAN's
candidate pool whose weighted statistics minimise FID against ``fidclasses.real``; the attacked
sample is a draw of ``eval_size`` candidates with replacement from ``p``, the unattacked one a
uniform draw without replacement (exactly what ``fid_resampling`` scores: same optimiser, same
settings, so the same weights). The weights are cached in ``artifacts/<p>/crosspaper/attack/``.

**The classifier (paper 3).** Real (``cross_attack.real``: ``real_heldout``, never seen by the GAN
or by the attack) against each sample, through paper 3's task protocol and recipe. So that no
candidate image is ever in both the training and the validation set (a draw with replacement
repeats images), the pool is cut into two random halves first: the generated training images
are drawn from half A, the validation images from half B, each with the sample's own rule
(weighted with replacement, or uniform without). The accuracy comes with its exact binomial
interval (:mod:`beyondfid.distclass.significance`); the two samples' counts are compared by
Fisher's exact test.

**FINC (paper 1).** FINC of each draw against the same real set FID uses, at one bandwidth (the
median heuristic of the first uniform draw against real) and one frequency draw for both
samples, so the spectra are comparable: the top eigenvalue ``λ1`` (the strongest novel mode),
the sum of the positive eigenvalues (novel mass) and the KEN-style novelty score.

**The rule for "barely moves"** (written before any run): a judge *barely moves* when its
relative change is less than a quarter of FID's, is *fooled* when it moves by at least half of
FID's in the same direction, and *partly* otherwise (:func:`judge_verdict`). For the classifier
the relative change is that of its margin over chance, ``(acc − ½)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..config import Config, DCArchConfig, DCTrainConfig
from ..distclass.significance import accuracy_record
from ..distclass.task import PoolRef, Task, TaskSpec, class_rows
from ..io import load_npz, save_json, save_npz, sha256_array

if TYPE_CHECKING:
    import pandas as pd

SAMPLES = ("uniform", "attacked")


class CrossAttackError(ValueError):
    """Inputs of the attack-transfer question that do not fit together."""


def out_dir(cfg: Config) -> Path:
    """``artifacts/<profile>/crosspaper/attack`` (the weights and the classifier runs; resumable)."""
    return cfg.artifacts / "crosspaper" / "attack"


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# the attack's weights (cached)
# --------------------------------------------------------------------------------------


def attack_probabilities(cfg: Config, real_features: np.ndarray, pool_features: np.ndarray,
                         progress: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """``fid_resampling``'s pre-logit weights over the pool (``softmax(w)``) and the run's summary, computed
    with that stage's optimiser settings and cached under :func:`out_dir` by the inputs' content."""
    from ..fidclasses.resampling import effective_sample_size, optimize_weights

    R = cfg.params.fid_resampling
    device = cfg.params.features.device if cfg.params.features.device != "auto" else "cpu"
    opt = dict(method=R.method, max_iter=R.max_iter, tol=R.tol, patience=R.patience, dtype=R.dtype)
    key = {"real": sha256_array(np.ascontiguousarray(real_features)),
           "pool": sha256_array(np.ascontiguousarray(pool_features)), **opt}
    path = out_dir(cfg) / f"weights-{_digest(key)}.npz"
    if path.is_file():
        z = load_npz(path)
        info = json.loads(str(z["info"]))
        return z["probabilities"], info
    run = optimize_weights(real_features, pool_features, device=device, progress=progress, **opt)
    info = {"method": R.method, "iterations": run.iterations, "evaluations": int(run.evaluations[-1]),
            "seconds": float(run.seconds[-1]), "weighted_fid_start": float(run.history[0]),
            "weighted_fid_end": float(run.fid), "effective_sample_size": effective_sample_size(run.probabilities),
            "pool": int(len(pool_features))}
    save_npz(path, probabilities=np.asarray(run.probabilities, np.float64), info=np.array(json.dumps(info)))
    return np.asarray(run.probabilities, np.float64), info


# --------------------------------------------------------------------------------------
# the two samples
# --------------------------------------------------------------------------------------


def draw(kind: str, probabilities: np.ndarray | None, rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` of ``rows`` (pool rows): ``uniform`` without replacement, ``attacked`` with replacement by
    ``probabilities`` restricted to ``rows`` (renormalised). Sorted."""
    rows = np.asarray(rows, np.int64)
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        if size > len(rows):
            raise CrossAttackError(f"a uniform draw of {size} needs as many candidates, have {len(rows)}")
        return np.sort(rng.choice(rows, size, replace=False))
    if kind != "attacked":
        raise CrossAttackError(f"kind must be one of {SAMPLES}, got {kind!r}")
    if probabilities is None:
        raise CrossAttackError("an attacked draw needs the resampling probabilities")
    p = np.asarray(probabilities, np.float64)[rows]
    if not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
        raise CrossAttackError("the resampling probabilities must be finite, non-negative, with mass on the rows")
    return np.sort(rng.choice(rows, size, replace=True, p=p / p.sum()))


@dataclass(frozen=True)
class SampleSplit:
    """A sample's generated training and validation images, as rows of the candidate pool."""

    kind: str
    train_rows: np.ndarray
    val_rows: np.ndarray

    @property
    def unique(self) -> tuple[int, int]:
        return len(np.unique(self.train_rows)), len(np.unique(self.val_rows))


def transfer_splits(probabilities: np.ndarray, n_train: int, n_val: int, seed: int) -> dict[str, SampleSplit]:
    """Both samples' (train, val) rows: the pool cut into two random halves (A: train, B: val), so no candidate
    is in both sets; in each half the sample's own draw (:func:`draw`)."""
    n = len(probabilities)
    perm = np.random.default_rng(np.random.SeedSequence([int(seed), 0xA77])).permutation(n)
    half_a, half_b = np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])
    return {k: SampleSplit(k, draw(k, probabilities, half_a, n_train, seed + 1),
                           draw(k, probabilities, half_b, n_val, seed + 2)) for k in SAMPLES}


def transfer_task(real_images: np.ndarray, real_name: str, pool_images: np.ndarray, split: SampleSplit,
                  n_train: int, n_val: int, split_seed: int) -> Task:
    """A binary task: class 0 = ``real_name`` (paper 3's rows of that pool: :func:`~beyondfid.distclass.task.class_rows`),
    class 1 = the sample's pool rows. Images are uint8 NCHW through one pixel path (the caller's)."""
    for name, x in ((real_name, real_images), ("pool", pool_images)):
        if x.dtype != np.uint8 or x.ndim != 4:
            raise CrossAttackError(f"{name}: expected uint8 NCHW images, got {x.dtype} {x.shape}")
    if real_images.shape[1:] != pool_images.shape[1:]:
        raise CrossAttackError(f"real images {real_images.shape[1:]} and pool images {pool_images.shape[1:]} differ: "
                               f"both must go through the same pixel path")
    if len(split.train_rows) != n_train or len(split.val_rows) != n_val:
        raise CrossAttackError(f"the {split.kind} split has {len(split.train_rows)}/{len(split.val_rows)} images, "
                               f"the task {n_train}/{n_val}")
    spec = TaskSpec((PoolRef(real_name), PoolRef(f"gan_{split.kind}")), n_train, n_val, split_seed)
    tr, va = class_rows(spec.classes[0], len(real_images), n_train, n_val, split_seed)
    x_train = np.concatenate([real_images[tr], pool_images[split.train_rows]])
    x_val = np.concatenate([real_images[va], pool_images[split.val_rows]])
    y = lambda a, b: np.concatenate([np.zeros(a, np.int64), np.ones(b, np.int64)])  # noqa: E731
    return Task(spec, x_train, y(len(tr), n_train), x_val, y(len(va), n_val), np.concatenate([tr, split.train_rows]),
                np.concatenate([va, split.val_rows]))


# --------------------------------------------------------------------------------------
# cached classifier runs
# --------------------------------------------------------------------------------------


def run_key(task: Task, arch: DCArchConfig, recipe: DCTrainConfig, seed: int, inputs: str) -> dict[str, Any]:
    """Everything a transfer run depends on: the task's rows and labels, the images' fingerprint, arch, recipe, seed."""
    return {"task": task.spec.to_dict(), "rows": sha256_array(np.concatenate([task.train_index, task.val_index])),
            "inputs": inputs, "arch": arch.model_dump(), "recipe": recipe.model_dump(), "seed": int(seed)}


def train_cached(root: str | Path, task: Task, arch: DCArchConfig, recipe: DCTrainConfig, seed: int, inputs: str,
                 progress: bool = False):
    """Train and evaluate one classifier on ``task`` (:func:`beyondfid.distclass.train.train_task`), or read its
    result: ``<root>/<key digest>/result.json``; an interrupted run resumes from its ``ckpt.pt``."""
    from ..distclass.train import RunResult, train_task

    key = run_key(task, arch, recipe, seed, inputs)
    d = Path(root) / _digest(key)
    res_path = d / "result.json"
    if res_path.is_file():
        stored = json.loads(res_path.read_text())
        if stored.get("key") == key:
            return RunResult.from_dict(stored["result"])
    d.mkdir(parents=True, exist_ok=True)
    res = train_task(task, arch, recipe, seed=seed, ckpt_path=d / "ckpt.pt", progress=progress,
                     desc=f"cross_attack:{'/'.join(task.class_names)}:{seed}"[:60], meta={"key": json.dumps(key, sort_keys=True)})
    save_json(res_path, {"key": key, "result": res.to_dict()})
    return res


def _train_job(root: str, task: Task, arch: DCArchConfig, recipe: DCTrainConfig, seed: int, inputs: str) -> dict:
    return train_cached(root, task, arch, recipe, seed, inputs).to_dict()


def train_all(root: str | Path, jobs: Sequence[tuple[str, Task, DCArchConfig, DCTrainConfig, int]], inputs: str, *,
              workers: int = 1, threads: int = 1, progress: bool = True) -> list:
    """Results of ``jobs`` = ``(label, task, arch, recipe, seed)`` in order, computed by
    :func:`beyondfid.distclass.pool.parallel_map` (``workers`` processes of ``threads`` threads)."""
    from ..distclass.pool import parallel_map
    from ..distclass.train import RunResult

    out = parallel_map(_train_job, [(str(root), t, a, r, s, inputs) for _, t, a, r, s in jobs], workers=workers,
                       threads=threads, progress=progress, desc="cross_attack runs")
    return [RunResult.from_dict(d) for d in out]


# --------------------------------------------------------------------------------------
# tables and verdicts
# --------------------------------------------------------------------------------------


def accuracy_rows(labels: Sequence[tuple[str, str, int]], results: Sequence[Any]) -> "pd.DataFrame":
    """One row per run: sample, arch, seed, accuracy, its exact 95% interval, p-value against chance."""
    import pandas as pd

    rows = []
    for (sample, arch, seed), r in zip(labels, results):
        rec = r.record
        rows.append({"sample": sample, "arch": arch, "seed": seed, "accuracy": rec.accuracy, "ci_low": rec.ci_low,
                     "ci_high": rec.ci_high, "correct": rec.correct, "n": rec.n, "p_value_vs_chance": rec.p_value})
    return pd.DataFrame(rows)


def compare_accuracies(acc: "pd.DataFrame") -> "pd.DataFrame":
    """Per (arch, seed): uniform vs attacked accuracy, their difference and Fisher's exact two-sided p-value of
    the two 2x2 counts (correct / wrong), plus one row per arch of the pooled counts over seeds."""
    import pandas as pd
    from scipy.stats import fisher_exact

    rows = []
    for (arch, seed), g in acc.groupby(["arch", "seed"], sort=False):
        u, a = g.set_index("sample").loc["uniform"], g.set_index("sample").loc["attacked"]
        p = fisher_exact([[int(u.correct), int(u.n - u.correct)], [int(a.correct), int(a.n - a.correct)]])[1]
        rows.append({"arch": arch, "seed": str(seed), "uniform": float(u.accuracy), "attacked": float(a.accuracy),
                     "difference": float(a.accuracy - u.accuracy), "fisher_p": float(p)})
    for arch, g in acc.groupby("arch", sort=False):
        s = g.groupby("sample")[["correct", "n"]].sum()
        ru = accuracy_record(int(s.loc["uniform", "correct"]), int(s.loc["uniform", "n"]), 2)
        ra = accuracy_record(int(s.loc["attacked", "correct"]), int(s.loc["attacked", "n"]), 2)
        rows.append({"arch": arch, "seed": "pooled", "uniform": ru.accuracy, "attacked": ra.accuracy,
                     "difference": ra.accuracy - ru.accuracy, "fisher_p": float("nan")})
    return pd.DataFrame(rows)


def judge_verdict(rel_fid: float, rel_judge: float) -> str:
    """``barely moves`` if ``|rel_judge| < |rel_fid| / 4``; ``fooled`` if it moves by at least half of FID's relative
    change in the same direction; ``partly`` otherwise (the rule of the module docstring)."""
    if not (np.isfinite(rel_fid) and np.isfinite(rel_judge)) or rel_fid == 0:
        return "undefined"
    if abs(rel_judge) < abs(rel_fid) / 4:
        return "barely moves"
    if np.sign(rel_judge) == np.sign(rel_fid) and abs(rel_judge) >= abs(rel_fid) / 2:
        return "fooled"
    return "partly"


def finc_row(result: Any) -> dict[str, float]:
    """A FINC result's summary: the top eigenvalue, the novel mass (sum of positive eigenvalues), the KEN-style
    novelty and the number of positive eigenvalues."""
    lam1 = float(result.eigenvalues[0]) if result.k else 0.0
    return {"finc_lambda1": lam1, "finc_novel_mass": result.novel_mass, "finc_novelty": result.novelty,
            "finc_positive": float(result.n_positive)}


def summary_table(scores: Mapping[str, "pd.DataFrame"], acc: "pd.DataFrame", quantities: Sequence[tuple[str, str]]
                  ) -> "pd.DataFrame":
    """One row per judge quantity: mean ± std per sample (``scores[kind]``: one row per draw; accuracy: per seed),
    the relative change and :func:`judge_verdict` against FID's change."""
    import pandas as pd

    def ms(df: "pd.DataFrame", col: str) -> tuple[float, float]:
        v = df[col].to_numpy(np.float64)
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

    rel = {}
    rows = []
    for col, label in quantities:
        (mu, su), (ma, sa) = ms(scores["uniform"], col), ms(scores["attacked"], col)
        rel[col] = ma / mu - 1.0 if mu else float("nan")
        rows.append({"judge": label, "quantity": col, "uniform": mu, "uniform_std": su, "attacked": ma, "attacked_std": sa,
                     "relative_change": rel[col]})
    for arch, g in acc.groupby("arch", sort=False):
        (mu, su) = ms(g[g["sample"] == "uniform"], "accuracy")
        (ma, sa) = ms(g[g["sample"] == "attacked"], "accuracy")
        rows.append({"judge": f"classifier accuracy ({arch})", "quantity": f"accuracy_{arch}", "uniform": mu, "uniform_std": su, "attacked": ma,
                     "attacked_std": sa, "relative_change": (ma - 0.5) / (mu - 0.5) - 1.0 if mu != 0.5 else np.nan})
    df = pd.DataFrame(rows)
    fid_rel = rel.get("FID", float("nan"))
    df["verdict"] = ["(the attacked metric)" if q == "FID" else judge_verdict(fid_rel, r)
                     for q, r in zip(df["quantity"], df["relative_change"])]
    return df
