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
# # The mini model zoo
#
# Nine generators trained on the same `real_train` split of AnimalShape (28 x 28 gray
# silhouettes, 10 classes), each standing in for a knob of the papers' experiments: one
# diffusion family at two widths (`ddpm_s`, `ddpm_l`: EDM2-XS vs -XXL in paper 3), two
# transformer denoisers (`dit`, and `uvit`, a U-ViT with long skips: paper 3's cross-family
# partner at similar FID), a GAN with training snapshots and a 5x candidate pool (`gan`:
# StyleGAN2 in paper 2), a Projected FastGAN whose discriminators read frozen ImageNet
# EfficientNet-Lite0 features (`projected_gan`: paper 2, Sec. 4), a model trained long on a
# few hundred images so that it copies them (`memorizer`: FINC Fig. 11), a VAE, and a
# class-conditional UNet whose labelled samples replace or augment real training data
# (`ddpm_cond`: paper 3, Fig. 6 / Table 8).
#
# Everything shown is computed once by the `zoo_eval` stage (`beyondfid.zoo.eval`): features
# in three spaces (the profile's ImageNet extractor, our SimCLR and MAE encoders), the domain
# classifier's labels, and every sample's two nearest `real_train` images in pixel space. The
# figures and tables are built by `beyondfid.zoo.report`; this notebook only shows and saves
# them. The seed-to-seed spread (±) comes from `benchmarks/zoo_seeds.py` (several training
# seeds per model, not part of the pipeline). Copy criteria, fixed before any result: ratio
# test `d1 < d2 / 3` (or `d1 = 0`), or L2 below the 1st percentile of `real_heldout`'s own
# nearest-training distances.

# %% tags=["parameters"]
profile = "mini"
params_path = "params.yaml"
root = "."

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from beyondfid.config import load_config
from beyondfid.report import save_figure, save_metrics, save_table
from beyondfid.zoo import report as zr

cfg = load_config(profile, params_path, root)
out = cfg.results / "zoo"
out.mkdir(parents=True, exist_ok=True)
print(zr.scale_note(cfg))

# %% [markdown]
# ## Samples
#
# The first 64 samples of each model (fixed seed, in order: no cherry-picking) and 64 real
# held-out images.

# %%
save_figure(zr.samples_figure(cfg), out / "fig_samples.png")
plt.show()

# %% [markdown]
# ## Training curves
#
# Diffusion models: denoising MSE; VAE: negative ELBO; GANs: discriminator and generator
# losses (linear axis: they are not monotone by design).

# %%
save_figure(zr.training_curves_figure(cfg), out / "fig_training_curves.png")
plt.show()

# %% [markdown]
# ## The zoo table
#
# Each model's samples against `real_heldout`: FID in the ImageNet feature space, Fréchet
# distances in the two self-supervised spaces, KID, k-NN precision and recall, copy shares,
# size and wall-clock time; ± is the standard deviation over training seeds. The control row
# compares the two disjoint halves of `real_heldout`.

# %%
table = zr.zoo_table_with_spread(cfg)
save_table(table, out / "table_zoo", note=table.attrs["note"])
display(table)  # noqa: F821

# %% [markdown]
# ## Does the zoo fit paper 3's design? (issue 13)
#
# Paper 3 pairs models of the same family at different quality (FID 2.91 vs 1.81, ratio 1.6)
# and models of different families at nearly equal FID (2.29, 2.27, 2.14). The table gives
# mini's candidate pairs with their distances and ratios in all three feature spaces, and
# the difference in units of the seed-to-seed spread.

# %%
pairs = zr.family_pairs_table(cfg)
save_table(pairs, out / "table_family_pairs", note=pairs.attrs["note"])
display(pairs)  # noqa: F821

# %% [markdown]
# ## What the samples are: the domain classifier's view
#
# A model that drops or over-produces classes shows a class histogram that departs from
# real_heldout's; the classifier's own labels of real_heldout are shown too, so that its
# confusions are not mistaken for the models'.

# %%
shares = zr.class_share_table(cfg)
if len(shares):
    save_table(shares, out / "table_class_shares", note=shares.attrs["note"])
    save_figure(zr.class_figure(cfg, shares), out / "fig_classes.png")
    plt.show()
else:
    print("no domain classifier on this profile (zoo.classifier is null)")

# %% [markdown]
# ## The labelled synthetic set (`ddpm_cond`)
#
# Every image of `ddpm_cond` carries the class it was generated for (`labelled.npz`, 8,000
# images on mini, class-balanced; `samples.npz` is its first 2,000). Label agreement = the
# share the domain classifier puts in that class.

# %%
labelled = zr.labelled_set_table(cfg)
save_table(labelled, out / "table_labelled", note=labelled.attrs["note"])
display(labelled)  # noqa: F821

# %% [markdown]
# ## Copies of the training set
#
# For every sample, the pixel distance to its nearest `real_train` image; real held-out images
# are the reference. The memorizer should pile up below the dashed copy threshold.

# %%
copies = zr.copies_table(cfg)
save_table(copies, out / "table_copies", note=copies.attrs["note"])
save_figure(zr.nn_distance_figure(cfg, copies), out / "fig_nn_distances.png")
plt.show()
display(copies)  # noqa: F821

# %% [markdown]
# The memorizer's first samples (top row of each pair) above their nearest training images,
# and the same for `ddpm_l`, the same network trained on all of `real_train`.

# %%
save_figure(zr.memorizer_pairs_figure(cfg), out / "fig_memorizer_neighbours.png")
plt.show()

# %% [markdown]
# ## GAN training snapshots
#
# FID of each GAN snapshot's samples against `real_heldout` over training (paper 2, Fig. 9;
# its Sec. 4 compares the projected GAN with the snapshot of closest FID). Snapshots have
# fewer samples than the final models, hence a larger small-sample bias.

# %%
snaps = zr.snapshot_table(cfg)
save_table(snaps, out / "table_gan_snapshots", note=snaps.attrs["note"])
save_figure(zr.snapshot_figure(cfg, snaps, table), out / "fig_gan_snapshots.png")
plt.show()

# %%
metrics = zr.zoo_metrics(cfg, table, copies, shares, snaps, pairs, labelled)
save_metrics(cfg.results / "metrics" / "zoo.json", metrics)
{k: metrics[k] for k in ("copy_threshold_l2", "memorizer_nn_in_training_subset")}
