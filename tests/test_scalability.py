"""The scalability harness (FINC Table 1): slope fits, honest peak memory, caps, budget rules."""

from __future__ import annotations

import copy
import functools
import json
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from beyondfid.config import ConfigError, config_from_dict
from beyondfid.finc.scalability import (
    InputSpec,
    Measurement,
    MethodSpec,
    ScalabilityResult,
    cap_label,
    measure_reference,
    fit_slopes,
    fit_synthetic,
    loglog_slope,
    make_inputs,
    measure,
    metrics_summary,
    our_entry,
    paper_entry,
    run_grid,
    run_ken,
    run_scalability,
    scale_summary,
    synthetic_features,
    wide_table,
)

MB = 1e6


# ------------------------------------------------------------------------------ slope fits


def test_loglog_slope_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    n = np.array([1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5])
    for b in (1.0, 2.0, 2.8):
        t = 3e-7 * n**b * np.exp(rng.normal(0, 0.03, n.size))  # 3 % timing noise
        slope, intercept = loglog_slope(n, t)
        assert slope == pytest.approx(b, abs=0.05)
        assert np.exp(intercept) == pytest.approx(3e-7, rel=0.5)


def test_loglog_slope_ignores_unusable_points_and_needs_two():
    n = [10, 100, 1000, 10000]
    y = [1.0, 10.0, np.nan, -5.0]  # NaN and non-positive points are dropped
    assert loglog_slope(n, y)[0] == pytest.approx(1.0)
    assert np.isnan(loglog_slope([10, 10], [1.0, 2.0])[0])  # one distinct n: no slope
    with pytest.raises(ValueError, match="same length"):
        loglog_slope([1, 2], [1.0])


def test_fit_slopes_uses_only_finished_runs_and_the_tail_is_asymptotic():
    n = np.array([1e3, 1e4, 1e5, 1e6])
    t = 50.0 + 1e-3 * n  # a constant (FINC's eigendecomposition) plus a linear part
    rows = [dict(method="finc", n=int(k), status="ok", seconds=s) for k, s in zip(n, t)]
    rows.append(dict(method="finc", n=10**7, status="timeout", seconds=1e9))  # must be ignored
    rows += [dict(method="ken", n=k, status="ok", seconds=1e-9 * k**3) for k in (100, 200, 400)]
    table = pd.DataFrame(rows)
    all_pts, tail = fit_slopes(table)["finc"][0], fit_slopes(table, tail=2)["finc"][0]
    assert all_pts < 0.5 < tail
    assert tail == pytest.approx(np.log(t[3] / t[2]) / np.log(10))
    assert fit_slopes(table)["ken"][0] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="tail"):
        fit_slopes(table, tail=1)


# ------------------------------------------------------------------------------ measure()


def test_a_known_allocation_shows_up_in_peak_memory():
    # np.ones(25e6) float64 touches 200 MB; the result stays in the child
    m = measure(np.ones, 25_000_000, time_cap_s=60, memory_cap_gb=2.0, threads=1)
    assert m.status == "ok" and m.ran
    assert 195 * MB < m.peak_extra_bytes < 230 * MB
    assert m.sampled_peak_extra_bytes <= m.peak_extra_bytes + 5 * MB  # sampling can only miss peaks
    small = measure(np.ones, 1_000, time_cap_s=60, memory_cap_gb=2.0, threads=1)
    assert small.peak_extra_bytes < 20 * MB  # a fresh process: no earlier run's memory counted


def test_time_is_the_call_only():
    m = measure(time.sleep, 0.3, time_cap_s=30, memory_cap_gb=1.0)
    assert m.status == "ok"
    assert 0.29 < m.seconds < 0.6


def test_no_time_cap_means_the_call_runs_to_completion():
    m = measure(time.sleep, 0.6, time_cap_s=None, memory_cap_gb=1.0)
    assert m.status == "ok" and 0.59 < m.seconds < 1.2


def test_the_reference_gemm_is_timed_in_a_child_and_divided_by_the_repeats():
    seen = {}

    def fake(fn, *args, **kw):
        seen.update(fn=fn, args=args, **kw)
        return Measurement(2.5, 1e6, "ok")

    assert measure_reference(3, repeats=5, runner=fake) == pytest.approx(0.5)
    assert seen["time_cap_s"] is None and seen["threads"] == 3 and seen["args"] == (5,)
    real = measure_reference(1, repeats=2, size=256)  # a real child process
    assert 0 < real < 5


def test_time_cap_stops_the_run():
    t0 = time.perf_counter()
    m = measure(time.sleep, 30, time_cap_s=0.5, memory_cap_gb=1.0)
    assert m.status == "timeout" and np.isnan(m.seconds)
    assert time.perf_counter() - t0 < 10  # stopped, not waited out


def test_memory_cap_stops_the_run_before_it_allocates_everything():
    # 1.6 GB requested, 0.2 GB allowed: the watchdog (or the final high-water check) says "oom"
    m = measure(np.ones, 200_000_000, time_cap_s=60, memory_cap_gb=0.2)
    assert m.status == "oom" and np.isnan(m.peak_extra_bytes)
    assert "0.2 GB" in m.note


def test_a_run_is_stopped_when_the_machine_runs_low_on_memory():
    # a threshold above any machine's memory: the guard must fire at once, whatever the caps say
    t0 = time.perf_counter()
    m = measure(time.sleep, 30, time_cap_s=60, memory_cap_gb=100.0, min_free_gb=1e6)
    assert m.status == "oom" and "machine" in m.note
    assert time.perf_counter() - t0 < 10


def test_a_baselines_own_memory_check_becomes_oom():
    spec = InputSpec(n=30, m=30, seed=0, model=fit_synthetic(np.random.default_rng(0).random((50, 8))))
    m = measure(run_ken, time_cap_s=60, memory_cap_gb=1.0, setup=functools.partial(make_inputs, spec),
                sigma=1.0, memory_limit=1000.0)  # KEN's estimate is far above 1 kB
    assert m.status == "oom" and "KEN" in m.note


def test_errors_in_the_child_are_raised_and_bad_caps_rejected():
    with pytest.raises(RuntimeError, match="TypeError"):
        measure(np.ones, "not a shape", time_cap_s=30, memory_cap_gb=1.0)
    with pytest.raises(ValueError, match="time_cap_s"):
        measure(np.ones, 3, time_cap_s=0, memory_cap_gb=1.0)
    with pytest.raises(ValueError, match="memory_cap_gb"):
        measure(np.ones, 3, time_cap_s=1, memory_cap_gb=float("nan"))
    with pytest.raises(ValueError, match="status"):
        Measurement(1.0, 1.0, "crashed")


# ------------------------------------------------------------------------------ run_grid budget rules


def _model(d=4):
    return fit_synthetic(np.random.default_rng(0).random((20, d)))


def _dummy(test, ref):  # never called: the fake runner below stands in for measure()
    raise AssertionError


def test_grid_skips_larger_n_after_a_cap_and_prechecks_memory():
    calls = []

    def fake_runner(fn, *, time_cap_s, memory_cap_gb, setup, threads, tag):
        n = setup.args[0].n
        calls.append((tag, n))
        if tag == "slow" and n >= 50:
            return Measurement(float("nan"), float("nan"), "timeout", note="stopped")
        return Measurement(0.01 * n, 1e6, "ok")

    methods = [MethodSpec("slow", _dummy, {"tag": "slow"}, lambda n, m, d: 0.0),
               MethodSpec("big", _dummy, {"tag": "big"}, lambda n, m, d: n * 1e7)]  # 1 GB at n = 100
    sizes = [10, 50, 100, 200]
    T = run_grid(sizes, methods, make_spec=lambda n: InputSpec(n, n, 0, _model()), time_cap_s=5,
                 memory_cap_gb=1.0, runner=fake_runner, available_bytes=lambda: 1e12)
    assert calls == [("slow", 10), ("slow", 50), ("big", 10), ("big", 50), ("big", 100)]
    slow = T[T.method == "slow"].set_index("n")
    assert list(slow.status) == ["ok", "timeout", "timeout", "timeout"]
    assert list(slow.ran) == [True, True, False, False]
    assert "already at n = 50" in slow.loc[100, "note"]
    big = T[T.method == "big"].set_index("n")
    assert list(big.status) == ["ok", "ok", "ok", "oom"] and not big.loc[200, "ran"]
    assert "estimate" in big.loc[200, "note"]
    # this machine's free memory is a separate, explicit reason not to start a run
    T2 = run_grid([10], methods[:1], make_spec=lambda n: InputSpec(n, n, 0, _model(1000)), time_cap_s=5,
                  memory_cap_gb=1.0, runner=fake_runner, available_bytes=lambda: 1e3)
    assert T2.status.tolist() == ["oom"] and "machine" in T2.note[0]
    with pytest.raises(ValueError, match="increasing"):
        run_grid([100, 10], methods, make_spec=lambda n: InputSpec(n, n, 0, _model()), time_cap_s=5,
                 memory_cap_gb=1.0, runner=fake_runner)


# ------------------------------------------------------------------------------ machine-relative caps (issue 16)

# cost model of one run on the reference machine (seconds): FINC linear with a constant, the baselines super-linear
_BASE_COST = {"finc": lambda n: 3.0 + 2.8e-4 * n, "ken": lambda n: 1.3e-9 * n**3, "rarity": lambda n: 1e-7 * n**2,
              "fld": lambda n: 2.5e-6 * n**1.7 * 10}
_REF_S = 0.09  # one reference GEMM on the reference machine


def _slow_machine(slowness, calls):
    """A runner that behaves like a machine ``slowness`` times slower than the reference machine:
    every run, the reference GEMM included, takes ``slowness`` times as long, and the caps are enforced
    as measure() enforces them."""
    def runner(fn, *args, time_cap_s, memory_cap_gb, setup, threads, **kw):
        if fn.__name__ == "gemm_repeat":
            return Measurement(_REF_S * slowness * args[0], 1e6, "ok")
        method = fn.__name__.removeprefix("run_")
        n = setup.args[0].n
        calls.append((method, n, time_cap_s))
        secs = _BASE_COST[method](n) * slowness
        if time_cap_s is not None and secs > time_cap_s:
            return Measurement(float("nan"), float("nan"), "timeout", note="stopped")
        return Measurement(secs, 1e8, "ok")
    return runner


def test_table1_verdicts_do_not_depend_on_the_machines_speed():
    real = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    sizes = [1000, 5000, 20000, 250_000]
    tables, absolute = {}, {}
    for slowness in (1.0, 1.7, 4.0, 12.0):
        calls = []
        R = run_scalability(real, sizes=sizes, methods=["finc", "ken", "rarity", "fld"], rff_dim=8,
                            time_cap_reference=1000.0, memory_cap_gb=1e6, threads=1,
                            runner=_slow_machine(slowness, calls))
        assert R.reference_seconds == pytest.approx(_REF_S * slowness)
        assert R.time_cap_s == pytest.approx(1000 * _REF_S * slowness)
        finc = R.table[R.table.method == "finc"]
        # FINC runs to completion at every n, whatever the machine: never reported as capped
        assert finc.status.eq("ok").all() and finc.ran.all()
        assert all(cap is None for m, _, cap in calls if m == "finc")
        assert all(cap == pytest.approx(R.time_cap_s) for m, _, cap in calls if m != "finc")
        wide = wide_table(R.table, R.time_cap_s, R.time_cap_reference)
        assert not wide["FINC (ours)"].str.contains(">").any()
        tables[slowness] = R.table.status.tolist()
        calls = []
        A = run_scalability(real, sizes=sizes, methods=["finc", "ken", "rarity", "fld"], rff_dim=8,
                            time_cap_s=90.0, memory_cap_gb=1e6, threads=1, runner=_slow_machine(slowness, calls))
        assert A.table[A.table.method == "finc"].status.eq("ok").all()
        absolute[slowness] = A.table.status.tolist()
    # relative caps: the same verdict in every cell on every machine
    assert all(t == tables[1.0] for t in tables.values())
    assert "timeout" in tables[1.0] and "ok" in tables[1.0]
    # an absolute cap (the old behaviour) moves the baselines' verdicts with the machine's speed
    assert absolute[1.0] == tables[1.0] and absolute[12.0] != absolute[1.0]


def test_relative_cap_arguments_are_checked_and_labelled():
    real = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="exactly one"):
        run_scalability(real, sizes=[10], methods=["finc"], rff_dim=4, time_cap_s=5.0, time_cap_reference=10.0,
                        memory_cap_gb=1.0, threads=1)
    with pytest.raises(ValueError, match="exactly one"):
        run_scalability(real, sizes=[10], methods=["finc"], rff_dim=4, memory_cap_gb=1.0, threads=1)
    assert cap_label(90.0) == "90 s"
    assert cap_label(91.23, 1000) == "1000 ref = 91.2 s"
    assert our_entry("timeout", np.nan, np.nan, 91.23, 1000) == "> 1000 ref = 91.2 s"


def test_table_entries_and_paper_values():
    assert paper_entry("ken", 100_000) == "– / > 24 h"
    assert "3000" in paper_entry("finc", 250_000) and "74" in paper_entry("finc", 250_000)
    assert "not in the paper" in paper_entry("rarity", 1000)
    assert our_entry("oom", np.nan, np.nan, 90) == "–"
    assert our_entry("timeout", np.nan, np.nan, 90) == "> 90 s"
    assert our_entry("ok", 12.34, 0.5, 90) == "12.3 s, 0.50 GB"
    T = pd.DataFrame([dict(method="finc", n=250_000, data="synthetic", status="ok", ran=True, seconds=80.0,
                           peak_extra_gb=0.6),
                      dict(method="ken", n=250_000, data="synthetic", status="oom", ran=False, seconds=np.nan,
                           peak_extra_gb=np.nan)])
    w = wide_table(T, 90).iloc[0]
    assert w["FINC (ours)"] == "80 s, 0.60 GB" and w["KEN (ours)"] == "– *" and w["KEN (paper)"] == "– / > 24 h"


def test_metrics_are_json_safe():
    T = pd.DataFrame([dict(method="finc", n=n, status="ok", seconds=0.1 * n, peak_extra_gb=0.5) for n in (10, 100)]
                     + [dict(method="ken", n=n, status="oom", seconds=np.nan, peak_extra_gb=np.nan) for n in (10, 100)])
    R = ScalabilityResult(table=T, sigma=1.0, dim=2, real_rows=10, real_scale={}, synthetic_scale={},
                          time_slopes=fit_slopes(T), memory_slopes=fit_slopes(T, "peak_extra_gb"),
                          tail_time_slopes=fit_slopes(T, tail=3))
    m = metrics_summary(R)
    json.dumps(m, allow_nan=False)  # NaN would make the DVC metrics file invalid JSON
    assert m["finc"]["time_slope"] == pytest.approx(1.0) and m["finc"]["largest_n_finished"] == 100
    assert m["ken"]["time_slope"] is None and m["ken"]["status_by_n"] == {"10": "oom", "100": "oom"}
    assert m["ken"]["paper"]["250000"] == "– / > 24 h"


# ------------------------------------------------------------------------------ inputs


def test_synthetic_features_are_seeded_and_match_the_real_scale():
    rng = np.random.default_rng(1)
    real = (rng.exponential(1.0, (3000, 48)) * rng.uniform(0.1, 3.0, 48)).astype(np.float32)  # skewed, non-Gaussian
    model = fit_synthetic(real)
    a = synthetic_features(model, 5000, seed=3)
    assert a.shape == (5000, 48) and a.dtype == np.float32
    np.testing.assert_array_equal(a, synthetic_features(model, 5000, seed=3, chunk=777))  # chunking is invisible
    assert not np.array_equal(a, synthetic_features(model, 5000, seed=4))
    sr, ss = scale_summary(real), scale_summary(a)
    assert ss["total_variance"] == pytest.approx(sr["total_variance"], rel=0.15)
    assert ss["mean_norm"] == pytest.approx(sr["mean_norm"], rel=0.1)
    assert np.abs(a.mean(0) - model.mean).max() < 0.5 * model.std.max()
    # the test set has a novel cluster: its 10 % of rows sit around a centre the reference never uses
    t, r = synthetic_features(model, 5000, seed=3, novel=True), synthetic_features(model, 5000, seed=3)
    assert not np.allclose(t.mean(0), r.mean(0), atol=0.02 * model.std.max())
    with pytest.raises(ValueError):
        fit_synthetic(np.ones((1, 4)))
    with pytest.raises(ValueError, match="n must be"):
        synthetic_features(model, 0, seed=0)


def test_make_inputs_uses_disjoint_real_halves_then_synthetic(tmp_path):
    pool = np.arange(100 * 3, dtype=np.float32).reshape(100, 3)
    np.save(tmp_path / "pool.npy", pool)
    model = fit_synthetic(pool)
    spec = InputSpec(50, 50, 0, model, str(tmp_path / "pool.npy"), 100)
    assert spec.source == "real"
    test, ref = make_inputs(spec)
    rows_t, rows_r = set(test[:, 0].tolist()), set(ref[:, 0].tolist())
    assert len(rows_t) == 50 and len(rows_r) == 50 and not rows_t & rows_r
    assert rows_t | rows_r == set(pool[:, 0].tolist())
    big = InputSpec(51, 51, 0, model, str(tmp_path / "pool.npy"), 100)
    assert big.source == "synthetic"
    t2, r2 = make_inputs(big)
    assert t2.shape == r2.shape == (51, 3)


def test_run_scalability_end_to_end_small():
    real = np.random.default_rng(0).normal(size=(60, 16)).astype(np.float32)
    R = run_scalability(real, sizes=[10, 40], methods=["finc", "ken", "rarity", "fld"], rff_dim=16,
                        time_cap_s=60, memory_cap_gb=1.0, threads=1)
    T = R.table
    assert len(T) == 8 and set(T.status) == {"ok"}
    assert T[T.n == 10].data.eq("real").all() and T[T.n == 40].data.eq("synthetic").all()
    assert (T.seconds > 0).all() and (T.peak_extra_gb >= 0).all()
    assert set(R.time_slopes) == {"finc", "ken", "rarity", "fld"}
    assert R.dim == 16 and R.sigma > 0


# ------------------------------------------------------------------------------ config


@pytest.fixture()
def raw(repo):
    return yaml.safe_load((repo / "params.yaml").read_text())


@pytest.mark.parametrize("key, value, words", [
    ("sizes", "1000,500", "increasing"),
    ("sizes", "1000,abc", "integers"),
    ("sizes", "2,10", ">= 4"),
    ("methods", "finc,ken,bogus", "methods"),
    ("time_cap_s", 0.0, "time_cap_s"),
    ("time_cap_s", 90.0, "exactly one"),  # mini sets time_cap_reference: both at once is ambiguous
    ("time_cap_reference", None, "exactly one"),
    ("time_cap_reference", -3.0, "time_cap_reference"),
    ("memory_cap_gb", -1.0, "memory_cap_gb"),
    ("threads", 0, "threads"),
    ("real_dataset", "mnist", "real_dataset"),
])
def test_bad_scalability_config_is_rejected(raw, key, value, words):
    bad = copy.deepcopy(raw)
    bad["profiles"]["mini"]["finc_scalability"][key] = value
    with pytest.raises(ConfigError) as ei:
        config_from_dict(bad, profile="mini")
    assert words in str(ei.value)


def test_scalability_config_parses(raw):
    P = config_from_dict(raw, profile="mini").params.finc_scalability
    assert P.size_list[0] < P.size_list[-1] and set(P.method_names) <= {"finc", "ken", "rarity", "fld"}


def test_scale_table_puts_real_beside_synthetic():
    from types import SimpleNamespace

    from beyondfid.finc.scalability import scale_table

    R = SimpleNamespace(real_scale={"mean": 1.0, "std": 2.0}, synthetic_scale={"mean": 1.1, "std": 1.9}, dim=16,
                        real_rows=5000)
    t = scale_table(R, "animals", "smoke")
    assert t["features"].tolist() == ["real (animals)", "synthetic (matched Gaussian mixture)"]
    assert t["mean"].tolist() == [1.0, 1.1] and t["std"].tolist() == [2.0, 1.9]
    assert "d = 16" in t.attrs["note"] and "n > 2,500 per set" in t.attrs["note"]
