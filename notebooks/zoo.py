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
# # The mini model zoo
#
# Seven generators trained on the same `real_train` split of AnimalShape (28 x 28 gray
# silhouettes, 10 classes), each standing in for a knob of the papers' experiments: one
# diffusion family at two widths (`ddpm_s`, `ddpm_l`), another architecture (`dit`), a GAN
# with training snapshots and a 5x candidate pool (`gan`), a GAN with a projected
# discriminator on frozen ImageNet features (`projected_gan`), a model trained long on a
# few hundred images so that it copies them (`memorizer`), and a VAE.
#
# Everything shown here is computed once by the `zoo_eval` stage
# (`beyondfid.zoo.eval`): features in three spaces (the profile's ImageNet extractor,
# our SimCLR and MAE encoders), the domain classifier's labels, and every sample's two
# nearest `real_train` images in pixel space. This notebook only reads, compares and plots.
#
# The copy criteria were fixed before looking at any result: a sample is a *copy* if its
# nearest training image is much closer than the second nearest (ratio test
# `d1 < d2 / 3`, or `d1 = 0`), or, separately, if it is closer to the training set than 99%
# of real held-out images are (L2 below the 1st percentile of `real_heldout`'s
# nearest-training distances).

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

from beyondfid.config import MODELS, load_config
from beyondfid.report import image_grid, save_figure, save_metrics, save_table
from beyondfid.zoo.eval import (
    class_histograms,
    eval_index,
    first_images,
    history_arrays,
    l2_copy_share,
    l2_copy_threshold,
    load_encoder_log,
    load_eval,
    load_log,
    load_split,
    moving_average,
    ratio_copy_share,
    rows_of,
    snapshot_fids,
    total_variation,
    zoo_table,
)

cfg = load_config(profile, params_path, root)
out = cfg.results / "zoo"
out.mkdir(parents=True, exist_ok=True)
index = eval_index(cfg)
logs = {m: load_log(cfg, m) for m in MODELS}
real_train = load_split(cfg, "real_train")
real_heldout = load_split(cfg, "real_heldout")
COPY_RATIO, COPY_PERCENTILE = 1 / 3, 1.0
scale = (f"Scale: {cfg.profile} profile; {len(real_train)} real_train / {len(real_heldout)} real_heldout images; "
         f"features {index['extractor']} @ {index['resolution']} px")
print(scale)
print({k: v["count"] for k, v in index["sets"].items()})

# %% [markdown]
# ## Samples
#
# The first 64 samples of each model (no cherry-picking: samples are drawn with a fixed
# seed and shown in order) and 64 real held-out images for comparison (a seeded random draw:
# the split is stored class by class, so its first rows would all be one animal).

# %%
n_show = 64
images = {m: first_images(cfg, m, n_show) for m in MODELS}
pick = np.sort(np.random.default_rng(cfg.params.seed).choice(len(real_heldout), min(n_show, len(real_heldout)),
                                                              replace=False))
images["real_heldout"] = np.concatenate([real_heldout.get(int(i), int(i) + 1) for i in pick])
fig, axes = plt.subplots(2, 4, figsize=(12, 6.9))
for ax, (name, imgs) in zip(axes.ravel(), images.items()):
    ax.imshow(image_grid(imgs, ncols=8, pad=1, pad_value=255), cmap="gray", interpolation="nearest")
    ax.set_title(name, fontsize=10)
    ax.axis("off")
fig.suptitle(f"Zoo samples vs real held-out images ({cfg.profile} profile)", fontsize=11)
fig.tight_layout()
save_figure(fig, out / "fig_samples.png")
plt.show()

# %% [markdown]
# ## Training curves
#
# The training loss of every model per optimisation step (diffusion models: denoising MSE;
# VAE: negative ELBO; GANs: discriminator and generator losses), smoothed with a trailing
# moving average over 2% of the steps. Diffusion and VAE losses are on a log axis; GAN
# losses are not monotone by design, so they are on a linear axis.

# %%
fig, axes = plt.subplots(2, 4, figsize=(13, 5.8))
for ax, m in zip(axes.ravel(), MODELS):
    h = history_arrays(logs[m].get("history", []))
    if len(h["step"]) == 0:
        ax.set_title(f"{m}: no training history (imported samples)", fontsize=9)
        continue
    keys = [k for k in ("loss", "d_loss", "g_loss") if k in h]
    w = max(1, len(h["step"]) // 50)
    for k in keys:
        ax.plot(h["step"][w - 1:], moving_average(h[k], w), label=k, lw=1)
    gan_like = "d_loss" in h
    if not gan_like and all(np.all(h[k] > 0) for k in keys):
        ax.set_yscale("log")
    ax.set_title(f"{m} ({logs[m]['steps_done']} steps)", fontsize=10)
    ax.set_xlabel("step")
    ax.legend(frameon=False, fontsize=8)
axes.ravel()[-1].axis("off")
fig.suptitle(f"Training losses, moving average over 2% of the steps ({cfg.profile})", fontsize=11)
fig.tight_layout()
save_figure(fig, out / "fig_training_curves.png")
plt.show()

# %% [markdown]
# ## The zoo table
#
# Each model's 2,000 samples (mini) against `real_heldout`: Fréchet distance in the
# ImageNet feature space (FID_effnet) and in our two self-supervised spaces, KID (x 1e3,
# mean ± std over 100 subsets), k-NN precision and recall (k = 3, ImageNet features), the
# copy shares defined above, generator size and wall-clock time. The control row compares
# the two disjoint halves of `real_heldout`: two samples of the real distribution.

# %%
table = zoo_table(cfg, "real_heldout", copy_ratio=COPY_RATIO, copy_percentile=COPY_PERCENTILE)
n_a, n_b = index["sets"]["real_half_a"]["count"], index["sets"]["real_half_b"]["count"]
n_models = sorted({index["sets"][m]["count"] for m in MODELS})
note = (f"{scale}. Rows: each model's samples ({'/'.join(map(str, n_models))}) vs real_heldout ({len(real_heldout)} "
        f"images); control: real_half_a ({n_a}) vs real_half_b ({n_b}). FID is biased upward at small n, so the "
        f"control's FID, at about half the sample count of the model rows, overstates the real-vs-real floor "
        f"those rows would see. KID x 1e3 (mean, std over 100 subsets of min(1000, n)). Precision/recall: k = 3 on "
        f"{index['extractor']} features. Copy shares: ratio test d1 < d2/3 (or d1 = 0), and L2 below the "
        f"{COPY_PERCENTILE:g}st percentile of real_heldout's nearest-training distance. n_params: the sampling "
        f"network (G for GANs). The zoo reproduces no single paper table; it is the test bed for papers 2-3.")
save_table(table, out / "table_zoo", note=note)
display(table)  # noqa: F821

# %% [markdown]
# ## What the samples are: the domain classifier's view
#
# The domain classifier (trained on `real_train`) labels every sample. A model that drops or
# over-produces classes shows up as a class histogram that departs from real_heldout's. The
# classifier's own labels of real_heldout are shown too, so that its confusions are not
# mistaken for the models'. TV = total-variation distance from real_heldout's true histogram.

# %%
hist = class_histograms(cfg)
clf_log = load_encoder_log(cfg, "classifier")
tv = {}
if len(hist):
    true = hist.loc["real_heldout (true)"].to_numpy()
    tv = {s: total_variation(hist.loc[s].to_numpy(), true) for s in hist.index if s != "real_heldout (true)"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.6, 1]})
    im = axes[0].imshow(hist.to_numpy(), cmap="viridis", aspect="auto")
    axes[0].set_xticks(range(hist.shape[1]), hist.columns, rotation=45, ha="right")
    axes[0].set_yticks(range(len(hist)), [f"{s} (TV {tv[s]:.2f})" if s in tv else s for s in hist.index])
    for i in range(hist.shape[0]):
        for j in range(hist.shape[1]):
            axes[0].text(j, i, f"{100 * hist.iat[i, j]:.0f}", ha="center", va="center", fontsize=7,
                         color="w" if hist.iat[i, j] < hist.to_numpy().max() / 2 else "k")
    fig.colorbar(im, ax=axes[0], label="share of samples")
    axes[0].set_title("class shares (%) by the domain classifier")
    conf = np.asarray(clf_log["confusion"], dtype=float)
    conf = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    axes[1].imshow(conf, cmap="Blues", vmin=0, vmax=1)
    names = clf_log["class_names"]
    axes[1].set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes[1].set_yticks(range(len(names)), names)
    axes[1].set_xlabel("predicted")
    axes[1].set_ylabel("true")
    axes[1].set_title(f"classifier on real_heldout: accuracy {clf_log['heldout_accuracy']:.3f}")
    fig.tight_layout()
    save_figure(fig, out / "fig_classes.png")
    plt.show()
    save_table(hist.reset_index(names="set"), out / "table_class_shares",
               note=f"{scale}. Class shares by the domain classifier (held-out accuracy "
                    f"{clf_log['heldout_accuracy']:.3f}); 'real_heldout (true)' uses the split's labels.")
else:
    print("no domain classifier on this profile (zoo.classifier is null)")

# %% [markdown]
# ## Copies of the training set
#
# For every sample, the pixel distance to its nearest `real_train` image. Real held-out images
# are by construction not copies: their distribution is the reference. The dashed line is the
# L2 copy threshold (1st percentile of the reference); the memorizer should pile up below it.

# %%
ref_nn = load_eval(cfg, "real_heldout")["nn_dist"]
thr = l2_copy_threshold(ref_nn, COPY_PERCENTILE)
nn = {m: load_eval(cfg, m)["nn_dist"] for m in MODELS}
fig, ax = plt.subplots(figsize=(10, 4))
data = [ref_nn[:, 0]] + [nn[m][:, 0] for m in MODELS]
ax.violinplot(data, showmedians=True)
ax.axhline(thr, ls="--", c="k", lw=1, label=f"L2 copy threshold {thr:.2f}")
ax.set_xticks(range(1, len(data) + 1), ["real_heldout"] + list(MODELS), rotation=20)
ax.set_ylabel("pixel L2 to nearest real_train image")
ax.legend(frameon=False)
ax.set_title("Nearest-training-neighbour distances")
fig.tight_layout()
save_figure(fig, out / "fig_nn_distances.png")
plt.show()

copies = pd.DataFrame({"set": ["real_heldout"] + list(MODELS),
                       "median_nn_l2": [float(np.median(d)) for d in data],
                       "copy_share_ratio": [ratio_copy_share(ref_nn, COPY_RATIO)]
                       + [ratio_copy_share(nn[m], COPY_RATIO) for m in MODELS],
                       "copy_share_l2": [l2_copy_share(ref_nn, thr)] + [l2_copy_share(nn[m], thr) for m in MODELS]})
mem_note, in_subset, mem_rows = "", None, []
if "train_index" in logs["memorizer"]:  # trained here (not an imported folder)
    mem_rows = rows_of(real_train.index, np.asarray(logs["memorizer"]["train_index"]))
    in_subset = float(np.isin(load_eval(cfg, "memorizer")["nn_index"][:, 0], mem_rows).mean())
    mem_note = (f" The memorizer trained on {len(mem_rows)} images; {100 * in_subset:.0f}% of its samples' nearest "
                f"neighbours are among them (chance: {100 * len(mem_rows) / len(real_train):.1f}%).")
save_table(copies, out / "table_copies",
           note=f"{scale}. Ratio test: d1 < d2 * {COPY_RATIO:.3g} or d1 = 0; L2 threshold {thr:.3f} = "
                f"{COPY_PERCENTILE:g}st percentile of real_heldout's nearest-training distance.{mem_note}")
display(copies)  # noqa: F821

# %% [markdown]
# The memorizer's first samples (top row of each pair) above their nearest training images
# (bottom), and the same for `ddpm_l`, the same network trained on all of `real_train`, as the
# contrast. Titles give the pixel distance and the ratio d1/d2.

# %%
n_pairs = 12
fig, axes = plt.subplots(2, 1, figsize=(12, 4.2))
for ax, m in zip(axes, ["memorizer", "ddpm_l"]):
    e = load_eval(cfg, m)
    s = first_images(cfg, m, n_pairs)
    nbr = np.concatenate([real_train.get(i, i + 1) for i in e["nn_index"][:n_pairs, 0]])
    ax.imshow(image_grid(np.concatenate([s, nbr]), ncols=len(s), pad=2, pad_value=255), cmap="gray",
              interpolation="nearest")
    d = e["nn_dist"][:n_pairs]
    ax.set_title(f"{m}: samples (top) vs nearest real_train (bottom); d1 = "
                 + ", ".join(f"{x:.1f}" for x in d[:, 0]) + "; d1/d2 = "
                 + ", ".join(f"{x:.2f}" for x in d[:, 0] / np.maximum(d[:, 1], 1e-12)), fontsize=7, loc="left")
    ax.axis("off")
fig.tight_layout()
save_figure(fig, out / "fig_memorizer_neighbours.png")
plt.show()

# %% [markdown]
# ## GAN training snapshots
#
# FID (ImageNet features) of each GAN snapshot's samples against `real_heldout`, over training.
# Snapshots have fewer samples than the final model (see `n`), so their FID carries a larger
# small-sample bias; compare snapshots with each other, not with the table.

# %%
snaps = snapshot_fids(cfg, "gan", "real_heldout")
if len(snaps):
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(snaps["step"], snaps["FID_effnet"], "o-")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"FID ({index['extractor']})")
    ax.set_title(f"GAN snapshots vs real_heldout (n = {int(snaps['n'].iloc[0])} per snapshot)")
    fig.tight_layout()
    save_figure(fig, out / "fig_gan_snapshots.png")
    plt.show()
    save_table(snaps, out / "table_gan_snapshots", note=f"{scale}. FID of each snapshot's samples vs real_heldout.")
display(snaps)  # noqa: F821

# %%
metrics = {
    "profile": cfg.profile, "extractor": index["extractor"], "resolution": index["resolution"],
    "reference": "real_heldout", "reference_count": len(real_heldout),
    "zoo_table": {r["set"]: {k: (None if isinstance(v, float) and np.isnan(v) else v)
                             for k, v in r.items() if k != "set"} for r in table.to_dict("records")},
    "copy_threshold_l2": thr, "copy_ratio": COPY_RATIO,
    "copies": {r["set"]: {k: v for k, v in r.items() if k != "set"} for r in copies.to_dict("records")},
    "memorizer_nn_in_training_subset": in_subset, "memorizer_subset_size": len(mem_rows),
    "gan_snapshots": snaps.to_dict("records"),
}
if clf_log is not None:
    metrics["classifier_heldout_accuracy"] = clf_log["heldout_accuracy"]
    metrics["class_tv_from_real_heldout"] = tv
save_metrics(cfg.results / "metrics" / "zoo.json", metrics)
print(json.dumps({k: metrics[k] for k in ("copy_threshold_l2", "memorizer_nn_in_training_subset")}, indent=1))
