"""Novelty inputs: disjoint halves, the reference lacks exactly the configured classes."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.data import DataError, load_imageset
from beyondfid.features import dataset_key, extract_features, feature_key
from beyondfid.finc.novelty import novelty_sets


def test_novelty_halves(smoke_cfg, effnet64):
    ds = load_imageset(smoke_cfg.datasets_dir, "animals")
    key = feature_key("animals", "all", "effnet_lite0", 64, len(ds))
    assert key == dataset_key(smoke_cfg, "animals")
    feats = extract_features(ds, effnet64, smoke_cfg.features_dir, key, progress=False)["features"]
    s = novelty_sets(smoke_cfg)
    missing = {ds.class_names.index(c) for c in smoke_cfg.params.finc_novelty.missing_names}
    assert set(s.missing.tolist()) == missing
    # test rows are the features of the test images, all classes present
    rows = [int(np.flatnonzero(ds.index == i)[0]) for i in s.test_images.index]
    assert np.array_equal(s.test_features, feats[rows])
    assert set(np.unique(s.test_labels)) == set(range(10))
    # reference rows: none of the test rows, none of the missing classes
    test_set = {r.tobytes() for r in s.test_features}
    assert not any(r.tobytes() in test_set for r in s.ref_features)
    ref_labels = [int(ds.labels[np.flatnonzero((feats == r).all(axis=1))[0]]) for r in s.ref_features]
    assert not missing & set(ref_labels)


def test_bad_missing_class_is_named(smoke_cfg, repo):
    """An unknown class fails when params.yaml is loaded, before any stage runs (issue 10)."""
    import yaml

    from beyondfid.config import ConfigError, config_from_dict

    raw = yaml.safe_load((repo / "params.yaml").read_text())
    raw["profiles"]["smoke"]["finc_novelty"]["ref_missing"] = "cat,unicorn"
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.finc_novelty\.ref_missing.*unicorn"):
        config_from_dict(raw, "smoke", smoke_cfg.root)
