# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # FINC finds memorized clusters (FINC paper, Fig. 11)
#
# The FINC paper shows clusters of BigGAN samples that FINC singles out against ImageNet and that
# are memorized ("hamburgers", "yellow fields"): under each cluster, the closest training images
# are near-identical (qualitative; no numbers are given).
#
# Here (fixed before looking at any outcome): FINC with the zoo's `memorizer` (the ddpm_l network
# trained on a few hundred images until it copies them) as the test set and the real held-out
# images as the reference, on the zoo_eval features, with the paper's r and η and the
# median-heuristic σ. Below each mode's top samples: the nearest `real_train` image (pixel L2,
# from zoo_eval's `nn_index`). A sample counts as a **copy** if its nearest training image is much
# closer than the second nearest, d1 < `copy_ratio` · d2 (`beyondfid.finc.model_bias.copy_mask`, ratio
# 1/3). Expected: the memorizer's top modes are mostly copies, more than its samples overall and
# far more than a non-memorizing model (`contrast_model`, run the same way).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from beyondfid.config import load_config
from beyondfid.data import DataError, load_imageset
from beyondfid.finc import finc, median_bandwidth
from beyondfid.finc.model_bias import copy_mask, mode_memorization, rows_in_subset
from beyondfid.report import image_grid, save_figure, save_metrics, save_table
from beyondfid.zoo import load_samples, zoo_dirs
from beyondfid.zoo.eval import load_eval

cfg = load_config(profile, params_path, root)
P = cfg.params.finc_memorization
out = cfg.results / "finc_memorization"
out.mkdir(parents=True, exist_ok=True)
dirs = zoo_dirs(cfg)
real = load_eval(cfg, "real_heldout")
if P.feature not in real:
    raise KeyError(f"zoo_eval has no {P.feature!r} features (keys: {sorted(real)}); set finc_memorization.feature "
                   f"to one of effnet / ssl_contrastive / ssl_masked that the profile computes")
try:
    real_train = load_imageset(dirs["splits"], "real_train")
except DataError as e:  # image-folder data (paper profile): no images to show beside the modes
    real_train = None
    print(f"nearest training images not shown: {e}")
mem_log = json.loads((dirs["models"] / "memorizer" / "log.json").read_text())
train_rows = None
if real_train is not None and "train_index" in mem_log:
    # log.json train_index is in the dataset's index space (ImageSet.index), like real_train.index
    train_rows = rows_in_subset(real_train.index, mem_log["train_index"])
    print(f"memorizer trained on {int(train_rows.sum())} of real_train's {len(real_train)} images")
models = ["memorizer", P.contrast_model]
kw = dict(eta=P.eta, rff_dim=P.rff_dim, top_k=P.top_k, seed=cfg.params.seed, top_samples=P.top_samples)

# %%
runs = {}
for m in models:
    ev = load_eval(cfg, m)
    bw = median_bandwidth(ev[P.feature], real[P.feature], seed=cfg.params.seed)
    res = finc(ev[P.feature], real[P.feature], sigma=float(bw), **kw)
    sample_file = dirs["models"] / m / "samples.npz"
    runs[m] = dict(ev=ev, sigma=float(bw), res=res, copies=copy_mask(ev["nn_dist"], P.copy_ratio),
                   stats=mode_memorization(res.top_indices, ev["nn_dist"], ev["nn_index"], P.copy_ratio, train_rows),
                   images=load_samples(sample_file.parent) if sample_file.is_file() else None)
    print(f"{m}: sigma={float(bw):.3f}, {res.n_positive} positive eigenvalues, copies among all samples: "
          f"{runs[m]['copies'].mean():.1%} {res.message}")

# %% [markdown]
# ## Memorized clusters and their nearest training images

# %%
def plot_modes(m: str) -> None:
    r = runs[m]
    n_modes = min(P.modes_shown, r["res"].k)
    if r["images"] is None or real_train is None or n_modes == 0:
        return
    n = min(P.samples_shown, P.top_samples)
    cols = 2 if n_modes > 1 else 1  # modes on a 2-column grid; each mode = samples above their neighbours
    rows = -(-n_modes // cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(cols * (n * 0.75 + 0.4), rows * 2.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n_modes):
        idx = r["res"].top_indices[i][:n]
        nn = r["ev"]["nn_index"][idx, 0]
        st = r["stats"][i]
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        top.imshow(image_grid(r["images"][idx], ncols=n, pad=1), cmap="gray", interpolation="nearest")
        top.set_title(f"mode {i + 1}: {100 * st['copy_share']:.0f}% copies (top {len(r['res'].top_indices[i])})",
                      fontsize=8)
        bottom.imshow(image_grid(real_train.images[nn], ncols=n, pad=1), cmap="gray", interpolation="nearest")
        bottom.set_title(f"nearest real_train, mean d1={np.mean(r['ev']['nn_dist'][idx, 0]):.2f}", fontsize=8)
    fig.suptitle(f"FINC modes of {m} vs real_heldout (top: samples; bottom: nearest training images)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / f"fig_modes_{m}.png")
    plt.show()


for m in models:
    plot_modes(m)

# %% [markdown]
# ## How much of each mode is copied?

# %%
per_mode = pd.DataFrame([{"model": m, "mode": s["mode"], "lambda": runs[m]["res"].eigenvalues[s["mode"] - 1], **s}
                         for m in models for s in runs[m]["stats"]])
if "nn_in_train_subset" in per_mode:
    per_mode = per_mode.rename(columns={"nn_in_train_subset": "nearest is a memorizer training image"})
save_table(per_mode, out / "table_modes",
           note=f"Scale: {cfg.profile} profile. Copy: d1 < {P.copy_ratio:g} d2 (pixel L2 to the nearest / second nearest "
                f"real_train image), over each mode's top {P.top_samples} samples.")

summary = []
for m in models:
    r = runs[m]
    k = min(P.modes_shown, r["res"].k)
    top = np.concatenate(r["res"].top_indices[:k]) if k else np.zeros(0, np.int64)
    summary.append({
        "model": m, "samples": r["res"].n_test, "sigma": r["sigma"], "modes": r["res"].n_positive,
        "copy share, all samples": r["copies"].mean(),
        f"copy share, top samples of top {P.modes_shown} modes": r["copies"][top].mean() if k else np.nan,
        "copy share, top-1 mode": r["stats"][0]["copy_share"] if r["stats"] else np.nan,
        "mean d1, all samples": r["ev"]["nn_dist"][:, 0].mean(),
        f"mean d1, top {P.modes_shown} modes": r["ev"]["nn_dist"][top, 0].mean() if k else np.nan,
        "paper (BigGAN, Fig. 11)": "memorized clusters (hamburgers, yellow fields) beside near-identical training "
                                   "images; qualitative" if m == "memorizer" else "–",
    })
if "nn_dist" in real:  # real held-out images are not copies: the false-positive level of the copy test
    summary.append({"model": "real_heldout (reference)", "samples": len(real["nn_dist"]),
                    "copy share, all samples": copy_mask(real["nn_dist"], P.copy_ratio).mean(),
                    "mean d1, all samples": real["nn_dist"][:, 0].mean(), "paper (BigGAN, Fig. 11)": "–"})
summary = pd.DataFrame(summary)
save_table(summary, out / "table_memorization",
           note=f"Scale: {cfg.profile} profile; FINC (test = model samples, reference = real_heldout, "
                f"{len(real[P.feature])} images) on {P.feature} features, r={P.rff_dim}, eta={P.eta}, sigma = median "
                f"heuristic; copy: d1 < {P.copy_ratio:g} d2. The paper's model is BigGAN on ImageNet; ours is an "
                f"AnimalShape diffusion model trained on {int(train_rows.sum()) if train_rows is not None else '?'} images.")
display(per_mode)  # noqa: F821
summary

# %%
metrics = {"profile": cfg.profile, "feature": P.feature, "copy_ratio": P.copy_ratio}
for _, row in summary[summary["model"].isin(models)].iterrows():
    metrics[row["model"]] = {"copy_share_all": float(row["copy share, all samples"]),
                             "copy_share_top_modes": float(row[f"copy share, top samples of top {P.modes_shown} modes"]),
                             "copy_share_top1": float(row["copy share, top-1 mode"]), "sigma": float(row["sigma"])}
if "nn_dist" in real:
    metrics["real_heldout_copy_share"] = float(summary["copy share, all samples"].iloc[-1])
save_metrics(cfg.results / "metrics" / "finc_memorization.json", metrics)
metrics
