"""Replace vs augment (paper 3, Fig. 6): the class-wise mixes and the seeded experiment grid."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.config import ClassifierConfig
from beyondfid.data import ImageSet
from beyondfid.distclass.augment import (SYNTH_OFFSET, AugmentError, generated_share, grid_points, inputs_digest, mix,
                                         run_mixing, summarise_mixing)


@pytest.fixture(autouse=True)
def _threads(one_thread):
    yield


def _set(name, n_per_class, value, seed, classes=3):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    x = np.full((len(labels), 1, 28, 28), value, np.uint8)
    for c in range(classes):  # class c = a bright stripe at row band c
        x[labels == c, :, 2 + 8 * c: 8 + 8 * c, :] = 250
    x = np.clip(x.astype(int) + rng.integers(0, 20, x.shape), 0, 255).astype(np.uint8)
    return ImageSet(name, x, labels, tuple(f"c{i}" for i in range(classes)))


def test_replace_keeps_size_and_class_counts_augment_adds():
    real, synth = _set("real", 20, 0, 0), _set("synth", 25, 40, 1)
    for alpha in (0.0, 0.25, 0.5, 1.0):
        r = mix(real, synth, alpha, "replace", seed=0)
        assert len(r) == len(real) and np.bincount(r.labels).tolist() == [20, 20, 20]
        assert generated_share(r) == pytest.approx(round(alpha * 20) / 20)
        a = mix(real, synth, alpha, "augment", seed=0)
        assert len(a) == len(real) + 3 * round(alpha * 20)
        assert (a.index < SYNTH_OFFSET).sum() == len(real)            # every real image kept
        # generated rows really are generated images of the same class
        g = a.index >= SYNTH_OFFSET
        np.testing.assert_array_equal(a.images[g], synth.images[a.index[g] - SYNTH_OFFSET])
        np.testing.assert_array_equal(a.labels[g], synth.labels[a.index[g] - SYNTH_OFFSET])
    r1, r2 = mix(real, synth, 0.5, "replace", 0), mix(real, synth, 0.5, "replace", 1)
    assert not np.array_equal(r1.index, r2.index)
    np.testing.assert_array_equal(r1.index, mix(real, synth, 0.5, "replace", 0).index)


def test_bad_mixes_are_rejected():
    real, synth = _set("real", 20, 0, 0), _set("synth", 5, 40, 1)
    with pytest.raises(AugmentError, match="only 5 exist"):
        mix(real, synth, 0.5, "augment", 0)
    with pytest.raises(AugmentError, match="alpha"):
        mix(real, synth, 1.5, "replace", 0)
    small = ImageSet("s", np.zeros((3, 1, 14, 14), np.uint8), np.arange(3))
    with pytest.raises(AugmentError, match="pixel format"):
        mix(real, small, 0.5, "replace", 0)


def test_grid_runs_alpha_zero_once():
    assert grid_points([0, 0.5, 1]) == [("real", 0.0), ("replace", 0.5), ("replace", 1.0), ("augment", 0.5),
                                        ("augment", 1.0)]


def test_run_mixing_on_a_planted_task(tmp_path):
    """Generated images whose labels are scrambled: replacing all real data must hurt, adding them less."""
    real, held = _set("real", 30, 0, 0), _set("held", 20, 0, 2)
    synth = _set("synth", 30, 0, 1)
    synth = ImageSet("synth", synth.images, (synth.labels + 1) % 3, synth.class_names)  # wrong labels
    cfg = ClassifierConfig(width=4, n_steps=40, batch_size=16, lr=0.01, seed=0, ckpt_every=20)
    runs = run_mixing(real, synth, held, [0.0, 1.0], seeds=[0, 1], cfg=cfg, ckpt_dir=tmp_path)
    assert len(runs) == 2 * 3
    s = summarise_mixing(runs).set_index(["mode", "alpha"])
    assert s.loc[("replace", 0.0), "mean"] == s.loc[("augment", 0.0), "mean"] > 0.9
    assert s.loc[("replace", 1.0), "mean"] < 0.2            # every label wrong: systematically wrong
    assert s.loc[("augment", 1.0), "mean"] > s.loc[("replace", 1.0), "mean"]
    assert (s["seeds"] == 2).all()
    again = run_mixing(real, synth, held, [0.0, 1.0], seeds=[0, 1], cfg=cfg, ckpt_dir=tmp_path)  # resumed: same
    np.testing.assert_array_equal(again["accuracy"], runs["accuracy"])


def test_unlabelled_variants_and_tables():
    import pandas as pd

    from beyondfid.distclass.augment import fig6_table, table8, unlabelled_images

    real, synth = _set("real", 10, 0, 0), _set("synth", 12, 40, 1)
    assert unlabelled_images(real, synth, "real", 0) is real.images
    rep = unlabelled_images(real, synth, "replaced", 0)
    assert len(rep) == len(real) and all(any(np.array_equal(r, s) for s in synth.images) for r in rep[:3])
    assert len(unlabelled_images(real, synth, "augmented", 0)) == 2 * len(real)
    with pytest.raises(AugmentError):
        unlabelled_images(real, synth, "both", 0)
    runs = pd.DataFrame([{"algorithm": "freematch", "variant": v, "seed": s, "error": e, "labelled": 25,
                          "unlabelled": 100} for v, errs in (("real", (0.1, 0.2)), ("replaced", (0.3, 0.3)))
                         for s, e in enumerate(errs)])
    t = table8(runs, "test")
    assert t["method"].tolist() == ["FreeMatch*", "FreeMatch†"]
    assert t["paper error (%)"].tolist() == ["4.90 ± 0.04", "5.94 ± 0.10"]
    assert t["our error (%)"].tolist() == ["15.00 ± 7.07", "30.00 ± 0.00"]
    summ = pd.DataFrame([{"mode": "replace", "alpha": 0.5, "mean": 0.9, "std": 0.01, "seeds": 3}])
    assert fig6_table(summ, "s")["our accuracy (%)"].tolist() == ["90.00 ± 1.00"]


def test_a_changed_generated_set_is_trained_again_not_read_from_the_cache(tmp_path):
    """The cache is keyed by the inputs' content: after the generator is 'retrained' (here: its labels
    scrambled), the same ckpt_dir must give the new set's result, not the old checkpoints'."""
    real, held = _set("real", 30, 0, 0), _set("held", 20, 0, 2)
    good = _set("synth", 30, 0, 1)
    bad = ImageSet("synth", good.images, (good.labels + 1) % 3, good.class_names)
    cfg = ClassifierConfig(width=4, n_steps=40, batch_size=16, lr=0.01, seed=0, ckpt_every=20)
    before = run_mixing(real, good, held, [1.0], seeds=[0], cfg=cfg, ckpt_dir=tmp_path).set_index("mode")
    after = run_mixing(real, bad, held, [1.0], seeds=[0], cfg=cfg, ckpt_dir=tmp_path).set_index("mode")
    assert before.loc["replace", "accuracy"] > 0.9 and after.loc["replace", "accuracy"] < 0.2
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2       # one folder per input digest
    changed = cfg.model_copy(update={"lr": 0.02})
    assert inputs_digest([real, good], cfg) == inputs_digest([real, good], cfg.model_copy())
    assert inputs_digest([real, good], changed) != inputs_digest([real, good], cfg)
    assert inputs_digest([real, bad], cfg) != inputs_digest([real, good], cfg)
    # the layout is part of the key: contiguous-layout checkpoints of the same inputs are not reused
    assert inputs_digest([real, good], cfg, layout="channels_last") != inputs_digest([real, good], cfg)
