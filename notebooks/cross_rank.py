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
# # Q3: do the three judges rank the zoo the same way?
#
# **The question.** Each paper proposes a way to judge a generator: FID and its alternatives in other feature
# spaces (paper 2: FD in non-ImageNet spaces), how well a classifier tells its images from real ones
# (paper 3), and how much novel mass FINC finds against real data (paper 1); precision and recall
# (Kynkäänniemi et al. 2019) split quality from coverage. Do they order the same generators alike?
#
# **The prediction.** The FDs, the classifiers and FINC all measure a distance from the real distribution,
# so they should mostly agree; precision and recall measure one side each and may disagree with the rest
# (a mode-collapsed model has high precision); paper 2 predicts FID (ImageNet features) to be the odd one
# out among the feature spaces if it rewards ImageNet-class matching over what the SSL spaces see.
#
# **What the mini run does (settings fixed before any run, `params.yaml` -> `cross_rank`).** Every model
# with paper 3's Table 2 runs, each against `real_heldout`: FID (EfficientNet-Lite0 @ 128 px, the zoo's
# `zoo_eval` features), FD in the SimCLR and MAE spaces, the Table 2 accuracy of each of the three classifiers
# (one judge each), FINC's KEN-style novelty score against real (r = 500: it runs 7 x 21 times here; one
# bandwidth for every model and half-sample, the median heuristic of all samples pooled against real),
# improved precision and recall (k = 3). Kendall's τ-b between every pair of judges, each turned into a
# "badness" (precision and recall negated). Uncertainty over images: 20 half-samples without replacement of
# every image set (real rows shared; accuracies re-drawn hypergeometrically from the stored counts), the
# 2.5-97.5 percentile interval of τ; over models: scipy's exact permutation p-value.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import time

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.crosspaper.ranking import (agreement, half_samples, judge_values, load_inputs, outlier, rank_table,
                                          tau_frames, tau_table)
from beyondfid.report import save_figure, save_metrics, save_table

t_start = time.perf_counter()
cfg = load_config(profile, params_path, root)
R = cfg.params.cross_rank
out = cfg.results / "cross_rank"
out.mkdir(parents=True, exist_ok=True)
inp = load_inputs(cfg)
real = cfg.params.distclass.binary.real
scale = (f"Scale: {cfg.profile} profile; {len(inp.names)} models vs {real} ({len(inp.real['effnet'])} images); "
         f"FID = {cfg.params.features.extractor} @ {cfg.params.features.resolution} px; classifiers: Table 2 runs "
         f"({', '.join(R.arch_names)}); FINC r = {R.rff_dim}, η = {R.eta}, σ = {inp.finc_sigma:.3g} (all models); "
         f"precision/recall k = {R.pr_k}; "
         f"{R.resamples} half-samples of {R.fraction:g} of every image set")
print(scale)

# %% [markdown]
# ## Every judge's value of every model

# %%
values = judge_values(inp)
save_table(values.reset_index(names="model"), out / "table_judges",
           note=f"{scale}. Lower is better except precision and recall.")
ranks = rank_table(values)
save_table(ranks.reset_index(names="model"), out / "table_ranks", float_format="{:.1f}",
           note=f"{scale}. 1 = best (precision and recall: highest); ties share the mean rank.")
ranks

# %%
fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(ranks) + 1.6))
sns.heatmap(ranks, annot=True, fmt=".0f", cmap="viridis_r", cbar_kws={"label": "rank (1 = best)"}, ax=ax)
ax.set_title(f"How each judge ranks the zoo ({cfg.profile})", fontsize=10)
ax.tick_params(axis="x", labelsize=7, rotation=45)
fig.tight_layout()
save_figure(fig, out / "fig_ranks.png")
plt.show()

# %% [markdown]
# ## Kendall's τ between the judges, with intervals over images

# %%
replicates = half_samples(inp, R.resamples, R.fraction, cfg.params.seed, progress=True)
taus = tau_table(values, replicates)
save_table(taus, out / "table_tau", float_format="{:.3g}",
           note=f"{scale}. τ-b on all images; ci: 2.5-97.5 percentiles over the half-samples (uncertainty over "
                f"images); p_models: two-sided p-value over permutations of the models (the zoo as the sample).")
point, labels = tau_frames(taus)
fig, ax = plt.subplots(figsize=(8.5, 7))
mask = np.triu(np.ones(point.shape, dtype=bool))
sns.heatmap(point, mask=mask, annot=labels.values, fmt="", cmap="RdBu_r", vmin=-1, vmax=1, square=True,
            annot_kws={"fontsize": 6.5}, cbar_kws={"label": "Kendall's τ"}, ax=ax)
ax.set_title(f"Do the judges rank the zoo alike? τ [95% half-sample interval] ({cfg.profile}, "
             f"{len(inp.names)} models)", fontsize=9)
ax.tick_params(labelsize=7)
fig.tight_layout()
save_figure(fig, out / "fig_tau_heatmap.png")
plt.show()
taus

# %% [markdown]
# ## The answer: which judges agree, which is the outlier?

# %%
agree = agreement(taus)
save_table(agree, out / "table_agreement", float_format="{:.3g}",
           note=f"{scale}. agrees_with / disagrees_with: other judges whose τ interval lies above / below 0.")
top_pairs = taus[taus["ci_low"] > 0].sort_values("tau", ascending=False)
odd = outlier(agree)
answer = (f"Over {len(inp.names)} models, {len(top_pairs)} of {len(taus)} judge pairs agree (τ interval above 0); "
          f"the closest: " + ", ".join(f"{r.judge_a}-{r.judge_b} τ = {r.tau:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"
                                       for r in top_pairs.head(3).itertuples())
          + f". The outlier (lowest mean τ with the others) is {odd['judge']} (mean τ {odd['mean_tau']:.2f}; "
          f"agrees with {odd['agrees_with']}, disagrees with {odd['disagrees_with']} of {odd['others']}); "
          f"the most central is {agree.iloc[0]['judge']} (mean τ {agree.iloc[0]['mean_tau']:.2f}).")
print(answer)
agree

# %%
metrics = {
    "profile": cfg.profile, "models": inp.names, "judges": list(values.columns), "resamples": R.resamples,
    "fraction": R.fraction,
    "tau": {f"{r.judge_a}|{r.judge_b}": {"tau": r.tau, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_models": r.p_models}
            for r in taus.itertuples()},
    "mean_tau": dict(zip(agree["judge"], agree["mean_tau"])),
    "outlier": odd["judge"], "most_central": agree.iloc[0]["judge"],
    "pairs_agreeing": int(len(top_pairs)), "pairs": int(len(taus)),
    "values": values.to_dict("index"),
    "answer": answer,
    "seconds": time.perf_counter() - t_start,
}
save_metrics(cfg.results / "metrics" / "cross_rank.json", metrics)
metrics
