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
# **The paper** compares AFHQ (cats, dogs, wildlife) with ImageNet-dogs and finds that AFHQ's
# novel modes are cats and wildlife (qualitative). Swapping the roles asks what the other set
# lacks, i.e. what a model would be missing.
#
# **The mini analogue** (fixed before looking at the outcome): AnimalShape split into two
# disjoint, stratified halves; the test half keeps all 10 classes, the reference half loses
# "cat" and the wildlife classes (bear, elephant, giraffe, zebra; `ref_missing`) and keeps dog,
# bird, cow, horse and sheep. Features: the cached EfficientNet-Lite0 @ 128 px features; FINC
# with r = 2,000, η = 1, the median-heuristic σ (one σ for both directions) and the top 25
# samples per mode. Ground truth: the top 5 modes' samples should come from the five missing
# classes (chance: their share of the test half, 50%). The swap should find the reference's own
# classes (each at twice its test share), i.e. what the test set "misses".

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.finc import finc_kwargs
from beyondfid.finc.novelty import novelty_sets
from beyondfid.finc.planted import (
    novelty_metrics,
    novelty_mode_title,
    novelty_modes_table,
    novelty_table,
    run_novelty,
    spectrum_frame,
)
from beyondfid.report import image_rows_figure, save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
P = cfg.params.finc_novelty
out = cfg.results / "finc_novelty"
out.mkdir(parents=True, exist_ok=True)
S = novelty_sets(cfg)
print(S.description, f"| test {len(S.test_features)} rows, reference {len(S.ref_features)} rows | {P}")

# %%
run = run_novelty(S, finc_kwargs(P, cfg.params.seed))
res, swap = run.result, run.swap
print(f"sigma={res.sigma:.3f} (median heuristic); forward: {res.k} modes, lambda1={res.eigenvalues[0]:.4f}; "
      f"swap: {swap.k} modes, lambda1={swap.eigenvalues[0] if swap.k else 0:.4f} {swap.message}")
print("swap modes' majority classes:", run.swap_majority)

# %% [markdown]
# ## The test set's novel modes

# %%
if S.test_images is not None:
    n_show = min(10, P.top_samples)
    rows = [(S.test_images.images[res.top_indices[m][:n_show]], novelty_mode_title(run, m)) for m in range(min(6, res.k))]
    fig = image_rows_figure(rows, n_show, f"FINC novel modes: {S.description}", row_height=1.1)
    save_figure(fig, out / "fig_modes.png")
    plt.show()

# %% [markdown]
# ## Do the modes find the missing classes?

# %%
summary = novelty_table(run, cfg)
save_table(summary, out / "table_novelty")
summary

# %%
modes = novelty_modes_table(run, cfg.profile)
save_table(modes, out / "table_modes")
modes

# %% [markdown]
# ## The novel-mode spectrum in both directions

# %%
spectrum = spectrum_frame({"test vs reference": res, "swap: reference vs test": swap})
fig, ax = plt.subplots(figsize=(6.5, 3.2))
sns.lineplot(data=spectrum, x="mode", y="eigenvalue", hue="direction", style="direction", markers=True, ax=ax)
ax.set(yscale="log", xlabel="mode", ylabel="eigenvalue of Λ (novel mass)", title="Novel-mode spectrum in both directions")
ax.legend(frameon=False)
save_figure(fig, out / "fig_spectrum.png")
plt.show()

# %%
metrics = novelty_metrics(run, summary, cfg.profile)
save_metrics(cfg.results / "metrics" / "finc_novelty.json", metrics)
metrics
