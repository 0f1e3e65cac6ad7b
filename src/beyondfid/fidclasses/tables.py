"""The paper's numbers and the tables that put ours beside them (Kynkäänniemi et al., ICLR 2023).

Paper values are transcribed from the paper's Tables 1-3, Fig. 8 and Fig. 16 (FFHQ unless a
dataset is named). Every builder returns a pandas DataFrame with our mean ± std, our relative
change, the paper's FFHQ values, its change, and its range of changes over the five datasets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PAPER_TABLE1", "PAPER_TABLE2", "PAPER_TABLE3", "PAPER_FIG8A", "PAPER_FIG8B", "PAPER_FIG16", "top1_shares", "fig7_table",
           "paper_change_range", "before_after_table", "fmt"]

DATASETS = ("FFHQ", "LSUN CAT", "LSUN CAR", "LSUN PLACES", "AFHQ-v2 DOG")

#: Table 1: FID, FID^Top-1, FID_CLIP, FID_CLIP^Top-1 (means of 5 evaluations)
PAPER_TABLE1 = {
    "FFHQ": {"FID": (5.63, 4.91), "FID_CLIP": (2.90, 2.86)},
    "LSUN CAT": {"FID": (8.35, 7.37), "FID_CLIP": (8.95, 8.83)},
    "LSUN CAR": {"FID": (5.75, 5.17), "FID_CLIP": (7.76, 7.73)},
    "LSUN PLACES": {"FID": (13.05, 11.76), "FID_CLIP": (16.36, 16.17)},
    "AFHQ-v2 DOG": {"FID": (10.58, 9.39), "FID_CLIP": (4.23, 4.16)},
}
#: Table 2: FID, FID^PL, FID^L, FID_CLIP, FID_CLIP^PL (means of 10 evaluations)
PAPER_TABLE2 = {
    "FFHQ": {"FID": (5.63, 1.82), "FID_L": (5.63, 2.31), "FID_CLIP": (2.90, 2.78)},
    "LSUN CAT": {"FID": (8.35, 3.05), "FID_L": (8.35, 3.88), "FID_CLIP": (8.95, 7.98)},
    "LSUN CAR": {"FID": (5.75, 2.11), "FID_L": (5.75, 2.59), "FID_CLIP": (7.76, 7.33)},
    "LSUN PLACES": {"FID": (13.05, 3.59), "FID_L": (13.05, 4.43), "FID_CLIP": (16.36, 14.54)},
    "AFHQ-v2 DOG": {"FID": (10.58, 5.92), "FID_L": (10.58, 6.27), "FID_CLIP": (4.23, 4.04)},
}
#: Table 3: KID ×10³ before / after pre-logit resampling (means of 10 evaluations)
PAPER_TABLE3 = {
    "FFHQ": {"KID": (1.92, 0.23)}, "LSUN CAT": {"KID": (2.98, 0.37)}, "LSUN CAR": {"KID": (2.48, 0.32)},
    "LSUN PLACES": {"KID": (7.36, 0.31)}, "AFHQ-v2 DOG": {"KID": (2.08, 0.12)},
}
#: Fig. 8a (FFHQ, StyleGAN2): sample size -> (mean, std) over 10 seeds
PAPER_FIG8A = {"5k + 5k": (8.91, 0.15), "10k + 10k": (6.98, 0.02), "50k + 50k": (5.63, 0.03), "All + 50k": (5.41, 0.05)}
#: Fig. 8b (FFHQ): Inception-V3 instance -> (mean, std)
PAPER_FIG8B = {"TensorFlow": (5.63, 0.05), "PyTorch": (3.92, 0.04)}
#: Fig. 16 / Fig. 7 (FFHQ)
PAPER_FIG16 = {"Projected FastGAN": {"FID": 4.71, "recall": 0.42, "FID_CLIP": 4.87},
               "StyleGAN2": {"FID": 5.63, "recall": 0.46, "FID_CLIP": 2.90}}


def paper_change_range(table: Mapping[str, Mapping[str, tuple[float, float]]], key: str) -> tuple[float, float]:
    """Smallest and largest relative change of ``key`` over the paper's datasets."""
    ch = [after / before - 1.0 for row in table.values() for before, after in [row[key]]]
    return min(ch), max(ch)


def fmt(mean: float, std: float | None = None, digits: int = 3) -> str:
    """``"159.2 ± 1.31"``-style text with ``digits`` significant digits."""
    if std is None or not np.isfinite(std):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {std:.2g}"


def before_after_table(before: "pd.DataFrame", after: Mapping[str, "pd.DataFrame"],
                       rows: Sequence[tuple[str, str, str | None]], paper: Mapping[str, Mapping[str, tuple[float, float]]],
                       paper_after_key: Mapping[str, str] | None = None) -> "pd.DataFrame":
    """One row per (label, column, paper key) and per attack in ``after``.

    ``before`` / ``after[name]`` hold one row per evaluation (columns = metrics). ``paper`` is one of
    the ``PAPER_TABLE*`` dicts; ``paper_after_key`` maps an attack name to the paper key holding its
    (before, after) pair when it is not the row's own key (e.g. FID^L -> "FID_L").
    """
    import pandas as pd

    out = []
    for label, col, pkey in rows:
        b = before[col].to_numpy(np.float64)
        for name, df in after.items():
            a = df[col].to_numpy(np.float64)
            key = (paper_after_key or {}).get(name, pkey) if pkey else None
            if pkey and key not in paper["FFHQ"]:
                key = pkey
            row = {"quantity": label, "attack": name, "ours before": b.mean(), "ours before std": b.std(ddof=1) if len(b) > 1 else np.nan,
                   "ours after": a.mean(), "ours after std": a.std(ddof=1) if len(a) > 1 else np.nan,
                   "ours change": a.mean() / b.mean() - 1.0}
            if key:
                pb, pa = paper["FFHQ"][key]
                lo, hi = paper_change_range(paper, key)
                row.update({"paper FFHQ before": pb, "paper FFHQ after": pa, "paper FFHQ change": pa / pb - 1.0,
                            "paper change range (5 datasets)": f"{100 * lo:+.1f}% .. {100 * hi:+.1f}%"})
            out.append(row)
    return pd.DataFrame(out)


def top1_shares(top1_by_set: Mapping[str, np.ndarray], names: Sequence[str], k: int = 25) -> "pd.DataFrame":
    """Fig. 4a: the share of each set's images per Top-1 class, for the ``k`` classes most frequent in the
    first set (long format: class, share, set)."""
    import pandas as pd

    from ..top1 import top1_counts, top1_order

    sets = list(top1_by_set)
    shares = {s: top1_counts(v, len(names)) / max(len(v), 1) for s, v in top1_by_set.items()}
    order = top1_order(shares[sets[0]], k)
    return pd.DataFrame({"class": [names[c] for c in order] * len(sets),
                         "share": np.concatenate([shares[s][order] for s in sets]),
                         "set": [s for s in sets for _ in order]})


def fig7_table(comp: "pd.DataFrame", projected: str, chosen: str, primary: str) -> "pd.DataFrame":
    """Fig. 7's table: our two rows, their ratio (< 1 favours the projected model), the paper's two rows
    and ratio (its FID_CLIP in our primary second-opinion column)."""
    import pandas as pd

    ratio = {c: float(comp[c].iloc[0] / comp[c].iloc[1]) for c in comp.columns if c not in ("model", "n")}
    pp, ps = PAPER_FIG16["Projected FastGAN"], PAPER_FIG16["StyleGAN2"]
    paper_rows = pd.DataFrame([
        {"model": "paper: Projected FastGAN (FFHQ)", "FID": pp["FID"], f"FD_{primary}": pp["FID_CLIP"], "recall": pp["recall"]},
        {"model": "paper: StyleGAN2 (FFHQ)", "FID": ps["FID"], f"FD_{primary}": ps["FID_CLIP"], "recall": ps["recall"]},
        {"model": "paper: ratio", "FID": pp["FID"] / ps["FID"], f"FD_{primary}": pp["FID_CLIP"] / ps["FID_CLIP"],
         "recall": pp["recall"] / ps["recall"]},
    ])
    ratio_row = pd.DataFrame([{"model": f"ratio {projected} / {chosen}", "n": comp["n"].iloc[0], **ratio}])
    return pd.concat([comp, ratio_row, paper_rows], ignore_index=True)


def top_n_claims(fig6: "pd.DataFrame", base_fid: float, base_fd: float, space: str) -> dict[str, float]:
    """Fig. 6 for the report's claim rule: relative change against the unoptimised draws of FID (top-N and
    middle-N) and of ``FD_<space>`` (top-N), each at the largest N that ran."""
    out: dict[str, float] = {}
    for mode, prefix in (("top", ""), ("middle", "middle_")):
        d = fig6[fig6["mode"] == mode]
        if len(d):
            r = d.loc[d["N"].idxmax()]
            out[f"{prefix}fid_change_largest_n"] = float(r["FID"] / base_fid - 1)
            if mode == "top":
                out[f"fd_{space}_change_largest_n"] = float(r[f"FD_{space}"] / base_fd - 1)
    return out
