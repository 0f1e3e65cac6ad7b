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
from typing import Literal

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


class ProfileConfig(_Strict):
    seed: int = Field(0, ge=0)
    data: DataConfig
    features: FeaturesConfig
    weights: WeightsConfig
    overview: OverviewConfig
    finc_colored: FincColoredConfig
    finc_novelty: FincNoveltyConfig

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
        uncached = [d for d in novelty if d not in self.features.dataset_names]
        if uncached:
            raise ValueError(f"finc_novelty uses {uncached}, which must also be listed in features.datasets "
                             f"(the notebook reads their cached features)")
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
    """Load and validate ``params.yaml``; ``profile=None`` uses the file's ``profile`` key."""
    params_path = Path(params_path)
    if not params_path.is_file():
        raise ConfigError(f"parameter file {params_path} not found; run from the repository root or pass params_path")
    with params_path.open() as fh:
        raw = yaml.safe_load(fh) or {}
    return config_from_dict(raw, profile=profile, root=root)


def config_from_cli(description: str, argv: list[str] | None = None) -> Config:
    """Parse the stage scripts' common command line (``--profile``, ``--params``, ``--root``) and load."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--profile", default=None, help="smoke | mini | paper (default: params.yaml's profile)")
    ap.add_argument("--params", default="params.yaml", help="parameter file")
    ap.add_argument("--root", default=".", help="folder under which artifacts/ and results/ are written")
    args = ap.parse_args(argv)
    return load_config(args.profile, args.params, args.root)


def config_from_dict(raw: dict, profile: str | None = None, root: str | Path = ".") -> Config:
    """Validate an already-parsed params mapping (see :func:`load_config`)."""
    if not isinstance(raw, dict):
        raise ConfigError("params.yaml must be a mapping with keys 'profile' and 'profiles'")
    unknown_top = sorted(set(raw) - {"profile", "profiles"})
    if unknown_top:
        raise ConfigError(f"params.yaml: unknown top-level key(s) {unknown_top}; allowed: profile, profiles")
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
