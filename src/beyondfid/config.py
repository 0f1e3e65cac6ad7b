"""Typed, validated configuration loaded from ``params.yaml``.

``params.yaml`` has a top-level ``profile`` key (``smoke`` | ``mini`` | ``paper``), a
``data_root`` key (the prepare stage's DVC dependency, see :data:`BUILTIN_DATA_ROOT`) and one
section per profile under ``profiles``. Everything is validated once, at load, for every
profile (a typo in ``profiles.paper`` fails while running smoke): an unknown key, a wrong type,
an impossible value or an inconsistent pair of values raises :class:`ConfigError` with one
line naming the key(s), before any work starts. The stage scripts print that line and exit 2.

Only the profile name travels through DVC and papermill (as a string), so the usual traps
(DVC rendering booleans as ``true``, lists that cannot be interpolated) never arise: notebooks
and scripts call :func:`load_config` and receive typed objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROFILES = ("smoke", "mini", "paper")
MINI_DATASETS = ("animals", "digits", "photos")
#: ``data_root`` of the builtin profiles: their images are built by this module from installed
#: packages, and DVC needs an input path that every clone has (``data/`` is not in git).
BUILTIN_DATA_ROOT = "src/beyondfid/data.py"


class ConfigError(ValueError):
    """A parameter in params.yaml is missing, unknown, mistyped or impossible."""


class FieldError(ValueError):
    """A cross-field check failed; ``fields`` are the offending keys relative to the validated section."""

    def __init__(self, fields: tuple[str, ...] | list[str], message: str) -> None:
        self.fields, self.message = tuple(fields), message
        super().__init__(f"{', '.join(self.fields)}: {message}")  # names the fields when raised outside a load


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _csv(value: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in value.split(",") if s.strip())
    if not items:
        raise ValueError("must name at least one item (comma-separated)")
    return items


class DataConfig(_Strict):
    """Where the images come from and how many are used."""

    source: Literal["builtin", "folders"] = Field(
        description="builtin: mini datasets built from PyPI packages; folders: user image folders under `root`"
    )
    root: str = Field("data/paper", description="paper profile: folder holding one sub-folder per distribution")
    animals_n: int = Field(0, ge=0, description="AnimalShape images to keep (0 = all 10,000)")
    digits_n: int = Field(0, ge=0, description="sklearn digits to keep (0 = all 1,797)")
    image_size: int = Field(
        256, ge=0, le=2048,
        description="photos: side of the centre-cropped sample photos (>= 32); folders: common side images are "
        "centre-cropped/resized to (0 = keep the native size, which must then be uniform)",
    )
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="held-out fraction for train/val splits")
    skip_corrupt: bool = Field(False, description="folders: skip unreadable images (counted) instead of failing")
    folders: str = Field("", description="folders: comma-separated distribution folder names to index")

    @model_validator(mode="after")
    def _folders_need_names(self) -> "DataConfig":
        if self.source == "folders" and not self.folders.strip():
            raise FieldError(("folders",), "must list the distribution folders when data.source is 'folders'")
        return self

    @model_validator(mode="after")
    def _photo_size(self) -> "DataConfig":
        if self.source == "builtin" and self.image_size < 32:
            raise FieldError(("image_size",), f"must be >= 32 for the builtin photos, got {self.image_size}")
        return self

    @property
    def folder_names(self) -> tuple[str, ...]:
        return _csv(self.folders)


class WeightsConfig(_Strict):
    """Local weight files for the paper-profile extractors (never downloaded)."""

    inception: str = Field(description="FID Inception-V3 weights (pytorch-fid's pt_inception-2015-12-05 file)")
    clip: str = Field(description="open_clip ViT-B-32 state dict")
    dinov2: str = Field(description="DINOv2 ViT-B/14 state dict in the official key layout")


class FeaturesConfig(_Strict):
    """Which feature spaces are extracted and cached."""

    extractor: str = Field("effnet_lite0", description="registered extractor name")
    resolution: int = Field(128, ge=4, le=1024, description="network input side in pixels (extractors may require more)")
    batch_size: int = Field(
        512, ge=1, le=65536,
        description="images loaded per step (= cache shard size); features do not depend on it",
    )
    datasets: str = Field("animals,digits,photos", description="comma-separated datasets to extract")
    device: Literal["cpu", "cuda", "auto"] = "cpu"

    @field_validator("datasets")
    @classmethod
    def _datasets_nonempty(cls, v: str) -> str:
        _csv(v)
        return v

    @field_validator("extractor")
    @classmethod
    def _registered(cls, v: str) -> str:
        from .extractors.base import core_extractors  # the core registry (imports torch, not the zoo)

        names = core_extractors()
        if v not in names:
            raise ValueError(f"unknown extractor {v!r}; the features stage has {', '.join(names)}")
        return v

    @property
    def dataset_names(self) -> tuple[str, ...]:
        return _csv(self.datasets)


class OverviewConfig(_Strict):
    grid_n: int = Field(64, ge=4, le=1024, description="images per dataset grid")
    top_classes: int = Field(15, ge=1, le=1000, description="bars in the Top-1 class histogram")


class FincColoredConfig(_Strict):
    """FINC Fig. 1: a test set with a fraction of coloured images vs an all-gray reference."""

    datasets: str = Field(description="comma-separated grayscale datasets to run on (e.g. digits,animals)")
    max_images: int = Field(ge=4, description="images drawn from each dataset before splitting into test/ref halves")
    fraction: float = Field(ge=0.0, le=1.0, description="fraction of the test half that is coloured")
    rff_dim: int = Field(ge=1, description="r: random Fourier frequencies (2r features)")
    eta: float = Field(ge=0.0, description="η in C_X − η·C_Y")
    top_k: int = Field(ge=1, description="modes requested")
    top_samples: int = Field(ge=1, description="samples per mode used to score and show a mode")
    modes_scored: int = Field(ge=1, description="the colored fraction is reported over the top this-many modes")

    @property
    def dataset_names(self) -> tuple[str, ...]:
        return _csv(self.datasets)


class FincNoveltyConfig(_Strict):
    """FINC's AFHQ-vs-ImageNet-dogs novelty experiment (and its swap)."""

    test: str = Field(description="dataset whose novel modes are sought (mini: animals; paper: e.g. afhq)")
    ref: str = Field(description="reference dataset (mini: animals again, split into disjoint halves; paper: e.g. imagenet_dogs)")
    ref_missing: str = Field(description="when test == ref: comma-separated classes removed from the reference half")
    rff_dim: int = Field(ge=1)
    eta: float = Field(ge=0.0)
    top_k: int = Field(ge=1)
    top_samples: int = Field(ge=1)

    @property
    def missing_names(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.ref_missing.split(",") if x.strip())


SCALABILITY_METHODS = ("finc", "ken", "rarity", "fld")


class FincScalabilityConfig(_Strict):
    """FINC Table 1: time and peak memory against sample count (FINC, KEN, Rarity, FLD on CPU)."""

    sizes: str = Field(description="comma-separated sample counts n per set (test and reference), increasing")
    methods: str = Field("finc,ken,rarity,fld", description="comma-separated methods: finc, ken, rarity, fld")
    real_dataset: str = Field(description="cached features used as real inputs (synthetic ones of the same "
                                          "dimension beyond half its size); must be in features.datasets")
    rff_dim: int = Field(ge=1, le=100_000, description="FINC's r (2r random Fourier features)")
    time_cap_s: float | None = Field(None, gt=0.0, le=604_800.0,
                                     description="the baselines' per-run time cap in seconds (the paper's 24 h); "
                                                 "give this or time_cap_reference")
    time_cap_reference: float | None = Field(
        None, gt=0.0, le=1e9,
        description="the baselines' time cap as a multiple of a reference float32 GEMM timed in the same run "
                    "(beyondfid.machine), so the table does not depend on the machine's speed; FINC is never capped")
    memory_cap_gb: float = Field(gt=0.0, le=4096.0, description="per-run cap on extra resident memory, GB (1e9 bytes)")
    threads: int = Field(ge=1, le=1024, description="torch/BLAS threads of every measured run")

    @model_validator(mode="after")
    def _one_time_cap(self) -> "FincScalabilityConfig":
        if (self.time_cap_s is None) == (self.time_cap_reference is None):
            raise ValueError("set exactly one of time_cap_s (seconds) and time_cap_reference (multiples of the "
                             "reference GEMM measured in the run)")
        return self

    @field_validator("sizes")
    @classmethod
    def _sizes_increasing(cls, v: str) -> str:
        try:
            ns = [int(s) for s in _csv(v)]
        except ValueError:
            raise ValueError(f"sizes must be comma-separated integers, e.g. '1000,10000', got {v!r}") from None
        if any(n < 4 for n in ns):
            raise ValueError(f"every size must be >= 4 (Rarity needs more than k = 3 reference rows), got {ns}")
        if ns != sorted(set(ns)):
            raise ValueError(f"sizes must be strictly increasing, got {ns}")
        return v

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, v: str) -> str:
        names = _csv(v)
        unknown = [m for m in names if m not in SCALABILITY_METHODS]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"methods must be distinct names from {', '.join(SCALABILITY_METHODS)}, got {v!r}")
        return v

    @property
    def size_list(self) -> tuple[int, ...]:
        return tuple(int(s) for s in _csv(self.sizes))

    @property
    def method_names(self) -> tuple[str, ...]:
        return _csv(self.methods)


EvalFeature = Literal["effnet", "ssl_contrastive", "ssl_masked"]


class FincModelBiasConfig(_Strict):
    """FINC Fig. 3 on the zoo: each generator's over-represented modes vs real_heldout, and class-skew controls."""

    feature: EvalFeature = Field(description="zoo_eval feature key FINC runs on (effnet = the profile's extractor)")
    rff_dim: int = Field(ge=1, description="r: random Fourier frequencies (2r features)")
    eta: float = Field(ge=0.0, description="η in C_X − η·C_Y")
    top_k: int = Field(ge=1, description="modes requested")
    top_samples: int = Field(ge=1, description="top samples per mode (scored against the classifier labels, shown)")
    modes_shown: int = Field(ge=1, description="modes per model in the figure and the table")
    skew_factor: float = Field(gt=0.0, description="controls: the planted class is this many times as frequent")
    skew_classes: str = Field(description="controls: comma-separated class names planted in turn ('' = every class)")

    @property
    def skew_class_names(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.skew_classes.split(",") if x.strip())


class FincMemorizationConfig(_Strict):
    """FINC Fig. 11 on the zoo: memorized clusters of the memorizer beside their nearest real_train images."""

    feature: EvalFeature = Field(description="zoo_eval feature key FINC runs on (effnet = the profile's extractor)")
    rff_dim: int = Field(ge=1)
    eta: float = Field(ge=0.0)
    top_k: int = Field(ge=1)
    top_samples: int = Field(ge=1, description="top samples per mode (copy share is measured on these)")
    modes_shown: int = Field(ge=1, description="modes shown in the figure")
    samples_shown: int = Field(ge=1, description="samples per mode shown (each above its nearest training image)")
    copy_ratio: float = Field(gt=0.0, le=1.0, description="a sample is a copy if d1 < copy_ratio * d2 (NN ratio test)")
    contrast_model: str = Field(description="a non-memorizing zoo model run the same way for contrast")

    @field_validator("contrast_model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        if v not in MODELS or v == "memorizer":
            raise ValueError(f"contrast_model must be a zoo model other than memorizer ({', '.join(MODELS)}), got {v!r}")
        return v


# --------------------------------------------------------------------------------------
# The model zoo (issue 4): generators, self-supervised encoders, domain classifier
# --------------------------------------------------------------------------------------

# Zoo model names are roles: on the paper profile each role reads a folder of the papers' samples.
MODELS = ("ddpm_s", "ddpm_l", "dit", "uvit", "gan", "projected_gan", "memorizer", "vae", "ddpm_cond")
ENCODERS = ("ssl_contrastive", "ssl_masked", "classifier")
Family = Literal["unet_ddpm", "dit", "uvit", "dcgan", "projected_gan", "vae", "folder"]
FAMILY_OF = {"ddpm_s": "unet_ddpm", "ddpm_l": "unet_ddpm", "dit": "dit", "uvit": "uvit", "gan": "dcgan",
             "projected_gan": "projected_gan", "memorizer": "unet_ddpm", "vae": "vae", "ddpm_cond": "unet_ddpm"}
#: Zoo models whose samples carry labels from the generator's conditioning (``labels`` in samples.npz).
CONDITIONAL_MODELS = ("ddpm_cond",)


class EncoderConfig(_Strict):
    """Training hyper-parameters shared by both encoders."""

    n_steps: int = Field(400, ge=1, le=1_000_000, description="optimisation steps")
    batch_size: int = Field(128, ge=4, le=4096, description="images per step")
    lr: float = Field(0.001, gt=0.0, le=1.0, description="AdamW peak learning rate (linear warm-up, cosine decay)")
    warmup_steps: int = Field(20, ge=0, le=100_000)
    weight_decay: float = Field(0.05, ge=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    ckpt_every: int = Field(200, ge=1, le=1_000_000)
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="forward passes: bf16 autocast where "
                                                                            "native (auto), or fixed")


class ContrastiveConfig(EncoderConfig):
    """SimCLR encoder (``profiles.<p>.zoo.ssl_contrastive``)."""

    width: int = Field(32, ge=4, le=256, description="CNN channels of the first stage; features are 4*width-d")
    proj_dim: int = Field(64, ge=4, le=1024, description="output dimension of the projection head")
    temperature: float = Field(0.2, gt=0.0, le=10.0, description="NT-Xent temperature tau")
    crop_scale_min: float = Field(0.5, gt=0.0, le=1.0, description="random resized crop: min area fraction")
    max_rotation_deg: float = Field(15.0, ge=0.0, le=180.0)
    max_translate: float = Field(0.1, ge=0.0, le=0.5, description="shift as a fraction of the image side")
    hflip: bool = Field(True, description="random left-right flips")


class MaskedConfig(EncoderConfig):
    """MAE encoder (``profiles.<p>.zoo.ssl_masked``)."""

    patch: int = Field(4, ge=1, le=28, description="patch side; must divide 28")
    dim: int = Field(96, ge=8, le=1024, description="encoder token width = feature dimension")
    depth: int = Field(3, ge=1, le=24)
    heads: int = Field(4, ge=1, le=32)
    decoder_dim: int = Field(64, ge=8, le=1024)
    decoder_depth: int = Field(1, ge=1, le=24)
    mask_ratio: float = Field(0.75, gt=0.0, lt=1.0, description="fraction of patches hidden from the encoder")
    norm_pix_loss: bool = Field(False, description="normalise each target patch to zero mean / unit variance")



class ClassifierConfig(_Strict):
    """Hyper-parameters of the domain classifier (``profiles.<p>.zoo.classifier``)."""

    width: int = Field(16, ge=4, le=256, description="channels of the first conv stage (x2, x4 later)")
    n_steps: int = Field(500, ge=1, le=1_000_000, description="optimisation steps")
    batch_size: int = Field(128, ge=2, le=4096)
    lr: float = Field(0.003, gt=0.0, le=1.0, description="AdamW learning rate (cosine decay to 0)")
    weight_decay: float = Field(0.0001, ge=0.0, le=1.0)
    max_translate: float = Field(0.08, ge=0.0, le=0.5, description="augmentation: shift as a fraction of the side")
    hflip: bool = Field(True, description="augmentation: random left-right flips (animals face either way)")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    ckpt_every: int = Field(200, ge=1, le=1_000_000)
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="forward passes: bf16 autocast where "
                                                                            "native (auto), or fixed")


class GeneratorConfig(_Strict):
    """One generator: architecture, optimisation and sampling. Fields a family does not use are ignored."""

    family: Family = Field(description="unet_ddpm | dit | uvit | dcgan | projected_gan | vae | folder (paper profile: read the samples from `folder` instead of training)")
    folder: str = Field("", description="family folder: image folder of the samples, relative to data.root")
    candidates_folder: str = Field("", description="family folder: optional folder of the candidate pool")
    width: int = Field(32, ge=4, le=1024, description="UNet base channels / DiT & U-ViT token dim / GAN & VAE base channels")
    depth: int = Field(3, ge=1, le=32, description="UNet resolution levels / DiT blocks / U-ViT blocks (odd)")
    heads: int = Field(4, ge=1, le=32, description="DiT / U-ViT attention heads")
    patch: int = Field(4, ge=1, le=32, description="U-ViT patch side (DiT uses 4)")
    z_dim: int = Field(64, ge=1, le=4096, description="GAN / VAE latent size")
    steps: int = Field(ge=1, le=10_000_000, description="optimisation steps")
    batch_size: int = Field(64, ge=2, le=8192)
    lr: float = Field(2.0e-4, gt=0.0, le=1.0, description="Adam learning rate")
    warmup: int = Field(0, ge=0, le=1_000_000, description="linear learning-rate warm-up steps")
    ema: float = Field(0.0, ge=0.0, lt=1.0, description="diffusion: EMA decay of the sampled weights (0 = off)")
    timesteps: int = Field(1000, ge=2, le=100_000, description="diffusion: T of the cosine schedule")
    sample_steps: int = Field(25, ge=1, le=10_000, description="diffusion: DDIM steps")
    beta: float = Field(1.0, gt=0.0, le=100.0, description="VAE: KL weight")
    feature_resolution: int = Field(64, ge=32, le=512, description="projected_gan: EfficientNet input side (multiple of 32)")
    proj_channels: int = Field(32, ge=1, le=1024, description="projected_gan: CCM width c (scales get c, 2c, 4c, 8c)")
    class_cond: bool = Field(False, description="diffusion UNet: condition on the class label (class embedding added "
                                                "to the time embedding)")
    label_dropout: float = Field(0.1, ge=0.0, lt=1.0, description="class_cond: share of training labels replaced by "
                                                                  "the null label (enables classifier-free guidance)")
    guidance: float = Field(1.0, ge=0.0, le=20.0, description="class_cond: classifier-free guidance scale w in "
                                                              "eps_u + w (eps_c - eps_u); 1 = plain conditional")
    n_labelled: int = Field(0, ge=0, le=10_000_000, description="class_cond: size of the labelled sample set "
                                                                "(labelled.npz; class-balanced)")
    n_classes: int = Field(10, ge=2, le=100_000, description="class_cond: number of classes (must match the "
                                                             "training split's labels)")
    diffaug: bool = Field(False, description="GANs: DiffAugment translation + cutout on real and fake images before D "
                                             "(as Projected GANs use)")
    train_subset: int = Field(0, ge=0, le=10_000_000, description="train on this many images (0 = all of real_train)")
    n_samples: int = Field(ge=1, le=10_000_000, description="samples written to samples.npz")
    candidate_factor: int = Field(0, ge=0, le=1000, description="GANs: candidate pool of factor x n_samples (0 = none)")
    n_snapshots: int = Field(0, ge=0, le=1000, description="GANs: evenly spaced training snapshots with samples")
    snapshot_samples: int = Field(0, ge=0, le=10_000_000, description="samples per snapshot")
    bn_samples: int = Field(4096, ge=1, le=10_000_000,
                            description="GANs: latents used to fix the generator's BatchNorm statistics for sampling")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto: bfloat16 mixed precision where the CPU computes bf16 natively (AVX512-BF16/AMX), "
                            "else float32 (beyondfid.zoo.training.autocast)")

    @model_validator(mode="after")
    def _consistent(self) -> "GeneratorConfig":
        if self.n_snapshots and not self.snapshot_samples:
            raise FieldError(("n_snapshots", "snapshot_samples"), "n_snapshots > 0 needs snapshot_samples > 0")
        if self.n_snapshots > self.steps:
            raise FieldError(("n_snapshots", "steps"), f"n_snapshots={self.n_snapshots} exceeds steps={self.steps}")
        if self.family in ("dit", "uvit") and self.width % (2 * self.heads):
            raise FieldError(("width", "heads"),
                             f"{self.family} width {self.width} must be a multiple of 2*heads={2 * self.heads}")
        if self.family == "uvit" and (self.depth % 2 == 0 or 32 % self.patch):
            raise FieldError(("depth", "patch"), f"U-ViT needs an odd depth (in, mid, out blocks) and a patch dividing 32, "
                                                 f"got depth={self.depth}, patch={self.patch}")
        if self.family == "projected_gan" and self.feature_resolution % 32:
            raise FieldError(("feature_resolution",),
                             f"feature_resolution must be a multiple of 32, got {self.feature_resolution}")
        if (self.class_cond or self.n_labelled) and self.family != "unet_ddpm":
            raise FieldError(("class_cond", "n_labelled"), "class_cond / n_labelled are for the diffusion UNet (family unet_ddpm)")
        if self.n_labelled and not self.class_cond:
            raise FieldError(("n_labelled", "class_cond"),
                             "n_labelled > 0 needs class_cond: true (labels come from the conditioning)")
        if self.family == "unet_ddpm" and (self.width % 2 or self.depth > 3):
            raise FieldError(("width", "depth"), f"UNet needs an even width and depth <= 3 on 16x16 folded images, "
                                                 f"got {self.width}/{self.depth}")
        if self.family == "folder" and not self.folder:
            raise FieldError(("folder",), "family 'folder' needs `folder` (the sample folder under data.root)")
        if self.train_subset and self.train_subset < self.batch_size:
            raise FieldError(("train_subset", "batch_size"),
                             f"train_subset={self.train_subset} is smaller than batch_size={self.batch_size}")
        return self


class ZooConfig(_Strict):
    """``profiles.<profile>.zoo``: splits, checkpointing and one :class:`GeneratorConfig` per model."""

    split_seed: int = Field(0, ge=0, le=2**31 - 1)
    heldout_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of the real animals held out")
    ckpt_every: int = Field(200, ge=1, le=10_000_000, description="steps between checkpoints")
    sample_batch: int = Field(500, ge=1, le=100_000, description="images per sampling forward pass")
    real: str = Field("animals", description="labelled dataset (from the prepare stage) that is split and trained on")
    models: dict[str, GeneratorConfig]
    ssl_contrastive: ContrastiveConfig | None = Field(description="SimCLR encoder; null = not trained (paper profile)")
    ssl_masked: MaskedConfig | None = Field(description="MAE encoder; null = not trained (paper profile)")
    classifier: ClassifierConfig | None = Field(description="domain classifier; null = not trained (paper profile)")

    @model_validator(mode="after")
    def _known_models(self) -> "ZooConfig":
        unknown = sorted(set(self.models) - set(MODELS))
        if unknown:
            raise FieldError([f"models.{m}" for m in unknown], f"unknown zoo model(s); the zoo has {', '.join(MODELS)}")
        for name, cfg in self.models.items():
            if cfg.family not in (FAMILY_OF[name], "folder"):
                raise FieldError((f"models.{name}.family",),
                                 f"must be {FAMILY_OF[name]!r} (or 'folder'), got {cfg.family!r}")
            if cfg.family != "folder" and cfg.class_cond != (name in CONDITIONAL_MODELS):
                raise FieldError((f"models.{name}.class_cond",), f"must be {name in CONDITIONAL_MODELS} "
                                 f"(the conditional zoo models are {', '.join(CONDITIONAL_MODELS)})")
        return self



# --------------------------------------------------------------------------------------
# Paper 2: the role of ImageNet classes in FID (issues 11-12; beyondfid.fidclasses)
# --------------------------------------------------------------------------------------

def _floats(value: str, name: str) -> tuple[float, ...]:
    try:
        return tuple(float(s) for s in _csv(value))
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {value!r}") from None


def _ints(value: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in _csv(value))
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers, got {value!r}") from None


class FidClassesConfig(_Strict):
    """``profiles.<p>.fidclasses``: the sets and sizes every ``fid_*`` stage shares."""

    real: str = Field("real_train", description="real set FID is computed against (the paper: the training set)")
    heldout: str = Field("real_heldout", description="real images the attacks never see (transfer check)")
    generated: str = Field("gan", description="the generated model (StyleGAN2's stand-in)")
    pool: str = Field("gan_candidates", description="candidate pool of the same model for the attacks (5x)")
    projected: str = Field("projected_gan", description="the model with an ImageNet-pretrained discriminator")
    eval_size: int = Field(ge=3, description="generated images per FID (the paper's 50k)")
    second_opinion: str = Field(description="comma-separated second-opinion spaces (FID_CLIP's role); first = primary")
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @property
    def second_opinion_names(self) -> tuple[str, ...]:
        return _csv(self.second_opinion)


class FidFeaturesConfig(_Strict):
    """``profiles.<p>.fid_features``: what the ``fid_features`` stage extracts beyond zoo_eval."""

    sibling: str = Field(description="a second ImageNet network (mini: effnet_lite1; paper: inception_torchvision)")
    sibling_weights: str = Field("", description="local weight file of the sibling if it needs one (paper profile)")
    sibling_real: int = Field(ge=3, description="rows of fidclasses.real that get sibling features")
    sibling_generated: int = Field(ge=3, description="rows of fidclasses.generated that get sibling features")
    compare_n: int = Field(ge=3, description="images per model in the projected-GAN comparison (Fig. 7)")
    classifier_seeds: str = Field("", description="extra seeds of the zoo's domain classifier (instance analogue); "
                                                  "'' = none")

    @property
    def classifier_seed_list(self) -> tuple[int, ...]:
        return _ints(self.classifier_seeds, "classifier_seeds") if self.classifier_seeds.strip() else ()

    @field_validator("classifier_seeds")
    @classmethod
    def _seeds(cls, v: str) -> str:
        if v.strip():
            _ints(v, "classifier_seeds")
        return v


class FidHeatmapsConfig(_Strict):
    """``profiles.<p>.fid_heatmaps`` (paper 2, Sec. 2, Figs 2-4, 10-12)."""

    n_show: int = Field(ge=1, description="single-image heatmaps shown (Figs 3, 11), first rows of the eval set")
    classes_shown: int = Field(ge=1, description="frequent Top-1 classes with mean images/heatmaps (Figs 4b, 12)")
    mask_threshold: int = Field(128, ge=1, le=255, description="silhouette mask: gray value >= this")
    top_fraction: float = Field(0.25, gt=0.0, lt=1.0, description="IoU of the top this-fraction of pixels")
    noise_images: int = Field(ge=3, description="Fig. 10: generated images noised (first rows of the eval set)")
    noise_scales: str = Field(description="Fig. 10: comma-separated noise std devs (pixel range [0, 1])")
    timing_images: int = Field(ge=1, description="images timed at 128 vs 224 px (map-size decision)")

    @field_validator("noise_scales")
    @classmethod
    def _scales(cls, v: str) -> str:
        if any(x <= 0 for x in _floats(v, "noise_scales")):
            raise ValueError("noise_scales must be positive")
        return v

    @property
    def noise_scale_list(self) -> tuple[float, ...]:
        return _floats(self.noise_scales, "noise_scales")


class FidSensitivityConfig(_Strict):
    """``profiles.<p>.fid_sensitivity`` (paper 2, App. A-B, Figs 8-9)."""

    sample_counts: str = Field(description="Fig. 8a: comma-separated n (n real + n generated)")
    all_generated: int = Field(ge=3, description="Fig. 8a's 'All + 50k' row: every real image + this many generated")
    seeds: int = Field(ge=2, description="evaluations with different random subsets")
    instance_n: int = Field(ge=3, description="Fig. 8b: n real + n generated per evaluation (from the sibling sets)")

    @property
    def sample_count_list(self) -> tuple[int, ...]:
        return _ints(self.sample_counts, "sample_counts")


class FidResamplingConfig(_Strict):
    """``profiles.<p>.fid_resampling`` (paper 2, Sec. 3, Tables 1-3, Figs 5-6, Algorithm 1)."""

    method: Literal["gd", "adam", "mirror", "lbfgs"] = Field(description="optimiser (benchmarks/resampling.py)")
    max_iter: int = Field(ge=1, le=1_000_000)
    tol: float = Field(ge=0.0, description="stop when FID fell by less than this (relative) over `patience` iterations")
    patience: int = Field(10, ge=1)
    dtype: Literal["float32", "float64"] = "float32"
    draws: int = Field(ge=1, description="Table 2: draws of eval_size with replacement per evaluation (mean +- std)")
    min_of: int = Field(3, ge=1, description="the official protocol's min over this many draws")
    checkpoints: int = Field(ge=1, description="iterates scored with the official min-of-draws protocol")
    top1_evals: int = Field(ge=1, description="Table 1: evaluations (independent matchings)")
    kid_evals: int = Field(ge=1, description="Table 3: KID evaluations")
    kid_subsets: int = Field(ge=1)
    kid_subset_size: int = Field(ge=2)
    top_n: str = Field(description="Fig. 6: comma-separated N for Top-N / middle-N matching")
    top_n_draws: int = Field(ge=1, description="Fig. 6: draws per N")
    top_n_max_iter: int = Field(ge=1, le=1_000_000, description="Fig. 6: iteration cap of each Top-N optimisation")
    weight_share: float = Field(0.1, gt=0.0, lt=0.5, description="Fig. 5: lowest / highest share of weights shown")
    grid_n: int = Field(64, ge=4, le=1024)

    @property
    def top_n_list(self) -> tuple[int, ...]:
        return _ints(self.top_n, "top_n")


class FidProjectedConfig(_Strict):
    """``profiles.<p>.fid_projected`` (paper 2, Sec. 4, Fig. 7)."""

    grid_n: int = Field(64, ge=4, le=1024)
    pr_k: int = Field(3, ge=1, le=100, description="k of improved precision/recall")


class FidSchematicConfig(_Strict):
    """``profiles.<p>.fid_schematic`` (paper 2, Figs 1-2, drawn from the pipeline's data)."""

    image_index: int = Field(0, ge=0, description="row of the real / generated set shown")



# --------------------------------------------------------------------------------------
# Paper 3, distribution classification (issue 13): profiles.<p>.distclass
# --------------------------------------------------------------------------------------

DC_ARCHS = ("resnet", "convnext", "vit", "effnet_lite0")


def _int_csv(value: str, what: str) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in _csv(value))
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integers, got {value!r}") from None
    if any(v < 1 for v in out):
        raise ValueError(f"{what} must be positive integers, got {value!r}")
    return out


class DCArchConfig(_Strict):
    """One classifier architecture (timm model definitions, random init, scaled to 28-px inputs)."""

    kind: Literal["resnet", "convnext", "vit", "effnet_lite0"] = Field(
        description="resnet (timm ResNet, BasicBlock) | convnext (timm ConvNeXt) | vit (timm VisionTransformer) | "
        "effnet_lite0 (EfficientNet-Lite0 of the features stage, ImageNet weights if pretrained)")
    widths: str = Field("", description="resnet: channels per stage; convnext: dims per stage (4 stages)")
    depths: str = Field("", description="resnet: blocks per stage; convnext: blocks per stage (4 stages)")
    block: Literal["basic", "bottleneck"] = Field("basic", description="resnet: BasicBlock or Bottleneck (ResNet-50)")
    stem: Literal["deep", "imagenet"] = Field("deep", description="resnet: deep = three 3x3 convs, first with "
                                              "stride stem_stride, no max-pool (small images); imagenet = timm's "
                                              "7x7 stride-2 conv + max-pool (ResNet-50 as published)")
    stem_stride: int = Field(2, ge=1, le=4, description="resnet (deep stem): stride of the first stem conv; "
                                                        "convnext: stem patch side (stage 0 does not downsample)")
    patch: int = Field(4, ge=1, le=28, description="vit: patch side in pixels")
    embed_dim: int = Field(64, ge=8, le=2048, description="vit: token width")
    depth: int = Field(4, ge=1, le=48, description="vit: transformer blocks")
    heads: int = Field(4, ge=1, le=32, description="vit: attention heads")
    drop_path: float = Field(0.0, ge=0.0, lt=1.0, description="stochastic depth rate (convnext, vit, resnet)")
    pretrained: bool = Field(False, description="effnet_lite0: start from the ImageNet weights (else random init)")
    input_size: int = Field(0, ge=0, le=1024, description="side the network sees (0 = the task's image size); "
                                                           "effnet_lite0 needs >= 32")

    @model_validator(mode="after")
    def _consistent(self) -> "DCArchConfig":
        if self.kind in ("resnet", "convnext"):
            w, d = _int_csv(self.widths, "widths"), _int_csv(self.depths, "depths")
            if len(w) != 4 or len(d) != 4:
                raise ValueError(f"{self.kind} needs 4 widths and 4 depths, got {self.widths!r} / {self.depths!r}")
        if self.kind == "vit" and self.embed_dim % self.heads:
            raise ValueError(f"vit embed_dim {self.embed_dim} must be a multiple of heads={self.heads}")
        if self.pretrained and self.kind != "effnet_lite0":
            raise ValueError("pretrained weights exist only for effnet_lite0 (nothing is downloaded)")
        if self.kind == "effnet_lite0" and self.input_size < 32:
            raise ValueError(f"effnet_lite0 needs input_size >= 32, got {self.input_size}")
        return self

    @property
    def width_list(self) -> tuple[int, ...]:
        return _int_csv(self.widths, "widths")

    @property
    def depth_list(self) -> tuple[int, ...]:
        return _int_csv(self.depths, "depths")


class DCTrainConfig(_Strict):
    """A training recipe (the paper's Tables 10-11 mapped to 28 px; reasoning in params.yaml)."""

    epochs: float = Field(gt=0.0, le=10_000.0, description="passes over the training set (steps = ceil(epochs*N/batch))")
    min_steps: int = Field(1, ge=1, le=10_000_000, description="lower bound on steps for tiny training sets")
    batch_size: int = Field(ge=2, le=65536, description="global batch (all processes together)")
    lr: float = Field(gt=0.0, le=1.0, description="AdamW peak learning rate")
    weight_decay: float = Field(ge=0.0, le=10.0)
    beta1: float = Field(0.9, gt=0.0, lt=1.0)
    beta2: float = Field(0.999, gt=0.0, lt=1.0)
    warmup_epochs: float = Field(0.0, ge=0.0, le=10_000.0, description="linear warm-up, then cosine decay")
    min_lr: float = Field(1.0e-6, ge=0.0, le=1.0, description="cosine floor")
    randaug: str = Field("", description="timm RandAugment spec, e.g. rand-m9-mstd0.5-inc1 ('' = off)")
    crop_pad: int = Field(0, ge=0, le=64, description="random crop after zero padding by this many px (0 = off)")
    hflip: bool = Field(False, description="random horizontal flips")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    mixup: float = Field(0.0, ge=0.0, le=10.0, description="mixup alpha (0 = off)")
    cutmix: float = Field(0.0, ge=0.0, le=10.0, description="cutmix alpha (0 = off)")
    grad_shards: int = Field(1, ge=1, le=1024, description="the global batch is split into this many shards "
                             "(BatchNorm statistics and augmentation seeds per shard); processes share them out, so "
                             "1 process and k processes (k | grad_shards) compute the same step")
    precise_bn_images: int = Field(1024, ge=0, le=10_000_000, description="BatchNorm statistics are recomputed on "
                                   "this many training images after training (0 = keep running averages)")
    ckpt_every: int = Field(200, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> "DCTrainConfig":
        if self.batch_size % self.grad_shards:
            raise ValueError(f"batch_size {self.batch_size} must be divisible by grad_shards {self.grad_shards}")
        if (self.mixup or self.cutmix) and (self.batch_size // self.grad_shards) % 2:
            raise ValueError("mixup/cutmix need an even number of images per shard (batch_size / grad_shards)")
        return self


class DCTaskConfig(_Strict):
    """How every distribution-classification task is built (the same for all experiments)."""

    n_val: int = Field(ge=1, le=10_000_000, description="validation images per distribution (disjoint from training)")
    split_seed: int = Field(0, ge=0, le=2**31 - 1, description="seeds each pool's train/val permutation")
    image_size: int = Field(0, ge=0, le=4096, description="pixel path: common side (0 = keep the zoo's 28 px)")
    channels: Literal[1, 3] = Field(1, description="pixel path: 1 = gray, 3 = RGB")
    codec: str = Field("none", description="pixel path: none | png | jpeg:<quality>, applied to every distribution "
                                           "(for sources stored in different formats)")

    @field_validator("codec")
    @classmethod
    def _codec(cls, v: str) -> str:
        ok = v in ("none", "png") or (v.startswith("jpeg:") and v[5:].isdigit() and 1 <= int(v[5:]) <= 100)
        if not ok:
            raise ValueError(f"codec must be none, png or jpeg:<1-100>, got {v!r}")
        return v


class DCRunnerConfig(_Strict):
    """Where and how the training runs execute."""

    launcher: Literal["local", "torchrun"] = Field(
        "local", description="local: a pool of `workers` single-process runs; torchrun: every run uses DDP over "
        "nproc_per_node processes (gloo on CPU, NCCL on GPU)")
    workers: int = Field(1, ge=1, le=256, description="local: runs in parallel (one process each)")
    threads: int = Field(1, ge=0, le=1024, description="torch threads per process (0 = torch's default)")
    nproc_per_node: int = Field(1, ge=1, le=64, description="torchrun: processes (GPUs) per node")
    device: Literal["cpu", "cuda", "auto"] = "cpu"


def _model_names(value: str, what: str) -> tuple[str, ...]:
    names = _csv(value)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ValueError(f"{what}: unknown zoo model(s) {unknown}; the zoo has {', '.join(MODELS)}")
    return names


def _arch_names(value: str) -> tuple[str, ...]:
    return _csv(value)


DC_REAL_SPLITS = ("real_train", "real_heldout", "real_half_a", "real_half_b")  # = beyondfid.zoo.registry.SPLITS


def _real_split(v: str) -> str:
    if v not in DC_REAL_SPLITS:
        raise ValueError(f"must be one of the zoo's real splits {', '.join(DC_REAL_SPLITS)}, got {v!r}")
    return v


class _DCReal(_Strict):
    real: str = Field("real_heldout", description="the real split that is the real class (real_heldout: never "
                                                  "seen by a generator)")

    @field_validator("real")
    @classmethod
    def _real(cls, v: str) -> str:
        return _real_split(v)


class _DCArchs(_Strict):
    archs: str = Field(description="comma-separated keys of distclass.archs")

    @property
    def arch_names(self) -> tuple[str, ...]:
        return _arch_names(self.archs)


class DCBinaryConfig(_DCReal, _DCArchs):
    """Tables 1, 2, 14 and Fig. 2: same-distribution controls, real vs each generator, the size sweep."""

    models: str = Field(description="comma-separated zoo models, each against the real class (Table 2)")
    n_train: int = Field(ge=1, description="training images per distribution (Table 2)")
    same_real: str = Field("real_half_a,real_half_b", description="Table 1: two disjoint real splits")
    same_models: str = Field(description="Table 1: zoo models whose samples are split into two disjoint halves")
    same_n_train: int = Field(ge=1, description="Table 1: training images per distribution")
    sweep_arch: str = Field(description="Fig. 2: architecture of the training-size sweep")
    sweep_model: str = Field(description="Fig. 2: the generator of the sweep (against the real class)")
    sweep_sizes: str = Field(description="Fig. 2: comma-separated training sizes per distribution")
    seeds: str = Field("0", description="Fig. 2: comma-separated training seeds (error bars)")

    @property
    def model_names(self) -> tuple[str, ...]:
        return _model_names(self.models, "distclass.binary.models")

    @property
    def same_model_names(self) -> tuple[str, ...]:
        return _model_names(self.same_models, "distclass.binary.same_models")

    @property
    def same_real_names(self) -> tuple[str, ...]:
        return _csv(self.same_real)

    @property
    def size_list(self) -> tuple[int, ...]:
        return _int_csv(self.sweep_sizes, "sweep_sizes")

    @property
    def seed_list(self) -> tuple[int, ...]:
        return tuple(int(s) for s in _csv(self.seeds))

    @model_validator(mode="after")
    def _names(self) -> "DCBinaryConfig":
        self.model_names, self.same_model_names, self.size_list  # noqa: B018 - validate now
        _model_names(self.sweep_model, "distclass.binary.sweep_model")
        if len(self.same_real_names) != 2:
            raise ValueError(f"same_real must name two real splits, got {self.same_real!r}")
        for v in self.same_real_names:
            _real_split(v)
        return self


class DCMultiwayConfig(_DCReal, _DCArchs):
    """Table 3 / Fig. 1 (real + three generators at two sizes) and Table 5 (models of similar FID added one by one)."""

    fourway_models: str = Field(description="Table 3: the three generators beside the real class")
    sizes: str = Field(description="Table 3: training sizes per distribution (the paper's 5k, 10k)")
    similar_models: str = Field(description="Table 5: generators of similar FID, in the order the paper adds them: "
                                            "2-way = the first two, 3-way = + the real class, 4-way = + the third")
    n_train: int = Field(ge=1, description="Table 5: training images per distribution")
    fig1_rows: int = Field(4, ge=1, le=64, description="Fig. 1: rows of 'which one is real?'")

    @property
    def fourway_names(self) -> tuple[str, ...]:
        return _model_names(self.fourway_models, "distclass.multiway.fourway_models")

    @property
    def similar_names(self) -> tuple[str, ...]:
        return _model_names(self.similar_models, "distclass.multiway.similar_models")

    @property
    def size_list(self) -> tuple[int, ...]:
        return _int_csv(self.sizes, "sizes")

    @model_validator(mode="after")
    def _names(self) -> "DCMultiwayConfig":
        if len(self.fourway_names) != 3 or len(self.similar_names) != 3:
            raise ValueError("fourway_models and similar_models must each name three zoo models")
        self.size_list  # noqa: B018
        return self


class DCProbeConfig(_DCReal):
    """Tables 4 and 15: linear probes on frozen self-supervised features."""

    encoders: str = Field("ssl_contrastive,ssl_masked", description="zoo encoders (SimCLR for MoCo v3, MAE for MAE)")
    models: str = Field(description="Table 4: generators, each against the real class")
    n_train: int = Field(ge=1)
    fourway_models: str = Field(description="Table 15: three generators beside the real class")
    sizes: str = Field(description="Table 15: training sizes per distribution")
    l2: float = Field(1.0e-3, ge=0.0, le=1.0e3, description="L2 penalty of the logistic regression (on standardised features)")
    max_iter: int = Field(500, ge=1, le=100_000, description="L-BFGS iterations")

    @property
    def encoder_names(self) -> tuple[str, ...]:
        names = _csv(self.encoders)
        bad = [n for n in names if n not in ("ssl_contrastive", "ssl_masked")]
        if bad:
            raise ValueError(f"distclass.ssl.encoders: unknown encoder(s) {bad}")
        return names

    @property
    def model_names(self) -> tuple[str, ...]:
        return _model_names(self.models, "distclass.ssl.models")

    @property
    def fourway_names(self) -> tuple[str, ...]:
        return _model_names(self.fourway_models, "distclass.ssl.fourway_models")

    @property
    def size_list(self) -> tuple[int, ...]:
        return _int_csv(self.sizes, "sizes")

    @model_validator(mode="after")
    def _names(self) -> "DCProbeConfig":
        self.encoder_names, self.model_names, self.size_list  # noqa: B018
        if len(self.fourway_names) != 3:
            raise ValueError("distclass.ssl.fourway_models must name three zoo models")
        return self


class DCFamilyConfig(_DCArchs):
    """Table 6: same family, different scale; beside it the cross-family pair of similar FID."""

    small: str = Field(description="the small member of the family (EDM2-XS)")
    large: str = Field(description="the large member (EDM2-XXL)")
    cross: str = Field(description="two generators of different families at similar FID (comma-separated)")
    n_train: int = Field(ge=1)

    @property
    def cross_names(self) -> tuple[str, ...]:
        return _model_names(self.cross, "distclass.family.cross")

    @model_validator(mode="after")
    def _names(self) -> "DCFamilyConfig":
        _model_names(f"{self.small},{self.large}", "distclass.family.small/large")
        if len(self.cross_names) != 2:
            raise ValueError("distclass.family.cross must name two zoo models")
        return self


class DCPretrainedConfig(_DCReal):
    """Table 13: the ImageNet-pretrained EfficientNet-Lite0 fine-tuned vs the same network from scratch."""

    arch: DCArchConfig
    train: DCTrainConfig
    models: str = Field(description="generators, each against the real class")
    n_train: int = Field(ge=1)

    @property
    def model_names(self) -> tuple[str, ...]:
        return _model_names(self.models, "distclass.pretrained.models")

    @model_validator(mode="after")
    def _names(self) -> "DCPretrainedConfig":
        if self.arch.kind != "effnet_lite0":
            raise ValueError("distclass.pretrained.arch must be an effnet_lite0 (the network with ImageNet weights)")
        self.model_names  # noqa: B018
        return self


# --------------------------------------------------------------------------------------
# Paper 3, issue 14: crops, frequency bands, replace vs augment, the human study
# (profiles.<p>.distclass.crops / .frequency / .augment / .human)
# --------------------------------------------------------------------------------------



class DcCropsConfig(_Strict):
    """Table 7 / Fig. 7: classify real vs the U-ViT stand-in after centre and random crops."""

    arch: str = Field(description="classifier, a key of distclass.archs (the paper: ResNet-50)")
    real: str = Field("real_heldout", description="the real class")
    model: str = Field(description="the zoo model standing for U-ViT-H/2")
    n_train: int = Field(ge=1, description="training images per class (before the random-crop copies)")
    paper_image: int = Field(256, ge=2, description="side of the paper's images")
    image: int = Field(ge=2, description="side of our images")
    paper_center: str = Field(description="the paper's centre-crop sides")
    paper_random: str = Field(description="the paper's random-crop sides")
    center: str = Field(description="our centre-crop sides, the paper's by the same fraction, fixed before any run "
                                    "(sides below 2 px are left out)")
    random: str = Field(description="our random-crop sides (as `center`)")
    per_image: int = Field(4, ge=1, le=64, description="random crops per training image (the paper: four)")
    trials: int = Field(4, ge=1, le=64, description="random-crop trials (seeds) averaged (the paper: four)")

    @property
    def center_sizes(self) -> tuple[int, ...]:
        return _int_csv(self.center, "distclass.crops.center")

    @property
    def random_sizes(self) -> tuple[int, ...]:
        return _int_csv(self.random, "distclass.crops.random")

    @model_validator(mode="after")
    def _sizes(self) -> "DcCropsConfig":
        for name in ("paper_center", "paper_random"):
            _int_csv(getattr(self, name), f"distclass.crops.{name}")
        if any(s > self.image for s in self.center_sizes + self.random_sizes):
            raise ValueError(f"crop sides must not exceed the image side {self.image}")
        if min(self.center_sizes + self.random_sizes) < 2:
            raise ValueError("crop sides below 2 px are not run (issue 14): leave them out")
        _real_split(self.real)
        _model_names(self.model, "distclass.crops.model")
        return self


class DcFrequencyConfig(_Strict):
    """Figs 4, 5, 8, 9, 11 and Table 16: low-, high- and band-pass filtered images."""

    arch: str = Field(description="classifier, a key of distclass.archs (the paper: ResNet-50)")
    real: str = Field("real_heldout")
    model: str = Field(description="the zoo model standing for U-ViT-H/2 (Fig. 4)")
    n_train: int = Field(ge=1, description="training images per class")
    paper_image: int = Field(256, ge=2)
    image: int = Field(ge=2, description="side of our images (filters run at this side, before any resize)")
    paper_thresholds: str = Field(description="the paper's thresholds (bands: consecutive pairs from 0)")
    thresholds: str = Field(description="ours, by the share of the spectrum kept, fixed before any run")
    circle: bool = Field(True, description="Fig. 11: also run the low- and high-pass with the circular mask")

    @property
    def threshold_list(self) -> tuple[int, ...]:
        return _int_csv(self.thresholds, "distclass.frequency.thresholds")

    @property
    def paper_threshold_list(self) -> tuple[int, ...]:
        return _int_csv(self.paper_thresholds, "distclass.frequency.paper_thresholds")

    @model_validator(mode="after")
    def _thresholds(self) -> "DcFrequencyConfig":
        t, p = self.threshold_list, self.paper_threshold_list
        if len(t) != len(p):
            raise ValueError(f"thresholds ({self.thresholds!r}) and paper_thresholds ({self.paper_thresholds!r}) "
                             f"must pair up one to one")
        if list(t) != sorted(set(t)) or t[0] < 1:
            raise ValueError(f"thresholds must be strictly increasing and >= 1 (bands run 0-t1, t1-t2, ...), got {t}")
        if t[-1] > self.image // 2:
            raise ValueError(f"threshold {t[-1]} exceeds half the image side ({self.image // 2})")
        _real_split(self.real)
        _model_names(self.model, "distclass.frequency.model")
        return self


class DcSemiSupConfig(_Strict):
    """Table 8: FixMatch-family training with few labels (``beyondfid.distclass.semisup``)."""

    algorithms: str = Field(description="comma-separated: freematch, flexmatch, fixmatch")
    labels_per_class: int = Field(ge=1, description="labelled real_train images per class")
    n_steps: int = Field(ge=1, le=10_000_000)
    batch_size: int = Field(ge=1, le=4096, description="labelled images per step (B)")
    uratio: int = Field(ge=1, le=64, description="mu: unlabelled images per labelled one")
    lr: float = Field(gt=0.0, le=1.0, description="AdamW peak learning rate (FixMatch's cosine schedule)")
    weight_decay: float = Field(ge=0.0, le=1.0)
    tau: float = Field(0.95, gt=0.0, le=1.0, description="FixMatch / FlexMatch confidence threshold")
    ema_p: float = Field(gt=0.0, lt=1.0, description="FreeMatch: momentum of the adaptive thresholds (lambda)")
    w_u: float = Field(1.0, ge=0.0, description="weight of the unlabelled loss")
    w_f: float = Field(ge=0.0, description="FreeMatch: weight of the fairness loss")
    ema_model: float = Field(ge=0.0, lt=1.0, description="EMA decay of the evaluated weights")
    width: int = Field(ge=4, le=256, description="AnimalCNN width (the supervised classifier's network)")
    ckpt_every: int = Field(100, ge=1)
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="forward passes: bf16 autocast where the CPU has native bf16 (auto), or fixed")

    @property
    def algorithm_names(self) -> tuple[str, ...]:
        names = _csv(self.algorithms)
        bad = [a for a in names if a not in ("freematch", "flexmatch", "fixmatch")]
        if bad:
            raise ValueError(f"distclass.augment.semisup.algorithms: unknown {bad}")
        return names

    @model_validator(mode="after")
    def _names(self) -> "DcSemiSupConfig":
        self.algorithm_names  # noqa: B018
        return self


class DcAugmentConfig(_Strict):
    """Fig. 6 and Table 8: real_train with generated images swapped in (replace) or added (augment)."""

    synthetic: str = Field(description="class-conditional zoo model whose labelled.npz is the generated set")
    test: str = Field("real_heldout", description="real split the classifiers are tested on")
    alphas: str = Field(description="Fig. 6's alpha grid (comma-separated, in [0, 1], including 0)")
    seeds: str = Field(description="seeds (mean and std over them)")
    classifier: ClassifierConfig = Field(description="the supervised AnimalShape classifier (the zoo's network)")
    semisup: DcSemiSupConfig
    workers: int = Field(1, ge=1, le=64, description="runs in parallel (one process and `threads` threads each)")
    threads: int = Field(1, ge=1, le=64)

    @property
    def alpha_list(self) -> tuple[float, ...]:
        return _floats(self.alphas, "distclass.augment.alphas")

    @property
    def seed_list(self) -> tuple[int, ...]:
        return tuple(int(s) for s in _csv(self.seeds))

    @model_validator(mode="after")
    def _grid(self) -> "DcAugmentConfig":
        a = self.alpha_list
        if any(not 0.0 <= x <= 1.0 for x in a) or 0.0 not in a or list(a) != sorted(set(a)):
            raise ValueError(f"alphas must be increasing values in [0, 1] that include 0, got {self.alphas!r}")
        if len(set(self.seed_list)) != len(self.seed_list):
            raise ValueError(f"seeds must be distinct, got {self.seeds!r}")
        _real_split(self.test)
        _model_names(self.synthetic, "distclass.augment.synthetic")
        return self


class DcHumanConfig(_Strict):
    """Fig. 3 / Fig. 10 / App. C.6: the study page, its analysis, the classifiers on the same pairs."""

    n_pairs: int = Field(32, ge=1, le=1000, description="pairs per task (the paper: 32)")
    n_references: int = Field(8, ge=0, le=64, description="task 2: example images of each model shown")
    generated: str = Field(description="task 1 (which is real?): the generator against distclass.binary.real")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="which validation images form the pairs")
    responses: str = Field("data/human_study", description="folder of the participants' response files")
    screenshot_seed: int = Field(1, ge=0, description="Fig. 10: the participant seed of the screenshots")
    zoom: int = Field(5, ge=1, le=12, description="Fig. 10: zoom of the screenshots")

    @model_validator(mode="after")
    def _names(self) -> "DcHumanConfig":
        _model_names(self.generated, "distclass.human.generated")
        return self


class DistclassConfig(_Strict):
    """``profiles.<p>.distclass``: the task, the classifiers and recipe, the runner, one section per experiment."""

    task: DCTaskConfig
    archs: dict[str, DCArchConfig]
    train: DCTrainConfig
    runner: DCRunnerConfig
    binary: DCBinaryConfig
    multiway: DCMultiwayConfig
    ssl: DCProbeConfig
    family: DCFamilyConfig
    pretrained: DCPretrainedConfig
    crops: DcCropsConfig
    frequency: DcFrequencyConfig
    augment: DcAugmentConfig
    human: DcHumanConfig

    @model_validator(mode="after")
    def _known_archs(self) -> "DistclassConfig":
        used = {"binary": self.binary.arch_names + (self.binary.sweep_arch,),
                "multiway": self.multiway.arch_names, "family": self.family.arch_names,
                "crops": (self.crops.arch,), "frequency": (self.frequency.arch,)}
        for sec, names in used.items():
            unknown = sorted(set(names) - set(self.archs))
            if unknown:
                raise ValueError(f"distclass.{sec}: architecture(s) {unknown} are not defined in distclass.archs "
                                 f"({', '.join(self.archs)})")
        return self

    @model_validator(mode="after")
    def _human_task_has_runs(self) -> "DistclassConfig":
        """The study's task 1 scores the classifiers of Table 2's real-vs-``human.generated`` runs."""
        if self.human.generated not in self.binary.model_names:
            raise ValueError(f"distclass.human.generated = {self.human.generated!r} is not among distclass.binary.models "
                             f"({', '.join(self.binary.model_names)}): the study's real-vs-generated task is scored by "
                             f"those runs' classifiers; add it to distclass.binary.models or pick one of them")
        return self


# --------------------------------------------------------------------------------------
# The cross-paper questions (issue 15, phase 2): profiles.<p>.cross_attack / cross_explain / cross_rank
# --------------------------------------------------------------------------------------


class _CrossFinc(_Strict):
    rff_dim: int = Field(ge=1, description="FINC's r (2r random Fourier features)")
    eta: float = Field(1.0, ge=0.0, description="FINC's eta in C_X - eta C_Y")
    top_k: int = Field(10, ge=1, description="FINC modes requested")
    top_samples: int = Field(25, ge=1, description="top samples kept per mode")


class CrossAttackConfig(_CrossFinc, _DCArchs):
    """Q1: paper 2's resampling attack (``fidclasses``, ``fid_resampling``) judged by paper 3's classifier and FINC."""

    real: str = Field("real_heldout", description="the classifier's real class")
    n_train: int = Field(ge=1, description="classifier training images per class (val: distclass.task.n_val)")
    seeds: str = Field("0", description="comma-separated classifier training seeds")
    draws: int = Field(ge=1, description="draws of fidclasses.eval_size scored by FID and FINC per sample")

    @field_validator("real")
    @classmethod
    def _real(cls, v: str) -> str:
        return _real_split(v)

    @property
    def seed_list(self) -> tuple[int, ...]:
        return tuple(int(s) for s in _csv(self.seeds))

    @model_validator(mode="after")
    def _seeds(self) -> "CrossAttackConfig":
        try:
            if not self.seed_list:
                raise ValueError
        except ValueError:
            raise FieldError(("seeds",), f"must be comma-separated integers, got {self.seeds!r}") from None
        return self


class CrossExplainConfig(_CrossFinc):
    """Q2: the real-vs-generated classifier's most confident images against FINC's top novel modes."""

    arch: str = Field(description="the distclass.binary architecture whose Table 2 runs are read")
    models: str = Field(description="comma-separated zoo models (each needs its distclass.binary Table 2 run)")
    modes: int = Field(ge=1, description="FINC's top modes whose members are compared")
    per_mode: int = Field(ge=1, description="validation images taken per mode (its highest mode scores)")
    shown: int = Field(8, ge=1, description="images shown per set and model in the figure")

    @property
    def model_names(self) -> tuple[str, ...]:
        return _model_names(self.models, "cross_explain.models")


class CrossRankConfig(_CrossFinc):
    """Q3: FID, FD in the SSL spaces, classifier accuracy, FINC novelty, precision and recall ranking the zoo."""

    models: str = Field(description="comma-separated zoo models ranked (each needs its Table 2 runs)")
    archs: str = Field(description="comma-separated distclass.binary architectures, one judge each")
    resamples: int = Field(ge=2, description="half-samples of the images (the tau intervals)")
    fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of each image set drawn without replacement")
    pr_k: int = Field(3, ge=1, description="k of improved precision/recall")

    @property
    def model_names(self) -> tuple[str, ...]:
        return _model_names(self.models, "cross_rank.models")

    @property
    def arch_names(self) -> tuple[str, ...]:
        return _arch_names(self.archs)


class ProfileConfig(_Strict):
    seed: int = Field(0, ge=0)
    data: DataConfig
    features: FeaturesConfig
    weights: WeightsConfig
    overview: OverviewConfig
    finc_colored: FincColoredConfig
    finc_novelty: FincNoveltyConfig
    finc_scalability: FincScalabilityConfig
    finc_model_bias: FincModelBiasConfig
    finc_memorization: FincMemorizationConfig
    zoo: ZooConfig
    fidclasses: FidClassesConfig
    fid_features: FidFeaturesConfig
    fid_heatmaps: FidHeatmapsConfig
    fid_sensitivity: FidSensitivityConfig
    fid_resampling: FidResamplingConfig
    fid_projected: FidProjectedConfig
    fid_schematic: FidSchematicConfig

    distclass: DistclassConfig
    cross_attack: CrossAttackConfig
    cross_explain: CrossExplainConfig
    cross_rank: CrossRankConfig

    @model_validator(mode="after")
    def _datasets_exist(self) -> "ProfileConfig":
        known = MINI_DATASETS if self.data.source == "builtin" else self.data.folder_names
        where = "data.source 'builtin'" if self.data.source == "builtin" else "data.folders"
        uses = {"features.datasets": self.features.dataset_names, "finc_colored.datasets": self.finc_colored.dataset_names,
                "finc_novelty.test": (self.finc_novelty.test,), "finc_novelty.ref": (self.finc_novelty.ref,),
                "zoo.real": (self.zoo.real,)}
        bad = {k: [d for d in v if d not in known] for k, v in uses.items()}
        bad = {k: v for k, v in bad.items() if v}
        if bad:
            names = sorted({d for v in bad.values() for d in v})
            raise FieldError(tuple(bad), f"dataset(s) {', '.join(names)} not provided by {where} "
                                         f"(available: {', '.join(known)})")
        missing_models = [m for m in MODELS if m not in self.zoo.models]
        if missing_models:
            raise FieldError(("zoo.models",), f"lacks {', '.join(missing_models)}: every zoo role is a pipeline stage, "
                                              f"so each needs an entry (family 'folder' on the paper profile)")
        novelty = (self.finc_novelty.test, self.finc_novelty.ref)
        uncached = [d for d in novelty if d not in self.features.dataset_names]
        if uncached:
            raise FieldError(("finc_novelty.test", "finc_novelty.ref", "features.datasets"),
                             f"finc_novelty uses {', '.join(uncached)}, which must also be listed in features.datasets "
                             f"(the notebook reads their cached features)")
        return self

    @model_validator(mode="after")
    def _novelty_classes_exist(self) -> "ProfileConfig":
        from .data import BUILTIN_CLASSES

        nov = self.finc_novelty
        if nov.test != nov.ref:
            if nov.missing_names:
                raise FieldError(("finc_novelty.ref_missing",), "is used only when test == ref (one dataset split in "
                                                                "two halves); set it to ''")
            return self
        if self.data.source != "builtin":
            raise FieldError(("finc_novelty.test", "finc_novelty.ref"),
                             "test == ref splits one dataset by class, which needs a labelled builtin dataset; "
                             "image folders have no labels, so name two folders")
        classes = BUILTIN_CLASSES[nov.test]
        unknown = [c for c in nov.missing_names if c not in classes]
        if unknown or not nov.missing_names:
            raise FieldError(("finc_novelty.ref_missing",),
                             f"must name classes of {nov.test!r} ({', '.join(classes)}); got {nov.ref_missing!r}"
                             + (f", unknown: {', '.join(unknown)}" if unknown else ""))
        if set(nov.missing_names) >= set(classes):
            raise FieldError(("finc_novelty.ref_missing",), f"removes every class of {nov.test!r}: the reference "
                                                            f"half would be empty")
        return self

    @model_validator(mode="after")
    def _fid_sizes(self) -> "ProfileConfig":
        n = self.fidclasses.eval_size
        if self.fid_heatmaps.noise_images > n:
            raise FieldError(("fid_heatmaps.noise_images", "fidclasses.eval_size"),
                             f"noise_images={self.fid_heatmaps.noise_images} exceeds eval_size={n}")
        if self.fid_sensitivity.instance_n > min(self.fid_features.sibling_real, self.fid_features.sibling_generated):
            raise FieldError(("fid_sensitivity.instance_n", "fid_features.sibling_real", "fid_features.sibling_generated"),
                             "instance_n exceeds sibling_real / sibling_generated")
        if self.fid_resampling.kid_subset_size > n:
            raise FieldError(("fid_resampling.kid_subset_size", "fidclasses.eval_size"), f"kid_subset_size exceeds eval_size={n}")
        return self

    @model_validator(mode="after")
    def _scalability_features_cached(self) -> "ProfileConfig":
        name = self.finc_scalability.real_dataset
        if name not in self.features.dataset_names:
            raise FieldError(("finc_scalability.real_dataset", "features.datasets"),
                             f"{name!r} must be listed in features.datasets ({self.features.datasets}): "
                             f"the notebook reads its cached features")
        return self

    @model_validator(mode="after")
    def _cross_runs_exist(self) -> "ProfileConfig":
        """The cross-paper questions read paper 3's Table 2 runs: their models and archs must be among them."""
        b = self.distclass.binary
        bad = [n for n in self.cross_attack.arch_names if n not in self.distclass.archs]
        if bad:
            raise FieldError(("cross_attack.archs", "distclass.archs"), f"architecture(s) {bad} are not defined in "
                                                                        f"distclass.archs ({', '.join(self.distclass.archs)})")
        for sec, models, archs in (("cross_explain", self.cross_explain.model_names, (self.cross_explain.arch,)),
                                   ("cross_rank", self.cross_rank.model_names, self.cross_rank.arch_names)):
            if not models or len(set(models)) != len(models):
                raise FieldError((f"{sec}.models",), "must name distinct zoo models")
            missing = [m for m in models if m not in b.model_names]
            if missing:
                raise FieldError((f"{sec}.models", "distclass.binary.models"),
                                 f"{missing} have no Table 2 run (distclass.binary.models: {b.models})")
            missing = [a for a in archs if a not in b.arch_names]
            if missing or not archs:
                raise FieldError((f"{sec}.{'arch' if sec == 'cross_explain' else 'archs'}", "distclass.binary.archs"),
                                 f"{missing or 'none'}: not among the Table 2 architectures ({b.archs})")
        if len(self.cross_rank.model_names) < 2:
            raise FieldError(("cross_rank.models",), "a ranking needs at least 2 models")
        return self

    def input_folders(self) -> tuple[str, ...]:
        """Folder source: every folder under ``data.root`` a stage reads (data.folders, then the zoo's)."""
        if self.data.source != "folders":
            return ()
        names = list(self.data.folder_names)
        for m in self.zoo.models.values():
            if m.family == "folder":
                names += [f for f in (m.folder, m.candidates_folder) if f]
        return tuple(dict.fromkeys(names))


class Config(_Strict):
    """The resolved configuration of one profile, plus the paths its outputs go to."""

    profile: Literal["smoke", "mini", "paper"]
    params: ProfileConfig
    root: Path = Path(".")

    @property
    def artifacts(self) -> Path:
        """Heavy, DVC-cached artifacts (datasets, features, models)."""
        return self.root / "artifacts" / self.profile

    @property
    def results(self) -> Path:
        """Figures, tables, metrics and executed notebooks."""
        return self.root / "results" / self.profile

    @property
    def datasets_dir(self) -> Path:
        return self.artifacts / "datasets"

    @property
    def features_dir(self) -> Path:
        return self.artifacts / "features"

    @property
    def hash_cache_dir(self) -> Path:
        """Per-file SHA-256 of image folders, by stat signature (not a DVC output: never committed)."""
        return self.artifacts / "hash_cache"


def _format_validation_error(err: ValidationError, prefix: str) -> list[str]:
    """One ``key: problem`` string per error; cross-field errors name their fields, never dump a section."""
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        key = f"{prefix}.{loc}" if loc else prefix
        cause = (e.get("ctx") or {}).get("error")
        msg = e["msg"].removeprefix("Value error, ")
        if isinstance(cause, FieldError):
            key = ", ".join(f"{key}.{f}" for f in cause.fields)
            msg = cause.message
        elif e["type"] == "extra_forbidden":
            msg = "unknown key (typo? remove it or check the spelling against params.yaml)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        value = e.get("input")
        shown = e["type"] != "missing" and not isinstance(value, (dict, list)) and not isinstance(cause, FieldError)
        out.append(f"{key}: {msg} (got {value!r})" if shown else f"{key}: {msg}")
    return out


def load_config(
    profile: str | None = None,
    params_path: str | Path = "params.yaml",
    root: str | Path = ".",
) -> Config:
    """Load and validate ``params.yaml``; ``profile=None`` uses the file's ``profile`` key.

    A relative ``params_path`` that is not in the working directory is looked for in its parent
    folders (a notebook opened in JupyterLab runs in ``notebooks/``); a relative ``root`` is then
    taken relative to the folder where it was found, the repository root.
    """
    params_path = Path(params_path)
    if not params_path.is_absolute() and not params_path.is_file():
        for parent in Path.cwd().parents:
            if (parent / params_path).is_file():
                params_path = parent / params_path
                root = root if Path(root).is_absolute() else parent / root
                break
    if not params_path.is_file():
        raise ConfigError(f"parameter file {params_path} not found; run from the repository root or pass params_path")
    with params_path.open() as fh:
        raw = yaml.safe_load(fh) or {}
    return config_from_dict(raw, profile=profile, root=root)


def add_stage_arguments(ap: Any, *, progress: bool = False, threads: bool = False) -> Any:
    """The stage scripts' common options on an ``argparse`` parser: ``--profile``, ``--params``,
    ``--root``, and optionally ``--no-progress`` and ``--threads`` (see :func:`apply_threads`)."""
    ap.add_argument("--profile", default=None, help="smoke | mini | paper (default: params.yaml's profile)")
    ap.add_argument("--params", default="params.yaml", help="parameter file")
    ap.add_argument("--root", default=".", help="folder under which artifacts/ and results/ are written")
    if progress:
        ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    if threads:
        ap.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0 = torch's default); 1 is far faster on a busy CPU")
    return ap


def apply_threads(ap: Any, args: Any) -> None:
    """Validate ``--threads`` and set torch's intra-op thread count when it is given (> 0)."""
    if args.threads < 0:
        ap.error(f"--threads must be >= 0, got {args.threads}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def config_from_cli(description: str, argv: list[str] | None = None) -> Config:
    """Parse the stage scripts' common command line (``--profile``, ``--params``, ``--root``) and load."""
    import argparse

    args = add_stage_arguments(argparse.ArgumentParser(description=description)).parse_args(argv)
    return load_config_or_exit(args.profile, args.params, args.root)


def load_config_or_exit(profile: str | None, params_path: str | Path, root: str | Path) -> Config:
    """:func:`load_config` for a command line: a :class:`ConfigError` prints its one line and exits 2."""
    import sys

    try:
        return load_config(profile, params_path, root)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def config_from_dict(raw: dict, profile: str | None = None, root: str | Path = ".") -> Config:
    """Validate an already-parsed params mapping (see :func:`load_config`)."""
    if not isinstance(raw, dict):
        raise ConfigError("params.yaml must be a mapping with keys 'profile' and 'profiles'")
    # ``report`` (the cross-paper report's registry and claim rules) is profile-independent and is
    # validated by the report stage itself (beyondfid.crosspaper.spec): the core imports no subpackage.
    unknown_top = sorted(set(raw) - {"profile", "data_root", "profiles", "report"})
    if unknown_top:
        raise ConfigError(f"params.yaml: unknown top-level key(s) {unknown_top}; "
                          "allowed: profile, data_root, profiles, report")
    active = raw.get("profile")
    profile = profile if profile is not None else active
    if profile not in PROFILES:
        raise ConfigError(f"profile: {profile!r} is not one of {', '.join(PROFILES)}")
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict) or profile not in profiles:
        raise ConfigError(f"profiles.{profile}: section missing from params.yaml")
    bad = sorted(set(profiles) - set(PROFILES))
    if bad:
        raise ConfigError(f"profiles: unknown profile section(s) {bad}; allowed: {', '.join(PROFILES)}")
    validated, problems = {}, []
    for name in (p for p in PROFILES if p in profiles):  # every profile, so that a typo anywhere fails now
        try:
            validated[name] = ProfileConfig.model_validate(profiles[name])
        except ValidationError as err:
            problems += _format_validation_error(err, f"profiles.{name}")
    if problems:
        raise ConfigError("invalid parameters in params.yaml: " + "; ".join(problems))
    if active in validated:
        _check_data_root(raw.get("data_root"), active, validated[active])
    return Config(profile=profile, params=validated[profile], root=Path(root))


def _check_data_root(data_root: Any, active: str, params: ProfileConfig) -> None:
    """``data_root`` must be what the active profile reads: DVC tracks it as the prepare stage's input.

    (DVC cannot interpolate ``profiles.${profile}.data.root``, so the path is a top-level key.)
    """
    import os

    if params.data.source == "folders":
        expected, why = params.data.root, f"reads its images from profiles.{active}.data.root = {params.data.root!r}"
    else:
        expected, why = BUILTIN_DATA_ROOT, "builds its datasets from installed packages (in that module)"
    if not isinstance(data_root, str) or os.path.normpath(data_root) != os.path.normpath(expected):
        raise ConfigError(
            f"data_root: is {data_root!r}, but the active profile {active!r} {why}, which DVC must track as the "
            f"prepare stage's input; set data_root: {expected} in params.yaml "
            f"(or `dvc exp run -S profile={active} -S data_root={expected}`)"
        )
