"""Distribution-classification tasks: K distributions, balanced, disjoint train/val per distribution.

A task (paper Sec. 3: "predicting the distribution an image belongs to") is a list of K
*pools* -- image sets such as ``real_heldout`` or the samples of a zoo model -- each of which
becomes one class. Our protocol (the paper publishes none):

* every class gets exactly ``n_val`` validation and ``n_train`` training images (balanced), so
  chance is ``1/K`` and the p-value of :mod:`.significance` applies;
* each pool is shuffled by a permutation seeded only by ``(split_seed, pool name)``; its
  validation images are the first ``n_val`` of that order and its training images the next
  ``n_train``. Hence the validation set of a pool is the same in every task and at every training
  size, and a smaller training set is a subset of a larger one (Fig. 2's sweep is nested);
* a pool can be cut into ``parts`` disjoint parts (``PoolRef(part=i, parts=2)``) for the
  same-distribution controls of Table 1 (two halves of one model's samples). The parts are
  contiguous slices of the pool's permutation, and train/val are drawn inside each part, so no
  image is ever in two classes or in both train and val.

Images enter a task only through :func:`beyondfid.distclass.pixels.load_pool` (the shared pixel
path); :func:`make_task` itself works on any uint8 arrays, which is how tests plant tasks.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..config import Config
from .pixels import PixelPath, load_pool


class TaskError(ValueError):
    """An impossible task: too few images, overlapping classes, unknown pools."""


@dataclass(frozen=True)
class PoolRef:
    """One class of a task: the pool ``source``, or part ``part`` of ``parts`` disjoint parts of it."""

    source: str
    part: int = 0
    parts: int = 1
    label: str = ""

    def __post_init__(self) -> None:
        if not self.source:
            raise TaskError("a pool needs a name")
        if self.parts < 1 or not 0 <= self.part < self.parts:
            raise TaskError(f"{self.source}: part must be in [0, parts), got part={self.part}, parts={self.parts}")

    @property
    def name(self) -> str:
        """The class name shown in tables (``label``, else ``source`` or ``source[i/parts]``)."""
        if self.label:
            return self.label
        return self.source if self.parts == 1 else f"{self.source}[{self.part + 1}/{self.parts}]"


def _ref(x: PoolRef | str) -> PoolRef:
    return x if isinstance(x, PoolRef) else PoolRef(str(x))


@dataclass(frozen=True)
class TaskSpec:
    """What defines a task: its classes, the per-class sizes and the split seed."""

    classes: tuple[PoolRef, ...]
    n_train: int
    n_val: int
    split_seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(_ref(c) for c in self.classes))
        if len(self.classes) < 2:
            raise TaskError(f"a task needs at least 2 distributions, got {[c.name for c in self.classes]}")
        if self.n_train < 1 or self.n_val < 1:
            raise TaskError(f"n_train and n_val must be >= 1, got {self.n_train} and {self.n_val}")
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise TaskError(f"class names must be distinct, got {names}")
        by_source: dict[str, list[PoolRef]] = {}
        for c in self.classes:
            by_source.setdefault(c.source, []).append(c)
        for src, refs in by_source.items():
            if len(refs) > 1 and (len({r.parts for r in refs}) > 1 or len({r.part for r in refs}) < len(refs)
                                  or refs[0].parts == 1):
                raise TaskError(f"pool {src!r} appears {len(refs)} times; cut it into disjoint parts "
                                f"(PoolRef(part=i, parts=k), distinct i, one k) to use it for several classes")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {"classes": [asdict(c) for c in self.classes], "n_train": self.n_train, "n_val": self.n_val,
                "split_seed": self.split_seed}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TaskSpec":
        return cls(tuple(PoolRef(**c) for c in d["classes"]), int(d["n_train"]), int(d["n_val"]),
                   int(d.get("split_seed", 0)))


@dataclass(frozen=True)
class Task:
    """A built task: uint8 NCHW images and int64 labels (class ``i`` = ``spec.classes[i]``).

    ``train_index`` / ``val_index`` hold each image's row in its pool (for tracing and tests).
    """

    spec: TaskSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    train_index: np.ndarray = field(repr=False)
    val_index: np.ndarray = field(repr=False)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names

    @property
    def n_classes(self) -> int:
        return self.spec.n_classes

    def map_images(self, fn) -> "Task":
        """The same task with ``fn`` (uint8 NCHW -> uint8 NCHW, applied alike to every class, train and
        val) applied to its images, e.g. a crop or a frequency filter of issue 14."""
        xt, xv = np.asarray(fn(self.x_train)), np.asarray(fn(self.x_val))
        for a, ref in ((xt, self.x_train), (xv, self.x_val)):
            if a.dtype != np.uint8 or a.ndim != 4 or len(a) != len(ref):
                raise TaskError(f"map_images: fn must return uint8 NCHW with the same count, got {a.dtype} {a.shape}")
        return Task(self.spec, xt, self.y_train, xv, self.y_val, self.train_index, self.val_index)


def pool_order(source: str, n: int, split_seed: int) -> np.ndarray:
    """The permutation of a pool of ``n`` images that every task uses (seeded by seed and name only)."""
    ss = np.random.SeedSequence([int(split_seed), zlib.crc32(source.encode())])
    return np.random.default_rng(ss).permutation(n)


def class_rows(ref: PoolRef, n: int, n_train: int, n_val: int, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the pool (of ``n`` images) that are ``ref``'s (train, val) images."""
    order = pool_order(ref.source, n, split_seed)
    part = np.array_split(order, ref.parts)[ref.part]
    if len(part) < n_val + n_train:
        where = f"part {ref.part + 1}/{ref.parts} of " if ref.parts > 1 else ""
        raise TaskError(f"{where}pool {ref.source!r} has {len(part)} images, fewer than n_val + n_train = "
                        f"{n_val} + {n_train}; lower the sizes or draw more samples")
    return part[n_val : n_val + n_train], part[:n_val]


def make_task(pools: Mapping[str, np.ndarray], spec: TaskSpec) -> Task:
    """Build ``spec`` from in-memory pools (``source -> uint8 NCHW``, already through the pixel path)."""
    xs_t, xs_v, ys_t, ys_v, it, iv = [], [], [], [], [], []
    shape = None
    for label, ref in enumerate(spec.classes):
        if ref.source not in pools:
            raise TaskError(f"no images for pool {ref.source!r} (have: {', '.join(pools)})")
        images = np.asarray(pools[ref.source])
        if images.dtype != np.uint8 or images.ndim != 4:
            raise TaskError(f"pool {ref.source!r}: expected uint8 NCHW images, got {images.dtype} {images.shape}")
        if shape is not None and images.shape[1:] != shape:
            raise TaskError(f"pool {ref.source!r} has images of shape {images.shape[1:]}, another pool {shape}: "
                            f"every distribution must go through the same pixel path")
        shape = images.shape[1:]
        tr, va = class_rows(ref, len(images), spec.n_train, spec.n_val, spec.split_seed)
        xs_t.append(images[tr]); xs_v.append(images[va]); it.append(tr); iv.append(va)
        ys_t.append(np.full(len(tr), label, np.int64)); ys_v.append(np.full(len(va), label, np.int64))
    return Task(spec, np.concatenate(xs_t), np.concatenate(ys_t), np.concatenate(xs_v), np.concatenate(ys_v),
                np.concatenate(it), np.concatenate(iv))


def build_task(cfg: Config, spec: TaskSpec, path: PixelPath | None = None,
               cache: dict[str, np.ndarray] | None = None) -> Task:
    """Load every pool of ``spec`` through the pixel path (:func:`load_pool`) and build the task.

    ``cache`` (source -> images) avoids reloading pools shared by several tasks.
    """
    cache = {} if cache is None else cache
    for ref in spec.classes:
        if ref.source not in cache:
            cache[ref.source] = load_pool(cfg, ref.source, path)
    return make_task(cache, spec)


def task_spec(cfg: Config, classes: Sequence[PoolRef | str], n_train: int) -> TaskSpec:
    """A :class:`TaskSpec` with the profile's ``n_val`` and ``split_seed`` (``distclass.task``)."""
    t = cfg.params.distclass.task
    return TaskSpec(tuple(_ref(c) for c in classes), int(n_train), t.n_val, t.split_seed)


def halves(source: str) -> tuple[PoolRef, PoolRef]:
    """Two disjoint halves of one pool, for a same-distribution control."""
    return PoolRef(source, 0, 2), PoolRef(source, 1, 2)
