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
# # What does FID look at? (paper 2, Sec. 2: Figs 3, 4, 10, 11, 12)
#
# **The paper.** Precompute the real statistics and those of 49,999 StyleGAN2 images, add one more image
# with the rank-one update, differentiate FID with respect to Inception's last 8 x 8 x 2048 feature maps,
# weight each map by the spatial mean of its squared gradient (Eq. 2, no ReLU), upsample with Lanczos and
# overlay. On FFHQ the yellow regions sit outside the faces, where the image's ImageNet Top-1 class
# ("bow tie", "seat belt", ...) would be (Figs 3, 11); mean heatmaps per Top-1 class show the same
# (Figs 4b, 12); noising the important half of each image raises FID more than noising the other half
# (Fig. 10).
#
# **Mini (settings fixed before running; `params.yaml` `fid_heatmaps`).** FID = EfficientNet-Lite0 @ 128 px,
# whose last maps are 4 x 4 x 1280 (the choice is discussed at the end, with its cost). The evaluation set is
# the zoo GAN's 2,000 samples against `real_train`; each image's heatmap uses the other 1,999 as the
# precomputed set (so every image is "the one added", the update uses the old mean, and one
# eigendecomposition serves all 2,000: `beyondfid.fidclasses.heatmaps`). Pooling is a mean, so
# dFID/dA is dFID/df spread evenly over the positions and no backward pass through the network is needed.
# AnimalShape gives what FFHQ cannot: the exact subject mask (the silhouette). We report, fixed before
# running: the share of heatmap mass on the subject, and the agreement of the FID heatmap with the subject
# mask and with the Top-1 class's own Grad-CAM, measured by the **Spearman rank correlation over the
# 28 x 28 pixels** (primary) and the IoU of the top quarter of pixels (secondary). Per-class mean heatmaps
# are our extension (the official code has none).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.features import _forward
from beyondfid.extractors import get_extractor, probabilities
from beyondfid.fidclasses.heatmaps import (add_region_noise, agreement_table, compute_heatmaps, gradcam_controls_table,
                                           important_half, leave_one_out_gradients, map_size_table, noise_fid_table,
                                           oracle_map, overlay, subject_mask, to_image_size, upsample)
from beyondfid.fidclasses.sets import Reference, World
from beyondfid.fidclasses.tables import top1_shares
from beyondfid.report import save_figure, save_metrics, save_table
from beyondfid.stats import compute_stats

t_start = time.perf_counter()
cfg = load_config(profile, params_path, root)
P, H = cfg.params.fidclasses, cfg.params.fid_heatmaps
out = cfg.results / "fid_heatmaps"
out.mkdir(parents=True, exist_ok=True)
world = World(cfg)
ext = world.extractor
real = world.load(P.real)
gen = world.load(P.generated)
N = min(P.eval_size, len(gen))
gen = gen.take(np.arange(N))
images = world.images(P.generated, n=N)
names = world.class_names
mu_r, sigma_r = compute_stats(real.features, warn_singular=False)
scale = (f"Scale: {cfg.profile} profile; {N} {P.generated} samples vs {len(real)} {P.real} images; "
         f"{cfg.params.features.extractor} @ {cfg.params.features.resolution} px")
print(scale)

# %% [markdown]
# ## Heatmaps of every evaluation image (Eq. 2)

# %%
grads = leave_one_out_gradients(gen.features, mu_r, sigma_r)
w_cls = world.head[0]
if w_cls.shape[1] != gen.features.shape[1]:
    raise ValueError("head / feature dimension mismatch")
top1 = gen.top1
ranked = np.argsort(-gen.logits, axis=1, kind="stable")
controls = {"Top-2 class Grad-CAM": w_cls[ranked[:, 1]], "median-ranked class Grad-CAM": w_cls[ranked[:, 500]]}
hm = compute_heatmaps(ext, images, grads, w_cls[top1], progress=True, control_weights=controls)
# the maps' spatial means are the features the gradient was taken for (same pixel path as the cache)
feat_gap = float(np.abs(hm.pooled - gen.features).max())
print(f"map grid {hm.fid.shape[1:]}, max |pooled maps - cached features| = {feat_gap:.2e}")
assert feat_gap < 1e-3 * max(1.0, float(np.abs(gen.features).max())), "heatmap forward differs from the feature cache"
size = images.shape[-1]
fid01 = to_image_size(hm.fid, size)
cls01 = to_image_size(hm.cls, size)
prob = probabilities(gen.logits)
top3 = np.argsort(-prob, axis=1, kind="stable")[:, :3]

# %% [markdown]
# ## Figs 3 and 11: single-image heatmaps with the Top-3 ImageNet classes (the first images, uncurated)

# %%
def show_overlays(idx, fname, title, ncols=8, disp=112):
    rows = int(np.ceil(len(idx) / ncols))
    fig, axes = plt.subplots(2 * rows, ncols, figsize=(ncols * 1.6, rows * 3.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for j, i in enumerate(idx):
        r, c = divmod(j, ncols)
        img = images[i]
        big = np.repeat(np.repeat(img, disp // img.shape[-1], axis=1), disp // img.shape[-1], axis=2)
        heat = np.clip(upsample(hm.fid[i] - hm.fid[i].min(), big.shape[-1]) / max(np.ptp(hm.fid[i]), 1e-12), 0, 1)
        axes[2 * r, c].imshow(big.transpose(1, 2, 0).squeeze(), cmap="gray", vmin=0, vmax=255)
        axes[2 * r + 1, c].imshow(overlay(big, heat))
        label = "\n".join(f"{names[k][:14]} {100 * prob[i, k]:.0f}%" for k in top3[i])
        axes[2 * r, c].set_title(label, fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / fname)
    plt.show()


show_overlays(np.arange(min(H.n_show, N)), "fig3_heatmaps.png",
              f"FID heatmaps (yellow = FID most sensitive) with Top-3 ImageNet classes ({cfg.profile})")

# %% [markdown]
# ## Fig. 4a: Top-1 ImageNet classes of real and generated images

# %%
hist = top1_shares({f"real ({P.real})": real.top1, f"generated ({P.generated})": top1}, names, k=25)
fig, ax = plt.subplots(figsize=(9, 3.6))
sns.barplot(data=hist, x="class", y="share", hue="set", ax=ax)
ax.tick_params(axis="x", rotation=90, labelsize=7)
ax.set_title(f"Top-1 ImageNet class shares, the 25 most frequent real classes ({cfg.profile})", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig4a_top1_histogram.png")
plt.show()
save_table(hist, out / "table_fig4a_top1", note=f"{scale}.")

# %% [markdown]
# ## Figs 4b and 12: mean images and mean heatmaps, over all images and per frequent Top-1 class

# %%
freq = np.argsort(-np.bincount(top1, minlength=1000), kind="stable")[: H.classes_shown]
groups = [("all classes", np.arange(N))] + [(names[k], np.flatnonzero(top1 == k)) for k in freq]
fig, axes = plt.subplots(2, len(groups), figsize=(1.9 * len(groups), 4.0), squeeze=False)
for j, (label, idx) in enumerate(groups):
    mean_img = images[idx].astype(np.float64).mean(0).mean(0)
    mean_heat = fid01[idx].mean(0)
    axes[0, j].imshow(mean_img, cmap="gray")
    axes[0, j].set_title(f"{label[:16]}\n(n = {len(idx)})", fontsize=7)
    axes[1, j].imshow(mean_heat, cmap="viridis", vmin=0, vmax=max(float(mean_heat.max()), 1e-12))
    for a in axes[:, j]:
        a.axis("off")
fig.suptitle(f"Mean images (top) and mean FID heatmaps (bottom) ({cfg.profile})", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig4b_fig12_mean_heatmaps.png")
plt.show()

# %% [markdown]
# ## Quantified: does FID look at the subject or at the Top-1 class?
#
# Chance levels: a uniform map puts the subject's area share of its mass on the subject; the mask oracle
# (the silhouette averaged onto the same 4 x 4 grid) is the best agreement a map of this size can reach.

# %%
subject = world.cfg.params.data.source == "builtin"
if subject:
    mask = subject_mask(images, H.mask_threshold)
    oracle01 = to_image_size(oracle_map(mask, hm.fid.shape[1:]), size)
    agree = agreement_table(fid01, cls01, mask, oracle01, H.top_fraction)
    save_table(agree, out / "table_subject_agreement",
               note=f"{scale}. Subject = silhouette pixels >= {H.mask_threshold}. Means over {N} images at "
                    f"{size} x {size} px. Primary measure (fixed before running): Spearman rank correlation.")
else:
    agree = pd.DataFrame()
    print("no subject masks for image folders (paper profile): only the Grad-CAM agreement is available")
agree

# %% [markdown]
# Controls for "the FID heatmap is the Top-1 class's region": any two non-negative mixtures of the same
# maps correlate, so the FID heatmap is also compared with the Grad-CAM of the image's 2nd and of its
# median-ranked (rank 500) class, and with the plain channel mean of the maps (where the network is active).

# %%
ctrl = gradcam_controls_table(fid01, {"Top-1 class Grad-CAM": cls01,
                                       **{k: to_image_size(v, size) for k, v in hm.extra.items()}},
                              mask if subject else None, H.top_fraction)
save_table(ctrl, out / "table_gradcam_controls",
           note=f"{scale}. Spearman rank correlation over the {size} x {size} pixels, mean over {N} images.")
ctrl

# %% [markdown]
# ## Fig. 10: noise in the important vs the unimportant half of each image

# %%
n_noise = min(H.noise_images, N)
imp = important_half(fid01[:n_noise])
rand_half = important_half(np.random.default_rng(P.seed).random(imp.shape))  # control: a random equal-area half
regions = {"important half": imp, "unimportant half": ~imp, "random half (control)": rand_half,
           "everywhere": np.ones_like(imp)}
base_img = images[:n_noise]
ref_real = Reference(mu_r, sigma_r)


def fid_of(imgs: np.ndarray) -> float:
    return ref_real.fd(np.concatenate([_forward(ext, imgs[lo:lo + 500])["features"] for lo in range(0, len(imgs), 500)]))


fig10 = noise_fid_table(base_img, regions, H.noise_scale_list, fid_of, seed=P.seed)
save_table(fig10, out / "table_fig10_noise", note=f"{scale}; the first {n_noise} samples noised, FID vs {P.real}.")
fig, ax = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1.2, 1]})
sns.lineplot(data=fig10, x="noise std", y="FID", hue="region", marker="o", ax=ax[0])
ax[0].set_title(f"FID vs noise scale ({n_noise} images)", fontsize=9)
show_sigma = H.noise_scale_list[0]
ex = 0
strip = [base_img[ex]] + [add_region_noise(base_img[ex:ex + 1], reg[ex:ex + 1], show_sigma, P.seed)[0]
                          for reg in regions.values()]
panel = np.concatenate([np.pad(s[0], 1, constant_values=255) for s in strip], axis=1)
ax[1].imshow(panel, cmap="gray", vmin=0, vmax=255)
ax[1].set_title(f"clean | important | unimportant | random | everywhere (std {show_sigma})", fontsize=8)
ax[1].axis("off")
fig.tight_layout()
save_figure(fig, out / "fig10_noise.png")
plt.show()
fig10

# %% [markdown]
# ## Is a 4 x 4 map enough? (map size vs cost)
#
# The heatmap must explain the FID we report, which is computed at 128 px (4 x 4 maps); a 224 px input
# (7 x 7 maps) would explain a different FID. Below: the cost of the forward pass at both sizes, and the
# ceiling each grid allows (Spearman of the mask oracle with the mask).

# %%
t_imgs = images[: min(H.timing_images, N)]
res = cfg.params.features.resolution
nets = {res: ext}
if ext.name.startswith("effnet"):  # Inception (paper profile) runs at 299 px only
    nets[224] = get_extractor(cfg.params.features.extractor, resolution=224, weights=cfg.params.weights, root=cfg.root)
timing = map_size_table(nets, t_imgs, mask if subject else None, size)
save_table(timing, out / "table_map_size", note=f"{scale}. Forward to the last maps, {len(t_imgs)} images, "
                                                 "this machine (timings are indicative).")
timing

# %%
metrics = {"profile": cfg.profile, "images": N, "map_grid": list(hm.fid.shape[1:]), "feature_gap": feat_gap,
           "fig10": fig10.to_dict("records"), "map_size": timing.to_dict("records"),
           "gradcam_controls": ctrl.to_dict("records"),
           "seconds": time.perf_counter() - t_start}
if subject:
    a = agree.set_index("map")
    metrics["subject"] = {
        "fid_mass_on_subject": float(a.loc["FID heatmap (Eq. 2)", "mass on subject"]),
        "subject_area": float(a.loc["FID heatmap (Eq. 2)", "subject area"]),
        "fid_spearman_mask": float(a.loc["FID heatmap (Eq. 2)", "Spearman with mask"]),
        "fid_spearman_gradcam": float(a.loc["FID heatmap (Eq. 2)", "Spearman with Top-1 Grad-CAM"]),
        "gradcam_spearman_mask": float(a.loc["Top-1 class Grad-CAM", "Spearman with mask"]),
        "oracle_spearman_mask": float(a.loc["mask oracle (same grid)", "Spearman with mask"]),
    }
save_metrics(cfg.results / "metrics" / "fid_heatmaps.json", metrics)
metrics
