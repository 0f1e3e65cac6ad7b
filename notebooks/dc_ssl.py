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
# # Self-supervised linear probes (paper 3, Sec. 5.3, Table 4, Table 15)
#
# **The paper.** A linear classifier on frozen features of ImageNet-pretrained ViT-B encoders also tells
# real from generated: MAE 91.7% / MoCo v3 77.4% on I-256 vs U-H/2, 81.8% / 74.3% on I-512 vs E2-XXL, but
# only 64.8-73.4% on CIFAR (Table 4; "MAE outperforms MoCo v3 on ImageNet-related tasks"). Four-way on
# text-to-image: 87.8-91.7% (Table 15).
#
# **Mini.** The zoo's frozen encoders, both trained on `real_train` (AnimalShape): `ssl_masked` (MAE: a
# small ViT, mean patch token, stands for MAE) and `ssl_contrastive` (SimCLR CNN, pooled features, stands
# for MoCo v3). Features of every image of a pool are extracted once by the `dc_runs` stage (shared pixel
# path; across processes under torchrun). A multinomial logistic regression (L-BFGS, weak L2, features
# standardised on the training rows) is fitted on exactly the training images the supervised classifiers
# use and evaluated on the same 500 val images per distribution.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.distclass.probes import PAPER_NAME, run_probes
from beyondfid.distclass.tables import probe_claims, probe_table
from beyondfid.report import save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
D = cfg.params.distclass
S = D.ssl
out = cfg.results / "dc_ssl"
out.mkdir(parents=True, exist_ok=True)
rows = run_probes(cfg)
scale = (f"Scale: {cfg.profile} profile; {S.n_train} training / {D.task.n_val} val images per distribution; "
         f"logistic regression, L2 {S.l2:g} on standardised features, {S.max_iter} L-BFGS iterations. Encoders: "
         + "; ".join(f"{e} = {PAPER_NAME[e]}" for e in S.encoder_names) + ". Paper: ViT-B encoders pretrained on "
         "ImageNet, 100k/50k images per distribution.")

# %% [markdown]
# ## Table 4: real vs each generator

# %%
t4 = probe_table(rows, "table4")
save_table(t4, out / "table4_probes_binary", note=scale)
wide = t4.assign(model=[c.split(" vs ")[1] for c in t4["classes"]]).pivot(index="model", columns="encoder",
                                                                          values="acc_%")
fig, ax = plt.subplots(figsize=(7, 3.4))
sns.barplot(data=t4.assign(model=[c.split(" vs ")[1] for c in t4["classes"]]), x="model", y="acc_%", hue="encoder",
            ax=ax)
ax.axhline(50, color="k", ls=":", lw=1)
ax.set_ylabel("probe accuracy (%)")
ax.tick_params(axis="x", labelsize=8)
ax.set_title("Linear probes on frozen self-supervised features: real vs each generator", fontsize=9)
save_figure(fig, out / "fig_table4.png")
plt.show()
t4

# %% [markdown]
# ## Table 15: four-way

# %%
t15 = probe_table(rows, "table15", S.size_list)
save_table(t15, out / "table15_probes_fourway", note=scale)
t15

# %%
mae_minus = (wide["ssl_masked"] - wide["ssl_contrastive"]) if {"ssl_masked", "ssl_contrastive"} <= set(wide) else pd.Series()
metrics = {"profile": cfg.profile,
           "table4_acc": {f"{r['encoder']}|{r['classes']}": r["acc_%"] for _, r in t4.iterrows()},
           "table15_acc": {f"{r['encoder']}|{int(r['n_train'])}": r["acc_%"] for _, r in t15.iterrows()},
           "mae_minus_contrastive_mean": float(mae_minus.mean()) if len(mae_minus) else None,
           "mae_above_contrastive": int((mae_minus > 0).sum()), "models": int(len(mae_minus)),
           "all_converged": bool(all(r["converged"] for r in rows)), **probe_claims(t4)}
save_metrics(cfg.results / "metrics" / "dc_ssl.json", metrics)
metrics
