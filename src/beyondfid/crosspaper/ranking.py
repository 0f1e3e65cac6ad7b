"""Q3 of issue 15: do the three papers' judges rank the zoo the same way?

**Judges** (each model against the real class's pool, ``real_heldout`` on mini), every one turned
into a *badness* (higher = worse) so that a positive Kendall's τ means "ranks the models alike":

============================ ======================================================= ==========
judge                        value                                                   badness
============================ ======================================================= ==========
``FID``                      FD of EfficientNet-Lite0 (ImageNet) pre-logits          value
``FD_ssl_contrastive``       FD in the zoo's SimCLR space                            value
``FD_ssl_masked``            FD in the zoo's MAE space                               value
``accuracy_<arch>``          paper 3's real-vs-model validation accuracy (Table 2)   value
``FINC_novelty``             FINC's KEN-style novelty score of the model vs real     value
                             (one bandwidth for all models: :func:`finc_bandwidth`)
``precision`` / ``recall``   improved precision / recall (k-NN, ImageNet features)   −value
============================ ======================================================= ==========

**Kendall's τ** (τ-b, ties counted: :func:`scipy.stats.kendalltau`) between every pair of
judges over the models. **Uncertainty over images** (:func:`half_samples`): each replicate draws,
without replacement, a ``fraction`` (½) of the real images (shared by all models) and of each
model's samples and recomputes every feature-space judge; the classifier's accuracy is
re-drawn as the correct count among the same fraction of its validation images
(hypergeometric: the count is all a stored run keeps). For a mean, half-sampling without
replacement has exactly the bootstrap's variance ``σ²/n``, and unlike a bootstrap it repeats no
image (repeated images have k-NN radius 0 and break precision/recall). The τ interval is the
2.5-97.5 percentile range over replicates. **Uncertainty over models**: the p-value of τ from
its exact null over the permutations of the models (scipy's), which treats the zoo as the sample.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SPACES = ("ssl_contrastive", "ssl_masked")
HIGHER_IS_BETTER = ("precision", "recall")


class CrossRankError(ValueError):
    """Inputs of the ranking question that do not fit together."""


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Kendall's τ-b of two score vectors and its two-sided p-value (exact for small n without ties)."""
    from scipy.stats import kendalltau

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) != len(y) or len(x) < 2:
        raise CrossRankError(f"Kendall's tau needs two vectors of the same length >= 2, got {len(x)} and {len(y)}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")  # a judge that ties every model ranks nothing
    res = kendalltau(x, y)
    return float(res.statistic), float(res.pvalue)


def tau_matrix(badness: "pd.DataFrame") -> "pd.DataFrame":
    """τ between every pair of columns (judges) of ``badness`` (rows: models); 1 on the diagonal."""
    import pandas as pd

    cols = list(badness.columns)
    m = np.eye(len(cols))
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            m[i, j] = m[j, i] = kendall_tau(badness[a], badness[cols[j]])[0]
    return pd.DataFrame(m, index=cols, columns=cols)


def to_badness(values: "pd.DataFrame") -> "pd.DataFrame":
    """Judges' values -> badness (higher = worse): precision and recall are negated, the rest kept."""
    out = values.copy()
    for c in out.columns:
        if c in HIGHER_IS_BETTER:
            out[c] = -out[c]
    return out


@dataclass(frozen=True)
class JudgeInputs:
    """Everything the judges need: the real pool's features, each model's features, each (model, arch)'s
    validation counts, and the settings."""

    real: Mapping[str, np.ndarray]                        # space -> (n_real, d); "effnet" + SPACES
    models: Mapping[str, Mapping[str, np.ndarray]]        # model -> space -> (n, d)
    counts: Mapping[tuple[str, str], tuple[int, int]]     # (model, arch) -> (correct, n)
    archs: Sequence[str]
    finc_kwargs: Mapping[str, Any]
    finc_sigma: float                                     # one FINC bandwidth for every model and replicate
    pr_k: int = 3

    @property
    def names(self) -> list[str]:
        return list(self.models)


def judge_values(inp: JudgeInputs, real_rows: np.ndarray | None = None,
                 model_rows: Mapping[str, np.ndarray] | None = None,
                 accuracy: Callable[[str, str], float] | None = None) -> "pd.DataFrame":
    """Every judge's value of every model (rows: models; columns: judges), on the given rows of the real
    features and of each model's features (all rows if ``None``); ``accuracy(model, arch)`` overrides the
    stored accuracy (the half-samples)."""
    import pandas as pd

    from ..fidclasses.sets import Reference
    from ..finc.algorithm import finc
    from ..metrics import precision_recall

    pick = lambda a, r: a if r is None else a[r]  # noqa: E731
    refs = {s: Reference.of(pick(inp.real[s], real_rows)) for s in ("effnet",) + SPACES if s in inp.real}
    rows = {}
    for m in inp.names:
        mr = None if model_rows is None else model_rows[m]
        f = {s: pick(a, mr) for s, a in inp.models[m].items()}
        row = {"FID": refs["effnet"].fd(f["effnet"])}
        for s in SPACES:
            if s in refs and s in f:
                row[f"FD_{s}"] = refs[s].fd(f[s])
        for a in inp.archs:
            c, n = inp.counts[(m, a)]
            row[f"accuracy_{a}"] = accuracy(m, a) if accuracy is not None else c / n
        real_e = pick(inp.real["effnet"], real_rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the bandwidth scale check on small smoke sets
            row["FINC_novelty"] = finc(f["effnet"], real_e, sigma=inp.finc_sigma, **dict(inp.finc_kwargs)).novelty
        row["precision"], row["recall"] = precision_recall(real_e, f["effnet"], k=inp.pr_k)
        rows[m] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def finc_bandwidth(real: np.ndarray, models: Mapping[str, np.ndarray], seed: int) -> float:
    """One Gaussian bandwidth for every model's FINC: the median heuristic
    (:func:`beyondfid.finc.algorithm.median_bandwidth`) of all models' samples pooled against the real images, so
    that every model (and every half-sample) is judged by the same kernel."""
    from ..finc.algorithm import median_bandwidth

    return float(median_bandwidth(np.concatenate([np.asarray(v) for v in models.values()]), real, seed=seed))


def half_samples(inp: JudgeInputs, resamples: int, fraction: float, seed: int, progress: bool = False
                 ) -> list["pd.DataFrame"]:
    """``resamples`` replicates of :func:`judge_values` on ``fraction`` of the images, drawn without replacement
    (the real rows once per replicate, shared by the models); accuracies re-drawn hypergeometrically."""
    from ..progress import progress_bar

    if not 0 < fraction <= 1:
        raise CrossRankError(f"fraction must be in (0, 1], got {fraction}")
    out = []
    n_real = len(inp.real["effnet"])
    for b in progress_bar(range(resamples), desc="half-samples", disable=not progress):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), b, 0x4A1F]))
        take = lambda n: np.sort(rng.choice(n, max(2, int(round(fraction * n))), replace=False))  # noqa: E731
        real_rows = take(n_real)
        model_rows = {m: take(len(inp.models[m]["effnet"])) for m in inp.names}
        acc = {}
        for (m, a), (c, n) in inp.counts.items():
            k = max(1, int(round(fraction * n)))
            acc[(m, a)] = rng.hypergeometric(c, n - c, k) / k if fraction < 1 else c / n
        out.append(judge_values(inp, real_rows, model_rows, lambda m, a: acc[(m, a)]))
    return out


def tau_table(values: "pd.DataFrame", replicates: Sequence["pd.DataFrame"]) -> "pd.DataFrame":
    """One row per pair of judges: τ on all images, its 95% half-sample interval (over images), the share of
    replicates with τ > 0, and the p-value over the models (scipy's permutation null)."""
    import pandas as pd

    bad = to_badness(values)
    reps = [tau_matrix(to_badness(r)) for r in replicates]
    cols = list(bad.columns)
    rows = []
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            t, p = kendall_tau(bad[a], bad[b])
            rt = np.array([r.loc[a, b] for r in reps], np.float64)
            ok = rt[np.isfinite(rt)]
            rows.append({"judge_a": a, "judge_b": b, "tau": t,
                         "ci_low": float(np.percentile(ok, 2.5)) if len(ok) else np.nan,
                         "ci_high": float(np.percentile(ok, 97.5)) if len(ok) else np.nan,
                         "share_positive": float((ok > 0).mean()) if len(ok) else np.nan, "p_models": p})
    return pd.DataFrame(rows)


def agreement(taus: "pd.DataFrame") -> "pd.DataFrame":
    """Per judge: its mean τ with every other judge (on all images), the number of other judges it agrees with
    (interval above 0) and disagrees with (interval below 0); sorted from most to least agreeing."""
    import pandas as pd

    judges = list(dict.fromkeys(list(taus["judge_a"]) + list(taus["judge_b"])))
    rows = []
    for j in judges:
        t = taus[(taus["judge_a"] == j) | (taus["judge_b"] == j)]
        rows.append({"judge": j, "mean_tau": float(t["tau"].mean()), "agrees_with": int((t["ci_low"] > 0).sum()),
                     "disagrees_with": int((t["ci_high"] < 0).sum()), "others": len(t)})
    return pd.DataFrame(rows).sort_values("mean_tau", ascending=False, kind="stable", na_position="last"
                                          ).reset_index(drop=True)


def outlier(agree: "pd.DataFrame") -> "pd.Series":
    """The judge with the lowest finite mean τ (a judge that ties every model, mean τ NaN, ranks nothing)."""
    finite = agree[np.isfinite(agree["mean_tau"].to_numpy(np.float64))]
    if finite.empty:
        raise CrossRankError("no judge has a finite mean tau (every judge ties every model?)")
    return finite.iloc[-1]


def rank_table(values: "pd.DataFrame") -> "pd.DataFrame":
    """Rank of every model under every judge (1 = best; ties share the mean rank)."""
    return to_badness(values).rank(method="average")


def table2_counts(cfg: Any, models: Sequence[str], archs: Sequence[str]) -> dict[tuple[str, str], tuple[int, int]]:
    """``(model, arch) -> (correct, n)`` of the ``dc_runs`` stage's Table 2 runs (real class vs the model)."""
    from ..distclass.experiments import runs_root
    from ..distclass.runs import RunError, load_result, pool_digests
    from .explain import table2_spec

    out = {}
    for m in models:
        for a in archs:
            spec = table2_spec(cfg, m, a)
            res = load_result(runs_root(cfg), spec, pool_digests(cfg, spec.task))
            if res is None:
                raise RunError(f"the Table 2 run {spec.run_id} ({a}, {m}) is not in {runs_root(cfg)}, or was trained "
                               f"on other images than the current pools; run `dvc repro dc_runs`")
            out[(m, a)] = (res.record.correct, res.record.n)
    return out


def load_inputs(cfg: Any) -> JudgeInputs:
    """:class:`JudgeInputs` of the profile: zoo_eval's features of the real class's pool and of every ranked
    model, the Table 2 counts, ``cross_rank``'s FINC settings."""
    from ..finc.algorithm import finc_kwargs
    from ..zoo.eval import load_eval

    R = cfg.params.cross_rank
    keys = ("effnet",) + SPACES
    real = {k: v for k, v in load_eval(cfg, cfg.params.distclass.binary.real).items() if k in keys}
    models = {m: {k: v for k, v in load_eval(cfg, m).items() if k in keys} for m in R.model_names}
    sigma = finc_bandwidth(real["effnet"], {m: v["effnet"] for m, v in models.items()}, cfg.params.seed)
    return JudgeInputs(real, models, table2_counts(cfg, R.model_names, R.arch_names), R.arch_names,
                       finc_kwargs(R, cfg.params.seed), sigma, R.pr_k)


def tau_frames(taus: "pd.DataFrame") -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """The judges x judges matrix of τ (symmetric, 1 on the diagonal) and its annotation ``"τ\\n[lo, hi]"``
    (empty on the diagonal), from :func:`tau_table`'s rows."""
    import pandas as pd

    judges = list(dict.fromkeys(list(taus["judge_a"]) + list(taus["judge_b"])))
    tau = pd.DataFrame(np.eye(len(judges)), index=judges, columns=judges)
    text = pd.DataFrame("", index=judges, columns=judges)
    for r in taus.itertuples():
        tau.loc[r.judge_a, r.judge_b] = tau.loc[r.judge_b, r.judge_a] = r.tau
        text.loc[r.judge_a, r.judge_b] = text.loc[r.judge_b, r.judge_a] = (
            f"{r.tau:.2f}\n[{r.ci_low:.2f}, {r.ci_high:.2f}]" if np.isfinite(r.tau) else "–")
    return tau, text
