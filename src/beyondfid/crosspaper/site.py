"""The static report site: ``results/<profile>/report/index.html`` and its executed notebooks.

What it shows is data-driven: the registry (``report.papers`` in params.yaml) says which paper item
each stage's outputs reproduce; the outputs themselves are discovered in ``results/<profile>/<stage>/``
(PNG figures, Markdown tables with their CSV, anything else as a link). Outputs no item claims are
listed under their stage, and stages the registry does not name under "Unregistered stages", so a
new result is never silently left out. Figures are linked in place (``../<stage>/fig.png``), tables
are rendered from their Markdown (which carries the paper's values and the scale note), executed
notebooks are rendered to HTML by nbconvert, and the page by Jinja2 templates.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..io import save_json, save_text
from .claims import ClaimResult, claims_markdown, describe, evaluate_all, load_metrics, verdict_counts
from .spec import Item, ReportSpec

FIGURE_EXT = (".png", ".jpg", ".jpeg", ".svg", ".gif")
REPORT_DIR = "report"
NOTEBOOK_DIR = "notebooks"


@dataclass
class Output:
    """One output file (or a Markdown table with its CSV) as the page shows it."""

    kind: str  # figure | table | file
    name: str
    href: str  # relative to index.html
    html: str = ""  # rendered table
    csv_href: str = ""
    rows: int = 0  # table rows (long tables are shown folded)


@dataclass
class ItemView:
    item: Item
    ran: bool
    outputs: list[Output] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # globs that matched no file of a stage that ran


@dataclass
class StageView:
    name: str
    ran: bool
    notebooks: list[tuple[str, str]] = field(default_factory=list)  # (label, href)
    params_yaml: str = ""
    leftovers: list[Output] = field(default_factory=list)


@dataclass
class PaperView:
    key: str
    title: str
    cite: str
    items: list[ItemView]
    stages: list[StageView]
    claims: list[ClaimResult]


def _files(stage_dir: Path) -> list[str]:
    """Output files of a stage folder, sorted; executed notebooks and hidden temp files excluded."""
    if not stage_dir.is_dir():
        return []
    return sorted(p.name for p in stage_dir.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix != ".ipynb")


def _match(files: list[str], globs: list[str]) -> tuple[list[str], list[str]]:
    """(files matched by any glob, in file order; globs that matched nothing)."""
    hit = [f for f in files if any(fnmatch.fnmatchcase(f, g) for g in globs)]
    unmatched = [g for g in globs if not any(fnmatch.fnmatchcase(f, g) for f in files)]
    return hit, unmatched


def _render_markdown(text: str) -> str:
    import mistune

    return mistune.create_markdown(escape=True, plugins=["table"])(text)


def outputs_of(stage: str, names: list[str], results: Path) -> list[Output]:
    """Group a stage's files into figures, tables (``x.md`` + ``x.csv``) and other files."""
    out: list[Output] = []
    stems_with_md = {Path(n).stem for n in names if n.endswith(".md")}
    for n in names:
        href = f"../{stage}/{n}"
        suffix = Path(n).suffix.lower()
        if suffix in FIGURE_EXT:
            out.append(Output("figure", n, href))
        elif suffix == ".md":
            csv = Path(n).with_suffix(".csv").name
            text = (results / stage / n).read_text()
            rows = max(0, sum(1 for ln in text.splitlines() if ln.startswith("|")) - 2)
            out.append(Output("table", n, href, html=_render_markdown(text), rows=rows,
                              csv_href=f"../{stage}/{csv}" if (results / stage / csv).is_file() else ""))
        elif suffix == ".csv" and Path(n).stem in stems_with_md:
            continue  # shown with its Markdown table
        else:
            out.append(Output("file", n, href))
    return out


def notebook_html(ipynb: Path, css_href: str, index_href: str, title: str) -> str:
    """An executed notebook as a standalone page: nbconvert's ``basic`` body in our Jinja2 shell."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="basic").from_filename(str(ipynb))
    return _env().get_template("notebook.html.j2").render(title=title, body=body, css_href=css_href,
                                                          index_href=index_href, source=ipynb.name)


def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("beyondfid.crosspaper", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals["describe"] = describe
    return env


def _stylesheet() -> str:
    from pygments.formatters import HtmlFormatter

    own = (Path(__file__).parent / "templates" / "report.css").read_text()
    return own + "\n/* code highlighting (pygments, as nbconvert marks it up) */\n" + \
        HtmlFormatter(style="default").get_style_defs(".highlight")


def scale_summary(profile: str, profile_raw: Mapping[str, Any], datasets_dir: Path) -> dict[str, Any]:
    """What the run's scale was: profile, ImageNet feature network, datasets and zoo sample counts."""
    feats = profile_raw.get("features", {})
    datasets = []
    for f in sorted(datasets_dir.glob("*.json")) if datasets_dir.is_dir() else []:
        try:
            m = json.loads(f.read_text())
        except json.JSONDecodeError:
            continue
        if not isinstance(m, dict) or "count" not in m:
            continue  # not a dataset manifest
        shape = m.get("image_shape_chw")
        datasets.append({"name": m.get("name", f.stem), "count": m.get("count"),
                         "shape": "×".join(str(s) for s in shape) if shape else "–",
                         "source": m.get("description", ""), "license": m.get("license", "")})
    zoo = profile_raw.get("zoo", {}) or {}
    models = [{"name": k, "family": v.get("family", ""), "n_samples": v.get("n_samples")}
              for k, v in (zoo.get("models") or {}).items()]
    return {"profile": profile, "extractor": feats.get("extractor", "–"), "resolution": feats.get("resolution", "–"),
            "datasets": datasets, "zoo_real": zoo.get("real", "–"), "heldout_fraction": zoo.get("heldout_fraction"),
            "models": models}


def build_views(spec: ReportSpec, results: Path, profile_raw: Mapping[str, Any],
                claims: list[ClaimResult], notebooks: Mapping[str, list[tuple[str, str]]]) -> tuple[list[PaperView], list[StageView]]:
    """The page's content: one view per paper (items, stages, claims) and the unregistered stages."""
    import yaml

    def stage_view(stage: str, claimed: set[str]) -> StageView:
        files = _files(results / stage)
        section = profile_raw.get(stage)
        return StageView(stage, (results / stage).is_dir(), list(notebooks.get(stage, [])),
                         yaml.safe_dump({stage: section}, sort_keys=False) if section is not None else "",
                         outputs_of(stage, [f for f in files if f not in claimed], results))

    papers, seen = [], set()
    for paper in spec.papers:
        items = []
        for it in paper.items:
            ran = (results / it.stage).is_dir()
            hit, unmatched = _match(_files(results / it.stage), it.outputs)
            items.append(ItemView(it, ran, outputs_of(it.stage, hit, results) if ran else [],
                                  unmatched if ran else []))
        stages = []
        for s in dict.fromkeys(i.stage for i in paper.items):
            view = stage_view(s, _claimed_anywhere(spec, s, results))
            if s in seen:  # a stage shown by several papers lists its unclaimed outputs under the first only
                view.leftovers = []
            seen.add(s)
            stages.append(view)
        papers.append(PaperView(paper.key, paper.title, paper.cite, items, stages,
                                [c for c in claims if c.claim.paper == paper.key]))
    registered = set(spec.stages()) | {REPORT_DIR, "metrics"}
    extra = sorted(p.name for p in results.iterdir() if p.is_dir() and p.name not in registered) if results.is_dir() else []
    return papers, [stage_view(s, set()) for s in extra]


def _claimed_anywhere(spec: ReportSpec, stage: str, results: Path) -> set[str]:
    files = _files(results / stage)
    globs = [g for p in spec.papers for it in p.items if it.stage == stage for g in it.outputs]
    return set(_match(files, globs)[0])


def build_site(spec: ReportSpec, results: Path, profile: str, profile_raw: Mapping[str, Any],
               datasets_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Write ``results/<profile>/report/`` (index.html, claims.md/json, report.css, notebooks/*.html).

    Returns a summary (verdict counts, pages written). Stale notebook pages of a previous run are removed.
    """
    out = results / REPORT_DIR
    nb_dir = out / NOTEBOOK_DIR
    nb_dir.mkdir(parents=True, exist_ok=True)
    metrics = load_metrics(results / "metrics")
    claims = evaluate_all(spec.claims, metrics)

    stage_dirs = sorted(p for p in results.iterdir() if p.is_dir() and p.name != REPORT_DIR) if results.is_dir() else []
    ipynbs = [(d.name, nb) for d in stage_dirs for nb in sorted(d.glob("*.ipynb"))]
    notebooks: dict[str, list[tuple[str, str]]] = {}
    written = set()
    iterator = ipynbs
    if progress:
        from ..progress import progress_bar

        iterator = progress_bar(ipynbs, desc="nbconvert", unit="notebook")
    for stage, nb in iterator:
        page = f"{nb.stem}.html" if nb.stem == stage else f"{stage}__{nb.stem}.html"
        save_text(nb_dir / page, notebook_html(nb, "../report.css", "../index.html", f"{stage}: {nb.name}"))
        notebooks.setdefault(stage, []).append((nb.name, f"{NOTEBOOK_DIR}/{page}"))
        written.add(page)
    for stale in nb_dir.glob("*.html"):
        if stale.name not in written:
            stale.unlink()

    papers, unregistered = build_views(spec, results, profile_raw, claims, notebooks)
    titles = {p.key: p.short or p.title for p in spec.papers}
    claims_md = claims_markdown(claims, titles, profile)
    scale = scale_summary(profile, profile_raw, datasets_dir)
    counts = verdict_counts(claims)
    html = _env().get_template("index.html.j2").render(
        profile=profile, scale=scale, claims=claims, counts=counts, papers=papers, titles=titles,
        unregistered=unregistered, css_href="report.css")
    save_text(out / "report.css", _stylesheet())
    save_text(out / "index.html", html)
    save_text(out / "claims.md", claims_md)
    save_json(out / "claims.json", {
        "profile": profile, "counts": counts,
        "claims": [{"id": r.claim.id, "paper": r.claim.paper, "claim": r.claim.claim, "paper_value": r.claim.paper_value,
                    "ours": r.ours, "verdict": r.verdict, "trace": r.trace, "missing": r.missing,
                    "holds_rule": describe(r.claim.holds), "partial_rule": describe(r.claim.partial)}
                   for r in claims]})
    return {"counts": counts, "notebooks": len(written), "index": str(out / "index.html")}
