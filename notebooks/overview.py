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
# # Overview: the data, and which ImageNet classes fire on them
#
# This notebook shows every dataset of the active profile and asks the question behind
# paper 2 ("The Role of ImageNet Classes in FID", Kynkäänniemi et al. 2023, Fig. 4a):
# when an ImageNet classifier looks at a domain far from ImageNet photos, which
# ImageNet classes does it predict? Those "fringe" classes are what FID ends up matching.
#
# In the mini profile the classifier is EfficientNet-Lite0 (the stand-in for
# Inception-V3) and the domain is AnimalShape silhouettes; in the paper profile it is the
# FID Inception-V3 on the user's image folders. The features come from the cached
# `features` stage; this notebook computes nothing heavy.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from beyondfid.config import load_config
from beyondfid.extractors import imagenet_class_names, probabilities, top_k
from beyondfid.extractors.paper import inception_imagenet_logits
from beyondfid.features import dataset_key, load_features, open_source
from beyondfid.report import image_grid, save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
P = cfg.params
out = cfg.results / "overview"
out.mkdir(parents=True, exist_ok=True)
datasets = list(P.features.dataset_names)
print(f"profile={cfg.profile}  extractor={P.features.extractor}@{P.features.resolution}px  datasets={datasets}")

# %% [markdown]
# ## The datasets
# A seeded random sample of each dataset (the same images on every run).

# %%
rng = np.random.default_rng(P.seed)
sources = {name: open_source(cfg, name) for name in datasets}
fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 4.6))
axes = np.atleast_1d(axes)
for ax, name in zip(axes, datasets):
    src = sources[name]
    n = min(P.overview.grid_n, len(src))
    idx = np.sort(rng.choice(len(src), size=n, replace=False))
    imgs = np.concatenate([src.get(int(i), int(i) + 1) for i in idx])
    grid = image_grid(imgs, ncols=int(np.ceil(np.sqrt(n))), pad=1)
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, interpolation="nearest")
    c, h, w = imgs.shape[1:]
    ax.set_title(f"{name}: {len(src):,} images, {c}x{h}x{w}")
    ax.axis("off")
fig.suptitle(f"Datasets of the {cfg.profile} profile")
save_figure(fig, out / "fig_datasets.png")
plt.show()

# %% [markdown]
# ## ImageNet Top-1 classes (paper 2, Fig. 4a)
# Top-1 predictions of the ImageNet classifier on each dataset. The paper finds that on
# FFHQ faces (no "person" class in ImageNet) the predicted classes are accessories such as
# "bow tie" or "seat belt". Here we look at silhouettes of 10 animal species.

# %%
feats = {name: load_features(cfg.features_dir, dataset_key(cfg, name)) for name in datasets}
for f in feats.values():
    if f["logits"].shape[1] == 1008:  # FID Inception-V3: TF class order -> the 1000 standard ImageNet classes
        f["logits"] = inception_imagenet_logits(f["logits"])
n_logits = feats[datasets[0]]["logits"].shape[1]
names = imagenet_class_names()
top1 = {name: top_k(f["logits"], 1)[:, 0] for name, f in feats.items()}

main = datasets[0]
counts = np.bincount(top1[main], minlength=n_logits)
order = np.argsort(-counts, kind="stable")[: P.overview.top_classes]
fig, ax = plt.subplots(figsize=(8, 0.32 * len(order) + 1.2))
share = counts[order] / counts.sum()
ax.barh(range(len(order))[::-1], share, color="tab:blue")
ax.set_yticks(range(len(order))[::-1], [f"{names[i]} ({i})" for i in order])
ax.set_xlabel(f"fraction of {main} images with this Top-1 class")
ax.set_title(f"{P.features.extractor} Top-1 ImageNet classes on {main} (n={counts.sum():,})")
for y, v in zip(range(len(order))[::-1], share):
    ax.text(v, y, f" {100 * v:.1f}%", va="center", fontsize=8)
save_figure(fig, out / "fig_top1_histogram.png")
plt.show()

top_table = pd.DataFrame({
    "rank": np.arange(1, len(order) + 1),
    "imagenet_index": order,
    "imagenet_class": [names[i] for i in order],
    "count": counts[order],
    "share": share,
})
save_table(top_table, out / "table_top1_classes",
           note=f"Scale: {cfg.profile} profile, {P.features.extractor} at {P.features.resolution} px, "
                f"{counts.sum():,} {main} images.")
top_table

# %% [markdown]
# ### Per source class: which ImageNet class wins?
# For each ground-truth class of the dataset, its most frequent ImageNet Top-1 class and
# how often it wins. ImageNet indices 0-397 are animals.

# %%
src_main = sources[main]
if hasattr(src_main, "labels") and len(getattr(src_main, "class_names", ())) > 1:
    labels = src_main.labels
    rows = []
    for c, cname in enumerate(src_main.class_names):
        t = top1[main][labels == c]
        if len(t) == 0:
            continue
        bc = np.bincount(t, minlength=n_logits)
        w = int(np.argmax(bc))
        rows.append({"class": cname, "n": len(t), "top_imagenet_class": names[w], "imagenet_index": w,
                     "share": bc[w] / len(t), "animal_share": float(np.mean(t < 398)),
                     "distinct_top1": int((bc > 0).sum())})
    per_class = pd.DataFrame(rows)
    save_table(per_class, out / "table_top1_per_class",
               note=f"Scale: {cfg.profile} profile. animal_share = fraction whose Top-1 is an ImageNet animal (0-397).")

    # Which source classes feed which ImageNet classes: rows = source classes, columns = the
    # overall most frequent Top-1 classes, cells = share of that row's images.
    cols = order[: min(12, len(order))]
    mat = np.array([[np.mean(top1[main][labels == c] == j) for j in cols] for c in range(len(src_main.class_names))])
    fig, ax = plt.subplots(figsize=(0.62 * len(cols) + 2.5, 0.42 * len(mat) + 2.2))
    im = ax.imshow(mat, cmap="viridis", vmin=0, vmax=max(mat.max(), 1e-9), aspect="auto")
    ax.set_xticks(range(len(cols)), [names[j] for j in cols], rotation=60, ha="right")
    ax.set_yticks(range(len(mat)), src_main.class_names)
    for (r, q), v in np.ndenumerate(mat):
        if v >= 0.05:
            ax.text(q, r, f"{100 * v:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if v < 0.6 * mat.max() else "black")
    ax.set_xlabel("ImageNet Top-1 class (most frequent overall)")
    ax.set_ylabel(f"{main} class")
    ax.set_title(f"% of each {main} class predicted as each ImageNet class")
    fig.colorbar(im, ax=ax, fraction=0.03, label="share of the row")
    save_figure(fig, out / "fig_top1_by_class.png")
    plt.show()
else:
    per_class = pd.DataFrame()
per_class

# %% [markdown]
# ## Sanity check: real photographs
# On real photos an ImageNet classifier should be right. The scikit-image cat photo
# ("chelsea") must land in an ImageNet cat class (281-285).

# %%
metrics: dict = {"profile": cfg.profile, "extractor": P.features.extractor, "resolution": P.features.resolution}
if "photos" in feats:
    probs = probabilities(feats["photos"]["logits"])
    t3 = top_k(feats["photos"]["logits"], 3)
    photo_names = list(sources["photos"].class_names)
    photo_table = pd.DataFrame({
        "photo": photo_names,
        "top1": [names[i] for i in t3[:, 0]],
        "p_top1": probs[np.arange(len(t3)), t3[:, 0]],
        "top2": [names[i] for i in t3[:, 1]],
        "top3": [names[i] for i in t3[:, 2]],
    })
    save_table(photo_table, out / "table_photos_top3", note=f"Scale: {cfg.profile} profile.")
    cat_row = photo_names.index("skimage:cat")
    cat_top1 = int(t3[cat_row, 0])
    metrics["cat_photo_top1"] = names[cat_top1]
    metrics["cat_photo_is_cat_class"] = bool(281 <= cat_top1 <= 285)
    print(f"cat photo -> {names[cat_top1]} ({cat_top1}); in 281-285: {metrics['cat_photo_is_cat_class']}")
    display(photo_table)  # noqa: F821 (IPython)

# %%
metrics.update({
    f"{main}_n": int(counts.sum()),
    f"{main}_distinct_top1_classes": int((counts > 0).sum()),
    f"{main}_top1_most_common": names[order[0]],
    f"{main}_top1_most_common_share": float(share[0]),
    f"{main}_top{len(order)}_cumulative_share": float(share.sum()),
    f"{main}_animal_top1_share": float(np.mean(top1[main] < 398)),
})
save_metrics(cfg.results / "metrics" / "overview.json", metrics)
metrics
