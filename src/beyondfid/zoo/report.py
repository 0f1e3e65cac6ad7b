"""Figures and tables of the ``zoo`` notebook, built from the ``zoo_eval`` stage's outputs.

Each function makes one figure (a matplotlib ``Figure``) or one table (a pandas ``DataFrame``
with a ``.attrs["note"]`` saying what it shows and at which scale), so that the notebook keeps
one short cell per item (issue 9). Nothing here trains or extracts; everything reads
``artifacts/<profile>/zoo/`` and, for the seed-to-seed spread, ``benchmarks/results/
zoo_seed_spread.json`` (written by ``benchmarks/zoo_seeds.py``).

Copy criteria (fixed before any result was looked at): a sample is a *copy* if its nearest
training image is much closer than the second nearest (ratio test ``d1 < d2 / 3`` or
``d1 = 0``), or, separately, if it is closer to the training set than 99% of real held-out
images are (L2 below the 1st percentile of ``real_heldout``'s nearest-training distances).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import CONDITIONAL_MODELS, MODELS, Config
from ..report import image_grid
from .eval import (
    class_histograms,
    eval_index,
    first_images,
    history_arrays,
    l2_copy_share,
    l2_copy_threshold,
    load_encoder_log,
    load_eval,
    load_log,
    load_split,
    moving_average,
    ratio_copy_share,
    rows_of,
    snapshot_fids,
    total_variation,
    zoo_table,
)
from .registry import zoo_dirs

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

COPY_RATIO = 1 / 3
COPY_PERCENTILE = 1.0
#: Where ``benchmarks/zoo_seeds.py`` writes the measured seed-to-seed spread (one entry per profile).
SEED_SPREAD_FILE = Path("benchmarks") / "results" / "zoo_seed_spread.json"
SPREAD_COLUMNS = ("FID_effnet", "FD_ssl_contrastive", "FD_ssl_masked", "precision", "recall")


def scale_note(cfg: Config) -> str:
    """``Scale: mini profile; 8000 real_train / 2000 real_heldout images; features effnet_lite0 @ 128 px``."""
    index = eval_index(cfg)
    return (f"Scale: {cfg.profile} profile; {len(load_split(cfg, 'real_train'))} real_train / "
            f"{len(load_split(cfg, 'real_heldout'))} real_heldout images; features {index['extractor']} @ "
            f"{index['resolution']} px")


def _grid_axes(n: int, ncols: int, size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    import matplotlib.pyplot as plt

    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()


# --------------------------------------------------------------------------------------
# samples and training curves
# --------------------------------------------------------------------------------------


def samples_figure(cfg: Config, n_show: int = 64) -> Figure:
    """The first ``n_show`` samples of every model (fixed seed, in order: no cherry-picking) and
    ``n_show`` real held-out images (a seeded random draw: the split is stored class by class)."""
    held = load_split(cfg, "real_heldout")
    pick = np.sort(np.random.default_rng(cfg.params.seed).choice(len(held), min(n_show, len(held)), replace=False))
    images = {m: first_images(cfg, m, n_show) for m in MODELS}
    images["real_heldout"] = np.concatenate([held.get(int(i), int(i) + 1) for i in pick])
    fig, axes = _grid_axes(len(images), 5, (2.6, 3.05))
    for ax, (name, imgs) in zip(axes, images.items()):
        ax.imshow(image_grid(imgs, ncols=8, pad=1, pad_value=255), cmap="gray", interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"Zoo samples vs real held-out images ({cfg.profile} profile)", fontsize=11)
    fig.tight_layout()
    return fig


def training_curves_figure(cfg: Config) -> Figure:
    """Every model's training losses per step, trailing moving average over 2% of the steps
    (diffusion, VAE: log axis; GANs, whose losses are not monotone by design: linear axis)."""
    fig, axes = _grid_axes(len(MODELS), 5, (2.9, 2.5))
    for ax, m in zip(axes, MODELS):
        log = load_log(cfg, m)
        h = history_arrays(log.get("history", []))
        if len(h["step"]) == 0:
            ax.set_title(f"{m}: no training history (imported samples)", fontsize=8)
            continue
        keys = [k for k in ("loss", "d_loss", "g_loss") if k in h]
        w = max(1, len(h["step"]) // 50)
        for k in keys:
            ax.plot(h["step"][w - 1:], moving_average(h[k], w), label=k, lw=1)
        if "d_loss" not in h and all(np.all(h[k] > 0) for k in keys):
            ax.set_yscale("log")
        ax.set_title(f"{m} ({log['steps_done']} steps)", fontsize=9)
        ax.set_xlabel("step")
        ax.legend(frameon=False, fontsize=7)
    fig.suptitle(f"Training losses, moving average over 2% of the steps ({cfg.profile})", fontsize=11)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# the zoo table, with the seed-to-seed spread
# --------------------------------------------------------------------------------------


def load_seed_spread(cfg: Config, path: str | Path | None = None) -> dict[str, Any] | None:
    """This profile's entry of the seed-spread file (``None`` when it was not measured)."""
    p = Path(path) if path is not None else Path(cfg.root) / SEED_SPREAD_FILE
    if not p.is_file():
        return None
    entry = json.loads(p.read_text()).get(cfg.profile)
    return entry if isinstance(entry, dict) and entry.get("models") else None


def spread_columns(table: pd.DataFrame, spread: dict[str, Any] | None) -> pd.DataFrame:
    """``table`` with a ``<metric> ±`` column after each metric of :data:`SPREAD_COLUMNS`: the standard
    deviation over training seeds measured by ``benchmarks/zoo_seeds.py`` (NaN where not measured)."""
    out = table.copy()
    models = (spread or {}).get("models", {})
    for col in SPREAD_COLUMNS:
        if col not in out.columns:
            continue
        values = [models.get(s, {}).get(col, {}).get("std", np.nan) for s in out["set"]]
        out.insert(out.columns.get_loc(col) + 1, f"{col} ±", np.asarray(values, dtype=np.float64))
    return out


def zoo_table_with_spread(cfg: Config, spread_path: str | Path | None = None) -> pd.DataFrame:
    """The zoo table (:func:`beyondfid.zoo.eval.zoo_table` against ``real_heldout``) with the seed spread."""
    table = zoo_table(cfg, "real_heldout", copy_ratio=COPY_RATIO, copy_percentile=COPY_PERCENTILE)
    spread = load_seed_spread(cfg, spread_path)
    out = spread_columns(table, spread)
    index = eval_index(cfg)
    n_models = sorted({index["sets"][m]["count"] for m in MODELS})
    n_a, n_b = index["sets"]["real_half_a"]["count"], index["sets"]["real_half_b"]["count"]
    if spread:
        seeds = spread.get("seeds", [])
        spread_note = (f"'±' = standard deviation over {len(seeds)} training seeds ({', '.join(map(str, seeds))}; "
                       f"benchmarks/zoo_seeds.py, {spread.get('machine', 'machine not recorded')}); two FIDs closer "
                       f"than about twice it are not distinguishable.")
    else:
        spread_note = "'±': not measured on this profile (run benchmarks/zoo_seeds.py)."
    out.attrs["note"] = (
        f"{scale_note(cfg)}. Rows: each model's samples ({'/'.join(map(str, n_models))}) vs real_heldout; control: "
        f"real_half_a ({n_a}) vs real_half_b ({n_b}). FID is biased upward at small n, so the control's FID, at about "
        f"half the sample count of the model rows, overstates the real-vs-real floor those rows would see. {spread_note} "
        f"KID x 1e3 (mean, std over 100 subsets of min(1000, n)). Precision/recall: k = 3 on {index['extractor']} "
        f"features. Copy shares: ratio test d1 < d2/3 (or d1 = 0), and L2 below the {COPY_PERCENTILE:g}st percentile "
        f"of real_heldout's nearest-training distance. n_params: the sampling network (G for GANs). The zoo reproduces "
        f"no single paper table; it is the test bed for papers 2-3.")
    return out


def family_pairs_table(cfg: Config, pairs: list[tuple[str, str]] | None = None,
                       spread_path: str | Path | None = None) -> pd.DataFrame:
    """Issue 13's design check: for model pairs, the distance of each from ``real_heldout`` in the three
    feature spaces, their ratio (larger / smaller) and whether it is within 20% (ratio <= 1.2).

    Default pairs: the same-family pair (``ddpm_s``, ``ddpm_l``) and the cross-family pairs of
    ``ddpm_l`` with ``uvit`` and ``dit`` and of ``gan`` with ``projected_gan`` and ``vae``."""
    import pandas as pd

    table = zoo_table(cfg, "real_heldout", copy_ratio=COPY_RATIO, copy_percentile=COPY_PERCENTILE).set_index("set")
    spread = (load_seed_spread(cfg, spread_path) or {}).get("models", {})
    pairs = pairs or [("ddpm_s", "ddpm_l"), ("uvit", "ddpm_l"), ("dit", "ddpm_l"), ("uvit", "ddpm_s"),
                      ("projected_gan", "gan"), ("vae", "gan")]
    rows = []
    for a, b in pairs:
        row: dict[str, Any] = {"pair": f"{a} vs {b}", "family": "same" if _family(cfg, a) == _family(cfg, b)
                               else "different"}
        for col in ("FID_effnet", "FD_ssl_contrastive", "FD_ssl_masked"):
            va, vb = float(table.at[a, col]), float(table.at[b, col])
            ratio = max(va, vb) / min(va, vb) if min(va, vb) > 0 else np.nan
            sa = spread.get(a, {}).get(col, {}).get("std", np.nan)
            sb = spread.get(b, {}).get(col, {}).get("std", np.nan)
            row[f"{col} ({a})"], row[f"{col} ({b})"] = va, vb
            row[f"{col} ratio"] = ratio
            row[f"{col} within 20%"] = bool(ratio <= 1.2) if np.isfinite(ratio) else False
            row[f"{col} |diff| / spread"] = abs(va - vb) / np.hypot(sa, sb) if np.isfinite(sa + sb) else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["note"] = (f"{scale_note(cfg)}. Paper 3's design: same family at FID 2.91 vs 1.81 (ratio 1.6); different "
                         f"families at nearly equal FID (2.29, 2.27, 2.14: ratios <= 1.07). Ratio = larger / smaller "
                         f"distance from real_heldout; '|diff| / spread' = |a - b| / sqrt(std_a² + std_b²) over training "
                         f"seeds (NaN where the spread was not measured).")
    return out


def _family(cfg: Config, model: str) -> str:
    return cfg.params.zoo.models[model].family


# --------------------------------------------------------------------------------------
# classes
# --------------------------------------------------------------------------------------


def class_share_table(cfg: Config) -> pd.DataFrame:
    """Class shares per set by the domain classifier (``real_heldout (true)``: the split's own labels),
    with each set's total-variation distance from the true held-out shares. Empty without a classifier."""
    hist = class_histograms(cfg)
    if not len(hist):
        return hist
    true = hist.loc["real_heldout (true)"].to_numpy()
    out = hist.copy()
    out["TV from real_heldout"] = [total_variation(hist.loc[s].to_numpy(), true) for s in hist.index]
    clf = load_encoder_log(cfg, "classifier")
    out.attrs["note"] = (f"{scale_note(cfg)}. Class shares by the domain classifier (held-out accuracy "
                         f"{clf['heldout_accuracy']:.3f}); 'real_heldout (true)' uses the split's labels; TV = "
                         f"total-variation distance from it.")
    return out.reset_index(names="set")


def class_figure(cfg: Config, shares: pd.DataFrame) -> Figure:
    """Heat map of :func:`class_share_table` (percent) beside the classifier's held-out confusion matrix."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    clf = load_encoder_log(cfg, "classifier")
    data = shares.set_index("set").drop(columns="TV from real_heldout")
    labels = [f"{s} (TV {tv:.2f})" for s, tv in zip(shares["set"], shares["TV from real_heldout"])]
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [1.6, 1]})
    sns.heatmap(100 * data, annot=True, fmt=".0f", cmap="viridis", ax=axes[0], yticklabels=labels,
                cbar_kws={"label": "% of samples"}, annot_kws={"fontsize": 7})
    axes[0].set_title("class shares (%) by the domain classifier")
    axes[0].set_ylabel("")
    conf = np.asarray(clf["confusion"], dtype=float)
    conf = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    sns.heatmap(conf, vmin=0, vmax=1, cmap="Blues", ax=axes[1], xticklabels=clf["class_names"],
                yticklabels=clf["class_names"], cbar=False)
    axes[1].set_xlabel("predicted")
    axes[1].set_ylabel("true")
    axes[1].set_title(f"classifier on real_heldout: accuracy {clf['heldout_accuracy']:.3f}")
    fig.tight_layout()
    return fig


def labelled_set_table(cfg: Config) -> pd.DataFrame:
    """The class-conditional models' labelled sets: per class, how many images carry the label and which
    share of them the domain classifier assigns to that class (label agreement), on ``samples.npz``."""
    import pandas as pd

    from ..io import load_npz

    rows = []
    names = eval_index(cfg)["class_names"]
    for m in CONDITIONAL_MODELS:
        log = load_log(cfg, m)
        path = zoo_dirs(cfg)["models"] / m / "samples.npz"
        if log.get("family") == "folder" or not path.is_file() or "labels" not in load_npz(path):
            continue
        given = load_npz(path)["labels"]
        pred = load_eval(cfg, m)["labels"] if names else None
        labelled = log.get("labelled", {})
        for c, name in enumerate(log.get("class_names", names)):
            sel = given == c
            rows.append({"model": m, "class": name, "n": int(sel.sum()),
                         "label agreement": float(np.mean(pred[sel] == c)) if pred is not None and sel.any() else np.nan,
                         "labelled set": labelled.get("count", np.nan), "guidance": labelled.get("guidance", np.nan)})
    out = pd.DataFrame(rows)
    out.attrs["note"] = (f"{scale_note(cfg)}. n = samples generated for the class (samples.npz, the first n_samples of "
                         f"labelled.npz); label agreement = share the domain classifier assigns to that class (its "
                         f"held-out accuracy on real images is the ceiling).")
    return out


# --------------------------------------------------------------------------------------
# copies of the training set
# --------------------------------------------------------------------------------------


def copies_table(cfg: Config) -> pd.DataFrame:
    """Median nearest-training distance and both copy shares for ``real_heldout`` and every model."""
    import pandas as pd

    ref = load_eval(cfg, "real_heldout")["nn_dist"]
    thr = l2_copy_threshold(ref, COPY_PERCENTILE)
    sets = {"real_heldout": ref, **{m: load_eval(cfg, m)["nn_dist"] for m in MODELS}}
    out = pd.DataFrame({"set": list(sets), "median_nn_l2": [float(np.median(d[:, 0])) for d in sets.values()],
                        "copy_share_ratio": [ratio_copy_share(d, COPY_RATIO) for d in sets.values()],
                        "copy_share_l2": [l2_copy_share(d, thr) for d in sets.values()]})
    mem = memorizer_subset(cfg)
    mem_note = ""
    if mem is not None:
        rows, in_subset = mem
        mem_note = (f" The memorizer trained on {len(rows)} images; {100 * in_subset:.0f}% of its samples' nearest "
                    f"neighbours are among them (chance: {100 * len(rows) / len(load_split(cfg, 'real_train')):.1f}%).")
    out.attrs["note"] = (f"{scale_note(cfg)}. Ratio test: d1 < d2 * {COPY_RATIO:.3g} or d1 = 0; L2 threshold {thr:.3f} = "
                         f"{COPY_PERCENTILE:g}st percentile of real_heldout's nearest-training distance.{mem_note}")
    out.attrs["threshold"] = thr
    return out


def memorizer_subset(cfg: Config) -> tuple[np.ndarray, float] | None:
    """(rows of ``real_train`` the memorizer trained on, share of its samples whose nearest neighbour is one
    of them); ``None`` when the memorizer is an imported folder."""
    log = load_log(cfg, "memorizer")
    if "train_index" not in log:
        return None
    rows = rows_of(load_split(cfg, "real_train").index, np.asarray(log["train_index"]))
    return rows, float(np.isin(load_eval(cfg, "memorizer")["nn_index"][:, 0], rows).mean())


def nn_distance_figure(cfg: Config, copies: pd.DataFrame) -> Figure:
    """Violin plot of every set's nearest-training-image distance, with the L2 copy threshold."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    frames = [pd.DataFrame({"set": s, "d1": load_eval(cfg, s)["nn_dist"][:, 0]}) for s in copies["set"]]
    fig, ax = plt.subplots(figsize=(12, 4))
    sns.violinplot(pd.concat(frames), x="set", y="d1", ax=ax, cut=0, inner="quartile", density_norm="width",
                   color="0.8")
    ax.axhline(copies.attrs["threshold"], ls="--", c="k", lw=1, label=f"L2 copy threshold {copies.attrs['threshold']:.2f}")
    ax.tick_params(axis="x", rotation=20)
    ax.set_xlabel("")
    ax.set_ylabel("pixel L2 to nearest real_train image")
    ax.legend(frameon=False)
    ax.set_title("Nearest-training-neighbour distances")
    fig.tight_layout()
    return fig


def memorizer_pairs_figure(cfg: Config, n_pairs: int = 12, contrast: str = "ddpm_l") -> Figure:
    """The memorizer's first samples above their nearest training images, and the same for ``contrast``."""
    import matplotlib.pyplot as plt

    real_train = load_split(cfg, "real_train")
    fig, axes = plt.subplots(2, 1, figsize=(12, 4.2))
    for ax, m in zip(axes, ["memorizer", contrast]):
        e = load_eval(cfg, m)
        s = first_images(cfg, m, n_pairs)
        nbr = np.concatenate([real_train.get(i, i + 1) for i in e["nn_index"][:n_pairs, 0]])
        ax.imshow(image_grid(np.concatenate([s, nbr]), ncols=len(s), pad=2, pad_value=255), cmap="gray",
                  interpolation="nearest")
        d = e["nn_dist"][:n_pairs]
        ax.set_title(f"{m}: samples (top) vs nearest real_train (bottom); d1 = " + ", ".join(f"{x:.1f}" for x in d[:, 0])
                     + "; d1/d2 = " + ", ".join(f"{x:.2f}" for x in d[:, 0] / np.maximum(d[:, 1], 1e-12)),
                     fontsize=7, loc="left")
        ax.axis("off")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# GAN snapshots
# --------------------------------------------------------------------------------------


def snapshot_table(cfg: Config) -> pd.DataFrame:
    """FID of every GAN snapshot vs ``real_heldout`` (:func:`beyondfid.zoo.eval.snapshot_fids`)."""
    snaps = snapshot_fids(cfg, "gan", "real_heldout")
    snaps.attrs["note"] = (f"{scale_note(cfg)}. FID of each GAN snapshot's samples vs real_heldout; snapshots have "
                           f"fewer samples than the final model (n), so a larger small-sample bias: compare snapshots "
                           f"with each other, not with the zoo table.")
    return snaps


def snapshot_figure(cfg: Config, snaps: pd.DataFrame, table: pd.DataFrame | None = None) -> Figure:
    """GAN snapshot FIDs over training; with ``table`` (the zoo table), the final GAN's and the projected
    GAN's FIDs as horizontal lines (at their own, larger, sample count)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    if len(snaps):
        sns.lineplot(snaps, x="step", y="FID_effnet", marker="o", ax=ax, label="GAN snapshots")
        n = int(snaps["n"].iloc[0])
        ax.set_title(f"GAN snapshots vs real_heldout (n = {n} per snapshot)")
    if table is not None:
        t = table.set_index("set")
        for m, style in (("gan", ":"), ("projected_gan", "--")):
            if m in t.index:
                ax.axhline(t.at[m, "FID_effnet"], ls=style, c="k", lw=1,
                           label=f"{m} (n = {int(t.at[m, 'n'])}): {t.at[m, 'FID_effnet']:.0f}")
        ax.legend(frameon=False, fontsize=8)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"FID ({eval_index(cfg)['extractor']})")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------


def _records(df: pd.DataFrame, key: str) -> dict[str, dict[str, Any]]:
    out = {}
    for r in df.to_dict("records"):
        out[str(r[key])] = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                            for k, v in r.items() if k != key}
    return out


def zoo_metrics(cfg: Config, table: pd.DataFrame, copies: pd.DataFrame, shares: pd.DataFrame,
                snaps: pd.DataFrame, pairs: pd.DataFrame, labelled: pd.DataFrame) -> dict[str, Any]:
    """The ``zoo`` stage's metrics JSON (NaN -> null)."""
    index = eval_index(cfg)
    mem = memorizer_subset(cfg)
    out: dict[str, Any] = {
        "profile": cfg.profile, "extractor": index["extractor"], "resolution": index["resolution"],
        "reference": "real_heldout", "reference_count": index["sets"]["real_heldout"]["count"],
        "zoo_table": _records(table, "set"), "copy_threshold_l2": copies.attrs["threshold"], "copy_ratio": COPY_RATIO,
        "copies": _records(copies, "set"), "memorizer_nn_in_training_subset": None if mem is None else mem[1],
        "memorizer_subset_size": 0 if mem is None else len(mem[0]),
        "gan_snapshots": snaps.to_dict("records"), "family_pairs": _records(pairs, "pair"),
    }
    if len(shares):
        out["class_tv_from_real_heldout"] = dict(zip(shares["set"], shares["TV from real_heldout"]))
        out["classifier_heldout_accuracy"] = load_encoder_log(cfg, "classifier")["heldout_accuracy"]
    if len(labelled):
        out["label_agreement"] = {m: float(np.average(g["label agreement"], weights=g["n"]))
                                  for m, g in labelled.groupby("model")}
    return out
