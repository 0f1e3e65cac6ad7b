"""FINC model-bias and memorization checks (beyondfid.finc.model_bias)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from beyondfid.finc import finc, median_bandwidth
from beyondfid.finc.model_bias import (
    ModelBiasError,
    bias_hit,
    class_ids,
    class_representation,
    control_hit_rate,
    copy_mask,
    hit_chance,
    max_skew_size,
    mode_bias_rows,
    mode_majority,
    mode_memorization,
    rows_in_subset,
    run_skew_controls,
    skew_controls,
)

torch.set_num_threads(1)


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


# ------------------------------------------------------------------ over-representation


def test_ratios_on_hand_built_histograms():
    gen = _labels([50, 30, 20, 0])  # shares .5 .3 .2 0
    real = _labels([25, 25, 50, 0])  # shares .25 .25 .5 0
    rep = class_representation(gen, real, 4)
    assert rep.gen_counts.tolist() == [50, 30, 20, 0]
    assert rep.real_counts.tolist() == [25, 25, 50, 0]
    np.testing.assert_allclose(rep.ratio[:3], [2.0, 1.2, 0.4])
    assert np.isnan(rep.ratio[3])  # absent from both sets
    assert rep.over_represented.tolist() == [True, True, False, False]
    assert rep.ranking().tolist() == [0, 1, 2, 3]
    # different set sizes: shares, not counts, are compared
    rep2 = class_representation(np.repeat(gen, 3), real, 4)
    np.testing.assert_allclose(rep2.ratio[:3], rep.ratio[:3])


def test_class_missing_from_real_set_is_infinitely_over_represented():
    rep = class_representation(np.array([0, 1, 1]), np.array([0, 0, 0]), 2)
    assert rep.ratio[1] == np.inf and rep.ranking()[0] == 1
    assert bias_hit(1, rep)["strict_hit"]


def test_hit_criterion_on_planted_cases():
    rep = class_representation(_labels([50, 30, 20]), _labels([25, 25, 50]), 3)
    assert bias_hit(0, rep) == {"ratio": 2.0, "hit": True, "strict_hit": True, "rank": 1}
    h1 = bias_hit(1, rep)
    assert h1["hit"] and not h1["strict_hit"] and h1["rank"] == 2
    h2 = bias_hit(2, rep)
    assert not h2["hit"] and not h2["strict_hit"] and h2["rank"] == 3
    chance, strict = hit_chance(rep)
    assert chance == pytest.approx(0.8) and strict == pytest.approx(0.5)


def test_no_over_represented_class_means_no_hit():
    same = _labels([10, 10, 10])
    rep = class_representation(same, same, 3)
    assert not any(bias_hit(c, rep)["hit"] for c in range(3))
    assert hit_chance(rep) == (0.0, 0.0)


def test_mode_majority_and_rows():
    gen = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    assert mode_majority(np.array([5, 6, 7, 0]), gen, 3) == (2, 0.75)
    assert mode_majority(np.array([0, 2]), gen, 3) == (0, 0.5)  # tie -> lower class id
    rep = class_representation(gen, np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]), 3)
    rows = mode_bias_rows([np.array([5, 6, 7]), np.array([0, 1])], gen, rep)
    assert [r["majority"] for r in rows] == [2, 0]
    assert rows[0]["hit"] and rows[0]["strict_hit"] and not rows[1]["hit"]


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ModelBiasError, match="outside 0..2"):
        class_representation(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ModelBiasError, match="integer"):
        class_representation(np.array([0.5]), np.array([0]), 3)
    with pytest.raises(ModelBiasError, match="non-empty"):
        class_representation(np.array([], dtype=np.int64), np.array([0]), 3)
    rep = class_representation(np.array([0, 1]), np.array([0, 1]), 2)
    with pytest.raises(ModelBiasError, match="unknown majority class 5"):
        bias_hit(5, rep)
    with pytest.raises(ModelBiasError, match="outside"):
        mode_majority(np.array([10]), np.array([0, 1]), 2)
    with pytest.raises(ModelBiasError, match="same set"):
        mode_bias_rows([np.array([0])], np.array([0, 1, 1]), rep)
    lab = _labels([10, 10])
    with pytest.raises(ModelBiasError, match="factor must be finite and > 0"):
        skew_controls(lab, 0.0, 2)
    with pytest.raises(ModelBiasError, match="factor must be finite and > 0"):
        skew_controls(lab, -2, 2)
    with pytest.raises(ModelBiasError, match="unknown planted class 7"):
        skew_controls(lab, 3.0, 2, classes=[7])
    with pytest.raises(ModelBiasError, match="not feasible"):
        skew_controls(lab, 3.0, 2, n=19)
    with pytest.raises(ModelBiasError, match="equal length"):
        control_hit_rate([0, 1], [0], 2)
    with pytest.raises(ModelBiasError, match="one row per label"):
        run_skew_controls(np.zeros((5, 2)), lab, np.zeros((5, 2)), 2, 3.0, {})
    with pytest.raises(ModelBiasError, match=r"\(N, 2\)"):
        copy_mask(np.zeros((4, 1)), 0.5)
    with pytest.raises(ModelBiasError, match="ratio_threshold"):
        copy_mask(np.ones((4, 2)), 0.0)
    with pytest.raises(ModelBiasError, match="shaped like nn_dist"):
        mode_memorization([np.array([0])], np.ones((3, 2)), np.zeros((2, 2), np.int64), 0.5)


# ------------------------------------------------------------------ class-skew controls


def test_skew_controls_have_exact_planted_shares():
    lab = _labels([40] * 10)
    ctls = skew_controls(lab, 3.0, 10, seed=1)
    assert [c.planted for c in ctls] == list(range(10))
    # planted 10 % -> 3*0.1 / (0.9 + 0.3) = 25 %; largest size drawable without replacement: 40 / 0.25
    assert {c.indices.size for c in ctls} == {160}
    for c in ctls:
        assert c.counts[c.planted] == 40 and c.planted_share == 0.25 and c.source_share == 0.1
        others = np.delete(c.counts, c.planted)
        assert others.sum() == 120 and others.max() - others.min() <= 1  # the rest keep their proportions
        assert np.unique(c.indices).size == c.indices.size  # without replacement
        np.testing.assert_array_equal(np.bincount(lab[c.indices], minlength=10), c.counts)


def test_max_skew_size_respects_every_class():
    lab = _labels([30, 10, 20])  # p = .5, 1/6, 1/3; plant class 1 x2 -> p' = .5/(7/6)... each count/p' bounds n
    n = max_skew_size(lab, 1, 2.0, 3)
    ctl = skew_controls(lab, 2.0, 3, classes=[1])[0]
    assert ctl.indices.size == n
    assert np.all(ctl.counts <= np.bincount(lab, minlength=3))
    with pytest.raises(ModelBiasError):
        skew_controls(lab, 2.0, 3, classes=[1], n=n + 1)


def test_class_ids_by_name():
    assert class_ids(["dog", "bear"], ["bear", "cat", "dog"]) == [2, 0]
    with pytest.raises(ModelBiasError, match="unknown class name.*bear, cat, dog"):
        class_ids(["koala"], ["bear", "cat", "dog"])


def test_control_hit_rate():
    s = control_hit_rate([0, 1, 2, 3], [0, 1, 0, -1], 4)
    assert s == {"controls": 4, "hits": 2, "hit_rate": 0.5, "chance": 0.25}


def _gaussian_classes(n_per: int, k: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(size=(k, d)) * 4.0
    lab = np.repeat(np.arange(k), n_per)
    return (centres[lab] + rng.normal(size=(lab.size, d))).astype(np.float32), lab


def test_finc_finds_a_planted_over_represented_cluster():
    k = 5
    test_x, test_y = _gaussian_classes(60, k, 8, seed=0)
    ref_x, _ = _gaussian_classes(60, k, 8, seed=1)
    sigma = float(median_bandwidth(test_x, ref_x, seed=0))
    kw = dict(sigma=sigma, eta=1.0, rff_dim=256, top_k=3, seed=0, top_samples=15)
    rows, summary = run_skew_controls(test_x, test_y, ref_x, k, 3.0, kw, seed=0)
    assert summary["hit_rate"] == 1.0 and summary["chance"] == 1 / k
    assert all(r["top1_planted_share"] >= 0.8 for r in rows)
    # a generator that over-generates class 2 (Fig. 3): the top mode is a strict hit
    idx = skew_controls(test_y, 3.0, k, classes=[2])[0].indices
    res = finc(test_x[idx], ref_x, **kw)
    rep = class_representation(test_y[idx], np.repeat(np.arange(k), 60), k)
    row = mode_bias_rows(res.top_indices, test_y[idx], rep, modes=1)[0]
    assert row["majority"] == 2 and row["strict_hit"]


def test_controls_without_planted_excess_miss():
    # factor 1 plants nothing: test and reference are the same distribution, so the top mode's class is
    # not systematically the "planted" one (it cannot be for all five)
    k = 5
    test_x, test_y = _gaussian_classes(60, k, 8, seed=0)
    ref_x, _ = _gaussian_classes(60, k, 8, seed=1)
    kw = dict(sigma=float(median_bandwidth(test_x, ref_x, seed=0)), eta=1.0, rff_dim=256, top_k=3, seed=0,
              top_samples=15)
    _, summary = run_skew_controls(test_x, test_y, ref_x, k, 1.0, kw, seed=0)
    assert summary["hit_rate"] < 1.0


# ------------------------------------------------------------------ memorization


def test_copy_share_on_planted_copies():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(30, 1, 8, 8), dtype=np.uint8)
    fresh = rng.integers(0, 256, size=(12, 1, 8, 8), dtype=np.uint8)
    copied_rows = np.array([3, 7, 7, 19, 25, 0])
    samples = np.concatenate([train[copied_rows], fresh])  # rows 0..5 copies, 6..17 new
    from beyondfid.zoo import nearest_neighbor_l2

    dist, index = nearest_neighbor_l2(samples, train, k=2)
    mask = copy_mask(dist, 1 / 3)
    assert mask.tolist() == [True] * 6 + [False] * 12
    np.testing.assert_array_equal(index[:6, 0], copied_rows)
    modes = [np.arange(6), np.arange(3, 9), np.arange(6, 18)]
    train_subset = rows_in_subset(np.arange(100, 130), [103, 107])  # dataset index of train rows; subset {3, 7}
    rows = mode_memorization(modes, dist, index, 1 / 3, train_rows=train_subset)
    assert [r["copy_share"] for r in rows] == [1.0, 0.5, 0.0]
    assert rows[0]["mean_nn_dist"] < 1e-6 < rows[2]["mean_nn_dist"]  # exact copies, up to float round-off
    assert rows[0]["distinct_neighbours"] == 5
    assert rows[0]["nn_in_train_subset"] == pytest.approx(3 / 6)


def test_copy_mask_ratio_threshold():
    d = np.array([[1.0, 4.0], [1.0, 2.0], [0.0, 0.0], [2.9, 9.0]])
    assert copy_mask(d, 1 / 3).tolist() == [True, False, True, True]
    assert copy_mask(d, 0.6).tolist() == [True, True, True, True]


# ------------------------------------------------------------------ configuration


def test_config_sections_validate():
    from pydantic import ValidationError

    from beyondfid.config import FincMemorizationConfig, FincModelBiasConfig, load_config

    for profile in ("smoke", "mini", "paper"):
        p = load_config(profile, "params.yaml", ".").params
        assert p.finc_model_bias.skew_factor > 1 and 0 < p.finc_memorization.copy_ratio <= 1
    base = dict(feature="effnet", rff_dim=8, eta=1.0, top_k=2, top_samples=3, modes_shown=1, samples_shown=2,
                copy_ratio=0.333, contrast_model="ddpm_l")
    FincMemorizationConfig(**base)
    with pytest.raises(ValidationError, match="other than memorizer"):
        FincMemorizationConfig(**{**base, "contrast_model": "memorizer"})
    with pytest.raises(ValidationError, match="other than memorizer"):
        FincMemorizationConfig(**{**base, "contrast_model": "biggan"})
    mb = dict(feature="effnet", rff_dim=8, eta=1.0, top_k=2, top_samples=3, modes_shown=1, skew_factor=3.0,
              skew_classes=" cat, dog ")
    assert FincModelBiasConfig(**mb).skew_class_names == ("cat", "dog")
    with pytest.raises(ValidationError):
        FincModelBiasConfig(**{**mb, "feature": "clip"})
    with pytest.raises(ValidationError):
        FincModelBiasConfig(**{**mb, "skew_factor": 0.0})
