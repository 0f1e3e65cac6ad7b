"""FixMatch / FreeMatch / FlexMatch (paper 3, Table 8): the adaptive thresholds against direct
computations of their papers' formulas, the strong augmentation, and resumable training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from beyondfid.data import ImageSet
from beyondfid.distclass.semisup import (FlexMatchThresholds, FreeMatchThresholds, SemiSupSettings, fixmatch_lr,
                                         labelled_subset, strong_augment, train_semisup, weak_augment)
from beyondfid.zoo.training import load_checkpoint


@pytest.fixture(autouse=True)
def _threads(one_thread):
    yield


def _probs(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(3 * torch.randn(n, c, generator=g), dim=1)


def test_freematch_thresholds_follow_the_papers_recursions():
    c, lam = 4, 0.9
    thr = FreeMatchThresholds(c, lam)
    tau, p, h = 1 / c, np.full(c, 1 / c), np.full(c, 1 / c)          # Eq. 5-7: initialised to 1/C
    for seed in range(3):
        q = _probs(16, c, seed)
        mask = thr.update_and_mask(q).numpy()
        qn = q.numpy().astype(np.float64)
        tau = lam * tau + (1 - lam) * qn.max(1).mean()
        p = lam * p + (1 - lam) * qn.mean(0)
        h = lam * h + (1 - lam) * np.bincount(qn.argmax(1), minlength=c) / 16
        class_tau = p / p.max() * tau
        np.testing.assert_array_equal(mask, (qn.max(1) >= class_tau[qn.argmax(1)]).astype(np.float32))
        np.testing.assert_allclose(thr.tau.item(), tau, rtol=1e-6)
        np.testing.assert_allclose(thr.p_model.numpy(), p, rtol=1e-5)
        np.testing.assert_allclose(thr.label_hist.numpy(), h, rtol=1e-5)


def test_freematch_fairness_loss_is_minus_cross_entropy_of_the_normalised_ratios():
    c = 3
    thr = FreeMatchThresholds(c, 0.5)
    thr.update_and_mask(_probs(8, c, 0))
    logits = torch.randn(6, c, generator=torch.Generator().manual_seed(1), requires_grad=True)
    mask = torch.tensor([1.0, 0, 1, 1, 0, 1])
    loss = thr.fairness_loss(mask, logits)
    pr = torch.softmax(logits.detach(), 1).numpy()[mask.bool().numpy()]
    hbar = np.bincount(pr.argmax(1), minlength=c) / len(pr)
    a = thr.p_model.numpy() / thr.label_hist.numpy()
    a = a / a.sum()
    with np.errstate(divide="ignore"):
        b = pr.mean(0) * np.where(hbar > 0, 1 / hbar, 0)
    b = b / b.sum()
    assert loss.item() == pytest.approx(float(np.sum(a * np.log(b + 1e-12))), rel=1e-5)
    loss.backward()
    assert logits.grad[~mask.bool()].abs().max() == 0 and logits.grad.abs().sum() > 0
    assert thr.fairness_loss(torch.zeros(6), logits).item() == 0.0


def test_flexmatch_warmup_learning_effect_and_convex_mapping():
    thr = FlexMatchThresholds(n_unlabelled=10, n_classes=3, tau=0.95)
    # nothing selected yet: beta = 0, every threshold 0, everything passes (FlexMatch's warm-up start)
    q = torch.tensor([[0.4, 0.3, 0.3], [0.96, 0.02, 0.02], [0.01, 0.98, 0.01]])
    mask = thr.mask_and_update(q, torch.tensor([0, 1, 2]))
    assert mask.tolist() == [1.0, 1.0, 1.0]
    assert thr.selected.tolist() == [-1, 0, 1] + [-1] * 7          # only confident ones (>= tau) recorded
    thr.selected[:] = torch.tensor([0, 0, 0, 0, 1, 1, -1, -1, 2, -1])
    sigma, unused = np.array([4, 2, 1]), 3
    beta = sigma / max(sigma.max(), unused)
    np.testing.assert_allclose(thr.class_thresholds().numpy(), 0.95 * beta / (2 - beta), rtol=1e-6)
    thr.selected[:] = torch.tensor([0, 1, 1, 1, 1, 1, 1, 1, 2, -1])  # unused no longer dominant
    beta = np.array([1, 7, 1]) / 7
    np.testing.assert_allclose(thr.class_thresholds().numpy(), 0.95 * beta / (2 - beta), rtol=1e-6)


def test_strong_augment_is_seeded_bounded_and_identity_without_ops():
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    a = strong_augment(x, torch.Generator().manual_seed(1))
    b = strong_augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 1
    assert not torch.allclose(a, x)
    same = strong_augment(x, torch.Generator().manual_seed(1), n_ops=0, cutout=0.0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    w = weak_augment(x, torch.Generator().manual_seed(2))
    assert w.shape == x.shape


def test_fixmatch_schedule():
    assert fixmatch_lr(0, 100, 0.03) == 0.03
    assert fixmatch_lr(100, 100, 0.03) == pytest.approx(0.03 * np.cos(7 * np.pi / 16))


def test_labelled_subset_takes_k_per_class():
    ds = ImageSet("d", np.zeros((30, 1, 4, 4), np.uint8), np.repeat(np.arange(3), 10))
    rows = labelled_subset(ds, 4, seed=0)
    assert np.bincount(ds.labels[rows]).tolist() == [4, 4, 4]
    assert not np.array_equal(rows, labelled_subset(ds, 4, seed=1))


def _planted(n_per_class: int, seed: int) -> ImageSet:
    """Two classes: a bright square top-left vs bottom-right, on noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, size=(2 * n_per_class, 1, 28, 28)).astype(np.uint8)
    y = np.repeat([0, 1], n_per_class)
    x[:n_per_class, :, 3:12, 3:12] = 230
    x[n_per_class:, :, 16:25, 16:25] = 230
    return ImageSet("planted", x, y)


def _settings(algorithm, steps=30):
    return SemiSupSettings(algorithm=algorithm, n_steps=steps, batch_size=8, uratio=2, lr=3e-3, weight_decay=1e-4,
                           tau=0.95, ema_p=0.9, w_u=1.0, w_f=0.01, ema_model=0.9, width=4, seed=0, ckpt_every=10)


@pytest.mark.parametrize("algorithm", ["freematch", "flexmatch", "fixmatch"])
def test_training_learns_a_planted_task_and_resumes_bit_for_bit(algorithm, tmp_path):
    train, test = _planted(40, 0), _planted(50, 1)
    lab = train.take(labelled_subset(train, 4, seed=0))
    res = train_semisup(lab, train.images, _settings(algorithm), tmp_path / "a.pt", test=test, n_classes=2,
                        progress=False)
    assert res.test_error is not None and res.test_error < 0.2
    assert "mask_ratio" in res.log.history[-1]
    train_semisup(lab, train.images, _settings(algorithm), tmp_path / "b.pt", n_classes=2, progress=False,
                  max_steps_this_call=13)                                 # "killed" after 13 steps
    again = train_semisup(lab, train.images, _settings(algorithm), tmp_path / "b.pt", test=test, n_classes=2,
                          progress=False)
    sa, sb = load_checkpoint(tmp_path / "a.pt")["modules"], load_checkpoint(tmp_path / "b.pt")["modules"]
    for name in sa:                                                       # weights, EMA and threshold state
        for k in sa[name]:
            assert torch.equal(sa[name][k], sb[name][k]), (name, k)
    assert again.test_error == res.test_error


def test_precision_is_recorded_and_a_checkpoint_is_not_resumed_at_another():
    """bf16 autocast (the mini default on a CPU with native bf16) learns the planted task as float32 does,
    the checkpoint records the precision, and resuming it at another precision is refused by name."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from beyondfid.zoo.training import CheckpointError

    train, test = _planted(40, 0), _planted(50, 1)
    lab = train.take(labelled_subset(train, 4, seed=0))
    with tempfile.TemporaryDirectory() as d:
        errors = {}
        for prec in ("fp32", "bf16"):
            s = dataclasses.replace(_settings("freematch"), precision=prec)
            res = train_semisup(lab, train.images, s, Path(d) / f"{prec}.pt", test=test, n_classes=2, progress=False)
            assert load_checkpoint(Path(d) / f"{prec}.pt")["meta"]["precision"] == prec
            errors[prec] = res.test_error
        assert errors["fp32"] < 0.2 and errors["bf16"] < 0.2, errors
        half = dataclasses.replace(_settings("freematch"), precision="fp32")
        train_semisup(lab, train.images, half, Path(d) / "half.pt", n_classes=2, progress=False, max_steps_this_call=5)
        with pytest.raises(CheckpointError, match="precision"):
            train_semisup(lab, train.images, dataclasses.replace(half, precision="bf16"), Path(d) / "half.pt",
                          n_classes=2, progress=False)
