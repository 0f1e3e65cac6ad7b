"""Paper-profile extractors wired up with random weights (the real files cannot be used here).

What is checked, per extractor:

* ``inception_fid``: pool3 features are identical to ``pytorch_fid.inception.InceptionV3``'s
  forward (its own preprocessing path) when both hold the same random weights -- pytorch-fid's
  download is redirected to those weights; logits equal torchvision's Inception3 forward;
  Grad-CAM maps/head; the 1008 -> 1000 TF class mapping.
* ``clip_vit_b32``: features equal open_clip's ``encode_image`` after open_clip's own eval
  transform on PIL images; checkpoint wrappers (``{"state_dict": ...}``, ``module.``, fp16).
* ``dinov2_vitb14``: a random state dict in the official facebookresearch key layout loads
  strictly and round-trips; features equal an independent plain-torch transcription of the
  official DINOv2 forward; preprocessing equals the torchvision/PIL reference.
* all: shapes for 1- and 3-channel uint8 input, missing files, corrupt files, wrong layouts.

No test may touch the network: sockets are disabled for the whole module.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from beyondfid.extractors import ExtractorError, MissingWeightsError, get_extractor, imagenet_class_names  # noqa: E402
from beyondfid.extractors import paper  # noqa: E402

pytest.importorskip("pytorch_fid")
pytest.importorskip("open_clip")
pytest.importorskip("timm")


@pytest.fixture(scope="module", autouse=True)
def no_network():
    def refuse(*args, **kwargs):
        raise RuntimeError("test_extractors_paper tried to use the network")

    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(socket, "getaddrinfo", refuse)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def wdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("weights")


def images(shape, seed=0) -> np.ndarray:
    """Random uint8 NCHW images with some spatial structure (blocky + noise)."""
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    coarse = rng.integers(0, 256, (n, c, h // 4 + 1, w // 4 + 1)).repeat(4, axis=2).repeat(4, axis=3)[..., :h, :w]
    return np.clip(coarse + rng.normal(0, 25, shape), 0, 255).astype(np.uint8)


def to_pil(img: np.ndarray):
    import PIL.Image

    return PIL.Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)).convert("RGB")


# ============================================================================ inception_fid

@pytest.fixture(scope="module")
def inception_state() -> dict[str, torch.Tensor]:
    """Random weights in pytorch-fid's layout, with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    net = paper.build_fid_inception()
    g = torch.Generator().manual_seed(0)
    state = {}
    for k, v in net.state_dict().items():
        v = v.clone()
        if k.endswith("conv.weight"):
            fan_in = v[0].numel()
            v = torch.randn(v.shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif k.endswith("bn.weight") or k.endswith("running_var"):
            v = 0.5 + torch.rand(v.shape, generator=g)
        elif k.endswith("bn.bias") or k.endswith("running_mean"):
            v = 0.1 * torch.randn(v.shape, generator=g)
        elif k.startswith("fc."):
            v = 0.02 * torch.randn(v.shape, generator=g)
        state[k] = v
    return state


@pytest.fixture(scope="module")
def inception_file(wdir, inception_state) -> Path:
    p = wdir / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(inception_state, p)
    return p


@pytest.fixture(scope="module")
def inception(inception_file):
    return get_extractor("inception_fid", resolution=299, weights_path=inception_file)


@pytest.fixture(scope="module")
def pytorch_fid_model(inception_state):
    """pytorch-fid's own FID InceptionV3 (pool3 block), its weight download redirected to our random state."""
    import pytorch_fid.inception as pfi

    calls = []

    def fake_download(url, *args, **kwargs):
        calls.append(url)
        return {k: v.clone() for k, v in inception_state.items()}

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pfi, "load_state_dict_from_url", fake_download)
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
        full = pfi.fid_inception_v3().eval()  # the whole torchvision net, for the logits
    assert calls == [pfi.FID_WEIGHTS_URL] * 2
    return model, full


def test_inception_outputs_and_shapes(inception):
    assert inception.name == "inception_fid" and inception.dim == 2048 and inception.resolution == 299
    assert inception.outputs == {"features": 2048, "logits": 1008}
    for shape in [(1, 1, 28, 28), (2, 3, 40, 56)]:
        out = inception.extract(images(shape))
        assert set(out) == set(inception.outputs)
        for key, dim in inception.outputs.items():
            assert out[key].shape == (shape[0], dim) and out[key].dtype == torch.float32
            assert out[key].device.type == "cpu" and torch.isfinite(out[key]).all()


def test_inception_pool3_equals_pytorch_fid(inception, pytorch_fid_model):
    """Same weights -> our uint8 path gives pytorch-fid's pool3 features for its [0,1] float input."""
    ref, _ = pytorch_fid_model
    x = images((2, 3, 64, 80), seed=1)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x).float().div(255))[0].flatten(1)  # what fid_score feeds: ToTensor()
    torch.testing.assert_close(inception.extract(x)["features"], expected, rtol=1e-5, atol=1e-6)
    # grayscale input == the RGB image PIL's convert("RGB") makes of it (pytorch-fid's dataset does that)
    g = images((1, 1, 299, 299), seed=2)
    with torch.no_grad():
        expected = ref(torch.from_numpy(np.repeat(g, 3, axis=1)).float().div(255))[0].flatten(1)
    torch.testing.assert_close(inception.extract(g)["features"], expected, rtol=1e-5, atol=1e-6)


def test_inception_logits_and_gradcam_head(inception, pytorch_fid_model):
    _, full = pytorch_fid_model
    x = images((1, 3, 50, 50), seed=3)
    out = inception.extract(x)
    with torch.no_grad():
        torch.testing.assert_close(out["logits"], full(inception.preprocess(x)), rtol=1e-5, atol=1e-5)
    # Grad-CAM: differentiable maps before pool3 and the head on top of them
    maps = inception.spatial_maps(inception.preprocess(x)).requires_grad_(True)
    assert maps.shape == (1, 2048, 8, 8)
    pooled, logits = inception.head(maps)
    torch.testing.assert_close(pooled.detach(), out["features"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits.detach(), out["logits"], rtol=1e-5, atol=1e-5)
    (grad,) = torch.autograd.grad(logits[:, 817].sum(), maps)
    assert grad.shape == maps.shape and grad.abs().sum() > 0


def test_inception_file_without_num_batches_tracked_loads(wdir, inception_state, inception):
    """Older state dicts lack BatchNorm's num_batches_tracked; pytorch-fid's strict load accepts them, so do we."""
    p = wdir / "old_style.pth"
    torch.save({k: v for k, v in inception_state.items() if not k.endswith("num_batches_tracked")}, p)
    e = get_extractor("inception_fid", weights_path=p)
    a, b = e.net.state_dict(), inception.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b if not k.endswith("num_batches_tracked"))


def test_inception_wrong_layout_is_named(wdir, inception_state):
    bad = dict(inception_state)
    bad["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's 1000-class head instead of the TF graph's 1008
    del bad["Mixed_7c.branch_pool.conv.weight"]
    bad["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    p = wdir / "wrong_layout.pth"
    torch.save({"state_dict": bad}, p)
    with pytest.raises(ExtractorError) as info:
        get_extractor("inception_fid", weights_path=p)
    msg = str(info.value)
    assert str(p) in msg
    assert "missing keys: Mixed_7c.branch_pool.conv.weight" in msg
    assert "unexpected keys: AuxLogits.fc.weight" in msg
    assert "fc.weight (1000, 2048) (expected (1008, 2048))" in msg
    assert "pt_inception-2015-12-05-6726825d.pth" in msg


def test_tf_class_mapping():
    tf = paper.INCEPTION_TF_CLASS
    assert sorted(tf) == list(range(1, 1001))
    names = imagenet_class_names()
    # Spot checks against the TF label map / the labels of kynkaat/role-of-imagenet-classes-in-fid,
    # including paper 2's fringe classes (Fig. 4b: bow tie, seat belt, mortarboard).
    known = {"tench": 449, "goldfish": 450, "kit fox": 1, "tabby": 174, "tiger cat": 55, "Persian cat": 10,
             "Siamese cat": 95, "Egyptian cat": 8, "bow tie": 817, "seat belt": 589, "mortarboard": 854,
             "lipstick": 867, "toilet tissue": 889}
    assert {n: tf[names.index(n)] for n in known} == known
    tf_names = paper.inception_class_names()
    assert len(tf_names) == 1008 and tf_names[0] == "background" and tf_names[1007] == "unused_1007"
    assert tf_names[817] == "bow tie" and sorted(tf_names[1:1001]) == sorted(names)
    logits = np.full((2, 1008), -5.0, dtype=np.float32)
    logits[0, 817], logits[1, 8] = 3.0, 4.0
    assert paper.inception_imagenet_logits(logits).argmax(-1).tolist() == [457, 285]
    mapped = paper.inception_imagenet_logits(torch.from_numpy(logits))
    assert isinstance(mapped, torch.Tensor) and mapped.shape == (2, 1000) and mapped.argmax(-1).tolist() == [457, 285]
    with pytest.raises(ExtractorError, match="1008"):
        paper.inception_imagenet_logits(np.zeros((1, 1000)))


# ============================================================================ clip_vit_b32

@pytest.fixture(scope="module")
def clip_ref():
    """A random-init open_clip ViT-B/32 (QuickGELU, as OpenAI's weights), with fp16-representable weights."""
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True).eval()
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.half().float())
    return model


@pytest.fixture(scope="module")
def clip_file(wdir, clip_ref) -> Path:
    # A DataParallel-style fp16 checkpoint wrapped in {"state_dict": ...}: all three must be accepted.
    p = wdir / "open_clip_vit_b_32.pt"
    torch.save({"state_dict": {f"module.{k}": v.half() for k, v in clip_ref.state_dict().items()}}, p)
    return p


@pytest.fixture(scope="module")
def clip(clip_file):
    return get_extractor("clip_vit_b32", resolution=224, weights_path=clip_file)


def test_clip_outputs_and_shapes(clip):
    assert clip.name == "clip_vit_b32" and clip.dim == 512 and clip.resolution == 224
    assert clip.outputs == {"features": 512}
    for shape in [(2, 1, 28, 28), (3, 3, 40, 56)]:
        out = clip.extract(images(shape))
        assert out["features"].shape == (shape[0], 512) and out["features"].dtype == torch.float32
    assert any(type(m).__name__ == "QuickGELU" for m in clip.visual.modules())


def test_clip_equals_open_clip_pipeline(clip, clip_ref):
    """Our uint8 path == open_clip's eval transform on PIL images followed by encode_image."""
    from open_clip import image_transform

    transform = image_transform(224, is_train=False)
    for shape, seed in [((2, 3, 300, 256), 4), ((1, 1, 64, 96), 5), ((1, 3, 224, 224), 6)]:
        x = images(shape, seed)
        ref_in = torch.stack([transform(to_pil(img)) for img in x])
        torch.testing.assert_close(clip.preprocess(x), ref_in, rtol=0, atol=1e-6)
        with torch.no_grad():
            expected = clip_ref.encode_image(ref_in)
        torch.testing.assert_close(clip.extract(x)["features"], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated; OpenAI's file is still such an archive
def test_clip_torchscript_archive_is_refused_with_conversion_hint(wdir):
    p = wdir / "ViT-B-32.pt"
    torch.jit.save(torch.jit.trace(torch.nn.Linear(2, 2), torch.zeros(1, 2)), p)
    with pytest.raises(ExtractorError, match="TorchScript archive") as info:
        get_extractor("clip_vit_b32", weights_path=p)
    assert "load_openai_model" in str(info.value) and str(p) in str(info.value)


def test_unwrap_state_dict():
    t = torch.zeros(2)
    assert paper.unwrap_state_dict({"a": t}) == {"a": t}
    assert paper.unwrap_state_dict({"state_dict": {"module.a": t, "module.b": t}}).keys() == {"a", "b"}
    assert paper.unwrap_state_dict({"module.a": t, "b": t}).keys() == {"module.a", "b"}  # only a common prefix
    with pytest.raises(ExtractorError, match="not named tensors"):
        paper.unwrap_state_dict({"a": t, "epoch": 3})
    with pytest.raises(ExtractorError, match="not a state dict"):
        paper.unwrap_state_dict([t])
    with pytest.raises(ExtractorError, match="empty"):
        paper.unwrap_state_dict({})


# ============================================================================ dinov2_vitb14

D, DEPTH, HEADS = 768, 12, 12


def official_dinov2_layout() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of facebookresearch's dinov2_vitb14_pretrain.pth (written out by hand, not taken from timm)."""
    shapes = {"cls_token": (1, 1, D), "pos_embed": (1, 1370, D), "mask_token": (1, D),
              "patch_embed.proj.weight": (D, 3, 14, 14), "patch_embed.proj.bias": (D,)}
    for i in range(DEPTH):
        b = f"blocks.{i}."
        shapes.update({
            b + "norm1.weight": (D,), b + "norm1.bias": (D,),
            b + "attn.qkv.weight": (3 * D, D), b + "attn.qkv.bias": (3 * D,),
            b + "attn.proj.weight": (D, D), b + "attn.proj.bias": (D,),
            b + "ls1.gamma": (D,),
            b + "norm2.weight": (D,), b + "norm2.bias": (D,),
            b + "mlp.fc1.weight": (4 * D, D), b + "mlp.fc1.bias": (4 * D,),
            b + "mlp.fc2.weight": (D, 4 * D), b + "mlp.fc2.bias": (D,),
            b + "ls2.gamma": (D,),
        })
    shapes.update({"norm.weight": (D,), "norm.bias": (D,)})
    return shapes


@pytest.fixture(scope="module")
def dinov2_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    state = {}
    for k, shape in official_dinov2_layout().items():
        if k.endswith("norm1.weight") or k.endswith("norm2.weight") or k == "norm.weight":
            v = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif k.endswith(".gamma"):
            v = 0.1 + 0.1 * torch.rand(shape, generator=g)
        else:
            v = 0.02 * torch.randn(shape, generator=g)
        state[k] = v
    return state


@pytest.fixture(scope="module")
def dinov2_file(wdir, dinov2_state) -> Path:
    p = wdir / "dinov2_vitb14_pretrain.pth"
    torch.save(dinov2_state, p)
    return p


RES = 112  # 8 x 8 patches keeps the CPU cost low; the code path is the one 224 px (16 x 16) takes


@pytest.fixture(scope="module")
def dinov2(dinov2_file):
    return get_extractor("dinov2_vitb14", resolution=RES, weights_path=dinov2_file)


def official_interpolate_pos_encoding(pos_embed, w, h, patch_size=14, interpolate_offset=0.1):
    """facebookresearch/dinov2 DinoVisionTransformer.interpolate_pos_encoding (hub defaults), transcribed."""
    N = pos_embed.shape[1] - 1
    pos_embed = pos_embed.float()
    class_pos_embed, patch_pos_embed = pos_embed[:, 0], pos_embed[:, 1:]
    dim = pos_embed.shape[-1]
    w0, h0 = w // patch_size, h // patch_size
    M = int(N**0.5)
    sx, sy = float(w0 + interpolate_offset) / M, float(h0 + interpolate_offset) / M
    patch_pos_embed = F.interpolate(patch_pos_embed.reshape(1, M, M, dim).permute(0, 3, 1, 2),
                                    mode="bicubic", antialias=False, scale_factor=(sx, sy))
    assert (w0, h0) == patch_pos_embed.shape[-2:]
    patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
    return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)


def official_dinov2_cls(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The official DINOv2 forward (x_norm_clstoken) in plain torch ops, independent of timm."""
    n, _, w, h = x.shape
    t = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=14).flatten(2).transpose(1, 2)
    t = torch.cat((sd["cls_token"].expand(n, -1, -1), t), dim=1)
    t = t + official_interpolate_pos_encoding(sd["pos_embed"], w, h)
    hd = D // HEADS
    for i in range(DEPTH):
        b = f"blocks.{i}."
        y = F.layer_norm(t, (D,), sd[b + "norm1.weight"], sd[b + "norm1.bias"], eps=1e-6)
        qkv = F.linear(y, sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"]).reshape(n, -1, 3, HEADS, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q * hd**-0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(n, -1, D)
        t = t + sd[b + "ls1.gamma"] * F.linear(y, sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"])
        y = F.layer_norm(t, (D,), sd[b + "norm2.weight"], sd[b + "norm2.bias"], eps=1e-6)
        y = F.linear(F.gelu(F.linear(y, sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"])),
                     sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"])
        t = t + sd[b + "ls2.gamma"] * y
    return F.layer_norm(t, (D,), sd["norm.weight"], sd["norm.bias"], eps=1e-6)[:, 0]


def test_dinov2_official_layout_loads_strictly_and_round_trips(dinov2, dinov2_state):
    back = dinov2.official_state_dict()
    assert set(back) == set(official_dinov2_layout())
    for k, v in dinov2_state.items():
        assert torch.equal(back[k], v), k
    torch.testing.assert_close(dinov2.net.pos_embed.detach(),
                               official_interpolate_pos_encoding(dinov2_state["pos_embed"], RES, RES), rtol=0, atol=0)
    for side in (224, 518):  # the standard input, and the checkpoint's own grid (no interpolation)
        torch.testing.assert_close(paper.dinov2_pos_embed(dinov2_state["pos_embed"], side // 14),
                                   official_interpolate_pos_encoding(dinov2_state["pos_embed"], side, side)
                                   if side != 518 else dinov2_state["pos_embed"], rtol=0, atol=0)


def test_dinov2_outputs_and_shapes(dinov2):
    assert dinov2.name == "dinov2_vitb14" and dinov2.dim == 768 and dinov2.resolution == RES
    assert dinov2.outputs == {"features": 768}
    for shape in [(1, 1, 28, 28), (2, 3, 40, 56)]:
        out = dinov2.extract(images(shape))
        assert out["features"].shape == (shape[0], 768) and out["features"].dtype == torch.float32


def test_dinov2_equals_official_forward_and_reference_preprocessing(dinov2, dinov2_state):
    import torchvision.transforms as T

    x = images((2, 3, 300, 256), seed=7)
    reference = T.Compose([T.Resize((RES, RES), interpolation=T.InterpolationMode.BICUBIC), T.ToTensor(),
                           T.Normalize(paper.IMAGENET_MEAN, paper.IMAGENET_STD)])
    ref_in = torch.stack([reference(to_pil(img)) for img in x])
    torch.testing.assert_close(dinov2.preprocess(x), ref_in, rtol=0, atol=1e-6)
    with torch.no_grad():
        expected = official_dinov2_cls(dinov2_state, ref_in)
    torch.testing.assert_close(dinov2.extract(x)["features"], expected, rtol=1e-4, atol=1e-4)


def test_dinov2_wrong_layout_is_named(wdir, dinov2_state):
    # e.g. the "with registers" variant, or a checkpoint saved at another resolution
    bad = {"cls_token": dinov2_state["cls_token"], "pos_embed": torch.zeros(1, 257, D),
           "register_tokens": torch.zeros(1, 4, D)}
    p = wdir / "dinov2_wrong.pth"
    torch.save(bad, p)
    with pytest.raises(ExtractorError) as info:
        get_extractor("dinov2_vitb14", weights_path=p)
    msg = str(info.value)
    assert "unexpected keys: register_tokens" in msg and "pos_embed (1, 257, 768) (expected (1, 1370, 768))" in msg
    assert "missing keys: patch_embed.proj.weight" in msg and "dinov2_vitb14_pretrain.pth" in msg


# ============================================================================ all three

PAPER = {
    "inception_fid": ("inception", "pt_inception-2015-12-05-6726825d.pth"),
    "clip_vit_b32": ("clip", "open_clip_pytorch_model.bin"),
    "dinov2_vitb14": ("dinov2", "dinov2_vitb14_pretrain.pth"),
}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_missing_weights_say_what_to_put_where(name, tmp_path):
    attr, official = PAPER[name]
    absent = tmp_path / "nowhere" / "weights.pth"
    with pytest.raises(MissingWeightsError) as info:
        get_extractor(name, weights_path=absent)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(absent) in msg and f"profiles.paper.weights.{attr}" in msg and official in msg

    # the path from the (validated) WeightsConfig, as features.py passes it, and the profile's key
    from beyondfid.config import WeightsConfig

    cfg = WeightsConfig(**{field: str(tmp_path / f"{field}_from_config.pth") for field in WeightsConfig.model_fields})
    with pytest.raises(MissingWeightsError, match=f"{attr}_from_config.pth") as info:
        get_extractor(name, weights=cfg, profile="mini")
    assert f"profiles.mini.weights.{attr}" in str(info.value)

    # nothing given: the default location under data/weights/, relative to root
    with pytest.raises(MissingWeightsError) as info:
        get_extractor(name, root=tmp_path)
    assert str(tmp_path / paper.DEFAULT_WEIGHTS[name]) in str(info.value)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_corrupt_files_give_clear_errors(name, tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint\x00\x01")
    with pytest.raises(ExtractorError, match="cannot read .* as a PyTorch state dict") as info:
        get_extractor(name, weights_path=garbage)
    assert str(garbage) in str(info.value) and "corrupted" in str(info.value)

    truncated = tmp_path / "truncated.pth"
    torch.save({"w": torch.zeros(10_000)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:20_000])
    with pytest.raises(ExtractorError, match="cannot read"):
        get_extractor(name, weights_path=truncated)

    pickled_module = tmp_path / "module.pth"  # a whole pickled nn.Module is refused by weights_only=True
    torch.save(torch.nn.Linear(2, 2), pickled_module)
    with pytest.raises(ExtractorError, match="weights_only=True"):
        get_extractor(name, weights_path=pickled_module)


@pytest.mark.parametrize("name,bad", [("inception_fid", 128), ("clip_vit_b32", 256), ("dinov2_vitb14", 100)])
def test_resolution_is_checked_before_anything_loads(name, bad, tmp_path):
    with pytest.raises(ExtractorError, match="features.resolution"):
        get_extractor(name, resolution=bad, weights_path=tmp_path / "absent.pth")
