"""Paper-profile feature extractors, loaded only from local weight files.

* ``inception_fid`` -- the TF-ported FID Inception-V3 exactly as ``pytorch-fid`` builds it
  (its ``FIDInceptionA/C/E_1/E_2`` blocks, 1008-way ``fc``) with the weights file
  ``pt_inception-2015-12-05-6726825d.pth``. Outputs ``features`` (2048, pool3) and
  ``logits`` (1008, in the TF graph's class order -- see below). ``spatial_maps``/``head``
  expose the 8x8x2048 ``Mixed_7c`` maps and pooling + classifier for Grad-CAM.
* ``clip_vit_b32`` -- OpenAI CLIP ViT-B/32 image encoder built with ``open_clip``
  (``features`` = the 512-d image embedding, not L2-normalised).
* ``dinov2_vitb14`` -- DINOv2 ViT-B/14 built with ``timm`` from the official
  ``dinov2_vitb14_pretrain.pth`` state dict (``features`` = the 768-d CLS token after the
  final norm, i.e. what ``torch.hub``'s ``dinov2_vitb14`` returns).

Nothing here downloads anything: the networks are built without weights (Inception with
``weights=None, init_weights=False``; CLIP and DINOv2 on the meta device) and the weights come
from the path in ``params.yaml`` (``profiles.<profile>.weights.*``), read with
``torch.load(path, map_location="cpu", weights_only=True)`` (a bare state dict or
``{"state_dict": ...}``, optional ``module.`` prefix), checked key by key and shape by shape,
and loaded strictly. A missing file raises :class:`MissingWeightsError` saying which file to
put where and which params key points at it; a corrupt or mismatched file raises
:class:`ExtractorError` naming the file and the offending keys.

Preprocessing reproduces each reference pipeline on uint8 input: pytorch-fid's (float
bilinear resize to 299, no antialiasing, ``2x - 1``), and for CLIP / DINOv2 the PIL pipelines
of open_clip / dgm-eval (Pillow bicubic resize image by image, so the result is bit-identical).

**Inception's 1008 logits.** The TF graph ``inception-2015-12-05`` has 1008 outputs: index 0
(an unused "background" slot) and 1001..1007 are no ImageNet class, and 1..1000 are the
ILSVRC-2012 classes in the order of TF's ``imagenet_2012_challenge_label_map_proto.pbtxt``
(shipped in the same TF tarball). That order is *not* the usual sorted-synset order (tench
is TF class 449, not 0), so neither ``logits[:, :1000]`` nor ``logits[:, 1:1001]`` lines up
with torchvision's class names. :data:`INCEPTION_TF_CLASS` gives, for each standard ImageNet index (the
torchvision order), its TF logit index; it was transcribed from that label-map file and
cross-checked entry by entry against the class list of the official code of "The Role of
ImageNet Classes in FID" (``kynkaat/role-of-imagenet-classes-in-fid``,
``data/imagenet-2012-labels.yml``), which names the 1008 logits directly; all 1000 agree.
Use :func:`inception_imagenet_logits` (1008 -> 1000, torchvision order) or
:func:`inception_class_names` (1008 names for the raw logits). ``logits`` stays 1008-d so
that FID-in-logit-space matches that paper's setup.

The heavy libraries (``pytorch_fid``, ``torchvision``, ``open_clip``, ``timm``) are imported
inside the factories, so importing :mod:`beyondfid.extractors` stays cheap.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import IMAGENET_MEAN, IMAGENET_STD, ExtractorError, MissingWeightsError, as_uint8_tensor, register, resolve_device

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip.OPENAI_DATASET_MEAN
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)  # open_clip.OPENAI_DATASET_STD

#: extractor name -> attribute of ``WeightsConfig`` (``profiles.<profile>.weights.<attr>``)
WEIGHTS_PARAM = {"inception_fid": "inception", "clip_vit_b32": "clip", "dinov2_vitb14": "dinov2"}

DEFAULT_WEIGHTS = {
    "inception_fid": "data/weights/pt_inception-2015-12-05-6726825d.pth",
    "clip_vit_b32": "data/weights/open_clip_vit_b_32.pt",
    "dinov2_vitb14": "data/weights/dinov2_vitb14_pretrain.pth",
}

#: Where each official file comes from (named, never fetched by this code).
OFFICIAL_SOURCE = {
    "inception_fid": (
        "`pt_inception-2015-12-05-6726825d.pth`: the FID Inception-V3 weights published by the pytorch-fid "
        "project (GitHub mseitzer/pytorch-fid, release 'fid_weights'; the file pytorch-fid itself downloads), "
        "a PyTorch port of TensorFlow's inception-2015-12-05 graph"
    ),
    "clip_vit_b32": (
        "an open_clip-layout state dict of OpenAI's CLIP ViT-B/32, e.g. `open_clip_pytorch_model.bin` from the "
        "Hugging Face Hub repository `timm/vit_base_patch32_clip_224.openai` (copy/rename it to this path). "
        "OpenAI's own `ViT-B-32.pt` is a TorchScript archive: convert it once with "
        "`m = open_clip.load_openai_model('ViT-B-32.pt', device='cpu'); torch.save(m.state_dict(), PATH)`"
    ),
    "dinov2_vitb14": (
        "`dinov2_vitb14_pretrain.pth`: the ViT-B/14 backbone weights released by Meta AI's "
        "facebookresearch/dinov2 repository (the file torch.hub's `dinov2_vitb14` loads)"
    ),
}

# For each standard ImageNet-1k index (sorted synsets = torchvision order), the index of the same
# class among the 1008 logits of the TF inception-2015-12-05 graph (see module docstring).
INCEPTION_TF_CLASS: tuple[int, ...] = (
    449, 450, 442, 443, 444, 445, 446, 383, 384, 385, 386, 387, 388, 389, 390, 391, 392, 393, 394, 395,
    396, 397, 398, 399, 400, 494, 495, 496, 497, 498, 499, 500, 501, 458, 459, 460, 461, 462, 463, 464,
    465, 466, 467, 468, 469, 470, 471, 472, 473, 475, 476, 474, 477, 478, 479, 480, 481, 482, 483, 484,
    485, 486, 487, 488, 489, 490, 491, 492, 493, 601, 602, 603, 604, 605, 606, 607, 608, 609, 610, 611,
    401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 419, 420,
    421, 214, 215, 217, 216, 213, 218, 647, 648, 649, 650, 651, 652, 653, 654, 655, 656, 226, 613, 614,
    615, 616, 617, 618, 619, 620, 612, 422, 423, 424, 425, 427, 426, 428, 429, 430, 438, 431, 432, 433,
    434, 435, 436, 437, 439, 440, 441, 6, 22, 193, 14, 173, 99, 87, 69, 116, 198, 43, 89, 200,
    98, 161, 132, 32, 180, 42, 18, 207, 181, 105, 77, 189, 20, 204, 63, 31, 66, 21, 25, 45,
    170, 119, 210, 107, 126, 88, 145, 59, 160, 152, 72, 33, 91, 4, 27, 113, 123, 36, 156, 109,
    158, 131, 26, 71, 56, 146, 144, 125, 176, 139, 134, 90, 2, 192, 154, 150, 94, 5, 19, 191,
    196, 117, 141, 68, 93, 51, 208, 184, 97, 29, 171, 124, 128, 47, 64, 211, 112, 187, 114, 86,
    115, 79, 130, 140, 110, 82, 17, 177, 149, 15, 3, 41, 127, 84, 143, 133, 60, 172, 179, 118,
    168, 148, 70, 197, 50, 106, 49, 151, 46, 205, 102, 28, 58, 155, 136, 202, 34, 62, 1, 159,
    67, 174, 55, 10, 95, 8, 11, 201, 85, 153, 30, 190, 76, 206, 61, 163, 103, 209, 74, 35,
    621, 622, 623, 624, 625, 626, 627, 628, 629, 630, 224, 631, 632, 633, 634, 635, 636, 637, 638, 639,
    640, 641, 642, 643, 644, 645, 646, 225, 657, 658, 188, 129, 164, 157, 13, 53, 183, 195, 101, 39,
    80, 147, 78, 120, 167, 108, 162, 165, 81, 52, 9, 65, 57, 12, 121, 186, 48, 23, 182, 40,
    212, 44, 16, 178, 38, 83, 104, 96, 185, 122, 73, 135, 137, 138, 203, 54, 100, 175, 142, 166,
    37, 111, 92, 199, 75, 194, 24, 7, 169, 447, 451, 448, 452, 453, 456, 457, 454, 455, 547, 853,
    896, 223, 345, 246, 230, 232, 677, 265, 264, 522, 688, 845, 752, 540, 847, 704, 767, 233, 907, 967,
    341, 718, 916, 307, 705, 683, 518, 905, 258, 807, 908, 296, 353, 785, 909, 884, 266, 733, 991, 849,
    777, 811, 933, 941, 254, 985, 835, 533, 839, 689, 252, 940, 805, 300, 706, 779, 538, 817, 716, 872,
    719, 949, 851, 820, 580, 833, 887, 707, 267, 673, 591, 539, 239, 377, 836, 576, 568, 891, 749, 563,
    548, 890, 929, 701, 241, 987, 342, 914, 827, 721, 902, 382, 762, 303, 335, 301, 801, 690, 695, 370,
    713, 797, 979, 761, 996, 674, 698, 583, 543, 708, 243, 268, 376, 347, 910, 881, 297, 545, 778, 898,
    298, 670, 756, 856, 865, 720, 313, 550, 959, 966, 523, 529, 315, 821, 667, 579, 715, 253, 897, 972,
    834, 336, 799, 1000, 662, 512, 346, 262, 316, 879, 660, 808, 796, 305, 235, 279, 919, 995, 356, 309,
    784, 261, 712, 934, 299, 256, 348, 671, 757, 280, 971, 567, 955, 275, 792, 276, 236, 337, 911, 227,
    684, 725, 703, 517, 581, 895, 249, 375, 840, 505, 551, 750, 573, 350, 344, 554, 369, 787, 696, 730,
    562, 802, 924, 293, 525, 980, 659, 592, 748, 269, 961, 963, 294, 560, 770, 773, 582, 918, 892, 814,
    228, 374, 988, 371, 687, 238, 546, 270, 244, 867, 973, 894, 508, 536, 697, 532, 818, 917, 782, 977,
    763, 338, 339, 781, 984, 598, 922, 946, 302, 717, 509, 661, 866, 875, 920, 880, 271, 251, 871, 829,
    290, 272, 764, 686, 869, 277, 824, 854, 691, 852, 260, 255, 728, 511, 599, 284, 588, 585, 595, 755,
    915, 552, 699, 354, 351, 520, 513, 333, 870, 937, 295, 506, 921, 826, 564, 584, 504, 759, 685, 352,
    877, 942, 994, 306, 527, 257, 679, 843, 732, 842, 850, 883, 783, 789, 575, 926, 722, 281, 596, 931,
    901, 888, 841, 565, 245, 983, 372, 693, 964, 731, 381, 378, 857, 923, 285, 855, 314, 788, 838, 566,
    373, 769, 556, 702, 542, 534, 572, 846, 939, 862, 976, 273, 860, 571, 863, 537, 927, 286, 570, 965,
    668, 578, 694, 219, 541, 310, 663, 997, 876, 519, 760, 753, 586, 952, 751, 938, 355, 809, 521, 962,
    221, 729, 510, 587, 379, 589, 559, 800, 709, 832, 950, 259, 380, 868, 747, 590, 776, 943, 549, 726,
    557, 507, 288, 278, 960, 222, 986, 577, 925, 822, 858, 515, 234, 676, 237, 600, 775, 274, 593, 804,
    263, 680, 340, 530, 998, 724, 528, 516, 514, 287, 957, 311, 692, 247, 794, 526, 574, 535, 810, 681,
    828, 837, 945, 569, 561, 531, 304, 250, 978, 675, 786, 944, 970, 989, 903, 758, 555, 308, 780, 664,
    710, 312, 594, 700, 282, 711, 289, 283, 766, 825, 291, 242, 597, 678, 882, 349, 765, 727, 544, 220,
    292, 334, 666, 874, 990, 969, 558, 790, 682, 343, 936, 665, 524, 928, 317, 231, 906, 669, 958, 819,
    795, 772, 502, 899, 912, 904, 935, 831, 503, 672, 951, 815, 723, 248, 240, 714, 553, 930, 791, 932,
    861, 774, 803, 754, 813, 844, 771, 793, 974, 968, 873, 768, 975, 993, 885, 734, 736, 737, 738, 739,
    740, 741, 742, 743, 744, 735, 745, 746, 318, 229, 319, 320, 321, 322, 323, 324, 325, 326, 816, 999,
    953, 864, 806, 948, 830, 900, 798, 947, 859, 823, 361, 992, 359, 365, 368, 366, 363, 364, 367, 360,
    362, 954, 848, 982, 330, 357, 358, 331, 327, 328, 332, 886, 913, 956, 893, 878, 812, 981, 329, 889,
)

_N_TF_LOGITS = 1008


# --------------------------------------------------------------------------- class indices

def inception_imagenet_logits(logits: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """TF-order Inception logits (..., 1008) -> the 1000 ImageNet classes in torchvision order (..., 1000).

    The background logit (0) and the unused ones (1001-1007) are dropped; the result can be fed
    to :func:`beyondfid.extractors.top_k` and named with ``imagenet_class_names()``.
    """
    if logits.shape[-1] != _N_TF_LOGITS:
        raise ExtractorError(f"expected TF Inception logits with {_N_TF_LOGITS} entries, got shape {tuple(logits.shape)}")
    if isinstance(logits, torch.Tensor):
        return logits[..., torch.as_tensor(INCEPTION_TF_CLASS, device=logits.device)]
    return np.asarray(logits)[..., np.asarray(INCEPTION_TF_CLASS)]


def inception_class_names() -> list[str]:
    """Names of the 1008 raw ``inception_fid`` logits: 'background', the ImageNet classes
    (torchvision's names) in TF order, and 'unused_1001'..'unused_1007'."""
    from .effnet import imagenet_class_names

    names = ["background"] + [""] * 1000 + [f"unused_{i}" for i in range(1001, _N_TF_LOGITS)]
    for tf_idx, name in zip(INCEPTION_TF_CLASS, imagenet_class_names()):
        names[tf_idx] = name
    return names


# --------------------------------------------------------------------------- weight files

def weights_file(
    name: str,
    weights_path: str | Path | None = None,
    weights: Any = None,
    root: str | Path | None = None,
) -> Path:
    """The local weight file of extractor ``name``.

    ``weights_path`` wins; otherwise the matching attribute of ``weights`` (a ``WeightsConfig``
    or a mapping, i.e. ``profiles.<profile>.weights``); otherwise the default path. A relative
    path is taken relative to ``root`` when given, else to the working directory.
    """
    if weights_path is None and weights is not None:
        attr = WEIGHTS_PARAM[name]
        weights_path = weights.get(attr) if isinstance(weights, Mapping) else getattr(weights, attr, None)
    p = Path(weights_path if weights_path is not None else DEFAULT_WEIGHTS[name]).expanduser()
    if root is not None and not p.is_absolute():
        p = Path(root) / p
    return p


def require_weights(name: str, path: Path, profile: str = "paper") -> None:
    """Raise :class:`MissingWeightsError` (what to put where) unless ``path`` is a file."""
    if path.is_file():
        return
    key = f"profiles.{profile}.weights.{WEIGHTS_PARAM[name]}"
    what = "is a directory, not a file" if path.is_dir() else "does not exist"
    raise MissingWeightsError(
        f"{name} needs the local weight file {path} (absolute path: {path.resolve()}), which {what}. "
        f"Put {OFFICIAL_SOURCE[name]} at that path, or point the params.yaml key `{key}` at the file. "
        "beyondfid never downloads weights (see README, 'Paper profile')."
    )


def _is_torchscript_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def load_state_dict_file(path: Path, name: str) -> dict[str, torch.Tensor]:
    """Read a plain state dict with ``weights_only=True``; unwrap ``{"state_dict": ...}`` and a ``module.`` prefix."""
    if _is_torchscript_archive(path):
        raise ExtractorError(
            f"{name}: {path} is a TorchScript archive, not a state dict, and beyondfid only loads plain state "
            f"dicts (torch.load(..., weights_only=True)). Use {OFFICIAL_SOURCE[name]}."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file; re-raised with context
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        raise ExtractorError(
            f"{name}: cannot read {path} as a PyTorch state dict ({type(e).__name__}: {msg}). The file is truncated "
            "or corrupted, or it pickles objects other than tensors (only torch.load(..., weights_only=True) is "
            f"allowed). Replace it with {OFFICIAL_SOURCE[name]}."
        ) from e
    return unwrap_state_dict(obj, f"{name}: {path}")


def unwrap_state_dict(obj: Any, where: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Accept a bare state dict or ``{"state_dict": sd}``; strip a ``module.`` prefix (DataParallel)."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ExtractorError(
            f"{where} holds {'an empty mapping' if isinstance(obj, Mapping) else 'a ' + type(obj).__name__}, "
            "not a state dict (a mapping from parameter names to tensors)"
        )
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ExtractorError(f"{where} is not a plain state dict: entries {bad[:5]} are not named tensors")
    state = dict(obj)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def check_layout(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, tuple[int, ...]],
    where: str,
    official: str,
    optional: tuple[str, ...] = (),
) -> None:
    """Raise a readable :class:`ExtractorError` unless ``state`` has exactly the expected keys and shapes."""
    missing = [k for k in expected if k not in state and k not in optional]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k])})"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k])
    ]
    if not (missing or unexpected or wrong):
        return
    parts = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)):
        if items:
            more = f", ... ({len(items)} in all)" if len(items) > 5 else ""
            parts.append(f"{label}: {', '.join(items[:5])}{more}")
    raise ExtractorError(
        f"{where} does not have the expected state-dict layout ({'; '.join(parts)}). "
        f"It has {len(state)} entries, the network expects {len(expected)}. Expected {official}."
    )


def _load_into(module: nn.Module, state: Mapping[str, torch.Tensor], where: str, official: str,
               optional: tuple[str, ...] = (), assign: bool = False) -> None:
    """Check the layout, then ``load_state_dict(strict=True)``.

    ``assign=True`` is for modules built on the meta device (no wasted random init): the
    file's tensors become the parameters, cast to float32 first.
    """
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_layout(state, expected, where, official, optional)
    if assign:
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        module.load_state_dict(state, strict=True, assign=assign)
    except RuntimeError as e:  # e.g. a dtype that cannot be copied; the layout itself was checked above
        raise ExtractorError(f"{where}: loading failed: {str(e).splitlines()[0]}") from e
    if assign:
        left = [n for n, t in (*module.named_parameters(), *module.named_buffers()) if t.is_meta]
        if left:  # a tensor the state dict does not cover (e.g. a non-persistent buffer)
            raise ExtractorError(f"{where}: tensors {left[:5]} were not initialised by the state dict")


def _import_error(name: str, e: ImportError) -> ExtractorError:
    return ExtractorError(
        f"{name} needs the optional dependencies of the [paper] extra ({e.name or e}); "
        "install them with `pip install -e '.[paper]'`"
    )


def _frozen(module: nn.Module, device: torch.device) -> nn.Module:
    module = module.eval().to(device)
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _pil_bicubic(images: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 NCHW -> uint8 NCHW resized to ``size`` (h, w) with Pillow's bicubic filter, image by image.

    This is exactly what torchvision's ``Resize(..., BICUBIC)`` does to the PIL images of the
    CLIP / DINOv2 reference pipelines (Pillow antialiases when shrinking and rounds each of
    its two separable passes to uint8, which torch's ``interpolate`` cannot reproduce).
    """
    from PIL import Image

    t = as_uint8_tensor(images)
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    h, w = size
    arr = t.detach().cpu().permute(0, 2, 3, 1).contiguous().numpy()  # NHWC
    out = np.empty((arr.shape[0], h, w, arr.shape[3]), dtype=np.uint8)
    for i, a in enumerate(arr):
        im = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)  # mode "L" or "RGB"
        out[i] = np.asarray(im.resize((w, h), Image.Resampling.BICUBIC)).reshape(h, w, -1)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def _to_rgb01(images: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    x = as_uint8_tensor(images).to(device).float().div(255.0)  # == torchvision ToTensor
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def _normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


# --------------------------------------------------------------------------- Inception (FID)

def build_fid_inception() -> nn.Module:
    """pytorch-fid's FID Inception-V3 architecture with *no* weights (``fid_inception_v3`` minus the download).

    torchvision's Inception3 (1008 classes, no aux head, no weight init) with the FID-specific
    blocks swapped in exactly as ``pytorch_fid.inception.fid_inception_v3`` does.
    """
    import torchvision
    from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=_N_TF_LOGITS,
                                          init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


class FIDInceptionV3(nn.Module):
    """The FID Inception-V3: ``features`` = pool3 (2048), ``logits`` = 1008 TF-order logits.

    Preprocessing is pytorch-fid's: uint8 -> [0,1] (``ToTensor``), gray -> RGB, bilinear resize
    to 299x299 (``align_corners=False``, no antialiasing), then ``2x - 1``.
    """

    name = "inception_fid"
    dim = 2048
    resolution = 299

    def __init__(self, weights_path: str | Path, device: str = "cpu") -> None:
        super().__init__()
        self.outputs = {"features": 2048, "logits": _N_TF_LOGITS}
        self.device = resolve_device(device)
        self.weights_path = Path(weights_path)
        state = load_state_dict_file(self.weights_path, self.name)
        try:
            net = build_fid_inception()
        except ImportError as e:
            raise _import_error(self.name, e) from e
        # Files written before BatchNorm had `num_batches_tracked` lack those keys; torch fills them in.
        optional = tuple(k for k in net.state_dict() if k.endswith("num_batches_tracked"))
        _load_into(net, state, f"{self.name}: {self.weights_path}", OFFICIAL_SOURCE[self.name], optional)
        self.net = _frozen(net, self.device)

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = _to_rgb01(images, self.device)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)  # pytorch-fid resize_input
        return 2 * x - 1  # pytorch-fid normalize_input: (0, 1) -> (-1, 1)

    def spatial_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed batch -> ``Mixed_7c`` feature maps (N, 2048, 8, 8), the input of pool3."""
        n = self.net
        x = n.maxpool1(n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x))))
        x = n.maxpool2(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)))
        for block in (n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d,
                      n.Mixed_6e, n.Mixed_7a, n.Mixed_7b, n.Mixed_7c):
            x = block(x)
        return x

    def head(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature maps -> (pool3 features, 1008 logits); dropout is inactive in eval mode."""
        pooled = F.adaptive_avg_pool2d(maps, (1, 1)).flatten(1)
        return pooled, self.net.fc(pooled)

    @staticmethod
    def class_names() -> list[str]:
        """Names of the 1008 ``logits`` (see :func:`inception_class_names`)."""
        return inception_class_names()

    @torch.no_grad()
    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        pooled, logits = self.head(self.spatial_maps(self.preprocess(images)))
        return {"features": pooled.float().cpu(), "logits": logits.float().cpu()}


# --------------------------------------------------------------------------- CLIP ViT-B/32

class _DropNoPretrainedWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


class CLIPViTB32(nn.Module):
    """open_clip's ViT-B/32 image tower; ``features`` = the 512-d image embedding (not L2-normalised).

    ``quick_gelu=True`` (default) is the architecture of OpenAI's weights, the CLIP the papers
    use; set it to False for GELU-trained checkpoints such as LAION's ``laion2b_s34b_b79k``.
    The activation is not recorded in a state dict, so a mismatch cannot be detected and would
    silently give wrong features.

    Preprocessing is CLIP's (open_clip ``image_transform(224, is_train=False)``): shorter side
    resized to 224 with Pillow's bicubic filter, centre crop 224x224, CLIP mean/std.
    """

    name = "clip_vit_b32"
    dim = 512
    resolution = 224

    def __init__(self, weights_path: str | Path, device: str = "cpu", quick_gelu: bool = True) -> None:
        super().__init__()
        self.outputs = {"features": 512}
        self.device = resolve_device(device)
        self.weights_path = Path(weights_path)
        self.quick_gelu = bool(quick_gelu)
        state = load_state_dict_file(self.weights_path, self.name)
        try:
            import open_clip
        except ImportError as e:
            raise _import_error(self.name, e) from e
        root_logger = logging.getLogger()
        quiet = _DropNoPretrainedWarning()
        root_logger.addFilter(quiet)
        try:  # built on the meta device: every weight comes from the file, none is initialised in vain
            with torch.device("meta"):
                model = open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=self.quick_gelu,
                                               device="meta")
        finally:
            root_logger.removeFilter(quiet)
        where = f"{self.name}: {self.weights_path}"
        if all(k.startswith("visual.") for k in state):  # an image-tower-only checkpoint
            state = {k[len("visual."):]: v for k, v in state.items()}
        else:  # a whole CLIP: check and load the whole layout, keep the image tower
            check_layout(state, {k: tuple(v.shape) for k, v in model.state_dict().items()}, where,
                         OFFICIAL_SOURCE[self.name])
            state = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
        _load_into(model.visual, state, where, OFFICIAL_SOURCE[self.name], assign=True)
        self.visual = _frozen(model.visual, self.device)  # the text tower is not needed

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        t = as_uint8_tensor(images)
        h, w = t.shape[-2:]
        r = self.resolution
        # torchvision Resize(r): shorter side -> r, longer side -> int(r * long / short)
        size = (r, int(r * w / h)) if h <= w else (int(r * h / w), r)
        t = _pil_bicubic(t, size)
        top, left = int(round((size[0] - r) / 2.0)), int(round((size[1] - r) / 2.0))  # CenterCrop(r)
        x = _to_rgb01(t[..., top : top + r, left : left + r], self.device)
        return _normalize(x, CLIP_MEAN, CLIP_STD)

    @torch.no_grad()
    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": self.visual(self.preprocess(images)).float().cpu()}


# --------------------------------------------------------------------------- DINOv2 ViT-B/14

DINOV2_PATCH = 14
DINOV2_POS_TOKENS = 1370  # 1 + 37 x 37 patches: the official checkpoint's 518 px grid


def dinov2_pos_embed(pos_embed: torch.Tensor, grid: int, offset: float = 0.1) -> torch.Tensor:
    """Official ``DinoVisionTransformer.interpolate_pos_encoding`` for a square ``grid x grid`` patch grid.

    torch.hub's DINOv2 models use bicubic interpolation with the historical ``+0.1`` offset in
    the scale factor and no antialiasing; timm's own resampling differs slightly, so the
    official rule is applied once here, for the fixed input resolution.
    """
    n = pos_embed.shape[1] - 1
    m = int(round(n**0.5))
    if m * m != n:
        raise ExtractorError(f"DINOv2 pos_embed must hold 1 + a square number of tokens, got {pos_embed.shape[1]}")
    if grid == m:
        return pos_embed
    dim = pos_embed.shape[-1]
    cls_pos, patch_pos = pos_embed[:, :1].float(), pos_embed[:, 1:].float()
    scale = float(grid + offset) / m
    patch_pos = F.interpolate(patch_pos.reshape(1, m, m, dim).permute(0, 3, 1, 2), scale_factor=(scale, scale),
                              mode="bicubic", antialias=False)
    if tuple(patch_pos.shape[-2:]) != (grid, grid):
        raise ExtractorError(f"DINOv2 pos_embed interpolation gave {tuple(patch_pos.shape[-2:])}, expected {(grid, grid)}")
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat((cls_pos, patch_pos), dim=1)  # float32, as the official forward uses it


class DINOv2ViTB14(nn.Module):
    """DINOv2 ViT-B/14 (timm ``vit_base_patch14_dinov2``) from the official state dict.

    The official layout equals timm's except for ``mask_token`` (unused at inference; kept for
    :meth:`official_state_dict`) and ``pos_embed``, stored for the 518 px grid and interpolated
    here to ``resolution`` with the official rule (:func:`dinov2_pos_embed`).
    ``features`` = CLS token after the final norm (768). Preprocessing (as in dgm-eval's DINOv2
    encoder): resize to ``resolution`` x ``resolution`` with Pillow's bicubic filter, ImageNet mean/std.
    """

    name = "dinov2_vitb14"
    dim = 768

    def __init__(self, weights_path: str | Path, resolution: int = 224, device: str = "cpu") -> None:
        super().__init__()
        self.resolution = int(resolution)
        self.outputs = {"features": 768}
        self.device = resolve_device(device)
        self.weights_path = Path(weights_path)
        state = load_state_dict_file(self.weights_path, self.name)
        try:
            import timm
        except ImportError as e:
            raise _import_error(self.name, e) from e
        with torch.device("meta"):  # no random init: every weight comes from the file (assign=True below)
            net = timm.create_model("vit_base_patch14_dinov2", pretrained=False, num_classes=0,
                                    img_size=self.resolution)
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        expected["pos_embed"] = (1, DINOV2_POS_TOKENS, net.embed_dim)
        expected["mask_token"] = (1, net.embed_dim)
        where = f"{self.name}: {self.weights_path}"
        check_layout(state, expected, where, OFFICIAL_SOURCE[self.name], optional=("mask_token",))
        self._official_extra = {k: state[k].detach().clone() for k in ("pos_embed", "mask_token") if k in state}
        mapped = {k: v for k, v in state.items() if k != "mask_token"}
        mapped["pos_embed"] = dinov2_pos_embed(state["pos_embed"], self.resolution // DINOV2_PATCH)
        _load_into(net, mapped, where, OFFICIAL_SOURCE[self.name], assign=True)
        self.net = _frozen(net, self.device)

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """The loaded weights back in the official facebookresearch key layout (CPU tensors)."""
        sd = {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
        sd.update({k: v.clone() for k, v in self._official_extra.items()})
        return sd

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = _to_rgb01(_pil_bicubic(images, (self.resolution, self.resolution)), self.device)
        return _normalize(x, IMAGENET_MEAN, IMAGENET_STD)

    @torch.no_grad()
    def extract(self, images: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": self.net(self.preprocess(images)).float().cpu()}


# --------------------------------------------------------------------------- factories

def _fixed_resolution(name: str, resolution: int | None, native: int, why: str) -> None:
    if resolution is not None and int(resolution) != native:
        raise ExtractorError(f"{name} runs at {native} px ({why}); got resolution={resolution}. "
                             f"Set features.resolution: {native} in params.yaml.")


@register("inception_fid")
def _inception_fid(resolution: int | None = None, device: str = "cpu", weights_path: str | Path | None = None,
                   weights: Any = None, root: str | Path | None = None, profile: str = "paper",
                   **_: object) -> FIDInceptionV3:
    _fixed_resolution("inception_fid", resolution, 299, "pytorch-fid resizes every image to 299 x 299")
    path = weights_file("inception_fid", weights_path, weights, root)
    require_weights("inception_fid", path, profile)
    return FIDInceptionV3(path, device=device)


@register("clip_vit_b32")
def _clip_vit_b32(resolution: int | None = None, device: str = "cpu", weights_path: str | Path | None = None,
                  weights: Any = None, root: str | Path | None = None, profile: str = "paper",
                  quick_gelu: bool = True, **_: object) -> CLIPViTB32:
    _fixed_resolution("clip_vit_b32", resolution, 224, "CLIP ViT-B/32's positional embedding is for 224 x 224")
    path = weights_file("clip_vit_b32", weights_path, weights, root)
    require_weights("clip_vit_b32", path, profile)
    return CLIPViTB32(path, device=device, quick_gelu=quick_gelu)


@register("dinov2_vitb14")
def _dinov2_vitb14(resolution: int | None = None, device: str = "cpu", weights_path: str | Path | None = None,
                   weights: Any = None, root: str | Path | None = None, profile: str = "paper",
                   **_: object) -> DINOv2ViTB14:
    res = 224 if resolution is None else int(resolution)
    if res % DINOV2_PATCH or res < 2 * DINOV2_PATCH:
        raise ExtractorError(f"dinov2_vitb14 needs a resolution that is a multiple of {DINOV2_PATCH} px "
                             f"(224 is standard), got {resolution}; set features.resolution in params.yaml")
    path = weights_file("dinov2_vitb14", weights_path, weights, root)
    require_weights("dinov2_vitb14", path, profile)
    return DINOv2ViTB14(path, resolution=res, device=device)
