"""Feature cache: keys, batch-size independence, atomic shards, resume, NaN checks."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.data import load_imageset
from beyondfid.features import FeatureError, extract_features, feature_key, load_features


@pytest.fixture(scope="module")
def animals(smoke_cfg):
    return load_imageset(smoke_cfg.datasets_dir, "animals").subsample(70, seed=0)


def test_key_covers_all_settings():
    assert feature_key("animals", "train", "effnet_lite0", 128, 8000) == "animals-train-effnet_lite0-128px-n8000"
    with pytest.raises(FeatureError):
        feature_key("my-set", "all", "x", 1, 1)


def test_features_do_not_depend_on_batch_size(animals, effnet64, tmp_path):
    """Bitwise: forward passes use fixed micro-batches, so batch size (shard size) is irrelevant."""
    outs = [extract_features(animals, effnet64, tmp_path / f"bs{bs}", "k", shard_size=bs, progress=False)
            for bs in (1, 7, 64, 1000)]
    for o in outs[1:]:
        for k in ("features", "logits"):
            assert np.array_equal(outs[0][k], o[k])
    # and they are the extractor's own output for the whole set
    direct = effnet64.extract(animals.images[:32])["features"].numpy()
    assert np.array_equal(outs[0]["features"][:32], direct)


class Boom(RuntimeError):
    pass


class FlakyExtractor:
    """Wraps an extractor and dies after a number of calls (simulates a killed run)."""

    def __init__(self, inner, die_after: int):
        self.inner, self.calls, self.die_after = inner, 0, die_after
        self.name, self.dim, self.outputs, self.resolution = inner.name, inner.dim, inner.outputs, inner.resolution

    def extract(self, x):
        self.calls += 1
        if self.calls > self.die_after:
            raise Boom("killed")
        return self.inner.extract(x)


def test_interrupted_extraction_resumes_without_recomputing(animals, effnet64, tmp_path):
    ref = extract_features(animals, effnet64, tmp_path / "ref", "k", shard_size=32, progress=False)
    flaky = FlakyExtractor(effnet64, die_after=2)  # 3 shards of <=32 images -> dies in shard 3
    with pytest.raises(Boom):
        extract_features(animals, flaky, tmp_path / "c", "k", shard_size=32, progress=False)
    parts = sorted(p.name for p in (tmp_path / "c" / "k.parts").glob("part_*.npz"))
    assert parts == ["part_00000.npz", "part_00001.npz"]
    assert not (tmp_path / "c" / "k.npz").exists()  # no half-written final file
    assert not list((tmp_path / "c").glob(".*tmp*")) and not list((tmp_path / "c" / "k.parts").glob(".*"))

    counter = FlakyExtractor(effnet64, die_after=10**9)
    out = extract_features(animals, counter, tmp_path / "c", "k", shard_size=32, progress=False)
    assert counter.calls == 1  # only the missing shard was computed
    for k in ref:
        assert np.array_equal(ref[k], out[k])
    assert (tmp_path / "c" / "k.npz").exists() and not (tmp_path / "c" / "k.parts").exists()
    # a second call is served from the cache
    counter2 = FlakyExtractor(effnet64, die_after=0)
    extract_features(animals, counter2, tmp_path / "c", "k", shard_size=32, progress=False)
    assert counter2.calls == 0


def test_stale_partial_results_are_discarded(animals, effnet64, tmp_path):
    flaky = FlakyExtractor(effnet64, die_after=1)
    with pytest.raises(Boom):
        extract_features(animals, flaky, tmp_path, "k", shard_size=32, progress=False)
    # resume with a different shard size: old parts must not be mixed in
    out = extract_features(animals, effnet64, tmp_path, "k", shard_size=50, progress=False)
    ref = extract_features(animals, effnet64, tmp_path / "ref", "k", shard_size=50, progress=False)
    assert np.array_equal(out["features"], ref["features"])


class NaNExtractor:
    name, dim, outputs, resolution = "nan", 2, {"features": 2}, 8

    def extract(self, x):
        import torch

        f = torch.zeros(len(x), 2)
        f[1, 0] = float("nan")
        return {"features": f}


def test_nan_features_are_rejected(animals, tmp_path):
    # the NaN sits in row 1 of every micro-batch of 32: dataset rows 1, 33, 65 (shard 0)
    with pytest.raises(FeatureError, match=r"non-finite values in 3 row\(s\) \(first: \[1, 33, 65\]\)"):
        extract_features(animals, NaNExtractor(), tmp_path, "k", progress=False)
    # the first failing shard is named by its dataset index range
    with pytest.raises(FeatureError, match=r"images 0\.\.39: .*first: \[1, 33\]"):
        extract_features(animals, NaNExtractor(), tmp_path / "b", "k", shard_size=40, progress=False)


def test_missing_features_say_which_stage(tmp_path):
    with pytest.raises(FeatureError, match="dvc repro features"):
        load_features(tmp_path, "nothing-all-x-1px-n1")


def test_cache_made_by_other_code_or_images_is_recomputed(animals, effnet64, tmp_path):
    """A persisted cache (DVC `persist: true`) must not serve features computed by other code/data."""
    from beyondfid.features import source_fingerprint

    fp = f"code1-{source_fingerprint(animals)}"
    first = extract_features(animals, effnet64, tmp_path, "k", shard_size=64, progress=False, fingerprint=fp)
    calls = FlakyExtractor(effnet64, die_after=10**9)
    extract_features(animals, calls, tmp_path, "k", shard_size=64, progress=False, fingerprint=fp)
    assert calls.calls == 0  # same code and images: served from the cache
    calls = FlakyExtractor(effnet64, die_after=10**9)
    again = extract_features(animals, calls, tmp_path, "k", shard_size=64, progress=False, fingerprint="code2")
    assert calls.calls == 3 and np.array_equal(again["features"], first["features"])  # recomputed
    # different images with the same count get a different fingerprint
    other = animals.take(np.arange(len(animals))[::-1])
    assert source_fingerprint(other) != source_fingerprint(animals)


# --------------------------------------------------------------------------------------
# Content fingerprints and corrupt shards (issue 10, cases 2 and 9)
# --------------------------------------------------------------------------------------


def _noise_png(path, seed, size=(16, 16)):
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(path, compress_level=0)


def test_replaced_image_of_the_same_size_is_recomputed(tmp_path):
    """Case 2: a different image with the same byte size and file name must not be served from the cache."""
    from beyondfid.data import ImageFolder
    from beyondfid.extractors import get_extractor
    from beyondfid.features import source_fingerprint

    d = tmp_path / "real"
    d.mkdir()
    for i in range(5):
        _noise_png(d / f"{i}.png", seed=i)
    px = get_extractor("pixels", resolution=8)

    def run():
        src = ImageFolder(d)
        return src, extract_features(src, px, tmp_path / "cache", "k", progress=False,
                                     fingerprint=f"code-{source_fingerprint(src)}")

    _, first = run()
    size = (d / "2.png").stat().st_size
    _noise_png(d / "2.png", seed=99)  # other pixels, same dimensions: same byte size (stored PNG)
    assert (d / "2.png").stat().st_size == size
    src, second = run()
    truth = px.extract(src.get(0, 5))["features"].numpy()
    assert np.array_equal(second["features"], truth)
    assert not np.array_equal(second["features"][2], first["features"][2])
    assert np.array_equal(second["features"][[0, 1, 3, 4]], first["features"][[0, 1, 3, 4]])


def test_file_hashes_are_cached_by_size_mtime_ctime_and_inode(tmp_path, monkeypatch):
    """The hash cache re-reads a file only when its stat signature changes (and never trusts fresh entries)."""
    import time

    from beyondfid import data as data_mod

    d = tmp_path / "real"
    d.mkdir()
    for i in range(4):
        _noise_png(d / f"{i}.png", seed=i)
    cache = tmp_path / "hash_cache"
    calls = []
    real_hash = data_mod.sha256_file
    monkeypatch.setattr(data_mod, "sha256_file", lambda p: calls.append(p.name) or real_hash(p))
    folder = data_mod.ImageFolder(d, hash_cache=cache)
    fresh = folder.content_digests()
    assert len(calls) == 4
    # entries hashed within RACY_SECONDS of their last change are not trusted next time
    data_mod.ImageFolder(d, hash_cache=cache).content_digests()
    assert len(calls) == 8
    monkeypatch.setattr(data_mod, "RACY_SECONDS", 0.0)
    data_mod.ImageFolder(d, hash_cache=cache).content_digests()  # stores trusted entries
    calls.clear()
    assert data_mod.ImageFolder(d, hash_cache=cache).content_digests() == fresh
    assert calls == []  # all four served from the cache
    time.sleep(0.05)  # a later change time even on coarse-clock file systems
    _noise_png(d / "1.png", seed=50)
    after = data_mod.ImageFolder(d, hash_cache=cache).content_digests()
    assert calls == ["1.png"] and after[1] != fresh[1] and after[0] == fresh[0]
    assert after[1] == real_hash(d / "1.png")


def _animals_ref(animals, effnet64, tmp_path):
    return extract_features(animals, effnet64, tmp_path / "ref", "k", shard_size=32, progress=False)


@pytest.mark.parametrize("damage", ["zeroed", "truncated", "wrong_rows"])
def test_corrupt_shard_is_discarded_and_recomputed(animals, effnet64, tmp_path, damage):
    """Case 9: a bad .parts shard is verified on resume, discarded with a warning, and recomputed."""
    ref = _animals_ref(animals, effnet64, tmp_path)
    with pytest.raises(Boom):
        extract_features(animals, FlakyExtractor(effnet64, die_after=2), tmp_path / "c", "k", shard_size=32,
                         progress=False)
    part = tmp_path / "c" / "k.parts" / "part_00001.npz"
    if damage == "zeroed":
        part.write_bytes(bytes(part.stat().st_size))
    elif damage == "truncated":
        part.write_bytes(part.read_bytes()[:200])
    else:
        from beyondfid.io import save_npz

        save_npz(part, **{k: np.zeros((5, dim), np.float32) for k, dim in effnet64.outputs.items()})
    counter = FlakyExtractor(effnet64, die_after=10**9)
    with pytest.warns(UserWarning, match=r"part_00001\.npz.*recomput"):
        out = extract_features(animals, counter, tmp_path / "c", "k", shard_size=32, progress=False)
    assert counter.calls == 2  # the bad shard and the missing one
    for k in ref:
        assert np.array_equal(ref[k], out[k])


def test_corrupt_final_cache_file_is_recomputed(animals, effnet64, tmp_path):
    ref = _animals_ref(animals, effnet64, tmp_path)
    final = tmp_path / "ref" / "k.npz"
    final.write_bytes(bytes(final.stat().st_size))
    with pytest.warns(UserWarning, match=r"k\.npz.*recomput"):
        out = extract_features(animals, effnet64, tmp_path / "ref", "k", shard_size=32, progress=False)
    assert np.array_equal(out["features"], ref["features"])


def test_unreadable_npz_error_names_the_file(tmp_path):
    from beyondfid.io import load_npz

    (tmp_path / "x.npz").write_bytes(bytes(100))
    with pytest.raises(ValueError, match=r"x\.npz"):
        load_npz(tmp_path / "x.npz")
