"""Model biases and memorization seen through FINC (FINC paper, Fig. 3 and Fig. 11).

FINC (:mod:`beyondfid.finc`) finds the modes a generated set X expresses more often than a real
set Y.  This module checks those modes against labels, with criteria fixed before any run:

Class over-representation (Fig. 3: "BigGAN over-generates mushrooms")
---------------------------------------------------------------------
With domain-classifier labels of the generated samples (counts ``g_k``, ``n_g = Σ g_k``) and of
the real set (``r_k``, ``n_r``), the over-representation ratio of class k is

    ``ρ_k = (g_k / n_g) / (r_k / n_r)``  (``+inf`` if ``r_k = 0 < g_k``; NaN if both are 0).

A FINC mode's *majority class* is the most frequent label among its top samples (ties: the lower
class id), its *purity* the share of that label.  **Hit criterion** (a priori): the mode is a hit
if its majority class is over-represented, ``ρ > 1``; a **strict hit** if that class has the
largest ``ρ`` of all classes.  Chance levels for comparison: a mode made of random generated
samples has the majority class of a random sample in the limit, so the chance of a hit is the
generated share of the over-represented classes, ``Σ_{k: ρ_k > 1} g_k / n_g``, and of a strict
hit the generated share of the top class.

Class-skew controls (known ground truth)
----------------------------------------
A real set with true labels is resampled by :func:`beyondfid.zoo.transforms.skew_by_class` so that
one *planted* class is over-represented by a factor ``f`` (its proportion goes from ``p_c`` to
``p_c f / (1 - p_c + p_c f)``), without replacement, and FINC is run against a disjoint real
reference.  Each class is planted in turn; all controls have the same size ``n`` (the largest
size every planted class can supply, :func:`max_skew_size`).  A control is a **hit** if FINC's
top-1 mode's majority class is the planted class; the hit rate is compared with chance ``1/K``.

Memorization (Fig. 11: memorized clusters beside their closest training images)
-------------------------------------------------------------------------------
With the pixel-L2 distances ``d_1 ≤ d_2`` of a sample to its two nearest training images, the
sample is a **copy** if ``d_1 < t · d_2`` (or ``d_1 = 0``), the usual nearest-neighbour ratio test
for memorization (Yoon et al. 2023, Gu et al. 2023 use ``t = 1/3``): the sample is much closer to
one training image than to any other.  Per FINC mode: share of copies among its top samples and
their mean ``d_1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..zoo.transforms import (
    TransformError,
    class_target_counts,
    class_weights_from_factors,
    skew_by_class,
)

__all__ = [
    "ClassRepresentation",
    "ModelBiasError",
    "SkewControl",
    "bias_hit",
    "class_ids",
    "class_representation",
    "control_hit_rate",
    "copy_mask",
    "hit_chance",
    "max_skew_size",
    "mode_bias_rows",
    "mode_majority",
    "mode_memorization",
    "rows_in_subset",
    "run_skew_controls",
    "skew_controls",
]


class ModelBiasError(ValueError):
    """Bad input to a model-bias / memorization check (shapes, unknown classes, bad factors)."""


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------


def _labels(labels: Any, n_classes: int, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ModelBiasError(f"{name} must be a 1-D array of class ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ModelBiasError(f"{name} must hold integer class ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad = int(arr.min() if arr.min() < 0 else arr.max())
        raise ModelBiasError(f"{name} contains class id {bad}, outside 0..{n_classes - 1}; pass the right n_classes")
    return arr


def _n_classes(n_classes: int) -> int:
    if not isinstance(n_classes, (int, np.integer)) or int(n_classes) < 1:
        raise ModelBiasError(f"n_classes must be a positive integer, got {n_classes!r}")
    return int(n_classes)


def _class_id(c: Any, n_classes: int, what: str = "class") -> int:
    if not isinstance(c, (int, np.integer)) or not 0 <= int(c) < n_classes:
        raise ModelBiasError(f"unknown {what} {c!r}: class ids are 0..{n_classes - 1}")
    return int(c)


def _rows(top: Any, n: int, name: str) -> np.ndarray:
    idx = np.asarray(top)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ModelBiasError(f"{name} must be a non-empty 1-D integer array of row indices, got {idx.dtype} {idx.shape}")
    if idx.min() < 0 or idx.max() >= n:
        raise ModelBiasError(f"{name} holds row {int(idx.max() if idx.max() >= n else idx.min())}, "
                             f"outside 0..{n - 1} (indices must refer to rows of the labelled set)")
    return idx.astype(np.int64)


# --------------------------------------------------------------------------------------
# class over-representation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassRepresentation:
    """Class histograms of a generated and a real set and the over-representation ratios ρ_k."""

    gen_counts: np.ndarray  # (K,) int64
    real_counts: np.ndarray  # (K,) int64
    gen_share: np.ndarray  # (K,) float64, g_k / n_g
    real_share: np.ndarray  # (K,) float64, r_k / n_r
    ratio: np.ndarray  # (K,) float64, ρ_k = gen_share / real_share

    @property
    def n_classes(self) -> int:
        return int(self.gen_counts.size)

    @property
    def over_represented(self) -> np.ndarray:
        """Boolean mask of the classes with ρ_k > 1."""
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(self.ratio, nan=0.0) > 1.0

    def ranking(self) -> np.ndarray:
        """Class ids by decreasing ρ (NaN last; ties: lower class id first)."""
        key = np.nan_to_num(self.ratio, nan=-np.inf)
        return np.lexsort((np.arange(key.size), -key))


def class_representation(gen_labels: Any, real_labels: Any, n_classes: int) -> ClassRepresentation:
    """Counts, shares and ``ρ_k = (g_k/n_g) / (r_k/n_r)`` from the labels of both sets (see module doc)."""
    k = _n_classes(n_classes)
    g = _labels(gen_labels, k, "gen_labels")
    r = _labels(real_labels, k, "real_labels")
    if g.size == 0 or r.size == 0:
        raise ModelBiasError(f"both label sets must be non-empty (got {g.size} generated, {r.size} real)")
    gc = np.bincount(g, minlength=k).astype(np.int64)
    rc = np.bincount(r, minlength=k).astype(np.int64)
    gs, rs = gc / g.size, rc / r.size
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rc > 0, gs / np.where(rs > 0, rs, 1.0), np.where(gc > 0, np.inf, np.nan))
    return ClassRepresentation(gc, rc, gs, rs, ratio.astype(np.float64))


def mode_majority(top_indices: Any, labels: Any, n_classes: int) -> tuple[int, float]:
    """``(majority class, purity)`` of a mode: the most frequent label among its top samples (ties: lower
    id) and that label's share."""
    k = _n_classes(n_classes)
    lab = _labels(labels, k, "labels")
    idx = _rows(top_indices, lab.size, "top_indices")
    counts = np.bincount(lab[idx], minlength=k)
    c = int(counts.argmax())
    return c, float(counts[c] / idx.size)


def bias_hit(majority: int, rep: ClassRepresentation) -> dict[str, Any]:
    """The a-priori hit criterion for one mode whose majority class is ``majority``.

    ``hit``: ρ_majority > 1; ``strict_hit``: ρ_majority equals the largest ρ; ``rank``: 1-based rank of
    the class in :meth:`ClassRepresentation.ranking`; ``ratio``: ρ_majority.
    """
    c = _class_id(majority, rep.n_classes, "majority class")
    ratio = float(rep.ratio[c])
    top = float(np.nan_to_num(rep.ratio, nan=-np.inf, posinf=np.inf).max())
    return {"ratio": ratio, "hit": bool(ratio > 1.0), "strict_hit": bool(ratio > 1.0 and ratio == top),
            "rank": int(np.flatnonzero(rep.ranking() == c)[0]) + 1}


def hit_chance(rep: ClassRepresentation) -> tuple[float, float]:
    """Chance levels ``(hit, strict hit)``: generated share of the classes with ρ > 1, and of the class(es)
    with the largest ρ (if that ρ > 1)."""
    over = rep.over_represented
    ratio = np.nan_to_num(rep.ratio, nan=-np.inf)
    top = ratio == ratio.max()
    return float(rep.gen_share[over].sum()), float(rep.gen_share[top & over].sum())


def mode_bias_rows(top_indices: Sequence[np.ndarray], gen_labels: Any, rep: ClassRepresentation,
                   modes: int | None = None) -> list[dict[str, Any]]:
    """For the first ``modes`` FINC modes (rows of the generated set): majority class, purity and
    :func:`bias_hit` of the majority class."""
    gen = _labels(gen_labels, rep.n_classes, "gen_labels")
    if gen.size != int(rep.gen_counts.sum()):
        raise ModelBiasError(f"gen_labels has {gen.size} entries but the class representation counts "
                             f"{int(rep.gen_counts.sum())} generated samples; use the same set for both")
    out = []
    for m, top in enumerate(list(top_indices)[: modes if modes is not None else None]):
        c, purity = mode_majority(top, gen, rep.n_classes)
        out.append({"mode": m + 1, "majority": c, "purity": purity, **bias_hit(c, rep)})
    return out


# --------------------------------------------------------------------------------------
# class-skew controls
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkewControl:
    """A class-skewed resample with one planted over-represented class."""

    planted: int
    factor: float
    indices: np.ndarray  # sorted rows of the source set
    counts: np.ndarray  # (K,) class counts of the resample
    planted_share: float  # its share in the resample
    source_share: float  # its share in the source set


def class_ids(names: Sequence[str], class_names: Sequence[str]) -> list[int]:
    """Class ids of ``names`` in ``class_names``; an unknown name raises an error listing the classes."""
    known = list(class_names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ModelBiasError(f"unknown class name(s) {unknown}; the classes are {', '.join(known)} "
                             f"(fix finc_model_bias.skew_classes in params.yaml)")
    return [known.index(n) for n in names]


def _check_factor(factor: Any) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)):
        raise ModelBiasError(f"skew factor must be a number > 0, got {factor!r}")
    f = float(factor)
    if not np.isfinite(f) or f <= 0:
        raise ModelBiasError(f"skew factor must be finite and > 0 (e.g. 3 = three times as frequent), got {factor!r}")
    return f


def max_skew_size(labels: Any, planted: int, factor: float, n_classes: int) -> int:
    """Largest resample size ``n`` with class ``planted`` scaled by ``factor`` that every class can supply
    without replacement: ``min_k ⌊count_k / p'_k⌋`` over classes with target proportion ``p'_k > 0``."""
    k = _n_classes(n_classes)
    lab = _labels(labels, k, "labels")
    c = _class_id(planted, k, "planted class")
    f = _check_factor(factor)
    counts = np.bincount(lab, minlength=k)
    if counts[c] == 0:
        raise ModelBiasError(f"planted class {c} does not occur in labels; it cannot be over-represented")
    w = class_weights_from_factors(lab, {c: f}, k)
    pos = w > 0
    n = int(np.floor(np.min(counts[pos] / w[pos]) + 1e-9))
    # the largest-remainder apportionment may round a class up by one: shrink until it fits
    while n > 0 and np.any(class_target_counts(w, n) > counts):
        n -= 1
    return n


def skew_controls(labels: Any, factor: float, n_classes: int, classes: Sequence[int] | None = None,
                  n: int | None = None, seed: int = 0) -> list[SkewControl]:
    """One control per class in ``classes`` (default: every class in turn): the rows of a resample of
    ``labels`` in which that class is over-represented by ``factor``.

    All controls have the same size: ``n`` if given (it must be feasible for every planted class),
    else the largest feasible one, ``min_c max_skew_size(labels, c, factor)``.  Class counts are exact
    (:func:`beyondfid.zoo.transforms.class_target_counts`); the seed (``seed + c`` for class c) picks members.
    """
    k = _n_classes(n_classes)
    lab = _labels(labels, k, "labels")
    f = _check_factor(factor)
    if lab.size == 0:
        raise ModelBiasError("labels is empty; the controls need a labelled real set")
    planted = list(range(k)) if classes is None else [_class_id(c, k, "planted class") for c in classes]
    if not planted:
        raise ModelBiasError("classes is empty; name at least one class to plant (or None for all)")
    feasible = min(max_skew_size(lab, c, f, k) for c in planted)
    if n is None:
        n = feasible
    elif not isinstance(n, (int, np.integer)) or n < 1 or n > feasible:
        raise ModelBiasError(f"n={n!r} is not feasible: without replacement every planted class allows at most "
                             f"{feasible} samples at factor {f}; lower n or the factor")
    if n < 1:
        raise ModelBiasError(f"no resample is possible at factor {f}: some class has too few members")
    src = np.bincount(lab, minlength=k) / lab.size
    out = []
    for c in planted:
        try:
            idx = skew_by_class(lab, int(n), seed + c, factors={c: f}, n_classes=k)
        except TransformError as e:  # pragma: no cover - feasibility is checked above
            raise ModelBiasError(str(e)) from e
        counts = np.bincount(lab[idx], minlength=k).astype(np.int64)
        out.append(SkewControl(c, f, idx, counts, float(counts[c] / idx.size), float(src[c])))
    return out


def control_hit_rate(planted: Sequence[int], majorities: Sequence[int], n_classes: int) -> dict[str, float]:
    """Hit rate of the controls: share with top-1 mode majority == planted class; chance ``1/K``.

    A majority of ``-1`` marks a control where FINC found no positive mode (a miss)."""
    k = _n_classes(n_classes)
    p = _labels(np.asarray(planted, dtype=np.int64), k, "planted")
    m = np.asarray(majorities, dtype=np.int64)
    if m.ndim != 1 or (m.size and (m.min() < -1 or m.max() >= k)):
        raise ModelBiasError(f"majorities must be class ids 0..{k - 1} (or -1 = no mode), got {m.tolist()}")
    if p.size != m.size or p.size == 0:
        raise ModelBiasError(f"planted ({p.size}) and majorities ({m.size}) must be non-empty and of equal length")
    hits = int((p == m).sum())
    return {"controls": int(p.size), "hits": hits, "hit_rate": hits / p.size, "chance": 1.0 / k}


def run_skew_controls(test_features: Any, test_labels: Any, ref_features: Any, n_classes: int, factor: float,
                      finc_kwargs: Mapping[str, Any], classes: Sequence[int] | None = None, seed: int = 0
                      ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Plant each class in turn into ``test_features`` (:func:`skew_controls`), run FINC against
    ``ref_features`` (a disjoint real set) and score the top-1 mode with ``test_labels``.

    Returns per-control rows (planted class, its share before/after, top-1 majority and purity, the
    planted share among the top-1 samples, hit) and :func:`control_hit_rate`.
    """
    from .algorithm import finc

    k = _n_classes(n_classes)
    lab = _labels(test_labels, k, "test_labels")
    feats = np.asarray(test_features)
    if feats.ndim != 2 or len(feats) != lab.size:
        raise ModelBiasError(f"test_features ({feats.shape}) must be 2-D with one row per label ({lab.size})")
    rows = []
    for ctl in skew_controls(lab, factor, k, classes, seed=seed):
        res = finc(feats[ctl.indices], ref_features, **dict(finc_kwargs))
        if res.k == 0:
            rows.append({"planted": ctl.planted, "source_share": ctl.source_share, "planted_share": ctl.planted_share,
                         "n": int(ctl.indices.size), "top1_majority": -1, "top1_purity": np.nan,
                         "top1_planted_share": np.nan, "lambda1": 0.0, "hit": False})
            continue
        sub = lab[ctl.indices]
        c, purity = mode_majority(res.top_indices[0], sub, k)
        rows.append({"planted": ctl.planted, "source_share": ctl.source_share, "planted_share": ctl.planted_share,
                     "n": int(ctl.indices.size), "top1_majority": c, "top1_purity": purity,
                     "top1_planted_share": float((sub[res.top_indices[0]] == ctl.planted).mean()),
                     "lambda1": float(res.eigenvalues[0]), "hit": c == ctl.planted})
    summary = control_hit_rate([r["planted"] for r in rows], [r["top1_majority"] for r in rows], k)
    return rows, summary


# --------------------------------------------------------------------------------------
# memorization
# --------------------------------------------------------------------------------------


def _nn(nn_dist: Any, nn_index: Any | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    d = np.asarray(nn_dist, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < 2:
        raise ModelBiasError(f"nn_dist must be (N, 2): distances to the 2 nearest training images, got {d.shape}")
    if not np.all(np.isfinite(d)) or d.min() < 0:
        raise ModelBiasError("nn_dist must be finite and >= 0")
    i = None
    if nn_index is not None:
        i = np.asarray(nn_index)
        if i.shape != d.shape or not np.issubdtype(i.dtype, np.integer):
            raise ModelBiasError(f"nn_index must be an integer array shaped like nn_dist {d.shape}, got {i.dtype} {i.shape}")
    return d, i


def copy_mask(nn_dist: Any, ratio_threshold: float) -> np.ndarray:
    """Copies: ``d_1 < t · d_2`` or ``d_1 = 0`` (nearest-neighbour ratio test, see module doc)."""
    t = float(ratio_threshold)
    if not 0.0 < t <= 1.0:
        raise ModelBiasError(f"ratio_threshold must be in (0, 1] (1/3 is the usual choice), got {ratio_threshold!r}")
    d, _ = _nn(nn_dist)
    return (d[:, 0] < t * d[:, 1]) | (d[:, 0] == 0.0)


def rows_in_subset(row_index: Any, subset_index: Any) -> np.ndarray:
    """Boolean mask over rows: is row i's dataset index ``row_index[i]`` among ``subset_index``?

    Used to ask whether a sample's nearest real_train image (a real_train row) is one of the
    memorizer's training images (``log.json`` ``train_index`` is in the dataset's index space,
    like ``ImageSet.index``)."""
    return np.isin(np.asarray(row_index, dtype=np.int64), np.asarray(subset_index, dtype=np.int64))


def mode_memorization(top_indices: Sequence[np.ndarray], nn_dist: Any, nn_index: Any, ratio_threshold: float,
                      train_rows: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Per FINC mode (rows of the generated set): share of copies among its top samples, mean and
    median ``d_1``, number of distinct nearest training images, and (if ``train_rows`` is a boolean
    mask over training rows) the share whose nearest training image is in that subset."""
    d, i = _nn(nn_dist, nn_index)
    copies = copy_mask(d, ratio_threshold)
    if train_rows is not None:
        train_rows = np.asarray(train_rows, dtype=bool)
        if i is not None and i.size and i.max() >= train_rows.size:
            raise ModelBiasError(f"nn_index refers to training row {int(i.max())} but train_rows has {train_rows.size}")
    out = []
    for m, top in enumerate(top_indices):
        idx = _rows(top, len(d), f"top_indices[{m}]")
        row: dict[str, Any] = {"mode": m + 1, "copy_share": float(copies[idx].mean()),
                               "mean_nn_dist": float(d[idx, 0].mean()), "median_nn_dist": float(np.median(d[idx, 0])),
                               "distinct_neighbours": int(np.unique(i[idx, 0]).size) if i is not None else -1}
        if train_rows is not None and i is not None:
            row["nn_in_train_subset"] = float(train_rows[i[idx, 0]].mean())
        out.append(row)
    return out


# --------------------------------------------------------------------------------------
# the finc_model_bias notebook's runs and tables (Fig. 3)
# --------------------------------------------------------------------------------------

# What the FINC paper's Fig. 3 shows for the roles our zoo models stand in for (qualitative, no numbers).
PAPER_FIG3 = {"gan": "BigGAN: mushrooms (fungi)", "ddpm_l": "LDM: koalas", "dit": "DiT-XL: flower patterns"}


@dataclass(frozen=True)
class BiasRun:
    """FINC of one generator's samples (test) against real images (reference), with the domain
    classifier's view of both: ``rep`` (None without labels) and :func:`mode_bias_rows` of its modes."""

    model: str
    result: Any  # FincResult; result.sigma is the median-heuristic bandwidth used
    rep: ClassRepresentation | None
    rows: list[dict[str, Any]]

    @property
    def lambda_1(self) -> float:
        """The largest eigenvalue of Λ, 0 when FINC found no positive mode."""
        return float(self.result.eigenvalues[0]) if self.result.k else 0.0


def run_model_bias(model: str, gen_features: Any, real_features: Any, finc_kwargs: Mapping[str, Any], *,
                   gen_labels: Any = None, real_labels: Any = None, n_classes: int | None = None,
                   modes: int | None = None) -> BiasRun:
    """FINC of ``gen_features`` vs ``real_features`` at the median-heuristic σ (seeded with
    ``finc_kwargs["seed"]``); with labels, each of the first ``modes`` modes is scored by :func:`bias_hit`."""
    from .algorithm import finc, median_bandwidth

    kw = dict(finc_kwargs)
    sigma = float(median_bandwidth(gen_features, real_features, seed=kw.get("seed", 0)))
    res = finc(gen_features, real_features, sigma=sigma, **kw)
    if gen_labels is None or real_labels is None:
        return BiasRun(model, res, None, [])
    if n_classes is None:
        raise ModelBiasError("n_classes is needed with labels (the number of classifier classes)")
    rep = class_representation(gen_labels, real_labels, n_classes)
    return BiasRun(model, res, rep, mode_bias_rows(res.top_indices, gen_labels, rep, modes=modes))


def _verdict(row: Mapping[str, Any]) -> str:
    return "strict hit" if row["strict_hit"] else ("hit" if row["hit"] else "miss")


def bias_mode_title(run: BiasRun, mode: int, class_names: Sequence[str]) -> str:
    """Title of mode ``mode`` (0-based) in the modes figure: λ, and with labels its majority class,
    purity, ρ and verdict."""
    res = run.result
    title = f"{run.model}, mode {mode + 1}: λ={res.eigenvalues[mode]:.4f}"
    if run.rep is not None and mode < len(run.rows):
        row = run.rows[mode]
        title += (f"; majority '{class_names[row['majority']]}' {100 * row['purity']:.0f}% of top "
                  f"{len(res.top_indices[mode])}, ρ={row['ratio']:.2f} ({_verdict(row)})")
    return title


def model_bias_table(runs: Sequence[BiasRun], class_names: Sequence[str], settings: Any, profile: str) -> Any:
    """One row per model: FINC's spectrum, its top mode's majority class and the hit criterion, chance
    levels, the classifier's most over-represented class, and the paper's finding for that role.

    ``settings``: the ``finc_model_bias`` section (``feature``, ``rff_dim``, ``eta``, ``top_samples``)."""
    import pandas as pd

    from ..report import with_note

    table = []
    for r in runs:
        res = r.result
        row: dict[str, Any] = {"model": r.model, "samples": res.n_test, "sigma": res.sigma,
                               "modes (positive eigenvalues)": res.n_positive,
                               "lambda_1": res.eigenvalues[0] if res.k else 0.0}
        if r.rep is not None and r.rows:
            t = r.rows[0]
            top_cls = int(r.rep.ranking()[0])
            ch, ch_strict = hit_chance(r.rep)
            row.update({"top mode: majority class": class_names[t["majority"]], "purity": t["purity"],
                        "rho of that class": t["ratio"], "rank of that class by rho": t["rank"],
                        "hit (rho > 1)": t["hit"], "strict hit (largest rho)": t["strict_hit"],
                        "chance (hit)": ch, "chance (strict)": ch_strict,
                        "most over-represented class (classifier)":
                            f"{class_names[top_cls]} (rho={r.rep.ratio[top_cls]:.2f})"})
        elif r.rep is not None:  # no positive eigenvalue: no over-represented mode at all, a miss
            ch, ch_strict = hit_chance(r.rep)
            row.update({"top mode: majority class": "no mode", "hit (rho > 1)": False,
                        "strict hit (largest rho)": False, "chance (hit)": ch, "chance (strict)": ch_strict})
        row["paper (ImageNet model, qualitative)"] = PAPER_FIG3.get(r.model, "–")
        table.append(row)
    n_real = runs[0].result.n_ref if runs else 0
    return with_note(pd.DataFrame(table), (
        f"Scale: {profile} profile; AnimalShape zoo generators (stand-ins, not the paper's ImageNet models) "
        f"vs real_heldout ({n_real} images); FINC on {settings.feature} features, r={settings.rff_dim}, "
        f"eta={settings.eta}, sigma = median heuristic per model, top {settings.top_samples} samples per mode. rho = "
        f"generated share / real share of the domain classifier's labels. Hit: rho > 1; strict: the largest rho; "
        f"chance: generated share of those classes."))


def class_ratio_frames(runs: Sequence[BiasRun], class_names: Sequence[str]) -> tuple[Any, Any]:
    """For the heatmap of over-representation: ``(log2 ρ, mode labels)``, both models × classes.

    log2 ρ is clipped to [-3, 3] (ρ in [1/8, 8]; ρ = +inf shows as 8, NaN = absent from both sets as 1);
    a label cell lists the FINC modes (1-based, comma-separated) whose majority class is that class."""
    import pandas as pd

    labelled = [r for r in runs if r.rep is not None]
    ratio = np.array([r.rep.ratio for r in labelled])
    log2 = np.log2(np.clip(np.nan_to_num(ratio, nan=1.0, posinf=8.0), 1 / 8, 8))
    labels = np.full(log2.shape, "", dtype=object)
    for y, r in enumerate(labelled):
        for row in r.rows:
            c = row["majority"]
            labels[y, c] = f"{labels[y, c]},{row['mode']}" if labels[y, c] else str(row["mode"])
    index, columns = [r.model for r in labelled], list(class_names)
    return pd.DataFrame(log2, index=index, columns=columns), pd.DataFrame(labels, index=index, columns=columns)


def load_control_sets(cfg: Any, feature: str, class_names: Sequence[str]) -> tuple[Any, np.ndarray, Any] | None:
    """The controls' inputs: ``(real_half_a features, its true labels, real_half_b features)`` from the
    zoo splits and zoo_eval, or None (with the reason printed) where the splits carry no labels
    (image-folder data, paper profile)."""
    from ..data import DataError, load_imageset
    from ..zoo import zoo_dirs
    from ..zoo.eval import load_eval

    splits = zoo_dirs(cfg)["splits"]
    try:
        half_a = load_imageset(splits, "real_half_a")
        load_imageset(splits, "real_half_b")
    except DataError as e:
        print(f"controls skipped: {e}")
        return None
    if list(half_a.class_names) != list(class_names):
        raise ModelBiasError(f"class names of the splits {half_a.class_names} differ from zoo_eval's {list(class_names)}; "
                             f"re-run `dvc repro zoo_eval`")
    fa, fb = load_eval(cfg, "real_half_a")[feature], load_eval(cfg, "real_half_b")[feature]
    if len(fa) != len(half_a):
        raise ModelBiasError(f"zoo_eval real_half_a has {len(fa)} rows, the split {len(half_a)}; "
                             f"re-run `dvc repro zoo_eval`")
    return fa, half_a.labels, fb


@dataclass(frozen=True)
class ControlStudy:
    """:func:`run_skew_controls` with the median-heuristic σ of the two real halves."""

    rows: list[dict[str, Any]]
    summary: dict[str, float]
    sigma: float
    n_ref: int
    factor: float


def run_control_study(test_features: Any, test_labels: Any, ref_features: Any, n_classes: int, factor: float,
                      finc_kwargs: Mapping[str, Any], classes: Sequence[int] | None = None) -> ControlStudy:
    """σ by the median heuristic on (test, ref), then :func:`run_skew_controls` (seed ``finc_kwargs["seed"]``)."""
    from .algorithm import median_bandwidth

    kw = dict(finc_kwargs)
    seed = kw.get("seed", 0)
    sigma = float(median_bandwidth(test_features, ref_features, seed=seed))
    rows, summary = run_skew_controls(test_features, test_labels, ref_features, n_classes, factor,
                                      dict(kw, sigma=sigma), classes=classes, seed=seed)
    return ControlStudy(rows, summary, sigma, len(ref_features), float(factor))


def controls_table(study: ControlStudy, class_names: Sequence[str], settings: Any, profile: str) -> Any:
    """One row per control: the planted class, its share before and after, FINC's top-1 mode and the hit."""
    import pandas as pd

    from ..report import with_note

    s = study.summary
    df = pd.DataFrame([{"planted class": class_names[r["planted"]], "share in real_half_a": r["source_share"],
                        "share in control": r["planted_share"], "control size": r["n"],
                        "top-1 majority": class_names[r["top1_majority"]] if r["top1_majority"] >= 0 else "no mode",
                        "top-1 purity": r["top1_purity"], "planted share of top-1 samples": r["top1_planted_share"],
                        "lambda_1": r["lambda1"], "hit": r["hit"]} for r in study.rows])
    return with_note(df, (
        f"Scale: {profile} profile; real_half_a resampled without replacement so that the planted class "
        f"is {study.factor:g}x as frequent (true labels), FINC vs real_half_b ({study.n_ref} images), "
        f"r={settings.rff_dim}, eta={settings.eta}, sigma={study.sigma:.3f} (median heuristic), top "
        f"{settings.top_samples} samples. Hit rate {s['hits']}/{s['controls']} = {s['hit_rate']:.2f}, "
        f"chance {s['chance']:.2f}. Paper: no such control (planted-mode checks only in Fig. 1)."))


def hit_rates_table(table: Any, controls: ControlStudy | None, skew_factor: float, profile: str) -> Any:
    """The three hit rates beside chance: zoo models (ρ > 1, largest ρ; from :func:`model_bias_table`)
    and the planted controls. Rows without labels (or without controls) are NaN / '–'."""
    import pandas as pd

    from ..report import with_note

    labelled = "hit (rho > 1)" in table
    ctl = controls.summary if controls is not None else {}

    def zoo(col: str) -> tuple[float, str, float]:
        if not labelled:
            return np.nan, "–", np.nan
        chance = "chance (hit)" if col == "hit (rho > 1)" else "chance (strict)"
        return table[col].mean(), f"{int(table[col].sum())}/{len(table)}", table[chance].mean()

    rows = [zoo("hit (rho > 1)"), zoo("strict hit (largest rho)"),
            (ctl.get("hit_rate", np.nan), f"{ctl['hits']}/{ctl['controls']}" if ctl else "–", ctl.get("chance", np.nan))]
    return with_note(pd.DataFrame({
        "check": ["zoo models: top mode's class over-represented (rho > 1)",
                  "zoo models: top mode's class is the most over-represented",
                  f"controls: top-1 mode = planted class (x{skew_factor:g})"],
        "hit rate (ours)": [r[0] for r in rows],
        "count": [r[1] for r in rows],
        "chance": [r[2] for r in rows],
        "paper": ["BigGAN mushrooms, LDM koalas, DiT-XL flowers (ImageNet, qualitative, no rates)", "not reported",
                  "not reported"],
    }), f"Scale: {profile} profile. Chance for the zoo rows: mean over models of the generated share of the "
        f"qualifying classes.")


def model_bias_metrics(runs: Sequence[BiasRun], class_names: Sequence[str], hits: Any,
                       controls: ControlStudy | None, profile: str, feature: str) -> dict[str, Any]:
    """``metrics/finc_model_bias.json``: σ and λ₁ per model; with labels the top mode's class and the
    models' hit rates; with controls their hit rate and chance."""
    metrics: dict[str, Any] = {"profile": profile, "feature": feature,
                               "sigma": {r.model: r.result.sigma for r in runs},
                               "lambda_1": {r.model: r.lambda_1 for r in runs}}
    if any(r.rep is not None for r in runs):
        metrics.update({"top_mode_class": {r.model: class_names[r.rows[0]["majority"]] for r in runs if r.rows},
                        "model_hit_rate": float(hits["hit rate (ours)"][0]),
                        "model_strict_hit_rate": float(hits["hit rate (ours)"][1])})
    if controls is not None:
        metrics.update({"control_hit_rate": float(controls.summary["hit_rate"]),
                        "control_chance": float(controls.summary["chance"])})
    return metrics
