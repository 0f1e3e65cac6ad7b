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
# # FINC novelty: AFHQ vs ImageNet-dogs, and the swap
#
# The FINC paper compares AFHQ (cats, dogs, wildlife) with ImageNet-dogs and finds that
# AFHQ's novel modes are cats and wildlife. Swapping the roles asks what the other set
# lacks, i.e. what a model would be missing.
#
# Mini analogue (fixed before looking at the outcome): AnimalShape split into two disjoint,
# stratified halves; the test half keeps all 10 classes, the reference half loses "cat" and
# the wildlife classes (bear, elephant, giraffe, zebra) and keeps dog, bird, cow, horse and
# sheep. Features: the cached EfficientNet-Lite0 @ 128 px features; FINC with r = 2,000,
# η = 1 and the median-heuristic σ. Ground truth: the top modes' samples should come from the
# five missing classes (chance: their share of the test half, 50%). The swap should find the
# reference's own classes (each at twice its test share), i.e. what the test set "misses".

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

from beyondfid.config import load_config
from beyondfid.finc import finc, finc_swap, median_bandwidth, mode_label_stats, top_hit_share
from beyondfid.finc.novelty import novelty_sets
from beyondfid.report import image_grid, save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
P = cfg.params.finc_novelty
out = cfg.results / "finc_novelty"
out.mkdir(parents=True, exist_ok=True)
S = novelty_sets(cfg)
print(S.description, f"| test {len(S.test_features)} rows, reference {len(S.ref_features)} rows")

# %%
bw = median_bandwidth(S.test_features, S.ref_features, seed=cfg.params.seed)
kw = dict(sigma=float(bw), eta=P.eta, rff_dim=P.rff_dim, top_k=P.top_k, seed=cfg.params.seed, top_samples=P.top_samples)
res = finc(S.test_features, S.ref_features, **kw)
swap = finc_swap(S.test_features, S.ref_features, **kw)  # the reference's novelty w.r.t. the test set
print(f"sigma={float(bw):.3f} (median heuristic); forward: {res.k} modes, lambda1={res.eigenvalues[0]:.4f}; "
      f"swap: {swap.k} modes, lambda1={swap.eigenvalues[0] if swap.k else 0:.4f} {swap.message}")

# %% [markdown]
# ## The test set's novel modes

# %%
n_show = min(10, P.top_samples)
labelled = S.test_labels is not None and len(S.missing)
if labelled:
    missing_hit = np.isin(S.test_labels, S.missing)
    stats = mode_label_stats(res.top_indices, S.test_labels, hit=missing_hit)
if S.test_images is not None:
    rows = min(6, res.k)
    fig, axes = plt.subplots(rows, 1, figsize=(n_show * 0.9 + 1.5, rows * 1.1 + 0.6), squeeze=False)
    for m in range(rows):
        idx = res.top_indices[m][:n_show]
        axes[m, 0].imshow(image_grid(S.test_images.images[idx], ncols=n_show, pad=1, pad_value=255),
                          cmap="gray", interpolation="nearest")
        title = f"mode {m + 1}: λ={res.eigenvalues[m]:.4f}"
        if labelled:
            st = stats[m]
            title += (f", top {len(res.top_indices[m])}: {100 * st['hit_share']:.0f}% from missing classes, "
                      f"majority '{S.class_names[st['majority']]}'")
        axes[m, 0].set_title(title, fontsize=9, loc="left")
        axes[m, 0].axis("off")
    fig.suptitle(f"FINC novel modes: {S.description}", fontsize=10)
    fig.tight_layout(h_pad=0.6)
    save_figure(fig, out / "fig_modes.png")
    plt.show()

# %% [markdown]
# ## Do the modes find the missing classes?

# %%
rows = []
for m in range(res.k):
    r = {"mode": m + 1, "eigenvalue": res.eigenvalues[m]}
    if labelled:
        r.update(majority_class=S.class_names[stats[m]["majority"]], majority_share=stats[m]["majority_share"],
                 missing_share=stats[m]["hit_share"])
    rows.append(r)
modes = pd.DataFrame(rows)
save_table(modes, out / "table_modes", note=f"Scale: {cfg.profile} profile; {S.description}.")
swap_majority = []
if S.ref_labels is not None:
    swap_majority = [S.class_names[st["majority"]] for st in mode_label_stats(swap.top_indices, S.ref_labels)]
    print("swap modes' majority classes:", swap_majority)

summary = {"direction": ["test vs reference", "swap: reference vs test"],
           "modes (positive eigenvalues)": [res.n_positive, swap.n_positive],
           "lambda_1": [res.eigenvalues[0] if res.k else 0.0, swap.eigenvalues[0] if swap.k else 0.0],
           "sum of top-k eigenvalues": [res.eigenvalues.sum(), swap.eigenvalues.sum()]}
if labelled:
    k5 = min(len(S.missing), res.k)
    covered = [S.class_names[c] for c in dict.fromkeys(st["majority"] for st in stats) if c in set(S.missing.tolist())]
    summary["missing-class share, top samples of top modes (ours)"] = [top_hit_share(res.top_indices, missing_hit, k5), np.nan]
    summary["chance"] = [missing_hit.mean(), np.nan]
    summary["classes that are a top mode's majority"] = [f"missing {len(covered)}/{len(S.missing)}: {', '.join(covered)}",
                                                         ", ".join(dict.fromkeys(swap_majority))]
summary["paper (AFHQ vs ImageNet-dogs)"] = ["novel modes are cats and wildlife (qualitative)", "not reported"]
summary = pd.DataFrame(summary)
save_table(summary, out / "table_novelty",
           note=f"Scale: {cfg.profile} profile, {len(S.test_features)} test / {len(S.ref_features)} reference rows, "
                f"features {cfg.params.features.extractor} @ {cfg.params.features.resolution} px, r={P.rff_dim}, "
                f"eta={P.eta}, sigma={float(bw):.3f} (median heuristic). Missing-class share over the top "
                f"{P.top_samples} samples of the top {min(len(S.missing), res.k) if labelled else 0} modes.")
display(summary)  # noqa: F821
modes

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.plot(np.arange(1, res.k + 1), res.eigenvalues, "o-", label="test vs reference")
ax.plot(np.arange(1, swap.k + 1), swap.eigenvalues, "s--", label="swap: reference vs test")
ax.set_yscale("log")
ax.set_xlabel("mode")
ax.set_ylabel("eigenvalue of Λ (novel mass)")
ax.set_title("Novel-mode spectrum in both directions")
ax.legend(frameon=False)
save_figure(fig, out / "fig_spectrum.png")
plt.show()

# %%
metrics = {"profile": cfg.profile, "sigma": float(bw), "forward_lambda1": float(summary["lambda_1"][0]),
           "swap_lambda1": float(summary["lambda_1"][1])}
if labelled:
    metrics["missing_class_share_top_modes"] = float(summary.iloc[0, 4])
    metrics["chance"] = float(summary["chance"][0])
save_metrics(cfg.results / "metrics" / "finc_novelty.json", metrics)
metrics
