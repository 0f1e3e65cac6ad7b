"""Replacing vs augmenting real training data with generated data (paper 3, Sec. 7.2, Fig. 6, Table 8).

The paper trains a CIFAR-10 classifier with a share ``alpha`` of the real training set *replaced*
by EDM samples of the same classes, and separately with ``alpha * N`` EDM samples *added*, and
tests on the real test set. Here the real set is ``real_train``, the generated set a labelled
sample of the zoo's class-conditional diffusion model (labels = the conditioning), the network
the zoo's AnimalShape classifier, and the test set ``real_heldout``.

Both mixes work class by class, so that every class keeps its share: for class ``c`` with
``n_c`` real images, ``round(alpha * n_c)`` of them are swapped for (replace) or joined by
(augment) generated images of class ``c``.

Runs are cached as checkpoints under ``<ckpt_dir>/<inputs digest>/``: the digest covers the real and
generated images and labels and the run settings (:func:`inputs_digest`), so a retrained generator
or a changed setting trains new runs instead of reusing checkpoints of other inputs.

Fig. 6's classifiers train in channels-last layout (:data:`MIX_LAYOUT`), as Table 8's do
(``beyondfid.distclass.semisup``): 1.2-1.3x faster under bf16 on this CPU, the same math.
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
MIX_LAYOUT = "channels_last"  # memory layout of Fig. 6's classifiers (part of their checkpoints' key)


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


def _mix_job(real: ImageSet, synth: ImageSet, heldout: ImageSet, mode: str, alpha: float, seed: int,
             cfg: ClassifierConfig, ckpt: str) -> dict:
    ds = real if mode == "real" else mix(real, synth, alpha, mode, seed)
    c = cfg.model_copy(update={"seed": int(cfg.seed + seed)})
    res = train_classifier(ds, c, ckpt, heldout=heldout, progress=False,
                           n_classes=len(real.class_names) or int(real.labels.max()) + 1,
                           channels_last=MIX_LAYOUT == "channels_last")
    return {"mode": mode, "alpha": alpha, "seed": seed, "train_images": len(ds), "generated_share": generated_share(ds),
            "accuracy": res.heldout_accuracy, "train_seconds": res.log.wall_time}


def inputs_digest(sets: Sequence[ImageSet], settings, **extra: str) -> str:
    """16 hex digits of SHA-256 over every set's images and labels, the settings (a pydantic model)
    and any ``extra`` strings (e.g. the memory layout)."""
    import hashlib
    import json

    from ..io import sha256_array

    parts = [[s.name, sha256_array(s.images), sha256_array(np.asarray(s.labels))] for s in sets]
    key = json.dumps([parts, settings.model_dump(mode="json")] + ([extra] if extra else []), sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def run_mixing(real: ImageSet, synth: ImageSet, heldout: ImageSet, alphas: Sequence[float], seeds: Sequence[int],
               cfg: ClassifierConfig, ckpt_dir: str | Path, *, workers: int = 1, threads: int = 1,
               progress: bool = False):
    """Train the domain classifier once per (mode, alpha, seed) and test it on ``heldout``.

    The seed sets both the mix (which real images are swapped, which generated ones drawn) and the
    classifier's initialisation and batches. Every run has ``cfg.n_steps`` steps (equal compute),
    and resumes from its checkpoint in ``ckpt_dir/<inputs digest>``. Returns one row per run.
    """
    import pandas as pd

    from .pool import parallel_map

    folder = Path(ckpt_dir) / inputs_digest([real, synth], cfg, layout=MIX_LAYOUT)
    jobs = [(real, synth, heldout, mode, alpha, seed, cfg, str(folder / f"{mode}_{alpha:g}_seed{seed}.pt"))
            for mode, alpha in grid_points(alphas) for seed in seeds]
    return pd.DataFrame(parallel_map(_mix_job, jobs, workers=workers, threads=threads, progress=progress,
                                     desc="replace/augment"))


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


# --------------------------------------------------------------------------------------
# Table 8: semi-supervised, unlabelled data real / replaced / augmented
# --------------------------------------------------------------------------------------

VARIANTS = ("real", "replaced", "augmented")  # the paper's *, †, ‡
MARK = {"real": "*", "replaced": "†", "augmented": "‡"}
# Table 8 (CIFAR-10, 4 labels per class): error rate (%), mean ± std; FlexMatch‡ is not in the paper
PAPER_TABLE8 = {("flexmatch", "real"): "4.97 ± 0.06", ("flexmatch", "replaced"): "5.85 ± 0.02",
                ("freematch", "real"): "4.90 ± 0.04", ("freematch", "replaced"): "5.94 ± 0.10",
                ("freematch", "augmented"): "4.68 ± 0.17"}


def unlabelled_images(real: ImageSet, synth: ImageSet, variant: str, seed: int) -> np.ndarray:
    """The unlabelled set of a variant: real_train's images, as many generated images instead, or both."""
    if variant == "real":
        return real.images
    if len(synth) < len(real) and variant == "replaced":
        raise AugmentError(f"replacing {len(real)} unlabelled images needs as many generated ones, got {len(synth)}")
    rows = np.sort(np.random.default_rng(seed).choice(len(synth), min(len(real), len(synth)), replace=False))
    if variant == "replaced":
        return synth.images[rows]
    if variant == "augmented":
        return np.concatenate([real.images, synth.images[rows]])
    raise AugmentError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")


def semisup_settings(sc, algorithm: str, seed: int):
    """:class:`~beyondfid.distclass.semisup.SemiSupSettings` of one run from ``distclass.augment.semisup``."""
    from .semisup import SemiSupSettings

    return SemiSupSettings(algorithm=algorithm, n_steps=sc.n_steps, batch_size=sc.batch_size, uratio=sc.uratio,
                           lr=sc.lr, weight_decay=sc.weight_decay, tau=sc.tau, ema_p=sc.ema_p, w_u=sc.w_u,
                           w_f=sc.w_f, ema_model=sc.ema_model, width=sc.width, seed=int(seed),
                           ckpt_every=sc.ckpt_every, precision=sc.precision)


def _semisup_job(real: ImageSet, synth: ImageSet, test: ImageSet, sc, algorithm: str, variant: str, seed: int,
                 ckpt: str) -> dict:
    from .semisup import labelled_subset, train_semisup

    lab = real.take(labelled_subset(real, sc.labels_per_class, seed))
    unl = unlabelled_images(real, synth, variant, seed)
    res = train_semisup(lab, unl, semisup_settings(sc, algorithm, seed), ckpt, test=test, progress=False,
                        n_classes=len(real.class_names) or int(real.labels.max()) + 1)
    last = res.log.history[-1] if res.log.history else {}
    return {"algorithm": algorithm, "variant": variant, "seed": seed, "labelled": len(lab), "unlabelled": len(unl),
            "error": res.test_error, "final_mask_ratio": last.get("mask_ratio", float("nan")),
            "train_seconds": res.log.wall_time}


def run_semisup(real: ImageSet, synth: ImageSet, test: ImageSet, sc, seeds: Sequence[int], ckpt_dir: str | Path,
                *, variants: Sequence[str] = VARIANTS, workers: int = 1, threads: int = 1, progress: bool = False):
    """Every (algorithm, variant, seed) of Table 8: error rate on ``test``; resumable from
    ``ckpt_dir/<inputs digest>``."""
    import pandas as pd

    from .pool import parallel_map

    folder = Path(ckpt_dir) / inputs_digest([real, synth], sc)
    jobs = [(real, synth, test, sc, a, v, s, str(folder / f"{a}_{v}_seed{s}.pt"))
            for a in sc.algorithm_names for v in variants for s in seeds]
    return pd.DataFrame(parallel_map(_semisup_job, jobs, workers=workers, threads=threads, progress=progress,
                                     desc="semi-supervised"))


def table8(runs, scale: str):
    """Table 8: error rate (%) mean ± std over seeds per (algorithm, variant), the paper's beside."""
    import pandas as pd

    rows = []
    for (a, v), g in runs.groupby(["algorithm", "variant"], sort=False):
        e = 100 * g["error"].to_numpy(dtype=float)
        sd = float(np.std(e, ddof=1)) if len(e) > 1 else float("nan")
        rows.append({"method": f"{'FlexMatch' if a == 'flexmatch' else 'FreeMatch' if a == 'freematch' else a}"
                               f"{MARK[v]}", "unlabelled data": v, "paper error (%)": PAPER_TABLE8.get((a, v), "–"),
                     "our error (%)": f"{e.mean():.2f} ± {sd:.2f}", "seeds": len(e),
                     "labelled": int(g["labelled"].iloc[0]), "unlabelled": int(g["unlabelled"].iloc[0]),
                     "scale": scale})
    return pd.DataFrame(rows)


def fig6_table(summary, scale: str):
    """Fig. 6 as a table: held-out accuracy (%) mean ± std per (mode, alpha); the paper's claim beside."""
    import pandas as pd

    claim = {"replace": "falls steadily as alpha grows 0 -> 1", "augment": "above alpha = 0 for most alpha"}
    return pd.DataFrame([{"mode": r["mode"], "alpha": r["alpha"],
                          "our accuracy (%)": f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f}", "seeds": r["seeds"],
                          "paper (Fig. 6, no numbers)": claim[r["mode"]], "scale": scale}
                         for _, r in summary.iterrows()])


def load_sets(cfg) -> tuple[ImageSet, ImageSet, ImageSet]:
    """``real_train``, the labelled generated set and the test split, all through the profile's pixel path."""
    import dataclasses

    from ..data import load_imageset
    from ..zoo.registry import load_labelled, zoo_dirs
    from .pixels import apply, pixel_path

    P = cfg.params.distclass.augment
    path = pixel_path(cfg)
    splits = zoo_dirs(cfg)["splits"]
    try:
        real = load_imageset(splits, "real_train")
        test = load_imageset(splits, P.test)
    except Exception as err:  # image-folder data (paper profile) has no labels here
        raise AugmentError(f"replace vs augment needs labelled real splits (builtin data): {err}") from None
    images, labels, names = load_labelled(zoo_dirs(cfg)["models"] / P.synthetic)
    synth = ImageSet(P.synthetic, apply(images, path), labels, names)
    real = dataclasses.replace(real, images=apply(real.images, path))
    test = dataclasses.replace(test, images=apply(test.images, path))
    if tuple(synth.class_names) != tuple(real.class_names):
        raise AugmentError(f"{P.synthetic}'s classes {synth.class_names} differ from real_train's {real.class_names}")
    return real, synth, test
