"""Extract features once, cache them on disk, resume after interruption.

The cache key names the dataset, split, extractor, input resolution and image count, e.g.
``animals-all-effnet_lite0-128px-n10000``. Extraction runs shard by shard (``shard_size``
images); every finished shard is written atomically to ``<key>.parts/``, so a killed run
restarts at the first missing shard. When all shards exist they are concatenated into
``<key>.npz`` (atomic rename) and the parts are removed.

Forward passes always use fixed micro-batches of :data:`MICRO_BATCH` images, padding the
last one, so features are bitwise identical whatever ``batch_size`` the caller chooses
(the CPU convolution kernels choose algorithms by batch size, which otherwise changes the
last bits).

Command line (the DVC ``features`` stage)::

    python -m beyondfid.features --profile mini
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from .progress import progress_bar

from .data import BatchSource, DataError, ImageFolder, load_imageset
from .io import load_npz, save_json, save_npz, sha256_array

MICRO_BATCH = 32


class FeatureError(ValueError):
    """Features are missing, stale, or contain non-finite values."""


def feature_key(dataset: str, split: str, extractor: str, resolution: int, count: int) -> str:
    """Cache key covering everything that changes the features."""
    for part in (dataset, split, extractor):
        if "-" in part or "/" in part or not part:
            raise FeatureError(f"cache-key part {part!r} must be non-empty and contain no '-' or '/'")
    return f"{dataset}-{split}-{extractor}-{resolution}px-n{count}"


def _forward(extractor, images: np.ndarray) -> dict[str, np.ndarray]:
    """Run the extractor in fixed micro-batches (zero-padded) and return float32 arrays."""
    chunks: dict[str, list[np.ndarray]] = {}
    for s in range(0, len(images), MICRO_BATCH):
        batch = images[s : s + MICRO_BATCH]
        n = len(batch)
        if n < MICRO_BATCH:
            pad = np.zeros((MICRO_BATCH - n,) + batch.shape[1:], dtype=np.uint8)
            batch = np.concatenate([batch, pad])
        out = extractor.extract(batch)
        for k, v in out.items():
            chunks.setdefault(k, []).append(np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v)[:n])
    return {k: np.concatenate(v).astype(np.float32, copy=False) for k, v in chunks.items()}


def check_finite(name: str, arrays: dict[str, np.ndarray], offset: int = 0) -> None:
    """Raise :class:`FeatureError` naming the (dataset) rows that hold NaN or inf."""
    for k, v in arrays.items():
        bad = ~np.isfinite(v)
        if bad.any():
            rows = offset + np.flatnonzero(bad.any(axis=tuple(range(1, v.ndim))))
            raise FeatureError(
                f"{name}: output {k!r} has non-finite values in {len(rows)} row(s) (first: {rows[:5].tolist()}); "
                f"check the input images and extractor weights"
            )


def extract_features(
    source: BatchSource,
    extractor,
    cache_dir: str | Path,
    key: str,
    shard_size: int = 1024,
    progress: bool = True,
    fingerprint: str = "",
) -> dict[str, np.ndarray]:
    """Features of every image in ``source``, from the cache if present, else computed and cached.

    ``fingerprint`` identifies the code that computes the features (see
    :func:`code_fingerprint`); a cached file or partial run made by different code is
    recomputed, so a persisted cache never serves stale features after a code change.
    """
    cache_dir = Path(cache_dir)
    final = cache_dir / f"{key}.npz"
    final_meta = cache_dir / f"{key}.json"
    n = len(source)
    if n == 0:
        raise FeatureError(f"{key}: the source has no images")
    if final.is_file():
        try:
            cached = json.loads(final_meta.read_text())
        except (OSError, ValueError):
            cached = None
        if cached == {"key": key, "n": n, "fingerprint": fingerprint}:
            return load_npz(final)
        final.unlink()  # made by other code or settings: recompute
    parts_dir = cache_dir / f"{key}.parts"
    meta = {"key": key, "n": n, "shard_size": shard_size, "extractor": extractor.name,
            "resolution": extractor.resolution, "outputs": dict(extractor.outputs), "fingerprint": fingerprint}
    meta_path = parts_dir / "meta.json"
    if parts_dir.exists():
        try:
            old = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            old = None
        if old != meta:  # different settings: the partial results cannot be reused
            shutil.rmtree(parts_dir)
    parts_dir.mkdir(parents=True, exist_ok=True)
    save_json(meta_path, meta)

    n_shards = (n + shard_size - 1) // shard_size
    done = sum((parts_dir / f"part_{i:05d}.npz").is_file() for i in range(n_shards))
    bar = progress_bar(total=n, desc=f"features {key}", unit="img", disable=not progress, initial=min(done * shard_size, n))
    for i in range(n_shards):
        part = parts_dir / f"part_{i:05d}.npz"
        if part.is_file():
            continue
        lo, hi = i * shard_size, min((i + 1) * shard_size, n)
        out = _forward(extractor, source.get(lo, hi))
        check_finite(f"{key} images {lo}..{hi - 1}", out, offset=lo)
        save_npz(part, **out)
        bar.update(hi - lo)
    bar.close()

    shards = [load_npz(parts_dir / f"part_{i:05d}.npz") for i in range(n_shards)]
    result = {k: np.concatenate([s[k] for s in shards]) for k in shards[0]}
    save_npz(final, **result)
    save_json(final_meta, {"key": key, "n": n, "fingerprint": fingerprint})
    shutil.rmtree(parts_dir)
    return result


def code_fingerprint() -> str:
    """SHA-256 over the source of the code that computes features (this module and the extractors)."""
    import hashlib

    here = Path(__file__).resolve().parent
    files = [here / "features.py"] + sorted(p for p in (here / "extractors").glob("*.py") if p.name != "__init__.py")
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def source_fingerprint(source: BatchSource) -> str:
    """Identifies the images: SHA-256 of an in-memory set's pixels, or of a folder's file names and sizes."""
    import hashlib

    if isinstance(source, ImageFolder):
        h = hashlib.sha256()
        for p in source.files:
            h.update(f"{p.name}:{p.stat().st_size};".encode())
        return h.hexdigest()[:16]
    return sha256_array(source.get(0, len(source)))[:16]


def load_features(cache_dir: str | Path, key: str) -> dict[str, np.ndarray]:
    """Load cached features, with an error that says which stage to run when absent."""
    path = Path(cache_dir) / f"{key}.npz"
    if not path.is_file():
        raise FeatureError(f"features {key!r} not found at {path}; run the features stage (`dvc repro features`)")
    out = load_npz(path)
    check_finite(key, out)
    return out


def open_source(cfg, name: str) -> BatchSource:
    """The images of dataset ``name`` for this profile: a prepared ImageSet or a paper image folder."""
    d = cfg.params.data
    if d.source == "builtin":
        return load_imageset(cfg.datasets_dir, name)
    if name not in d.folder_names:
        raise DataError(f"{name!r} is not among data.folders ({d.folders})")
    return ImageFolder(Path(d.root) / name, size=d.image_size or None, skip_corrupt=d.skip_corrupt)


def dataset_key(cfg, name: str, split: str = "all", extractor: str | None = None) -> str:
    """Cache key of dataset ``name`` under the profile's feature settings."""
    f = cfg.params.features
    n = len(open_source(cfg, name))
    return feature_key(name, split, extractor or f.extractor, f.resolution, n)


def main(argv: list[str] | None = None) -> None:
    from .config import config_from_cli
    from .extractors import get_extractor

    cfg = config_from_cli(__doc__.split("\n\n")[0], argv)
    f = cfg.params.features
    torch.manual_seed(cfg.params.seed)
    extractor = get_extractor(f.extractor, resolution=f.resolution, device=f.device, weights=cfg.params.weights)
    index = {}
    for name in f.dataset_names:
        source = open_source(cfg, name)
        key = feature_key(name, "all", extractor.name, extractor.resolution, len(source))
        out = extract_features(source, extractor, cfg.features_dir, key, shard_size=f.batch_size,
                               fingerprint=f"{code_fingerprint()}-{source_fingerprint(source)}")
        index[name] = {"key": key, "shapes": {k: list(v.shape) for k, v in out.items()}}
    save_json(cfg.features_dir / "index.json", index)


if __name__ == "__main__":
    main()
