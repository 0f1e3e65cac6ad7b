"""Top-1 histogram matching and Top-N / middle-N vectors (paper 2, Secs 3.1 and 3.3)."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.fidclasses.matching import (MatchingError, binarize_top_n, drop_empty_columns, rank_window,
                                           target_histogram, top1_match, top_n_pair)


def test_target_histogram_sums_to_n_in_the_real_proportions():
    real = np.repeat([0, 1, 2], [50, 30, 20])
    assert target_histogram(real, 10, 4).tolist() == [5, 3, 2, 0]
    t = target_histogram(np.repeat([0, 1, 2], [1, 1, 1]), 7, 3)
    assert t.sum() == 7 and t.max() - t.min() <= 1


def test_top1_matching_gives_the_exact_histogram_when_the_pool_suffices():
    rng = np.random.default_rng(0)
    real = rng.choice(5, size=400, p=[0.4, 0.3, 0.2, 0.1, 0.0])
    pool = rng.choice(5, size=600, p=[0.1, 0.2, 0.3, 0.2, 0.2])
    m = top1_match(real, pool, 100, 5, seed=1)
    assert m.complete and m.shortfall == 0 and len(m.short_classes) == 0
    assert np.array_equal(np.bincount(pool[m.indices], minlength=5), m.target)
    assert len(np.unique(m.indices)) == 100 and m.draws <= 600
    assert m.total_variation() == 0.0
    assert np.array_equal(top1_match(real, pool, 100, 5, seed=1).indices, m.indices)  # deterministic


def test_top1_matching_reports_the_shortfall_when_the_pool_runs_out():
    real = np.repeat([0, 1], [50, 50])
    pool = np.concatenate([np.zeros(200, int), np.ones(10, int), np.full(40, 2)])  # only 10 of class 1
    m = top1_match(real, pool, 60, 3, seed=0)
    assert m.target.tolist() == [30, 30, 0]
    assert m.achieved.tolist() == [30, 10, 0]
    assert m.shortfall == 20 and m.short_classes.tolist() == [1] and not m.complete
    assert len(m.indices) == 60 and len(np.unique(m.indices)) == 60  # filled up, still unique
    assert m.draws == 250  # the whole pool was examined
    assert m.total_variation() > 0
    with pytest.raises(MatchingError, match="unique"):
        top1_match(real, pool, 1000, 3, seed=0)


def test_top_n_vectors_have_exactly_n_ones():
    logits = np.random.default_rng(2).normal(size=(20, 1000))
    for n in (1, 3, 10, 100):
        for mode in ("top", "middle"):
            v = binarize_top_n(logits, n, mode)
            assert v.shape == (20, 1000) and np.all(v.sum(1) == n) and set(np.unique(v)) <= {0.0, 1.0}
    top = binarize_top_n(logits, 5, "top")
    assert np.array_equal(np.sort(np.flatnonzero(top[0])), np.sort(np.argsort(-logits[0])[:5]))


def test_middle_n_picks_the_middle_ranks():
    c = 10
    order = np.array([3, 7, 1, 9, 0, 5, 8, 2, 6, 4])  # class order[r] has rank r (rank 0 = most probable)
    logits = np.empty((1, c))
    logits[0, order] = np.arange(c)[::-1]
    assert rank_window(c, 2, "middle") == (4, 6) and rank_window(c, 3, "middle") == (4, 7)
    assert np.flatnonzero(binarize_top_n(logits, 2, "middle")[0]).tolist() == sorted(order[4:6].tolist())
    assert np.flatnonzero(binarize_top_n(logits, 3, "middle")[0]).tolist() == sorted(order[4:7].tolist())
    assert np.flatnonzero(binarize_top_n(logits, 2, "top")[0]).tolist() == sorted(order[:2].tolist())
    with pytest.raises(MatchingError, match="half"):
        rank_window(c, 6, "top")


def test_columns_empty_in_either_set_are_dropped():
    real = np.array([[1, 0, 0, 1], [0, 0, 1, 1]], float)
    gen = np.array([[1, 1, 0, 0], [0, 1, 0, 1]], float)
    r, g, keep = drop_empty_columns(real, gen)
    assert keep.tolist() == [True, False, False, True] and r.shape == g.shape == (2, 2)
    rb, gb, kb = top_n_pair(np.eye(6), np.eye(6)[::-1], 1, "top")
    assert kb.all() and rb.shape == (6, 6)
