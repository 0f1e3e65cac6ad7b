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
# paper 2 ("The Role of ImageNet Classes in FID", Kynkäänniemi et al. 2023, Fig. 4a).
#
# **The paper** runs the FID Inception-V3 classifier on FFHQ faces, a domain far from ImageNet
# photos with no "person" class, and finds that its Top-1 predictions are "fringe" classes such
# as "bow tie" or "seat belt" -- the classes FID ends up matching.
#
# **The mini run** does the same with EfficientNet-Lite0 @ 128 px (the stand-in for
# Inception-V3) on the 10,000 AnimalShape silhouettes; the paper profile uses the FID
# Inception-V3 on the user's image folders. The 15 most frequent Top-1 classes (`top_classes`)
# are shown. The features come from the cached `features` stage; this notebook computes
# nothing heavy (the tables come from `beyondfid.top1`).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.extractors import imagenet_class_names, top_k
from beyondfid.extractors.paper import inception_imagenet_logits
from beyondfid.features import dataset_key, load_features, open_source
from beyondfid.report import image_grid, save_figure, save_metrics, save_table
from beyondfid.top1 import top1_class_matrix, top1_per_class_table, top1_summary, top1_table, topk_table

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
# Top-1 predictions of the ImageNet classifier on the main dataset. Here we look at
# silhouettes of 10 animal species.

# %%
feats = {name: load_features(cfg.features_dir, dataset_key(cfg, name)) for name in datasets}
for f in feats.values():
    if f["logits"].shape[1] == 1008:  # FID Inception-V3: TF class order -> the 1000 standard ImageNet classes
        f["logits"] = inception_imagenet_logits(f["logits"])
n_logits = feats[datasets[0]]["logits"].shape[1]
names = imagenet_class_names()
top1 = {name: top_k(f["logits"], 1)[:, 0] for name, f in feats.items()}
main = datasets[0]
top_table = top1_table(top1[main], names, n_logits, P.overview.top_classes, dataset=main,
                       scale=f"{cfg.profile} profile, {P.features.extractor} at {P.features.resolution} px")
save_table(top_table, out / "table_top1_classes")
top_table

# %%
fig, ax = plt.subplots(figsize=(8, 0.32 * len(top_table) + 1.2))
bars = top_table.assign(label=[f"{c} ({i})" for c, i in zip(top_table["imagenet_class"], top_table["imagenet_index"])])
sns.barplot(data=bars, x="share", y="label", color="tab:blue", orient="h", ax=ax)
ax.bar_label(ax.containers[0], labels=[f" {100 * v:.1f}%" for v in bars["share"]], fontsize=8)
ax.set(xlabel=f"fraction of {main} images with this Top-1 class", ylabel="",
       title=f"{P.features.extractor} Top-1 ImageNet classes on {main} (n={len(top1[main]):,})")
save_figure(fig, out / "fig_top1_histogram.png")
plt.show()

# %% [markdown]
# ### Per source class: which ImageNet class wins?
# For each ground-truth class of the dataset, its most frequent ImageNet Top-1 class and
# how often it wins. ImageNet indices 0-397 are animals.

# %%
src_main = sources[main]
labelled = hasattr(src_main, "labels") and len(getattr(src_main, "class_names", ())) > 1
if labelled:
    per_class = top1_per_class_table(top1[main], src_main.labels, src_main.class_names, names, n_logits, cfg.profile)
    save_table(per_class, out / "table_top1_per_class")
    display(per_class)  # noqa: F821 (IPython)

# %% [markdown]
# Which source classes feed which ImageNet classes: rows = source classes, columns = the
# overall most frequent Top-1 classes (at most 12), cells = % of that row's images.

# %%
if labelled:
    mat = top1_class_matrix(top1[main], src_main.labels, src_main.class_names, top_table["imagenet_index"][:12].to_numpy(), names)
    fig, ax = plt.subplots(figsize=(0.62 * mat.shape[1] + 2.5, 0.42 * len(mat) + 2.2))
    sns.heatmap(mat, annot=(100 * mat).map(lambda v: f"{v:.0f}" if v >= 5 else ""), fmt="", cmap="viridis", vmin=0,
                vmax=max(np.nanmax(mat.to_numpy()), 1e-9), annot_kws={"fontsize": 7},
                cbar_kws={"fraction": 0.03, "label": "share of the row"}, ax=ax)
    ax.tick_params(axis="x", rotation=60)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set(xlabel="ImageNet Top-1 class (most frequent overall)", ylabel=f"{main} class",
           title=f"% of each {main} class predicted as each ImageNet class")
    save_figure(fig, out / "fig_top1_by_class.png")
    plt.show()

# %% [markdown]
# ## Sanity check: real photographs
# On real photos an ImageNet classifier should be right. The scikit-image cat photo
# ("chelsea") must land in an ImageNet cat class (281-285).

# %%
metrics: dict = {"profile": cfg.profile, "extractor": P.features.extractor, "resolution": P.features.resolution}
if "photos" in feats:
    photo_table = topk_table(feats["photos"]["logits"], list(sources["photos"].class_names), names, profile=cfg.profile)
    save_table(photo_table, out / "table_photos_top3")
    cat_top1 = int(top_k(feats["photos"]["logits"], 1)[list(photo_table["photo"]).index("skimage:cat"), 0])
    metrics.update(cat_photo_top1=names[cat_top1], cat_photo_is_cat_class=bool(281 <= cat_top1 <= 285))
    print(f"cat photo -> {names[cat_top1]} ({cat_top1}); in 281-285: {metrics['cat_photo_is_cat_class']}")
    display(photo_table)  # noqa: F821 (IPython)

# %%
metrics.update(top1_summary(top1[main], names, n_logits, P.overview.top_classes, main))
save_metrics(cfg.results / "metrics" / "overview.json", metrics)
metrics
