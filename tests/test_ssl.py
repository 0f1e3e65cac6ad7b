"""Tests for the self-supervised encoders: losses against naive oracles, masking, extractors, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from beyondfid.extractors import ExtractorError, MissingWeightsError, available, get_extractor
from beyondfid.zoo.ssl import (
    ContrastiveConfig,
    MaskedAutoencoder,
    MaskedConfig,
    SSLError,
    load_ssl_contrastive,
    mae_loss,
    nt_xent,
    patchify,
    random_masking,
    train_ssl_contrastive,
    train_ssl_masked,
    unpatchify,
)


pytestmark = pytest.mark.usefixtures("one_thread")


CON = ContrastiveConfig(width=4, proj_dim=8, batch_size=16, n_steps=6, warmup_steps=2, ckpt_every=2, seed=0)
MAE = MaskedConfig(patch=7, dim=16, depth=1, heads=2, decoder_dim=8, decoder_depth=1, batch_size=16, n_steps=6,
                   warmup_steps=2, ckpt_every=2, seed=0)


def blobs(n: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((n, 1, 28, 28), np.uint8)
    for i in range(n):
        r, c = rng.integers(2, 18, 2)
        h, w = rng.integers(4, 10, 2)
        img[i, 0, r : r + h, c : c + w] = rng.integers(128, 256)
    return img


# ---------------------------------------------------------------------------------- losses


def naive_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> float:
    z = [v / math.sqrt(float(v @ v)) for v in torch.cat([z1, z2]).double()]
    n2, n = len(z), len(z1)
    total = 0.0
    for i in range(n2):
        pos = (i + n) % n2
        num = math.exp(float(z[i] @ z[pos]) / tau)
        den = sum(math.exp(float(z[i] @ z[k]) / tau) for k in range(n2) if k != i)
        total += -math.log(num / den)
    return total / n2


def test_nt_xent_matches_naive_definition() -> None:
    g = torch.Generator().manual_seed(0)
    for n, d, tau in [(2, 3, 1.0), (5, 4, 0.2), (7, 16, 0.5)]:
        z1, z2 = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)
        assert float(nt_xent(z1, z2, tau)) == pytest.approx(naive_nt_xent(z1, z2, tau), rel=1e-10)
    # scale invariance (features are normalised) and a perfect-alignment lower bound
    z1 = torch.randn(4, 3, generator=g, dtype=torch.float64)
    assert float(nt_xent(3.0 * z1, z1, 0.3)) == pytest.approx(float(nt_xent(z1, z1, 0.3)), rel=1e-12)
    e = torch.eye(4, dtype=torch.float64)  # orthogonal pairs, each view identical to its partner
    expected = -math.log(math.exp(1 / 0.1) / (math.exp(1 / 0.1) + 6 * math.exp(0.0)))
    assert float(nt_xent(e, e, 0.1)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(SSLError, match="N >= 2"):
        nt_xent(z1[:1], z1[:1], 0.1)


def test_mae_loss_is_mse_over_masked_patches_only() -> None:
    g = torch.Generator().manual_seed(1)
    pred, target = torch.randn(3, 10, 5, generator=g), torch.randn(3, 10, 5, generator=g)
    mask = (torch.rand(3, 10, generator=g) < 0.6).float()
    manual, count = 0.0, 0
    for n in range(3):
        for l in range(10):
            if mask[n, l] == 1:
                manual += float(((pred[n, l] - target[n, l]) ** 2).mean())
                count += 1
    assert float(mae_loss(pred, target, mask)) == pytest.approx(manual / count, rel=1e-6)
    # predictions at visible patches do not matter
    pred2 = pred.clone()
    pred2[mask == 0] = 1e3
    assert torch.equal(mae_loss(pred2, target, mask), mae_loss(pred, target, mask))
    with pytest.raises(SSLError, match="no patch is masked"):
        mae_loss(pred, target, torch.zeros(3, 10))


def test_patchify_layout_and_inverse() -> None:
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    p = patchify(x, 7)
    assert p.shape == (2, 16, 49)
    assert torch.equal(p[1, 4 * 2 + 3], x[1, 0, 14:21, 21:28].reshape(-1))  # row 2, column 3
    assert torch.equal(unpatchify(p, 7), x)
    with pytest.raises(SSLError, match="does not divide"):
        patchify(x, 5)


def test_random_masking_hides_exactly_the_ratio() -> None:
    ids, mask = random_masking(6, 49, 0.75, torch.Generator().manual_seed(0))
    assert ids.shape == (6, 12) and torch.all(mask.sum(1) == 37)
    for n in range(6):
        assert set(ids[n].tolist()) == set(torch.nonzero(mask[n] == 0).flatten().tolist())
    with pytest.raises(SSLError, match="visible"):
        random_masking(2, 4, 0.99, torch.Generator())


def test_reconstruction_never_sees_masked_pixels() -> None:
    torch.manual_seed(0)
    mae = MaskedAutoencoder(patch=7, dim=16, depth=1, heads=2, decoder_dim=8).eval()
    x = torch.rand(2, 1, 28, 28)
    ids, mask = random_masking(2, 16, 0.5, torch.Generator().manual_seed(0))
    changed = patchify(x, 7).clone()
    changed[mask == 1] = torch.rand(int(mask.sum()), 49)  # new content in hidden patches only
    with torch.no_grad():
        a, b = mae.reconstruct(x, ids), mae.reconstruct(unpatchify(changed, 7), ids)
        c = mae.reconstruct(unpatchify(changed, 7), ids.flip(0))  # different visible set
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, c, atol=1e-3)


# ---------------------------------------------------------------------------------- training & extractors


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ssl")
    images = blobs()
    train_ssl_contrastive(images, CON, root / "con.pt", progress=False)
    train_ssl_masked(images, MAE, root / "mae.pt", progress=False)
    return {"ssl_contrastive": root / "con.pt", "ssl_masked": root / "mae.pt", "root": root}


def test_registered_extractors_give_deterministic_features(trained: dict[str, Path]) -> None:
    assert {"ssl_contrastive", "ssl_masked"} <= set(available())
    images = blobs(10, seed=5)
    for name, dim in [("ssl_contrastive", 4 * CON.width), ("ssl_masked", MAE.dim)]:
        ext = get_extractor(name, checkpoint=trained[name], resolution=128, device="cpu")
        assert ext.name == name and ext.dim == dim and ext.outputs == {"features": dim} and ext.resolution == 28
        f = ext.extract(images)["features"]
        assert f.shape == (10, dim) and f.dtype == torch.float32 and torch.isfinite(f).all()
        assert torch.equal(f, ext.extract(images)["features"])
        again = get_extractor(name, checkpoint=str(trained[name]))
        assert torch.equal(f, again.extract(images)["features"])
        # gray given as three identical channels is the same image
        assert torch.allclose(f, ext.extract(np.repeat(images, 3, axis=1))["features"], atol=1e-6)
        assert not torch.allclose(f[0], f[1])  # different images, different features


def test_same_seed_same_checkpoint_and_resume(trained: dict[str, Path]) -> None:
    images = blobs()
    root = trained["root"]
    for train_fn, cfg, name in [(train_ssl_contrastive, CON, "ssl_contrastive"), (train_ssl_masked, MAE, "ssl_masked")]:
        ref = torch.load(trained[name], weights_only=True)["modules"]["encoder"]
        train_fn(images, cfg, root / f"{name}_resumed.pt", progress=False, max_steps_this_call=3)  # "killed"
        res = train_fn(images, cfg, root / f"{name}_resumed.pt", progress=False)
        assert res.log.resumed_from == 3 and res.log.steps_done == cfg.n_steps
        got = res.encoder.state_dict()
        assert all(torch.equal(ref[k], got[k]) for k in ref), name
        other = train_fn(images, cfg.model_copy(update={"seed": 1}), root / f"{name}_s1.pt", progress=False)
        assert not all(torch.equal(ref[k], other.encoder.state_dict()[k]) for k in ref)


def test_missing_or_wrong_checkpoint_errors(trained: dict[str, Path], tmp_path: Path) -> None:
    for name in ("ssl_contrastive", "ssl_masked"):
        with pytest.raises(MissingWeightsError, match=f"zoo_encoder@{name}"):
            get_extractor(name, checkpoint=tmp_path / "nope.pt")
        with pytest.raises(MissingWeightsError, match="checkpoint=<path"):
            get_extractor(name)
    with pytest.raises(ExtractorError, match="not an ssl_contrastive"):
        load_ssl_contrastive(trained["ssl_masked"])
    with pytest.raises(SSLError, match="batch_size"):
        train_ssl_masked(blobs(8), MAE, tmp_path / "x.pt", progress=False)
    with pytest.raises(SSLError, match="uint8"):
        train_ssl_contrastive(blobs(32).astype(np.float32), CON, tmp_path / "x.pt", progress=False)
