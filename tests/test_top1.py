"""Top-1 class tables of the overview notebook (beyondfid.top1), on planted predictions."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.top1 import (
    top1_class_matrix,
    top1_counts,
    top1_order,
    top1_per_class_table,
    top1_summary,
    top1_table,
    topk_table,
)

NAMES = [f"c{i}" for i in range(1000)]


def _planted() -> tuple[np.ndarray, np.ndarray]:
    """Source class 0 (10 images): 6 x ImageNet 512, 4 x 3; class 1 (6): 3 x 512, 3 x 7; class 2: empty.

    Overall: 512 x 9, 3 x 4, 7 x 3 (16 images); animals (< 398): 3 and 7, i.e. 7 of 16."""
    top1 = np.array([512] * 6 + [3] * 4 + [512] * 3 + [7] * 3)
    labels = np.array([0] * 10 + [1] * 6)
    return top1, labels


def test_table_counts_ranks_and_shares():
    top1, _ = _planted()
    t = top1_table(top1, NAMES, 1000, 5, dataset="toy", scale="smoke profile, x at 8 px")
    assert t["imagenet_index"].tolist() == [512, 3, 7, 0, 1]  # then zero counts, lower id first
    assert t["count"].tolist() == [9, 4, 3, 0, 0] and t["rank"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(t["share"], np.array([9, 4, 3, 0, 0]) / 16)
    assert t["imagenet_class"].tolist()[:3] == ["c512", "c3", "c7"]
    assert t.attrs["note"] == "Scale: smoke profile, x at 8 px, 16 toy images."
    assert top1_counts(top1, 1000).sum() == len(top1)
    # ties go to the lower class id
    assert top1_order(np.array([2, 5, 5, 1]), 3).tolist() == [1, 2, 0]


def test_per_class_winner_animal_share_and_empty_classes():
    top1, labels = _planted()
    t = top1_per_class_table(top1, labels, ["a", "b", "empty"], NAMES, 1000, "smoke")
    assert t["class"].tolist() == ["a", "b"]  # the class without images is left out
    assert t["n"].tolist() == [10, 6]
    assert t["imagenet_index"].tolist() == [512, 7]  # class 1: a 3-3 tie between 512 and 7 -> lower id wins
    np.testing.assert_allclose(t["share"], [0.6, 0.5])
    np.testing.assert_allclose(t["animal_share"], [0.4, 0.5])
    assert t["distinct_top1"].tolist() == [2, 2]


def test_class_matrix_rows_are_shares():
    top1, labels = _planted()
    m = top1_class_matrix(top1, labels, ["a", "b", "empty"], [512, 3, 7], NAMES)
    assert list(m.columns) == ["c512", "c3", "c7"] and list(m.index) == ["a", "b", "empty"]
    np.testing.assert_allclose(m.loc["a"], [0.6, 0.4, 0.0])
    np.testing.assert_allclose(m.loc["b"], [0.5, 0.0, 0.5])
    assert m.loc["empty"].isna().all()
    # columns that cover every predicted class: each non-empty row sums to 1
    np.testing.assert_allclose(m.iloc[:2].sum(axis=1), 1.0)


def test_topk_table_matches_the_softmax():
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]))
    t = topk_table(logits, ["x", "y"], ["A", "B", "C"], profile="smoke")
    assert t.columns.tolist() == ["photo", "top1", "p_top1", "top2", "top3"]
    assert t["top1"].tolist() == ["B", "A"] and t["top2"].tolist() == ["C", "C"] and t["top3"].tolist() == ["A", "B"]
    np.testing.assert_allclose(t["p_top1"], [0.6, 0.5])
    assert t.attrs["note"] == "Scale: smoke profile."
    with pytest.raises(ValueError, match="one row per name"):
        topk_table(logits, ["x"], ["A", "B", "C"])


def test_summary_agrees_with_the_table():
    top1, _ = _planted()
    s = top1_summary(top1, NAMES, 1000, 2, "toy")
    assert s == {"toy_n": 16, "toy_distinct_top1_classes": 3, "toy_top1_most_common": "c512",
                 "toy_top1_most_common_share": 9 / 16, "toy_top2_cumulative_share": 13 / 16,
                 "toy_animal_top1_share": 7 / 16}


def test_bad_class_ids_are_named():
    with pytest.raises(ValueError, match="outside 0..9"):
        top1_counts(np.array([1, 12]), 10)
    with pytest.raises(ValueError, match="integer class ids"):
        top1_table(np.array([0.5]), NAMES, 10, 1, dataset="d", scale="s")
