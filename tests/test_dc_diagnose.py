"""Settings of paper 3's Sec. 7.1 experiments: crops and quantised filters applied to a task's arrays."""

from __future__ import annotations

import numpy as np
import pytest

from beyondfid.distclass.diagnose import (DiagnoseError, Setting, apply_setting, band_settings, filtered,
                                          frequency_settings, quantise)
from beyondfid.distclass.filters import high_pass, low_pass


def _arrays(n=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 1, 28, 28)).astype(np.uint8)
    return x, np.arange(n) % 2, x[::-1].copy(), np.arange(n) % 2


def test_quantise_is_a_fixed_affine_map():
    x = np.array([-255.0, -1.0, 0.0, 1.0, 100.0, 255.0, 300.0, -400.0])
    np.testing.assert_array_equal(quantise(x), [0, 127, 128, 128, 178, 255, 255, 0])
    assert quantise(x).dtype == np.uint8


def test_filters_are_applied_then_quantised_identically():
    x, _, _, _ = _arrays()
    np.testing.assert_array_equal(filtered(x, Setting("low", high=3)), quantise(low_pass(x, 3)))
    np.testing.assert_array_equal(filtered(x, Setting("high", high=5, shape="circle")),
                                  quantise(high_pass(x, 5, "circle")))
    # a high-pass of real images stays inside the quantiser's range (no clipping on [-255, 255])
    hp = high_pass(x, 1)
    assert hp.min() > -255 and hp.max() < 255


def test_apply_setting_crops_and_expands_random_crops():
    xt, yt, xv, yv = _arrays()
    a = apply_setting(xt, yt, xv, yv, Setting("center", size=7))
    assert a[0].shape == (6, 1, 7, 7) and a[2].shape == (6, 1, 7, 7)
    np.testing.assert_array_equal(a[0], xt[:, :, 10:17, 10:17])
    r = apply_setting(xt, yt, xv, yv, Setting("random", size=14, per_image=4, trial=1))
    assert r[0].shape == (24, 1, 14, 14) and r[2].shape == (6, 1, 14, 14)
    np.testing.assert_array_equal(r[1], np.repeat(yt, 4))
    again = apply_setting(xt, yt, xv, yv, Setting("random", size=14, per_image=4, trial=1))
    other = apply_setting(xt, yt, xv, yv, Setting("random", size=14, per_image=4, trial=2))
    np.testing.assert_array_equal(r[0], again[0])
    assert not np.array_equal(r[0], other[0])
    none = apply_setting(xt, yt, xv, yv, Setting("none"))
    assert none[0] is xt


def test_setting_lists_and_labels():
    s = frequency_settings((1, 3, 5, 10), circle=True)
    labels = [x.label for x in s]
    assert labels[:4] == ["low 1", "low 3", "low 5", "low 10"]
    assert labels[8:12] == ["band 0-1", "band 1-3", "band 3-5", "band 5-10"]
    assert labels[12] == "low 1 (circle)" and len(s) == 20
    assert len(frequency_settings((1, 3), circle=False)) == 6
    assert [b.label for b in band_settings((1, 3))] == ["band 0-1", "band 1-3"]
    with pytest.raises(DiagnoseError):
        Setting("band", low=3, high=3)
    with pytest.raises(DiagnoseError):
        Setting("center", size=1)
    assert len({Setting("low", high=1), Setting("low", high=1)}) == 1   # hashable, equal by value


def test_params_yaml_mappings_are_the_papers(repo):
    from beyondfid.config import ConfigError, load_config
    from beyondfid.distclass.diagnose import check_mappings

    for profile in ("smoke", "mini", "paper"):
        p = load_config(profile, repo / "params.yaml").params
        m = check_mappings(p.distclass.crops, p.distclass.frequency, profile)
        assert len(m["thresholds"]) == 4
    p = load_config("mini", repo / "params.yaml").params
    assert [c.size for c in check_mappings(p.distclass.crops, p.distclass.frequency, "mini")["center"]] == [14, 7, 4, None]
    bad = p.distclass.frequency.model_copy(update={"thresholds": "1,2,5,10"})
    with pytest.raises(ConfigError, match="frequency.thresholds"):
        check_mappings(p.distclass.crops, bad, "mini")
    bad = p.distclass.crops.model_copy(update={"center": "14,7,3"})
    with pytest.raises(ConfigError, match="crops.center"):
        check_mappings(bad, p.distclass.frequency, "mini")


def test_transform_task_resizes_crops_back_and_repeats_rows():
    from beyondfid.distclass.diagnose import transform_task
    from beyondfid.distclass.task import TaskSpec, make_task

    rng = np.random.default_rng(0)
    pools = {"a": rng.integers(0, 256, (20, 1, 28, 28)).astype(np.uint8),
             "b": rng.integers(0, 256, (20, 1, 28, 28)).astype(np.uint8)}
    task = make_task(pools, TaskSpec(("a", "b"), n_train=6, n_val=4))
    t = transform_task(task, Setting("random", size=7, per_image=4).key(), seed=0)
    assert t.x_train.shape == (48, 1, 28, 28) and t.x_val.shape == (8, 1, 28, 28)
    np.testing.assert_array_equal(t.y_train, np.repeat(task.y_train, 4))
    np.testing.assert_array_equal(t.train_index, np.repeat(task.train_index, 4))
    c = transform_task(task, Setting("center", size=14).key())
    from beyondfid.distclass.pixels import resize
    np.testing.assert_array_equal(c.x_val, resize(task.x_val[:, :, 7:21, 7:21], 28))
    f = transform_task(task, Setting("band", low=1, high=3).key())
    assert f.x_train.dtype == np.uint8 and f.x_train.shape == task.x_train.shape
