"""Inputs of FINC's novelty experiment (AFHQ vs ImageNet-dogs) and of its swap.

Paper profile: the test and reference sets are two image folders (e.g. ``afhq`` and
``imagenet_dogs``); FINC's novel modes of the test set are what the reference lacks.

Mini profile (ground truth known): one dataset is split into two disjoint, stratified halves;
the test half keeps every class and the reference half loses the classes in
``finc_novelty.ref_missing`` -- for AnimalShape "cat" and the wildlife classes, mirroring
AFHQ (cats, dogs, wildlife) against ImageNet-dogs. A correct result puts the missing classes
in the top modes. Swapping the roles finds what the reference over-represents: its remaining
classes, each at twice its share of the test half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..data import DataError, ImageSet, train_val_split
from ..features import dataset_key, load_features, open_source


@dataclass(frozen=True)
class NoveltySets:
    test_features: np.ndarray
    ref_features: np.ndarray
    test_images: ImageSet | None  # in-memory test images for figures (None for large folders)
    test_labels: np.ndarray | None  # ground-truth classes of the test rows, when known
    ref_labels: np.ndarray | None  # ground-truth classes of the reference rows, when known
    missing: np.ndarray  # class ids absent from the reference (empty when unknown)
    class_names: tuple[str, ...]
    description: str


def novelty_sets(cfg: Config) -> NoveltySets:
    """Build the test/reference feature sets described in the module docstring."""
    p = cfg.params.finc_novelty
    feats = {name: load_features(cfg.features_dir, dataset_key(cfg, name))["features"] for name in {p.test, p.ref}}
    if p.test != p.ref:
        src = open_source(cfg, p.test)
        images = src if isinstance(src, ImageSet) else None
        return NoveltySets(feats[p.test], feats[p.ref], images, None, None, np.zeros(0, np.int64), (),
                           f"{p.test} (test) vs {p.ref} (reference)")
    ds = open_source(cfg, p.test)
    if not isinstance(ds, ImageSet) or len(ds.class_names) < 2:
        raise DataError(f"finc_novelty: test == ref == {p.test!r} needs a labelled dataset to split by class")
    unknown = [c for c in p.missing_names if c not in ds.class_names]
    if unknown or not p.missing_names:
        raise DataError(f"finc_novelty.ref_missing must name classes of {p.test!r} ({', '.join(ds.class_names)}), "
                        f"got {p.ref_missing!r}")
    missing = np.array([ds.class_names.index(c) for c in p.missing_names], dtype=np.int64)
    # positions of the halves inside ds (the cached features are in ds order)
    pos = ImageSet(ds.name, ds.images, ds.labels, ds.class_names, np.arange(len(ds)))
    test, ref = train_val_split(pos, 0.5, cfg.params.seed)
    ref_keep = ref.index[~np.isin(ref.labels, missing)]
    f = feats[p.test]
    return NoveltySets(f[test.index], f[ref_keep], ds.take(test.index), ds.labels[test.index], ds.labels[ref_keep],
                       missing,
                       ds.class_names, f"{p.test}: half with all classes (test) vs other half without "
                       f"{', '.join(p.missing_names)} (reference)")
