"""Tests for the domain classifier: histograms, learning, determinism, resume, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from beyondfid.zoo.classifier import (
    ClassifierConfig,
    ClassifierError,
    accuracy,
    class_histogram,
    confusion_matrix,
    load_classifier,
    predict_labels,
    predict_proba,
    train_classifier,
)
from beyondfid.data import ImageSet
from beyondfid.zoo.training import CheckpointError


pytestmark = pytest.mark.usefixtures("one_thread")


def shapes_dataset(n: int, seed: int) -> ImageSet:
    """Three separable classes of 28x28 silhouettes at random positions: horizontal bar, vertical bar, square."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, 28, 28), np.uint8)
    labels = rng.integers(0, 3, n)
    for i, y in enumerate(labels):
        r, c = rng.integers(4, 16, 2)
        if y == 0:
            images[i, 0, r : r + 4, c - 2 : c + 12] = 255
        elif y == 1:
            images[i, 0, r - 2 : r + 12, c : c + 4] = 255
        else:
            images[i, 0, r : r + 8, c : c + 8] = 255
    return ImageSet("shapes", images, labels, ("hbar", "vbar", "square"))


SMOKE = ClassifierConfig(width=4, n_steps=40, batch_size=32, lr=0.01, seed=0, ckpt_every=15)


def test_class_histogram_matches_naive_count() -> None:
    labels = np.random.default_rng(0).integers(0, 7, 500)
    h = class_histogram(labels, 9)
    assert h.dtype == np.int64 and h.shape == (9,)
    assert h.tolist() == [sum(1 for v in labels if v == k) for k in range(9)]
    assert h[7] == h[8] == 0 and h.sum() == 500
    assert class_histogram(np.zeros(0, np.int64), 3).tolist() == [0, 0, 0]
    with pytest.raises(ClassifierError, match="0..2"):
        class_histogram(np.array([0, 3]), 3)
    with pytest.raises(ClassifierError, match="integer"):
        class_histogram(np.array([0.5]), 3)


def test_confusion_matrix_matches_naive_count() -> None:
    rng = np.random.default_rng(2)
    t, p = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    c = confusion_matrix(t, p, 5)
    assert c.shape == (5, 5) and c.sum() == 300
    assert all(c[i, j] == sum(1 for a, b in zip(t, p) if a == i and b == j) for i in range(5) for j in range(5))
    assert np.array_equal(c.sum(1), class_histogram(t, 5)) and np.array_equal(c.sum(0), class_histogram(p, 5))
    with pytest.raises(ClassifierError, match="0..4"):
        confusion_matrix(np.array([5]), np.array([0]), 5)


def test_learns_a_separable_problem_above_chance(tmp_path: Path) -> None:
    train, test = shapes_dataset(400, seed=0), shapes_dataset(150, seed=1)
    res = train_classifier(train, SMOKE, tmp_path / "ckpt.pt", heldout=test, n_classes=3, progress=False)
    assert res.heldout_accuracy is not None and res.heldout_accuracy > 0.8  # chance is 1/3
    assert res.heldout_accuracy == accuracy(res.model, test.images, test.labels)
    pred = predict_labels(res.model, test.images)
    assert pred.dtype == np.int64 and pred.shape == (150,)
    p = predict_proba(res.model, test.images)
    assert np.allclose(p.sum(1), 1.0) and np.array_equal(p.argmax(1), pred)
    hist = class_histogram(pred, 3)
    assert hist.sum() == 150 and np.abs(hist - class_histogram(test.labels, 3)).sum() < 0.4 * 150
    # the checkpoint reproduces the model exactly (weights_only load, architecture from the buffer)
    loaded = load_classifier(tmp_path / "ckpt.pt")
    assert np.array_equal(predict_proba(loaded, test.images), p)


def test_same_seed_same_weights_and_resume_is_bitwise(tmp_path: Path) -> None:
    train = shapes_dataset(200, seed=0)
    cfg = SMOKE.model_copy(update={"n_steps": 20})
    a = train_classifier(train, cfg, tmp_path / "a.pt", n_classes=3, progress=False).model.state_dict()
    b = train_classifier(train, cfg, tmp_path / "b.pt", n_classes=3, progress=False).model.state_dict()
    # killed after 7 steps (last checkpoint at step 7), then resumed to the end
    train_classifier(train, cfg, tmp_path / "c.pt", n_classes=3, progress=False, max_steps_this_call=7)
    c = train_classifier(train, cfg, tmp_path / "c.pt", n_classes=3, progress=False).model.state_dict()
    d = train_classifier(train, cfg.model_copy(update={"seed": 1}), tmp_path / "d.pt", n_classes=3,
                         progress=False).model.state_dict()
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)
    assert not all(torch.equal(a[k], d[k]) for k in a)


def test_bad_inputs_are_rejected(tmp_path: Path) -> None:
    train = shapes_dataset(20, seed=0)
    with pytest.raises(ClassifierError, match="batch_size"):
        train_classifier(train, SMOKE, tmp_path / "x.pt", n_classes=3, progress=False)
    with pytest.raises(ClassifierError, match="labels must lie"):
        train_classifier(train, SMOKE.model_copy(update={"batch_size": 8}), tmp_path / "x.pt", n_classes=2,
                         progress=False)
    res = train_classifier(train, SMOKE.model_copy(update={"batch_size": 8, "n_steps": 2}), tmp_path / "y.pt",
                           n_classes=3, progress=False)
    with pytest.raises(ClassifierError, match="uint8 grayscale"):
        predict_labels(res.model, train.images.astype(np.float32))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_classifier(tmp_path / "missing.pt")
    with pytest.raises(Exception, match="batch_size"):
        ClassifierConfig(batch_size=1)


def test_channels_last_is_the_same_math_and_is_never_resumed_in_the_other_layout(tmp_path: Path) -> None:
    """The layout changes strides, not the function. In float32 the first step's loss (the same weights,
    the same batch) agrees to rounding; Adam's sign-like updates on near-zero gradients then let the
    weights drift by about lr per step, so the later losses agree to within 2% (measured: 0.6%). The
    layout is in the checkpoint's meta, so a contiguous run is not resumed in channels-last, and a
    channels-last checkpoint loads into the plain network."""
    train = shapes_dataset(200, seed=0)
    cfg = SMOKE.model_copy(update={"n_steps": 20, "precision": "fp32"})
    a = train_classifier(train, cfg, tmp_path / "a.pt", n_classes=3, progress=False)
    b = train_classifier(train, cfg, tmp_path / "b.pt", n_classes=3, progress=False, channels_last=True)
    la = np.array([h["loss"] for h in a.log.history])
    lb = np.array([h["loss"] for h in b.log.history])
    assert len(la) == len(lb) == 20
    assert abs(la[0] - lb[0]) < 1e-5 * la[0]
    assert np.all(np.abs(la - lb) < 0.02 * la)
    sb = b.model.state_dict()
    assert any(v.dim() == 4 and v.is_contiguous(memory_format=torch.channels_last) and not v.is_contiguous()
               for v in sb.values())  # the run really was in channels-last
    assert torch.load(tmp_path / "b.pt", weights_only=True)["meta"]["layout"] == "channels_last"
    assert "layout" not in torch.load(tmp_path / "a.pt", weights_only=True)["meta"]  # default checkpoints unchanged
    with pytest.raises(CheckpointError, match="layout"):
        train_classifier(train, cfg, tmp_path / "a.pt", n_classes=3, progress=False, channels_last=True)
    loaded = load_classifier(tmp_path / "b.pt")
    test = shapes_dataset(60, seed=1)
    assert np.allclose(predict_proba(loaded, test.images), predict_proba(b.model, test.images), atol=1e-6)
