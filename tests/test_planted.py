"""The finc_colored and finc_novelty notebooks' tables (beyondfid.finc.planted), on planted ground truth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from beyondfid.config import load_config
from beyondfid.finc.planted import (
    ColoredRun,
    colored_metrics,
    colored_mode_title,
    colored_modes_table,
    colored_share_table,
    novelty_metrics,
    novelty_mode_title,
    novelty_modes_table,
    novelty_table,
    run_colored,
    run_novelty,
    spectrum_frame,
)
from beyondfid.finc import mode_label_stats
from beyondfid.finc.novelty import NoveltySets

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cfg(repo, tmp_path_factory):
    return load_config("smoke", repo / "params.yaml", tmp_path_factory.mktemp("planted"))


def _res(eigenvalues, top_indices, n_test=10, n_ref=10, sigma=1.5, rff_dim=64):
    ev = np.asarray(eigenvalues, dtype=np.float64)
    return SimpleNamespace(eigenvalues=ev, top_indices=[np.asarray(t) for t in top_indices], k=ev.size,
                           n_test=n_test, n_ref=n_ref, n_positive=ev.size + 1, sigma=sigma, rff_dim=rff_dim)


def _colored_run(name, modes, is_colored, color_ids):
    return ColoredRun(name, _res(np.linspace(0.5, 0.1, len(modes)), modes), is_colored, color_ids,
                      mode_label_stats([np.asarray(m) for m in modes], color_ids, hit=is_colored))


def test_colored_tables_on_planted_colours(cfg):
    P = cfg.params.finc_colored
    is_colored = np.array([True] * 5 + [False] * 5)
    color_ids = np.array([2, 2, 2, 4, 4] + [-1] * 5)
    modes = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # all coloured (colour 2), 2/3 coloured, gray
    runs = [_colored_run("digits", modes, is_colored, color_ids), _colored_run("animals", modes[:1], is_colored, color_ids)]
    per_mode = colored_modes_table(runs, "smoke")
    assert per_mode["colored_share_top"].tolist() == pytest.approx([1.0, 2 / 3, 0.0, 1.0])
    assert per_mode["majority_color_id (-1 = gray)"].tolist() == [2, 4, -1, 2]
    assert per_mode["n_top"].tolist() == [3, 3, 3, 3] and per_mode["dataset"].tolist() == ["digits"] * 3 + ["animals"]
    summary = colored_share_table(runs, cfg)
    k = min(P.modes_scored, 3)
    pooled = np.mean(is_colored[np.concatenate(modes[:k])])
    assert summary[f"colored share, top {P.top_samples} of top {k} modes (ours)"].iloc[0] == pytest.approx(pooled)
    assert summary["chance (test colored share)"].tolist() == [0.5, 0.5]
    assert summary["paper (Fig. 1, MNIST, DINOv2)"].iloc[0].startswith("top modes are colored digits")
    assert summary["paper (Fig. 1, MNIST, DINOv2)"].iloc[1] == "not in the paper (our extension)"
    m = colored_metrics(runs, summary, P, "smoke")
    assert m["digits_colored_share_top_modes"] == pytest.approx(pooled) and m["animals_colored_share_top_modes"] == 1.0
    assert m["digits_sigma"] == 1.5 and m["digits_positive_eigenvalues"] == 4
    assert colored_mode_title(runs[0], 1) == "mode 2: λ=0.3000, colored among top 3: 67%"


def _gaussian_sets(seed=0):
    """4 classes; the test half has all four, the reference lacks classes 2 and 3."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 6)) * 5
    test_y = np.repeat(np.arange(4), 30)
    ref_y = np.repeat(np.arange(2), 30)
    test = (centres[test_y] + rng.normal(size=(120, 6))).astype(np.float32)
    ref = (centres[ref_y] + rng.normal(size=(60, 6))).astype(np.float32)
    return NoveltySets(test, ref, None, test_y, ref_y, np.array([2, 3]), ("w", "x", "y", "z"), "toy")


def test_run_novelty_finds_the_missing_classes_and_the_swap_the_rest(cfg):
    S = _gaussian_sets()
    run = run_novelty(S, dict(eta=1.0, rff_dim=128, top_k=3, seed=0, top_samples=10))
    assert run.result.sigma == run.swap.sigma  # one sigma for both directions
    assert {run.stats[0]["majority"], run.stats[1]["majority"]} == {2, 3}
    assert set(run.swap_majority[:2]) == {"w", "x"}
    summary = novelty_table(run, cfg)
    assert summary["missing-class share, top samples of top modes (ours)"].iloc[0] == 1.0
    assert summary["chance"].iloc[0] == 0.5 and np.isnan(summary["chance"].iloc[1])
    assert summary["classes that are a top mode's majority"].iloc[0].startswith("missing 2/2: ")
    assert summary["lambda_1"].iloc[0] == pytest.approx(float(run.result.eigenvalues[0]))
    m = novelty_metrics(run, summary, "smoke")
    assert m["missing_class_share_top_modes"] == 1.0 and m["chance"] == 0.5 and m["sigma"] == run.result.sigma
    modes = novelty_modes_table(run, "smoke")
    assert len(modes) == run.result.k and modes["missing_share"].iloc[0] == 1.0
    assert "% from missing classes" in novelty_mode_title(run, 0)


def test_novelty_without_labels_has_no_ground_truth_columns(cfg):
    S = _gaussian_sets()
    S = NoveltySets(S.test_features, S.ref_features, None, None, None, np.zeros(0, np.int64), (), "folders")
    run = run_novelty(S, dict(eta=1.0, rff_dim=64, top_k=2, seed=0, top_samples=5))
    summary = novelty_table(run, cfg)
    assert "chance" not in summary and "missing_share" not in novelty_modes_table(run, "smoke")
    assert set(novelty_metrics(run, summary, "smoke")) == {"profile", "sigma", "forward_lambda1", "swap_lambda1"}


def test_run_colored_puts_the_coloured_cluster_on_top():
    rng = np.random.default_rng(1)
    gray, colour = rng.normal(size=6) * 4, rng.normal(size=6) * 4
    is_colored = np.r_[np.ones(30, bool), np.zeros(30, bool)]
    test = np.where(is_colored[:, None], colour, gray) + rng.normal(size=(60, 6))
    ref = gray + rng.normal(size=(60, 6))
    inputs = {"test_features": test.astype(np.float32), "ref_features": ref.astype(np.float32),
              "is_colored": is_colored, "color_ids": np.where(is_colored, 1, -1)}
    run = run_colored("toy", inputs, dict(eta=1.0, rff_dim=128, top_k=2, seed=0, top_samples=10))
    assert run.stats[0]["hit_share"] == 1.0 and run.stats[0]["majority"] == 1


def test_spectrum_frame_lists_each_direction():
    f = spectrum_frame({"a": _res([0.5, 0.2], [[0], [1]]), "b": _res([0.4], [[0]]), "none": _res([], [])})
    assert f["direction"].tolist() == ["a", "a", "b"] and f["mode"].tolist() == [1, 2, 1]
    assert f["eigenvalue"].tolist() == [0.5, 0.2, 0.4]
