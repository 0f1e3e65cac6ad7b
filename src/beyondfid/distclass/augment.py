"""Replacing vs augmenting real training data with generated data (paper 3, Sec. 7.2, Fig. 6, Table 8).

The paper trains a CIFAR-10 classifier with a share ``alpha`` of the real training set *replaced*
by EDM samples of the same classes, and separately with ``alpha * N`` EDM samples *added*, and
tests on the real test set. Here the real set is ``real_train``, the generated set a labelled
sample of the zoo's class-conditional diffusion model (labels = the conditioning), the network
the zoo's AnimalShape classifier, and the test set ``real_heldout``.

Both mixes work class by class, so that every class keeps its share: for class ``c`` with
``n_c`` real images, ``round(alpha * n_c)`` of them are swapped for (replace) or joined by
(augment) generated images of class ``c``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from ..config import ClassifierConfig
from ..data import ImageSet
from ..zoo.classifier import train_classifier

Mode = Literal["replace", "augment"]
MODES = ("replace", "augment")
SYNTH_OFFSET = 10_000_000  # index offset that marks generated images in a mixed set's ``index``


class AugmentError(ValueError):
    """The real and generated sets cannot be mixed as asked."""


def _check(real: ImageSet, synth: ImageSet, alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise AugmentError(f"alpha must lie in [0, 1], got {alpha}")
    if real.shape != synth.shape:
        raise AugmentError(f"real images are {real.shape}, generated ones {synth.shape}; they must share the pixel "
                           f"format (same size and channels) before mixing")


def mix(real: ImageSet, synth: ImageSet, alpha: float, mode: Mode, seed: int) -> ImageSet:
    """The training set of one (mode, alpha) point; generated rows carry ``index >= SYNTH_OFFSET``.

    replace: per class, ``round(alpha n_c)`` seeded real images are dropped and as many generated
    images of that class (drawn without replacement) take their place -- size unchanged.
    augment: all real images plus ``round(alpha n_c)`` generated images per class -- size ``(1 + alpha) N``.
    """
    _check(real, synth, alpha)
    if mode not in MODES:
        raise AugmentError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    rng = np.random.default_rng(seed)
    keep_real, take_synth = [], []
    for c in np.unique(real.labels):
        members = np.flatnonzero(real.labels == c)
        k = int(round(alpha * len(members)))
        pool = np.flatnonzero(synth.labels == c)
        if k > len(pool):
            raise AugmentError(f"class {c}: {k} generated images needed at alpha={alpha}, only {len(pool)} exist; "
                               f"sample more from the class-conditional model")
        take_synth.append(rng.choice(pool, k, replace=False))
        keep_real.append(np.sort(rng.permutation(members)[k:]) if mode == "replace" else members)
    r = np.sort(np.concatenate(keep_real))
    s = np.sort(np.concatenate(take_synth))
    images = np.concatenate([real.images[r], synth.images[s]])
    labels = np.concatenate([real.labels[r], synth.labels[s]])
    index = np.concatenate([real.index[r], SYNTH_OFFSET + synth.index[s]])
    return ImageSet(f"{real.name}_{mode}_{alpha:g}", images, labels, real.class_names, index)


def generated_share(ds: ImageSet) -> float:
    """Fraction of a mixed set's images that are generated."""
    return float(np.mean(ds.index >= SYNTH_OFFSET)) if len(ds) else 0.0


def grid_points(alphas: Sequence[float]) -> list[tuple[str, float]]:
    """The (mode, alpha) runs of Fig. 6: alpha = 0 once (it is the same real-only run for both modes)."""
    pts: list[tuple[str, float]] = [("real", 0.0)] if 0.0 in alphas else []
    for mode in MODES:
        pts += [(mode, float(a)) for a in alphas if a > 0]
    return pts


def run_mixing(real: ImageSet, synth: ImageSet, heldout: ImageSet, alphas: Sequence[float], seeds: Sequence[int],
               cfg: ClassifierConfig, ckpt_dir: str | Path, progress: bool = False):
    """Train the domain classifier once per (mode, alpha, seed) and test it on ``heldout``.

    The seed sets both the mix (which real images are swapped, which generated ones drawn) and the
    classifier's initialisation and batches. Every run has ``cfg.n_steps`` steps (equal compute),
    and resumes from its checkpoint in ``ckpt_dir``. Returns one row per run.
    """
    import pandas as pd

    rows = []
    for mode, alpha in grid_points(alphas):
        for seed in seeds:
            ds = real if mode == "real" else mix(real, synth, alpha, mode, seed)
            c = cfg.model_copy(update={"seed": int(cfg.seed + seed)})
            res = train_classifier(ds, c, Path(ckpt_dir) / f"{mode}_{alpha:g}_seed{seed}.pt", heldout=heldout,
                                   n_classes=len(real.class_names) or int(real.labels.max()) + 1, progress=progress)
            rows.append({"mode": mode, "alpha": alpha, "seed": seed, "train_images": len(ds),
                         "generated_share": generated_share(ds), "accuracy": res.heldout_accuracy,
                         "train_seconds": res.log.wall_time})
    return pd.DataFrame(rows)


def summarise_mixing(runs):
    """Mean ± std (ddof=1) of held-out accuracy over seeds for every (mode, alpha); alpha = 0 is listed under both modes."""
    import pandas as pd

    base = runs[runs["mode"] == "real"]
    parts = [runs[runs["mode"] != "real"]]
    for mode in MODES:
        parts.append(base.assign(mode=mode))
    allr = pd.concat(parts, ignore_index=True)
    g = allr.groupby(["mode", "alpha"])["accuracy"]
    out = g.agg(["mean", "std", "count"]).reset_index().rename(columns={"count": "seeds"})
    return out.sort_values(["mode", "alpha"]).reset_index(drop=True)
