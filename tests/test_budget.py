"""The zoo budget estimator (beyondfid.zoo.budget): what it counts, on smoke-sized models."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.config import GeneratorConfig
from beyondfid.data import ImageSet
from beyondfid.zoo import budget

pytestmark = pytest.mark.usefixtures("one_thread")


def _toy(n=64) -> ImageSet:
    rng = np.random.default_rng(0)
    return ImageSet("toy", rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), np.arange(n) % 4, tuple("abcd"))


def test_sampling_counts_every_image_and_call_of_the_stage():
    gan = GeneratorConfig(family="dcgan", steps=10, n_samples=100, candidate_factor=5, n_snapshots=4,
                          snapshot_samples=20)
    assert budget.sampling_calls(gan) == (100 + 500 + 80, 1 + 1 + 4)
    cond = GeneratorConfig(family="unet_ddpm", steps=10, n_samples=100, class_cond=True, n_labelled=800)
    assert budget.sampling_calls(cond) == (800, 1)  # samples.npz is a prefix of the labelled set


@pytest.mark.parametrize("cfg", [
    dict(family="unet_ddpm", width=8, depth=2, sample_steps=2),
    dict(family="dcgan", width=4, z_dim=4, n_snapshots=2, snapshot_samples=4, candidate_factor=2, bn_samples=8),
    dict(family="unet_ddpm", width=8, depth=2, sample_steps=2, class_cond=True, n_classes=4, n_labelled=12),
])
def test_estimate_extrapolates_measured_steps_to_the_configured_run(cfg):
    g = GeneratorConfig(steps=1000, batch_size=8, n_samples=6, **cfg)
    e = budget.estimate_generator("m", g, _toy(), steps=3, warmup=1, samples=4)
    assert e.per_step_s > 0 and e.steps == 1000 and e.timed_steps == 3
    assert e.train_s == pytest.approx(e.per_step_s * 1000 + e.startup_s)
    assert e.sample_s >= 0 and e.total_s == pytest.approx(e.train_s + e.sample_s)
    assert set(e.to_dict()) >= {"per_step_s", "train_s", "sample_s", "total_s", "startup_s"}
    with pytest.raises(ValueError):
        budget.estimate_generator("m", g, _toy(), steps=0)


def test_timing_data_stands_in_for_real_train_on_a_fresh_clone(tmp_path):
    from beyondfid.config import load_config

    cfg = load_config("smoke", "params.yaml", tmp_path)  # no zoo_splits stage has run under tmp_path
    data = budget.timing_data(cfg, n=50)
    assert data.images.shape == (50, 1, 28, 28) and len(set(data.labels)) == 10


def test_encoder_estimate_keeps_the_process_start_up_out_of_the_step_time(tmp_path, monkeypatch):
    """Planted timings: a one-off start-up on the first call only, then a fixed time per step. The start-up
    must not cancel the steps' time (it used to, giving 0 s per step) and must come out as the start-up."""
    import time

    from beyondfid.config import load_config
    from beyondfid.zoo import ssl

    startup, per_step, calls = 0.3, 0.02, []

    def fake_train(train, ecfg, ckpt, *, progress, max_steps_this_call):
        assert not ckpt.exists(), "every timed run must start from a fresh checkpoint"
        time.sleep((startup if not calls else 0.0) + per_step * max_steps_this_call)
        calls.append(max_steps_this_call)

    monkeypatch.setattr(ssl, "train_ssl_contrastive", fake_train)
    cfg = load_config("smoke", "params.yaml", tmp_path)
    e = budget.estimate_encoder("ssl_contrastive", cfg, _toy(), steps=10, warmup=1)
    assert calls == [1, 1, 11]
    assert e.per_step_s == pytest.approx(per_step, rel=0.3)
    assert e.startup_s == pytest.approx(startup, abs=0.1)
    assert e.train_s == pytest.approx(e.per_step_s * cfg.params.zoo.ssl_contrastive.n_steps + e.startup_s)
