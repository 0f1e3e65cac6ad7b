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
# # Q2: does FINC explain what the classifier sees?
#
# **The question.** Paper 3's classifiers tell real from generated images almost perfectly; they do not say
# *what* gives a generator away. FINC (paper 1) finds the modes a generator over-produces relative to real
# data. Are the generated images the classifier is most confident about the members of FINC's top novel
# modes of that model?
#
# **The prediction.** If the classifier reads what FINC finds (over-produced content, e.g. one class or one
# texture), its most confident images fall into FINC's top modes far more often than chance; if it reads
# something FINC's ImageNet feature space does not encode (pixel statistics, artefacts), the overlap is at
# chance.
#
# **What the mini run does (settings fixed before any run, `params.yaml` -> `cross_explain`).** For every
# Table 2 model: the `dc_runs` stage's ResNet classifier (real_heldout vs the model) is restored as it was
# evaluated (its arg-max reproduces the stored confusion matrix: column `reproduced`) and scores the model's
# 500 validation images, which it never trained on. FINC as `finc_model_bias` runs it (all 2,000 samples vs
# `real_heldout`, EfficientNet-Lite0 features, r = 2,000, η = 1, median-heuristic σ). FINC's set = the 25
# validation images with the highest score of each of the top 3 modes, pooled; the classifier's set = as
# many of its most confident images. Overlap against the hypergeometric null (p = P(X ≥ overlap)), per model
# and combined over models (Fisher's method).

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
from beyondfid.crosspaper.explain import combined_p, explain_model, overlap_table, top_rows
from beyondfid.distclass.pixels import load_pool
from beyondfid.finc.algorithm import finc_kwargs
from beyondfid.report import image_rows_figure, save_figure, save_metrics, save_table

t_start = time.perf_counter()
cfg = load_config(profile, params_path, root)
E, D = cfg.params.cross_explain, cfg.params.distclass
out = cfg.results / "cross_explain"
out.mkdir(parents=True, exist_ok=True)
kw = finc_kwargs(E, cfg.params.seed)
cache = {}
runs = [explain_model(cfg, m, E.arch, modes=E.modes, per_mode=E.per_mode, finc_kwargs=kw, cache=cache)
        for m in E.model_names]
scale = (f"Scale: {cfg.profile} profile; {D.binary.real} vs each model, {D.binary.n_train} train + {D.task.n_val} val "
         f"per class, {E.arch} (dc_runs' Table 2 run); FINC: all samples vs {D.binary.real}, "
         f"{cfg.params.features.extractor} @ {cfg.params.features.resolution} px, r = {E.rff_dim}, η = {E.eta}; "
         f"FINC's set = top {E.per_mode} validation images of each of the top {E.modes} modes")
print(scale)

# %% [markdown]
# ## The overlap of the two sets, per model

# %%
table = overlap_table(runs)
save_table(table, out / "table_overlap",
           note=f"{scale}. chance = |F| |C| / n (hypergeometric mean); p = P(X >= overlap); reproduced = share of "
                f"validation predictions of the restored classifier equal to the stored run's (confusion matrices).")
table

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
sns.barplot(table, x="model", y="enrichment", color="tab:blue", ax=ax)
ax.axhline(1.0, color="gray", lw=0.8, ls=":")
for i, r in enumerate(table.itertuples()):
    ax.text(i, (r.enrichment if np.isfinite(r.enrichment) else 0) + 0.05, f"{r.overlap}/{r.finc_set}\np={r.p_value:.2g}",
            ha="center", va="bottom", fontsize=7)
ax.set_ylabel("overlap / chance")
ax.set_title(f"Classifier's most confident images in FINC's top modes ({cfg.profile}; dotted: chance)", fontsize=9)
ax.tick_params(axis="x", labelsize=8)
fig.tight_layout()
save_figure(fig, out / "fig_enrichment.png")
plt.show()

# %% [markdown]
# ## What each judge picks: the classifier's most confident images beside FINC's top mode

# %%
rows = []
for r in runs:
    imgs = load_pool(cfg, r.model)[r.val_rows]
    conf = top_rows(r.p_gen, E.shown)
    rows.append((imgs[conf], f"{r.model}: the classifier's {E.shown} most confident (P(gen) ≥ {r.p_gen[conf].min():.3f})"))
    if r.mode_scores.shape[1]:
        top = top_rows(r.mode_scores[:, 0], E.shown)
        rows.append((imgs[top], f"{r.model}: FINC mode 1's top {E.shown} (λ = {r.finc.eigenvalues[0]:.3g}; "
                                f"P(gen) mean {r.p_gen[top].mean():.3f})"))
fig = image_rows_figure(rows, E.shown, f"Validation images: classifier vs FINC ({cfg.profile})")
save_figure(fig, out / "fig_confident_vs_modes.png")
plt.show()

# %% [markdown]
# ## The answer

# %%
p_all = combined_p(table["p_value"])
sig = table[table["p_value"] < 0.05]
answer = (f"Over {len(table)} models the classifier's most confident images overlap FINC's top-{E.modes}-mode sets "
          f"{int(table['overlap'].sum())} times where chance expects {table['chance'].sum():.1f} "
          f"(enrichment {table['overlap'].sum() / table['chance'].sum():.2f}x; Fisher's combined p = {p_all:.3g}); "
          f"{len(sig)} of {len(table)} models are above chance at p < 0.05"
          + (f" ({', '.join(f'{r.model} {r.overlap}/{r.finc_set}, p = {r.p_value:.2g}' for r in sig.itertuples())})"
             if len(sig) else "") + ".")
print(answer)

# %%
metrics = {
    "profile": cfg.profile, "arch": E.arch, "modes": E.modes, "per_mode": E.per_mode,
    "models": {r.model: {"overlap": int(r.overlap), "finc_set": int(r.finc_set), "chance": float(r.chance),
                         "enrichment": float(r.enrichment), "p_value": float(r.p_value), "accuracy": float(r.accuracy),
                         "reproduced": float(r.reproduced)} for r in table.itertuples()},
    "total_overlap": int(table["overlap"].sum()), "total_chance": float(table["chance"].sum()),
    "combined_p": p_all, "models_above_chance": int(len(sig)),
    "min_reproduced": float(table["reproduced"].min()),
    "answer": answer,
    "seconds": time.perf_counter() - t_start,
}
save_metrics(cfg.results / "metrics" / "cross_explain.json", metrics)
metrics
