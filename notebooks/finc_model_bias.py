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
# The FINC paper runs FINC with a model's samples as the test set and ImageNet as the reference,
# and finds modes the model generates too often: BigGAN over-generates mushrooms, LDM koalas,
# DiT-XL certain flower patterns (qualitative, from images; the paper gives no numbers).
#
# Here (fixed before looking at any outcome): every zoo generator's samples against the real
# held-out AnimalShape images (`real_heldout`, never trained on), on the zoo_eval features
# (`feature` in params; default the profile's extractor), with the paper's r and η and the
# median-heuristic σ. The zoo models are small AnimalShape stand-ins, not the paper's ImageNet
# models, so the paper's classes cannot recur; what can be checked is whether FINC's top mode is a
# class the model really over-produces. The domain classifier labels both sets; a class's
# over-representation ratio is ρ = (generated share) / (real share). **Hit** (a priori): the top
# mode's majority class has ρ > 1; **strict hit**: it has the largest ρ of all classes
# (`beyondfid.finc.model_bias`). Chance: a random generated sample's class has ρ > 1 with probability
# "chance (hit)"; the controls below have exact ground truth.
#
# **Class-skewed controls**: `real_half_a` resampled (true labels, without replacement) so that
# one class is `skew_factor` times as frequent, against the disjoint `real_half_b`; every class in
# turn; a control is a hit if FINC's top-1 mode's majority class is the planted class (chance 1/10).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from beyondfid.config import MODELS, load_config
from beyondfid.data import DataError, load_imageset
from beyondfid.finc import finc, median_bandwidth
from beyondfid.finc.model_bias import (
    class_ids,
    class_representation,
    hit_chance,
    mode_bias_rows,
    run_skew_controls,
)
from beyondfid.report import image_grid, save_figure, save_metrics, save_table
from beyondfid.zoo import load_samples, zoo_dirs
from beyondfid.zoo.eval import load_eval

cfg = load_config(profile, params_path, root)
P = cfg.params.finc_model_bias
out = cfg.results / "finc_model_bias"
out.mkdir(parents=True, exist_ok=True)
eval_dir = cfg.artifacts / "zoo" / "eval"
class_names = list(json.loads((eval_dir / "index.json").read_text())["class_names"])
K = len(class_names)
real = load_eval(cfg, "real_heldout")
if P.feature not in real:
    raise KeyError(f"zoo_eval has no {P.feature!r} features (keys: {sorted(real)}); set finc_model_bias.feature "
                   f"to one of effnet / ssl_contrastive / ssl_masked that the profile computes")
labelled = "labels" in real
kw = dict(eta=P.eta, rff_dim=P.rff_dim, top_k=P.top_k, seed=cfg.params.seed, top_samples=P.top_samples)
print(f"{len(real[P.feature])} real_heldout rows, feature {P.feature} ({real[P.feature].shape[1]}-d), "
      f"{K} classes, classifier labels: {labelled}")

# %% [markdown]
# ## FINC per generator

# %%
PAPER = {"gan": "BigGAN: mushrooms (fungi)", "ddpm_l": "LDM: koalas", "dit": "DiT-XL: flower patterns"}
runs = {}
for m in MODELS:
    ev = load_eval(cfg, m)
    bw = median_bandwidth(ev[P.feature], real[P.feature], seed=cfg.params.seed)
    res = finc(ev[P.feature], real[P.feature], sigma=float(bw), **kw)
    rep = class_representation(ev["labels"], real["labels"], K) if labelled else None
    rows = mode_bias_rows(res.top_indices, ev["labels"], rep, modes=P.modes_shown) if labelled else []
    sample_file = zoo_dirs(cfg)["models"] / m / "samples.npz"
    images = load_samples(sample_file.parent) if sample_file.is_file() else None
    runs[m] = dict(ev=ev, sigma=float(bw), res=res, rep=rep, rows=rows, images=images)
    print(f"{m}: sigma={float(bw):.3f}, {res.n_positive} positive eigenvalues, modes {res.k} {res.message}")

# %%
n_show = min(10, P.top_samples)
shown = [(m, i) for m in MODELS for i in range(min(P.modes_shown, runs[m]["res"].k)) if runs[m]["images"] is not None]
if shown:
    fig, axes = plt.subplots(len(shown), 1, figsize=(n_show * 0.9 + 1.5, len(shown) * 1.05 + 0.6), squeeze=False)
    for ax, (m, i) in zip(axes[:, 0], shown):
        r = runs[m]
        idx = r["res"].top_indices[i][:n_show]
        ax.imshow(image_grid(r["images"][idx], ncols=n_show, pad=1, pad_value=255), cmap="gray", interpolation="nearest")
        title = f"{m}, mode {i + 1}: λ={r['res'].eigenvalues[i]:.4f}"
        if labelled:
            row = r["rows"][i]
            verdict = "strict hit" if row["strict_hit"] else ("hit" if row["hit"] else "miss")
            title += (f"; majority '{class_names[row['majority']]}' {100 * row['purity']:.0f}% of top "
                      f"{len(r['res'].top_indices[i])}, ρ={row['ratio']:.2f} ({verdict})")
        ax.set_title(title, fontsize=8, loc="left")
        ax.axis("off")
    fig.suptitle(f"FINC: modes each generator over-produces vs real_heldout ({P.feature} features)", fontsize=10)
    fig.tight_layout(h_pad=0.5, rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the suptitle
    save_figure(fig, out / "fig_modes.png")
    plt.show()

# %% [markdown]
# ## Is the top mode an over-represented class?

# %%
table = []
for m in MODELS:
    r = runs[m]
    res = r["res"]
    row = {"model": m, "samples": res.n_test, "sigma": r["sigma"], "modes (positive eigenvalues)": res.n_positive,
           "lambda_1": res.eigenvalues[0] if res.k else 0.0}
    if labelled and r["rows"]:
        t = r["rows"][0]
        top_cls = int(r["rep"].ranking()[0])
        ch, ch_strict = hit_chance(r["rep"])
        row.update({"top mode: majority class": class_names[t["majority"]], "purity": t["purity"],
                    "rho of that class": t["ratio"], "rank of that class by rho": t["rank"],
                    "hit (rho > 1)": t["hit"], "strict hit (largest rho)": t["strict_hit"],
                    "chance (hit)": ch, "chance (strict)": ch_strict,
                    "most over-represented class (classifier)": f"{class_names[top_cls]} (rho={r['rep'].ratio[top_cls]:.2f})"})
    elif labelled:  # no positive eigenvalue: no over-represented mode at all, a miss
        row.update({"top mode: majority class": "no mode", "hit (rho > 1)": False, "strict hit (largest rho)": False,
                    "chance (hit)": hit_chance(r["rep"])[0], "chance (strict)": hit_chance(r["rep"])[1]})
    row["paper (ImageNet model, qualitative)"] = PAPER.get(m, "–")
    table.append(row)
table = pd.DataFrame(table)
save_table(table, out / "table_model_bias",
           note=f"Scale: {cfg.profile} profile; AnimalShape zoo generators (stand-ins, not the paper's ImageNet models) "
                f"vs real_heldout ({len(real[P.feature])} images); FINC on {P.feature} features, r={P.rff_dim}, "
                f"eta={P.eta}, sigma = median heuristic per model, top {P.top_samples} samples per mode. rho = generated "
                f"share / real share of the domain classifier's labels. Hit: rho > 1; strict: the largest rho; chance: "
                f"generated share of those classes.")
table

# %%
if labelled:
    ratio = np.array([runs[m]["rep"].ratio for m in MODELS])
    fig, ax = plt.subplots(figsize=(0.6 * K + 2.5, 0.45 * len(MODELS) + 1.5))
    lr = np.log2(np.clip(np.nan_to_num(ratio, nan=1.0, posinf=8.0), 1 / 8, 8))
    im = ax.imshow(lr, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    for y, m in enumerate(MODELS):
        by_class: dict[int, list[str]] = {}
        for i, row in enumerate(runs[m]["rows"]):
            by_class.setdefault(row["majority"], []).append(str(i + 1))
        for c, names in by_class.items():
            ax.text(c, y, ",".join(names), ha="center", va="center", fontsize=8,
                    fontweight="bold" if "1" in names else "normal")
    ax.set_xticks(range(K), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(MODELS)), MODELS, fontsize=8)
    fig.colorbar(im, ax=ax, label="log2 ρ (generated / real class share)")
    ax.set_title("Classifier over-representation; numbers = majority class of FINC mode 1, 2, ...", fontsize=9)
    save_figure(fig, out / "fig_class_ratios.png")
    plt.show()

# %% [markdown]
# ## Class-skewed controls (known planted class)

# %%
splits = zoo_dirs(cfg)["splits"]
try:
    half_a, half_b = load_imageset(splits, "real_half_a"), load_imageset(splits, "real_half_b")
except DataError as e:  # image-folder data (paper profile): no true labels, no controls
    half_a = half_b = None
    print(f"controls skipped: {e}")
controls, ctl_summary = pd.DataFrame(), {}
if half_a is not None:
    if list(half_a.class_names) != class_names:
        raise ValueError(f"class names of the splits {half_a.class_names} differ from zoo_eval's {class_names}; "
                         f"re-run `dvc repro zoo_eval`")
    fa, fb = load_eval(cfg, "real_half_a")[P.feature], load_eval(cfg, "real_half_b")[P.feature]
    if len(fa) != len(half_a):
        raise ValueError(f"zoo_eval real_half_a has {len(fa)} rows, the split {len(half_a)}; re-run `dvc repro zoo_eval`")
    planted = class_ids(P.skew_class_names, class_names) if P.skew_class_names else None
    bw_c = median_bandwidth(fa, fb, seed=cfg.params.seed)
    rows, ctl_summary = run_skew_controls(fa, half_a.labels, fb, K, P.skew_factor, dict(kw, sigma=float(bw_c)),
                                          classes=planted, seed=cfg.params.seed)
    controls = pd.DataFrame([{"planted class": class_names[r["planted"]], "share in real_half_a": r["source_share"],
                              "share in control": r["planted_share"], "control size": r["n"],
                              "top-1 majority": class_names[r["top1_majority"]] if r["top1_majority"] >= 0 else "no mode",
                              "top-1 purity": r["top1_purity"], "planted share of top-1 samples": r["top1_planted_share"],
                              "lambda_1": r["lambda1"], "hit": r["hit"]} for r in rows])
    save_table(controls, out / "table_controls",
               note=f"Scale: {cfg.profile} profile; real_half_a resampled without replacement so that the planted class "
                    f"is {P.skew_factor:g}x as frequent (true labels), FINC vs real_half_b ({len(fb)} images), "
                    f"r={P.rff_dim}, eta={P.eta}, sigma={float(bw_c):.3f} (median heuristic), top {P.top_samples} "
                    f"samples. Hit rate {ctl_summary['hits']}/{ctl_summary['controls']} = {ctl_summary['hit_rate']:.2f}, "
                    f"chance {ctl_summary['chance']:.2f}. Paper: no such control (planted-mode checks only in Fig. 1).")
    display(controls)  # noqa: F821

# %%
hits = pd.DataFrame({
    "check": ["zoo models: top mode's class over-represented (rho > 1)", "zoo models: top mode's class is the most over-represented",
              f"controls: top-1 mode = planted class (x{P.skew_factor:g})"],
    "hit rate (ours)": [table["hit (rho > 1)"].mean() if labelled else np.nan,
                        table["strict hit (largest rho)"].mean() if labelled else np.nan,
                        ctl_summary.get("hit_rate", np.nan)],
    "count": [f"{int(table['hit (rho > 1)'].sum())}/{len(table)}" if labelled else "–",
              f"{int(table['strict hit (largest rho)'].sum())}/{len(table)}" if labelled else "–",
              f"{ctl_summary['hits']}/{ctl_summary['controls']}" if ctl_summary else "–"],
    "chance": [table["chance (hit)"].mean() if labelled else np.nan, table["chance (strict)"].mean() if labelled else np.nan,
               ctl_summary.get("chance", np.nan)],
    "paper": ["BigGAN mushrooms, LDM koalas, DiT-XL flowers (ImageNet, qualitative, no rates)", "not reported", "not reported"],
})
save_table(hits, out / "table_hit_rates", note=f"Scale: {cfg.profile} profile. Chance for the zoo rows: mean over models "
                                               f"of the generated share of the qualifying classes.")
hits

# %%
metrics = {"profile": cfg.profile, "feature": P.feature,
           "sigma": {m: runs[m]["sigma"] for m in MODELS},
           "lambda_1": {m: float(runs[m]["res"].eigenvalues[0]) if runs[m]["res"].k else 0.0 for m in MODELS}}
if labelled:
    metrics.update({"top_mode_class": {m: class_names[runs[m]["rows"][0]["majority"]] for m in MODELS if runs[m]["rows"]},
                    "model_hit_rate": float(hits["hit rate (ours)"][0]),
                    "model_strict_hit_rate": float(hits["hit rate (ours)"][1])})
if ctl_summary:
    metrics.update({"control_hit_rate": float(ctl_summary["hit_rate"]), "control_chance": float(ctl_summary["chance"])})
save_metrics(cfg.results / "metrics" / "finc_model_bias.json", metrics)
metrics
