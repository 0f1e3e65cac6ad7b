"""Tests for the zoo evaluation stage (beyondfid.zoo.eval) on a tiny synthetic zoo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from beyondfid import features
from beyondfid.zoo import eval as zoo_eval, registry as zoo
from beyondfid.config import MODELS, load_config
from beyondfid.data import ImageSet, load_imageset, save_imageset
from beyondfid.io import load_npz, save_npz
from beyondfid.zoo.eval import ZooEvalError

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parents[1]
N_SAMPLES = 6


def _toy_animals(n_per_class: int = 40, n_classes: int = 4, seed: int = 0) -> ImageSet:
    """Labelled 28x28 images (a class-specific bright bar on noise); ``index`` is not 0..N-1, like the
    smoke profile's subsample of AnimalShape, so any row/index confusion shows."""
    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    for c in range(n_classes):
        for _ in range(n_per_class):
            im = rng.integers(0, 40, size=(28, 28))
            im[4 + 5 * c : 10 + 5 * c, 5:22] = 230
            imgs.append(im)
            labels.append(c)
    n = len(imgs)
    return ImageSet("animals", np.asarray(imgs, np.uint8)[:, None], np.asarray(labels), tuple("abcd"[:n_classes]),
                    index=3 * np.arange(n) + 7)


def _params(root: Path) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    p = raw["profiles"]["smoke"]
    p["features"]["datasets"] = "animals"
    for m in p["zoo"]["models"].values():
        m["n_samples"] = N_SAMPLES
        m["steps"] = 2
        if m.get("n_snapshots"):
            m.update(n_snapshots=2, snapshot_samples=4)
        if m.get("class_cond"):
            m.update(n_classes=4, n_labelled=2 * N_SAMPLES)  # the toy animals have 4 classes
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory) -> Path:
    """A complete tiny smoke zoo (datasets, feature cache, splits, every model, 3 encoders) plus its evaluation."""
    root = tmp_path_factory.mktemp("zoo_eval")
    params = _params(root)
    save_imageset(_toy_animals(), root / "artifacts/smoke/datasets")
    common = ["--params", str(params), "--profile", "smoke", "--root", str(root)]
    features.main(common)
    z = [*common, "--no-progress", "--threads", "1"]
    assert zoo.main(["splits", *z]) == 0
    for m in MODELS:
        assert zoo.main(["train", *z, "--model", m]) == 0
    for e in ("ssl_contrastive", "ssl_masked", "classifier"):
        assert zoo.main(["encoder", *z, "--name", e]) == 0
    assert zoo_eval.main([*z]) == 0
    return root


def _cfg(root: Path):
    return load_config("smoke", root / "params.yaml", root)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "params.yaml").write_text((src / "params.yaml").read_text())
    return dst


def test_contract_keys_shapes_and_dtypes(zoo_root: Path) -> None:
    cfg = _cfg(zoo_root)
    names = zoo_eval.eval_sets(cfg)
    snaps = [n for n in names if n.startswith("gan_snap_")]
    assert names[:4 + len(MODELS)] == [*zoo.SPLITS, *MODELS]
    assert "gan_candidates" in names and len(snaps) == 2 and all(len(s) == len("gan_snap_") + 7 for s in snaps)
    index = json.loads((zoo_eval.eval_dir(cfg) / "index.json").read_text())
    assert index["extractor"] == "effnet_lite0" and index["resolution"] == 64
    assert index["class_names"] == list("abcd")
    splits = zoo.zoo_dirs(cfg)["splits"]
    for name in names:
        e = zoo_eval.load_eval(cfg, name)
        n = index["sets"][name]["count"]
        assert (zoo_root / index["sets"][name]["source"]).exists()
        assert e["effnet"].dtype == np.float32 and e["effnet"].shape == (n, 1280)
        for key in ("ssl_contrastive", "ssl_masked"):
            assert e[key].dtype == np.float32 and e[key].shape[0] == n
        assert e["proba"].dtype == np.float64 and e["proba"].shape == (n, 4)
        np.testing.assert_allclose(e["proba"].sum(1), 1.0, rtol=1e-6)
        assert e["labels"].dtype == np.int64 and np.array_equal(e["labels"], e["proba"].argmax(1))
        if name == "real_train":
            assert "nn_dist" not in e
        else:
            assert e["nn_dist"].dtype == np.float64 and e["nn_dist"].shape == (n, 2)
            assert e["nn_index"].dtype == np.int64 and e["nn_index"].shape == (n, 2)
            assert np.all(e["nn_dist"][:, 0] <= e["nn_dist"][:, 1])
    assert index["sets"]["gan"]["count"] == N_SAMPLES and index["sets"]["gan_candidates"]["count"] == 2 * N_SAMPLES
    assert index["sets"]["real_heldout"]["count"] == len(load_imageset(splits, "real_heldout"))
    # the held-out real splits' nearest neighbours agree with a direct computation
    held, train = load_imageset(splits, "real_heldout"), load_imageset(splits, "real_train")
    d, _ = zoo.nearest_neighbor_l2(held.images, train.images, k=2)
    e = zoo_eval.load_eval(cfg, "real_heldout")
    np.testing.assert_allclose(e["nn_dist"], d, rtol=0, atol=1e-6)  # ours recomputes the k distances exactly


def test_cached_real_features_equal_extraction(zoo_root: Path) -> None:
    """Real splits are sliced from the features stage's cache by dataset index; that must equal extracting them."""
    from beyondfid.extractors import get_extractor

    cfg = _cfg(zoo_root)
    ext = get_extractor("effnet_lite0", resolution=64)
    assert zoo_eval._real_feature_cache(cfg, ext) is not None  # the cache was current, so it was used
    held = load_imageset(zoo.zoo_dirs(cfg)["splits"], "real_half_b")
    direct = features._forward(ext, held.images)["features"]
    assert np.array_equal(zoo_eval.load_eval(cfg, "real_half_b")["effnet"], direct)


def test_rerun_is_bitwise_identical_and_skips_finished_sets(zoo_root: Path, tmp_path: Path) -> None:
    root = _copy(zoo_root, tmp_path / "z")
    cfg = _cfg(root)
    assert zoo_eval.run_eval(cfg, progress=False)["computed"] == []  # everything current: nothing redone
    before = {n: zoo_eval.load_eval(cfg, n) for n in zoo_eval.eval_sets(cfg)}
    shutil.rmtree(zoo_eval.eval_dir(cfg))
    res = zoo_eval.run_eval(cfg, progress=False)
    assert sorted(res["computed"]) == sorted(before)
    for n, arrays in before.items():
        again = zoo_eval.load_eval(cfg, n)
        assert arrays.keys() == again.keys()
        for k in arrays:
            assert arrays[k].tobytes() == again[k].tobytes(), (n, k)


def test_resume_recomputes_only_missing_or_stale_sets(zoo_root: Path, tmp_path: Path) -> None:
    root = _copy(zoo_root, tmp_path / "z")
    cfg = _cfg(root)
    d = zoo_eval.eval_dir(cfg)
    gan_before = load_npz(d / "gan.npz")
    (d / "gan.npz").unlink()  # an interrupted run that never wrote this set
    idx = json.loads((d / "index.json").read_text())
    idx["sets"]["dit"]["fingerprint"] = "stale"  # made from other inputs
    (d / "index.json").write_text(json.dumps(idx))
    assert sorted(zoo_eval.run_eval(cfg, progress=False)["computed"]) == ["dit", "gan"]
    assert all(np.array_equal(gan_before[k], v) for k, v in load_npz(d / "gan.npz").items())
    # A retrained encoder changes every set's fingerprint.
    ckpt = zoo.zoo_dirs(cfg)["encoders"] / "classifier" / "ckpt.pt"
    ckpt.write_bytes(ckpt.read_bytes() + b"\0")  # zip readers ignore trailing bytes; the hash changes
    assert len(zoo_eval.run_eval(cfg, progress=False)["computed"]) == len(zoo_eval.eval_sets(cfg))


def test_a_sample_that_is_a_training_image_points_at_it(zoo_root: Path, tmp_path: Path) -> None:
    root = _copy(zoo_root, tmp_path / "z")
    cfg = _cfg(root)
    train = load_imageset(zoo.zoo_dirs(cfg)["splits"], "real_train")
    rows = np.array([5, 40, 77])
    noise = np.random.default_rng(1).integers(0, 255, size=(3, 1, 28, 28), dtype=np.uint8)
    save_npz(zoo.zoo_dirs(cfg)["models"] / "vae" / "samples.npz", images=np.concatenate([train.images[rows], noise]))
    assert zoo_eval.run_eval(cfg, progress=False)["computed"] == ["vae"]  # only the changed set
    e = zoo_eval.load_eval(cfg, "vae")
    assert np.array_equal(e["nn_index"][:3, 0], rows) and np.all(e["nn_dist"][:3, 0] == 0)
    assert np.all(e["nn_dist"][3:, 0] > 0)
    assert zoo_eval.ratio_copy_share(e["nn_dist"]) == 0.5


def test_missing_stage_outputs_name_the_stage(zoo_root: Path, tmp_path: Path) -> None:
    root = _copy(zoo_root, tmp_path / "z")
    cfg = _cfg(root)
    with pytest.raises(ZooEvalError, match=r"dvc repro zoo_eval"):
        zoo_eval.load_eval(cfg, "no_such_set")
    dirs = zoo.zoo_dirs(cfg)
    (dirs["models"] / "dit" / "samples.npz").unlink()
    with pytest.raises(ZooEvalError, match=r"dvc repro zoo_train@dit"):
        zoo_eval.run_eval(cfg, progress=False)
    shutil.rmtree(dirs["encoders"] / "ssl_masked")
    shutil.rmtree(dirs["models"] / "dit")
    with pytest.raises(ZooEvalError, match=r"dvc repro zoo_train@dit"):
        zoo_eval.sample_sets(cfg)
    shutil.rmtree(dirs["splits"])
    with pytest.raises(ZooEvalError, match=r"dvc repro zoo_splits"):
        zoo_eval.sample_sets(cfg)
    shutil.rmtree(zoo_eval.eval_dir(cfg))
    with pytest.raises(ZooEvalError, match=r"dvc repro zoo_eval"):
        zoo_eval.eval_sets(cfg)


def test_missing_encoder_names_its_stage(zoo_root: Path, tmp_path: Path, capsys) -> None:
    root = _copy(zoo_root, tmp_path / "z")
    cfg = _cfg(root)
    shutil.rmtree(zoo.zoo_dirs(cfg)["encoders"] / "ssl_masked")
    assert zoo_eval.main(["--params", str(root / "params.yaml"), "--profile", "smoke", "--root", str(root)]) == 2
    assert "dvc repro zoo_encoder@ssl_masked" in capsys.readouterr().err


def test_non_finite_features_are_a_clear_error(zoo_root: Path, tmp_path: Path, monkeypatch) -> None:
    root = _copy(zoo_root, tmp_path / "z")
    cfg = _cfg(root)
    (zoo_eval.eval_dir(cfg) / "memorizer.npz").unlink()
    real_forward = zoo_eval._forward

    def nan_forward(extractor, images):  # type: ignore[no-untyped-def]
        out = real_forward(extractor, images)
        out["features"][1] = np.nan
        return out

    monkeypatch.setattr(zoo_eval, "_forward", nan_forward)
    with pytest.raises(features.FeatureError, match=r"memorizer.*non-finite.*\[1\]"):
        zoo_eval.run_eval(cfg, progress=False)
    assert not (zoo_eval.eval_dir(cfg) / "memorizer.npz").exists()  # nothing half-valid was written


def test_streaming_neighbours_match_the_direct_computation() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(23, 1, 6, 6), dtype=np.uint8)
    b = rng.integers(0, 256, size=(37, 1, 6, 6), dtype=np.uint8)
    A = ImageSet("a", a, np.zeros(len(a)))
    B = ImageSet("b", b, np.zeros(len(b)))
    d0, i0 = zoo.nearest_neighbor_l2(a, b, k=2)
    d1, i1 = zoo_eval.streaming_nearest_neighbors(A, B, k=2, chunk=5)
    assert np.array_equal(i0, i1)
    np.testing.assert_allclose(d0, d1, rtol=0, atol=1e-6)
    exact = np.sqrt(((a[:, None].astype(float) - b[None].astype(float)) ** 2 / 255.0**2).sum((2, 3, 4)))
    np.testing.assert_allclose(d1, np.sort(exact, 1)[:, :2], rtol=1e-13)


def test_copy_shares_and_thresholds_on_a_planted_case() -> None:
    # rows: exact copy (0, 0 -- a duplicated training image), clear copy (1 < 5/3), borderline (2 vs 6: not < 2),
    # fresh (5, 6)
    nn = np.array([[0.0, 0.0], [1.0, 5.0], [2.0, 6.0], [5.0, 6.0]])
    assert zoo_eval.ratio_copy_share(nn, 1 / 3) == 0.5
    assert zoo_eval.ratio_copy_share(nn, 0.5) == 0.75
    ref = np.column_stack([np.arange(1, 101, dtype=float), np.arange(2, 102, dtype=float)])
    thr = zoo_eval.l2_copy_threshold(ref, 1.0)
    assert thr == pytest.approx(np.percentile(np.arange(1, 101), 1.0))
    assert zoo_eval.l2_copy_share(nn, thr) == 0.5  # the rows at 0 and 1 are below 1.99
    assert zoo_eval.l2_copy_share(nn, 2.5) == 0.75
    with pytest.raises(ValueError, match="nn_dist"):
        zoo_eval.ratio_copy_share(np.zeros((3, 1)))


def test_rows_of_maps_dataset_indices_to_rows() -> None:
    index = np.array([40, 7, 19, 3])
    assert zoo_eval.rows_of(index, np.array([3, 40, 19])).tolist() == [3, 0, 2]
    with pytest.raises(ZooEvalError, match="not present"):
        zoo_eval.rows_of(index, np.array([8]))


def test_moving_average_and_history() -> None:
    x = np.arange(10, dtype=float)
    assert np.allclose(zoo_eval.moving_average(x, 3), np.arange(1, 9))
    h = zoo_eval.history_arrays([{"step": 0, "loss": 2.0}, {"step": 1, "loss": 1.0, "kl": 0.5}])
    assert h["step"].tolist() == [0, 1] and h["loss"].tolist() == [2, 1] and np.isnan(h["kl"][0])


def test_zoo_table_has_every_model_and_the_control(zoo_root: Path) -> None:
    cfg = _cfg(zoo_root)
    t = zoo_eval.zoo_table(cfg)
    assert t["set"].tolist() == [*MODELS, "control: real_half_a vs real_half_b"]
    assert np.isfinite(t[["FID_effnet", "FD_ssl_contrastive", "FD_ssl_masked", "KID_x1e3_mean"]].to_numpy()).all()
    assert ((t["precision"] >= 0) & (t["precision"] <= 1)).all()
    snaps = zoo_eval.snapshot_fids(cfg)
    assert snaps["step"].tolist() == sorted(snaps["step"]) and len(snaps) == 2
    hist = zoo_eval.class_histograms(cfg)
    np.testing.assert_allclose(hist.sum(axis=1), 1.0)


def test_paper_profile_streams_folders(tmp_path: Path) -> None:
    """Paper profile: real splits are rows of the real folder, models are imported sample folders (streamed)."""
    from PIL import Image

    from beyondfid.prepare import prepare

    rng = np.random.default_rng(0)
    data = tmp_path / "data/paper"

    def folder(name: str, images: np.ndarray) -> None:
        (data / name).mkdir(parents=True, exist_ok=True)
        for i, im in enumerate(images):
            Image.fromarray(im).save(data / name / f"{i:04d}.png")

    real = rng.integers(0, 256, size=(40, 16, 16, 3), dtype=np.uint8)
    folder("ffhq_real", real)
    for name in ("mnist", "afhq", "imagenet_dogs", "ffhq_stylegan2"):
        folder(name, rng.integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8))
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    p = raw["profiles"]["paper"]
    p["data"].update(root=str(data), image_size=16)
    p["features"].update(extractor="effnet_lite0", resolution=32, batch_size=8, device="cpu")
    for m in p["zoo"]["models"].values():
        m["n_samples"] = 5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config("paper", tmp_path / "params.yaml", tmp_path)
    prepare(cfg)
    common = ["--params", str(tmp_path / "params.yaml"), "--profile", "paper", "--root", str(tmp_path)]
    features.main(common)
    assert zoo.main(["splits", *common, "--no-progress"]) == 0
    train_rows = np.asarray(json.loads((zoo.zoo_dirs(cfg)["splits"] / "real_train.json").read_text())["index"])
    for name, m in cfg.params.zoo.models.items():
        imgs = real[train_rows[:5]] if name == "memorizer" else rng.integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
        if m.folder != "ffhq_stylegan2":
            folder(m.folder, imgs)
        if m.candidates_folder:
            folder(m.candidates_folder, imgs)
        assert zoo.main(["train", *common, "--no-progress", "--model", name]) == 0
    for e in ("ssl_contrastive", "ssl_masked", "classifier"):
        assert zoo.main(["encoder", *common, "--no-progress", "--name", e]) == 0
    assert zoo_eval.main([*common, "--no-progress"]) == 0
    names = zoo_eval.eval_sets(cfg)
    assert names == [*zoo.SPLITS, *MODELS, "gan_candidates"]
    held = zoo_eval.load_eval(cfg, "real_heldout")
    assert set(held) == {"effnet", "nn_dist", "nn_index"}  # no zoo encoders or classifier on this profile
    mem = zoo_eval.load_eval(cfg, "memorizer")
    assert np.array_equal(mem["nn_index"][:, 0], np.arange(5)) and np.all(mem["nn_dist"][:, 0] == 0)
    # real splits sliced from the feature cache equal extracting the split's files
    from beyondfid.extractors import get_extractor

    src = zoo_eval.load_split(cfg, "real_heldout")
    direct = features._forward(get_extractor("effnet_lite0", resolution=32), src.get(0, len(src)))["features"]
    assert np.array_equal(held["effnet"], direct)
    assert zoo_eval.first_images(cfg, "vae", 3).shape == (3, 3, 16, 16)


def test_zoo_report_builds_every_table_and_figure(zoo_root: Path, tmp_path: Path) -> None:
    """The zoo notebook's cells, called directly (the pipeline test runs the notebook itself)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from beyondfid.zoo import report as zr

    cfg = _cfg(zoo_root)
    table = zr.zoo_table_with_spread(cfg, spread_path=tmp_path / "none.json")
    assert table["FID_effnet ±"].isna().all() and "not measured" in table.attrs["note"]
    spread = {"smoke": {"seeds": [0, 1, 2], "machine": "test", "models": {
        "ddpm_s": {"FID_effnet": {"mean": 10.0, "std": 2.5}}, "gan": {"recall": {"mean": 0.3, "std": 0.01}}}}}
    (tmp_path / "spread.json").write_text(json.dumps(spread))
    table = zr.zoo_table_with_spread(cfg, spread_path=tmp_path / "spread.json")
    cols = list(table.columns)
    assert cols.index("FID_effnet ±") == cols.index("FID_effnet") + 1
    t = table.set_index("set")
    assert t.at["ddpm_s", "FID_effnet ±"] == 2.5 and np.isnan(t.at["dit", "FID_effnet ±"])
    assert t.at["gan", "recall ±"] == 0.01 and "3 training seeds" in table.attrs["note"]
    pairs = zr.family_pairs_table(cfg, [("ddpm_s", "ddpm_l"), ("uvit", "ddpm_l")], spread_path=tmp_path / "spread.json")
    a, b = t.at["ddpm_s", "FID_effnet"], t.at["ddpm_l", "FID_effnet"]
    row = pairs.iloc[0]
    assert row["family"] == "same" and pairs.iloc[1]["family"] == "different"
    assert row["FID_effnet ratio"] == pytest.approx(max(a, b) / min(a, b))
    assert row["FID_effnet within 20%"] == (max(a, b) / min(a, b) <= 1.2)
    shares = zr.class_share_table(cfg)
    assert np.allclose(shares.drop(columns=["set", "TV from real_heldout"]).sum(axis=1), 1.0)
    labelled = zr.labelled_set_table(cfg)
    assert labelled["model"].eq("ddpm_cond").all() and labelled["n"].sum() == N_SAMPLES
    assert labelled["label agreement"].between(0, 1).all()
    copies = zr.copies_table(cfg)
    assert copies["set"].tolist() == ["real_heldout", *MODELS] and copies.attrs["threshold"] > 0
    snaps = zr.snapshot_table(cfg)
    figs = [zr.samples_figure(cfg, 8), zr.training_curves_figure(cfg), zr.class_figure(cfg, shares),
            zr.nn_distance_figure(cfg, copies), zr.memorizer_pairs_figure(cfg, 4), zr.snapshot_figure(cfg, snaps, table)]
    assert all(isinstance(f, Figure) for f in figs)
    m = zr.zoo_metrics(cfg, table, copies, shares, snaps, pairs, labelled)
    json.dumps(m, allow_nan=False)
    assert set(m["zoo_table"]) >= set(MODELS) and 0 <= m["label_agreement"]["ddpm_cond"] <= 1


def test_committed_seed_spread_is_consistent():
    """The committed benchmark output: every std is the sample std of its own values (ddof 1), every mean their
    mean, for at least two seeds; so the ± the zoo notebook shows is what the listed runs give."""
    from beyondfid.zoo.report import SEED_SPREAD_FILE

    path = Path(__file__).resolve().parents[1] / SEED_SPREAD_FILE
    data = json.loads(path.read_text())
    checked = 0
    for profile, entry in data.items():
        for model, metrics in entry.get("models", {}).items():
            for name, m in metrics.items():
                v = np.asarray(m["values"], dtype=np.float64)
                assert len(v) == len(entry["seeds"]) >= 2, (profile, model, name)
                assert m["mean"] == pytest.approx(v.mean(), rel=1e-12)
                assert m["std"] == pytest.approx(v.std(ddof=1), rel=1e-12)
                checked += 1
    assert checked >= 5, f"{path} holds no measured spread (run benchmarks/zoo_seeds.py)"
