"""Tests for the model zoo: splits, nearest neighbours, config, end-to-end smoke training."""

from __future__ import annotations


import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from beyondfid.zoo import diffusion, generators, registry as zoo
from beyondfid.data import DataError, ImageSet, load_imageset
from beyondfid.zoo.training import TrainingDivergedError, load_checkpoint
from beyondfid.config import GeneratorConfig, ZooConfig
from beyondfid.zoo import ZooError


pytestmark = pytest.mark.usefixtures("one_thread")


def _animals_like(n_per_class: int = 40, n_classes: int = 4, seed: int = 0) -> ImageSet:
    """Synthetic labelled 28x28 images: a class-specific bright square on black, plus noise."""
    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    for c in range(n_classes):
        for _ in range(n_per_class):
            im = rng.integers(0, 30, size=(28, 28))
            im[4 + 4 * c : 12 + 4 * c, 6:20] = 220
            imgs.append(im)
            labels.append(c)
    return ImageSet("toy", np.asarray(imgs, np.uint8)[:, None], np.asarray(labels), tuple("abcd"[:n_classes]))


SMOKE = {
    "ddpm_s": dict(family="unet_ddpm", width=8, depth=2, sample_steps=3, ema=0.9),
    "ddpm_l": dict(family="unet_ddpm", width=16, depth=2, sample_steps=3, ema=0.9),
    "dit": dict(family="dit", width=16, depth=1, heads=2, sample_steps=3, ema=0.9),
    "uvit": dict(family="uvit", width=16, depth=3, heads=2, patch=4, sample_steps=3, ema=0.9),
    "gan": dict(family="dcgan", width=8, z_dim=8, n_snapshots=2, snapshot_samples=4, candidate_factor=5,
                bn_samples=16),
    "projected_gan": dict(family="projected_gan", width=8, z_dim=8, feature_resolution=32, proj_channels=4,
                          diffaug=True, ema=0.9, bn_samples=16),
    "memorizer": dict(family="unet_ddpm", width=8, depth=2, sample_steps=3, train_subset=20),
    "vae": dict(family="vae", width=8, z_dim=4),
    "ddpm_cond": dict(family="unet_ddpm", width=8, depth=2, sample_steps=3, ema=0.9, class_cond=True, n_classes=4,
                      guidance=2.0, n_labelled=12),
}


def _cfg(name: str, **over: object) -> GeneratorConfig:
    kw: dict = dict(steps=4, batch_size=8, n_samples=6, seed=3)
    kw.update(SMOKE[name])
    kw.update(over)
    return GeneratorConfig(**kw)


# ---------------------------------------------------------------- splits


def test_animal_splits_are_disjoint_stratified_and_seeded() -> None:
    ds = _animals_like()
    sp = zoo.animal_splits(ds, seed=5, heldout_fraction=0.25)
    assert set(sp) == set(zoo.SPLITS) and all(sp[k].name == k for k in sp)
    tr, he, a, b = (set(sp[k].index.tolist()) for k in zoo.SPLITS)
    assert tr.isdisjoint(he) and tr | he == set(range(len(ds)))
    assert a.isdisjoint(b) and a | b == he
    for c in range(4):  # stratified: each class keeps its share in every split
        assert np.sum(sp["real_heldout"].labels == c) == 10
        assert np.sum(sp["real_half_a"].labels == c) == 5 and np.sum(sp["real_half_b"].labels == c) == 5
    np.testing.assert_array_equal(sp["real_train"].images, ds.images[sp["real_train"].index])
    again = zoo.animal_splits(ds, seed=5, heldout_fraction=0.25)
    assert all(np.array_equal(sp[k].index, again[k].index) for k in sp)
    other = zoo.animal_splits(ds, seed=6, heldout_fraction=0.25)
    assert not np.array_equal(sp["real_heldout"].index, other["real_heldout"].index)
    with pytest.raises(DataError, match="too few"):
        zoo.animal_splits(_animals_like(n_per_class=2), seed=0, heldout_fraction=0.5)


# ---------------------------------------------------------------- nearest neighbours


def test_nearest_neighbor_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, size=(50, 1, 5, 5), dtype=np.uint8)
    samples = rng.integers(0, 256, size=(13, 1, 5, 5), dtype=np.uint8)
    samples[3] = ref[17]  # an exact copy
    d, i = zoo.nearest_neighbor_l2(samples, ref, k=3, batch=4)
    brute = np.sqrt((((samples[:, None].astype(float) - ref[None].astype(float)) / 255) ** 2).sum((2, 3, 4)))
    order = np.argsort(brute, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_allclose(d, np.take_along_axis(brute, order, 1), atol=1e-6)
    assert d[3, 0] == pytest.approx(0.0, abs=1e-6) and i[3, 0] == 17
    with pytest.raises(ZooError, match="image shape"):
        zoo.nearest_neighbor_l2(samples, ref[:, :, :4])
    with pytest.raises(ZooError, match="k=51"):
        zoo.nearest_neighbor_l2(samples, ref, k=51)


# ---------------------------------------------------------------- config


def test_config_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="extra"):
        GeneratorConfig(family="vae", steps=1, n_samples=1, widht=3)
    with pytest.raises(ValueError, match="greater than or equal"):
        GeneratorConfig(family="vae", steps=0, n_samples=1)
    with pytest.raises(ValueError, match="snapshot_samples"):
        GeneratorConfig(family="dcgan", steps=5, n_samples=1, n_snapshots=2)
    with pytest.raises(ValueError, match="multiple of 2\\*heads"):
        GeneratorConfig(family="dit", steps=5, n_samples=1, width=20, heads=4)
    with pytest.raises(ValueError, match="unknown zoo model"):
        ZooConfig(models={"stylegan": _cfg("gan")}, ssl_contrastive=None, ssl_masked=None, classifier=None)
    with pytest.raises(ValueError, match="family must be 'dcgan'"):
        ZooConfig(models={"gan": _cfg("vae")}, ssl_contrastive=None, ssl_masked=None, classifier=None)
    assert zoo.snapshot_steps(_cfg("gan", steps=10, n_snapshots=3)) == [3, 7, 10]


# ---------------------------------------------------------------- training end to end


@pytest.fixture(scope="module")
def toy_train() -> ImageSet:
    return zoo.animal_splits(_animals_like(), seed=0, heldout_fraction=0.25)["real_train"]


@pytest.mark.parametrize("name", zoo.MODELS)
def test_every_zoo_model_trains_and_samples_at_smoke_scale(name: str, toy_train: ImageSet, tmp_path: Path) -> None:
    cfg = _cfg(name)
    s = zoo.train_model(name, cfg, toy_train, tmp_path, ckpt_every=2, progress=False)
    imgs = zoo.load_samples(tmp_path)
    assert imgs.shape == (6, 1, 28, 28) and imgs.dtype == np.uint8
    assert s["steps_done"] == 4 and len(s["history"]) == 4 and s["finished"]
    log = yaml.safe_load((tmp_path / "log.json").read_text())
    assert log["model"] == name and log["train_images"] == (cfg.train_subset or len(toy_train))
    state = torch.load(tmp_path / "ckpt.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 4
    # reloading the checkpoint and sampling again reproduces samples.npz exactly
    modules = zoo.load_trained(cfg, tmp_path / "ckpt.pt")
    np.testing.assert_array_equal(zoo.sample(cfg, modules, 6, cfg.seed + 1, batch=4), imgs)


def test_gan_writes_snapshots_and_candidate_pool(toy_train: ImageSet, tmp_path: Path) -> None:
    cfg = _cfg("gan")
    zoo.train_model("gan", cfg, toy_train, tmp_path, progress=False)
    pool = zoo.load_samples(tmp_path, "candidates")
    assert pool.shape == (5 * 6, 1, 28, 28)
    snaps = sorted((tmp_path / "snapshots").glob("step_*.npz"))
    assert [p.name for p in snaps] == ["step_0000002.npz", "step_0000004.npz"]
    first, last = (np.load(p)["images"] for p in snaps)
    assert first.shape == (4, 1, 28, 28) and not np.array_equal(first, last)
    # the candidate pool uses other latents than samples.npz
    samples = zoo.load_samples(tmp_path)
    assert not any(np.array_equal(samples[0], c) for c in pool)


@pytest.mark.parametrize("name", ["ddpm_s", "gan", "projected_gan", "ddpm_cond"])
def test_same_seed_same_bits_and_resume_after_stop(name: str, toy_train: ImageSet, tmp_path: Path) -> None:
    cfg = _cfg(name, steps=6)
    zoo.train_model(name, cfg, toy_train, tmp_path / "a", ckpt_every=2, progress=False)
    zoo.train_model(name, cfg, toy_train, tmp_path / "b", ckpt_every=2, progress=False)
    # a run stopped after 3 steps (checkpoint at the stop), then resumed in a second call
    part = zoo.train_model(name, cfg, toy_train, tmp_path / "c", ckpt_every=2, progress=False, max_steps_this_call=3)
    assert part["steps_done"] == 3 and not (tmp_path / "c" / "samples.npz").exists()
    zoo.train_model(name, cfg, toy_train, tmp_path / "c", ckpt_every=2, progress=False)
    ref = load_checkpoint(tmp_path / "a" / "ckpt.pt")["modules"]
    for run in ("b", "c"):
        other = load_checkpoint(tmp_path / run / "ckpt.pt")["modules"]
        for mod in ref:
            assert all(torch.equal(ref[mod][k], other[mod][k]) for k in ref[mod]), (run, mod)
        np.testing.assert_array_equal(zoo.load_samples(tmp_path / "a"), zoo.load_samples(tmp_path / run))
    if name == "gan":
        for p in (tmp_path / "a" / "snapshots").glob("*.npz"):
            np.testing.assert_array_equal(np.load(p)["images"], np.load(tmp_path / "c" / "snapshots" / p.name)["images"])
    # a changed config never resumes the old checkpoint: it is discarded with a warning and retrained
    with pytest.warns(UserWarning, match="stale checkpoint"):
        zoo.train_model(name, _cfg(name, steps=6, lr=1.0e-3), toy_train, tmp_path / "c", ckpt_every=2, progress=False)
    assert not np.array_equal(zoo.load_samples(tmp_path / "a"), zoo.load_samples(tmp_path / "c"))
    if name == "ddpm_s":
        # more steps continue the finished 6-step checkpoint and equal a fresh 8-step run, bit for bit;
        # a sampling-only change (n_samples) re-samples without retraining
        zoo.train_model(name, _cfg(name, steps=8), toy_train, tmp_path / "a", ckpt_every=2, progress=False)
        zoo.train_model(name, _cfg(name, steps=8), toy_train, tmp_path / "e", ckpt_every=2, progress=False)
        assert load_checkpoint(tmp_path / "a" / "ckpt.pt")["step"] == 8
        np.testing.assert_array_equal(zoo.load_samples(tmp_path / "a"), zoo.load_samples(tmp_path / "e"))
        s = zoo.train_model(name, _cfg(name, steps=8, n_samples=3), toy_train, tmp_path / "e", progress=False)
        assert s["history"][-1]["step"] == 7 and zoo.load_samples(tmp_path / "e").shape[0] == 3
    different = _cfg(name, steps=6, seed=4)
    zoo.train_model(name, different, toy_train, tmp_path / "d", ckpt_every=2, progress=False)
    assert not np.array_equal(zoo.load_samples(tmp_path / "a"), zoo.load_samples(tmp_path / "d"))


def test_divergence_is_reported_not_saved(toy_train: ImageSet, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real_loss = diffusion.eps_loss

    def nan_after_two(model, x0, alpha_bar, gen):  # type: ignore[no-untyped-def]
        nan_after_two.calls += 1
        loss = real_loss(model, x0, alpha_bar, gen)
        return loss * float("nan") if nan_after_two.calls > 2 else loss

    nan_after_two.calls = 0
    monkeypatch.setattr(zoo.diffusion, "eps_loss", nan_after_two)
    with pytest.raises(TrainingDivergedError, match="ddpm_s diverged: loss 'loss' = nan at step 2"):
        zoo.train_model("ddpm_s", _cfg("ddpm_s", steps=6), toy_train, tmp_path, ckpt_every=2, progress=False)
    assert not (tmp_path / "samples.npz").exists()
    assert load_checkpoint(tmp_path / "ckpt.pt")["step"] == 2  # the last finite state, nothing after


def test_train_model_rejects_bad_requests(toy_train: ImageSet, tmp_path: Path) -> None:
    with pytest.raises(ZooError, match="unknown zoo model"):
        zoo.train_model("biggan", _cfg("gan"), toy_train, tmp_path)
    with pytest.raises(ZooError, match="family"):
        zoo.train_model("gan", _cfg("vae"), toy_train, tmp_path)
    with pytest.raises(ZooError, match="exceeds"):
        zoo.train_model("memorizer", _cfg("memorizer", train_subset=10_000), toy_train, tmp_path)


def test_memorization_is_visible_in_nearest_neighbour_distances() -> None:
    """The memorisation end point: the exact eps-minimiser on a small training subset generates copies
    (nearest-neighbour distance ~0), while fresh images of the same distribution are far from it."""
    ds = _animals_like(n_per_class=10)
    sp = zoo.animal_splits(ds, seed=0, heldout_fraction=0.5)
    train = generators.to_model_space(sp["real_train"].images)
    ab = diffusion.cosine_alpha_bar(1000)
    oracle = diffusion.empirical_eps_oracle(train, ab)
    noise = torch.randn(10, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    copies = generators.to_uint8(diffusion.ddim_sample(oracle, noise, ab, 30))
    d_copy, _ = zoo.nearest_neighbor_l2(copies, sp["real_train"].images)
    d_fresh, _ = zoo.nearest_neighbor_l2(sp["real_heldout"].images, sp["real_train"].images)
    assert np.median(d_copy) < 0.1 * np.median(d_fresh)


def _smoke_params(tmp_path: Path, edit=None) -> Path:
    """The repository's params.yaml with the smoke profile's zoo shrunk further, written to tmp_path."""
    raw = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    z = raw["profiles"]["smoke"]["zoo"]
    z["models"]["vae"] = dict(_cfg("vae").model_dump())
    if edit:
        edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_cli_splits_train_and_encoder(tmp_path: Path, capsys) -> None:
    from beyondfid.data import save_imageset

    ds = _animals_like()
    save_imageset(ImageSet("animals", ds.images, ds.labels, ds.class_names), tmp_path / "artifacts/smoke/datasets")
    common = ["--params", str(_smoke_params(tmp_path)), "--profile", "smoke", "--root", str(tmp_path),
              "--no-progress", "--threads", "1"]
    assert zoo.main(["splits", *common]) == 0
    splits = tmp_path / "artifacts/smoke/zoo/splits"
    assert len(load_imageset(splits, "real_heldout")) == 32 and len(load_imageset(splits, "real_half_a")) == 16
    assert zoo.main(["train", *common, "--model", "vae"]) == 0
    assert zoo.load_samples(tmp_path / "artifacts/smoke/zoo/models/vae").shape == (6, 1, 28, 28)
    assert zoo.main(["encoder", *common, "--name", "classifier"]) == 0
    log = json.loads((tmp_path / "artifacts/smoke/zoo/encoders/classifier/log.json").read_text())
    assert 0.0 <= log["heldout_accuracy"] <= 1.0
    assert np.sum(log["confusion"]) == 32  # every held-out image is counted once


def test_cli_rejects_bad_params_before_work(tmp_path: Path, capsys) -> None:
    def bad(raw):
        raw["profiles"]["smoke"]["zoo"]["models"]["vae"]["steps"] = 0

    common = ["--params", str(_smoke_params(tmp_path, bad)), "--profile", "smoke", "--root", str(tmp_path)]
    assert zoo.main(["train", *common, "--model", "vae"]) == 2
    assert "profiles.smoke.zoo.models.vae.steps" in capsys.readouterr().err
    assert not (tmp_path / "artifacts").exists()  # nothing was written

    def missing(raw):
        del raw["profiles"]["smoke"]["zoo"]["models"]["gan"]

    common[1] = str(_smoke_params(tmp_path, missing))
    assert zoo.main(["splits", *common]) == 2
    assert "zoo.models lacks ['gan']" in capsys.readouterr().err


def test_paper_profile_imports_sample_folders(tmp_path: Path, monkeypatch) -> None:
    """Paper profile: a zoo role reads a folder of the paper's samples; too few images is a clear error."""
    from PIL import Image

    for i in range(5):
        (tmp_path / "data/paper/edm2_xs").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(tmp_path / f"data/paper/edm2_xs/{i}.png")
    cfg = GeneratorConfig(family="folder", folder="edm2_xs", steps=1, n_samples=5)
    s = zoo.import_folder("ddpm_s", cfg, tmp_path / "data/paper", tmp_path / "out")
    assert s["counts"] == {"samples": 5}
    assert json.loads((tmp_path / "out/log.json").read_text())["folders"]["samples"].endswith("edm2_xs")
    with pytest.raises(ZooError, match="n_samples"):
        zoo.import_folder("ddpm_s", cfg.model_copy(update={"n_samples": 6}), tmp_path / "data/paper", tmp_path / "o2")
    with pytest.raises(DataError, match="does not exist"):
        zoo.import_folder("ddpm_s", cfg.model_copy(update={"folder": "nope"}), tmp_path / "data/paper", tmp_path / "o3")


# ---------------------------------------------------------------- the class-conditional model (issue 14, section 3)


class _ClassOracle(torch.nn.Module):
    """The exact conditional denoiser of a labelled point set: per row, the empirical eps-oracle of the
    requested class's images (the null label: of all images)."""

    def __init__(self, x: torch.Tensor, labels: np.ndarray, n_classes: int, alpha_bar: torch.Tensor) -> None:
        super().__init__()
        self.per_class = [diffusion.empirical_eps_oracle(x[torch.as_tensor(labels == c)], alpha_bar)
                          for c in range(n_classes)]
        self.per_class.append(diffusion.empirical_eps_oracle(x, alpha_bar))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        for c in y.unique().tolist():
            rows = y == c
            out[rows] = self.per_class[c](x[rows], t[rows])
        return out


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_conditional_sampling_returns_the_requested_labels_and_classes(guidance: float) -> None:
    train = _animals_like(n_per_class=6, n_classes=4)
    x = generators.to_model_space(train.images)
    cfg = _cfg("ddpm_cond", sample_steps=12, ema=0.0, guidance=guidance)
    oracle = _ClassOracle(x, train.labels, 4, diffusion.cosine_alpha_bar(cfg.timesteps))
    imgs, labels = zoo.sample_labelled(cfg, {"model": oracle}, 16, seed=0, batch=5)
    assert imgs.shape == (16, 1, 28, 28) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=4).tolist() == [4, 4, 4, 4]  # balanced
    assert all(sorted(labels[i : i + 4]) == [0, 1, 2, 3] for i in range(0, 16, 4))  # in blocks of one per class
    _, nn = zoo.nearest_neighbor_l2(imgs, train.images)
    np.testing.assert_array_equal(train.labels[nn[:, 0]], labels)  # each sample is of the class it was asked for
    asked = np.array([3, 3, 0, 2, 1])
    imgs2, labels2 = zoo.sample_labelled(cfg, {"model": oracle}, 5, seed=1, labels=asked)
    np.testing.assert_array_equal(labels2, asked)
    np.testing.assert_array_equal(train.labels[zoo.nearest_neighbor_l2(imgs2, train.images)[1][:, 0]], asked)
    # a prefix of a larger draw, whatever the batch size
    np.testing.assert_array_equal(zoo.sample_labelled(cfg, {"model": oracle}, 8, seed=0, batch=3)[0], imgs[:8])
    with pytest.raises(ZooError, match="labels"):
        zoo.sample_labelled(cfg, {"model": oracle}, 2, seed=0, labels=np.array([0, 4]))
    with pytest.raises(ZooError, match="class-conditional"):
        zoo.sample_labelled(_cfg("ddpm_s"), {"model": oracle}, 2, seed=0)


def test_conditional_model_writes_a_labelled_set(toy_train: ImageSet, tmp_path: Path) -> None:
    cfg = _cfg("ddpm_cond")
    s = zoo.train_model("ddpm_cond", cfg, toy_train, tmp_path, progress=False)
    images, labels, names = zoo.load_labelled(tmp_path)
    assert images.shape == (12, 1, 28, 28) and images.dtype == np.uint8 and labels.shape == (12,)
    assert names == toy_train.class_names and s["labelled"]["count"] == 12
    assert np.bincount(labels, minlength=4).tolist() == [3, 3, 3, 3]
    prefix, plabels, _ = zoo.load_labelled(tmp_path, "samples")
    np.testing.assert_array_equal(prefix, images[:6])
    np.testing.assert_array_equal(plabels, labels[:6])
    np.testing.assert_array_equal(zoo.load_samples(tmp_path), images[:6])
    with pytest.raises(ZooError, match="n_classes"):
        zoo.train_model("ddpm_cond", _cfg("ddpm_cond", n_classes=5), toy_train, tmp_path / "x", progress=False)
    with pytest.raises(ZooError, match="no labels"):
        zoo.train_model("ddpm_s", _cfg("ddpm_s"), toy_train, tmp_path / "s", progress=False)
        zoo.load_labelled(tmp_path / "s", "samples")
    with pytest.raises(ValueError, match="class_cond"):
        _cfg("ddpm_s", n_labelled=10)
