"""FINC's modes checked against planted ground truth: the finc_colored and finc_novelty notebooks' tables.

Two experiments plant what the test set has and the reference lacks, so FINC's answer can be scored:

* **Fig. 1** (:mod:`beyondfid.finc.colored` builds the inputs): a test half with a share of coloured
  images vs an all-gray reference half. Score of a mode: the share of coloured images among its top
  samples (:func:`beyondfid.finc.top_hit_share`); chance is the test set's coloured share.
* **Novelty, AFHQ vs ImageNet-dogs** (:mod:`beyondfid.finc.novelty` builds the inputs): a test half
  with every class vs a reference half without some classes. Score: the share of the missing
  classes among the top samples; the swap (:func:`beyondfid.finc.finc_swap`) should find the
  reference's own classes.

Each table builder returns a DataFrame whose ``attrs["note"]`` states the scale and settings
(:func:`beyondfid.report.save_table` writes it under the Markdown table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .algorithm import FincResult, finc, finc_swap, median_bandwidth, mode_label_stats, top_hit_share

__all__ = [
    "ColoredRun",
    "NoveltyRun",
    "colored_metrics",
    "colored_mode_title",
    "colored_modes_table",
    "colored_share_table",
    "novelty_metrics",
    "novelty_mode_title",
    "novelty_modes_table",
    "novelty_table",
    "run_colored",
    "run_novelty",
    "spectrum_frame",
]


def _features_note(cfg: Any) -> str:
    return f"features {cfg.params.features.extractor} @ {cfg.params.features.resolution} px"


# --------------------------------------------------------------------------------------
# Fig. 1: coloured test half vs gray reference half
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColoredRun:
    """FINC on one dataset's coloured test half vs its gray reference half."""

    name: str
    result: FincResult  # result.sigma: the median-heuristic bandwidth used
    is_colored: np.ndarray  # (n_test,) bool ground truth
    color_ids: np.ndarray  # (n_test,) colour id, -1 = gray
    stats: list[dict[str, Any]]  # mode_label_stats by colour id, hit = coloured


def run_colored(name: str, inputs: Mapping[str, Any], finc_kwargs: Mapping[str, Any]) -> ColoredRun:
    """FINC at the median-heuristic σ (seeded with ``finc_kwargs["seed"]``) on the inputs of
    :func:`beyondfid.finc.colored.load_inputs`, and each mode's colour statistics."""
    kw = dict(finc_kwargs)
    test, ref = inputs["test_features"], inputs["ref_features"]
    sigma = float(median_bandwidth(test, ref, seed=kw.get("seed", 0)))
    res = finc(test, ref, sigma=sigma, **kw)
    is_colored, color_ids = np.asarray(inputs["is_colored"]), np.asarray(inputs["color_ids"])
    return ColoredRun(name, res, is_colored, color_ids, mode_label_stats(res.top_indices, color_ids, hit=is_colored))


def colored_mode_title(run: ColoredRun, mode: int) -> str:
    """Title of mode ``mode`` (0-based) in the modes figure: λ and the coloured share of its top samples."""
    res = run.result
    return (f"mode {mode + 1}: λ={res.eigenvalues[mode]:.4f}, colored among top {len(res.top_indices[mode])}: "
            f"{100 * run.stats[mode]['hit_share']:.0f}%")


def colored_modes_table(runs: Sequence[ColoredRun], profile: str) -> Any:
    """One row per (dataset, mode): eigenvalue, coloured share of the top samples, majority colour."""
    import pandas as pd

    from ..report import with_note

    rows = [{"dataset": r.name, "mode": m + 1, "eigenvalue": r.result.eigenvalues[m], "colored_share_top": st["hit_share"],
             "majority_color_id (-1 = gray)": st["majority"], "majority_share": st["majority_share"],
             "n_top": len(r.result.top_indices[m])}
            for r in runs for m, st in enumerate(r.stats)]
    return with_note(pd.DataFrame(rows), f"Scale: {profile} profile.")


def _colored_share_column(run: ColoredRun, settings: Any) -> str:
    k = min(settings.modes_scored, run.result.k)
    return f"colored share, top {settings.top_samples} of top {k} modes (ours)"


def colored_share_table(runs: Sequence[ColoredRun], cfg: Any) -> Any:
    """One row per dataset: the coloured share of the pooled top samples of the top ``modes_scored``
    modes beside chance (the test set's coloured share) and beside what the paper's Fig. 1 shows."""
    import pandas as pd

    from ..report import with_note

    P = cfg.params.finc_colored
    rows = []
    for r in runs:
        res = r.result
        k = min(P.modes_scored, res.k)
        rows.append({
            "dataset": r.name,
            "scale": f"{cfg.profile}: {res.n_test} test / {res.n_ref} ref, r={res.rff_dim}",
            "sigma (median heuristic)": res.sigma,
            "positive eigenvalues": res.n_positive,
            _colored_share_column(r, P): top_hit_share(res.top_indices, r.is_colored, k),
            "chance (test colored share)": r.is_colored.mean(),
            "paper (Fig. 1, MNIST, DINOv2)": ("top modes are colored digits (qualitative)" if r.name in ("digits", "mnist")
                                              else "not in the paper (our extension)"),
        })
    return with_note(pd.DataFrame(rows), f"Scale: {cfg.profile} profile, {_features_note(cfg)}, eta={P.eta}, "
                                         f"seed={cfg.params.seed}.")


def colored_metrics(runs: Sequence[ColoredRun], summary: Any, settings: Any, profile: str) -> dict[str, Any]:
    """``metrics/finc_colored.json`` from :func:`colored_share_table`: per dataset the coloured share of
    the top modes, σ and the number of positive eigenvalues."""
    metrics: dict[str, Any] = {"profile": profile}
    for r, row in zip(runs, summary.to_dict("records")):
        metrics[f"{r.name}_colored_share_top_modes"] = float(row[_colored_share_column(r, settings)])
        metrics[f"{r.name}_sigma"] = row["sigma (median heuristic)"]
        metrics[f"{r.name}_positive_eigenvalues"] = int(row["positive eigenvalues"])
    return metrics


# --------------------------------------------------------------------------------------
# Novelty: test with every class vs reference without some, and the swap
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoveltyRun:
    """FINC of the test set vs the reference and the swap, at one median-heuristic σ of (test, ref)."""

    sets: Any  # NoveltySets
    result: FincResult
    swap: FincResult  # indices refer to reference rows
    missing_hit: np.ndarray | None  # (n_test,) bool: the row's class is missing from the reference
    stats: list[dict[str, Any]]  # mode_label_stats of the forward modes (empty without labels)
    swap_majority: list[str]  # class names of the swap modes' majority classes (empty without labels)

    @property
    def labelled(self) -> bool:
        return self.missing_hit is not None


def run_novelty(sets: Any, finc_kwargs: Mapping[str, Any]) -> NoveltyRun:
    """FINC and its swap on :func:`beyondfid.finc.novelty.novelty_sets`, both at the σ of
    :func:`median_bandwidth` on (test, ref), and the modes' class statistics when labels are known."""
    kw = dict(finc_kwargs)
    sigma = float(median_bandwidth(sets.test_features, sets.ref_features, seed=kw.get("seed", 0)))
    res = finc(sets.test_features, sets.ref_features, sigma=sigma, **kw)
    swap = finc_swap(sets.test_features, sets.ref_features, sigma=sigma, **kw)
    hit, stats, swap_majority = None, [], []
    if sets.test_labels is not None and len(sets.missing):
        hit = np.isin(sets.test_labels, sets.missing)
        stats = mode_label_stats(res.top_indices, sets.test_labels, hit=hit)
    if sets.ref_labels is not None:
        swap_majority = [sets.class_names[st["majority"]] for st in mode_label_stats(swap.top_indices, sets.ref_labels)]
    return NoveltyRun(sets, res, swap, hit, stats, swap_majority)


def novelty_mode_title(run: NoveltyRun, mode: int) -> str:
    """Title of forward mode ``mode`` (0-based): λ, and with labels the missing-class share and majority."""
    res = run.result
    title = f"mode {mode + 1}: λ={res.eigenvalues[mode]:.4f}"
    if run.labelled:
        st = run.stats[mode]
        title += (f", top {len(res.top_indices[mode])}: {100 * st['hit_share']:.0f}% from missing classes, "
                  f"majority '{run.sets.class_names[st['majority']]}'")
    return title


def novelty_modes_table(run: NoveltyRun, profile: str) -> Any:
    """One row per forward mode: eigenvalue, and with labels its majority class and missing-class share."""
    import pandas as pd

    from ..report import with_note

    rows = []
    for m in range(run.result.k):
        r: dict[str, Any] = {"mode": m + 1, "eigenvalue": run.result.eigenvalues[m]}
        if run.labelled:
            st = run.stats[m]
            r.update(majority_class=run.sets.class_names[st["majority"]], majority_share=st["majority_share"],
                     missing_share=st["hit_share"])
        rows.append(r)
    return with_note(pd.DataFrame(rows), f"Scale: {profile} profile; {run.sets.description}.")


def _modes_scored(run: NoveltyRun) -> int:
    """Missing-class share is taken over as many top modes as classes are missing."""
    return min(len(run.sets.missing), run.result.k) if run.labelled else 0


def novelty_table(run: NoveltyRun, cfg: Any) -> Any:
    """Both directions side by side: positive eigenvalues, λ₁, the top-k eigenvalue sum; with labels the
    missing-class share of the top modes beside chance, and which classes the modes' majorities are."""
    import pandas as pd

    from ..report import with_note

    P, S, res, swap = cfg.params.finc_novelty, run.sets, run.result, run.swap
    summary: dict[str, list[Any]] = {
        "direction": ["test vs reference", "swap: reference vs test"],
        "modes (positive eigenvalues)": [res.n_positive, swap.n_positive],
        "lambda_1": [res.eigenvalues[0] if res.k else 0.0, swap.eigenvalues[0] if swap.k else 0.0],
        "sum of top-k eigenvalues": [res.eigenvalues.sum(), swap.eigenvalues.sum()]}
    if run.labelled:
        missing = set(S.missing.tolist())
        covered = [S.class_names[c] for c in dict.fromkeys(st["majority"] for st in run.stats) if c in missing]
        summary["missing-class share, top samples of top modes (ours)"] = [
            top_hit_share(res.top_indices, run.missing_hit, _modes_scored(run)), np.nan]
        summary["chance"] = [run.missing_hit.mean(), np.nan]
        summary["classes that are a top mode's majority"] = [
            f"missing {len(covered)}/{len(S.missing)}: {', '.join(covered)}", ", ".join(dict.fromkeys(run.swap_majority))]
    summary["paper (AFHQ vs ImageNet-dogs)"] = ["novel modes are cats and wildlife (qualitative)", "not reported"]
    return with_note(pd.DataFrame(summary), (
        f"Scale: {cfg.profile} profile, {len(S.test_features)} test / {len(S.ref_features)} reference rows, "
        f"{_features_note(cfg)}, r={P.rff_dim}, eta={P.eta}, sigma={res.sigma:.3f} (median heuristic). "
        f"Missing-class share over the top {P.top_samples} samples of the top {_modes_scored(run)} modes."))


def novelty_metrics(run: NoveltyRun, summary: Any, profile: str) -> dict[str, Any]:
    """``metrics/finc_novelty.json`` from :func:`novelty_table`: σ, λ₁ both ways, and with labels the
    missing-class share of the top modes and its chance level."""
    metrics: dict[str, Any] = {"profile": profile, "sigma": run.result.sigma,
                               "forward_lambda1": float(summary["lambda_1"][0]),
                               "swap_lambda1": float(summary["lambda_1"][1])}
    if run.labelled:
        metrics["missing_class_share_top_modes"] = float(summary["missing-class share, top samples of top modes (ours)"][0])
        metrics["chance"] = float(summary["chance"][0])
    return metrics


def spectrum_frame(results: Mapping[str, FincResult]) -> Any:
    """Long table (``mode``, ``eigenvalue``, ``direction``) of the returned eigenvalues of each named
    FINC result, for plotting spectra side by side (e.g. a run and its swap)."""
    import pandas as pd

    return pd.concat([pd.DataFrame({"mode": np.arange(1, r.k + 1), "eigenvalue": r.eigenvalues, "direction": name})
                      for name, r in results.items()], ignore_index=True)
