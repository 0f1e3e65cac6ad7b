"""The paper profile's code path (image folders -> prepare -> features) on tiny synthetic folders.

Real paper data and weights are not available here, so the folders hold a few generated
PNGs and the extractor is the `pixels` control; everything else is the same code the paper
profile runs.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from beyondfid.config import config_from_dict
from beyondfid.data import CorruptImageError
from beyondfid.features import dataset_key, load_features
from beyondfid.prepare import prepare


def _folders(root, n=6, size=20):
    rng = np.random.default_rng(0)
    for name, mean in (("real", 60), ("fake", 190)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            img = np.clip(rng.normal(mean, 20, (size, size + 4, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / name / f"{i:03d}.png")


@pytest.fixture()
def paper_like(repo, tmp_path):
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    raw = copy.deepcopy(raw)
    p = raw["profiles"]["paper"]
    p["data"].update(root=str(tmp_path / "data" / "paper"), folders="real,fake", image_size=16)
    p["features"].update(extractor="pixels", resolution=8, batch_size=4, datasets="real,fake", device="cpu")
    p["finc_colored"]["datasets"] = "real"
    p["finc_novelty"].update(test="real", ref="fake")
    p["finc_scalability"]["real_dataset"] = "real"
    p["zoo"]["real"] = "real"
    _folders(tmp_path / "data" / "paper")
    return raw, tmp_path


def test_folders_prepare_and_extract(paper_like):
    from beyondfid.features import main as features_main

    raw, tmp = paper_like
    cfg = config_from_dict(raw, profile="paper", root=tmp)
    manifests = prepare(cfg)
    assert manifests["real"]["count"] == 6 and len(manifests["real"]["sha256_files"]) == 6
    assert manifests["fake"]["image_shape_chw"] == [3, 16, 16]
    (tmp / "params.yaml").write_text(yaml.safe_dump(raw))
    features_main(["--profile", "paper", "--params", str(tmp / "params.yaml"), "--root", str(tmp)])
    real = load_features(cfg.features_dir, dataset_key(cfg, "real"))["features"]
    fake = load_features(cfg.features_dir, dataset_key(cfg, "fake"))["features"]
    assert real.shape == (6, 3 * 8 * 8)
    assert real.mean() < 0.4 < 0.6 < fake.mean()  # the two folders' brightness survives
    index = json.loads((cfg.features_dir / "index.json").read_text())
    assert set(index) == {"real", "fake"}


def test_corrupt_file_in_paper_folder(paper_like):
    raw, tmp = paper_like
    (tmp / "data" / "paper" / "fake" / "003.png").write_bytes(b"broken")
    cfg = config_from_dict(raw, profile="paper", root=tmp)
    with pytest.raises(CorruptImageError, match="003.png"):
        prepare(cfg)
    raw["profiles"]["paper"]["data"]["skip_corrupt"] = True
    cfg = config_from_dict(raw, profile="paper", root=tmp)
    with pytest.warns(UserWarning, match="skipped 1"):
        manifests = prepare(cfg)
    assert manifests["fake"]["count"] == 5 and manifests["fake"]["skipped_unreadable"] == ["003.png"]


def test_missing_paper_folder_is_explained(paper_like):
    raw, tmp = paper_like
    raw["profiles"]["paper"]["data"]["folders"] = "real,fake,missing"
    cfg = config_from_dict(raw, profile="paper", root=tmp)
    with pytest.raises(Exception, match="missing.*does not exist"):
        prepare(cfg)
