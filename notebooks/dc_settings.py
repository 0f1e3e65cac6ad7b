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
# # What ran: components, training settings, training time (paper 3, Tables 9-12)
#
# **The paper** lists the code and license of every model it used (Table 9), the training settings of
# ResNet-50 for CIFAR-10 (Table 10) and ImageNet (Table 11), and the training time of its classifiers
# (Table 12: 2-11 h on 4x RTX 3090 or 8x V100). Here the same tables are generated from what actually ran:
# installed package versions and their licenses, the recipes from `params.yaml`, and the training time
# that `fit` measured for every run of the `dc_runs` stage on this machine.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import os
import platform

import pandas as pd

from beyondfid.config import load_config
from beyondfid.distclass.experiments import STAGES, stage_results
from beyondfid.distclass.tables import components_table, settings_table, timing_by_experiment, timing_table
from beyondfid.report import save_metrics, save_table

cfg = load_config(profile, params_path, root)
D = cfg.params.distclass
out = cfg.results / "dc_settings"
out.mkdir(parents=True, exist_ok=True)
machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, runner: {D.runner.launcher} x {D.runner.workers} " \
          f"worker(s), {D.runner.threads} thread(s) each"

# %% [markdown]
# ## Table 9: components and licenses

# %%
t9 = components_table()
save_table(t9, out / "table9_components", note="Versions and licenses as installed (package metadata). The "
           "paper's Table 9 lists ConvNeXt (MIT), U-ViT (MIT), DiT (CC BY-NC 4.0), EDM/EDM2 (CC BY-NC-SA 4.0) and "
           "three text-to-image models; none of them ran here (the zoo's generators stand in).")
t9

# %% [markdown]
# ## Tables 10-11: training settings

# %%
t10 = settings_table(D.train, D.pretrained.train)
save_table(t10, out / "table10_11_settings", note=f"Scale: {cfg.profile} profile. Ours from params.yaml "
           "(distclass.train, distclass.pretrained.train); the reasons for each value are in params.yaml.")
t10

# %% [markdown]
# ## Table 12: training time per run, and per experiment

# %%
specs, results = [], {}
for st in STAGES:
    s, r = stage_results(cfg, st)
    specs += s
    results.update(r)
t12 = timing_table(specs, results)
save_table(t12, out / "table12_training_time", note=f"Seconds of training (fit's wall time, resumed calls summed) "
           f"on this machine: {machine}. Runs shared by two tables appear under each.")
by = timing_by_experiment(specs, results)
save_table(by, out / "table12_by_experiment", note=f"Sum of training seconds per table (each run counted once); "
           f"wall time is lower when runs train in parallel. {machine}.")
by

# %%
metrics = {"profile": cfg.profile, "runs": int(t12.drop_duplicates(["tag", "arch", "classes", "n_train"]).shape[0]),
           "train_seconds_total": float(by["train_seconds"].sum()),
           "train_seconds_by_experiment": dict(zip(by["tag"], by["train_seconds"])), "machine": machine}
save_metrics(cfg.results / "metrics" / "dc_settings.json", metrics)
metrics
