"""Paper 2's sensitivity helpers (Figs 8-9) and the notebook table builders."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.fidclasses.heatmaps import noise_fid_table
from beyondfid.fidclasses.matching import match_summary, top1_match
from beyondfid.fidclasses.sensitivity import (class_total_variation, instance_table, kendall_tau, pearson_with_ci,
                                              sample_count_table, subset_fids)
from beyondfid.fidclasses.tables import PAPER_FIG8A, PAPER_FIG8B, before_after_table, paper_change_range, top1_shares


def test_pearson_interval_and_kendall():
    x = np.arange(8.0)
    r, lo, hi = pearson_with_ci(x, 2 * x + np.sin(x))
    assert lo < r < hi <= 1.0 and r > 0.98
    r, lo, hi = pearson_with_ci([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert lo < r < hi and lo < 0.5  # five noisy points: a wide interval
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_subset_fids_are_seeded_and_fall_with_the_sample_count():
    rng = np.random.default_rng(0)
    real, gen = rng.normal(size=(600, 4)), rng.normal(size=(600, 4)) + 0.3
    a = subset_fids(real, gen, 50, 50, [0, 1, 2])
    assert np.array_equal(a, subset_fids(real, gen, 50, 50, [0, 1, 2])) and len(np.unique(a)) == 3
    t = sample_count_table(real, gen, [20, 100], 300, range(6), PAPER_FIG8A)
    assert t["FID mean"].iloc[0] > t["FID mean"].iloc[1] > t["FID mean"].iloc[2]  # small-sample bias shrinks
    assert t["paper sample size"].tolist() == ["5k + 5k", "10k + 10k", "All + 50k"]  # the all row = the paper's all


def test_instance_table_changes_within_groups():
    rng = np.random.default_rng(1)
    r, g = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + 0.5
    spaces = {"a": (r, g), "b": (2 * r, 2 * g), "c": (r, g), "d": (3 * r, 3 * g)}
    t = instance_table(spaces, 100, range(3), {"a": "x", "b": "x", "c": "y", "d": "y"}, PAPER_FIG8B)
    assert t["change vs first of its group"].tolist() == pytest.approx([0.0, 3.0, 0.0, 8.0])  # FD scales with c^2
    assert t["paper (FFHQ, Inception-V3)"].iloc[0].startswith("TensorFlow")


def test_table_builders():
    assert paper_change_range({"A": {"FID": (10.0, 5.0)}, "B": {"FID": (4.0, 3.0)}}, "FID") == (-0.5, -0.25)
    import pandas as pd

    before = pd.DataFrame({"FID": [10.0, 12.0]})
    after = pd.DataFrame({"FID": [5.0, 6.0]})
    t = before_after_table(before, {"attack": after}, [("FID", "FID", "FID")], {"FFHQ": {"FID": (5.63, 4.91)},
                                                                                  "CAT": {"FID": (8.0, 7.0)}})
    assert t["ours change"].iloc[0] == pytest.approx(-0.5) and t["paper FFHQ after"].iloc[0] == 4.91
    sh = top1_shares({"real": np.array([0, 0, 1]), "gen": np.array([1, 1, 2])}, ["a", "b", "c"], k=2)
    assert sh["class"].tolist() == ["a", "b", "a", "b"] and sh["share"].tolist() == pytest.approx([2 / 3, 1 / 3, 0, 2 / 3])
    assert class_total_variation([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.25)


def test_noise_table_and_match_summary():
    imgs = np.full((4, 1, 6, 6), 128, np.uint8)
    regions = {"all": np.ones((4, 6, 6), bool), "none": np.zeros((4, 6, 6), bool)}
    t = noise_fid_table(imgs, regions, [0.1, 0.3], lambda x: float(np.abs(x.astype(float) - 128).mean()))
    assert len(t) == 2 + 4 and (t[t["noise std"] == 0]["FID"] == 0).all()
    none = t[(t["region"] == "none") & (t["noise std"] > 0)]["FID"]
    noisy = t[(t["region"] == "all")].set_index("noise std")["FID"]
    assert (none == 0).all() and noisy[0.3] > noisy[0.1] > 0
    real = np.repeat([0, 1], 50)
    m = [top1_match(real, np.repeat([0, 1, 2], 40), 60, 3, seed=s) for s in range(2)]
    info = match_summary(m, np.repeat([0, 1, 2], 40), 60)
    assert info["shortfall"] == 0 and info["total_variation_to_target"] == 0 and info["draws"] <= 120
