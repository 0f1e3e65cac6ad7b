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
# # FINC: what does each generator over-produce? (FINC paper, Fig. 3)
#
# **The paper** runs FINC with a model's samples as the test set and ImageNet as the reference,
# and finds modes the model generates too often: BigGAN over-generates mushrooms, LDM koalas,
# DiT-XL certain flower patterns (qualitative, from images; the paper gives no numbers).
#
# **The mini run** (fixed before looking at any outcome): every zoo generator's samples against the
# real held-out AnimalShape images (`real_heldout`, never trained on), on the zoo_eval features
# (`finc_model_bias.feature`; default the profile's extractor), with the paper's r = 2,000 and
# η = 1, the median-heuristic σ and the top 25 samples per mode. The zoo models are small
# AnimalShape stand-ins, not the paper's ImageNet models, so the paper's classes cannot recur;
# what can be checked is whether FINC's top mode is a class the model really over-produces. The
# domain classifier labels both sets; a class's over-representation ratio is
# ρ = (generated share) / (real share). **Hit** (a priori): the top mode's majority class has
# ρ > 1; **strict hit**: it has the largest ρ of all classes (`beyondfid.finc.model_bias`).
# Chance: a random generated sample's class has ρ > 1 with probability "chance (hit)".
#
# **Class-skewed controls** (exact ground truth): `real_half_a` resampled (true labels, without
# replacement) so that one class is `skew_factor` = 3 times as frequent, against the disjoint
# `real_half_b`; every class in turn; a control is a hit if FINC's top-1 mode's majority class is
# the planted class (chance 1/10).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

from beyondfid.config import MODELS, load_config
from beyondfid.finc import finc_kwargs
from beyondfid.finc.model_bias import (
    bias_mode_title,
    class_ids,
    class_ratio_frames,
    controls_table,
    hit_rates_table,
    load_control_sets,
    model_bias_metrics,
    model_bias_table,
    run_control_study,
    run_model_bias,
)
from beyondfid.report import image_rows_figure, save_figure, save_metrics, save_table
from beyondfid.zoo import load_samples, zoo_dirs
from beyondfid.zoo.eval import load_eval

cfg = load_config(profile, params_path, root)
P = cfg.params.finc_model_bias
out = cfg.results / "finc_model_bias"
out.mkdir(parents=True, exist_ok=True)
class_names = list(json.loads((cfg.artifacts / "zoo" / "eval" / "index.json").read_text())["class_names"])
real = load_eval(cfg, "real_heldout")
if P.feature not in real:
    raise KeyError(f"zoo_eval has no {P.feature!r} features (keys: {sorted(real)}); set finc_model_bias.feature "
                   f"to one of effnet / ssl_contrastive / ssl_masked that the profile computes")
labelled = "labels" in real
kw = finc_kwargs(P, cfg.params.seed)
print(f"{len(real[P.feature])} real_heldout rows, feature {P.feature} ({real[P.feature].shape[1]}-d), "
      f"{len(class_names)} classes, classifier labels: {labelled}; {P}")

# %% [markdown]
# ## FINC per generator

# %%
runs = []
for m in MODELS:
    ev = load_eval(cfg, m)
    labels = dict(gen_labels=ev["labels"], real_labels=real["labels"], n_classes=len(class_names)) if labelled else {}
    runs.append(run_model_bias(m, ev[P.feature], real[P.feature], kw, modes=P.modes_shown, **labels))
    print(f"{m}: sigma={runs[-1].result.sigma:.3f}, {runs[-1].result.n_positive} positive eigenvalues, "
          f"modes {runs[-1].result.k} {runs[-1].result.message}")

# %% [markdown]
# ## The top modes of each generator (the paper's Fig. 3 layout)
# One row per mode, its best samples left to right; the title says whether the mode's majority
# class is over-represented.

# %%
n_show = min(10, P.top_samples)
models_dir = zoo_dirs(cfg)["models"]
images = {m: load_samples(models_dir / m) for m in MODELS if (models_dir / m / "samples.npz").is_file()}
shown = [(images[r.model][r.result.top_indices[i][:n_show]], bias_mode_title(r, i, class_names))
         for r in runs if r.model in images for i in range(min(P.modes_shown, r.result.k))]
if shown:
    fig = image_rows_figure(shown, n_show, title_size=8,
                            suptitle=f"FINC: modes each generator over-produces vs real_heldout ({P.feature} features)")
    save_figure(fig, out / "fig_modes.png")
    plt.show()

# %% [markdown]
# ## Is the top mode an over-represented class?

# %%
table = model_bias_table(runs, class_names, P, cfg.profile)
save_table(table, out / "table_model_bias")
table

# %% [markdown]
# ## The classifier's over-representation ρ per class, and where FINC's modes fall
# Red: the model generates the class more often than the real images have it. A number marks the
# majority class of FINC mode 1, 2, ... (bold: mode 1).

# %%
if labelled:
    log2_ratio, mode_labels = class_ratio_frames(runs, class_names)
    fig, ax = plt.subplots(figsize=(0.6 * len(class_names) + 2.5, 0.45 * len(runs) + 1.5))
    sns.heatmap(log2_ratio, annot=mode_labels, fmt="", cmap="RdBu_r", vmin=-2, vmax=2, center=0, linewidths=0.5,
                annot_kws={"fontsize": 8}, cbar_kws={"label": "log2 ρ (generated / real class share)"}, ax=ax)
    for t in ax.texts:
        t.set_fontweight("bold" if "1" in t.get_text().split(",") else "normal")
    ax.set(xlabel="", ylabel="")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    ax.tick_params(axis="y", rotation=0, labelsize=8)
    ax.set_title("Classifier over-representation; numbers = majority class of FINC mode 1, 2, ...", fontsize=9)
    save_figure(fig, out / "fig_class_ratios.png")
    plt.show()

# %% [markdown]
# ## Class-skewed controls (known planted class)

# %%
sets = load_control_sets(cfg, P.feature, class_names)
controls = None
if sets is not None:
    planted = class_ids(P.skew_class_names, class_names) if P.skew_class_names else None
    controls = run_control_study(*sets, len(class_names), P.skew_factor, kw, classes=planted)
    ctl_table = controls_table(controls, class_names, P, cfg.profile)
    save_table(ctl_table, out / "table_controls")
    display(ctl_table)  # noqa: F821

# %% [markdown]
# ## Hit rates against chance

# %%
hits = hit_rates_table(table, controls, P.skew_factor, cfg.profile)
save_table(hits, out / "table_hit_rates")
hits

# %%
metrics = model_bias_metrics(runs, class_names, hits, controls, cfg.profile, P.feature)
save_metrics(cfg.results / "metrics" / "finc_model_bias.json", metrics)
metrics
