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
# # FINC, Fig. 1: colored digits (and colored animals)
#
# **The paper's** sanity check: the test set is MNIST digits of which 50% are coloured, the
# reference set is grayscale digits, features are DINOv2. Colour is the only thing the test set
# has more of, so FINC's top novel modes should consist of coloured digits (Fig. 1 shows red 1s,
# green 7s, ...; no number is given).
#
# **The mini run** (fixed before looking at the outcome): scikit-learn's 8x8 digits and
# AnimalShape silhouettes instead of MNIST; each dataset is split into two disjoint halves, the
# test half gets `fraction` = 50% of its images tinted with one of six saturated colours
# (`beyondfid.zoo.transforms.colorize`), the reference half stays gray. Features are the
# profile's ImageNet network (EfficientNet-Lite0 @ 128 px in mini). FINC uses the paper's
# r = 2,000 random frequencies, η = 1, the median-heuristic bandwidth σ and the top 25 samples
# per mode; a dataset's score is the coloured share of the top samples of its top 3 modes
# (`modes_scored`). Inputs and features come from the cached `finc_colored_inputs` stage.

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
from beyondfid.finc.colored import load_inputs
from beyondfid.finc.planted import (
    colored_metrics,
    colored_mode_title,
    colored_modes_table,
    colored_share_table,
    run_colored,
)
from beyondfid.report import image_rows_figure, save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
P = cfg.params.finc_colored
out = cfg.results / "finc_colored"
out.mkdir(parents=True, exist_ok=True)
print(f"profile={cfg.profile}  features={cfg.params.features.extractor}@{cfg.params.features.resolution}px  {P}")

# %% [markdown]
# ## Run FINC on each dataset

# %%
inputs = {name: load_inputs(cfg, name) for name in P.dataset_names}
runs = [run_colored(name, d, finc_kwargs(P, cfg.params.seed)) for name, d in inputs.items()]
for r in runs:
    print(f"{r.name}: n_test={r.result.n_test} n_ref={r.result.n_ref} sigma={r.result.sigma:.3f} (median heuristic) "
          f"positive eigenvalues={r.result.n_positive} modes={r.result.k} {r.result.message}")

# %% [markdown]
# ## Top modes: their best test samples (the paper's Fig. 1)
# One row per mode (best first), its top samples left to right. A correct result shows
# coloured images, ideally one colour (or colour and digit) per mode.

# %%
n_show = min(10, P.top_samples)
for r in runs:
    rows = [(inputs[r.name]["test"].images[r.result.top_indices[m][:n_show]], colored_mode_title(r, m))
            for m in range(min(6, r.result.k))]
    fig = image_rows_figure(rows, n_show, f"FINC novel modes, colored {r.name} (test) vs gray {r.name} (reference)")
    save_figure(fig, out / f"fig_modes_{r.name}.png")
    plt.show()

# %% [markdown]
# ## How colored are the top modes?
# The fraction of coloured images among the top samples of the top modes, beside chance (the
# coloured share of the test set, `fraction`). The paper gives no number for Fig. 1, so its
# column states what the figure shows.

# %%
summary = colored_share_table(runs, cfg)
save_table(summary, out / "table_colored_share")
summary

# %%
modes = colored_modes_table(runs, cfg.profile)
save_table(modes, out / "table_modes")
modes

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
sns.lineplot(data=modes.assign(pct=100 * modes["colored_share_top"]), x="mode", y="pct", hue="dataset",
             style="dataset", markers=True, dashes=False, ax=ax)
ax.axhline(100 * P.fraction, color="gray", ls="--", lw=1, label="chance (test colored share)")
ax.set(xlabel="mode (by eigenvalue)", ylabel=f"% colored among top {P.top_samples}", ylim=(-3, 103))
ax.legend(frameon=False)
ax.set_title("Colored share of each FINC mode's top samples")
save_figure(fig, out / "fig_colored_share.png")
plt.show()

# %%
metrics = colored_metrics(runs, summary, P, cfg.profile)
save_metrics(cfg.results / "metrics" / "finc_colored.json", metrics)
metrics
