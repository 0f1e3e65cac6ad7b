"""Claim verdicts from the stages' metrics JSON files: pure functions of (rule, metrics).

``metrics`` maps a stage name to the parsed ``results/<profile>/metrics/<stage>.json``. A rule
(:class:`beyondfid.crosspaper.spec.Claim`) gives a verdict:

* ``not run``       -- a metric the claim names is missing (no metrics file, no such key, or null);
* ``holds``         -- its ``holds`` condition is true;
* ``partial``       -- else its ``partial`` condition is true;
* ``does not hold`` -- otherwise.

Nothing is guessed: a missing number is never replaced by a default.
"""

from __future__ import annotations

import fnmatch
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .spec import AllOf, AnyOf, Claim, Ref, Shown, Term, Value

HOLDS, PARTIAL, FAILS, NOT_RUN = "holds", "partial", "does not hold", "not run"
VERDICTS = (HOLDS, PARTIAL, FAILS, NOT_RUN)
_SYMBOL = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "=", "ne": "≠"}


class MissingMetric(LookupError):
    """A metric a rule names is not in the metrics (the message says which key and why)."""


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    verdict: str
    ours: list[str]                      # formatted numbers for the "ours" column
    trace: list[str] = field(default_factory=list)   # each term as evaluated, e.g. "x = 0.93 ≥ 0.9: yes"
    missing: list[str] = field(default_factory=list)  # why it is "not run"


def load_metrics(metrics_dir: str | Path, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """``{stage: parsed JSON}`` for every ``<stage>.json`` in ``metrics_dir`` (none if it is absent)."""
    metrics_dir = Path(metrics_dir)
    out: dict[str, Any] = {}
    if not metrics_dir.is_dir():
        return out
    for f in sorted(metrics_dir.glob("*.json")):
        if f.stem in set(exclude):
            continue
        try:
            out[f.stem] = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{f} is not valid JSON ({e}); re-run its stage: dvc repro -f {f.stem}") from None
    return out


def _expand(segment: str) -> list[str]:
    """``"{a,b}_x"`` -> ``["a_x", "b_x"]``; other segments unchanged."""
    if "{" not in segment:
        return [segment]
    pre, rest = segment.split("{", 1)
    alts, post = rest.split("}", 1)
    return [f"{pre}{a.strip()}{post}" for a in alts.split(",")]


def _inner(name: str, key: str) -> str:
    """``("stage.a.b", "c")`` -> ``"a.b.c"``: the key path inside the stage's JSON file."""
    parts = name.split(".")[1:] + [key]
    return ".".join(parts)


def lookup(metrics: Mapping[str, Any], path: str) -> list[tuple[str, Any]]:
    """Every ``(full key, value)`` the path names, in order.

    Segment forms: an exact key (a list index for JSON lists), a glob (``*``, ``fid_*``: matches the
    keys that exist, at least one overall; a branch reached through a glob that lacks the keys
    after it is dropped) or ``{a,b}`` (each alternative must exist). Raises :class:`MissingMetric`
    naming the first absent key.
    """
    stage, *keys = path.split(".")
    if stage not in metrics:
        raise MissingMetric(f"no metrics file metrics/{stage}.json (stage {stage!r} did not run)")
    nodes: list[tuple[str, Any, bool]] = [(stage, metrics[stage], False)]  # (name, value, reached via a glob)
    for seg in keys:
        nxt: list[tuple[str, Any, bool]] = []
        for alt in _expand(seg):
            glob = any(c in alt for c in "*?[")
            for name, node, optional in nodes:
                if isinstance(node, Mapping):
                    names = [k for k in node if fnmatch.fnmatchcase(str(k), alt)] if glob else [alt] * (alt in node)
                elif isinstance(node, list):
                    names = [str(i) for i in range(len(node)) if fnmatch.fnmatchcase(str(i), alt)] if glob else (
                        [alt] if alt.isdigit() and int(alt) < len(node) else [])
                else:
                    names = []
                if not names and not glob and not optional:
                    what = "element" if isinstance(node, list) else "key"
                    if not isinstance(node, (Mapping, list)):
                        raise MissingMetric(f"metrics/{stage}.json: {name} is a value, not a mapping holding {alt!r}")
                    raise MissingMetric(f"metrics/{stage}.json has no {what} {_inner(name, alt)}")
                for k in names:
                    child = node[int(k)] if isinstance(node, list) else node[k]
                    nxt.append((f"{name}.{k}", child, optional or glob))
        nodes = nxt
        if not nodes:
            raise MissingMetric(f"metrics/{stage}.json has no key matching {path.split('.', 1)[1]}")
    for name, v, _ in nodes:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise MissingMetric(f"metrics/{stage}.json: {name} is null / NaN")
        if isinstance(v, (Mapping, list)):
            raise MissingMetric(f"metrics/{stage}.json: {name} is a {type(v).__name__}, not a number or string "
                                f"(name a key below it)")
    return [(name, v) for name, v, _ in nodes]


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} = {v!r} is not a number")
    return float(v)


def values(metrics: Mapping[str, Any], v: Value) -> list[Any]:
    """The value's numbers after abs, agg, times, plus: one element unless agg is all / any."""
    found = lookup(metrics, v.metric)
    raw = [x for _, x in found]
    if v.agg == "count":
        return [len(raw) * v.times + v.plus]
    numeric = v.abs or v.agg not in (None, "all", "any") or v.times != 1.0 or v.plus != 0.0
    if numeric:
        raw = [_number(n, x) for n, x in found]
    if v.abs:
        raw = [abs(x) for x in raw]
    if v.agg in ("min", "max", "mean", "median"):
        raw = [{"min": min, "max": max, "mean": statistics.fmean, "median": statistics.median}[v.agg](raw)]
    elif v.agg is None and len(raw) != 1:  # pragma: no cover - the spec forbids wildcards without agg
        raise ValueError(f"{v.metric} names {len(raw)} values; give agg")
    if numeric:
        raw = [x * v.times + v.plus for x in raw]
    return raw


def describe_value(v: Value) -> str:
    s = f"|{v.metric}|" if v.abs else v.metric
    if v.agg:
        s = f"{v.agg}({s})"
    if v.times != 1.0:
        s = f"{v.times:g}·{s}"
    if v.plus:
        s = f"{s} {'+' if v.plus > 0 else '−'} {abs(v.plus):g}"
    return s


def describe(cond: Term | AllOf | AnyOf | None) -> str:
    """The condition as one readable line, e.g. ``min(dc_binary.*.accuracy) ≥ 0.85 and ...``."""
    if cond is None:
        return "–"
    if isinstance(cond, AllOf):
        return " and ".join(f"({describe(c)})" if not isinstance(c, Term) else describe(c) for c in cond.all)
    if isinstance(cond, AnyOf):
        return " or ".join(f"({describe(c)})" if not isinstance(c, Term) else describe(c) for c in cond.any)
    t = cond.threshold
    if cond.op == "between":
        rhs = f"in [{t[0]:g}, {t[1]:g}]"
    else:
        rhs = f"{_SYMBOL[cond.op]} {describe_value(t) if isinstance(t, Ref) else _fmt_plain(t)}"
    return f"{describe_value(cond)} {rhs}"


def _fmt_plain(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _compare(op: str, x: Any, t: Any) -> bool:
    if op == "eq":
        return x == t
    if op == "ne":
        return x != t
    if op == "between":
        return t[0] <= x <= t[1]
    return {"ge": x >= t, "gt": x > t, "le": x <= t, "lt": x < t}[op]


def evaluate_term(metrics: Mapping[str, Any], term: Term) -> tuple[bool, str]:
    """(truth, trace line); raises :class:`MissingMetric` / TypeError on missing or mistyped input."""
    xs = values(metrics, term)
    t = ref = term.threshold
    if isinstance(ref, Ref):
        t = values(metrics, ref)[0]
    if term.op not in ("eq", "ne"):
        xs = [_number(term.metric, x) for x in xs]
    oks = [_compare(term.op, x, t) for x in xs]
    ok = any(oks) if term.agg == "any" else all(oks)
    shown = ", ".join(_fmt_plain(x) if not isinstance(x, float) else f"{x:.4g}" for x in xs)
    if len(xs) > 1:
        shown = f"[{shown}]"
    rhs = f"[{t[0]:g}, {t[1]:g}]" if term.op == "between" else (f"{t:.4g}" if isinstance(t, float) else str(t))
    if isinstance(ref, Ref):
        rhs = f"{describe_value(ref)} = {rhs}"
    op = "in" if term.op == "between" else _SYMBOL[term.op]
    return ok, f"{describe_value(term)} = {shown} {op} {rhs}: {'yes' if ok else 'no'}"


def evaluate_condition(metrics: Mapping[str, Any], cond: Term | AllOf | AnyOf, trace: list[str]) -> bool:
    """Every term is evaluated (no short-circuit) so that the trace shows all of them."""
    if isinstance(cond, AllOf):
        return all([evaluate_condition(metrics, c, trace) for c in cond.all])
    if isinstance(cond, AnyOf):
        return any([evaluate_condition(metrics, c, trace) for c in cond.any])
    ok, line = evaluate_term(metrics, cond)
    trace.append(line)
    return ok


def terms(cond: Term | AllOf | AnyOf | None) -> list[Term]:
    if cond is None:
        return []
    if isinstance(cond, AllOf):
        return [t for c in cond.all for t in terms(c)]
    if isinstance(cond, AnyOf):
        return [t for c in cond.any for t in terms(c)]
    return [cond]


def referenced(claim: Claim) -> list[Value]:
    """Every value the claim reads (terms, metric thresholds, shown numbers)."""
    out: list[Value] = []
    for t in terms(claim.holds) + terms(claim.partial):
        out.append(t)
        if isinstance(t.threshold, Ref):
            out.append(t.threshold)
    return out + list(claim.ours)


def shown_numbers(metrics: Mapping[str, Any], claim: Claim) -> list[str]:
    """The "ours" column: the claim's ``ours`` entries, or else the left side of each holds term."""
    items: list[Value] = list(claim.ours) or list(dict.fromkeys(terms(claim.holds)))
    out = []
    for v in items:
        xs = values(metrics, v)
        fmt = v.fmt if isinstance(v, Shown) else "{:.3g}"
        label = v.label if isinstance(v, Shown) and v.label else describe_value(v)
        txt = ", ".join(fmt.format(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x) for x in xs)
        out.append(f"{label}: {txt}")
    return out


def evaluate(claim: Claim, metrics: Mapping[str, Any]) -> ClaimResult:
    """The claim's verdict, the numbers shown as ours and the evaluated terms."""
    missing = []
    for v in referenced(claim):
        try:
            lookup(metrics, v.metric)
        except MissingMetric as e:
            missing.append(str(e))
    if missing:
        return ClaimResult(claim, NOT_RUN, [], [], list(dict.fromkeys(missing)))
    trace: list[str] = []
    if evaluate_condition(metrics, claim.holds, trace):
        verdict = HOLDS
    elif claim.partial is not None:
        trace.append("partial:")
        verdict = PARTIAL if evaluate_condition(metrics, claim.partial, trace) else FAILS
    else:
        verdict = FAILS
    return ClaimResult(claim, verdict, shown_numbers(metrics, claim), trace)


def evaluate_all(claims: Iterable[Claim], metrics: Mapping[str, Any]) -> list[ClaimResult]:
    return [evaluate(c, metrics) for c in claims]


def verdict_counts(results: Iterable[ClaimResult]) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for r in results:
        counts[r.verdict] += 1
    return counts


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def claims_markdown(results: list[ClaimResult], paper_titles: Mapping[str, str], profile: str) -> str:
    """The claims table as Markdown (the README embeds it)."""
    lines = ["| # | paper | claim | paper's value | ours | verdict |", "|---|---|---|---|---|---|"]
    for i, r in enumerate(results, 1):
        ours = "; ".join(r.ours) if r.ours else "–"
        verdict = f"**{r.verdict}**"
        lines.append("| " + " | ".join(_md_cell(x) for x in [
            str(i), paper_titles.get(r.claim.paper, r.claim.paper), r.claim.claim, r.claim.paper_value, ours, verdict,
        ]) + " |")
    c = verdict_counts(results)
    summary = ", ".join(f"{n} {v}" for v, n in c.items())
    return ("\n".join(lines) + f"\n\nProfile `{profile}`: {summary}. Verdicts are computed from "
            f"`results/{profile}/metrics/*.json` by the rules in `params.yaml` (`report.claims`); "
            f"\"not run\" means a metric the rule names is missing.\n")
