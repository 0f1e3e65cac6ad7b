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
# # Distribution classification: same distribution, real vs generated, training size (paper 3, Sec. 5)
#
# **The paper.** A classifier is trained to tell which distribution an image comes from. Two disjoint
# sample sets of *one* distribution give ~50% (Table 1: U-ViT vs U-ViT, EDM vs EDM, 50.1-50.8%), which
# validates the task; real vs generated gives 96-99.96% for ResNet-50, ConvNeXt-T and ViT-S although the
# models have FID 1.8-3.1 (Table 2; StyleGAN-XL, Table 14: 96.9-99.95%); accuracy grows with the number of
# training images (Fig. 2; > 99.5% at 50k per distribution). 100k train / 50k val images per distribution
# on ImageNet, 224-px crops, Table 11's recipe (200 epochs, 8 V100s).
#
# **Mini (settings fixed before any run, `params.yaml` -> `distclass`).** The zoo's AnimalShape generators
# (28 px, gray) against `real_heldout` (never seen by a generator); 500 val + 1,500 train images per
# distribution; the trio scaled to 28 px (timm definitions, random init) and Table 10/11's recipe at a
# CPU-sized number of epochs. Table 1 uses two disjoint halves (500 + 500 each) of `real_heldout` (the
# zoo's `real_half_a` / `real_half_b`) and of two models' samples. Every run is trained by the `dc_runs`
# stage (this notebook only reads them). Accuracy: validation top-1 with an exact 95% interval and the
# one-sided p-value against chance (classifier two-sample test, n·acc ~ Binomial(n, 1/2) under H0).

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
from beyondfid.distclass.experiments import stage_results
from beyondfid.distclass.tables import (PAPER_FIG2_NOTE, PAPER_ROW_T2, binary_claims, records, sweep, table1,
                                        table2)
from beyondfid.report import save_figure, save_metrics, save_table
from beyondfid.distclass.tables import model_fids

cfg = load_config(profile, params_path, root)
D = cfg.params.distclass
B = D.binary
out = cfg.results / "dc_binary"
out.mkdir(parents=True, exist_ok=True)
specs, results = stage_results(cfg, "dc_binary")
fids = model_fids(cfg).set_index("set")["FID_effnet"].to_dict()
scale = (f"Scale: {cfg.profile} profile; {D.task.n_val} val images per distribution; archs "
         + "; ".join(f"{k}={a.kind}({a.widths or a.embed_dim}/{a.depths or a.depth})" for k, a in D.archs.items())
         + f"; {D.train.epochs:g} epochs of batch {D.train.batch_size}, lr {D.train.lr:g}. Paper: ImageNet 100k/50k "
         f"images per distribution, 224 px, 200 epochs.")
print(f"{len(specs)} runs; {scale}")

# %% [markdown]
# ## Table 1: the same distribution on both sides -> chance

# %%
t1 = table1(specs, results, B.same_model_names)
save_table(t1, out / "table1_same_distribution", note=scale + " Rows: two disjoint halves of one pool.")
t1

# %% [markdown]
# ## Table 2 (and Table 14): real vs each generator, FID beside accuracy

# %%
t2 = table2(specs, results, fids, PAPER_ROW_T2)
save_table(t2, out / "table2_real_vs_generated", note=scale + " FID_effnet: the zoo's FID (EfficientNet-Lite0, "
           "2,000 samples vs real_heldout). Paper rows: the zoo role each model stands in for.")
t14 = t2[t2["model"] == "gan"]
save_table(t14, out / "table14_gan", note=scale + " The GAN (StyleGAN2 stand-in) against the real class.")
t2

# %%
wide = t2.pivot(index="model", columns="arch", values="acc_%").reindex(B.model_names)[list(B.arch_names)]
fig, ax = plt.subplots(figsize=(7.5, 3.8))
for arch, g in t2.groupby("arch"):
    ax.scatter(g["FID_effnet"], g["acc_%"], label=arch, s=30)
for _, r in t2[t2["arch"] == B.arch_names[0]].iterrows():
    ax.annotate(r["model"], (r["FID_effnet"], r["acc_%"]), fontsize=7, xytext=(3, -9), textcoords="offset points")
ax.axhline(50, color="gray", ls=":", lw=1)
ax.set_xlabel("FID (EfficientNet-Lite0) of the generator vs real_heldout")
ax.set_ylabel("validation accuracy, real vs generator (%)")
ax.set_title(f"Real vs generated: accuracy against FID ({cfg.profile})", fontsize=10)
ax.legend(fontsize=8)
save_figure(fig, out / "fig_accuracy_vs_fid.png")
plt.show()

# %% [markdown]
# ## Fig. 2: accuracy against the number of training images per distribution

# %%
sw = sweep(specs, results)
save_table(sw, out / "fig2_training_size", note=scale + f" {B.sweep_arch}, {B.real} vs {B.sweep_model}; seeds "
           f"{B.seeds} (training seed; the split is fixed). " + PAPER_FIG2_NOTE)
raw = pd.DataFrame(records([s for s in specs if s.tag == "fig2"], results))
fig, ax = plt.subplots(figsize=(6, 3.6))
sns.lineplot(data=raw.assign(acc=100 * raw["accuracy"]), x="n_train", y="acc", errorbar="sd", err_style="bars",
             marker="o", ax=ax)
ax.scatter(raw["n_train"], 100 * raw["accuracy"], s=8, color="k", zorder=3, label="single seeds")
ax.set_xscale("log")
ax.set_xticks(list(B.size_list), [str(n) for n in B.size_list])
ax.minorticks_off()
ax.legend(fontsize=8)
ax.set_xlabel("training images per distribution (log)")
ax.set_ylabel("validation accuracy (%)")
ax.set_title(f"Fig. 2 ({cfg.profile}): {B.sweep_arch}, {B.real} vs {B.sweep_model}; mean ± sd over {len(B.seed_list)} seeds",
             fontsize=9)
save_figure(fig, out / "fig2_training_size.png")
plt.show()
sw

# %% [markdown]
# ## Training curves (did the runs converge?)

# %%
fig, axes = plt.subplots(1, len(B.arch_names), figsize=(4 * len(B.arch_names), 3), sharey=True, squeeze=False)
for ax, arch in zip(axes[0], B.arch_names):
    for s in specs:
        if s.tag == "table2" and s.arch_name == arch:
            h = np.array(results[s.run_id].history)
            ax.plot(h[:, 0], h[:, 1], lw=1, label=s.task.class_names[1])
    ax.set_title(arch, fontsize=9)
    ax.set_xlabel("step")
axes[0][0].set_ylabel("training loss (label-smoothed CE)")
axes[0][-1].legend(fontsize=7)
save_figure(fig, out / "fig_training_curves.png")
plt.show()

# %%
metrics = {
    "profile": cfg.profile,
    "table1_acc": {f"{r['classes']}|{r['arch']}": r["acc_%"] for _, r in t1.iterrows()},
    "table1_max_abs_dev_from_50": float((t1["acc_%"] - 50).abs().max()),
    "table2_acc": {f"{r['model']}|{r['arch']}": r["acc_%"] for _, r in t2.iterrows()},
    "table2_min_acc": float(t2["acc_%"].min()),
    "fig2_mean_acc": {int(r["n_train"]): r["acc_mean_%"] for _, r in sw.iterrows()},
    "train_seconds": float(pd.DataFrame(records(specs, results))["train_seconds"].sum()),
    **binary_claims(t1, t2, sw),  # the summary the report's claim rules read
}
save_metrics(cfg.results / "metrics" / "dc_binary.json", metrics)
metrics
