"""The summaries the report's claim rules read (distclass.tables.*_claims, fidclasses.tables.top_n_claims),
on small hand-made tables whose answers are known."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from beyondfid.distclass.tables import augment_claims, binary_claims, family_claims, frequency_claims, probe_claims
from beyondfid.fidclasses.tables import top_n_claims


def test_binary_claims_fractions_and_trend():
    t1 = pd.DataFrame({"classes": ["a[1/2] vs a[2/2]"] * 2, "arch": ["resnet", "vit"], "acc_%": [50.0, 52.5]})
    t2 = pd.DataFrame({"model": ["gan", "vae"], "arch": ["resnet", "resnet"], "acc_%": [91.0, 80.0]})
    sw = pd.DataFrame({"n_train": [500, 50, 100], "acc_mean_%": [80.0, 60.0, 70.0]})
    c = binary_claims(t1, t2, sw)
    assert c["same_distribution"]["a[1/2] vs a[2/2]|vit"]["accuracy"] == pytest.approx(0.525)
    assert c["real_vs_generated"]["vae|resnet"]["accuracy"] == pytest.approx(0.80)
    assert c["sample_count"]["spearman"] == pytest.approx(1.0)        # monotone in n, whatever the row order
    assert c["sample_count"]["gain"] == pytest.approx(0.20)           # 80% at n=500 minus 60% at n=50
    sw_down = sw.assign(**{"acc_mean_%": [60.0, 80.0, 70.0]})
    assert binary_claims(t1, t2, sw_down)["sample_count"]["spearman"] == pytest.approx(-1.0)


def test_family_and_probe_claims_are_means_per_group():
    t6 = pd.DataFrame({"kind": ["same family", "same family", "different families"], "acc_%": [60.0, 70.0, 95.0]})
    assert family_claims(t6) == {"same_family": {"mean_accuracy": pytest.approx(0.65)},
                                 "cross_family": {"mean_accuracy": pytest.approx(0.95)}}
    t4 = pd.DataFrame({"encoder": ["ssl_masked", "ssl_masked", "ssl_contrastive"], "acc_%": [90.0, 70.0, 65.0]})
    assert probe_claims(t4) == {"min_accuracy": pytest.approx(0.65), "ssl_masked_mean_accuracy": pytest.approx(0.80),
                                "ssl_contrastive_mean_accuracy": pytest.approx(0.65)}


def _row(kind, low, high, acc, shape="square"):
    return {"setting": SimpleNamespace(kind=kind, low=low, high=high, shape=shape),
            "record": SimpleNamespace(accuracy=acc)}


def test_frequency_claims_leave_out_the_near_chance_pair_and_circles():
    rows = [_row("low", 0, 2, 0.55), _row("low", 0, 8, 0.9), _row("band", 0, 2, 0.58), _row("band", 2, 8, 0.88),
            _row("high", 2, 0, 0.97), _row("low", 0, 2, 0.40, shape="circle")]
    c = frequency_claims(rows)
    assert c == {"lowest_band_accuracy": 0.55, "other_bands_min_accuracy": 0.88, "lowest_threshold": 2}


def test_augment_claims_against_alpha_zero():
    s = pd.DataFrame({"mode": ["replace", "replace", "replace", "augment", "augment", "augment"],
                      "alpha": [0.0, 0.5, 1.0, 0.0, 0.5, 1.0], "mean": [0.8, 0.75, 0.6, 0.8, 0.82, 0.84]})
    c = augment_claims(s)
    assert c["replace_change_at_full"] == pytest.approx(-0.2)
    assert c["augment_mean_change"] == pytest.approx(0.03)


def test_top_n_claims_at_the_largest_n():
    fig6 = pd.DataFrame({"mode": ["top", "top", "middle", "middle"], "N": [1, 10, 1, 10],
                         "FID": [90.0, 60.0, 98.0, 95.0], "FD_ssl": [1.0, 0.98, 1.0, 1.0]})
    c = top_n_claims(fig6, base_fid=100.0, base_fd=1.0, space="ssl")
    assert c["fid_change_largest_n"] == pytest.approx(-0.4)
    assert c["middle_fid_change_largest_n"] == pytest.approx(-0.05)
    assert c["fd_ssl_change_largest_n"] == pytest.approx(-0.02)
