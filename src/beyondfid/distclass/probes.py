"""Self-supervised linear probes (paper Sec. 5.3, Tables 4 and 15).

The paper extracts features with MAE and MoCo v3 ViT-B encoders (ImageNet-pretrained, frozen) and
trains a linear classifier on them. Here the frozen encoders are the zoo's ``ssl_masked`` (MAE)
and ``ssl_contrastive`` (SimCLR, standing for MoCo v3), both trained on ``real_train``.

* :func:`pool_features` extracts an encoder's features for every image of a pool, through the
  shared pixel path, across processes (:func:`beyondfid.distclass.parallel.extract_sharded`;
  bitwise the same in 1 or k processes and the same bits as ``zoo_eval``), cached per pool;
* :func:`linear_probe` fits a multinomial logistic regression on the training rows of a task --
  the *same* images as the supervised classifiers see (:func:`beyondfid.distclass.task.class_rows`)
  -- after standardising each feature with the training mean and standard deviation, minimising
  ``mean CE + (l2 / 2) ||W||^2`` with L-BFGS (scikit-learn, deterministic), and reports validation
  top-1 with the interval and p-value of :mod:`.significance`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..config import Config
from ..io import load_npz, save_npz, sha256_array, sha256_file
from .parallel import Dist, barrier, current
from .pixels import load_pool
from .significance import AccuracyRecord, accuracy_record
from .task import TaskSpec, class_rows, task_spec

ENCODERS = ("ssl_contrastive", "ssl_masked")
PAPER_NAME = {"ssl_contrastive": "MoCo v3 (ours: SimCLR)", "ssl_masked": "MAE (ours: MAE)"}


class ProbeError(ValueError):
    """Missing encoder or features."""


def encoder_checkpoint(cfg: Config, encoder: str) -> Path:
    from ..zoo.registry import zoo_dirs

    path = zoo_dirs(cfg)["encoders"] / encoder / "ckpt.pt"
    if encoder not in ENCODERS or not path.is_file():
        raise ProbeError(f"encoder {encoder!r} has no checkpoint at {path}; run `dvc repro zoo_encoder@{encoder}`")
    return path


def features_dir(cfg: Config) -> Path:
    """``artifacts/<profile>/distclass/probe_features`` (written by the ``dc_runs`` stage)."""
    return cfg.artifacts / "distclass" / "probe_features"


def pool_features(cfg: Config, encoder: str, pool: str, dist: Dist | None = None,
                  cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """``encoder``'s features (float32, one row per pool image) of ``pool``; cached on disk, keyed by the
    encoder checkpoint and the pool's pixels (recomputed when either changes)."""
    from ..extractors import get_extractor
    from . import parallel

    dist = dist or current()
    ckpt = encoder_checkpoint(cfg, encoder)
    images = cache[pool] if cache is not None and pool in cache else load_pool(cfg, pool)
    if cache is not None:
        cache[pool] = images
    fp = hashlib.sha256(json.dumps([sha256_file(ckpt), sha256_array(images)]).encode()).hexdigest()[:24]
    path = features_dir(cfg) / f"{encoder}-{pool}.npz"
    if path.is_file():
        z = load_npz(path)
        if str(z["fingerprint"]) == fp:
            return z["features"]
    ext = get_extractor(encoder, checkpoint=ckpt, device="cpu")
    feats = parallel.extract_sharded(ext, images, dist)
    if dist.is_main:
        save_npz(path, features=feats, fingerprint=np.array(fp))
    barrier(dist)
    return feats


def probe_pools(cfg: Config) -> list[str]:
    """Every pool the probes of Tables 4 and 15 read."""
    s = cfg.params.distclass.ssl
    return list(dict.fromkeys([s.real, *s.model_names, *s.fourway_names]))


@dataclass
class ProbeResult:
    record: AccuracyRecord
    class_names: tuple[str, ...]
    confusion: list[list[int]]
    n_train: int
    n_val: int
    dim: int
    seconds: float
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["record"] = self.record.to_dict()
        return d


def linear_probe(features: Mapping[str, np.ndarray], spec: TaskSpec, l2: float, max_iter: int) -> ProbeResult:
    """Fit and evaluate a linear classifier for ``spec`` on per-pool features (see module docstring)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    xs, ys, xv, yv = [], [], [], []
    for label, ref in enumerate(spec.classes):
        if ref.source not in features:
            raise ProbeError(f"no features for pool {ref.source!r}")
        f = features[ref.source]
        tr, va = class_rows(ref, len(f), spec.n_train, spec.n_val, spec.split_seed)
        xs.append(f[tr]); xv.append(f[va])
        ys.append(np.full(len(tr), label)); yv.append(np.full(len(va), label))
    xt, yt, xva, yva = (np.concatenate(a) for a in (xs, ys, xv, yv))
    mu, sd = xt.mean(0), xt.std(0)
    sd[sd == 0] = 1.0
    t0 = time.perf_counter()
    clf = LogisticRegression(C=1.0 / (l2 * len(xt)) if l2 > 0 else 1e12, max_iter=max_iter, tol=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit((xt - mu) / sd, yt)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    pred = clf.predict((xva - mu) / sd)
    k = spec.n_classes
    conf = np.zeros((k, k), np.int64)
    np.add.at(conf, (yva.astype(int), pred.astype(int)), 1)
    return ProbeResult(accuracy_record(int((pred == yva).sum()), len(yva), k), spec.class_names, conf.tolist(),
                       len(xt), len(xva), xt.shape[1], time.perf_counter() - t0, converged)


def probe_plan(cfg: Config) -> list[tuple[str, str, TaskSpec]]:
    """``(tag, encoder, spec)`` of every probe: Table 4 (binary, real vs each model) and Table 15 (four-way)."""
    s = cfg.params.distclass.ssl
    out = []
    for enc in s.encoder_names:
        out += [("table4", enc, task_spec(cfg, (s.real, m), s.n_train)) for m in s.model_names]
        out += [("table15", enc, task_spec(cfg, (s.real, *s.fourway_names), n)) for n in s.size_list]
    return out


def extract_all(cfg: Config, dist: Dist | None = None, progress: bool = True) -> dict[tuple[str, str], float]:
    """The ``dc_runs`` stage's share: features of every probe pool for every encoder; returns seconds per
    (encoder, pool)."""
    from ..progress import progress_bar

    times = {}
    cache: dict[str, np.ndarray] = {}
    jobs = [(e, p) for e in cfg.params.distclass.ssl.encoder_names for p in probe_pools(cfg)]
    for enc, pool in progress_bar(jobs, desc="probe features", unit="set",
                                  disable=not progress or (dist is not None and not dist.is_main)):
        t0 = time.perf_counter()
        pool_features(cfg, enc, pool, dist, cache)
        times[(enc, pool)] = time.perf_counter() - t0
    return times


def run_probes(cfg: Config) -> list[dict[str, Any]]:
    """Every probe of :func:`probe_plan` on the cached features: one flat row each."""
    s = cfg.params.distclass.ssl
    rows = []
    feats: dict[str, dict[str, np.ndarray]] = {}
    for tag, enc, spec in probe_plan(cfg):
        f = feats.setdefault(enc, {})
        for ref in spec.classes:
            if ref.source not in f:
                path = features_dir(cfg) / f"{enc}-{ref.source}.npz"
                if not path.is_file():
                    raise ProbeError(f"{path} is missing; run `dvc repro dc_runs`")
                f[ref.source] = load_npz(path)["features"]
        r = linear_probe(f, spec, s.l2, s.max_iter)
        rec = r.record
        rows.append({"tag": tag, "encoder": enc, "classes": " vs ".join(spec.class_names), "k": spec.n_classes,
                     "n_train": spec.n_train, "n_val": spec.n_val, "dim": r.dim, "accuracy": rec.accuracy,
                     "ci_low": rec.ci_low, "ci_high": rec.ci_high, "p_value": rec.p_value, "correct": rec.correct,
                     "n": rec.n, "seconds": r.seconds, "converged": r.converged})
    return rows
