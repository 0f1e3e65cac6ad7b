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
# # Multi-way distribution classification (paper 3, Fig. 1, Table 3, Table 5)
#
# **The paper.** Fig. 1 shows rows of four images -- one real, three from strong diffusion models -- and
# asks "which one is real?". Table 3: four-way classification of COCO + three text-to-image models with
# 5k or 10k training images per distribution (ResNet-50 88.3 -> 93.5%, ViT-S 76.3 -> 83.5%, ConvNeXt-T
# 80.5 -> 85.1%). Table 5: diffusion models of *similar FID* are easy to tell apart, and adding
# distributions one by one raises accuracy (U-H/2 vs D: 86.1-99.7%; + I-256: 95.9-99.9%; + E2-XXL:
# 98.1-99.9%).
#
# **Mini.** The real class (`real_heldout`) and the zoo's three models of most similar EfficientNet FID
# (`distclass.multiway.similar_models`: FID 468-615, see the README's design check), each with 500 val
# images; four-way at 750 and 1,500 training images per distribution (the paper's 5k / 10k -> half and all
# of ours); Table 5 adds the same three models and the real class in the paper's order. Same classifiers
# and recipe as `dc_binary`; runs trained by `dc_runs`. The real class is always label 0, so Table 3's
# 1,500-image run is the same run as Table 5's four-way.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from beyondfid.config import load_config
from beyondfid.distclass.experiments import stage_results
from beyondfid.distclass.pixels import load_pool
from beyondfid.distclass.tables import model_fids, table3, table5
from beyondfid.distclass.task import class_rows, task_spec
from beyondfid.report import image_grid, save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
D = cfg.params.distclass
M = D.multiway
out = cfg.results / "dc_multiway"
out.mkdir(parents=True, exist_ok=True)
specs, results = stage_results(cfg, "dc_multiway")
fids = model_fids(cfg).set_index("set")["FID_effnet"].to_dict()
scale = (f"Scale: {cfg.profile} profile; {D.task.n_val} val images per distribution; same classifiers and "
         f"recipe as dc_binary ({D.train.epochs:g} epochs). FID (effnet): "
         + ", ".join(f"{m} {fids[m]:.0f}" for m in M.similar_names) + ".")

# %% [markdown]
# ## Fig. 1: which one is real?

# %%
rng = np.random.default_rng(cfg.params.seed)
pools = [M.real, *M.fourway_names]
spec = task_spec(cfg, pools, max(M.size_list))
val_rows = {}
for ref in spec.classes:
    images = load_pool(cfg, ref.source)
    val_rows[ref.source] = images[class_rows(ref, len(images), spec.n_train, spec.n_val, spec.split_seed)[1]]
rows, key = [], []
for r in range(M.fig1_rows):
    order = rng.permutation(len(pools))
    rows.append(np.stack([val_rows[pools[i]][rng.integers(len(val_rows[pools[i]]))] for i in order]))
    key.append(f"row {r + 1}: " + ", ".join(pools[i] for i in order) + f"  (real: position {int(np.argmax(order == 0)) + 1})")
grid = image_grid(np.concatenate(rows), ncols=len(pools), pad=2)
h_img, h_key = M.fig1_rows * 1.2, 0.18 * (M.fig1_rows + 1) + 0.1
fig = plt.figure(figsize=(len(pools) * 1.2 + 2.2, h_img + h_key + 0.4))
ax = fig.add_axes((0.0, (h_key + 0.05) / fig.get_figheight(), 1.0, h_img / fig.get_figheight()))
ax.imshow(grid, cmap="gray", interpolation="nearest")
ax.axis("off")
ax.set_title("Which one is real in each row?", fontsize=10)
fig.text(0.02, 0.02, "Answer key (left to right):\n" + "\n".join(key), fontsize=7, va="bottom", family="monospace")
save_figure(fig, out / "fig1_which_is_real.png")
plt.show()

# %% [markdown]
# ## Table 3: four-way at two training sizes

# %%
t3 = table3(specs, results, M.size_list)
save_table(t3, out / "table3_fourway", note=scale + " Paper: COCO + Pixart-α, SDXL, Playground-v2.5 (text-to-image), "
           "5k / 10k training images; ours: real + three zoo models at half / all of the training images.")
t3

# %% [markdown]
# ## Table 5: adding distributions of similar FID one by one

# %%
t5 = table5(specs, results)
save_table(t5, out / "table5_similar_fid", note=scale + " Paper: U-H/2 (2.29), D (2.27), I-256, E2-XXL (2.14).")
fig, ax = plt.subplots(figsize=(6, 3.4))
sns.barplot(data=t5, x="k", y="acc_%", hue="arch", ax=ax)
for k in sorted(t5["k"].unique()):
    ax.hlines(100 / k, k - 2 - 0.4, k - 2 + 0.4, color="k", ls=":", lw=1)
ax.set_xlabel("distributions (2: two models; 3: + real; 4: + third model)")
ax.set_ylabel("validation accuracy (%)")
ax.set_title("Table 5 (mini): similar-FID models added one by one (dotted: chance)", fontsize=9)
save_figure(fig, out / "fig_table5.png")
plt.show()
t5

# %%
metrics = {"profile": cfg.profile,
           "table3_acc": {f"{r['arch']}|{int(r['n_train'])}": r["acc_%"] for _, r in t3.iterrows()},
           "table5_acc": {f"{r['arch']}|{int(r['k'])}": r["acc_%"] for _, r in t5.iterrows()},
           "fig1_rows": M.fig1_rows}
save_metrics(cfg.results / "metrics" / "dc_multiway.json", metrics)
metrics
