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
# # The human study: humans vs classifiers on the same pairs (paper 3, Fig. 3, Fig. 10, App. C.6)
#
# **The paper**: nineteen graduate students, three tasks of 32 image pairs each, order randomised,
# zoom allowed, on 27-inch 4K displays: (1) real (ImageNet-256) vs U-ViT-H/2, "which is real?";
# (2) DiT-XL/2 vs U-ViT-H/2 at similar FID, reference images of both shown, "which is DiT?";
# (3) EDM2-XS vs EDM2-XXL, "which is of higher quality?". Fig. 3: classifiers separate the
# similar-FID pair easily but not the same-family pair, humans the opposite (task 2 near chance,
# task 3 comparable to the classifiers). Fig. 10 is a screenshot of the interface.
#
# **Here**: the `dc_human_study` stage built the same three tasks from the zoo
# (`results/<profile>/dc_human_study/index.html`, a self-contained page; its answer key
# `key.json` stays with the experimenter). The pairs are validation images of the issue-13 tasks
# (real vs `distclass.human.generated`, the cross-family pair `distclass.family.cross`, the
# same-family pair `distclass.family.small`/`large`), so those tasks' three classifiers never
# trained on them: each is scored on exactly the human pairs (it picks the image it gives the
# higher probability of the task's target). **A pipeline has no participants**: human accuracy is
# read from the response files under `data/human_study/` (the JSON each participant downloads);
# when there are none, the figure shows the classifiers alone and says so.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

from beyondfid.config import load_config
from beyondfid.distclass.experiments import runs_root
from beyondfid.distclass.human_study import (classifier_scores, fig3_table, find_chromium, load_key, load_responses,
                                             plot_fig3, response_files, score_responses, screenshot_tasks, summarise)
from beyondfid.report import save_figure, save_metrics, save_table

cfg = load_config(profile, params_path, root)
torch.set_num_threads(max(1, cfg.params.distclass.runner.threads))  # the runs' thread count: same bits
H = cfg.params.distclass.human
out = cfg.results / "dc_human"
out.mkdir(parents=True, exist_ok=True)
study = cfg.results / "dc_human_study"
key = load_key(study / "key.json")
for t, v in key["tasks"].items():
    print(f"{t}: {v['n_pairs']} pairs, '{v['question']}' target = {v['target']}, other = {v['other']}")

# %% [markdown]
# ## The classifiers on the study's pairs

# %%
clf = classifier_scores(cfg, key, runs_root(cfg))
save_table(clf, out / "table_classifiers_on_pairs",
           note=f"Scale: {cfg.profile} profile. Two-alternative accuracy on the study's {H.n_pairs} pairs per task "
                f"(validation images of the issue-13 runs); 'validation accuracy' = the run's own top-1.")
clf

# %% [markdown]
# ## The participants' responses

# %%
responses_dir = cfg.root / H.responses
files = response_files(responses_dir)
responses = load_responses(responses_dir, key)
human = score_responses(responses, key)
print(f"{len(files)} response file(s) under {responses_dir}" + ("" if files else ": no human data; the figure "
                                                                 "shows the classifiers alone"))
if len(human):
    save_table(human, out / "table_participants", note="One row per participant and task.")
table = fig3_table(summarise(human) if len(human) else None, clf, key)
save_table(table, out / "table_fig3",
           note=f"Scale: {cfg.profile} profile. Humans: mean ± std over participants (none: –). Classifiers: "
                f"mean ± std over the {clf['classifier'].nunique()} architectures, on the same pairs. The paper "
                f"(Fig. 3) gives bars without numbers: classifiers high on tasks 1-2 and low on 3; humans near "
                f"chance on 2, comparable to classifiers on 3.")
table

# %% [markdown]
# ## Fig. 3

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
plot_fig3(ax, human if len(human) else None, clf, key, responses_dir=str(H.responses))
fig.tight_layout()
save_figure(fig, out / "fig3_humans_vs_classifiers.png")
plt.show()

# %% [markdown]
# ## Fig. 10: the study page, one screenshot per task
#
# Taken by headless Chromium (Playwright) at the first pair of each task, participant seed fixed.

# %%
shots = []
if find_chromium() is None:
    print("Fig. 10 skipped: no Chromium installed (sudo apt-get install chromium)")
else:
    shots = screenshot_tasks(study / "index.html", out / "screenshots",
                             [v["n_pairs"] for v in key["tasks"].values()], seed=H.screenshot_seed, zoom=H.zoom)
    fig, axes = plt.subplots(1, len(shots), figsize=(6 * len(shots), 4.6))
    for ax, p, (t, v) in zip(np.atleast_1d(axes), shots, key["tasks"].items()):
        ax.imshow(np.asarray(Image.open(p).convert("RGB")))
        ax.set_title(f"{t}: {v['question']}", fontsize=10)
        ax.axis("off")
    fig.suptitle("Fig. 10 (mini): the study page in headless Chromium", fontsize=11)
    fig.tight_layout()
    save_figure(fig, out / "fig10_study_page.png")
    plt.show()

# %%
metrics = {"study_id": key["study_id"], "response_files": len(files), "participants": len(responses),
           "classifiers_on_pairs": {f"{r['task']}/{r['classifier']}": r["accuracy"] for _, r in clf.iterrows()},
           "humans": ({r["task"]: {"mean": r["mean"], "std": r["std"], "n": int(r["n"])}
                       for _, r in summarise(human).iterrows()} if len(human) else None),
           "screenshots": [p.name for p in shots]}
save_metrics(cfg.results / "metrics" / "dc_human.json", metrics)
metrics
