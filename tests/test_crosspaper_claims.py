"""The claim rules (beyondfid.crosspaper.spec) and their verdicts (beyondfid.crosspaper.claims),
on planted metrics whose verdict is known: holds, partial, does not hold, and every way of being
"not run" (no metrics file, no key, a null value, a wildcard that matches nothing)."""

from __future__ import annotations

import pytest

from beyondfid.crosspaper.claims import (FAILS, HOLDS, NOT_RUN, PARTIAL, MissingMetric, claims_markdown, describe,
                                         evaluate, load_metrics, lookup, values)
from beyondfid.crosspaper.spec import SpecError, load_spec, spec_from_dict

PAPERS = [{"key": "finc", "title": "FINC"}, {"key": "distclass", "title": "Paper 3"}]


def claim(holds, partial=None, **extra):
    raw = {"id": "finc.x", "paper": "finc", "claim": "c", "paper_value": "p", "holds": holds, **extra}
    if partial is not None:
        raw["partial"] = partial
    return spec_from_dict({"papers": PAPERS, "claims": [raw]}).claims[0]


SHARE = claim({"metric": "finc_colored.share", "ge": 0.9}, {"metric": "finc_colored.share", "ge": 0.7})


@pytest.mark.parametrize("share, verdict", [(1.0, HOLDS), (0.9, HOLDS), (0.8, PARTIAL), (0.7, PARTIAL),
                                            (0.69, FAILS), (0.0, FAILS)])
def test_threshold_verdicts(share, verdict):
    assert evaluate(SHARE, {"finc_colored": {"share": share}}).verdict == verdict


def test_no_partial_rule_means_does_not_hold():
    c = claim({"metric": "s.a", "lt": 1})
    assert evaluate(c, {"s": {"a": 0.5}}).verdict == HOLDS
    assert evaluate(c, {"s": {"a": 1}}).verdict == FAILS


@pytest.mark.parametrize("metrics, why", [
    ({}, "no metrics file metrics/finc_colored.json"),
    ({"finc_colored": {"other": 1.0}}, "has no key share"),
    ({"finc_colored": {"share": None}}, "null"),
    ({"finc_colored": {"share": float("nan")}}, "null / NaN"),
    ({"finc_colored": {"share": {"digits": 1.0}}}, "is a dict"),
])
def test_missing_metric_is_not_run_never_a_guess(metrics, why):
    r = evaluate(SHARE, metrics)
    assert r.verdict == NOT_RUN and r.ours == [] and r.trace == []
    assert any(why in m for m in r.missing), r.missing


def test_a_metric_missing_only_from_the_partial_rule_is_still_not_run():
    c = claim({"metric": "s.a", "ge": 0.9}, {"metric": "s.b", "ge": 0.5})
    assert evaluate(c, {"s": {"a": 1.0}}).verdict == NOT_RUN  # holds would be true, but the rule is incomplete


def test_wildcards_aggregate_and_all_any():
    m = {"dc": {"same": {"resnet": {"accuracy": 0.51}, "vit": {"accuracy": 0.58}, "convnext": {"accuracy": 0.49}}}}
    path = "dc.same.*.accuracy"
    assert evaluate(claim({"metric": path, "agg": "all", "between": [0.45, 0.55]}), m).verdict == FAILS
    assert evaluate(claim({"metric": path, "agg": "any", "between": [0.45, 0.55]}), m).verdict == HOLDS
    assert evaluate(claim({"metric": path, "agg": "max", "le": 0.58}), m).verdict == HOLDS
    assert evaluate(claim({"metric": path, "agg": "min", "gt": 0.49}), m).verdict == FAILS
    assert evaluate(claim({"metric": path, "agg": "count", "eq": 3}), m).verdict == HOLDS
    assert values(m, claim({"metric": path, "agg": "mean", "ge": 0}).holds) == [pytest.approx((0.51 + 0.58 + 0.49) / 3)]
    assert values(m, claim({"metric": path, "agg": "median", "ge": 0}).holds) == [0.51]
    # a glob that matches nothing is missing; a glob that skips non-mappings is fine
    assert evaluate(claim({"metric": "dc.other.*.accuracy", "agg": "min", "ge": 0}), m).verdict == NOT_RUN
    m2 = {"sc": {"finc": {"status": {"1000": "ok", "5000": "ok"}}, "dim": 1280}}
    assert evaluate(claim({"metric": "sc.*.status.*", "agg": "all", "eq": "ok"}), m2).verdict == HOLDS
    m2["sc"]["finc"]["status"]["5000"] = "timeout"
    assert evaluate(claim({"metric": "sc.*.status.*", "agg": "all", "eq": "ok"}), m2).verdict == FAILS


def test_alternatives_must_all_exist():
    m = {"sc": {"ken": {"n": 2000}, "fld": {"n": 5000}}}
    assert lookup(m, "sc.{ken,fld}.n") == [("sc.ken.n", 2000), ("sc.fld.n", 5000)]
    with pytest.raises(MissingMetric, match="no key rarity"):
        lookup(m, "sc.{ken,rarity,fld}.n")


def test_list_indices():
    m = {"zoo": {"snapshots": [{"fid": 500.0}, {"fid": 200.0}]}}
    assert lookup(m, "zoo.snapshots.1.fid") == [("zoo.snapshots.1.fid", 200.0)]
    assert values(m, claim({"metric": "zoo.snapshots.*.fid", "agg": "min", "ge": 0}).holds) == [200.0]
    with pytest.raises(MissingMetric, match="no element snapshots.5"):
        lookup(m, "zoo.snapshots.5.fid")


def test_metric_thresholds_abs_times_plus():
    # |clip change| <= 0.25 |fid change|, as the paper-2 rules write it
    c = claim({"all": [{"metric": "r.fid", "le": -0.05},
                       {"metric": "r.clip", "abs": True, "le": {"metric": "r.fid", "abs": True, "times": 0.25}}]})
    assert evaluate(c, {"r": {"fid": -0.12, "clip": -0.014}}).verdict == HOLDS
    r = evaluate(c, {"r": {"fid": -0.12, "clip": 0.05}})
    assert r.verdict == FAILS and r.trace[1] == "|r.clip| = 0.05 ≤ 0.25·|r.fid| = 0.03: no", r.trace
    assert evaluate(c, {"r": {"fid": -0.04, "clip": 0.0}}).verdict == FAILS
    c2 = claim({"metric": "f.cross", "ge": {"metric": "f.same", "plus": 0.1}})
    assert evaluate(c2, {"f": {"cross": 0.95, "same": 0.85}}).verdict == HOLDS
    assert evaluate(c2, {"f": {"cross": 0.94, "same": 0.85}}).verdict == FAILS
    c3 = claim({"metric": "f.pct", "times": 0.01, "le": -0.3})  # a percent key read as a fraction
    assert evaluate(c3, {"f": {"pct": -60.0}}).verdict == HOLDS


def test_any_of_and_nested_conditions():
    c = claim({"any": [{"metric": "s.a", "ge": 1}, {"all": [{"metric": "s.b", "ge": 1}, {"metric": "s.c", "eq": True}]}]})
    assert evaluate(c, {"s": {"a": 0, "b": 2, "c": True}}).verdict == HOLDS
    assert evaluate(c, {"s": {"a": 0, "b": 2, "c": False}}).verdict == FAILS
    r = evaluate(c, {"s": {"a": 0, "b": 2, "c": False}})
    assert len(r.trace) == 3, r.trace  # every term is shown, no short-circuit


def test_a_string_where_a_number_is_needed_is_an_error_not_a_verdict():
    with pytest.raises(TypeError, match="not a number"):
        evaluate(claim({"metric": "s.a", "ge": 0.5}), {"s": {"a": "ok"}})


def test_ours_and_trace_show_the_numbers():
    c = claim({"metric": "s.a", "ge": 0.9}, ours=[{"metric": "s.a", "label": "share", "fmt": "{:.0%}"}])
    r = evaluate(c, {"s": {"a": 0.93}})
    assert r.ours == ["share: 93%"] and r.trace == ["s.a = 0.93 ≥ 0.9: yes"]
    assert evaluate(claim({"metric": "s.a", "ge": 0.9}), {"s": {"a": 0.5}}).ours == ["s.a: 0.5"]  # default: holds terms


def test_describe_reads_like_the_rule():
    c = claim({"all": [{"metric": "d.*.acc", "agg": "min", "ge": 0.85},
                       {"metric": "r.clip", "abs": True, "le": {"metric": "r.fid", "abs": True, "times": 0.25}}]})
    assert describe(c.holds) == "min(d.*.acc) ≥ 0.85 and |r.clip| ≤ 0.25·|r.fid|"
    assert describe(None) == "–"


@pytest.mark.parametrize("holds, message", [
    ({"metric": "s.a.*", "ge": 1}, "has a wildcard"),
    ({"metric": "s.a", "ge": 1, "le": 2}, "exactly one comparison"),
    ({"metric": "s.a"}, "exactly one comparison"),
    ({"metric": "s.a", "gte": 1}, "holds.gte: unknown key"),
    ({"metric": "nodots", "ge": 1}, "must be <stage>.<key>"),
    ({"metric": "s*.a", "ge": 1}, "stage (first segment) must be named exactly"),
    ({"metric": "s.a", "between": [2, 1]}, "lower bound exceeds"),
    ({"metric": "s.a", "ge": {"metric": "s.*", "agg": "all"}}, "threshold must be one number"),
    ({"all": []}, "at least 1"),
])
def test_bad_rules_fail_at_load_and_name_the_key(holds, message):
    with pytest.raises(SpecError) as e:
        claim(holds)
    assert message in str(e.value) and "report.claims.0.holds" in str(e.value), str(e.value)


def test_spec_consistency_errors():
    base = {"id": "finc.a", "paper": "finc", "claim": "c", "paper_value": "p", "holds": {"metric": "s.a", "ge": 1}}
    with pytest.raises(SpecError, match="unique"):
        spec_from_dict({"papers": PAPERS, "claims": [base, base]})
    with pytest.raises(SpecError, match="unknown paper"):
        spec_from_dict({"papers": PAPERS, "claims": [dict(base, id="other.a", paper="other")]})
    with pytest.raises(SpecError, match="must start with its paper key"):
        spec_from_dict({"papers": PAPERS, "claims": [dict(base, id="distclass.a")]})
    with pytest.raises(SpecError, match="cannot format"):
        spec_from_dict({"papers": PAPERS, "claims": [dict(base, ours=[{"metric": "s.a", "fmt": "{:d}"}])]})
    with pytest.raises(SpecError, match="mapping"):
        spec_from_dict(["not", "a", "mapping"])


def test_markdown_has_one_row_per_claim_and_escapes_pipes():
    c = claim({"metric": "s.a", "ge": 0.9})
    rows = [evaluate(c, {"s": {"a": 1.0}}), evaluate(c, {})]
    md = claims_markdown(rows, {"finc": "FINC | 1"}, "mini")
    table = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| #")]
    assert len(table) == 2
    assert "**holds**" in table[0] and "**not run**" in table[1] and "FINC \\| 1" in table[0]
    assert "1 holds" in md and "1 not run" in md


def test_load_metrics_reads_every_file_and_names_a_corrupt_one(tmp_path):
    (tmp_path / "a.json").write_text('{"x": 1}')
    (tmp_path / "report.json").write_text('{"y": 2}')
    assert load_metrics(tmp_path, exclude=["report"]) == {"a": {"x": 1}}
    assert load_metrics(tmp_path / "absent") == {}
    (tmp_path / "b.json").write_text('{"x": ')
    with pytest.raises(ValueError, match="b.json is not valid JSON"):
        load_metrics(tmp_path)


# ---------------------------------------------------------------- the project's own rules


def test_params_yaml_has_one_rule_per_claim_of_the_issue(repo):
    spec = load_spec(repo / "params.yaml")
    by_paper = {}
    for c in spec.claims:
        by_paper.setdefault(c.paper, []).append(c.id.split(".", 1)[1])
    # issue 15: FINC 4 claims, paper 2 six, paper 3 seven, in the papers' order
    assert by_paper == {
        "finc": ["colored_modes", "linear_scaling", "model_bias", "memorization"],
        "fidclasses": ["heatmaps_top1", "top1_matching", "resampling", "top_n", "prelogit_logit", "pretrained_discriminator"],
        "distclass": ["same_distribution", "real_vs_generated", "sample_count", "same_vs_cross_family", "frequency_bands",
                      "ssl_probes", "replace_vs_augment"],
    }
    assert [p.key for p in spec.papers][:4] == ["shared", "finc", "fidclasses", "distclass"]
    assert all(c.why for c in spec.claims), "every rule says why its thresholds are what they are"


def test_committed_results_resolve_every_key_of_a_stage_that_ran(repo):
    """A rule whose stage has a metrics file must name keys that exist: a placeholder key left over
    after a stage landed would silently say "not run"."""
    spec = load_spec(repo / "params.yaml")
    for profile_dir in sorted((repo / "results").glob("*/metrics")):
        metrics = load_metrics(profile_dir)
        for c in spec.claims:
            r = evaluate(c, metrics)
            stale = [m for m in r.missing if "no metrics file" not in m]
            assert not stale, f"{profile_dir.parent.name}: claim {c.id} names keys its stage does not write: {stale}"


def test_error_location_inside_nested_conditions():
    with pytest.raises(SpecError) as e:
        claim({"all": [{"metric": "s.a", "ge": 1}, {"metric": "s.b", "gte": 1}]})
    assert "report.claims.0.holds.all.1.gte: unknown key" in str(e.value), str(e.value)
