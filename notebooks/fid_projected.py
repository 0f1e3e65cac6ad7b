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
# # ImageNet-pretrained discriminators fool FID (paper 2, Sec. 4: Fig. 7 / Fig. 16)
#
# **The paper.** Projected FastGAN, whose discriminator sees ImageNet-pretrained EfficientNet features,
# reaches a lower FID than StyleGAN2 on FFHQ (4.71 vs 5.63) at similar recall (0.42 vs 0.46), but its
# samples have more artifacts, and FID_CLIP (4.87 vs 2.90) and humans prefer StyleGAN2: part of its FID
# gain is in FID's perceptual null space.
#
# **Mini (settings fixed before running; `params.yaml` `fid_projected`, `fid_features.compare_n`).** The
# zoo's `projected_gan` (discriminator on frozen EfficientNet-Lite0 features) against the GAN training
# snapshot -- or the final GAN -- whose FID is closest at the same sample count (500: the snapshots hold 500
# samples each), both against all of `real_train`. Reported: FID, FD in both second-opinion spaces
# (SimCLR, MAE), improved precision and recall (FID space, k = 3), and -- because mini's FID network *is*
# the discriminator's backbone, a stronger leak than the paper's EfficientNet-vs-Inception -- FD in a
# sibling ImageNet network (EfficientNet-Lite1), which separates "same network" from "ImageNet features".
# This comparison runs on today's `projected_gan`; it re-runs when the zoo's projected GAN changes.

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

from beyondfid.config import load_config
from beyondfid.fidclasses.projected import comparison_table, select_comparison
from beyondfid.fidclasses.sets import World
from beyondfid.fidclasses.tables import fig7_table
from beyondfid.report import image_grid, save_figure, save_metrics, save_table

t_start = time.perf_counter()
cfg = load_config(profile, params_path, root)
P, F, J = cfg.params.fidclasses, cfg.params.fid_features, cfg.params.fid_projected
out = cfg.results / "fid_projected"
out.mkdir(parents=True, exist_ok=True)
world = World(cfg)
n = F.compare_n
scale = (f"Scale: {cfg.profile} profile; {n} images per model vs all {P.real}; FID = "
         f"{cfg.params.features.extractor} @ {cfg.params.features.resolution} px")
print(scale)

# %% [markdown]
# ## Which GAN snapshot matches the projected GAN's FID?

# %%
chosen, selection = select_comparison(world, n)
save_table(selection, out / "table_snapshot_selection", note=f"{scale}. The closest in FID is compared below.")
print(f"compared with: {chosen}")
selection

# %% [markdown]
# ## Fig. 7's numbers

# %%
comp = comparison_table(world, chosen, n, F.sibling, J.pr_k)
table = fig7_table(comp, P.projected, chosen, world.primary)
ratio = table[table["model"].str.startswith("ratio")].iloc[0].drop(["model", "n"]).astype(float).to_dict()
save_table(table, out / "table_fig7",
           note=f"{scale}. The paper's FID_CLIP is put in the FD_{world.primary} column (its role here). FD_{F.sibling}: "
                f"the sibling network, against the first {F.sibling_real} {P.real} rows. A ratio < 1 favours "
                f"{P.projected}.")
table

# %% [markdown]
# ## Samples side by side (uncurated: the first images of each)

# %%
k = min(J.grid_n, n)
fig, ax = plt.subplots(1, 2, figsize=(10, 5.4))
for a, name in zip(ax, (P.projected, chosen)):
    row = comp[comp["model"] == name].iloc[0]
    a.imshow(image_grid(world.images(name, n=k), ncols=int(np.ceil(np.sqrt(k)))), cmap="gray")
    a.set_title(f"{name}: FID {row['FID']:.1f}, FD_{world.primary} {row[f'FD_{world.primary}']:.3g}, "
                f"recall {row['recall']:.2f}", fontsize=8)
    a.axis("off")
fig.suptitle(f"Fig. 7 ({cfg.profile}): a discriminator on ImageNet features vs the GAN at the closest FID", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig7_samples.png")
plt.show()

# %%
metrics = {"profile": cfg.profile, "compared_with": chosen, "n": n, "ratios": ratio,
           "projected": comp.iloc[0].drop("model").to_dict(), "gan": comp.iloc[1].drop("model").to_dict(),
           "fid_wins": bool(ratio["FID"] < 1.0),
           "second_opinion_wins": {s: bool(ratio[f"FD_{s}"] < 1.0) for s in world.spaces},
           "sibling_wins": bool(ratio[f"FD_{F.sibling}"] < 1.0), "seconds": time.perf_counter() - t_start}
save_metrics(cfg.results / "metrics" / "fid_projected.json", metrics)
metrics
