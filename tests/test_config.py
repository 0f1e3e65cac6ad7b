"""params.yaml is validated at load: bad keys/types/values fail early and name the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from beyondfid.config import PROFILES, ConfigError, config_from_dict, load_config


@pytest.fixture()
def raw(repo):
    return yaml.safe_load((repo / "params.yaml").read_text())


def test_every_profile_in_params_yaml_is_valid(repo):
    for p in PROFILES:
        cfg = load_config(p, repo / "params.yaml")
        assert cfg.profile == p
        assert cfg.artifacts.parts[-2:] == ("artifacts", p)


def test_default_profile_is_mini(repo):
    assert load_config(None, repo / "params.yaml").profile == "mini"


def _err(raw, profile="mini") -> str:
    with pytest.raises(ConfigError) as ei:
        config_from_dict(raw, profile=profile)
    return str(ei.value)


def test_unknown_key_is_named(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["features"]["resolutoin"] = 128
    msg = _err(bad)
    assert "profiles.mini.features.resolutoin" in msg and "unknown key" in msg


def test_wrong_type_is_named(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["features"]["resolution"] = "128"
    assert "profiles.mini.features.resolution" in _err(bad)


def test_bool_is_not_an_int(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["features"]["batch_size"] = True
    assert "profiles.mini.features.batch_size" in _err(bad)


def test_impossible_value_is_named(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["data"]["val_fraction"] = 1.5
    assert "profiles.mini.data.val_fraction" in _err(bad)
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["features"]["resolution"] = 0
    assert "profiles.mini.features.resolution" in _err(bad)


def test_unknown_profile_and_missing_section(raw):
    assert "not one of" in _err(raw, profile="huge")
    bad = copy.deepcopy(raw)
    del bad["profiles"]["paper"]
    assert "profiles.paper" in _err(bad, profile="paper")


def test_missing_required_key(raw):
    bad = copy.deepcopy(raw)
    del bad["profiles"]["mini"]["data"]["source"]
    msg = _err(bad)
    assert "profiles.mini.data.source" in msg and "missing" in msg


def test_dataset_not_provided_by_source(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["features"]["datasets"] = "animals,cifar10"
    assert "cifar10" in _err(bad)


def test_unknown_top_level_key(raw):
    bad = copy.deepcopy(raw)
    bad["profle"] = "mini"
    assert "profle" in _err(bad)


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config("mini", tmp_path / "nope.yaml")


def test_params_found_from_a_subfolder(repo, tmp_path, monkeypatch):
    """A notebook opened in JupyterLab runs in notebooks/: params.yaml and root resolve to the repo."""
    import shutil

    from beyondfid.config import load_config

    shutil.copy(repo / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    cfg = load_config("smoke", "params.yaml", ".")
    assert cfg.root.resolve() == tmp_path.resolve()
    monkeypatch.chdir(tmp_path)
    assert load_config("smoke", "params.yaml", ".").root == Path(".")


def test_paper2_settings_are_validated(raw):
    """Paper 2's sections: typos, bad lists and impossible sizes are named before any work."""
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["fid_heatmaps"]["noise_scales"] = "0.05,-1"
    assert "profiles.mini.fid_heatmaps.noise_scales" in _err(bad)
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["fid_resampling"]["method"] = "sgd"
    assert "profiles.mini.fid_resampling.method" in _err(bad)
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["fid_heatmaps"]["noise_images"] = 10_000
    assert "noise_images" in _err(bad) and "eval_size" in _err(bad)
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["fid_features"]["classifier_seeds"] = "1,x"
    assert "profiles.mini.fid_features.classifier_seeds" in _err(bad)
    cfg = config_from_dict(raw, profile="mini")
    assert cfg.params.fidclasses.second_opinion_names == ("ssl_contrastive", "ssl_masked")
    assert cfg.params.fid_resampling.top_n_list == (1, 3, 10, 30, 100)
