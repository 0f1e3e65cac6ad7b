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
# # Replacing vs augmenting real data with generated data (paper 3, Sec. 7.2, Fig. 6, Table 8)
#
# **The paper** samples EDM class-conditionally to the size of CIFAR-10 (EDM_S) and trains a
# CIFAR-10 classifier with a share alpha of the real training set *replaced* by EDM_S images, or
# with alpha x 50k EDM_S images *added*; test on CIFAR-10's test set (Fig. 6: replacing loses
# accuracy steadily as alpha grows, augmenting helps for most alpha). Semi-supervised (Table 8,
# 4 labels per class): FlexMatch and FreeMatch error rates rise when the unlabelled data are
# replaced by EDM_S (4.97 -> 5.85, 4.90 -> 5.94) and fall when EDM_S is added (DPT with
# FreeMatch: 4.68). Claim: replacing hurts, augmenting helps.
#
# **Here** (`params.yaml`, `distclass.augment`, fixed before any run): real = `real_train`
# (8,000 AnimalShape images); generated = the zoo's class-conditional UNet (`ddpm_cond`), 8,000
# images whose labels are their conditioning; test = `real_heldout`. Supervised: the zoo's
# AnimalShape classifier with the same number of steps in every run, alpha in {0, .25, .5, .75,
# 1}, 3 seeds; the mix is class by class. Semi-supervised: FreeMatch and FlexMatch
# (`beyondfid.distclass.semisup`, their adaptive thresholds as in their papers) on the FixMatch
# skeleton with 25 labels per class (CIFAR-10's 250-label setting; 4 per class needs ~1M steps)
# for 300 steps, unlabelled = real_train (*), as many generated images instead (†), or both (‡);
# the labelled images are always real. Both trainings run in channels-last layout and bf16
# autocast where the CPU has it (`precision: auto`; Table 8's float32 runs of 2026-12-02 and Fig.
# 6's contiguous-layout runs of 2026-12-04 are in the README). DPT's ‡ row adds
# the generated images as pseudo-labelled data; here, as the issue asks, they join the unlabelled set.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.distclass.augment import (fig6_table, load_sets, run_mixing, run_semisup, summarise_mixing,
                                         table8)
from beyondfid.distclass.tables import augment_claims
from beyondfid.report import image_grid, save_figure, save_metrics, save_table
from beyondfid.zoo.training import resolve_precision

cfg = load_config(profile, params_path, root)
P = cfg.params.distclass.augment
out = cfg.results / "dc_augment"
out.mkdir(parents=True, exist_ok=True)
real, synth, test = load_sets(cfg)
print(f"real_train {len(real)}, {P.synthetic} labelled {len(synth)}, test {P.test} {len(test)}; "
      f"classes {real.class_names}")
print("generated images per class:", np.bincount(synth.labels, minlength=len(real.class_names)).tolist())

# %% [markdown]
# ## The generated set, class by class (its labels are the conditioning)

# %%
k = 8
rows = [synth.images[np.flatnonzero(synth.labels == c)[:k]] for c in range(len(real.class_names))]
real_rows = [real.images[np.flatnonzero(real.labels == c)[:k]] for c in range(len(real.class_names))]
fig, axes = plt.subplots(1, 2, figsize=(10, 6.5))
for ax, r, title in zip(axes, (real_rows, rows), ("real_train", f"{P.synthetic} (conditioned on the row's class)")):
    ax.imshow(image_grid(np.concatenate(r), ncols=k), cmap="gray", interpolation="nearest")
    ax.set_yticks([(i + 0.5) * 29 for i in range(len(r))], real.class_names, fontsize=8)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig_generated_by_class.png")
plt.show()

# %% [markdown]
# ## Fig. 6: replacing vs augmenting (supervised)

# %%
C = P.classifier
runs = run_mixing(real, synth, test, P.alpha_list, P.seed_list, C, cfg.artifacts / "dc_augment" / "mix",
                  workers=P.workers, threads=P.threads, progress=True)
summary = summarise_mixing(runs)
scale = (f"{cfg.profile}: {len(real)} real_train, {len(synth)} generated, test {len(test)} {P.test}; AnimalCNN "
         f"width {C.width}, {C.n_steps} steps of {C.batch_size}, {resolve_precision(C.precision)}, channels-last")
save_table(runs, out / "runs_fig6", note=f"Scale: {scale}. One row per run.")
fig6 = fig6_table(summary, scale)
save_table(fig6, out / "fig6_replace_vs_augment",
           note=f"Scale: {scale}. Mean ± std (ddof 1) over seeds {P.seeds}. Paper: CIFAR-10 + EDM_S, ConvNeXt recipe.")
fig, ax = plt.subplots(figsize=(5.2, 3.6))
for mode, color in (("replace", "tab:red"), ("augment", "tab:blue")):
    s = summary[summary["mode"] == mode]
    ax.errorbar(s["alpha"], 100 * s["mean"], yerr=100 * s["std"], marker="o", capsize=3, color=color,
                label=f"{mode} (mean ± std, {len(P.seed_list)} seeds)")
ax.set_xlabel(f"alpha (share of real_train replaced by / added from {P.synthetic})")
ax.set_ylabel(f"accuracy on {P.test} (%)")
ax.legend(fontsize=8)
ax.set_title("Fig. 6 (mini): replacing vs augmenting", fontsize=10)
fig.tight_layout()
save_figure(fig, out / "fig6_replace_vs_augment.png")
plt.show()
fig6

# %% [markdown]
# ## Table 8: semi-supervised

# %%
S = P.semisup
semi = run_semisup(real, synth, test, S, P.seed_list, cfg.artifacts / "dc_augment" / "semisup",
                   workers=P.workers, threads=P.threads, progress=True)
sscale = (f"{cfg.profile}: {S.labels_per_class} labels per class, {S.n_steps} steps, B={S.batch_size}, "
          f"mu={S.uratio}, AnimalCNN width {S.width}, {resolve_precision(S.precision)}, channels-last")
save_table(semi, out / "runs_table8", note=f"Scale: {sscale}. One row per run.")
t8 = table8(semi, sscale)
save_table(t8, out / "table8_semisup",
           note=f"Scale: {sscale}. Error rate on {P.test}, mean ± std over seeds {P.seeds}. * real unlabelled, "
                f"† unlabelled replaced by {P.synthetic}, ‡ real unlabelled + {P.synthetic}. Paper: CIFAR-10, 4 labels "
                f"per class (FlexMatch‡ not reported).")
fig, ax = plt.subplots(figsize=(6, 3.4))
sns.barplot(data=semi.assign(error=100 * semi["error"]), x="algorithm", y="error", hue="variant",
            errorbar="sd", ax=ax, palette="Set2")
ax.set_ylabel(f"error on {P.test} (%), mean ± std")
ax.set_title("Table 8 (mini): semi-supervised, unlabelled data real / replaced / augmented", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig_table8.png")
plt.show()
t8

# %%
metrics = {"fig6": {f"{r['mode']}_{r['alpha']:g}": {"mean": r["mean"], "std": r["std"]}
                    for _, r in summary.iterrows()},
           "table8": {f"{a}_{v}": {"mean": float(g["error"].mean()), "std": float(g["error"].std(ddof=1))}
                      for (a, v), g in semi.groupby(["algorithm", "variant"])},
           "train_seconds_total": float(runs["train_seconds"].sum() + semi["train_seconds"].sum()),
           "runs": int(len(runs) + len(semi)), **augment_claims(summary)}
save_metrics(cfg.results / "metrics" / "dc_augment.json", metrics)
metrics
