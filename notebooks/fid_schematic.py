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
# # How FID and its heatmaps are computed (paper 2, Figs 1 and 2), drawn from the pipeline's own data
#
# **The paper.** Fig. 1: real and generated images pass through Inception-V3; their pre-logit features
# (one affine map before the logits and class probabilities) are fitted with Gaussians, and FID is the
# Fréchet distance between them. Fig. 2: one generated image is added to the statistics of the others; the
# gradient of FID with respect to the last spatial feature maps weights those maps into a heatmap that is
# upsampled onto the image.
#
# **Mini.** The same two diagrams, but every panel is computed: a real AnimalShape image and a zoo GAN
# sample (row `fid_schematic.image_index` of each set), EfficientNet-Lite0's 1,280 pre-logits, its
# logits and Top-5 class probabilities, the two fitted Gaussians shown in the plane of the two leading
# principal directions of the pooled features (the ellipses are the exact 2-D marginals of the fitted
# 1,280-d Gaussians, 2 standard deviations), and the FID of the full Gaussians; then one image's 4 x 4
# maps, their Eq. 2 weights and the resulting heatmap. No hand-drawn shapes.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from beyondfid.config import load_config
from beyondfid.extractors import probabilities
from beyondfid.fidclasses.heatmaps import fid_gradcam, leave_one_out_gradients, overlay, spatial_maps, upsample
from beyondfid.fidclasses.sets import World, fd
from beyondfid.report import save_figure, save_metrics
from beyondfid.stats import compute_stats

cfg = load_config(profile, params_path, root)
P, S = cfg.params.fidclasses, cfg.params.fid_schematic
out = cfg.results / "fid_schematic"
out.mkdir(parents=True, exist_ok=True)
world = World(cfg)
real, gen = world.load(P.real), world.load(P.generated)
N = min(P.eval_size, len(gen))
gen = gen.take(np.arange(N))
i = min(S.image_index, N - 1, len(real) - 1)
names = world.class_names
img_r = world.images(P.real, idx=[i])[0]
img_g = world.images(P.generated, idx=[i])[0]
fid = fd(gen.features, real.features)
print(f"FID({P.generated} {N}, {P.real} {len(real)}) = {fid:.2f}")

# %% [markdown]
# ## Fig. 1: images -> pre-logits -> logits / probabilities; two Gaussians; FID

# %%
def ellipse(ax, mu2, cov2, color, label):
    w, v = np.linalg.eigh(cov2)
    ang = np.degrees(np.arctan2(v[1, -1], v[0, -1]))
    ax.add_patch(Ellipse(mu2, 4 * np.sqrt(w[-1]), 4 * np.sqrt(w[0]), angle=ang, fill=False, color=color, lw=2,
                         label=label))


both = np.concatenate([real.features, gen.features]).astype(np.float64)
center = both.mean(0)
_, _, vt = np.linalg.svd(both[:: max(1, len(both) // 4000)] - center, full_matrices=False)
proj = vt[:2].T  # d x 2: the two leading principal directions
fig = plt.figure(figsize=(13, 5.2))
gs = fig.add_gridspec(2, 4, width_ratios=[0.7, 1.3, 1.1, 1.5])
for row, (img, fs, label) in enumerate(((img_r, real, "real"), (img_g, gen, "generated"))):
    a = fig.add_subplot(gs[row, 0])
    a.imshow(img[0], cmap="gray")
    a.set_title(f"{label} image", fontsize=8)
    a.axis("off")
    a = fig.add_subplot(gs[row, 1])
    a.bar(np.arange(fs.features.shape[1]), fs.features[i], width=1.0, color="tab:blue" if row == 0 else "tab:orange")
    a.set_title(f"pre-logit features ({fs.features.shape[1]}-d), the FID space", fontsize=8)
    a.tick_params(labelsize=6)
    a = fig.add_subplot(gs[row, 2])
    p = probabilities(fs.logits[i:i + 1])[0]
    top = np.argsort(-p)[:5]
    a.barh(range(5)[::-1], p[top], color="gray")
    a.set_yticks(range(5)[::-1], [names[k][:18] for k in top], fontsize=7)
    a.set_title("logits -> softmax: Top-5 ImageNet classes", fontsize=8)
    a.tick_params(labelsize=6)
a = fig.add_subplot(gs[:, 3])
for fs, color, label in ((real, "tab:blue", f"real ({P.real})"), (gen, "tab:orange", f"generated ({P.generated})")):
    z = (fs.features[:500].astype(np.float64) - center) @ proj
    a.scatter(z[:, 0], z[:, 1], s=3, alpha=0.3, color=color)
    mu, sigma = compute_stats(fs.features, warn_singular=False)
    ellipse(a, (mu - center) @ proj, proj.T @ sigma @ proj, color, label)
a.legend(fontsize=7, loc="upper right")
a.set_title(f"fitted Gaussians (2-D marginals, 2 sd) in the top-2 PCA plane\nFID of the full Gaussians = {fid:.1f}",
            fontsize=8)
a.set_xlabel("PC 1")
a.set_ylabel("PC 2")
a.autoscale_view()
fig.suptitle(f"Fig. 1 ({cfg.profile}): how FID is computed, from the pipeline's data", fontsize=10)
fig.tight_layout()
save_figure(fig, out / "fig1_fid_overview.png")
plt.show()

# %% [markdown]
# ## Fig. 2: one image added to the statistics of the others; maps, weights, heatmap

# %%
mu_r, sigma_r = compute_stats(real.features, warn_singular=False)
g = leave_one_out_gradients(gen.features, mu_r, sigma_r)[i]
maps = spatial_maps(world.extractor, img_g[None])
alpha = (g / (maps.shape[2] * maps.shape[3])) ** 2
heat = fid_gradcam(maps, g[None])[0]
top_k = np.argsort(-alpha)[:4]
fig, axes = plt.subplots(1, 8, figsize=(15, 2.4))
axes[0].imshow(img_g[0], cmap="gray")
axes[0].set_title("generated image i", fontsize=8)
for a, k in zip(axes[1:5], top_k):
    a.imshow(maps[0, k], cmap="magma")
    a.set_title(f"map A^{k} ({maps.shape[2]}x{maps.shape[3]})\nα = {alpha[k]:.2e}", fontsize=7)
axes[5].imshow(heat, cmap="viridis")
axes[5].set_title("Σ_k α_k A^k (Eq. 2)", fontsize=8)
big = np.repeat(np.repeat(img_g, 4, axis=1), 4, axis=2)
h01 = np.clip(upsample((heat - heat.min()) / max(np.ptp(heat), 1e-12), big.shape[-1]), 0, 1)
axes[6].imshow(h01, cmap="viridis")
axes[6].set_title("Lanczos to image size", fontsize=8)
axes[7].imshow(overlay(big, h01))
axes[7].set_title("overlay", fontsize=8)
for a in axes:
    a.axis("off")
fig.suptitle(f"Fig. 2 ({cfg.profile}): FID of ({N - 1} others + image i) vs {P.real}, differentiated w.r.t. the "
             f"image's last feature maps", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig2_heatmap_method.png")
plt.show()

# %%
metrics = {"profile": cfg.profile, "fid": fid, "image_index": int(i),
           "top5_real": [names[k] for k in np.argsort(-probabilities(real.logits[i:i + 1])[0])[:5]],
           "top5_generated": [names[k] for k in np.argsort(-probabilities(gen.logits[i:i + 1])[0])[:5]],
           "map_grid": list(maps.shape[2:]), "alpha_top4": [int(k) for k in top_k]}
save_metrics(cfg.results / "metrics" / "fid_schematic.json", metrics)
metrics
