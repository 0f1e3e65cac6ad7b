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
# **The paper** shows clusters of BigGAN samples that FINC singles out against ImageNet and that
# are memorized ("hamburgers", "yellow fields"): under each cluster, the closest training images
# are near-identical (qualitative; no numbers are given).
#
# **The mini run** (fixed before looking at any outcome): FINC with the zoo's `memorizer` (the
# ddpm_l network trained on a few hundred images until it copies them) as the test set and the
# real held-out images as the reference, on the zoo_eval features, with the paper's r = 2,000 and
# η = 1, the median-heuristic σ and the top 25 samples per mode. Below each mode's top samples:
# the nearest `real_train` image (pixel L2, from zoo_eval's `nn_index`). A sample counts as a
# **copy** if its nearest training image is much closer than the second nearest,
# d1 < `copy_ratio` · d2 (`beyondfid.finc.model_bias.copy_mask`, ratio 1/3). Expected: the
# memorizer's top modes are mostly copies, more than its samples overall and far more than a
# non-memorizing model (`contrast_model` = ddpm_l, run the same way).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.data import DataError, load_imageset
from beyondfid.finc import finc_kwargs
from beyondfid.finc.memorization import (
    memorization_figure,
    memorization_metrics,
    memorization_modes_table,
    memorization_table,
    nn_ratio_frame,
    run_memorization,
)
from beyondfid.finc.model_bias import rows_in_subset
from beyondfid.report import save_figure, save_metrics, save_table
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
print(P)

# %%
runs = []
for m in models:
    ev = load_eval(cfg, m)
    runs.append(run_memorization(m, ev[P.feature], real[P.feature], ev["nn_dist"], ev["nn_index"],
                                 finc_kwargs(P, cfg.params.seed), P.copy_ratio, train_rows))
    print(f"{m}: sigma={runs[-1].result.sigma:.3f}, {runs[-1].result.n_positive} positive eigenvalues, copies "
          f"among all samples: {runs[-1].copies.mean():.1%} {runs[-1].result.message}")

# %% [markdown]
# ## Memorized clusters and their nearest training images (the paper's Fig. 11 layout)

# %%
for r in runs:
    if real_train is None or r.result.k == 0 or not (dirs["models"] / r.model / "samples.npz").is_file():
        continue
    fig = memorization_figure(r, load_samples(dirs["models"] / r.model), real_train.images, P.modes_shown,
                              min(P.samples_shown, P.top_samples))
    save_figure(fig, out / f"fig_modes_{r.model}.png")
    plt.show()

# %% [markdown]
# ## How much of each mode is copied?

# %%
per_mode = memorization_modes_table(runs, P, cfg.profile)
save_table(per_mode, out / "table_modes")
per_mode

# %%
summary = memorization_table(runs, real.get("nn_dist"), P, cfg.profile,
                             n_train=int(train_rows.sum()) if train_rows is not None else None)
save_table(summary, out / "table_memorization")
summary

# %% [markdown]
# ## The copy test's statistic, d1 / d2, per set
# Copies sit left of the dotted line (d1 < `copy_ratio` · d2); real held-out images show the
# test's false-positive level.

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
sns.histplot(nn_ratio_frame(runs, real.get("nn_dist")), x="d1 / d2", hue="set", stat="density", common_norm=False,
             element="step", bins=40, binrange=(0, 1), ax=ax)
ax.axvline(P.copy_ratio, color="k", ls=":", lw=1)
ax.set_title(f"Nearest / second-nearest real_train distance (pixel L2); copy if d1 < {P.copy_ratio:g} d2", fontsize=9)
save_figure(fig, out / "fig_nn_ratio.png")
plt.show()

# %%
metrics = memorization_metrics(summary, P, cfg.profile)
save_metrics(cfg.results / "metrics" / "finc_memorization.json", metrics)
metrics
