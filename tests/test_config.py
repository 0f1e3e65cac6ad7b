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


# --------------------------------------------------------------------------------------
# Messages a user reads (issue 10)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["beyondfid.prepare", "beyondfid.features", "beyondfid.finc.colored"])
def test_cli_config_error_is_one_line_and_exits_2(raw, tmp_path, module):
    import subprocess
    import sys

    bad = copy.deepcopy(raw)
    bad["profiles"]["smoke"]["features"]["resolution"] = "128"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    src = Path(__file__).resolve().parents[1] / "src"
    p = subprocess.run([sys.executable, "-m", module, "--profile", "smoke", "--params", str(tmp_path / "params.yaml"),
                        "--root", str(tmp_path)], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(src)})
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert "profiles.smoke.features.resolution" in lines[0]


def test_cross_field_error_names_the_fields_not_the_whole_profile(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["features"]["datasets"] = "animals,cifar10"
    msg = _err(bad)
    assert "profiles.mini.features.datasets" in msg and "cifar10" in msg
    assert len(msg) < 400 and "finc_scalability" not in msg and "{" not in msg, msg
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["zoo"]["models"]["dit"]["heads"] = 3
    msg = _err(bad)
    assert "profiles.mini.zoo.models.dit.width" in msg and "profiles.mini.zoo.models.dit.heads" in msg
    assert len(msg) < 400 and "{" not in msg, msg


def test_unknown_extractor_names_the_key(raw):
    for name in ("effnet_lite9", "ssl_contrastive"):  # the zoo's SSL encoders are not feature-stage extractors
        bad = copy.deepcopy(raw)
        bad["profiles"]["mini"]["features"]["extractor"] = name
        msg = _err(bad)
        assert "profiles.mini.features.extractor" in msg and name in msg and "effnet_lite0" in msg, msg


def test_core_config_validation_does_not_import_the_zoo(repo):
    import subprocess
    import sys

    code = ("import sys; from beyondfid.config import load_config; "
            f"load_config('mini', {str(repo / 'params.yaml')!r}); "
            "print(sorted(m for m in sys.modules if m.startswith(('beyondfid.zoo', 'beyondfid.finc'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(repo / "src")}).stdout
    assert out.strip() == "[]"


def test_unknown_ref_missing_class_fails_at_load(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["finc_novelty"]["ref_missing"] = "cat,unicorn"
    msg = _err(bad)
    assert "profiles.mini.finc_novelty.ref_missing" in msg and "unicorn" in msg and "zebra" in msg, msg
    bad["profiles"]["mini"]["finc_novelty"]["ref_missing"] = ",".join(
        ["bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra"])
    assert "profiles.mini.finc_novelty.ref_missing" in _err(bad)  # nothing left in the reference


def test_a_typo_in_another_profile_fails_at_load(raw):
    bad = copy.deepcopy(raw)
    bad["profiles"]["paper"]["features"]["resolutoin"] = 299
    msg = _err(bad, profile="smoke")
    assert "profiles.paper.features.resolutoin" in msg and "unknown key" in msg


def test_paths_named_in_params_yaml_exist(repo):
    import re

    text = (repo / "params.yaml").read_text()
    named = set(re.findall(r"\b((?:tests|benchmarks|src|notebooks)/[\w/.-]+\.py)\b", text))
    assert named, "params.yaml names no test or script"
    missing = sorted(p for p in named if not (repo / p).is_file())
    assert not missing, f"params.yaml names files that do not exist: {missing}"


def test_readme_cites_papers_by_title_and_arxiv_id(repo):
    text = (repo / "README.md").read_text()
    assert "shared/papers" not in text  # a fresh clone has no ../shared/
    for arxiv in ("2405.02700", "2203.06026", "2405.18029"):
        assert f"arXiv {arxiv}" in text or f"arXiv:{arxiv}" in text, arxiv


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


@pytest.mark.parametrize("profile", ["smoke", "mini", "paper"])
def test_the_human_study_model_must_have_real_vs_generated_runs(raw, profile):
    """The study's task 1 is scored by Table 2's real-vs-``human.generated`` classifiers, so a model missing
    from distclass.binary.models is a load-time error naming both keys (it once failed only in dc_human)."""
    bad = copy.deepcopy(raw)
    dc = bad["profiles"][profile]["distclass"]
    models = [m for m in dc["binary"]["models"].split(",") if m != dc["human"]["generated"]]
    dc["binary"]["models"] = ",".join(models)
    msg = _err(bad, profile)
    assert "distclass.human.generated" in msg and "distclass.binary.models" in msg
