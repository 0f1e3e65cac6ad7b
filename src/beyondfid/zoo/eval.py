"""Evaluate the model zoo once: features, classifier labels and nearest training neighbours of every sample set.

The ``zoo_eval`` stage writes one ``artifacts/<profile>/zoo/eval/<set>.npz`` per sample set:
the real splits (``real_train``, ``real_heldout``, ``real_half_a``, ``real_half_b``), every
zoo model's ``samples.npz``, the GAN's candidate pool (``gan_candidates``) and its training
snapshots (``gan_snap_XXXXXXX``, 7-digit step). Keys:

============== ============== ==========================================================
key            dtype, shape   meaning
============== ============== ==========================================================
effnet         float32 (N, D) ``features.extractor`` @ ``features.resolution`` (mini:
                              EfficientNet-Lite0 @ 128 px, 1280-d), fixed micro-batch
                              forward of :mod:`beyondfid.features` (batch-independent bits)
ssl_contrastive float32 (N, d) the zoo's SimCLR encoder (absent if its config is null)
ssl_masked     float32 (N, d) the zoo's MAE encoder (absent if its config is null)
proba          float64 (N, C) domain-classifier softmax (absent if the classifier is null)
labels         int64 (N,)     ``argmax(proba)``
nn_dist        float64 (N, 2) pixel L2 (images in [0, 1]) to the 2 nearest ``real_train``
                              images, nearest first -- every set except ``real_train``
nn_index       int64 (N, 2)   their rows in ``real_train``
============== ============== ==========================================================

(The contract requires ``nn_*`` for the generated sets; the held-out real splits carry them
too, as the "not a copy" reference.) On the paper profile the sets are image folders: they are
streamed, never loaded whole, and the pixel search runs at :data:`NN_FOLDER_SIZE` px. The real splits' ``effnet`` rows are sliced from the
``features`` stage's cache of the whole dataset when it is current; this gives the same
bits as extracting them (tested).

``index.json`` lists ``{"sets": {name: {"count", "source", "fingerprint"}}, "class_names",
"extractor", "resolution"}``. The fingerprint hashes everything a set's arrays depend on (its
pixels, the extractor, its code, the encoder/classifier checkpoints, ``real_train``); a
re-run recomputes only sets that are missing or whose fingerprint changed, so an
interrupted run resumes and a retrained model is re-evaluated alone.

The second half of this module holds the typed helpers the ``zoo`` notebook uses (the zoo
table, copy shares, snapshot FIDs, class histograms, training-curve smoothing).

Command line (the DVC ``zoo_eval`` stage)::

    python -m beyondfid.zoo.eval --profile mini
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from ..progress import progress_bar

from .classifier import ClassifierError
from ..config import MODELS, Config, ConfigError, add_stage_arguments, apply_threads, load_config
from ..data import BatchSource, DataError, ImageFolder, ImageSet, load_imageset
from ..extractors.base import ExtractorError
from ..features import (
    FeatureError,
    _forward,
    check_finite,
    code_fingerprint,
    feature_key,
    load_features,
    source_fingerprint,
)
from ..io import load_npz, save_json, save_npz, sha256_array, sha256_file
from .registry import SPLITS, ZooError, nearest_neighbor_l2, zoo_dirs

#: Bump when the meaning of an eval array changes without any input changing (forces recomputation).
EVAL_VERSION = 1
NN_K = 2
#: Image folders (paper profile): the pixel nearest-neighbour search runs on images centre-cropped and
#: resized to this side (a full-resolution search over 50k x 56k megapixel images is out of reach).
NN_FOLDER_SIZE = 64
SSL_KEYS = ("ssl_contrastive", "ssl_masked")
STAGE = "zoo_eval"

if TYPE_CHECKING:
    import pandas as pd


class ZooEvalError(ValueError):
    """A zoo evaluation input or output is missing, stale or malformed."""


# --------------------------------------------------------------------------------------
# The sample sets
# --------------------------------------------------------------------------------------


class _FolderRows:
    """Rows ``index`` of an :class:`ImageFolder` as a batch source (paper-profile real splits)."""

    def __init__(self, folder: ImageFolder, index: np.ndarray, name: str) -> None:
        self.folder, self.index, self.name = folder, np.asarray(index, np.int64), name
        if len(self.index) and (self.index.min() < 0 or self.index.max() >= len(folder)):
            raise ZooEvalError(f"{name}: split indices exceed the {len(folder)} images of {folder.root}; "
                               f"re-run `dvc repro zoo_splits`")

    def __len__(self) -> int:
        return len(self.index)

    def get(self, start: int, stop: int) -> np.ndarray:
        return np.stack([self.folder._decode(self.folder.files[i]) for i in self.index[start:stop]])


@dataclass(frozen=True)
class SampleSet:
    """One set to evaluate: its images (in memory or streamed from a folder) and where they come from."""

    name: str
    images: BatchSource
    source: Path
    real: bool
    index: np.ndarray | None = None  # real splits: rows of the ``zoo.real`` dataset (= feature-cache rows)
    nn_images: BatchSource | None = None  # image folders: the images at NN_FOLDER_SIZE for the pixel search


def eval_dir(cfg: Config) -> Path:
    """``artifacts/<profile>/zoo/eval``."""
    return cfg.artifacts / "zoo" / "eval"


def _array_set(name: str, images: np.ndarray) -> ImageSet:
    return ImageSet(name, images, np.zeros(len(images), np.int64))


def _folder_kwargs(cfg: Config) -> dict[str, Any]:
    d = cfg.params.data
    return {"size": d.image_size or None, "skip_corrupt": d.skip_corrupt}


def load_split(cfg: Config, split: str, size: int | None = None) -> BatchSource:
    """A real split: an :class:`ImageSet` (builtin data) or the split's rows of the paper image folder
    (at ``data.image_size``, or at side ``size`` if given)."""
    splits = zoo_dirs(cfg)["splits"]
    if cfg.params.data.source == "builtin":
        if not (splits / f"{split}.npz").is_file():
            raise ZooEvalError(f"zoo split {split!r} not found in {splits}; run `dvc repro zoo_splits`")
        return load_imageset(splits, split)
    meta_path = splits / f"{split}.json"
    if not meta_path.is_file():
        raise ZooEvalError(f"zoo split {split!r} not found in {splits}; run `dvc repro zoo_splits`")
    meta = json.loads(meta_path.read_text())
    kw = dict(_folder_kwargs(cfg), **({"size": size} if size else {}))
    folder = ImageFolder(Path(cfg.params.data.root) / cfg.params.zoo.real, **kw)
    return _FolderRows(folder, np.asarray(meta["index"], np.int64), split)


def load_log(cfg: Config, model: str) -> dict[str, Any]:
    """``log.json`` of a finished zoo model, or an error naming the stage that writes it."""
    path = zoo_dirs(cfg)["models"] / model / "log.json"
    if not path.is_file():
        raise ZooEvalError(f"zoo model {model!r} has no {path}; run `dvc repro zoo_train@{model}`")
    log = json.loads(path.read_text())
    if not log.get("finished", False):
        raise ZooEvalError(f"zoo model {model!r} is unfinished ({log.get('steps_done')} steps); "
                           f"run `dvc repro zoo_train@{model}`")
    return log


def load_encoder_log(cfg: Config, name: str) -> dict[str, Any] | None:
    """``log.json`` of a zoo encoder; ``None`` if the profile does not train it (null config)."""
    if getattr(cfg.params.zoo, name) is None:
        return None
    path = zoo_dirs(cfg)["encoders"] / name / "log.json"
    if not path.is_file() or not (path.parent / "ckpt.pt").is_file():
        raise ZooEvalError(f"zoo encoder {name!r} not found in {path.parent}; run `dvc repro zoo_encoder@{name}`")
    return json.loads(path.read_text())


def _model_sets(cfg: Config, model: str) -> list[SampleSet]:
    log = load_log(cfg, model)
    d = zoo_dirs(cfg)["models"] / model
    if log.get("family") == "folder":
        out = []
        for which, name in (("samples", model), ("candidates", f"{model}_candidates")):
            if which in log.get("folders", {}):
                folder = Path(log["folders"][which])
                kw = dict(_folder_kwargs(cfg), size=NN_FOLDER_SIZE)
                out.append(SampleSet(name, ImageFolder(folder, name=name, **_folder_kwargs(cfg)), folder, False,
                                     nn_images=ImageFolder(folder, name=name, **kw)))
        if not out:
            raise ZooEvalError(f"{d / 'log.json'} names no sample folder; run `dvc repro zoo_train@{model}`")
        return out
    out = []
    for which, name in (("samples", model), ("candidates", f"{model}_candidates")):
        path = d / f"{which}.npz"
        if path.is_file():
            out.append(SampleSet(name, _array_set(name, load_npz(path)["images"]), path, False))
        elif which == "samples":
            raise ZooEvalError(f"zoo model {model!r} has no {path}; run `dvc repro zoo_train@{model}`")
    for rel in log.get("snapshots", []):
        path = d / rel
        if not path.is_file():
            raise ZooEvalError(f"snapshot {path} listed in {d / 'log.json'} is missing; "
                               f"run `dvc repro zoo_train@{model}`")
        z = load_npz(path)
        name = f"{model}_snap_{int(z['step']):07d}"
        out.append(SampleSet(name, _array_set(name, z["images"]), path, False))
    return out


def first_images(cfg: Config, name: str, n: int) -> np.ndarray:
    """The first ``n`` images of a zoo model's samples (or of a real split), from wherever they live."""
    if name in SPLITS:
        src = load_split(cfg, name)
    else:
        model = next((m for m in MODELS if name == m or name.startswith(f"{m}_")), None)
        if model is None:
            raise ZooEvalError(f"unknown sample set {name!r}")
        sets = {s.name: s for s in _model_sets(cfg, model)}
        if name not in sets:
            raise ZooEvalError(f"{name!r} is not among {model}'s sets ({', '.join(sets)})")
        src = sets[name].images
    return src.get(0, min(n, len(src)))


def sample_sets(cfg: Config) -> list[SampleSet]:
    """Every set the stage evaluates, in the order: real splits, models (``MODELS`` order), pools, snapshots."""
    real = []
    for split in SPLITS:
        src = load_split(cfg, split)
        ext = ".npz" if cfg.params.data.source == "builtin" else ".json"
        nn = load_split(cfg, split, NN_FOLDER_SIZE) if isinstance(src, _FolderRows) else None
        real.append(SampleSet(split, src, zoo_dirs(cfg)["splits"] / f"{split}{ext}", True, np.asarray(src.index), nn))
    models, extra = [], []
    for m in MODELS:
        sets = _model_sets(cfg, m)
        models.append(sets[0])
        extra.extend(sets[1:])
    return real + models + extra


# --------------------------------------------------------------------------------------
# Computing one set
# --------------------------------------------------------------------------------------


def _images_fingerprint(src: BatchSource) -> str:
    if isinstance(src, _FolderRows):
        return hashlib.sha256((source_fingerprint(src.folder) + sha256_array(src.index)).encode()).hexdigest()[:16]
    return source_fingerprint(src)


@dataclass
class _Context:
    cfg: Config
    extractor: Any
    ssl: dict[str, Any]
    classifier: Any
    class_names: list[str]
    real_train: BatchSource
    common_fp: dict[str, Any]
    real_cache: tuple[np.ndarray, np.ndarray] | None  # (features, dataset index) of zoo.real, if cached and current


def _set_fingerprint(s: SampleSet, ctx: _Context) -> str:
    parts = dict(ctx.common_fp, images=_images_fingerprint(s.images), nn=s.name != "real_train")
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _real_feature_cache(cfg: Config, extractor: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The features stage's cache of ``zoo.real`` if it exists and was made by the current code and pixels:
    ``(features, index)``, ``index`` = each cached row's position in the source (what split indices hold)."""
    from ..features import open_source

    f = cfg.params.features
    real = cfg.params.zoo.real
    if real not in f.dataset_names:
        return None
    try:
        source = open_source(cfg, real)
    except DataError:
        return None
    key = feature_key(real, "all", extractor.name, extractor.resolution, len(source))
    meta_path = cfg.features_dir / f"{key}.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        return None
    if meta.get("fingerprint") != f"{code_fingerprint()}-{source_fingerprint(source)}":
        return None
    index = source.index if isinstance(source, ImageSet) else np.arange(len(source))
    return load_features(cfg.features_dir, key)["features"], np.asarray(index, np.int64)


def _extract(extractor: Any, src: BatchSource, chunk: int, name: str, bar: Any) -> np.ndarray:
    """``features`` of every image of ``src`` in chunks (fixed micro-batch forward), finite-checked."""
    out = []
    for lo in range(0, len(src), chunk):
        hi = min(lo + chunk, len(src))
        f = _forward(extractor, src.get(lo, hi))
        check_finite(f"{name} ({extractor.name}) images {lo}..{hi - 1}", f, offset=lo)
        out.append(f["features"])
        bar.update(hi - lo)
    return np.concatenate(out)


def streaming_nearest_neighbors(samples: BatchSource, reference: BatchSource, k: int = NN_K,
                                chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """``k`` nearest ``reference`` images of each sample in pixel L2 (images in [0, 1]), nearest first.

    Candidates come from :func:`beyondfid.zoo.nearest_neighbor_l2` per chunk, merged across
    chunks (so memory stays bounded for image folders). The selected distances are then
    recomputed directly as ``||a - b||_2`` (the Gram-matrix form used for the search loses
    ~1e-7 to cancellation, so an exact copy would otherwise not be at distance 0).
    """
    dists, idxs = [], []
    for s in range(0, len(samples), chunk):
        a = samples.get(s, min(s + chunk, len(samples)))
        best_d = np.zeros((len(a), 0))
        best_i = np.zeros((len(a), 0), np.int64)
        for r in range(0, len(reference), chunk):
            b = reference.get(r, min(r + chunk, len(reference)))
            d, i = nearest_neighbor_l2(a, b, k=min(k, len(b)))
            cd, ci = np.concatenate([best_d, d], 1), np.concatenate([best_i, i + r], 1)
            order = np.argsort(cd, axis=1, kind="stable")[:, :k]
            best_d, best_i = np.take_along_axis(cd, order, 1), np.take_along_axis(ci, order, 1)
        exact = np.empty_like(best_d)
        af = a.reshape(len(a), -1).astype(np.float64) / 255.0
        for j in range(best_i.shape[1]):
            for r in np.unique(best_i[:, j] // chunk):
                rows = np.flatnonzero(best_i[:, j] // chunk == r)
                b = reference.get(r * chunk, min((r + 1) * chunk, len(reference)))
                bf = b[best_i[rows, j] - r * chunk].reshape(len(rows), -1).astype(np.float64) / 255.0
                exact[rows, j] = np.sqrt(((af[rows] - bf) ** 2).sum(1))
        order = np.argsort(exact, axis=1, kind="stable")
        dists.append(np.take_along_axis(exact, order, 1))
        idxs.append(np.take_along_axis(best_i, order, 1))
    return np.concatenate(dists).astype(np.float64), np.concatenate(idxs).astype(np.int64)


def evaluate_set(s: SampleSet, ctx: _Context, progress: bool = True) -> dict[str, np.ndarray]:
    """All arrays of one set (see the module docstring)."""
    f = ctx.cfg.params.features
    n = len(s.images)
    if n == 0:
        raise ZooEvalError(f"{s.name}: {s.source} holds no images")
    cached = s.real and ctx.real_cache is not None
    passes = 1 + len(ctx.ssl) + (ctx.classifier is not None) + (s.name != "real_train")
    bar = progress_bar(total=n * passes, desc=f"zoo_eval {s.name}", unit="img", disable=not progress)
    out: dict[str, np.ndarray] = {}
    if cached:
        feats, index = ctx.real_cache
        out["effnet"] = np.ascontiguousarray(feats[rows_of(index, s.index)], dtype=np.float32)
        bar.update(n)
    else:
        out["effnet"] = _extract(ctx.extractor, s.images, f.batch_size, s.name, bar)
    for key, ext in ctx.ssl.items():
        out[key] = _extract(ext, s.images, f.batch_size, s.name, bar)
    if ctx.classifier is not None:
        from .classifier import predict_proba

        probs = []
        for lo in range(0, n, f.batch_size):
            hi = min(lo + f.batch_size, n)
            probs.append(predict_proba(ctx.classifier, s.images.get(lo, hi)))
            bar.update(hi - lo)
        out["proba"] = np.concatenate(probs).astype(np.float64)
        check_finite(f"{s.name} (classifier)", {"proba": out["proba"]})
        out["labels"] = out["proba"].argmax(axis=1).astype(np.int64)
    if s.name != "real_train":
        images = s.images if s.nn_images is None else s.nn_images
        per_image = max(1, int(np.prod(images.get(0, 1).shape[1:])))
        chunk = max(1, min(4096, 2**26 // per_image))  # <= 64 MB of uint8 pixels per chunk
        out["nn_dist"], out["nn_index"] = streaming_nearest_neighbors(images, ctx.real_train, NN_K, chunk)
        bar.update(n)
    bar.close()
    return out


def _context(cfg: Config) -> _Context:
    from .classifier import load_classifier
    from ..extractors import get_extractor

    f = cfg.params.features
    enc = zoo_dirs(cfg)["encoders"]
    extractor = get_extractor(f.extractor, resolution=f.resolution, device=f.device, weights=cfg.params.weights)
    ssl, ckpts = {}, {}
    for key in SSL_KEYS:
        if load_encoder_log(cfg, key) is not None:
            ckpts[key] = sha256_file(enc / key / "ckpt.pt")
            ssl[key] = get_extractor(key, checkpoint=enc / key / "ckpt.pt", device=f.device)
    clf_log = load_encoder_log(cfg, "classifier")
    classifier, class_names = None, []
    if clf_log is not None:
        ckpts["classifier"] = sha256_file(enc / "classifier" / "ckpt.pt")
        classifier = load_classifier(enc / "classifier" / "ckpt.pt")
        class_names = list(clf_log["class_names"])
    real_train = load_split(cfg, "real_train")
    common = {"version": EVAL_VERSION, "extractor": extractor.name, "resolution": extractor.resolution,
              "code": code_fingerprint(), "checkpoints": ckpts, "nn_k": NN_K,
              "real_train": _images_fingerprint(real_train)}
    if isinstance(real_train, _FolderRows):  # decode the search reference once, at the search size
        small = load_split(cfg, "real_train", NN_FOLDER_SIZE)
        real_train = _array_set("real_train", small.get(0, len(small)))
        common["nn_size"] = NN_FOLDER_SIZE
    return _Context(cfg, extractor, ssl, classifier, class_names, real_train, common,
                    _real_feature_cache(cfg, extractor))


def evaluate_images(cfg: Config, images: np.ndarray, name: str = "images", ctx: _Context | None = None,
                    progress: bool = False) -> dict[str, np.ndarray]:
    """The ``zoo_eval`` arrays of an in-memory image set (uint8 N x 1 x 28 x 28), computed exactly as the stage
    computes a model's samples (benchmarks use it for sets outside the pipeline, e.g. other training seeds).
    Pass ``ctx=eval_context(cfg)`` to reuse the loaded networks across calls."""
    ctx = ctx or _context(cfg)
    return evaluate_set(SampleSet(name, _array_set(name, np.asarray(images)), Path(name), False), ctx, progress)


def eval_context(cfg: Config) -> _Context:
    """The loaded extractor, encoders, classifier and ``real_train`` reference of the evaluation."""
    return _context(cfg)


def _read_index(path: Path) -> dict[str, Any]:
    try:
        idx = json.loads(path.read_text())
        return idx if isinstance(idx.get("sets"), dict) else {"sets": {}}
    except (OSError, ValueError, AttributeError):
        return {"sets": {}}


def run_eval(cfg: Config, progress: bool = True) -> dict[str, Any]:
    """The ``zoo_eval`` stage: (re)compute every missing or stale set, drop sets that no longer exist.

    Returns the written ``index.json`` plus ``"computed"``, the names recomputed in this call.
    """
    torch.manual_seed(cfg.params.seed)
    sets = sample_sets(cfg)
    ctx = _context(cfg)
    out_dir = eval_dir(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    old = _read_index(out_dir / "index.json")["sets"]
    index: dict[str, Any] = {"sets": {}, "class_names": ctx.class_names, "extractor": ctx.extractor.name,
                             "resolution": int(ctx.extractor.resolution)}
    computed = []
    for s in sets:
        fp = _set_fingerprint(s, ctx)
        path = out_dir / f"{s.name}.npz"
        try:
            rel = str(s.source.resolve().relative_to(Path(cfg.root).resolve()))
        except ValueError:
            rel = str(s.source)
        entry = {"count": len(s.images), "source": rel, "fingerprint": fp}
        if not (path.is_file() and old.get(s.name) == entry):
            arrays = evaluate_set(s, ctx, progress)
            save_npz(path, **arrays)
            computed.append(s.name)
        index["sets"][s.name] = entry
        save_json(out_dir / "index.json", dict(index, sets=dict(old, **index["sets"])))
    wanted = {s.name for s in sets}
    for p in out_dir.glob("*.npz"):
        if p.stem not in wanted:
            p.unlink()  # a set that no longer exists (e.g. a changed snapshot schedule)
    save_json(out_dir / "index.json", index)
    return dict(index, computed=computed)


# --------------------------------------------------------------------------------------
# Reading the evaluation
# --------------------------------------------------------------------------------------


def _index(cfg: Config) -> dict[str, Any]:
    path = eval_dir(cfg) / "index.json"
    if not path.is_file():
        raise ZooEvalError(f"zoo evaluation index {path} not found; run `dvc repro {STAGE}`")
    return json.loads(path.read_text())


def _stage_order(name: str) -> tuple[int, int, str]:
    if name in SPLITS:
        return (0, SPLITS.index(name), "")
    if name in MODELS:
        return (1, MODELS.index(name), "")
    return (2, 0, name)  # candidate pools, then snapshots by step (names sort by their 7-digit step)


def eval_sets(cfg: Config) -> list[str]:
    """Names of the evaluated sets, in stage order (real splits, models, candidate pools, snapshots)."""
    return sorted(_index(cfg)["sets"], key=_stage_order)


def eval_index(cfg: Config) -> dict[str, Any]:
    """The stage's ``index.json`` (sets with counts and sources, class names, extractor, resolution)."""
    return _index(cfg)


def load_eval(cfg: Config, name: str) -> dict[str, np.ndarray]:
    """The arrays of set ``name``; an error naming the stage to run if it is missing."""
    path = eval_dir(cfg) / f"{name}.npz"
    if not path.is_file():
        raise ZooEvalError(f"zoo evaluation of {name!r} not found at {path}; run `dvc repro {STAGE}`")
    out = load_npz(path)
    check_finite(f"zoo eval {name}", {k: v for k, v in out.items() if v.dtype.kind == "f"})
    return out


# --------------------------------------------------------------------------------------
# Helpers for the zoo notebook (pure functions over the evaluation)
# --------------------------------------------------------------------------------------


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean ``y_t = mean(x_{t-w+1..t})`` over the first ``t >= w-1`` (``valid`` convolution)."""
    x = np.asarray(x, dtype=np.float64)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    window = min(window, len(x)) or 1
    c = np.cumsum(np.insert(x, 0, 0.0))
    return (c[window:] - c[:-window]) / window


def history_arrays(history: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """A training ``history`` (list of per-step dicts) as ``{"step": ..., <quantity>: ...}`` float arrays."""
    keys = sorted({k for h in history for k in h if k != "step"})
    out = {"step": np.array([h.get("step", i) for i, h in enumerate(history)], dtype=np.float64)}
    for k in keys:
        out[k] = np.array([h.get(k, np.nan) for h in history], dtype=np.float64)
    return out


def ratio_copy_share(nn_dist: np.ndarray, ratio: float = 1 / 3) -> float:
    """Share of samples flagged by the ratio test: ``d1 == 0`` or ``d1 < ratio * d2``
    (nearest training image much closer than the second nearest)."""
    d = np.asarray(nn_dist, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < 2 or len(d) == 0:
        raise ValueError(f"nn_dist must be (N >= 1, >= 2), got {d.shape}")
    return float(np.mean((d[:, 0] == 0) | (d[:, 0] < ratio * d[:, 1])))


def l2_copy_threshold(reference_nn_dist: np.ndarray, percentile: float = 1.0) -> float:
    """The ``percentile``-th percentile of real held-out images' nearest-training distances."""
    d = np.asarray(reference_nn_dist, dtype=np.float64)
    if d.ndim != 2 or len(d) == 0:
        raise ValueError(f"reference nn_dist must be (N >= 1, k), got {d.shape}")
    return float(np.percentile(d[:, 0], percentile))


def l2_copy_share(nn_dist: np.ndarray, threshold: float) -> float:
    """Share of samples whose nearest training image is closer than ``threshold`` (strictly, or at 0)."""
    d = np.asarray(nn_dist, dtype=np.float64)[:, 0]
    return float(np.mean((d < threshold) | (d == 0)))


def rows_of(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Positions ``p`` with ``index[p] == values`` (e.g. a model log's ``train_index``, which holds
    dataset positions, mapped to rows of ``real_train``, whose ``index`` holds dataset positions)."""
    index = np.asarray(index, np.int64)
    values = np.asarray(values, np.int64)
    if len(index) == 0:
        raise ZooEvalError("cannot look up rows in an empty index")
    order = np.argsort(index, kind="stable")
    pos = np.clip(np.searchsorted(index[order], values), 0, len(order) - 1)
    if not np.array_equal(index[order][pos], values):
        raise ZooEvalError("some indices are not present (stale splits or model logs?); re-run the zoo stages")
    return order[pos]


def compare(ref: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray], *, k: int = 3,
            kid_subsets: int = 100, kid_subset_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Distances of ``other`` from ``ref``: FD in every feature space present (``FID_effnet``,
    ``FD_<ssl>``), KID (polynomial-kernel MMD², mean and std over subsets) and k-NN precision/recall
    on ``effnet`` features. Missing spaces give NaN."""
    from ..metrics import fid_from_features, kid, precision_recall
    from ..stats import SingularCovarianceWarning

    row: dict[str, float] = {"n": float(len(other["effnet"]))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularCovarianceWarning)  # small sets: stated in the table note
        row["FID_effnet"] = fid_from_features(ref["effnet"], other["effnet"])
        for key in SSL_KEYS:
            row[f"FD_{key}"] = fid_from_features(ref[key], other[key]) if key in ref and key in other else np.nan
    size = min(kid_subset_size, len(ref["effnet"]), len(other["effnet"]))
    row["KID_mean"], row["KID_std"] = kid(ref["effnet"], other["effnet"], kid_subsets, size, seed)
    row["precision"], row["recall"] = precision_recall(ref["effnet"], other["effnet"], k=k)
    return row


def _gen_params(log: Mapping[str, Any]) -> float:
    p = log.get("n_params") or {}
    return float(p.get("model", p.get("G", np.nan)))


def zoo_table(cfg: Config, ref: str = "real_heldout", copy_ratio: float = 1 / 3,
              copy_percentile: float = 1.0) -> pd.DataFrame:
    """One row per zoo model against ``ref`` (see :func:`compare`), plus copy shares, size and timing,
    and a control row ``real_half_a`` vs ``real_half_b``. Returns a pandas DataFrame."""
    import pandas as pd

    r = load_eval(cfg, ref)
    thr = l2_copy_threshold(r["nn_dist"], copy_percentile)
    seed = cfg.params.seed
    rows = []
    for m in MODELS:
        log = load_log(cfg, m)
        e = load_eval(cfg, m)
        row: dict[str, Any] = {"set": m, **compare(r, e, seed=seed)}
        row.update(copy_share_ratio=ratio_copy_share(e["nn_dist"], copy_ratio),
                   copy_share_l2=l2_copy_share(e["nn_dist"], thr), n_params=_gen_params(log),
                   train_seconds=float(log.get("train_seconds", np.nan)),
                   sample_seconds=float(log.get("sample_seconds", np.nan)))
        rows.append(row)
    a, b = load_eval(cfg, "real_half_a"), load_eval(cfg, "real_half_b")
    row = {"set": "control: real_half_a vs real_half_b", **compare(a, b, seed=seed),
           "copy_share_ratio": ratio_copy_share(b["nn_dist"], copy_ratio),
           "copy_share_l2": l2_copy_share(b["nn_dist"], thr)}
    rows.append(row)
    df = pd.DataFrame(rows)
    df["KID_x1e3_mean"], df["KID_x1e3_std"] = 1e3 * df.pop("KID_mean"), 1e3 * df.pop("KID_std")
    cols = ["set", "n", "FID_effnet", "FD_ssl_contrastive", "FD_ssl_masked", "KID_x1e3_mean", "KID_x1e3_std",
            "precision", "recall", "copy_share_ratio", "copy_share_l2", "n_params", "train_seconds", "sample_seconds"]
    return df[[c for c in cols if c in df.columns]]


def snapshot_fids(cfg: Config, model: str = "gan", ref: str = "real_heldout") -> pd.DataFrame:
    """FID (``effnet``) of each training snapshot of ``model`` against ``ref``: DataFrame(step, n, FID_effnet)."""
    import pandas as pd

    from ..metrics import fid_from_features
    from ..stats import SingularCovarianceWarning

    r = load_eval(cfg, ref)["effnet"]
    rows = []
    prefix = f"{model}_snap_"
    for name in eval_sets(cfg):
        if name.startswith(prefix):
            x = load_eval(cfg, name)["effnet"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SingularCovarianceWarning)
                rows.append({"step": int(name[len(prefix):]), "n": len(x), "FID_effnet": fid_from_features(r, x)})
    return pd.DataFrame(rows, columns=["step", "n", "FID_effnet"]).sort_values("step").reset_index(drop=True)


def class_histograms(cfg: Config, sets: list[str] | None = None) -> pd.DataFrame:
    """Class shares (rows: sets; columns: classes): the domain classifier's labels for each set, plus
    ``real_heldout (true)`` from the split's own labels. Empty if the classifier is null."""
    import pandas as pd

    from .classifier import class_histogram

    names = eval_index(cfg)["class_names"]
    if not names:
        return pd.DataFrame()
    rows = {}
    held = load_split(cfg, "real_heldout")
    if isinstance(held, ImageSet):
        rows["real_heldout (true)"] = class_histogram(held.labels, len(names)) / len(held)
    for s in sets if sets is not None else ["real_heldout", *MODELS]:
        lab = load_eval(cfg, s)["labels"]
        rows[s] = class_histogram(lab, len(names)) / len(lab)
    return pd.DataFrame.from_dict(rows, orient="index", columns=names)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance ``0.5 * sum |p - q|`` between two class distributions."""
    return float(0.5 * np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).sum())


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m beyondfid.zoo.eval", description=__doc__.split("\n\n")[0])
    add_stage_arguments(p, progress=True, threads=True)
    args = p.parse_args(argv)
    apply_threads(p, args)
    try:
        cfg = load_config(args.profile, args.params, args.root)
        res = run_eval(cfg, progress=not args.no_progress)
        print(f"zoo_eval: {len(res['sets'])} sets in {eval_dir(cfg)}; recomputed {len(res['computed'])}: "
              f"{', '.join(res['computed']) or 'none'}")
        return 0
    except (ConfigError, ZooEvalError, ZooError, DataError, FeatureError, ExtractorError, ClassifierError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
