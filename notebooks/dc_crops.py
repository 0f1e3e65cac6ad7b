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
# # Where in the image is the difference? Crops (paper 3, Sec. 7.1, Table 7, Fig. 7)
#
# **The paper** trains ResNet-50 from scratch to tell U-ViT-H/2 samples from ImageNet-256 after
# cropping both: centre crops of 128, 64, 32 and 16 px, and random crops of 128 and 64 px (four
# per training image, results over four trials). Every crop stays at >= 99.78%: "classifiers can
# reliably distinguish real and generated images using any spatial part of the image".
#
# **Here** (settings in `params.yaml`, `distclass.crops`, fixed before any run): `real_heldout`
# vs the zoo's U-ViT, the issue-13 ResNet and recipe (`distclass.archs.resnet`,
# `distclass.train`). The paper's sides are carried to our 28-px images by the same fraction:
# 128 -> 14, 64 -> 7, 32 -> 3.5 -> 4 px; 16 px would be 1.75 px, below 2 px, so that row is not
# run. Crops are resized back to 28 px by the shared pixel path (as the paper's go to the
# network's 224 px). A random-crop run trains as many steps as the others (epochs / 4 over its
# four-fold training set); its validation images get one random crop each; four trials = four
# seeds (crop positions, initialisation, batches).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle
import numpy as np

from beyondfid.config import load_config
from beyondfid.distclass.crops import center_crop, random_boxes
from beyondfid.distclass.diagnose import Setting, SettingRun, check_mappings, crops_table, run_settings, setting_recipe
from beyondfid.distclass.pixels import load_pool, resize
from beyondfid.distclass.runs import RunSpec
from beyondfid.distclass.task import task_spec
from beyondfid.report import save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
D = cfg.params.distclass
P = D.crops
out = cfg.results / "dc_crops"
out.mkdir(parents=True, exist_ok=True)
mapping = check_mappings(P, D.frequency, cfg.profile)   # params.yaml's sides = the paper's by the same fraction
for kind in ("center", "random"):
    for m in mapping[kind]:
        print(f"{kind} {m.paper_size}/{m.paper_image} px -> {m.exact:g} px at {P.image} -> "
              f"{m.size if m.runnable else 'below 2 px: not run'}")

# %% [markdown]
# ## Training the classifiers

# %%
spec = task_spec(cfg, [P.real, P.model], P.n_train)
settings = [Setting("none")] + [Setting("center", size=s) for s in P.center_sizes]
settings += [Setting("random", size=s, per_image=P.per_image, trial=t) for s in P.random_sizes for t in range(P.trials)]
runs = [SettingRun(RunSpec(spec, P.arch, D.archs[P.arch], setting_recipe(D.train, s), seed=s.trial, tag="crops"), s)
        for s in settings]
results = run_settings(cfg, runs, cfg.artifacts / "dc_crops" / "runs", workers=D.runner.workers,
                       threads=D.runner.threads)
rows = [{"setting": r.setting, "record": results[r.run_id].record, "side": P.image, "seconds":
         results[r.run_id].train_seconds, "steps": results[r.run_id].steps} for r in runs]

# %% [markdown]
# ## Table 7

# %%
table = crops_table(rows, mapping, scale=f"{cfg.profile}: {P.n_train} train + {D.task.n_val} val images per class, "
                                        f"{P.image} px, {P.arch}")
save_table(table, out / "table7_crops",
           note=f"Scale: {cfg.profile} profile. {P.real} vs {P.model}, {P.arch}. † centre crop, * random crop "
                f"({P.per_image} per training image, mean ± std over {P.trials} trials). Paper: U-H/2 vs I-256, "
                f"ResNet-50, 256-px images.")
table

# %% [markdown]
# ## Fig. 7: the crops
#
# Top: the crop windows on real and generated images (one colour per side: centre crops solid,
# the four random crops of one training image dashed). Bottom: what the classifier sees, each
# centre crop resized back to 28 px.

# %%
real = load_pool(cfg, P.real)[:2]
gen = load_pool(cfg, P.model)[:2]
imgs = np.concatenate([real, gen])
names = ["real", "real", P.model, P.model]
colors = plt.cm.viridis(np.linspace(0, 0.85, len(P.center_sizes)))
rcolors = plt.cm.autumn(np.linspace(0, 0.6, len(P.random_sizes)))
fig, axes = plt.subplots(2, len(imgs), figsize=(2.2 * len(imgs), 4.6))
for j, (im, name) in enumerate(zip(imgs, names)):
    ax = axes[0, j]
    ax.imshow(im[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    for s, c in zip(P.center_sizes, colors):
        o = (P.image - s) // 2
        ax.add_patch(Rectangle((o - 0.5, o - 0.5), s, s, fill=False, color=c, lw=1.5, label=f"{s}† px"))
    for s, c in zip(P.random_sizes, rcolors):
        tops, lefts = random_boxes(1, P.image, P.image, s, P.per_image, seed=j)
        for t, left in zip(tops[0], lefts[0]):
            ax.add_patch(Rectangle((left - 0.5, t - 0.5), s, s, fill=False, color=c, lw=1, ls="--"))
    ax.set_title(name, fontsize=9)
    ax.axis("off")
    strip = np.concatenate([resize(center_crop(im[None], s), P.image)[0, 0] for s in P.center_sizes], axis=1)
    axes[1, j].imshow(strip, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[1, j].set_title(" | ".join(f"{s}†" for s in P.center_sizes), fontsize=8)
    axes[1, j].axis("off")
handles = [Rectangle((0, 0), 1, 1, fill=False, color=c, lw=1.5) for c in colors]
handles += [Rectangle((0, 0), 1, 1, fill=False, color=c, lw=1, ls="--") for c in rcolors]
fig.legend(handles, [f"centre {s} px" for s in P.center_sizes] + [f"random {s} px" for s in P.random_sizes],
           loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
fig.suptitle(f"Fig. 7 (mini): crops of {P.image}-px images (the paper's 128/64/32 of 256 px)", fontsize=10)
fig.tight_layout(rect=(0, 0.06, 1, 1))
save_figure(fig, out / "fig7_crops.png")
plt.show()

# %%
metrics = {"accuracy": {r["setting"].label: r["record"].accuracy for r in rows},
           "not_run": [f"{m.paper_size} -> {m.exact:g} px" for k in ("center", "random") for m in mapping[k]
                       if not m.runnable],
           "train_seconds_total": float(sum(r["seconds"] for r in rows)), "runs": len(rows)}
save_metrics(cfg.results / "metrics" / "dc_crops.json", metrics)
metrics
