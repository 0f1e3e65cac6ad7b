"""Inputs of FINC's colored-MNIST sanity check (FINC paper, Fig. 1), for digits and animals.

For each source dataset, a seeded split into two disjoint halves gives

* ``ref``  -- half A, all grayscale (three identical channels);
* ``test`` -- half B with ``fraction`` of its images tinted (see :func:`beyondfid.zoo.transforms.colorize`),

so the only thing the test set has that the reference lacks is colour: a correct differential
clustering must put the coloured images in its top modes. This module writes both sets in the
standard format plus the ground-truth mask, and caches their features (the DVC
``finc_colored_inputs`` stage)::

    python -m beyondfid.finc.colored --profile mini
"""

from __future__ import annotations


import numpy as np

from ..config import Config, config_from_cli
from ..data import ImageSet, load_imageset, save_imageset
from ..features import code_fingerprint, extract_features, feature_key, open_source, source_fingerprint
from ..io import load_npz, save_npz
from ..zoo.transforms import colorize, to_rgb


def colored_pair(ds: ImageSet, fraction: float, seed: int) -> tuple[ImageSet, ImageSet, np.ndarray, np.ndarray]:
    """Split ``ds`` into disjoint halves: (test with ``fraction`` coloured, gray ref, is_colored, color_ids)."""
    if ds.images.shape[1] == 3 and np.array_equal(ds.images[:, :1].repeat(3, axis=1), ds.images):
        ds = ImageSet(ds.name, ds.images[:, :1].copy(), ds.labels, ds.class_names, ds.index)  # gray stored as RGB
    if ds.images.shape[1] != 1:
        raise ValueError(f"{ds.name}: the colored experiment needs grayscale images, got {ds.images.shape[1]} channels")
    if len(ds) < 4:
        raise ValueError(f"{ds.name}: {len(ds)} images are too few to split into test and reference halves")
    perm = np.random.default_rng(seed).permutation(len(ds))
    half = len(ds) // 2
    ref_idx, test_idx = np.sort(perm[:half]), np.sort(perm[half : 2 * half])
    ref_src, test_src = ds.take(ref_idx), ds.take(test_idx)
    rgb, is_colored, color_ids = colorize(test_src.images, fraction, seed + 1)
    test = ImageSet(f"{ds.name}_colored_test", rgb, test_src.labels, ds.class_names, test_src.index)
    ref = ImageSet(f"{ds.name}_colored_ref", to_rgb(ref_src.images), ref_src.labels, ds.class_names, ref_src.index)
    return test, ref, is_colored, color_ids


def _load(cfg: Config, name: str) -> ImageSet:
    """The whole dataset ``name`` in memory: a prepared ImageSet, or a paper image folder."""
    src = open_source(cfg, name)
    return src if isinstance(src, ImageSet) else src.load()


def inputs_dir(cfg: Config):
    return cfg.artifacts / "finc_colored"


def build_inputs(cfg: Config) -> dict[str, dict]:
    """Write the colored test / gray reference sets and their features for every configured dataset."""
    from ..extractors import get_extractor

    p = cfg.params.finc_colored
    f = cfg.params.features
    out = inputs_dir(cfg)
    extractor = get_extractor(f.extractor, resolution=f.resolution, device=f.device, weights=cfg.params.weights)
    summary = {}
    for name in p.dataset_names:
        ds = _load(cfg, name)
        ds = ds.subsample(min(p.max_images, len(ds)), cfg.params.seed)
        test, ref, is_colored, color_ids = colored_pair(ds, p.fraction, cfg.params.seed)
        for part in (test, ref):
            save_imageset(part, out, {"source": f"{name} ({cfg.datasets_dir})", "colored_fraction": p.fraction})
            key = feature_key(part.name, "all", extractor.name, extractor.resolution, len(part))
            extract_features(part, extractor, out / "features", key, shard_size=f.batch_size,
                             fingerprint=f"{code_fingerprint()}-{source_fingerprint(part)}")
        save_npz(out / f"{name}_colored_truth.npz", is_colored=is_colored, color_ids=color_ids)
        summary[name] = {"test": len(test), "ref": len(ref), "colored": int(is_colored.sum())}
    return summary


def load_inputs(cfg: Config, name: str) -> dict:
    """Everything the notebook needs for one dataset: images, features and ground truth."""
    f = cfg.params.features
    out = inputs_dir(cfg)
    res = {}
    for part in ("test", "ref"):
        ds = load_imageset(out, f"{name}_colored_{part}")
        key = feature_key(ds.name, "all", f.extractor, f.resolution, len(ds))
        res[part] = ds
        res[f"{part}_features"] = load_npz(out / "features" / f"{key}.npz")["features"]
    res.update(load_npz(out / f"{name}_colored_truth.npz"))
    return res


def main(argv: list[str] | None = None) -> None:
    cfg = config_from_cli("Build the colored-digits/animals inputs and their features.", argv)
    for name, s in build_inputs(cfg).items():
        print(f"{name}: test {s['test']} ({s['colored']} colored), ref {s['ref']}")


if __name__ == "__main__":
    main()
