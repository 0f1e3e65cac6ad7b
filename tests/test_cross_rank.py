"""Q3 of issue 15 (beyondfid.crosspaper.ranking): Kendall's tau against brute force and known rankings,
the orientation of the judges, the outlier of planted judges, and every judge on a planted zoo whose
models are known to get worse in order."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from beyondfid.crosspaper.ranking import (JudgeInputs, agreement, finc_bandwidth, half_samples, judge_values, kendall_tau,
                                          outlier, rank_table, tau_frames, tau_matrix, tau_table, to_badness)


def _brute_tau(x, y):
    pairs = list(itertools.combinations(range(len(x)), 2))
    s = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in pairs)
    return s / len(pairs)


def test_kendall_tau_of_known_rankings():
    x = np.arange(7.0)
    assert kendall_tau(x, x)[0] == pytest.approx(1.0)
    assert kendall_tau(x, -x)[0] == pytest.approx(-1.0)
    y = x.copy()
    y[[2, 3]] = y[[3, 2]]  # one adjacent swap: one discordant pair of 21
    assert kendall_tau(x, y)[0] == pytest.approx(1 - 4 / (7 * 6))
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.normal(size=6), rng.normal(size=6)
        assert kendall_tau(a, b)[0] == pytest.approx(_brute_tau(a, b))
    assert kendall_tau(x, x)[1] == pytest.approx(2 / 5040)  # exact: 2 of 7! orderings are as extreme
    assert np.isnan(kendall_tau(x, np.ones(7))[0])  # a judge that ties everything ranks nothing


def test_precision_and_recall_are_turned_into_badness():
    v = pd.DataFrame({"FID": [10.0, 20.0, 30.0], "precision": [0.9, 0.5, 0.1], "recall": [0.8, 0.6, 0.2]},
                     index=["good", "mid", "bad"])
    assert (tau_matrix(to_badness(v)).to_numpy() == 1).all()
    assert rank_table(v).loc["good"].tolist() == [1.0, 1.0, 1.0]


def test_the_reversed_judge_is_the_outlier():
    rng = np.random.default_rng(0)
    truth = np.arange(8.0)
    v = pd.DataFrame({"a": truth, "b": truth + rng.normal(scale=0.3, size=8), "c": truth ** 2, "odd": -truth},
                     index=[f"m{i}" for i in range(8)])
    reps = [v + rng.normal(scale=0.05, size=v.shape) for _ in range(30)]
    taus = tau_table(v, reps)
    ab = taus[(taus.judge_a == "a") & (taus.judge_b == "c")].iloc[0]
    assert ab.tau == pytest.approx(1.0) and ab.ci_low > 0.8 and ab.p_models < 1e-3
    agree = agreement(taus)
    assert outlier(agree)["judge"] == "odd"
    assert agree.set_index("judge").loc["odd", "disagrees_with"] == 3
    tau, text = tau_frames(taus)
    assert tau.loc["odd", "a"] == tau.loc["a", "odd"] == pytest.approx(-1.0) and text.loc["a", "a"] == ""


def _planted_inputs():
    """Models whose samples are the real Gaussian shifted by growing amounts (worse in order) in every space,
    and classifier counts that grow in the same order."""
    rng = np.random.default_rng(1)
    d = {"effnet": 10, "ssl_contrastive": 6, "ssl_masked": 4}
    real = {s: rng.normal(size=(300, k)) for s, k in d.items()}
    shifts = {"m0": 0.0, "m1": 0.5, "m2": 1.0, "m3": 2.0}
    models = {m: {s: rng.normal(size=(300, k)) + sh for s, k in d.items()} for m, sh in shifts.items()}
    counts = {(m, a): (int(300 * (0.5 + 0.12 * i)), 300) for i, m in enumerate(shifts) for a in ("r", "v")}
    sigma = finc_bandwidth(real["effnet"], {m: v["effnet"] for m, v in models.items()}, seed=0)
    return JudgeInputs(real, models, counts, ("r", "v"), {"rff_dim": 32, "eta": 1.0, "top_k": 3, "seed": 0,
                                                          "top_samples": 5}, sigma, pr_k=3)


def test_every_judge_ranks_a_planted_zoo_in_its_order():
    inp = _planted_inputs()
    v = judge_values(inp)
    assert list(v.columns) == ["FID", "FD_ssl_contrastive", "FD_ssl_masked", "accuracy_r", "accuracy_v",
                               "FINC_novelty", "precision", "recall"]
    ranks = rank_table(v)
    for judge in ["FID", "FD_ssl_contrastive", "FD_ssl_masked", "accuracy_r", "recall"]:
        assert ranks[judge].tolist() == [1.0, 2.0, 3.0, 4.0], judge
    reps = half_samples(inp, 4, 0.5, seed=0)
    assert len(reps) == 4 and all(r.shape == v.shape for r in reps)
    assert not any(r.equals(v) for r in reps)  # each replicate saw other images
    acc = np.array([r.loc["m3", "accuracy_r"] for r in reps])
    assert np.all(np.abs(acc - 0.86) < 0.2) and len(set(acc)) > 1  # hypergeometric half of 300 around 258/300
    taus = tau_table(v, reps)
    fid_fd = taus[(taus.judge_a == "FID") & (taus.judge_b == "FD_ssl_contrastive")].iloc[0]
    assert fid_fd.tau == pytest.approx(1.0) and fid_fd.ci_low == pytest.approx(1.0)
    with pytest.raises(ValueError, match="fraction"):
        half_samples(inp, 2, 0.0, seed=0)


@pytest.mark.parametrize("section, key, value, message", [
    ("cross_rank", "models", "ddpm_l,ddpm_cond", "cross_rank.models, profiles.mini.distclass.binary.models"),
    ("cross_rank", "archs", "resnet,effnet", "cross_rank.archs"),
    ("cross_explain", "arch", "vit2", "cross_explain.arch"),
    ("cross_explain", "models", "nosuch", "unknown zoo model"),
    ("cross_attack", "archs", "nosuch", "cross_attack.archs"),
    ("cross_attack", "seeds", "a,b", "cross_attack.seeds"),
    ("cross_attack", "real", "real_test", "cross_attack.real"),
])
def test_cross_sections_are_validated_at_load(repo, section, key, value, message):
    import yaml

    from beyondfid.config import ConfigError, config_from_dict

    raw = yaml.safe_load((repo / "params.yaml").read_text())
    raw["profiles"]["mini"][section][key] = value
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config_from_dict(raw, profile="mini")
