"""Typed, validated configuration loaded from ``params.yaml``.

``params.yaml`` has a top-level ``profile`` key (``smoke`` | ``mini`` | ``paper``) and one
section per profile under ``profiles``. Everything is validated once, at load: an unknown
key, a wrong type or an impossible value raises :class:`ConfigError` naming the key, before
any work starts.

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


class ConfigError(ValueError):
    """A parameter in params.yaml is missing, unknown, mistyped or impossible."""


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
            raise ValueError("data.folders must list the distribution folders when data.source is 'folders'")
        return self

    @model_validator(mode="after")
    def _photo_size(self) -> "DataConfig":
        if self.source == "builtin" and self.image_size < 32:
            raise ValueError(f"data.image_size must be >= 32 for the builtin photos, got {self.image_size}")
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
    time_cap_s: float = Field(gt=0.0, le=604_800.0, description="per-run time cap in seconds (stands for the paper's 24 h)")
    memory_cap_gb: float = Field(gt=0.0, le=4096.0, description="per-run cap on extra resident memory, GB (1e9 bytes)")
    threads: int = Field(ge=1, le=1024, description="torch/BLAS threads of every measured run")

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
MODELS = ("ddpm_s", "ddpm_l", "dit", "gan", "projected_gan", "memorizer", "vae")
ENCODERS = ("ssl_contrastive", "ssl_masked", "classifier")
Family = Literal["unet_ddpm", "dit", "dcgan", "projected_gan", "vae", "folder"]
FAMILY_OF = {"ddpm_s": "unet_ddpm", "ddpm_l": "unet_ddpm", "dit": "dit", "gan": "dcgan",
             "projected_gan": "projected_gan", "memorizer": "unet_ddpm", "vae": "vae"}


class EncoderConfig(_Strict):
    """Training hyper-parameters shared by both encoders."""

    n_steps: int = Field(400, ge=1, le=1_000_000, description="optimisation steps")
    batch_size: int = Field(128, ge=4, le=4096, description="images per step")
    lr: float = Field(0.001, gt=0.0, le=1.0, description="AdamW peak learning rate (linear warm-up, cosine decay)")
    warmup_steps: int = Field(20, ge=0, le=100_000)
    weight_decay: float = Field(0.05, ge=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    ckpt_every: int = Field(200, ge=1, le=1_000_000)


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


class GeneratorConfig(_Strict):
    """One generator: architecture, optimisation and sampling. Fields a family does not use are ignored."""

    family: Family = Field(description="unet_ddpm | dit | dcgan | projected_gan | vae | folder (paper profile: read the samples from `folder` instead of training)")
    folder: str = Field("", description="family folder: image folder of the samples, relative to data.root")
    candidates_folder: str = Field("", description="family folder: optional folder of the candidate pool")
    width: int = Field(32, ge=4, le=1024, description="UNet base channels / DiT token dim / GAN & VAE base channels")
    depth: int = Field(3, ge=1, le=32, description="UNet resolution levels / DiT blocks")
    heads: int = Field(4, ge=1, le=32, description="DiT attention heads")
    z_dim: int = Field(64, ge=1, le=4096, description="GAN / VAE latent size")
    steps: int = Field(ge=1, le=10_000_000, description="optimisation steps")
    batch_size: int = Field(64, ge=2, le=8192)
    lr: float = Field(2.0e-4, gt=0.0, le=1.0, description="Adam learning rate")
    warmup: int = Field(0, ge=0, le=1_000_000, description="linear learning-rate warm-up steps")
    ema: float = Field(0.0, ge=0.0, lt=1.0, description="diffusion: EMA decay of the sampled weights (0 = off)")
    timesteps: int = Field(1000, ge=2, le=100_000, description="diffusion: T of the cosine schedule")
    sample_steps: int = Field(25, ge=1, le=10_000, description="diffusion: DDIM steps")
    beta: float = Field(1.0, gt=0.0, le=100.0, description="VAE: KL weight")
    feature_resolution: int = Field(64, ge=32, le=512, description="projected_gan: EfficientNet input side")
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

    @model_validator(mode="after")
    def _consistent(self) -> "GeneratorConfig":
        if self.n_snapshots and not self.snapshot_samples:
            raise ValueError("n_snapshots > 0 needs snapshot_samples > 0")
        if self.n_snapshots > self.steps:
            raise ValueError(f"n_snapshots={self.n_snapshots} exceeds steps={self.steps}")
        if self.family == "dit" and self.width % (2 * self.heads):
            raise ValueError(f"DiT width {self.width} must be a multiple of 2*heads={2 * self.heads}")
        if self.family == "unet_ddpm" and (self.width % 2 or self.depth > 3):
            raise ValueError(f"UNet needs an even width and depth <= 3 on 16x16 folded images, got {self.width}/{self.depth}")
        if self.family == "folder" and not self.folder:
            raise ValueError("family 'folder' needs `folder` (the sample folder under data.root)")
        if self.train_subset and self.train_subset < self.batch_size:
            raise ValueError(f"train_subset={self.train_subset} is smaller than batch_size={self.batch_size}")
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
            raise ValueError(f"unknown zoo model(s) {unknown}; the zoo has {', '.join(MODELS)}")
        for name, cfg in self.models.items():
            if cfg.family not in (FAMILY_OF[name], "folder"):
                raise ValueError(f"models.{name}.family must be {FAMILY_OF[name]!r} (or 'folder'), got {cfg.family!r}")
        return self



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

    @model_validator(mode="after")
    def _datasets_exist(self) -> "ProfileConfig":
        known = MINI_DATASETS if self.data.source == "builtin" else self.data.folder_names
        novelty = (self.finc_novelty.test, self.finc_novelty.ref)
        unknown = [d for d in self.features.dataset_names + self.finc_colored.dataset_names + novelty if d not in known]
        if unknown:
            raise ValueError(
                f"datasets {unknown} (features.datasets / finc_colored.datasets / finc_novelty) are not provided "
                f"by data.source={self.data.source!r} (available: {', '.join(known)})"
            )
        if self.zoo.real not in known:
            raise ValueError(f"zoo.real={self.zoo.real!r} is not provided by data.source={self.data.source!r} "
                             f"(available: {', '.join(known)})")
        missing_models = [m for m in MODELS if m not in self.zoo.models]
        if missing_models:
            raise ValueError(f"zoo.models lacks {missing_models}: every zoo role is a pipeline stage, so each needs "
                             f"an entry (family 'folder' on the paper profile)")
        uncached = [d for d in novelty if d not in self.features.dataset_names]
        if uncached:
            raise ValueError(f"finc_novelty uses {uncached}, which must also be listed in features.datasets "
                             f"(the notebook reads their cached features)")
        return self

    @model_validator(mode="after")
    def _scalability_features_cached(self) -> "ProfileConfig":
        name = self.finc_scalability.real_dataset
        if name not in self.features.dataset_names:
            raise ValueError(f"finc_scalability.real_dataset={name!r} must be listed in features.datasets "
                             f"({self.features.datasets}): the notebook reads its cached features")
        return self


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


def _format_validation_error(err: ValidationError, prefix: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        key = f"{prefix}.{loc}" if loc else prefix
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo? remove it or check the spelling against params.yaml)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"  {key}: {msg} (got {e.get('input')!r})" if e["type"] != "missing" else f"  {key}: {msg}")
    return "invalid parameters in params.yaml:\n" + "\n".join(lines)


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
    return load_config(args.profile, args.params, args.root)


def config_from_dict(raw: dict, profile: str | None = None, root: str | Path = ".") -> Config:
    """Validate an already-parsed params mapping (see :func:`load_config`)."""
    if not isinstance(raw, dict):
        raise ConfigError("params.yaml must be a mapping with keys 'profile' and 'profiles'")
    # ``report`` (the cross-paper report's registry and claim rules) is profile-independent and is
    # validated by the report stage itself (beyondfid.crosspaper.spec): the core imports no subpackage.
    unknown_top = sorted(set(raw) - {"profile", "profiles", "report"})
    if unknown_top:
        raise ConfigError(f"params.yaml: unknown top-level key(s) {unknown_top}; allowed: profile, profiles, report")
    profile = profile if profile is not None else raw.get("profile")
    if profile not in PROFILES:
        raise ConfigError(f"profile: {profile!r} is not one of {', '.join(PROFILES)}")
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict) or profile not in profiles:
        raise ConfigError(f"profiles.{profile}: section missing from params.yaml")
    bad = sorted(set(profiles) - set(PROFILES))
    if bad:
        raise ConfigError(f"profiles: unknown profile section(s) {bad}; allowed: {', '.join(PROFILES)}")
    try:
        params = ProfileConfig.model_validate(profiles[profile])
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, f"profiles.{profile}")) from None
    return Config(profile=profile, params=params, root=Path(root))
