"""Q1 of issue 15 (beyondfid.crosspaper.attack): the attack-transfer machinery on a planted task.

A candidate pool where half the images carry a one-pixel watermark (which a classifier finds at
once, tests/test_dc_train.py) and "attack" weights that put no mass on them: the uniform sample
is separable from real (~75%: half of it is watermarked), the attacked one is not (~50%).
"""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.crosspaper.attack import (CrossAttackError, compare_accuracies, accuracy_rows, draw, judge_verdict,
                                         summary_table, train_cached, transfer_splits, transfer_task)
from beyondfid.distclass.task import PoolRef, class_rows
from conftest import blobs, dc_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

RESNET, PLAIN = dc_tiny()


_blobs = blobs


def test_draws_follow_their_rule():
    p = np.zeros(100)
    p[10:20] = 1.0
    rows = np.arange(50)
    a = draw("attacked", p / p.sum(), rows, 500, seed=0)
    assert set(np.unique(a)) <= set(range(10, 20)) and len(a) == 500  # with replacement, only where p > 0
    u = draw("uniform", None, rows, 50, seed=0)
    assert np.array_equal(u, rows)  # without replacement: all of them
    with pytest.raises(CrossAttackError, match="uniform draw of 51"):
        draw("uniform", None, rows, 51, seed=0)
    with pytest.raises(CrossAttackError, match="mass on the rows"):
        draw("attacked", p, np.arange(50, 100), 5, seed=0)


def test_train_and_val_candidates_never_overlap():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(1000, 0.05))  # concentrated weights: many repeats within a draw
    splits = transfer_splits(p, 400, 200, seed=3)
    for s in splits.values():
        assert len(s.train_rows) == 400 and len(s.val_rows) == 200
        assert not set(s.train_rows) & set(s.val_rows)
    assert splits["attacked"].unique[0] < 400 == splits["uniform"].unique[0]


def test_transfer_task_uses_paper3s_real_rows():
    real = _blobs(40, 0)
    pool = _blobs(30, 1)
    split = transfer_splits(np.full(30, 1 / 30), 10, 5, seed=0)["uniform"]
    t = transfer_task(real, "real_heldout", pool, split, 10, 5, split_seed=7)
    tr, va = class_rows(PoolRef("real_heldout"), 40, 10, 5, 7)
    assert np.array_equal(t.x_train[:10], real[tr]) and np.array_equal(t.x_val[:5], real[va])
    assert np.array_equal(t.x_val[5:], pool[split.val_rows]) and list(t.y_val) == [0] * 5 + [1] * 5
    with pytest.raises(CrossAttackError, match="same pixel path"):
        transfer_task(real, "r", np.zeros((30, 3, 28, 28), np.uint8), split, 10, 5, 7)


def test_an_attack_that_drops_the_artefact_fools_the_classifier(tmp_path):
    real = _blobs(400, 0)
    pool = _blobs(800, 1)
    marked = np.zeros(800, bool)
    marked[::2] = True
    pool[marked, 0, 1, 1] = 255  # the artefact the classifier can see
    p = np.where(marked, 0.0, 1.0)
    p /= p.sum()
    splits = transfer_splits(p, 250, 150, seed=0)
    acc = {}
    for k, s in splits.items():
        t = transfer_task(real, "real", pool, s, 250, 150, split_seed=0)
        acc[k] = train_cached(tmp_path, t, RESNET, PLAIN, seed=0, inputs="planted").record
    assert marked[splits["uniform"].val_rows].mean() == pytest.approx(0.5, abs=0.1)
    assert not marked[splits["attacked"].val_rows].any()
    assert acc["attacked"].ci_low < 0.5 < acc["attacked"].ci_high, acc["attacked"]
    assert acc["uniform"].accuracy > 0.65 and acc["uniform"].ci_low > acc["attacked"].accuracy, acc
    # the second call reads the stored result: same record, no training (train_task would need the checkpoint)
    t = transfer_task(real, "real", pool, splits["uniform"], 250, 150, split_seed=0)
    for ckpt in tmp_path.glob("*/ckpt.pt"):
        ckpt.unlink()
    assert train_cached(tmp_path, t, RESNET, PLAIN, seed=0, inputs="planted").record == acc["uniform"]
    rows = accuracy_rows([(k, "resnet", 0) for k in acc], [type("R", (), {"record": r})() for r in acc.values()])
    cmp = compare_accuracies(rows)
    assert cmp.iloc[0]["difference"] == pytest.approx(acc["attacked"].accuracy - acc["uniform"].accuracy)
    assert cmp.iloc[0]["fisher_p"] < 0.05


def test_judge_verdicts():
    assert judge_verdict(-0.5, -0.05) == "barely moves"
    assert judge_verdict(-0.5, -0.3) == "fooled"
    assert judge_verdict(-0.5, +0.3) == "partly"
    assert judge_verdict(-0.5, -0.2) == "partly"
    assert judge_verdict(0.0, -0.2) == "undefined"


def test_summary_marks_fid_and_scores_the_margin_over_chance():
    import pandas as pd

    scores = {"uniform": pd.DataFrame({"FID": [100.0, 102.0], "x": [1.0, 1.0]}),
              "attacked": pd.DataFrame({"FID": [50.0, 52.0], "x": [0.98, 0.98]})}
    acc = pd.DataFrame({"sample": ["uniform", "attacked"], "arch": ["a", "a"], "seed": [0, 0],
                        "accuracy": [0.9, 0.7]})
    s = summary_table(scores, acc, [("FID", "FID"), ("x", "x")]).set_index("quantity")
    assert s.loc["FID", "verdict"] == "(the attacked metric)"
    assert s.loc["FID", "relative_change"] == pytest.approx(51 / 101 - 1)
    assert s.loc["x", "verdict"] == "barely moves"
    assert s.loc["accuracy_a", "relative_change"] == pytest.approx(0.2 / 0.4 - 1)  # (acc - 1/2) halves
    assert s.loc["accuracy_a", "verdict"] == "fooled"


def test_attack_weights_are_cached_by_their_inputs(tmp_path, repo, monkeypatch):
    from beyondfid.config import load_config
    from beyondfid.crosspaper import attack
    from beyondfid.fidclasses import resampling

    cfg = load_config("smoke", repo / "params.yaml", tmp_path)
    rng = np.random.default_rng(0)
    real, pool = rng.normal(size=(60, 6)), rng.normal(size=(40, 6)) + 0.3
    p, info = attack.attack_probabilities(cfg, real, pool)
    assert p.shape == (40,) and p.sum() == pytest.approx(1.0) and info["weighted_fid_end"] < info["weighted_fid_start"]

    def boom(*a, **k):
        raise AssertionError("recomputed a cached attack")

    monkeypatch.setattr(resampling, "optimize_weights", boom)
    p2, info2 = attack.attack_probabilities(cfg, real, pool)
    assert np.array_equal(p, p2) and info2 == info
    with pytest.raises(AssertionError, match="recomputed"):  # other inputs: not the cached weights
        attack.attack_probabilities(cfg, real, pool + 1e-3)
