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
# # Q1: does the FID attack fool the other two judges?
#
# **The question.** Paper 2 lowers the GAN's FID by resampling its candidates with weights optimised against
# FID itself (Algorithm 1), and shows that FID_CLIP barely moves: the gain lies in FID's "perceptual null
# space". Does a distribution classifier (paper 3) separate the attacked sample from real images as easily
# as it separates an unattacked one? Do FINC's novel modes against real (paper 1) shrink?
#
# **The prediction.** If FID's gain is in its null space, the classifier and FINC barely move.
#
# **What the mini run does (settings fixed before any run, `params.yaml` -> `cross_attack`; each judge as its
# own paper's mini stage runs it).** The attack is `fid_resampling`'s: pre-logit weights over the GAN's
# 10,000 candidates (`gan_candidates`) against `real_train`, same optimiser and settings (cached in
# `artifacts/<p>/crosspaper/attack/`). *Attacked* sample = draws with replacement from those weights,
# *unattacked* = uniform draws without replacement. FID and FD (SimCLR, MAE) and FINC (r = 2,000, η = 1, one
# bandwidth and one frequency draw for both samples) on 3 draws of 2,000 against `real_train`. The classifier:
# paper 3's ResNet stand-in and recipe, `real_heldout` (never seen by GAN or attack) vs each sample, 1,500
# train + 500 val images per class; the generated train and val images come from disjoint halves of the pool
# (a draw with replacement repeats images, which must not cross from train to val); 3 seeds. "Barely moves"
# = a relative change below a quarter of FID's; "fooled" = at least half of FID's, same direction (for the
# classifier: its margin over chance, acc − 0.5); rule in `beyondfid.crosspaper.attack`.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.crosspaper.attack import (SAMPLES, accuracy_rows, attack_probabilities, compare_accuracies, draw,
                                         finc_row, out_dir, summary_table, train_all, transfer_splits, transfer_task)
from beyondfid.distclass.pixels import load_pool
from beyondfid.fidclasses.attack import Scorer
from beyondfid.fidclasses.resampling import effective_sample_size
from beyondfid.fidclasses.sets import World
from beyondfid.finc.algorithm import finc, finc_kwargs, median_bandwidth
from beyondfid.io import sha256_array
from beyondfid.report import image_rows_figure, save_figure, save_metrics, save_table

t_start = time.perf_counter()
cfg = load_config(profile, params_path, root)
P, C, D = cfg.params.fidclasses, cfg.params.cross_attack, cfg.params.distclass
out = cfg.results / "cross_attack"
out.mkdir(parents=True, exist_ok=True)
world = World(cfg)
real, held, pool = world.load(P.real), world.load(P.heldout), world.load(P.pool)
N = P.eval_size
probs, attack_info = attack_probabilities(cfg, real.features, pool.features)
scale = (f"Scale: {cfg.profile} profile; attack: {attack_info['method']} on {P.pool} ({len(pool)}) against {P.real} "
         f"({len(real)}); {C.draws} draws of {N} per sample; FID = {cfg.params.features.extractor} @ "
         f"{cfg.params.features.resolution} px; classifier: {C.real} vs each sample, {C.n_train} train + "
         f"{D.task.n_val} val per class, {C.archs} x seeds {C.seeds}")
print(scale)
print(attack_info)

# %% [markdown]
# ## FID and the second opinions on draws of each sample

# %%
scorer = Scorer(real, held, pool, world.spaces)
seeds = list(range(P.seed, P.seed + C.draws))
rows_all = np.arange(len(pool))
picks = {k: [draw(k, probs, rows_all, N, s) for s in seeds] for k in SAMPLES}
scores = {k: pd.DataFrame([{"seed": s, **scorer.score(i)} for s, i in zip(seeds, picks[k])]) for k in SAMPLES}
pd.concat({k: v for k, v in scores.items()}, names=["sample"])

# %% [markdown]
# ## FINC's novel modes of each draw against real

# %%
kw = finc_kwargs(C, P.seed)
sigma = float(median_bandwidth(pool.features[picks["uniform"][0]], real.features, seed=P.seed))
finc_runs = {k: [finc(pool.features[i], real.features, sigma=sigma, **kw) for i in picks[k]] for k in SAMPLES}
for k in SAMPLES:
    scores[k] = scores[k].join(pd.DataFrame([finc_row(r) for r in finc_runs[k]]))
spectra = pd.DataFrame([{"sample": k, "draw": d, "mode": m + 1, "eigenvalue": float(v)}
                        for k in SAMPLES for d, r in enumerate(finc_runs[k]) for m, v in enumerate(r.eigenvalues)])
fig, ax = plt.subplots(figsize=(5.5, 3.4))
sns.lineplot(spectra, x="mode", y="eigenvalue", hue="sample", marker="o", errorbar="sd", ax=ax)
ax.set_title(f"FINC spectrum of each sample against {P.real} (mean ± sd over {C.draws} draws; σ = {sigma:.3g})",
             fontsize=8)
ax.set_xlabel("mode (eigenvalue rank)")
ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
ax.set_ylabel("eigenvalue of C_X − η C_Y")
fig.tight_layout()
save_figure(fig, out / "fig_finc_spectrum.png")
plt.show()

# %%
images = world.images(P.pool)
rows = []
for k in SAMPLES:
    r, idx = finc_runs[k][0], picks[k][0]
    for m in range(min(2, r.k)):
        rows.append((images[idx[r.top_indices[m][:12]]], f"{k}, draw 1, mode {m + 1}: λ = {r.eigenvalues[m]:.3g}"))
fig = image_rows_figure(rows, 12, f"FINC's top modes of each sample against {P.real} ({cfg.profile})")
save_figure(fig, out / "fig_finc_modes.png")
plt.show()

# %% [markdown]
# ## The classifier: real vs each sample

# %%
real_images = load_pool(cfg, C.real)
pool_images = load_pool(cfg, P.pool)  # the same pixel path for both classes
splits = transfer_splits(probs, C.n_train, D.task.n_val, P.seed)
inputs = sha256_array(np.concatenate([real_images.reshape(-1), pool_images.reshape(-1)])) + sha256_array(probs)
jobs, labels = [], []
for k in SAMPLES:
    task = transfer_task(real_images, C.real, pool_images, splits[k], C.n_train, D.task.n_val, D.task.split_seed)
    for arch in C.arch_names:
        for seed in C.seed_list:
            jobs.append((k, task, D.archs[arch], D.train, seed))
            labels.append((k, arch, seed))
results = train_all(out_dir(cfg) / "runs", jobs, inputs, workers=D.runner.workers, threads=D.runner.threads)
acc = accuracy_rows(labels, results)
split_info = pd.DataFrame([{"sample": k, "train images": len(s.train_rows), "unique train": s.unique[0],
                            "val images": len(s.val_rows), "unique val": s.unique[1]} for k, s in splits.items()])
save_table(acc, out / "table_classifier_runs", note=f"{scale}. Exact 95% binomial interval; p-value: one-sided, "
                                                    f"against chance (1/2).")
save_table(split_info, out / "table_splits", note=f"{scale}. Generated train images from one half of the pool, "
                                                  f"val images from the other.")
cmp = compare_accuracies(acc)
save_table(cmp, out / "table_classifier_compare", note=f"{scale}. Fisher's exact test of the two runs' "
                                                       f"correct/wrong counts; 'pooled': counts summed over seeds.")
cmp

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.2))
for i, k in enumerate(SAMPLES):
    g = acc[acc["sample"] == k]
    x = np.arange(len(g)) + 0.2 * (2 * i - 1)
    ax.errorbar(x, 100 * g["accuracy"], yerr=[100 * (g["accuracy"] - g["ci_low"]), 100 * (g["ci_high"] - g["accuracy"])],
                fmt="o", capsize=3, label=k)
ax.set_xticks(np.arange(len(acc) // 2), [f"{a}, seed {s}" for a, s in acc[acc["sample"] == "uniform"][["arch", "seed"]].values],
              fontsize=7)
ax.axhline(50, color="gray", lw=0.8, ls=":")
ax.set_xlim(-0.6, len(acc) // 2 - 0.4)
ax.set_ylabel(f"accuracy (%), {C.real} vs sample")
ax.set_title(f"Paper 3's classifier on the attacked vs the unattacked GAN sample ({cfg.profile}; 95% CI)", fontsize=8)
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, out / "fig_classifier.png")
plt.show()

# %% [markdown]
# ## The answer: every judge's change beside FID's

# %%
quantities = [("FID", f"FID (vs the attack's real set, {P.real})"), ("FID_heldout", f"FID vs {P.heldout} (never seen)")]
quantities += [(f"FD_{s}", f"FD in the {s} space") for s in world.spaces]
quantities += [("finc_lambda1", "FINC λ1 (top novel mode)"), ("finc_novel_mass", "FINC novel mass (Σ λ+)"),
               ("finc_novelty", "FINC novelty (KEN-style score)")]
summary = summary_table(scores, acc, quantities)
save_table(summary, out / "table_q1_answer",
           note=f"{scale}. Mean ± std over draws (FID, FD, FINC) or seeds (classifier). Relative change: attacked / "
                f"uniform − 1 (classifier: of acc − 0.5). Verdict: 'barely moves' if below a quarter of FID's relative "
                f"change, 'fooled' if at least half of it in the same direction, else 'partly'.")
pooled = cmp[cmp["seed"] == "pooled"].iloc[0]
fid = summary.set_index("quantity")
clf_verdict = fid.loc["accuracy_" + pooled["arch"], "verdict"]
answer = (f"FID fell from {fid.loc['FID', 'uniform']:.4g} to {fid.loc['FID', 'attacked']:.4g} "
          f"({100 * fid.loc['FID', 'relative_change']:+.1f}%). The classifier ({pooled['arch']}) separates real from the "
          f"attacked sample at {100 * pooled['attacked']:.1f}% vs {100 * pooled['uniform']:.1f}% for the uniform one "
          f"(pooled over seeds; per run: " + ", ".join(
              f"{r.sample} {100 * r.accuracy:.1f} [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]"
              for r in acc.itertuples()) + f"), verdict: {clf_verdict}. "
          f"FINC's λ1 moved {100 * fid.loc['finc_lambda1', 'relative_change']:+.1f}% "
          f"({fid.loc['finc_lambda1', 'verdict']}), its novelty score {100 * fid.loc['finc_novelty', 'relative_change']:+.1f}% "
          f"({fid.loc['finc_novelty', 'verdict']}).")
print(answer)
summary

# %%
metrics = {
    "profile": cfg.profile, "eval_size": N, "pool": len(pool), "draws": C.draws, "attack": attack_info,
    "effective_sample_size": effective_sample_size(probs), "sigma": sigma,
    "judges": {r.quantity: {"uniform": r.uniform, "attacked": r.attacked, "relative_change": r.relative_change,
                            "verdict": r.verdict} for r in summary.itertuples()},
    "classifier_runs": acc.to_dict("records"),
    "classifier_pooled": {r.arch: {"uniform": r.uniform, "attacked": r.attacked, "difference": r.difference}
                          for r in cmp[cmp["seed"] == "pooled"].itertuples()},
    "answer": answer,
    "seconds": time.perf_counter() - t_start,
}
save_metrics(cfg.results / "metrics" / "cross_attack.json", metrics)
metrics
