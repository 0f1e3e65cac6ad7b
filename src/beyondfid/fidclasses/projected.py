"""ImageNet-pretrained discriminators and FID (Kynkäänniemi et al., ICLR 2023, Sec. 4, Fig. 7).

The paper compares Projected FastGAN (EfficientNet features in the discriminator) with
StyleGAN2 at roughly equal FID and recall: FID prefers Projected FastGAN (4.71 vs 5.63), FID_CLIP
prefers StyleGAN2 (4.87 vs 2.90), and so do humans.

Mini: the zoo's ``projected_gan`` (frozen EfficientNet-Lite0 features in D -- the very network
mini's FID uses) against the GAN training snapshot (or the final GAN) whose FID at the same
sample count is closest. Besides FID, the second-opinion FDs, precision and recall, the table
adds FD in a sibling ImageNet network (``fid_features.sibling``) to separate "the FID network is
the discriminator's backbone" from "ImageNet features in general".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import precision_recall
from .sets import Reference, World, fd

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["comparison_candidates", "select_comparison", "comparison_table"]


def comparison_candidates(world: World) -> list[str]:
    """The generated model's training snapshots and the final model itself."""
    return world.snapshots() + [world.P.generated]


def select_comparison(world: World, n: int) -> tuple[str, "pd.DataFrame"]:
    """The candidate whose FID (first ``n`` images vs all of ``fidclasses.real``) is closest to the
    projected model's FID (its first ``n`` images). Returns ``(name, table of every candidate)``."""
    import pandas as pd

    real = world.load(world.P.real)
    stats = _stats(real.features)
    proj = world.load(world.P.projected)
    n_eff = min(n, len(proj))
    target = fd(proj.features[:n_eff], stats)
    rows = []
    for name in comparison_candidates(world):
        s = world.load(name)
        m = min(n_eff, len(s))
        rows.append({"set": name, "n": m, "FID": fd(s.features[:m], stats)})
    table = pd.DataFrame(rows)
    table["|FID - FID_projected|"] = (table["FID"] - target).abs()
    best = str(table.loc[table["|FID - FID_projected|"].idxmin(), "set"])
    return best, table.assign(FID_projected=target)


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from ..stats import compute_stats

    return compute_stats(x, warn_singular=False)


def comparison_table(world: World, chosen: str, n: int, sibling: str, pr_k: int = 3) -> "pd.DataFrame":
    """Fig. 7's numbers for the projected model and ``chosen`` at ``n`` images each: FID, every
    second-opinion FD, precision and recall (FID space, k = ``pr_k``) and FD in the sibling network
    (its own real reference: the ``fid_features`` rows of ``fidclasses.real``)."""
    import pandas as pd

    P = world.P
    real = world.load(P.real)
    rows = []
    ref = Reference.of(real.features)
    refs = {space: Reference.of(real.second[space]) for space in world.spaces}
    sib_real = Reference.of(world.extra(P.real, sibling))
    for name in (P.projected, chosen):
        s = world.load(name)
        m = min(n, len(s))
        row: dict[str, Any] = {"model": name, "n": m, "FID": ref.fd(s.features[:m])}
        for space in world.spaces:
            row[f"FD_{space}"] = refs[space].fd(s.second[space][:m])
        row["precision"], row["recall"] = precision_recall(real.features, s.features[:m], k=pr_k)
        row[f"FD_{sibling}"] = sib_real.fd(world.extra(name, sibling)[:m])
        rows.append(row)
    return pd.DataFrame(rows)
