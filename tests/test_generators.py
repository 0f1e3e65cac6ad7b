"""Tests for the diffusion maths and the zoo's generator architectures."""

from __future__ import annotations


import math

import numpy as np
import pytest
import torch

from beyondfid.zoo import diffusion, generators
from beyondfid.zoo.diffusion import DiffusionError
from beyondfid.zoo.generators import GeneratorError


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- image conversions


def test_model_space_round_trip_is_exact_and_pads_black() -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 1, 28, 28), dtype=np.uint8)
    x = generators.to_model_space(imgs)
    assert x.shape == (5, 1, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    border = torch.ones_like(x, dtype=torch.bool)
    border[:, :, 2:30, 2:30] = False
    assert torch.all(x[border] == -1.0)  # padding is black, like the AnimalShape background
    np.testing.assert_array_equal(generators.to_uint8(x), imgs)


def test_conversions_reject_bad_input() -> None:
    with pytest.raises(GeneratorError, match="uint8"):
        generators.to_model_space(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(GeneratorError, match="shape"):
        generators.to_model_space(np.zeros((2, 3, 28, 28), np.uint8))
    with pytest.raises(GeneratorError, match="NaN"):
        generators.to_uint8(torch.full((1, 1, 32, 32), float("nan")))


# ---------------------------------------------------------------- diffusion maths


def test_cosine_schedule_is_monotone_and_matches_closed_form() -> None:
    T, s = 1000, 0.008
    ab = diffusion.cosine_alpha_bar(T)
    assert ab.shape == (T,) and torch.all(ab[1:] < ab[:-1]) and ab[-1] > 0 and ab[0] < 1
    f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    # away from the clipped tail the product of (1 - beta) telescopes to f(t)/f(0)
    for t in (0, 10, 500, 900):
        assert ab[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-9)
    with pytest.raises(DiffusionError):
        diffusion.cosine_alpha_bar(1)


def test_q_sample_has_the_forward_marginal() -> None:
    ab = diffusion.cosine_alpha_bar(100)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000, 1), 0.7)
    t = torch.full((20000,), 40)
    xt = diffusion.q_sample(x0, t, torch.randn(x0.shape, generator=g), ab)
    a = ab[40].item()
    assert xt.mean().item() == pytest.approx(math.sqrt(a) * 0.7, abs=0.02)
    assert xt.var().item() == pytest.approx(1 - a, rel=0.05)


def test_ddim_timesteps() -> None:
    assert diffusion.ddim_timesteps(1000, 1) == [999]
    ts = diffusion.ddim_timesteps(1000, 25)
    assert ts[0] == 999 and ts[-1] == 0 and len(ts) == 25 and ts == sorted(ts, reverse=True)
    with pytest.raises(DiffusionError):
        diffusion.ddim_timesteps(10, 11)


def test_ddim_with_the_exact_denoiser_reproduces_a_single_training_point() -> None:
    """For data = {x*}, the optimal eps-predictor makes DDIM land exactly on x*, from any noise."""
    ab = diffusion.cosine_alpha_bar(1000)
    g = torch.Generator().manual_seed(1)
    target = torch.rand(1, 1, 4, 4, generator=g) * 2 - 1
    oracle = diffusion.empirical_eps_oracle(target, ab)
    out = diffusion.ddim_sample(oracle, torch.randn(6, 1, 4, 4, generator=g), ab, n_steps=10)
    torch.testing.assert_close(out, target.expand(6, -1, -1, -1), atol=1e-5, rtol=0)


def test_ddim_with_the_empirical_oracle_copies_training_points() -> None:
    """The exact minimiser of the eps loss on a finite set generates (near-)copies of that set:
    every sample's nearest training point is much closer than the training points are to each other."""
    ab = diffusion.cosine_alpha_bar(1000)
    g = torch.Generator().manual_seed(2)
    data = torch.rand(8, 1, 6, 6, generator=g) * 2 - 1
    oracle = diffusion.empirical_eps_oracle(data, ab)
    out = diffusion.ddim_sample(oracle, torch.randn(32, 1, 6, 6, generator=g), ab, n_steps=50)
    d = torch.cdist(out.flatten(1), data.flatten(1))
    nearest = d.min(1).values
    spread = torch.cdist(data.flatten(1), data.flatten(1))
    spread = spread[~torch.eye(8, dtype=torch.bool)].min()
    assert nearest.max() < 0.05 * spread
    assert len(set(d.argmin(1).tolist())) >= 4  # it copies several different training points


def test_ddim_on_gaussian_data_recovers_its_variance() -> None:
    """Data ~ N(0, s^2 I): E[eps|x_t] = sqrt(1-a) x_t / (a s^2 + 1 - a); DDIM maps N(0, I) to ~N(0, s^2 I)."""
    ab = diffusion.cosine_alpha_bar(1000)
    s2 = 0.25

    def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = ab.to(x.dtype)[t.long()].view(-1, 1)
        return (1 - a).sqrt() * x / (a * s2 + 1 - a)

    g = torch.Generator().manual_seed(3)
    out = diffusion.ddim_sample(oracle, torch.randn(8000, 1, generator=g, dtype=torch.float64), ab, 100, clip=None)
    assert out.var().item() == pytest.approx(s2, rel=0.06)
    assert abs(out.mean().item()) < 0.03


def test_eps_loss_is_zero_for_the_exact_denoiser_of_one_point() -> None:
    ab = diffusion.cosine_alpha_bar(1000)
    x0 = torch.linspace(-1, 1, 16).view(1, 1, 4, 4).expand(5, -1, -1, -1).contiguous()
    oracle = diffusion.empirical_eps_oracle(x0[:1], ab)
    loss = diffusion.eps_loss(oracle, x0, ab, torch.Generator().manual_seed(0))
    assert loss.item() < 1e-8
    zero = diffusion.eps_loss(lambda x, t: torch.zeros_like(x), x0, ab, torch.Generator().manual_seed(0))
    assert zero.item() == pytest.approx(1.0, abs=0.3)  # E||eps||^2 per pixel = 1


def test_ddim_rejects_nan_noise() -> None:
    ab = diffusion.cosine_alpha_bar(10)
    with pytest.raises(DiffusionError, match="NaN"):
        diffusion.ddim_sample(lambda x, t: x, torch.full((1, 2), float("nan")), ab, 2)


# ---------------------------------------------------------------- architectures


@pytest.mark.parametrize("depth,s2d", [(1, 2), (2, 2), (3, 2), (2, 1)])
def test_unet_shapes_and_zero_initial_output(depth: int, s2d: int) -> None:
    torch.manual_seed(0)
    net = generators.UNet(8, (1,) + (2,) * (depth - 1), n_res=1, space_to_depth=s2d)
    x = torch.randn(3, 1, 32, 32)
    out = net(x, torch.tensor([0.0, 10.0, 999.0]))
    assert out.shape == x.shape
    assert torch.all(out == 0)  # zero-initialised output layer: initial prediction eps = 0


def test_unet_uses_time_and_is_wider_when_asked() -> None:
    torch.manual_seed(0)
    net = generators.UNet(8, (1, 2), n_res=1)
    torch.nn.init.normal_(net.out.weight)
    x = torch.randn(2, 1, 32, 32)
    assert not torch.allclose(net(x, torch.tensor([0.0, 0.0])), net(x, torch.tensor([500.0, 500.0])))
    small, large = generators.UNet(16, (1, 2, 2)), generators.UNet(32, (1, 2, 2))
    ratio = generators.n_params(large) / generators.n_params(small)
    assert 3.0 < ratio < 4.5  # 2x width ~ 4x parameters
    with pytest.raises(GeneratorError):
        generators.UNet(8, (1, 2, 2, 2, 2), space_to_depth=4)


def test_dit_unpatchify_inverts_patch_layout() -> None:
    """With identity-like embedding/head, the un-patchify must put every patch back in place."""
    torch.manual_seed(0)
    dit = generators.DiT(dim=16, depth=1, heads=2, patch=4)
    with torch.no_grad():
        dit.embed.weight.zero_()
        dit.embed.bias.zero_()
        for k in range(16):  # token channel k <- pixel k of the 4x4 patch
            dit.embed.weight[k, 0, k // 4, k % 4] = 1.0
        dit.pos.zero_()
        dit.head.weight.copy_(torch.eye(16))
        dit.head.bias.zero_()
    # blocks and final adaLN start as the identity (zero gates), LayerNorm is the only change:
    # undo it by checking equality up to the per-token normalisation
    x = torch.randn(2, 1, 32, 32)
    out = dit(x, torch.tensor([1.0, 2.0]))
    patches = x.unfold(2, 4, 4).unfold(3, 4, 4).reshape(2, 8, 8, 16)
    normed = torch.nn.functional.layer_norm(patches, (16,), eps=1e-6)
    expected = normed.reshape(2, 8, 8, 4, 4).permute(0, 1, 3, 2, 4).reshape(2, 1, 32, 32)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_dcgan_shapes_and_range() -> None:
    torch.manual_seed(0)
    G, D = generators.DCGANGenerator(16, 8), generators.DCGANDiscriminator(8)
    img = G(torch.randn(4, 16))
    assert img.shape == (4, 1, 32, 32) and img.abs().max() <= 1
    assert D(img).shape == (4,)


def test_projected_discriminator_is_frozen_but_passes_gradients() -> None:
    torch.manual_seed(0)
    D = generators.ProjectedDiscriminator(base=8, resolution=64, proj_channels=4)
    G = generators.FastGANGenerator(z_dim=8, base=4)
    # the ImageNet backbone is neither trained nor saved; the CCM/CSM projections are saved but fixed
    assert not any("_frozen" in k for k in D.state_dict())
    assert any(k.startswith("project.ccm") for k in D.state_dict())
    trainable = {n for n, p in D.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("discs.") for n in trainable)
    D.train()
    assert not D.backbone._frozen.training  # train() does not unfreeze the backbone's BatchNorm
    img = G(torch.randn(3, 8))
    feats = D.features(img)
    # CCM/CSM shapes: channels (c, c, 2c, 4c) at twice the backbone's 1/4 .. 1/32 resolutions of 64 px
    assert [tuple(f.shape[1:]) for f in feats] == [(4, 32, 32), (4, 16, 16), (8, 8, 8), (16, 4, 4)]
    logits = D.heads(feats)
    assert logits.shape == (3, 25 + 25 + 25 + 1)  # 5x5 logit maps down to 8x8; the 4x4 scale gives one logit
    (-logits.mean()).backward()
    frozen = list(D.backbone._frozen.parameters()) + list(D.project.parameters())
    assert all(p.grad is None for p in frozen)  # no gradient ever reaches the frozen parts ...
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)  # ... but it reaches G through them
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in D.discs.parameters())
    # frozen stage 0 equals the effnet_lite0 extractor's own stem + blocks 0-2 on the same preprocessed input
    from beyondfid.extractors.effnet import EfficientNetLite

    ref = EfficientNetLite(resolution=64).net
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    rgb = torch.nn.functional.interpolate(((x + 1) / 2).expand(-1, 3, -1, -1), size=(64, 64), mode="bilinear",
                                          align_corners=False)
    h = ref._swish(ref._bn0(ref._conv_stem((rgb - D.backbone.mean) / D.backbone.std)))
    for blk in ref._blocks[:3]:
        h = blk(h)
    torch.testing.assert_close(D.backbone(x)[0], h)
    with pytest.raises(GeneratorError, match="multiple of 32"):
        generators.ProjectedDiscriminator(resolution=48)


def test_random_projection_mixes_scales_top_down() -> None:
    """CSM: a coarse scale reaches every finer output; a fine scale never reaches a coarser one."""
    torch.manual_seed(0)
    proj = generators.RandomProjection((3, 5, 7, 9), c=2)
    assert proj.channels == (2, 2, 4, 8) and not any(p.requires_grad for p in proj.parameters())
    feats = [torch.randn(1, c, s, s, requires_grad=True) for c, s in zip((3, 5, 7, 9), (16, 8, 4, 2))]
    out = proj(feats)
    assert [tuple(o.shape[1:]) for o in out] == [(2, 32, 32), (2, 16, 16), (4, 8, 8), (8, 4, 4)]
    for i, o in enumerate(out):
        grads = torch.autograd.grad(o.sum(), feats, allow_unused=True, retain_graph=True)
        reached = [g is not None and g.abs().sum() > 0 for g in grads]
        assert reached == [j >= i for j in range(4)], (i, reached)


def test_fastgan_generator_shapes_range_and_skip_excitation() -> None:
    torch.manual_seed(0)
    G = generators.FastGANGenerator(z_dim=16, base=4)
    img = G(torch.randn(5, 16))
    assert img.shape == (5, 1, 32, 32) and img.abs().max() <= 1
    # skip-layer excitation: the 4x4 map gates the 16x16 map's channels (values in (0, 1))
    f4 = G.init(torch.randn(2, 16, 1, 1))
    gates = G.se16.net(f4)
    assert gates.shape == (2, 8, 1, 1) and bool(((gates > 0) & (gates < 1)).all())


def test_uvit_long_skips_connect_mirrored_blocks_and_start_at_zero() -> None:
    torch.manual_seed(0)
    net = generators.UViT(dim=16, depth=5, heads=2, patch=4)
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([3.0, 700.0])
    assert torch.all(net(x, t) == 0)  # zero head, zero final bias: initial prediction eps = 0
    seen_in, seen_skip = [], []
    for b in net.in_blocks:
        b.register_forward_hook(lambda m, i, o: seen_in.append(o.detach().clone()))
    for b in net.out_blocks:
        b.register_forward_hook(lambda m, i, o: seen_skip.append(i[1].detach().clone()))
    net(x, t)
    assert len(seen_in) == len(seen_skip) == 2
    torch.testing.assert_close(seen_skip[0], seen_in[1])  # first out block <- last in block
    torch.testing.assert_close(seen_skip[1], seen_in[0])
    assert seen_in[0].shape == (2, 1 + 64, 16)  # time token + 8x8 patch tokens
    torch.nn.init.normal_(net.head.weight)
    assert not torch.allclose(net(x, t), net(x, torch.tensor([600.0, 5.0])))  # the time token is used
    with pytest.raises(GeneratorError, match="odd"):
        generators.UViT(dim=16, depth=4)


def test_class_conditional_unet_uses_labels_and_a_null_label() -> None:
    torch.manual_seed(0)
    net = generators.UNet(8, (1, 2), n_classes=3)
    torch.nn.init.normal_(net.out.weight)
    x, t = torch.randn(2, 1, 32, 32), torch.tensor([100.0, 100.0])
    a, b = net(x, t, torch.tensor([0, 0])), net(x, t, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)
    torch.testing.assert_close(net(x, t), net(x, t, torch.tensor([3, 3])))  # no labels = the null label
    with pytest.raises(GeneratorError, match="unconditional"):
        generators.UNet(8, (1, 2))(x, t, torch.tensor([0, 1]))


def test_guidance_interpolates_conditional_and_unconditional() -> None:
    def model(x, t, y):  # eps depends on the label only: eps_c = y, eps_u = null = 10
        return x * 0 + y.view(-1, 1, 1, 1).to(x.dtype)

    x, t, y = torch.zeros(2, 1, 4, 4), torch.zeros(2), torch.tensor([1, 4])
    for w, expected in ((1.0, [1.0, 4.0]), (0.0, [10.0, 10.0]), (2.0, [10.0 + 2 * (1 - 10), 10.0 + 2 * (4 - 10)])):
        out = diffusion.guided(model, y, null=10, scale=w)(x, t)
        torch.testing.assert_close(out[:, 0, 0, 0], torch.tensor(expected, dtype=torch.float32))
    with pytest.raises(DiffusionError):
        diffusion.guided(model, y, null=10, scale=-1.0)


def test_vae_kl_matches_monte_carlo_and_decodes_in_range() -> None:
    torch.manual_seed(0)
    vae = generators.ConvVAE(z_dim=4, base=8)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    _, parts = vae.loss(x, torch.Generator().manual_seed(0))
    mu, logvar = vae.encode(x)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl_ref = torch.distributions.kl_divergence(q, p).sum(1).mean().item()
    assert parts["kl"] == pytest.approx(kl_ref, rel=1e-4)
    out = vae.decode(torch.randn(5, 4))
    assert out.shape == (5, 1, 32, 32) and out.min() >= -1 and out.max() <= 1
