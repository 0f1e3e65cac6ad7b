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
# # Same family vs different families (paper 3, Sec. 6, Table 6)
#
# **The paper.** EDM2-XS and EDM2-XXL share architecture and training and differ in scale (FID 2.91 vs
# 1.81): classifiers struggle (ResNet-50 74.9%, ConvNeXt-T 57.4%, ViT-S 59.6%). Models of different
# families at nearly equal FID (U-ViT-H/2 2.29, DiT-XL/2 2.27) are easy (Table 5: 86.1-99.7%). FID and
# the classifiers disagree.
#
# **Mini.** `ddpm_s` vs `ddpm_l` (one UNet-DDPM recipe at widths 16 and 32) against the cross-family pair
# of most similar EfficientNet FID (`distclass.family.cross`), 1,500 training / 500 val images per
# distribution, the three classifiers of `dc_binary`. First, the zoo's pairs with their FIDs in three
# spaces (the design check, also in the README).

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

from beyondfid.config import FAMILY_OF, load_config
from beyondfid.distclass.experiments import stage_results
from beyondfid.distclass.tables import family_claims, fid_pairs, model_fids, paper_pairs, table6
from beyondfid.report import save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
D = cfg.params.distclass
F = D.family
out = cfg.results / "dc_family"
out.mkdir(parents=True, exist_ok=True)
specs, results = stage_results(cfg, "dc_family")
zoo = model_fids(cfg)
fids = zoo.set_index("set")["FID_effnet"].to_dict()

# %% [markdown]
# ## Does the zoo fit the paper's design?

# %%
pairs = fid_pairs(zoo, FAMILY_OF)
save_table(pairs, out / "table_pairs", note=f"Scale: {cfg.profile} profile; every zoo model's samples vs "
           "real_heldout in three feature spaces (EfficientNet-Lite0 FID; FD of the zoo's SimCLR and MAE encoders); "
           "ratio = larger / smaller; within 20% = the issue's 'similar FID'. Family: the zoo's model families.")
save_table(paper_pairs(), out / "table_pairs_paper", note="The paper's pairs (Sec. 6): FIDs from its text.")
pairs

# %% [markdown]
# ## Table 6, with the cross-family pair beside it

# %%
t6 = table6(specs, results, fids)
save_table(t6, out / "table6_same_family", note=f"Scale: {cfg.profile} profile; {F.n_train} training / "
           f"{D.task.n_val} val images per distribution; FIDs (effnet) of the two models. Paper: E2-XS vs E2-XXL "
           "(FID 2.91 vs 1.81, Table 6); cross-family: U-H/2 vs D (2.29 vs 2.27, Table 5's 2-way).")
fig, ax = plt.subplots(figsize=(6, 3.4))
sns.barplot(data=t6, x="arch", y="acc_%", hue="kind", ax=ax)
ax.axhline(50, color="k", ls=":", lw=1)
ax.set_ylabel("validation accuracy (%)")
ax.set_title(f"Same family ({F.small} vs {F.large}) vs different families ({' vs '.join(F.cross_names)})",
             fontsize=9)
save_figure(fig, out / "fig_table6.png")
plt.show()
t6

# %%
same, cross = t6[t6["kind"] == "same family"], t6[t6["kind"] != "same family"]
metrics = {"profile": cfg.profile,
           "same_family_acc": dict(zip(same["arch"], same["acc_%"])),
           "cross_family_acc": dict(zip(cross["arch"], cross["acc_%"])),
           "same_minus_cross_mean": float(same["acc_%"].mean() - cross["acc_%"].mean()),
           "pairs_within_20pct_effnet": pairs.loc[pairs["within_20%_effnet"], "pair"].tolist(),
           **family_claims(t6)}
save_metrics(cfg.results / "metrics" / "dc_family.json", metrics)
metrics
