"""Scoring attacked samples (Kynkäänniemi et al., ICLR 2023, Sec. 3): FID, second opinions, KID, transfer.

An *attack* picks ``eval_size`` images from the candidate pool -- at random (the baseline), by
Top-1 matching, or by drawing with replacement from optimised resampling weights. Each pick is
scored with the same statistics: FID against the real set (the one the attack saw), FID against
held-out real images (never seen), FD in every second-opinion space, and optionally KID.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..metrics import kid
from .sets import FeatureSet, Reference

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Scorer", "relative_change", "draw_scores", "random_scores", "official_protocol", "top_n_sweep",
           "weight_group_table", "class_shift_table"]


def relative_change(after: float, before: float) -> float:
    """``after / before − 1`` (the paper's "(−67.7%)")."""
    return after / before - 1.0


@dataclass
class Scorer:
    """Precomputed real statistics; :meth:`score` rates a set of pool rows."""

    real: FeatureSet
    heldout: FeatureSet
    pool: FeatureSet
    spaces: Sequence[str]

    def __post_init__(self) -> None:
        self._real = Reference.of(self.real.features)
        self._held = Reference.of(self.heldout.features)
        self._second = {s: Reference.of(self.real.second[s]) for s in self.spaces}

    def score(self, idx: np.ndarray, with_kid: bool = False, kid_subsets: int = 100, kid_subset_size: int = 1000,
              seed: int = 0, heldout: bool = True, spaces: Sequence[str] | None = None) -> dict[str, float]:
        """FID, FID vs held-out, ``FD_<space>`` for the pool rows ``idx`` (repeats allowed), and KID×10³.

        ``heldout=False`` / ``spaces=()`` skip those distances (cheaper scoring along an optimisation).
        """
        f = self.pool.features[idx]
        if len(f) > f.shape[1]:  # one set of statistics serves both references
            st = Reference.of(f)
            row = {"FID": self._real.fd_stats(st.mu, st.sigma)}
            if heldout:
                row["FID_heldout"] = self._held.fd_stats(st.mu, st.sigma)
        else:
            row = {"FID": self._real.fd(f)}
            if heldout:
                row["FID_heldout"] = self._held.fd(f)
        for s in self.spaces if spaces is None else spaces:
            row[f"FD_{s}"] = self._second[s].fd(self.pool.second[s][idx])
        row["unique"] = float(len(np.unique(idx)))
        if with_kid:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                row["KIDx1e3"] = 1e3 * kid(self.real.features, f, kid_subsets, kid_subset_size, seed)[0]
        return row

    def score_many(self, picks: Callable[[int], np.ndarray], seeds: Sequence[int], **kw: Any) -> "pd.DataFrame":
        """One :meth:`score` row per seed, for ``picks(seed)`` -> pool rows."""
        import pandas as pd

        return pd.DataFrame([{"seed": s, **self.score(picks(s), seed=s, **kw)} for s in seeds])


def draw_scores(scorer: Scorer, probabilities: np.ndarray, n: int, seeds: Sequence[int], **kw: Any) -> "pd.DataFrame":
    """Score ``n`` pool rows drawn with replacement from ``probabilities`` (the paper's FID^PL evaluation), per seed."""
    from .resampling import sample_with_weights

    return scorer.score_many(lambda s: sample_with_weights(probabilities, n, s), seeds, **kw)


def random_scores(scorer: Scorer, n: int, seeds: Sequence[int], **kw: Any) -> "pd.DataFrame":
    """The baseline: ``n`` pool rows drawn uniformly without replacement, per seed."""
    m = len(scorer.pool)
    return scorer.score_many(lambda s: np.sort(np.random.default_rng(s).choice(m, n, replace=False)), seeds, **kw)


def official_protocol(scorer: Scorer, snapshots: dict[int, np.ndarray], n: int, min_of: int, seed: int) -> "pd.DataFrame":
    """The official code's evaluation: at each logged iterate, the *minimum* FID over ``min_of`` draws;
    it keeps the iterate whose minimum is smallest. One row per iterate (``kept`` marks that one)."""
    import pandas as pd

    from .resampling import sample_with_weights

    rows = []
    for it, w in sorted(snapshots.items()):
        p = np.exp(w - w.max())
        p /= p.sum()
        fids = [scorer.score(sample_with_weights(p, n, seed + 1000 * it + j), heldout=False, spaces=())["FID"]
                for j in range(min_of)]
        rows.append({"iteration": it, "min FID": min(fids), "mean FID": float(np.mean(fids))})
    df = pd.DataFrame(rows)
    df["kept"] = df["min FID"] == df["min FID"].min()
    return df


def top_n_sweep(scorer: Scorer, real_logits: np.ndarray, pool_logits: np.ndarray, ns: Sequence[int], n: int,
                seeds: Sequence[int], space: str, **opt_kw: Any) -> "pd.DataFrame":
    """Fig. 6: for Top-N and middle-N N-hot vectors, optimise the resampling weights on them and score
    draws of ``n`` in FID and ``FD_<space>``. Settings with fewer than two class columns shared by both
    sets are skipped (possible only for tiny sets)."""
    import pandas as pd

    from .matching import top_n_pair
    from .resampling import optimize_weights

    rows = []
    for mode in ("top", "middle"):
        for k in ns:
            rb, pb, keep = top_n_pair(real_logits, pool_logits, k, mode)
            if keep.sum() < 2:
                continue
            r = optimize_weights(rb, pb, **opt_kw)
            sc = draw_scores(scorer, r.probabilities, n, seeds, heldout=False, spaces=(space,))
            rows.append({"mode": mode, "N": k, "columns": int(keep.sum()), "iterations": r.iterations,
                         "converged": r.converged, "FID": sc["FID"].mean(), f"FD_{space}": sc[f"FD_{space}"].mean()})
    return pd.DataFrame(rows)


def weight_group_table(real_second: np.ndarray, pool_second: np.ndarray, probabilities: np.ndarray, share: float,
                       space: str, k: int = 3) -> "pd.DataFrame":
    """Fig. 5's check: the share of the lowest / highest ``share`` of weights (and of the whole pool) that
    lies on the real manifold (improved precision, neighbourhood ``k``) in a second-opinion space."""
    import pandas as pd

    from ..metrics import precision_recall

    m = max(1, int(share * len(probabilities)))
    order = np.argsort(probabilities, kind="stable")
    groups = {"lowest": order[:m], "highest": order[-m:], "all": np.arange(len(probabilities))}
    return pd.DataFrame([{"group": g, f"precision in {space} space":
                          precision_recall(real_second, pool_second[i], k=k)[0] if len(i) > k else np.nan,
                          "images": len(i)} for g, i in groups.items()])


def class_shift_table(picks: dict[str, list[np.ndarray]], pool_labels: np.ndarray, real_labels: np.ndarray
                      ) -> "pd.DataFrame":
    """Total-variation distance between the class histogram (e.g. the zoo's domain classifier) of each
    attack's picks and the real set's, with the unique images per pick; means over the picks."""
    import pandas as pd

    from .sensitivity import class_total_variation

    return pd.DataFrame([{"pick": name, "class TV to real": float(np.mean([class_total_variation(pool_labels[i],
                                                                                               real_labels)
                                                                          for i in idx])),
                          "unique images": float(np.mean([len(np.unique(i)) for i in idx]))}
                         for name, idx in picks.items()])
