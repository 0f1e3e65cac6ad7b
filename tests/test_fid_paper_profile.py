"""Paper 2's stages on the paper profile's code path: image folders, the FID Inception-V3 (pool3, 8 x 8
Mixed_7c maps, 1008 -> 1000 logits), CLIP ViT-B/32 as the second opinion and torchvision's Inception-V3
as the sibling -- all with random weights (the real files cannot be used here), on tiny synthetic folders.
Every fid_* notebook runs end to end through papermill.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

pytestmark = pytest.mark.slow
pytest.importorskip("pytorch_fid")
pytest.importorskip("open_clip")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("fid_schematic", "fid_heatmaps", "fid_sensitivity", "fid_resampling", "fid_projected")


def _folder(root: Path, name: str, n: int, rng: np.random.Generator, mean: int) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.clip(rng.normal(mean, 40, (16, 16, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / name / f"{i:04d}.png")


def _random_weights(wdir: Path) -> dict[str, Path]:
    import open_clip
    import torchvision

    from beyondfid.extractors.paper import build_fid_inception

    wdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    paths = {"inception": wdir / "pt_inception.pth", "clip": wdir / "clip.pt", "sibling": wdir / "tv_inception.pth"}
    torch.save(build_fid_inception().state_dict(), paths["inception"])
    torch.save(open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True).state_dict(), paths["clip"])
    tv = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True, transform_input=True)
    torch.save(tv.state_dict(), paths["sibling"])
    return paths


@pytest.fixture(scope="module")
def paper_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fid_paper")
    data = tmp / "data" / "paper"
    rng = np.random.default_rng(0)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    p = raw["profiles"]["paper"]
    _folder(data, "ffhq_real", 20, rng, 90)
    for name in ("mnist", "afhq", "imagenet_dogs"):
        _folder(data, name, 4, rng, 128)
    for m in p["zoo"]["models"].values():
        _folder(data, m["folder"], 6, rng, 120 if m["folder"] != "ffhq_projected_fastgan" else 150)
        if m.get("candidates_folder"):
            _folder(data, m["candidates_folder"], 12, rng, 110)
        m["n_samples"] = 6
    w = _random_weights(tmp / "weights")
    p["data"].update(root=str(data), image_size=16)
    p["features"].update(batch_size=16, datasets="ffhq_real,afhq,imagenet_dogs", device="cpu")
    p["weights"].update(inception=str(w["inception"]), clip=str(w["clip"]))
    p["fidclasses"]["eval_size"] = 6
    p["fid_features"].update(sibling_weights=str(w["sibling"]), sibling_real=6, sibling_generated=6, compare_n=6)
    p["fid_heatmaps"].update(n_show=2, classes_shown=2, noise_images=3, noise_scales="0.1", timing_images=2)
    p["fid_sensitivity"].update(sample_counts="3,4", all_generated=4, seeds=2, instance_n=3)
    p["fid_resampling"].update(max_iter=4, draws=2, checkpoints=2, top1_evals=2, kid_evals=2, kid_subsets=2, top_n_max_iter=3,
                               kid_subset_size=4, top_n="1,2", top_n_draws=1, grid_n=4)
    p["fid_projected"]["grid_n"] = 4
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    common = ["--params", str(params), "--profile", "paper", "--root", str(tmp)]

    from beyondfid import features
    from beyondfid.config import MODELS, load_config
    from beyondfid.fidclasses import extract
    from beyondfid.prepare import prepare
    from beyondfid.zoo import eval as zoo_eval
    from beyondfid.zoo import registry as zoo

    cfg = load_config("paper", params, tmp)
    prepare(cfg)
    features.main(common)
    assert zoo.main(["splits", *common, "--no-progress"]) == 0
    for name in MODELS:
        assert zoo.main(["train", *common, "--no-progress", "--model", name]) == 0
    for e in ("ssl_contrastive", "ssl_masked", "classifier"):
        assert zoo.main(["encoder", *common, "--no-progress", "--name", e]) == 0
    assert zoo_eval.main([*common, "--no-progress"]) == 0
    assert extract.main([*common, "--no-progress"]) == 0
    return cfg, tmp, params


def test_fid_features_adds_clip_and_the_sibling(paper_world):
    from beyondfid.fidclasses.sets import World, features_dir

    cfg, _, _ = paper_world
    index = json.loads((features_dir(cfg) / "index.json").read_text())["files"]
    assert "gan_candidates__clip_vit_b32" in index and "real_train__inception_torchvision" in index
    world = World(cfg)
    pool = world.load("gan_candidates")
    assert pool.features.shape == (12, 2048) and pool.logits.shape == (12, 1000)
    assert pool.second["clip_vit_b32"].shape == (12, 512)
    # the logits are the FID Inception's own: 1008 TF logits mapped to the 1000 classes
    from beyondfid.extractors.paper import inception_imagenet_logits

    imgs = world.images("gan_candidates", n=3)
    direct = inception_imagenet_logits(world.extractor.extract(imgs)["logits"].numpy())
    np.testing.assert_allclose(pool.logits[:3], direct, rtol=1e-4, atol=1e-3)


def test_every_fid_notebook_runs_on_the_paper_profile(paper_world):
    cfg, tmp, params = paper_world
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    for nb in NOTEBOOKS:
        outdir = tmp / "results" / "paper" / nb
        outdir.mkdir(parents=True, exist_ok=True)
        cmd = (f"jupytext --to ipynb -o - {REPO / 'notebooks' / (nb + '.py')} | papermill -k python3 --no-progress-bar "
               f"- {outdir / (nb + '.ipynb')} -p profile paper -p root {tmp} -p params_path {params}")
        r = subprocess.run(cmd, shell=True, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{nb} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        metrics = json.loads((tmp / "results" / "paper" / "metrics" / f"{nb}.json").read_text())
        assert metrics["profile"] == "paper", nb
    heat = json.loads((tmp / "results" / "paper" / "metrics" / "fid_heatmaps.json").read_text())
    assert heat["map_grid"] == [8, 8] and "subject" not in heat  # Inception's Mixed_7c; no masks for folders
    proj = json.loads((tmp / "results" / "paper" / "metrics" / "fid_projected.json").read_text())
    assert proj["compared_with"] == "gan"  # no snapshots on the paper profile: the final model
