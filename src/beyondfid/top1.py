"""Tables of an ImageNet classifier's Top-1 predictions on a dataset (the overview notebook; paper 2, Fig. 4a).

Paper 2 (Kynkäänniemi et al., ICLR 2023, Sec. 3 and Fig. 4a) asks which ImageNet classes an
ImageNet classifier predicts on a domain far from ImageNet photos: on FFHQ faces (no "person"
class) the Top-1 classes are accessories such as "bow tie" and "seat belt", and FID ends up
matching those "fringe" classes. Given the Top-1 class ids of every image (``top1``, e.g.
:func:`beyondfid.extractors.top_k` of the logits ``[:, 0]``) these functions count them:

* :func:`top1_table` -- the most frequent Top-1 classes, with count and share ``count / n``;
* :func:`top1_per_class_table` -- per ground-truth class of the dataset, its winning ImageNet class;
* :func:`top1_class_matrix` -- the share of each ground-truth class predicted as each ImageNet class;
* :func:`topk_table` -- the Top-k classes of a few images (e.g. the sanity-check photos);
* :func:`top1_summary` -- the numbers of the overview's metrics file.

ImageNet class ids 0-397 are animals (:data:`IMAGENET_ANIMALS`). Table builders return a pandas
DataFrame whose ``attrs["note"]`` is written under the Markdown table by :func:`beyondfid.report.save_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .report import with_note

__all__ = ["IMAGENET_ANIMALS", "top1_class_matrix", "top1_counts", "top1_order", "top1_per_class_table",
           "top1_summary", "top1_table", "topk_table"]

IMAGENET_ANIMALS = range(0, 398)  # ImageNet-1k class ids 0..397 are animals; 398 ("abacus") is the first that is not


def _top1(top1: Any, n_classes: int) -> np.ndarray:
    t = np.asarray(top1)
    if t.ndim != 1 or (t.size and not np.issubdtype(t.dtype, np.integer)):
        raise ValueError(f"top1 must be a 1-D array of integer class ids, got {t.dtype} {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        raise ValueError(f"top1 holds class id {int(t.max() if t.max() >= n_classes else t.min())}, outside "
                         f"0..{n_classes - 1}; pass the classifier's number of classes as n_classes")
    return t


def top1_counts(top1: Any, n_classes: int) -> np.ndarray:
    """How many images have each class as their Top-1 prediction: ``(n_classes,)`` int64."""
    return np.bincount(_top1(top1, n_classes), minlength=n_classes)


def top1_order(counts: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most frequent class ids, most frequent first (ties: lower id first)."""
    return np.argsort(-np.asarray(counts), kind="stable")[:k]


def _is_animal(top1: np.ndarray) -> np.ndarray:
    return (top1 >= IMAGENET_ANIMALS.start) & (top1 < IMAGENET_ANIMALS.stop)


def top1_table(top1: Any, names: Sequence[str], n_classes: int, k: int, *, dataset: str, scale: str) -> Any:
    """The ``k`` most frequent Top-1 classes: rank, ImageNet index and name, count, share of the images.

    ``scale`` (e.g. ``"mini profile, effnet_lite0 at 128 px"``) and ``dataset`` go into the note."""
    import pandas as pd

    counts = top1_counts(top1, n_classes)
    order = top1_order(counts, k)
    df = pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "imagenet_index": order,
        "imagenet_class": [names[i] for i in order],
        "count": counts[order],
        "share": counts[order] / counts.sum(),
    })
    return with_note(df, f"Scale: {scale}, {counts.sum():,} {dataset} images.")


def top1_per_class_table(top1: Any, labels: Any, class_names: Sequence[str], names: Sequence[str], n_classes: int,
                         profile: str) -> Any:
    """Per ground-truth class (``labels`` index ``class_names``; empty classes are left out): images, the
    most frequent Top-1 class and its share, the share of ImageNet-animal Top-1s, distinct Top-1 classes."""
    import pandas as pd

    t1, lab = _top1(top1, n_classes), np.asarray(labels)
    if lab.shape != t1.shape:
        raise ValueError(f"labels ({lab.shape}) must give one ground-truth class per top1 entry ({t1.shape})")
    rows = []
    for c, cname in enumerate(class_names):
        t = t1[lab == c]
        if len(t) == 0:
            continue
        bc = np.bincount(t, minlength=n_classes)
        w = int(np.argmax(bc))
        rows.append({"class": cname, "n": len(t), "top_imagenet_class": names[w], "imagenet_index": w,
                     "share": bc[w] / len(t), "animal_share": float(np.mean(_is_animal(t))),
                     "distinct_top1": int((bc > 0).sum())})
    return with_note(pd.DataFrame(rows), f"Scale: {profile} profile. animal_share = fraction whose Top-1 is an "
                                         f"ImageNet animal (0-397).")


def top1_class_matrix(top1: Any, labels: Any, class_names: Sequence[str], columns: Sequence[int],
                      names: Sequence[str]) -> Any:
    """Rows = ground-truth classes, columns = the ImageNet classes ``columns``; a cell is the share of that
    row's images whose Top-1 is that column's class (NaN for a class without images)."""
    import pandas as pd

    t1, lab = np.asarray(top1), np.asarray(labels)
    mat = np.full((len(class_names), len(columns)), np.nan)
    for c in range(len(class_names)):
        t = t1[lab == c]
        if len(t):
            mat[c] = [np.mean(t == j) for j in columns]
    return pd.DataFrame(mat, index=list(class_names), columns=[names[j] for j in columns])


def topk_table(logits: Any, row_names: Sequence[str], names: Sequence[str], *, row_label: str = "photo",
               k: int = 3, profile: str = "") -> Any:
    """Per image (row of ``logits``): its Top-1 class and softmax probability, then its Top-2..k classes."""
    import pandas as pd

    from .extractors import probabilities, top_k

    lg = np.asarray(logits)
    if lg.ndim != 2 or len(lg) != len(row_names):
        raise ValueError(f"logits ({lg.shape}) must be 2-D with one row per name ({len(row_names)})")
    tk = top_k(lg, k)
    probs = probabilities(lg)
    df = pd.DataFrame({row_label: list(row_names), "top1": [names[i] for i in tk[:, 0]],
                       "p_top1": probs[np.arange(len(tk)), tk[:, 0]],
                       **{f"top{j + 1}": [names[i] for i in tk[:, j]] for j in range(1, k)}})
    return with_note(df, f"Scale: {profile} profile." if profile else "")


def top1_summary(top1: Any, names: Sequence[str], n_classes: int, k: int, dataset: str) -> dict[str, Any]:
    """Metrics keyed ``<dataset>_...``: images, distinct Top-1 classes, the most common class and its share,
    the cumulative share of the ``k`` most common, and the share of ImageNet-animal Top-1s."""
    t1 = _top1(top1, n_classes)
    counts = top1_counts(t1, n_classes)
    order = top1_order(counts, k)
    share = counts[order] / counts.sum()
    return {
        f"{dataset}_n": int(counts.sum()),
        f"{dataset}_distinct_top1_classes": int((counts > 0).sum()),
        f"{dataset}_top1_most_common": names[order[0]],
        f"{dataset}_top1_most_common_share": float(share[0]),
        f"{dataset}_top{len(order)}_cumulative_share": float(share.sum()),
        f"{dataset}_animal_top1_share": float(np.mean(_is_animal(t1))),
    }
