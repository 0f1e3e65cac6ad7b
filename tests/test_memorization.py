"""The finc_memorization notebook's tables (beyondfid.finc.memorization), on planted copies."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from beyondfid.config import FincMemorizationConfig
from beyondfid.finc.memorization import (
    MemorizationRun,
    memorization_metrics,
    memorization_modes_table,
    memorization_table,
    nn_ratio_frame,
    run_memorization,
)
from beyondfid.finc.model_bias import copy_mask, mode_memorization

torch.set_num_threads(1)

SETTINGS = FincMemorizationConfig(feature="effnet", rff_dim=64, eta=1.0, top_k=3, top_samples=4, modes_shown=2,
                                  samples_shown=4, copy_ratio=1 / 3, contrast_model="ddpm_l")


def _run(model: str, nn_dist: np.ndarray, modes: list[np.ndarray], sigma: float = 2.0) -> MemorizationRun:
    res = SimpleNamespace(eigenvalues=np.linspace(0.3, 0.1, len(modes)), top_indices=modes, k=len(modes),
                          n_test=len(nn_dist), n_ref=50, n_positive=len(modes) + 3, sigma=sigma)
    nn_index = np.tile(np.arange(len(nn_dist))[:, None] % 7, (1, 2))
    return MemorizationRun(model, res, nn_dist, nn_index, copy_mask(nn_dist, 1 / 3),
                           mode_memorization(modes, nn_dist, nn_index, 1 / 3))


def _planted() -> tuple[MemorizationRun, MemorizationRun, np.ndarray]:
    """memorizer: rows 0-3 exact copies (d1 = 0), rows 4-9 not (d1 = d2 / 2); mode 1 = copies, mode 2 = half.
    contrast: no copies at all. Real reference: 1 copy-like row of 4."""
    d = np.column_stack([np.r_[np.zeros(4), np.full(6, 2.0)], np.full(10, 4.0)])
    mem = _run("memorizer", d, [np.arange(4), np.array([2, 3, 4, 5])])
    contrast = _run("ddpm_l", np.column_stack([np.full(10, 3.0), np.full(10, 4.0)]), [np.arange(4)], sigma=3.0)
    real = np.array([[1.0, 4.0], [3.0, 4.0], [3.0, 4.0], [3.0, 4.0]])
    return mem, contrast, real


def test_summary_copy_shares_on_planted_copies():
    mem, contrast, real = _planted()
    t = memorization_table([mem, contrast], real, SETTINGS, "smoke", n_train=300)
    m, c, r = t.iloc[0], t.iloc[1], t.iloc[2]
    assert m["copy share, all samples"] == 0.4 and m["copy share, top-1 mode"] == 1.0
    assert m["copy share, top samples of top 2 modes"] == 0.75  # 4 + 2 copies of 8 pooled top samples
    assert m["mean d1, all samples"] == pytest.approx(1.2) and m["mean d1, top 2 modes"] == pytest.approx(0.5)
    assert c["copy share, all samples"] == 0.0 and c["paper (BigGAN, Fig. 11)"] == "–"
    assert r["model"] == "real_heldout (reference)" and r["copy share, all samples"] == 0.25 and np.isnan(r["sigma"])
    assert "trained on 300 images" in t.attrs["note"] and "reference = real_heldout, 50 images" in t.attrs["note"]
    metrics = memorization_metrics(t, SETTINGS, "smoke")
    assert metrics["memorizer"] == {"copy_share_all": 0.4, "copy_share_top_modes": 0.75, "copy_share_top1": 1.0,
                                    "sigma": 2.0}
    assert metrics["real_heldout_copy_share"] == 0.25 and metrics["ddpm_l"]["sigma"] == 3.0
    # without the real reference's distances: no reference row, no reference metric
    t2 = memorization_table([mem, contrast], None, SETTINGS, "smoke")
    assert len(t2) == 2 and "real_heldout_copy_share" not in memorization_metrics(t2, SETTINGS, "smoke")


def test_modes_table_has_one_row_per_mode():
    mem, contrast, _ = _planted()
    t = memorization_modes_table([mem, contrast], SETTINGS, "smoke")
    assert t[["model", "mode"]].values.tolist() == [["memorizer", 1], ["memorizer", 2], ["ddpm_l", 1]]
    assert t["copy_share"].tolist() == [1.0, 0.5, 0.0]
    np.testing.assert_allclose(t["lambda"], [0.3, 0.1, 0.3])
    assert "top 4 samples" in t.attrs["note"]


def test_nn_ratio_frame_is_the_copy_statistic():
    mem, contrast, real = _planted()
    f = nn_ratio_frame([mem, contrast], np.vstack([real, [[0.0, 0.0]]]))
    assert f.groupby("set", sort=False).size().to_dict() == {"memorizer": 10, "ddpm_l": 10, "real_heldout": 5}
    np.testing.assert_allclose(f[f["set"] == "memorizer"]["d1 / d2"], np.r_[np.zeros(4), np.full(6, 0.5)])
    assert f["d1 / d2"].iloc[-1] == 0.0  # d1 = d2 = 0: an exact copy, ratio 0
    # the copy test thresholds exactly this ratio
    assert ((f[f["set"] == "memorizer"]["d1 / d2"] < 1 / 3).to_numpy() == mem.copies).all()


def test_run_memorization_scores_finc_modes():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 6)) * 5
    gen = np.concatenate([centres[0] + rng.normal(size=(40, 6)), centres[1] + rng.normal(size=(20, 6))])
    ref = np.concatenate([centres[1] + rng.normal(size=(30, 6)), centres[2] + rng.normal(size=(30, 6))])
    d = np.column_stack([np.r_[np.zeros(40), np.full(20, 2.0)], np.full(60, 3.0)])  # cluster 0 is copied
    idx = np.tile(np.arange(60)[:, None], (1, 2))
    kw = dict(eta=1.0, rff_dim=128, top_k=2, seed=0, top_samples=10)
    run = run_memorization("memorizer", gen.astype(np.float32), ref.astype(np.float32), d, idx, kw, 1 / 3)
    assert run.stats[0]["copy_share"] == 1.0  # FINC's top mode is the cluster the reference lacks: the copies
    assert run.copies.sum() == 40 and run.top_rows(1).size == 10
