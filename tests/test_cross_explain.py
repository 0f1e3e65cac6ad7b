"""Q2 of issue 15 (beyondfid.crosspaper.explain) and the restored classifier (beyondfid.distclass.predict).

The overlap statistic against planted ground truth (identical, disjoint, dependent and independent
sets; its calibration under the null; a Monte-Carlo permutation oracle), the mode-set builder, and
the restored classifier reproducing its run's stored evaluation exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from beyondfid.config import DCArchConfig, DCTrainConfig
from beyondfid.crosspaper.explain import CrossExplainError, combined_p, mode_members, overlap_test, top_rows
from beyondfid.distclass.predict import PredictError, predict_proba, restore_classifier
from beyondfid.distclass.task import TaskSpec, make_task
from beyondfid.distclass.train import train_task
from conftest import blobs

pytestmark = pytest.mark.usefixtures("one_thread")


def test_overlap_of_identical_and_disjoint_sets():
    o = overlap_test([1, 2, 3], [3, 2, 1], 10)
    assert (o.overlap, o.expected) == (3, pytest.approx(0.9))
    assert o.p_value == pytest.approx(1 / math.comb(10, 3))  # only one 3-subset contains all three
    o = overlap_test([0, 1], [5, 6], 10)
    assert o.overlap == 0 and o.p_value == pytest.approx(1.0) and o.enrichment == 0
    with pytest.raises(CrossExplainError, match="repeated"):
        overlap_test([1, 1], [2], 5)
    with pytest.raises(CrossExplainError, match="outside"):
        overlap_test([7], [2], 5)


def test_overlap_p_value_equals_a_permutation_oracle():
    rng = np.random.default_rng(0)
    n, a, b = 60, np.arange(12), np.array([0, 1, 2, 3, 40, 41, 42, 43, 44, 50, 51, 52])
    o = overlap_test(a, b, n)
    sims = np.array([len(np.intersect1d(a, rng.choice(n, len(b), replace=False))) for _ in range(40000)])
    assert o.p_value == pytest.approx((sims >= o.overlap).mean(), abs=0.004)
    assert o.expected == pytest.approx(sims.mean(), rel=0.02)


def test_overlap_is_calibrated_under_the_null_and_finds_planted_dependence():
    rng = np.random.default_rng(1)
    n, k = 500, 75
    null_p = [overlap_test(rng.choice(n, k, replace=False), rng.choice(n, k, replace=False), n).p_value
              for _ in range(2000)]
    assert np.mean(np.asarray(null_p) <= 0.05) <= 0.05 + 0.012  # discrete, so at most alpha (+ MC noise)
    # planted: a "classifier" whose confidence is the mode score plus noise
    scores = rng.normal(size=(n, 3))
    members = mode_members(scores, 25)
    conf = scores.max(1) + rng.normal(scale=0.5, size=n)
    o = overlap_test(members, top_rows(conf, len(members)), n)
    assert o.enrichment > 2 and o.p_value < 1e-10
    unrelated = rng.normal(size=n)
    assert overlap_test(members, top_rows(unrelated, len(members)), n).p_value > 1e-3


def test_mode_members_is_the_union_of_each_modes_top_rows():
    s = np.array([[5.0, 0.0], [4.0, 9.0], [0.0, 8.0], [3.0, 1.0]])
    assert list(mode_members(s, 2)) == [0, 1, 2]  # mode 1: rows 0, 1; mode 2: rows 1, 2
    assert list(top_rows(np.array([1.0, 3.0, 3.0, 2.0]), 3)) == [1, 2, 3]  # ties: lower row first
    assert mode_members(np.zeros((4, 0)), 2).size == 0


def test_combined_p_is_fishers_method():
    from scipy.stats import chi2

    p = [0.01, 0.2, 0.5]
    assert combined_p(p) == pytest.approx(chi2.sf(-2 * np.log(p).sum(), 2 * len(p)))


_blobs = blobs


def test_restored_classifier_reproduces_its_evaluation(tmp_path):
    arch = DCArchConfig(kind="resnet", widths="8,8,16,16", depths="1,1,1,1")
    recipe = DCTrainConfig(epochs=2, batch_size=16, lr=3e-3, weight_decay=0.05, grad_shards=2, precise_bn_images=48, ckpt_every=5)
    a, b = _blobs(100, 0), _blobs(100, 1)
    b[:60, 0, 1, 1] = 255  # separable for some of class b only: confidences spread
    t = make_task({"a": a, "b": b}, TaskSpec(("a", "b"), n_train=60, n_val=40))
    res = train_task(t, arch, recipe, seed=3, ckpt_path=tmp_path / "c.pt", progress=False)
    clf = restore_classifier(t.x_train, 2, arch, recipe, seed=3, ckpt_path=tmp_path / "c.pt")
    proba = predict_proba(clf, t.x_val)
    conf = np.zeros((2, 2), np.int64)
    np.add.at(conf, (t.y_val, proba.argmax(1)), 1)
    assert conf.tolist() == res.confusion  # the evaluated network, not just a similar one
    assert np.allclose(proba.sum(1), 1.0) and proba.dtype == np.float64
    assert np.array_equal(predict_proba(clf, t.x_val[:7]), proba[:7])  # fixed micro-batches: same bits
    other = DCTrainConfig(epochs=4, batch_size=16, lr=3e-3, weight_decay=0.05, grad_shards=2, precise_bn_images=48, ckpt_every=5)
    with pytest.raises(PredictError, match="unfinished or belongs to another task"):
        restore_classifier(t.x_train, 2, arch, other, seed=3, ckpt_path=tmp_path / "c.pt")
