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


# ------------------------------------------------------------------ the notebook's tables (Fig. 3)


def _fake_result(eigenvalues, top_indices, n_test=100, n_ref=80, sigma=2.5):
    from types import SimpleNamespace

    ev = np.asarray(eigenvalues, dtype=np.float64)
    return SimpleNamespace(eigenvalues=ev, top_indices=[np.asarray(t) for t in top_indices], k=ev.size,
                           n_test=n_test, n_ref=n_ref, n_positive=ev.size + 5, sigma=sigma, rff_dim=64, eta=1.0,
                           message="")


def _bias_settings():
    from beyondfid.config import FincModelBiasConfig

    return FincModelBiasConfig(feature="effnet", rff_dim=64, eta=1.0, top_k=3, top_samples=4, modes_shown=2,
                               skew_factor=3.0, skew_classes="")


def _planted_runs():
    """Model "gan": generated shares .5/.3/.2 vs real .25/.25/.5 -> rho 2, 1.2, 0.4; its mode 1 is class 1
    (rho 1.2: a hit, not strict), mode 2 class 0 (strict). Model "ddpm_l": no positive mode."""
    from beyondfid.finc.model_bias import BiasRun

    gen = _labels([50, 30, 20])
    real = _labels([25, 25, 50])
    rep = class_representation(gen, real, 3)
    modes = [np.array([50, 51, 52, 0]), np.array([0, 1, 2, 3])]  # rows of class 1 x3 + class 0; class 0 x4
    gan = BiasRun("gan", _fake_result([0.3, 0.1], modes), rep, mode_bias_rows(modes, gen, rep))
    empty = BiasRun("ddpm_l", _fake_result([], []), class_representation(real, real, 3), [])
    return [gan, empty], rep


def test_model_bias_table_on_planted_runs():
    from beyondfid.finc.model_bias import PAPER_FIG3, model_bias_table

    runs, rep = _planted_runs()
    t = model_bias_table(runs, ["a", "b", "c"], _bias_settings(), "smoke")
    gan, empty = t.iloc[0], t.iloc[1]
    assert gan["top mode: majority class"] == "b" and gan["purity"] == 0.75
    assert gan["rho of that class"] == pytest.approx(1.2) and gan["rank of that class by rho"] == 2
    assert bool(gan["hit (rho > 1)"]) and not bool(gan["strict hit (largest rho)"])
    assert gan["chance (hit)"] == pytest.approx(0.8) and gan["chance (strict)"] == pytest.approx(0.5)
    assert gan["most over-represented class (classifier)"] == "a (rho=2.00)"
    assert gan["lambda_1"] == 0.3 and gan["paper (ImageNet model, qualitative)"] == PAPER_FIG3["gan"]
    # a model without a positive eigenvalue is a miss with lambda_1 = 0; equal sets: no class has rho > 1
    assert empty["top mode: majority class"] == "no mode" and not bool(empty["hit (rho > 1)"])
    assert empty["lambda_1"] == 0.0 and empty["chance (hit)"] == 0.0
    assert "vs real_heldout (80 images)" in t.attrs["note"] and "top 4 samples" in t.attrs["note"]


def test_class_ratio_frames_clip_and_mark_the_modes():
    from beyondfid.finc.model_bias import BiasRun, class_ratio_frames

    runs, rep = _planted_runs()
    inf_rep = class_representation(np.array([0, 1, 2]), np.array([0, 0, 1]), 3)  # class 2 absent from real: inf
    runs.append(BiasRun("vae", _fake_result([0.2], [[2]]), inf_rep, mode_bias_rows([np.array([2])], [0, 1, 2], inf_rep)))
    log2, labels = class_ratio_frames(runs, ["a", "b", "c"])
    np.testing.assert_allclose(log2.loc["gan"], np.log2([2.0, 1.2, 0.4]))
    assert log2.loc["vae", "c"] == 3.0  # +inf is shown as 8x
    assert labels.loc["gan"].tolist() == ["2", "1", ""] and labels.loc["vae", "c"] == "1"
    assert labels.loc["ddpm_l"].tolist() == ["", "", ""] and (log2.loc["ddpm_l"] == 0).all()


def test_hit_rates_controls_and_metrics_agree():
    from beyondfid.finc.model_bias import ControlStudy, controls_table, hit_rates_table, model_bias_metrics, model_bias_table

    runs, _ = _planted_runs()
    names = ["a", "b", "c"]
    table = model_bias_table(runs, names, _bias_settings(), "smoke")
    rows = [{"planted": 0, "source_share": 1 / 3, "planted_share": 0.6, "n": 10, "top1_majority": 0, "top1_purity": 0.9,
             "top1_planted_share": 0.9, "lambda1": 0.2, "hit": True},
            {"planted": 2, "source_share": 1 / 3, "planted_share": 0.6, "n": 10, "top1_majority": -1,
             "top1_purity": np.nan, "top1_planted_share": np.nan, "lambda1": 0.0, "hit": False}]
    study = ControlStudy(rows, control_hit_rate([0, 2], [0, -1], 3), sigma=1.5, n_ref=40, factor=3.0)
    ctl = controls_table(study, names, _bias_settings(), "smoke")
    assert ctl["top-1 majority"].tolist() == ["a", "no mode"] and ctl["hit"].tolist() == [True, False]
    assert "Hit rate 1/2 = 0.50, chance 0.33" in ctl.attrs["note"] and "(40 images)" in ctl.attrs["note"]
    hits = hit_rates_table(table, study, 3.0, "smoke")
    assert hits["count"].tolist() == ["1/2", "0/2", "1/2"]
    np.testing.assert_allclose(hits["hit rate (ours)"], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(hits["chance"], [0.4, 0.25, 1 / 3])
    assert hits["check"].iloc[2] == "controls: top-1 mode = planted class (x3)"
    m = model_bias_metrics(runs, names, hits, study, "smoke", "effnet")
    assert m["top_mode_class"] == {"gan": "b"} and m["lambda_1"] == {"gan": 0.3, "ddpm_l": 0.0}
    assert m["model_hit_rate"] == 0.5 and m["model_strict_hit_rate"] == 0.0 and m["control_hit_rate"] == 0.5
    # without controls, their row is empty and the metrics have no control keys
    no_ctl = hit_rates_table(table, None, 3.0, "smoke")
    assert no_ctl["count"].iloc[2] == "–" and np.isnan(no_ctl["hit rate (ours)"].iloc[2])
    assert "control_hit_rate" not in model_bias_metrics(runs, names, no_ctl, None, "smoke", "effnet")


def test_run_model_bias_finds_the_over_generated_class():
    from beyondfid.finc.model_bias import run_model_bias

    k = 5
    test_x, test_y = _gaussian_classes(60, k, 8, seed=0)
    ref_x, ref_y = _gaussian_classes(60, k, 8, seed=1)
    idx = skew_controls(test_y, 3.0, k, classes=[3])[0].indices  # a generator that over-generates class 3
    kw = dict(eta=1.0, rff_dim=256, top_k=3, seed=0, top_samples=15)
    run = run_model_bias("gen", test_x[idx], ref_x, kw, gen_labels=test_y[idx], real_labels=ref_y, n_classes=k, modes=2)
    assert run.result.sigma == float(median_bandwidth(test_x[idx], ref_x, seed=0))
    assert run.rows[0]["majority"] == 3 and run.rows[0]["strict_hit"] and len(run.rows) == 2
    assert run.lambda_1 == float(run.result.eigenvalues[0]) > 0
    assert run_model_bias("gen", test_x[idx], ref_x, kw).rep is None  # no labels: FINC only
    with pytest.raises(ModelBiasError, match="n_classes"):
        run_model_bias("gen", test_x[idx], ref_x, kw, gen_labels=test_y[idx], real_labels=ref_y)
