"""FID's sensitivity (Kynkäänniemi et al., ICLR 2023, App. A-B, Figs 8-9).

* :func:`sample_count_table` -- Fig. 8a: FID of one generator against the real set for several
  sample counts (``n + n``, and "all real + n generated"), mean ± std over seeds (random subsets
  without replacement).
* :func:`instance_table` -- Fig. 8b: the same ``n + n`` evaluation in several feature spaces that
  differ only in the network instance (or, honestly named, in the network).
* :func:`pearson_with_ci` -- Fig. 9: Pearson r between pre-logit and logit FIDs over training
  snapshots, with a Fisher-z confidence interval (8 points give a wide one).
* :func:`kendall_tau` -- do two feature spaces rank a set of models the same way?
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .sets import fd

if TYPE_CHECKING:
    import pandas as pd

    from .sets import World

__all__ = ["subset_fids", "sample_count_table", "instance_table", "pearson_with_ci", "kendall_tau",
           "class_total_variation", "prelogit_logit_table", "ranking_table"]


def subset_fids(real: np.ndarray, gen: np.ndarray, n_real: int, n_gen: int, seeds: Sequence[int]) -> np.ndarray:
    """FD of ``n_gen`` random generated rows vs ``n_real`` random real rows (without replacement), per seed."""
    if n_real > len(real) or n_gen > len(gen):
        raise ValueError(f"asked for {n_real} real / {n_gen} generated rows, have {len(real)} / {len(gen)}")
    out = []
    for s in seeds:
        rng = np.random.default_rng(s)
        ir = rng.choice(len(real), n_real, replace=False) if n_real < len(real) else np.arange(len(real))
        ig = rng.choice(len(gen), n_gen, replace=False) if n_gen < len(gen) else np.arange(len(gen))
        out.append(fd(gen[np.sort(ig)], real[np.sort(ir)]))
    return np.asarray(out)


def sample_count_table(real: np.ndarray, gen: np.ndarray, counts: Sequence[int], all_generated: int,
                       seeds: Sequence[int], paper: Mapping[str, tuple[float, float]] | None = None) -> "pd.DataFrame":
    """Fig. 8a: one row per ``n + n`` in ``counts`` and one for ``all + all_generated``."""
    import pandas as pd

    rows = []
    specs = [(f"{n} + {n}", n, n) for n in counts] + [(f"all ({len(real)}) + {all_generated}", len(real), all_generated)]
    paper_rows = list((paper or {}).items())
    # the n + n rows line up with the paper's first rows, the "all" row with its last
    aligned = (paper_rows[:-1] + [None] * len(counts))[: len(counts)] + ([paper_rows[-1]] if paper_rows else [None])
    for (label, nr, ng), prow in zip(specs, aligned):
        v = subset_fids(real, gen, nr, ng, seeds)
        row = {"sample size (ours)": label, "FID mean": v.mean(), "FID std": v.std(ddof=1), "seeds": len(v)}
        if prow is not None:
            row["paper sample size"], (row["paper FFHQ mean"], row["paper FFHQ std"]) = prow
        rows.append(row)
    return pd.DataFrame(rows)


def instance_table(spaces: Mapping[str, tuple[np.ndarray, np.ndarray]], n: int, seeds: Sequence[int],
                   groups: Mapping[str, str] | None = None, paper: Mapping[str, tuple[float, float]] | None = None
                   ) -> "pd.DataFrame":
    """Fig. 8b: ``{label: (real, generated)}`` -> FD mean ± std over seeds at ``n + n``.

    ``groups`` maps a label to its comparison group (FDs of different networks live on different
    scales): "change" is relative to the first space of the same group. ``paper`` (e.g.
    :data:`beyondfid.fidclasses.tables.PAPER_FIG8B`) fills a column with the paper's rows in order.
    """
    import pandas as pd

    rows = []
    for label, (real, gen) in spaces.items():
        v = subset_fids(real, gen, n, n, seeds)
        rows.append({"feature space": label, "group": (groups or {}).get(label, ""), "FD mean": v.mean(),
                     "FD std": v.std(ddof=1), "seeds": len(v)})
    df = pd.DataFrame(rows)
    first = df.groupby("group", sort=False)["FD mean"].transform("first")
    df["change vs first of its group"] = df["FD mean"] / first - 1.0
    if paper:
        items = [f"{k}: {m} ± {s}" for k, (m, s) in paper.items()]
        df["paper (FFHQ, Inception-V3)"] = (items + ["–"] * len(df))[: len(df)]
    return df


def pearson_with_ci(x: Sequence[float], y: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Pearson r and its Fisher-z confidence interval ``(r, lo, hi)`` (NaN bounds for n <= 3)."""
    from scipy.stats import norm

    a, b = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"x and y must be 1-D of equal length >= 2, got {a.shape} and {b.shape}")
    r = float(np.corrcoef(a, b)[0, 1])
    n = len(a)
    if n <= 3 or abs(r) >= 1.0:
        return r, (r if abs(r) >= 1.0 else math.nan), (r if abs(r) >= 1.0 else math.nan)
    z, se = math.atanh(r), 1.0 / math.sqrt(n - 3)
    q = float(norm.ppf(0.5 + level / 2))
    return r, math.tanh(z - q * se), math.tanh(z + q * se)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b between two score vectors (1 = the same ranking)."""
    from scipy.stats import kendalltau

    return float(kendalltau(np.asarray(x), np.asarray(y)).statistic)


def class_total_variation(labels: Sequence[int], reference: Sequence[int]) -> float:
    """Total-variation distance between the class histograms of two label vectors."""
    a, b = np.asarray(labels, np.int64), np.asarray(reference, np.int64)
    k = int(max(a.max(initial=0), b.max(initial=0))) + 1
    pa, pb = np.bincount(a, minlength=k) / max(len(a), 1), np.bincount(b, minlength=k) / max(len(b), 1)
    return float(0.5 * np.abs(pa - pb).sum())


def prelogit_logit_table(world: "World", sets: Sequence[str], kind: str, n: int | None = None) -> "pd.DataFrame":
    """Fig. 9: FID in pre-logit and in logit space of each set (its first ``n`` images) vs the real set."""
    import pandas as pd

    from .sets import Reference

    real = world.load(world.P.real)
    ref_f, ref_l = Reference.of(real.features), Reference.of(real.logits)
    rows = []
    for name in sets:
        s = world.load(name)
        k = len(s) if n is None else min(n, len(s))
        rows.append({"set": name, "kind": kind, "n": k, "FID pre-logits": ref_f.fd(s.features[:k]),
                     "FID logits": ref_l.fd(s.logits[:k])})
    return pd.DataFrame(rows)


def ranking_table(world: "World", models: Sequence[str], spaces: Sequence[str], reference: str) -> "pd.DataFrame":
    """Every model's FD from ``reference`` in the FID space and in each ``fid_features`` space (the same
    samples), to compare rankings (:func:`kendall_tau`)."""
    import pandas as pd

    from .sets import Reference

    net = world.cfg.params.features.extractor
    ref = Reference.of(world.load(reference).features)
    refs = {s: Reference.of(world.extra(reference, s)) for s in spaces}
    rows = []
    for m in models:
        row = {"model": m, f"FID ({net})": ref.fd(world.load(m).features)}
        row.update({f"FD {s}": refs[s].fd(world.extra(m, s)) for s in spaces})
        rows.append(row)
    return pd.DataFrame(rows)
