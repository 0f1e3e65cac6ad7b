"""The paper-2 world of a profile: feature sets, ImageNet logits, second-opinion spaces, images.

Everything the ``fid_*`` stages compare comes from the zoo's evaluation (``zoo_eval``:
``artifacts/<p>/zoo/eval/<set>.npz``) plus the ``fid_features`` stage
(``artifacts/<p>/fidclasses/features/``) for what ``zoo_eval`` does not compute (the sibling
network, extra classifier seeds, and on the paper profile the CLIP features).

* **FID space** = ``zoo_eval``'s ``effnet`` key (the profile's ``features.extractor``:
  EfficientNet-Lite0 pre-logits in mini, Inception pool3 in paper).
* **Logits** (FID^L, Top-1, Top-N) are the extractor's final linear layer applied to those
  pre-logits (the paper's point: the two spaces are one affine map apart), read off the
  network's ``head`` (:func:`beyondfid.fidclasses.heatmaps.affine_head`). Inception's 1008 TF
  logits are mapped to the 1000 ImageNet classes in torchvision order
  (:data:`beyondfid.extractors.paper.INCEPTION_TF_CLASS`).
* **Second opinion** (the paper's FID_CLIP): ``fidclasses.second_opinion``, the first entry is the
  primary one (mini: the zoo's SimCLR encoder, then MAE; paper: CLIP ViT-B/32).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..config import Config
from ..io import load_npz
from ..metrics import frechet_distance
from ..stats import SingularCovarianceWarning, compute_stats

__all__ = ["FidClassesError", "FeatureSet", "World", "Reference", "imagenet_head", "fd", "fd_to_stats", "features_dir",
           "second_key"]


class FidClassesError(ValueError):
    """A paper-2 input is missing or inconsistent."""


def features_dir(cfg: Config) -> Any:
    """``artifacts/<profile>/fidclasses/features`` (written by the ``fid_features`` stage)."""
    return cfg.artifacts / "fidclasses" / "features"


def second_key(set_name: str, space: str) -> str:
    """File stem of a ``fid_features`` array: ``<set>__<space>``."""
    return f"{set_name}__{space}"


def imagenet_head(extractor: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` mapping the extractor's pooled features to the 1000 ImageNet logits (torchvision order)."""
    from ..extractors.paper import INCEPTION_TF_CLASS
    from .heatmaps import affine_head

    w, b = affine_head(extractor)
    if w.shape[0] == 1008:  # the TF Inception graph: drop background/unused, reorder
        idx = np.asarray(INCEPTION_TF_CLASS)
        w, b = w[idx], b[idx]
    if w.shape[0] != 1000:
        raise FidClassesError(f"{extractor.name}: its head has {w.shape[0]} outputs, not ImageNet's 1000 classes")
    return w, b


def _eig_clean_sqrt_sum(lam: np.ndarray) -> float:
    """``Σ √λ`` of a PSD matrix's eigenvalues, rounding noise around 0 removed (metrics' rule)."""
    if lam.size == 0:
        return 0.0
    tol = 4.0 * np.sqrt(lam.size) * np.finfo(np.float64).eps * max(float(lam.max()), 0.0)
    return float(np.sqrt(lam[lam > tol]).sum())


class Reference:
    """A fixed Gaussian ``N(mu, sigma)`` that many sets are compared with: its factor is computed once.

    The symmetric route of :mod:`beyondfid.metrics` with ``F = V₊ diag(√w₊)`` (``F Fᵀ = Σr``, one
    ``eigh``): ``tr((Σr Σ)^½) = Σ √λ(Fᵀ Σ F)``. With ``n <= d`` rows the other side uses its data
    factor ``G = (x − μ)ᵀ / √(n − 1)`` instead (``Gᵀ Σr G``, ``n × n``), so no ``d × d`` covariance of
    the small set is ever formed. Equals :func:`beyondfid.metrics.frechet_distance` (tested).
    """

    def __init__(self, mu: np.ndarray, sigma: np.ndarray) -> None:
        self.mu = np.asarray(mu, np.float64)
        self.sigma = 0.5 * (np.asarray(sigma, np.float64) + np.asarray(sigma, np.float64).T)
        self.trace = float(np.trace(self.sigma))
        self._factor: np.ndarray | None = None

    @classmethod
    def of(cls, x: np.ndarray) -> "Reference":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularCovarianceWarning)
            return cls(*compute_stats(x, warn_singular=False))

    @property
    def factor(self) -> np.ndarray:
        if self._factor is None:
            w, v = np.linalg.eigh(self.sigma)
            keep = w > 4.0 * np.sqrt(len(w)) * np.finfo(np.float64).eps * max(float(w[-1]), 0.0)
            self._factor = v[:, keep] * np.sqrt(w[keep])
        return self._factor

    def fd_stats(self, mu: np.ndarray, sigma: np.ndarray) -> float:
        """Fréchet distance of ``N(mu, sigma)`` from this reference (``Fᵀ Σ F`` with the cached factor)."""
        f = self.factor
        m = f.T @ (np.asarray(sigma, np.float64) @ f)
        lam = np.linalg.eigvalsh(0.5 * (m + m.T))
        diff = np.asarray(mu, np.float64) - self.mu
        return max(float(diff @ diff + self.trace + np.trace(sigma) - 2.0 * _eig_clean_sqrt_sum(lam)), 0.0)

    def fd(self, x: np.ndarray) -> float:
        """Fréchet distance of the Gaussian fitted to the rows of ``x`` from this reference."""
        a = np.asarray(x, dtype=np.float64)
        n, d = a.shape
        if n < 2:
            raise FidClassesError("the covariance needs at least 2 rows")
        if n > d:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SingularCovarianceWarning)
                return self.fd_stats(*compute_stats(a, warn_singular=False))
        else:
            mu = a.mean(0)
            g = (a - mu).T / np.sqrt(n - 1)
            m = g.T @ (self.sigma @ g)
            tr_other = float((g * g).sum())
        lam = np.linalg.eigvalsh(0.5 * (m + m.T))
        diff = mu - self.mu
        return max(float(diff @ diff + self.trace + tr_other - 2.0 * _eig_clean_sqrt_sum(lam)), 0.0)


def fd_to_stats(x: np.ndarray, mu_r: np.ndarray, sigma_r: np.ndarray) -> float:
    """Fréchet distance between the Gaussian fitted to the rows of ``x`` and ``N(mu_r, sigma_r)``
    (:class:`Reference`; build a :class:`Reference` once when comparing many sets with one)."""
    return Reference(mu_r, sigma_r).fd(x)


def fd(x: np.ndarray, y: "np.ndarray | tuple[np.ndarray, np.ndarray] | Reference") -> float:
    """Fréchet distance between feature sets (``y`` may be precomputed ``(mu, sigma)``), via
    :func:`fd_to_stats`; small-sample singular-covariance warnings are silenced (the notebooks
    state the sample sizes)."""
    if isinstance(y, Reference):
        return y.fd(x)
    if isinstance(y, tuple):
        return fd_to_stats(x, *y)
    return Reference.of(y).fd(x)


class _Spaces(dict):
    """Second-opinion arrays of one set, read on first access (zoo_eval's keys, else ``fid_features``'s files)."""

    def __init__(self, cfg: Config, name: str, spaces: tuple[str, ...], ev: dict[str, np.ndarray]) -> None:
        super().__init__()
        self._cfg, self._name, self._spaces, self._ev = cfg, name, spaces, ev

    def __missing__(self, space: str) -> np.ndarray:
        if space not in self._spaces:
            raise KeyError(space)
        if space in self._ev:
            arr = self._ev[space]
        else:
            path = features_dir(self._cfg) / f"{second_key(self._name, space)}.npz"
            if not path.is_file():
                raise FidClassesError(f"no {space!r} features of {self._name!r}: neither zoo_eval nor {path} has "
                                      f"them; run `dvc repro fid_features`")
            arr = load_npz(path)["features"]
        self[space] = arr
        return arr

    def keys(self):  # type: ignore[override]
        return self._spaces

    def items(self):  # type: ignore[override]
        return [(k, self[k]) for k in self._spaces]


@dataclass
class FeatureSet:
    """One sample set in every space the paper-2 stages use."""

    name: str
    features: np.ndarray  # FID space (N, d)
    logits: np.ndarray  # ImageNet logits (N, 1000), from the features
    second: dict[str, np.ndarray] = field(default_factory=dict)  # second-opinion spaces

    def __len__(self) -> int:
        return len(self.features)

    @property
    def top1(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)

    def take(self, idx: np.ndarray) -> "FeatureSet":
        return FeatureSet(self.name, self.features[idx], self.logits[idx], {k: v[idx] for k, v in self.second.items()})


class World:
    """Lazy access to a profile's sets (features, logits, second opinions, images) and its FID network."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.P = cfg.params.fidclasses
        self._sets: dict[str, FeatureSet] = {}

    # ------------------------------------------------------------------ network
    @cached_property
    def extractor(self) -> Any:
        from ..extractors import get_extractor

        f = self.cfg.params.features
        return get_extractor(f.extractor, resolution=f.resolution, device=f.device, weights=self.cfg.params.weights,
                             root=self.cfg.root, profile=self.cfg.profile)

    @cached_property
    def head(self) -> tuple[np.ndarray, np.ndarray]:
        return imagenet_head(self.extractor)

    @cached_property
    def class_names(self) -> list[str]:
        from ..extractors import imagenet_class_names

        return imagenet_class_names()

    @property
    def spaces(self) -> tuple[str, ...]:
        return self.P.second_opinion_names

    @property
    def primary(self) -> str:
        return self.spaces[0]

    # ------------------------------------------------------------------ sets
    def logits_of(self, features: np.ndarray) -> np.ndarray:
        w, b = self.head
        return (np.asarray(features, np.float64) @ w.T + b).astype(np.float32)

    def load(self, name: str) -> FeatureSet:
        """The set ``name`` (a zoo_eval set: real split, model, ``gan_candidates``, ``gan_snap_*``)."""
        if name not in self._sets:
            from ..zoo.eval import load_eval

            ev = load_eval(self.cfg, name)
            self._sets[name] = FeatureSet(name, ev["effnet"], self.logits_of(ev["effnet"]),
                                          _Spaces(self.cfg, name, self.spaces, ev))
        return self._sets[name]

    def labels(self, name: str) -> np.ndarray | None:
        """The zoo's domain-classifier labels of a set (None when the profile has no classifier)."""
        from ..zoo.eval import load_eval

        return load_eval(self.cfg, name).get("labels")

    def extra(self, set_name: str, space: str) -> np.ndarray:
        """An array written by ``fid_features`` (e.g. the sibling network's features of a set)."""
        path = features_dir(self.cfg) / f"{second_key(set_name, space)}.npz"
        if not path.is_file():
            raise FidClassesError(f"{path} not found; run `dvc repro fid_features`")
        return load_npz(path)["features"]

    def snapshots(self, model: str | None = None) -> list[str]:
        """Names of the evaluated training snapshots of the generated model, by step."""
        from ..zoo.eval import eval_sets

        prefix = f"{model or self.P.generated}_snap_"
        return [s for s in eval_sets(self.cfg) if s.startswith(prefix)]

    # ------------------------------------------------------------------ images
    @cached_property
    def _sources(self) -> dict[str, Any]:
        from ..zoo.eval import sample_sets

        return {s.name: s.images for s in sample_sets(self.cfg)}

    def source(self, name: str) -> Any:
        """A batch source (``len``, ``get(lo, hi)`` -> uint8 NCHW) of the images of set ``name``."""
        if name not in self._sources:
            raise FidClassesError(f"no images for set {name!r} (known: {', '.join(sorted(self._sources))})")
        return self._sources[name]

    def images(self, name: str, idx: Any = None, n: int | None = None) -> np.ndarray:
        """Images of a set: rows ``idx`` (sorted access), or the first ``n``, or all."""
        src = self.source(name)
        if idx is None:
            return src.get(0, len(src) if n is None else min(n, len(src)))
        idx = np.asarray(idx, np.int64)
        if len(idx) == 0:
            return src.get(0, 0)
        if isinstance(getattr(src, "images", None), np.ndarray):  # in memory
            return src.images[idx]
        return np.stack([src.get(int(i), int(i) + 1)[0] for i in idx])  # streamed (image folders)
