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
# # The perceptual null space of FID (paper 2, Sec. 3: Tables 1-3, Figs 5-6, Algorithm 1)
#
# **The paper.** StyleGAN2 generates 5x more candidates than it is evaluated on (250k for 50k). Picking
# a subset that matches the real Top-1 ImageNet histogram lowers FID by ~10% while FID_CLIP moves ~1%
# (Table 1). Optimising per-image sampling weights so that the weighted statistics minimise FID (Eq. 3,
# Algorithm 1; plain gradient descent, ~100k steps) and drawing 50k images with replacement lowers FID by
# ~60%, FID_CLIP by ~5% (Table 2), KID by ~88% (Table 3); the high- and low-weight images look alike
# (Fig. 5). Matching only Top-N class indicators recovers most of it at small N, middle-ranked classes
# far less, with FID_CLIP flat (Fig. 6).
#
# **Mini (settings fixed before running, `params.yaml` `fidclasses` / `fid_resampling`).** Real set =
# `real_train` (8,000 AnimalShape images, what the zoo's GAN was trained on); the GAN's candidate pool
# (10,000 = 5 x the 2,000 evaluation size) is the only source of picks; FID = EfficientNet-Lite0 @ 128 px
# pre-logits; FID^L and the Top-1/Top-N classes come from the network's own logits (its final linear
# layer on those pre-logits); FID_CLIP's role is played by FD in our SimCLR encoder's space (primary) and
# MAE's. The weights are optimised with our closed-form gradient (`beyondfid.fidclasses.resampling`) by
# the optimiser `benchmarks/resampling.py` picked, not plain GD. We report means +- std over draws (the
# official code reports the minimum of 3 draws at the best iterate; the flattering is measured below), and
# add what the paper does not: FID against `real_heldout`, which no attack ever saw.

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
import pandas as pd
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.fidclasses.attack import (Scorer, class_shift_table, draw_scores, official_protocol, random_scores,
                                         top_n_sweep, weight_group_table)
from beyondfid.fidclasses.matching import match_summary, top1_match
from beyondfid.fidclasses.resampling import effective_sample_size, optimize_weights, sample_with_weights
from beyondfid.fidclasses.sets import World
from beyondfid.fidclasses.tables import PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, before_after_table, top_n_claims
from beyondfid.report import image_grid, save_figure, save_metrics, save_table

t_start = time.perf_counter()
cfg = load_config(profile, params_path, root)
P, R = cfg.params.fidclasses, cfg.params.fid_resampling
out = cfg.results / "fid_resampling"
out.mkdir(parents=True, exist_ok=True)
world = World(cfg)
real, held, pool = world.load(P.real), world.load(P.heldout), world.load(P.pool)
scorer = Scorer(real, held, pool, world.spaces)
N, prim = P.eval_size, world.primary
seeds = list(range(P.seed, P.seed + R.draws))
scale = (f"Scale: {cfg.profile} profile; real = {P.real} ({len(real)}), held-out = {P.heldout} ({len(held)}), "
         f"pool = {P.pool} ({len(pool)}), {N} images per evaluation; FID = {cfg.params.features.extractor} @ "
         f"{cfg.params.features.resolution} px; second opinions: {', '.join(world.spaces)}")
print(scale)
opt_kw = dict(method=R.method, max_iter=R.max_iter, tol=R.tol, patience=R.patience, dtype=R.dtype,
              device=cfg.params.features.device if cfg.params.features.device != "auto" else "cpu", progress=True)
metrics = {"profile": cfg.profile, "eval_size": N, "pool": len(pool), "real": len(real), "method": R.method}

# %% [markdown]
# ## The baseline: random picks from the pool

# %%
base = random_scores(scorer, N, seeds, with_kid=False)
kid_seeds = list(range(P.seed, P.seed + R.kid_evals))
base_kid = random_scores(scorer, N, kid_seeds, with_kid=True, kid_subsets=R.kid_subsets,
                         kid_subset_size=R.kid_subset_size, heldout=False, spaces=())
base.describe().loc[["mean", "std"]]

# %% [markdown]
# ## Table 1: Top-1 histogram matching
#
# The real set's Top-1 histogram, scaled to the evaluation size, is filled with unique pool images in
# random order (a full bin discards the image). If the pool runs out, the missing slots are filled with
# random left-over pool images so that FID is still computed on `eval_size` images.

# %%
matches = [top1_match(real.top1, pool.top1, N, 1000, seed=s) for s in range(P.seed, P.seed + R.top1_evals)]
top1 = scorer.score_many(lambda s: matches[s - P.seed].indices, range(P.seed, P.seed + R.top1_evals))
match_info = match_summary(matches, pool.top1, N)
print(match_info)
rows1 = [("FID (vs real_train)", "FID", "FID"), ("FID vs real_heldout (never seen)", "FID_heldout", None)]
rows1 += [(f"FD_{s}" + (" (FID_CLIP's role)" if s == prim else ""), f"FD_{s}", "FID_CLIP" if s == prim else None)
          for s in world.spaces]
t1 = before_after_table(base.iloc[: R.top1_evals], {"Top-1 matching": top1}, rows1, PAPER_TABLE1)
save_table(t1, out / "table1", float_format="{:.4g}",
           note=f"{scale}. Before: {R.top1_evals} random picks; after: {R.top1_evals} independent Top-1 matchings "
                f"({match_info['draws']:.0f} pool images examined per matching; shortfall {match_info['shortfall']:.0f} "
                f"images in {match_info['short_classes']:.0f} classes, filled at random; TV distance to the target "
                f"histogram {match_info['total_variation_to_target']:.3f} vs {match_info['random_total_variation']:.3f} "
                f"for a random pick). Paper: FFHQ, StyleGAN2, 0.8-1.5M draws for 50k.")
t1

# %% [markdown]
# ## Algorithm 1: optimising the resampling weights (pre-logits and logits)

# %%
run_pl = optimize_weights(real.features, pool.features, keep_weights_at=range(R.max_iter + 1), **opt_kw)
# the official protocol scores iterates along the run: `checkpoints` evenly spaced ones (the last included)
keep = sorted({int(round(run_pl.iterations * (i + 1) / R.checkpoints)) for i in range(R.checkpoints)})
run_pl.snapshots = {k: run_pl.snapshots[k] for k in keep}
run_l = optimize_weights(real.logits, pool.logits, **opt_kw)
for name, r in (("pre-logits", run_pl), ("logits", run_l)):
    print(f"{name}: {r.iterations} iterations, {int(r.evaluations[-1])} evaluations, {r.seconds[-1]:.1f} s; "
          f"weighted FID {r.history[0]:.4g} -> {r.fid:.4g}; effective sample size "
          f"{effective_sample_size(r.probabilities):.0f} of {len(pool)}; {r.message}")
fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
for a, (name, r) in zip(ax, (("pre-logit space (FID^PL)", run_pl), ("logit space (FID^L)", run_l))):
    a.plot(r.evaluations, r.history, color="tab:blue")
    a.set_xlabel("objective evaluations (one eigh each)")
    a.set_ylabel("FID of the weighted statistics")
    a.set_title(name, fontsize=9)
fig.suptitle(f"Algorithm 1 with {R.method} ({cfg.profile})", fontsize=10)
fig.tight_layout()
save_figure(fig, out / "fig_optimisation.png")
plt.show()

# %% [markdown]
# ## Table 2: matching all fringe features (FID^PL, FID^L, FID_CLIP^PL)

# %%
pl = draw_scores(scorer, run_pl.probabilities, N, seeds)
lg = draw_scores(scorer, run_l.probabilities, N, seeds)
# control: the same weights assigned to random candidates (same concentration and duplicates, no selection)
perm = run_pl.probabilities[np.random.default_rng(P.seed).permutation(len(pool))]
ctrl = draw_scores(scorer, perm, N, seeds)
rows2 = [("FID (vs real_train)", "FID", "FID"), ("FID vs real_heldout (never seen)", "FID_heldout", None)]
rows2 += [(f"FD_{s}" + (" (FID_CLIP's role)" if s == prim else ""), f"FD_{s}", "FID_CLIP" if s == prim else None)
          for s in world.spaces]
t2 = before_after_table(base, {"pre-logit resampling (PL)": pl, "logit resampling (L)": lg,
                               "control: PL weights permuted": ctrl}, rows2, PAPER_TABLE2,
                        paper_after_key={"logit resampling (L)": "FID_L"})
t2 = t2[~((t2["attack"] == "logit resampling (L)") & (t2["quantity"].str.startswith("FD_")))].reset_index(drop=True)
t2.loc[t2["attack"].str.startswith("control"), [c for c in t2.columns if c.startswith("paper")]] = np.nan
official = official_protocol(scorer, run_pl.snapshots, N, R.min_of, P.seed)
off_best = float(official["min FID"].min())
flatter = off_best / pl["FID"].mean() - 1.0
save_table(t2, out / "table2",
           note=f"{scale}. Before: {R.draws} random picks; after: {R.draws} draws of {N} with replacement from the "
                f"optimised weights ({R.method}, {run_pl.iterations} / {run_l.iterations} iterations). The logit row "
                f"is the pre-logit FID of picks optimised in logit space (the paper's gray column). Official protocol "
                f"(min of {R.min_of} draws at the best of {len(official)} iterates): FID^PL = {off_best:.4g}, "
                f"{100 * flatter:+.1f}% vs our mean. Control: the optimised weights given to random candidates "
                f"(same concentration, {ctrl['unique'].mean():.0f} unique images per draw vs "
                f"{pl['unique'].mean():.0f} for PL).")
save_table(official, out / "table2_official_protocol",
           note=f"{scale}. The official code's evaluation of the pre-logit weights at {len(official)} iterates.")
metrics["official_protocol_fid_pl"] = off_best
metrics["official_protocol_flatters"] = flatter
t2

# %% [markdown]
# ### What did the attacks change? The domain classifier's class mix of the picks
#
# Total-variation distance between the animal-class histogram of each pick (zoo domain classifier) and
# real_train's; a second opinion that needs no feature space at all.

# %%
lab_real, lab_pool = world.labels(P.real), world.labels(P.pool)
shift = pd.DataFrame()
if lab_real is not None and lab_pool is not None:
    picks = {"random": [np.sort(np.random.default_rng(s).choice(len(pool), N, replace=False)) for s in seeds],
             "Top-1 matching": [m.indices for m in matches],
             "pre-logit resampling (PL)": [sample_with_weights(run_pl.probabilities, N, s) for s in seeds],
             "logit resampling (L)": [sample_with_weights(run_l.probabilities, N, s) for s in seeds],
             "control: PL weights permuted": [sample_with_weights(perm, N, s) for s in seeds]}
    shift = class_shift_table(picks, lab_pool, lab_real)
    save_table(shift, out / "table_class_shift", note=f"{scale}. Domain-classifier labels (zoo_eval), mean over picks.")
shift

# %% [markdown]
# ## Table 3: KID before and after pre-logit resampling

# %%
pl_kid = draw_scores(scorer, run_pl.probabilities, N, kid_seeds, with_kid=True, kid_subsets=R.kid_subsets,
                     kid_subset_size=R.kid_subset_size, heldout=False, spaces=())
t3 = before_after_table(base_kid, {"pre-logit resampling (PL)": pl_kid}, [("KID x 1e3", "KIDx1e3", "KID")],
                        PAPER_TABLE3)
save_table(t3, out / "table3", note=f"{scale}. {R.kid_evals} evaluations, each KID over {R.kid_subsets} subsets of "
                                    f"{R.kid_subset_size} (polynomial kernel), FID space features.")
t3

# %% [markdown]
# ## Fig. 5: candidates with the lowest and the highest weights
#
# Are the low-weight images the bad ones? Besides the grids: the share of each group that lies on the real
# manifold in the primary second-opinion space (improved precision, k = 3), and the domain classifier's
# view is left to the eye.

# %%
k = max(1, int(R.weight_share * len(pool)))
order = np.argsort(run_pl.probabilities, kind="stable")
low, high = order[:k], order[-k:]  # the groups weight_group_table scores below
rng = np.random.default_rng(P.seed)
show_low = np.sort(rng.choice(low, min(R.grid_n, k), replace=False))
show_high = np.sort(rng.choice(high, min(R.grid_n, k), replace=False))
fig, ax = plt.subplots(1, 2, figsize=(10, 5.4))
for a, idx, title in ((ax[0], show_low, f"lowest {100 * R.weight_share:.0f}% of weights"),
                      (ax[1], show_high, f"highest {100 * R.weight_share:.0f}% of weights")):
    a.imshow(image_grid(world.images(P.pool, idx), ncols=int(np.ceil(np.sqrt(len(idx))))), cmap="gray")
    a.set_title(title, fontsize=10)
    a.axis("off")
fig.suptitle(f"Pre-logit resampling weights, uncurated ({cfg.profile})", fontsize=10)
fig.tight_layout()
save_figure(fig, out / "fig5_weights.png")
plt.show()
fig5 = weight_group_table(real.second[prim], pool.second[prim], run_pl.probabilities, R.weight_share, prim)
prec = dict(zip(fig5["group"], fig5[f"precision in {prim} space"]))
save_table(fig5, out / "table_fig5_precision",
           note=f"{scale}. Share of each weight group inside the real manifold (k = 3) in the {prim} space.")
fig5

# %% [markdown]
# ## Fig. 6: Top-N and middle-N matching

# %%
fig6 = top_n_sweep(scorer, real.logits, pool.logits, R.top_n_list, N, range(P.seed, P.seed + R.top_n_draws), prim,
                   **dict(opt_kw, max_iter=R.top_n_max_iter))
save_table(fig6, out / "table_fig6", note=f"{scale}. Weights optimised on N-hot Top-N (or middle-N) class vectors; "
                                          f"{R.top_n_draws} draws per point.")
b_fid, b_fd = base["FID"].mean(), base[f"FD_{prim}"].mean()
fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax2 = ax.twinx()
for mode, color in (("top", "tab:blue"), ("middle", "tab:orange")):
    d = fig6[fig6["mode"] == mode]
    ax.plot(d["N"], d["FID"], "-o", color=color, label=f"FID, {mode}-N")
    ax2.plot(d["N"], d[f"FD_{prim}"], "--s", color=color, label=f"FD_{prim}, {mode}-N", alpha=0.8)
top = 1.15 * max(1.0, fig6["FID"].max() / b_fid, fig6[f"FD_{prim}"].max() / b_fd)
ax.set_ylim(0, top * b_fid)  # both axes: the unoptimised value at the same height, zero at the bottom
ax2.set_ylim(0, top * b_fd)
ax.axhline(b_fid, color="gray", lw=0.8, ls=":")
ax.axhline(pl["FID"].mean(), color="tab:green", lw=0.8, ls="-.", label="FID^PL (Table 2)")
ax.set_xscale("log")
ax.set_xlabel("N (classes in the N-hot vectors)")
ax.set_ylabel("FID (solid)")
ax2.set_ylabel(f"FD_{prim} (dashed)")
h1, l1 = ax.get_legend_handles_labels()
h2, l2 = ax2.get_legend_handles_labels()
ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
ax.set_title(f"Top-N matching ({cfg.profile}); dotted: unoptimised", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "fig6_top_n.png")
plt.show()
fig6

# %%
def _row(t: pd.DataFrame, attack: str, col_prefix: str) -> dict:
    r = t[(t["attack"] == attack) & (t["quantity"].str.startswith(col_prefix))].iloc[0]
    return {"before": float(r["ours before"]), "after": float(r["ours after"]), "change": float(r["ours change"])}


metrics.update({
    "table1": {"FID": _row(t1, "Top-1 matching", "FID (vs"), "FID_heldout": _row(t1, "Top-1 matching", "FID vs real_heldout"),
               f"FD_{prim}": _row(t1, "Top-1 matching", f"FD_{prim}"), **match_info},
    "table2": {"FID_PL": _row(t2, "pre-logit resampling (PL)", "FID (vs"),
               "FID_L": _row(t2, "logit resampling (L)", "FID (vs"),
               "FID_heldout_PL": _row(t2, "pre-logit resampling (PL)", "FID vs real_heldout"),
               f"FD_{prim}_PL": _row(t2, "pre-logit resampling (PL)", f"FD_{prim}"),
               "iterations_pl": run_pl.iterations, "evaluations_pl": int(run_pl.evaluations[-1]),
               "seconds_pl": float(run_pl.seconds[-1]), "iterations_l": run_l.iterations,
               "evaluations_l": int(run_l.evaluations[-1]), "seconds_l": float(run_l.seconds[-1]),
               "effective_sample_size_pl": effective_sample_size(run_pl.probabilities)},
    "table3": _row(t3, "pre-logit resampling (PL)", "KID"),
    "fig5_precision": prec,
    "class_shift": shift.to_dict("records"),
    "control_permuted_FID": float(ctrl["FID"].mean()), f"control_permuted_FD_{prim}": float(ctrl[f"FD_{prim}"].mean()),
    "fig6": fig6.to_dict("records"),
    "top_n": top_n_claims(fig6, b_fid, b_fd, prim),
    "seconds": time.perf_counter() - t_start,
})
save_metrics(cfg.results / "metrics" / "fid_resampling.json", metrics)
metrics
