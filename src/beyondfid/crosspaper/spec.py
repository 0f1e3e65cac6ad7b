"""The report's registry and claim rules: the ``report:`` section of ``params.yaml``, validated.

``report.papers`` lists, in the papers' order, every paper item (table / figure) with the DVC stage
that reproduces it and the output files (globs inside ``results/<profile>/<stage>/``) that show it;
a new stage only adds entries here. ``report.claims`` holds one rule per claim, written before the
numbers are known, in a small rule language evaluated by :mod:`beyondfid.crosspaper.claims`:

.. code-block:: yaml

    - id: finc.colored_modes
      paper: finc
      claim: the top novel modes of a half-coloured test set are the coloured images
      paper_value: top modes are coloured digits (Fig. 1, qualitative)
      holds:   {metric: finc_colored.digits_colored_share_top_modes, ge: 0.9}
      partial: {metric: finc_colored.digits_colored_share_top_modes, ge: 0.7}

A *value* names a metric ``<stage>.<key>.<key>...`` of ``results/<profile>/metrics/<stage>.json``
(a segment may be a glob ``*``, ``fid_*``, or a list of alternatives ``{a,b}``; a wildcard needs
``agg``: min | max | mean | median | count, or all | any to test every value), optionally
``abs: true`` and an affine ``times`` / ``plus`` (applied after ``agg``). A *term* is a value with
exactly one comparison: ge, gt, le, lt (a number, or a value ``{metric: ..., times: ...}``),
eq / ne (a number, string or bool) or between ``[lo, hi]`` (inclusive). A *condition* is a term,
``{all: [conditions]}`` or ``{any: [conditions]}``. A claim holds if ``holds`` is true, is partial
if ``partial`` is, does not hold otherwise, and is *not run* if any metric it names is missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

AGGREGATES = ("min", "max", "mean", "median", "count", "all", "any")
COMPARISONS = ("ge", "gt", "le", "lt", "eq", "ne", "between")
_SEGMENT = re.compile(r"^[^.\s](?:[^.]*[^.\s])?$")  # no dots; inner spaces allowed (JSON keys like "GAN snapshot")


class SpecError(ValueError):
    """The ``report:`` section of params.yaml is malformed (the message names the key)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def has_wildcard(path: str) -> bool:
    return any(c in path for c in "*?[{")


class Value(_Strict):
    """A metric read from a stage's metrics JSON, optionally aggregated and transformed."""

    metric: str = Field(description="<stage>.<key>[.<key>...]; segments may be globs or {a,b} alternatives")
    agg: Literal["min", "max", "mean", "median", "count", "all", "any"] | None = Field(
        None, description="how a wildcard's values combine; all/any compare every value")
    abs: bool = Field(False, description="take absolute values (before agg)")
    times: float = Field(1.0, description="multiply (after agg)")
    plus: float = Field(0.0, description="add (after agg and times)")

    @field_validator("metric")
    @classmethod
    def _path(cls, v: str) -> str:
        parts = v.split(".")
        if len(parts) < 2 or not all(_SEGMENT.match(p) for p in parts):
            raise ValueError(f"metric {v!r} must be <stage>.<key>[.<key>...] (no empty segments, none starting or "
                             f"ending with a space)")
        if has_wildcard(parts[0]):
            raise ValueError(f"metric {v!r}: the stage (first segment) must be named exactly")
        for p in parts:
            if p.count("{") != p.count("}") or ("{" in p and not re.fullmatch(r"[^{}]*\{[^{}]+\}[^{}]*", p)):
                raise ValueError(f"metric {v!r}: segment {p!r} must hold at most one {{a,b,...}} group")
        return v

    @model_validator(mode="after")
    def _wildcards_need_agg(self) -> "Value":
        if has_wildcard(self.metric) and self.agg is None:
            raise ValueError(f"metric {self.metric!r} has a wildcard: say how its values combine "
                             f"(agg: {' | '.join(AGGREGATES)})")
        return self

    @property
    def stage(self) -> str:
        return self.metric.split(".", 1)[0]


class Ref(Value):
    """A threshold read from the metrics (one number: all / any make no sense here)."""

    @model_validator(mode="after")
    def _single(self) -> "Ref":
        if self.agg in ("all", "any"):
            raise ValueError(f"a threshold must be one number; agg {self.agg!r} is only allowed on a term's left side")
        return self


Threshold = Union[float, Ref]


class Term(Value):
    """``value <op> threshold`` with exactly one of the comparisons."""

    ge: Threshold | None = None
    gt: Threshold | None = None
    le: Threshold | None = None
    lt: Threshold | None = None
    eq: float | str | bool | None = None
    ne: float | str | bool | None = None
    between: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one_comparison(self) -> "Term":
        given = [op for op in COMPARISONS if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(f"term on {self.metric!r} needs exactly one comparison of {', '.join(COMPARISONS)}; "
                             f"got {given or 'none'}")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError(f"between {list(self.between)}: the lower bound exceeds the upper")
        if self.agg == "count" and self.op in ("eq", "ne") and isinstance(self.threshold, str):
            raise ValueError("a count compares with a number")
        return self

    @property
    def op(self) -> str:
        return next(op for op in COMPARISONS if getattr(self, op) is not None)

    @property
    def threshold(self) -> Any:
        return getattr(self, self.op)


class AllOf(_Strict):
    all: list["Condition"] = Field(min_length=1)


class AnyOf(_Strict):
    any: list["Condition"] = Field(min_length=1)


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "all" if "all" in v else "any" if "any" in v else "term"
    return "all" if isinstance(v, AllOf) else "any" if isinstance(v, AnyOf) else "term"


Condition = Annotated[
    Union[Annotated[Term, Tag("term")], Annotated[AllOf, Tag("all")], Annotated[AnyOf, Tag("any")]],
    Discriminator(_kind),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


class Shown(Value):
    """A number shown in the claims table's "ours" column."""

    label: str = Field("", description="what the number is, e.g. 'digits'")
    fmt: str = Field("{:.3g}", description="str.format pattern for numbers, e.g. '{:.1%}'")

    @field_validator("fmt")
    @classmethod
    def _fmt(cls, v: str) -> str:
        try:
            v.format(0.5)
        except (ValueError, IndexError, KeyError) as e:
            raise ValueError(f"fmt {v!r} cannot format a number: {e}") from None
        return v


class Claim(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$", description="<paper>.<short name>")
    paper: str
    claim: str = Field(min_length=1, description="the claim, in a sentence")
    paper_value: str = Field(min_length=1, description="the paper's number(s) for it, with where they are")
    holds: Condition
    partial: Condition | None = None
    ours: list[Shown] = Field(default_factory=list, description="numbers shown as ours (default: the holds terms)")
    why: str = Field("", description="why these thresholds (reasoning from the paper, fixed before the run)")

    @model_validator(mode="after")
    def _paper_prefix(self) -> "Claim":
        if not self.id.startswith(self.paper + "."):
            raise ValueError(f"claim id {self.id!r} must start with its paper key {self.paper!r}.")
        return self


class Item(_Strict):
    """One paper table / figure, the stage that reproduces it and the outputs that show it."""

    item: str = Field(min_length=1, description="the paper's label, e.g. 'Fig. 1' or 'Table 2'")
    what: str = Field(min_length=1)
    stage: str = Field(pattern=r"^[a-z0-9_]+$", description="DVC stage (results/<profile>/<stage>/)")
    outputs: list[str] = Field(default_factory=lambda: ["*"], description="globs inside the stage's folder")
    paper: str = Field("", description="the paper's value(s) where a figure has no table carrying them")


class Paper(_Strict):
    key: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str = Field(min_length=1)
    short: str = Field("", description="short name for the claims table (default: the title)")
    cite: str = ""
    items: list[Item] = Field(default_factory=list)


class ReportSpec(_Strict):
    papers: list[Paper] = Field(min_length=1, description="sections of the report, in order")
    claims: list[Claim] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "ReportSpec":
        keys = [p.key for p in self.papers]
        if len(set(keys)) != len(keys):
            raise ValueError(f"paper keys must be unique, got {keys}")
        ids = [c.id for c in self.claims]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"claim ids must be unique; repeated: {dup}")
        unknown = sorted({c.paper for c in self.claims} - set(keys))
        if unknown:
            raise ValueError(f"claims name unknown paper(s) {unknown}; papers are {keys}")
        return self

    def stages(self) -> list[str]:
        """Every stage the registry shows, in report order, once."""
        out: list[str] = []
        for p in self.papers:
            for it in p.items:
                if it.stage not in out:
                    out.append(it.stage)
        return out


def _format_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        raw = list(e["loc"])
        # drop the condition union's tags: ('holds', 'term', 'ge') -> holds.ge, ('holds', 'all', 'all', 0) -> holds.all.0
        parts = [p for i, p in enumerate(raw) if not (p == "term" or (p in ("all", "any") and raw[i + 1:i + 2] == [p]))]
        loc = ".".join(str(p) for p in parts)
        msg = "unknown key (typo?)" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  report.{loc}: {msg}")
    return "invalid report section in params.yaml:\n" + "\n".join(dict.fromkeys(lines))


def spec_from_dict(raw: Any) -> ReportSpec:
    """Validate the ``report:`` mapping; errors name the key (``report.claims.3.holds.ge``)."""
    if not isinstance(raw, dict):
        raise SpecError("params.yaml: the 'report' section must be a mapping with 'papers' and 'claims'")
    try:
        return ReportSpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(_format_error(err)) from None


def load_spec(params_path: str | Path = "params.yaml") -> ReportSpec:
    params_path = Path(params_path)
    if not params_path.is_file():
        raise SpecError(f"parameter file {params_path} not found; run from the repository root")
    raw = yaml.safe_load(params_path.read_text()) or {}
    if "report" not in raw:
        raise SpecError(f"{params_path} has no 'report' section (the report's registry and claim rules)")
    return spec_from_dict(raw["report"])
