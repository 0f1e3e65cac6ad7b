"""Class-histogram matching (Kynkäänniemi et al., ICLR 2023, Sec. 3.1 Top-1 and Sec. 3.3 Top-N).

* :func:`top1_match` -- Sec. 3.1: the real set's Top-1 histogram, scaled to the evaluation size,
  is filled bin by bin with *unique* generated images drawn in random order from a pool; an
  image whose bin is already full is discarded. The paper needed 0.8-1.5 M draws for 50k. If
  the pool runs out first, the shortfall is reported and the missing slots are filled with
  random left-over pool images, so that FID is still computed at the evaluation size.
* :func:`binarize_top_n` -- Sec. 3.3: N-hot vectors of the Top-N classes (or of the "middle-N"
  ranks, the paper's control: ranks ``mid − ⌊N/2⌋ … `` around ``mid = C // 2``, as the official
  code takes them), and :func:`drop_empty_columns` (columns that are all zero in either set are
  removed, as the official code does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MatchingError", "Top1Match", "target_histogram", "top1_match", "match_summary", "rank_window", "binarize_top_n", "top_n_pair",
           "drop_empty_columns"]


class MatchingError(ValueError):
    """Bad inputs for histogram matching."""


def target_histogram(real_classes: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """Counts per class summing to ``n`` in the proportions of ``real_classes`` (largest remainder)."""
    c = np.asarray(real_classes, np.int64)
    if c.ndim != 1 or len(c) == 0:
        raise MatchingError("real_classes must be a non-empty 1-D array of class indices")
    if n < 0:
        raise MatchingError(f"n must be >= 0, got {n}")
    counts = np.bincount(c, minlength=n_classes).astype(np.float64)
    exact = counts * n / counts.sum()
    base = np.floor(exact).astype(np.int64)
    left = int(n - base.sum())
    # ties in the remainder: the class with more real images first, then the lower index
    order = np.lexsort((np.arange(n_classes), -counts, -(exact - base)))
    base[order[:left]] += 1
    return base


@dataclass
class Top1Match:
    """Result of :func:`top1_match` (``indices`` index the pool)."""

    indices: np.ndarray  # (n,) unique pool rows: the matched ones, then the fill-ins
    target: np.ndarray  # (C,) wanted count per class
    achieved: np.ndarray  # (C,) matched count per class (before fill-ins)
    draws: int  # pool images looked at until every bin was full (or the pool ran out)
    shortfall: int  # images the pool could not supply (= number of fill-ins)
    short_classes: np.ndarray  # classes that stayed below their target
    final_counts: np.ndarray  # (C,) class counts of all of ``indices`` (fill-ins in their own classes)

    @property
    def complete(self) -> bool:
        return self.shortfall == 0

    def total_variation(self) -> float:
        """TV distance between the matched histogram (fill-ins counted in their own classes) and the target."""
        return float(0.5 * np.abs(self.final_counts - self.target).sum() / max(self.target.sum(), 1))


def top1_match(real_classes: np.ndarray, pool_classes: np.ndarray, n: int, n_classes: int, seed: int) -> Top1Match:
    """Sec. 3.1's Top-1 histogram matching (see the module docstring); deterministic in ``seed``."""
    pool = np.asarray(pool_classes, np.int64)
    if pool.ndim != 1:
        raise MatchingError("pool_classes must be 1-D")
    if n > len(pool):
        raise MatchingError(f"cannot pick {n} unique images from a pool of {len(pool)}")
    target = target_histogram(real_classes, n, n_classes)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    room = target.copy()
    taken = np.zeros(len(pool), bool)
    remaining = int(room.sum())
    draws = 0
    for pos, i in enumerate(order):
        if remaining == 0:
            break
        draws = pos + 1
        c = pool[i]
        if room[c] > 0:
            room[c] -= 1
            taken[i] = True
            remaining -= 1
    matched = order[taken[order]]
    achieved = target - room
    shortfall = int(room.sum())
    fill = rng.permutation(np.flatnonzero(~taken))[:shortfall] if shortfall else np.zeros(0, np.int64)
    indices = np.concatenate([matched, fill]).astype(np.int64)
    return Top1Match(indices=indices, target=target, achieved=achieved, draws=int(draws), shortfall=shortfall,
                     short_classes=np.flatnonzero(room > 0),
                     final_counts=np.bincount(pool[indices], minlength=n_classes))


def rank_window(n_classes: int, n: int, mode: str) -> tuple[int, int]:
    """``[start, stop)`` of the sorted-probability ranks used: Top-N = ``[0, N)``; middle-N =
    ``[mid − N/2, mid + N/2)`` for even N, ``[mid − (N−1)/2, mid + (N−1)/2 + 1)`` for odd N, ``mid = C // 2``."""
    if not 1 <= n <= n_classes // 2:
        raise MatchingError(f"N must be between 1 and half the classes ({n_classes // 2}) -- beyond that the roles of "
                            f"0 and 1 flip (paper, footnote 4); got {n}")
    if mode == "top":
        return 0, n
    if mode != "middle":
        raise MatchingError(f"mode must be 'top' or 'middle', got {mode!r}")
    mid = n_classes // 2
    half = n // 2 if n % 2 == 0 else (n - 1) // 2
    return mid - half, mid - half + n


def binarize_top_n(logits: np.ndarray, n: int, mode: str = "top") -> np.ndarray:
    """N-hot float32 vectors (rows of ``logits`` (B, C)): 1 at the classes whose probability rank lies in
    :func:`rank_window` (rank 0 = most probable; ties broken by the lower class index)."""
    z = np.asarray(logits)
    if z.ndim != 2:
        raise MatchingError(f"logits must be (B, C), got shape {z.shape}")
    lo, hi = rank_window(z.shape[1], n, mode)
    order = np.argsort(-z, axis=1, kind="stable")[:, lo:hi]
    out = np.zeros(z.shape, np.float32)
    np.put_along_axis(out, order, 1.0, axis=1)
    return out


def drop_empty_columns(real: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the columns that are non-zero somewhere in *both* sets (the official code's rule).

    Returns ``(real[:, keep], generated[:, keep], keep)``.
    """
    keep = (np.asarray(real) != 0).any(0) & (np.asarray(generated) != 0).any(0)
    return real[:, keep], generated[:, keep], keep


def top_n_pair(real_logits: np.ndarray, gen_logits: np.ndarray, n: int, mode: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sec. 3.3's features: N-hot vectors of both sets with the empty columns dropped
    (:func:`binarize_top_n` + :func:`drop_empty_columns`)."""
    return drop_empty_columns(binarize_top_n(real_logits, n, mode), binarize_top_n(gen_logits, n, mode))


def match_summary(matches: list[Top1Match], pool_classes: np.ndarray, n: int) -> dict[str, float]:
    """Means over matchings: pool images examined, shortfall, classes short, TV distance to the target,
    and a random pick's TV distance for comparison (the first ``n`` pool images)."""
    m0 = matches[0]
    rand = np.bincount(np.asarray(pool_classes)[:n], minlength=len(m0.target))
    return {"draws": float(np.mean([m.draws for m in matches])),
            "shortfall": float(np.mean([m.shortfall for m in matches])),
            "short_classes": float(np.mean([len(m.short_classes) for m in matches])),
            "total_variation_to_target": float(np.mean([m.total_variation() for m in matches])),
            "random_total_variation": float(0.5 * np.abs(rand - m0.target).sum() / n)}
