"""FINC finds memorized clusters (FINC paper, Fig. 11): the finc_memorization notebook's runs and tables.

FINC runs with a model's samples as the test set and real held-out images as the reference; each
mode's top samples are then checked against their nearest training images with the copy test of
:func:`beyondfid.finc.model_bias.copy_mask` (``d_1 < t · d_2``, pixel L2 to the nearest and second
nearest ``real_train`` image). The paper shows such clusters qualitatively (BigGAN's "hamburgers"
and "yellow fields" beside near-identical ImageNet training images); the tables here put numbers
on it: the share of copies among a mode's top samples, against the share among all samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model_bias import copy_mask, mode_memorization

__all__ = [
    "MemorizationRun",
    "memorization_figure",
    "memorization_metrics",
    "memorization_modes_table",
    "memorization_table",
    "nn_ratio_frame",
    "run_memorization",
]

PAPER_FIG11 = ("memorized clusters (hamburgers, yellow fields) beside near-identical training images; "
               "qualitative")


@dataclass(frozen=True)
class MemorizationRun:
    """FINC of one model's samples vs the real reference, and the copy test of its samples."""

    model: str
    result: Any  # FincResult; result.sigma is the median-heuristic bandwidth used
    nn_dist: np.ndarray  # (N, 2) pixel L2 to the two nearest real_train images
    nn_index: np.ndarray  # (N, 2) their real_train rows
    copies: np.ndarray  # (N,) bool, copy_mask
    stats: list[dict[str, Any]]  # mode_memorization of every returned mode

    def top_rows(self, modes: int) -> np.ndarray:
        """The pooled top samples (rows) of the first ``modes`` modes (empty if FINC found none)."""
        k = min(int(modes), self.result.k)
        return np.concatenate(self.result.top_indices[:k]) if k else np.zeros(0, np.int64)


def run_memorization(model: str, gen_features: Any, real_features: Any, nn_dist: Any, nn_index: Any,
                     finc_kwargs: Mapping[str, Any], copy_ratio: float,
                     train_rows: np.ndarray | None = None) -> MemorizationRun:
    """FINC at the median-heuristic σ (seeded with ``finc_kwargs["seed"]``), then the copy test of every
    sample and :func:`mode_memorization` of every mode (``train_rows``: see there)."""
    from .algorithm import finc, median_bandwidth

    kw = dict(finc_kwargs)
    sigma = float(median_bandwidth(gen_features, real_features, seed=kw.get("seed", 0)))
    res = finc(gen_features, real_features, sigma=sigma, **kw)
    d, i = np.asarray(nn_dist), np.asarray(nn_index)
    return MemorizationRun(model, res, d, i, copy_mask(d, copy_ratio),
                           mode_memorization(res.top_indices, d, i, copy_ratio, train_rows))


def memorization_modes_table(runs: Sequence[MemorizationRun], settings: Any, profile: str) -> Any:
    """One row per (model, mode): λ and :func:`mode_memorization`'s numbers.

    ``settings``: the ``finc_memorization`` section (``copy_ratio``, ``top_samples``)."""
    import pandas as pd

    from ..report import with_note

    df = pd.DataFrame([{"model": r.model, "mode": s["mode"], "lambda": r.result.eigenvalues[s["mode"] - 1], **s}
                       for r in runs for s in r.stats])
    if "nn_in_train_subset" in df:
        df = df.rename(columns={"nn_in_train_subset": "nearest is a memorizer training image"})
    return with_note(df, f"Scale: {profile} profile. Copy: d1 < {settings.copy_ratio:g} d2 (pixel L2 to the nearest / "
                         f"second nearest real_train image), over each mode's top {settings.top_samples} samples.")


def memorization_table(runs: Sequence[MemorizationRun], real_nn_dist: Any, settings: Any, profile: str,
                       n_train: int | None = None) -> Any:
    """One row per model: copy share and mean ``d_1`` over all samples and over the top samples of the top
    ``settings.modes_shown`` modes; then, if ``real_nn_dist`` is given, the real reference set (real images
    are not copies: the copy test's false-positive level). ``n_train``: images the memorizer trained on."""
    import pandas as pd

    from ..report import with_note

    ms = settings.modes_shown
    rows = []
    for r in runs:
        top = r.top_rows(ms)
        rows.append({
            "model": r.model, "samples": r.result.n_test, "sigma": r.result.sigma, "modes": r.result.n_positive,
            "copy share, all samples": r.copies.mean(),
            f"copy share, top samples of top {ms} modes": r.copies[top].mean() if top.size else np.nan,
            "copy share, top-1 mode": r.stats[0]["copy_share"] if r.stats else np.nan,
            "mean d1, all samples": r.nn_dist[:, 0].mean(),
            f"mean d1, top {ms} modes": r.nn_dist[top, 0].mean() if top.size else np.nan,
            "paper (BigGAN, Fig. 11)": PAPER_FIG11 if r.model == "memorizer" else "–",
        })
    if real_nn_dist is not None:
        d = np.asarray(real_nn_dist)
        rows.append({"model": "real_heldout (reference)", "samples": len(d),
                     "copy share, all samples": copy_mask(d, settings.copy_ratio).mean(),
                     "mean d1, all samples": d[:, 0].mean(), "paper (BigGAN, Fig. 11)": "–"})
    n_ref = runs[0].result.n_ref if runs else 0
    return with_note(pd.DataFrame(rows), (
        f"Scale: {profile} profile; FINC (test = model samples, reference = real_heldout, "
        f"{n_ref} images) on {settings.feature} features, r={settings.rff_dim}, eta={settings.eta}, sigma = median "
        f"heuristic; copy: d1 < {settings.copy_ratio:g} d2. The paper's model is BigGAN on ImageNet; ours is an "
        f"AnimalShape diffusion model trained on {n_train if n_train is not None else '?'} images."))


def memorization_metrics(summary: Any, settings: Any, profile: str) -> dict[str, Any]:
    """``metrics/finc_memorization.json`` from :func:`memorization_table`: per model its copy shares
    (all samples, top modes, top-1 mode) and σ; the real reference's copy share if it is in the table."""
    metrics: dict[str, Any] = {"profile": profile, "feature": settings.feature, "copy_ratio": settings.copy_ratio}
    is_model = summary["model"] != "real_heldout (reference)"
    for _, row in summary[is_model].iterrows():
        metrics[row["model"]] = {
            "copy_share_all": float(row["copy share, all samples"]),
            "copy_share_top_modes": float(row[f"copy share, top samples of top {settings.modes_shown} modes"]),
            "copy_share_top1": float(row["copy share, top-1 mode"]), "sigma": float(row["sigma"])}
    if (~is_model).any():
        metrics["real_heldout_copy_share"] = float(summary.loc[~is_model, "copy share, all samples"].iloc[-1])
    return metrics


def nn_ratio_frame(runs: Sequence[MemorizationRun], real_nn_dist: Any = None) -> Any:
    """Long table (``set``, ``d1 / d2``) of every sample's nearest-neighbour distance ratio, per model and
    for the real reference: the quantity the copy test thresholds (0 for an exact copy, 1 for a tie)."""
    import pandas as pd

    sets = [(r.model, r.nn_dist) for r in runs]
    if real_nn_dist is not None:
        sets.append(("real_heldout", np.asarray(real_nn_dist)))
    parts = []
    for name, d in sets:
        d = np.asarray(d, dtype=np.float64)
        ratio = np.divide(d[:, 0], d[:, 1], out=np.zeros(len(d)), where=d[:, 1] > 0)
        parts.append(pd.DataFrame({"set": name, "d1 / d2": ratio}))
    return pd.concat(parts, ignore_index=True)


def memorization_figure(run: MemorizationRun, images: np.ndarray, train_images: np.ndarray, modes: int,
                        samples: int) -> Any:
    """Each of the first ``modes`` modes as its top ``samples`` samples above their nearest training
    images (two modes side by side), titled with the mode's copy share and mean ``d_1``."""
    import matplotlib.pyplot as plt

    from ..report import image_grid

    n_modes = min(int(modes), run.result.k)
    if n_modes == 0:
        raise ValueError(f"{run.model}: FINC found no positive mode to show")
    cols = 2 if n_modes > 1 else 1
    rows = -(-n_modes // cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(cols * (samples * 0.75 + 0.4), rows * 2.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n_modes):
        idx = run.result.top_indices[i][:samples]
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        top.imshow(image_grid(images[idx], ncols=samples, pad=1), cmap="gray", interpolation="nearest")
        top.set_title(f"mode {i + 1}: {100 * run.stats[i]['copy_share']:.0f}% copies "
                      f"(top {len(run.result.top_indices[i])})", fontsize=8)
        bottom.imshow(image_grid(train_images[run.nn_index[idx, 0]], ncols=samples, pad=1), cmap="gray",
                      interpolation="nearest")
        bottom.set_title(f"nearest real_train, mean d1={np.mean(run.nn_dist[idx, 0]):.2f}", fontsize=8)
    fig.suptitle(f"FINC modes of {run.model} vs real_heldout (top: samples; bottom: nearest training images)",
                 fontsize=10)
    fig.tight_layout()
    return fig
