"""The cross-paper report site (beyondfid.crosspaper.site / .report), its DVC wiring and the README.

A planted results tree (two registered stages, one that did not run, one nobody registered; claims
that hold, are partial, fail and are not run) is built into a site and opened in a real headless
Chromium: every image loads, every link resolves, the claims table has one row per claim in order.
The committed mini report is checked the same way and against the committed metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from PIL import Image

from beyondfid.crosspaper.claims import evaluate_all, load_metrics
from beyondfid.crosspaper.report import BEGIN, END, embed_claims, main
from beyondfid.crosspaper.site import build_site
from beyondfid.crosspaper.spec import load_spec, spec_from_dict
from site_checks import check_site

SPEC = {
    "papers": [
        {"key": "one", "title": "Paper One", "short": "P1", "items": [
            {"item": "Fig. 1", "what": "the figure", "stage": "alpha", "outputs": ["fig_a.png"], "paper": "qualitative"},
            {"item": "Table 1", "what": "the table", "stage": "alpha", "outputs": ["table1.*", "missing_*.png"]},
        ]},
        {"key": "two", "title": "Paper Two", "items": [
            {"item": "Table 2", "what": "never ran", "stage": "beta"},
        ]},
    ],
    "claims": [
        {"id": "one.holds", "paper": "one", "claim": "share is high", "paper_value": "100%",
         "holds": {"metric": "alpha.share", "ge": 0.9}, "why": "planted"},
        {"id": "one.partial", "paper": "one", "claim": "share is very high", "paper_value": "100%",
         "holds": {"metric": "alpha.share", "ge": 0.99}, "partial": {"metric": "alpha.share", "ge": 0.9}},
        {"id": "one.fails", "paper": "one", "claim": "all runs finished", "paper_value": "all",
         "holds": {"metric": "alpha.status.*", "agg": "all", "eq": "ok"}},
        {"id": "two.notrun", "paper": "two", "claim": "beta works", "paper_value": "yes",
         "holds": {"metric": "beta.accuracy", "ge": 0.5}},
    ],
}


def _png(path: Path, value: int) -> None:
    Image.fromarray(np.full((12, 20, 3), value, dtype=np.uint8)).save(path)


def _notebook(path: Path) -> None:
    import base64
    import io

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 128, dtype=np.uint8)).save(buf, format="PNG")
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print('hello')")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode()})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Alpha\nWhat the paper did, and what we do."), code]
    nbformat.write(nb, str(path))


@pytest.fixture
def planted(tmp_path):
    results = tmp_path / "results" / "smoke"
    alpha = results / "alpha"
    alpha.mkdir(parents=True)
    _png(alpha / "fig_a.png", 200)
    _png(alpha / "fig_extra.png", 90)  # no item names it: shown under the stage
    (alpha / "table1.md").write_text("| n | ours | paper |\n|---|---|---|\n| 1 | 0.95 | 1.0 |\n\nScale: smoke profile.\n")
    (alpha / "table1.csv").write_text("n,ours,paper\n1,0.95,1.0\n")
    (alpha / "notes.txt").write_text("free text\n")
    _notebook(alpha / "alpha.ipynb")
    gamma = results / "gamma"  # a stage nobody registered
    gamma.mkdir()
    _png(gamma / "fig_g.png", 30)
    _notebook(gamma / "gamma.ipynb")
    (results / "metrics").mkdir()
    (results / "metrics" / "alpha.json").write_text(json.dumps({"share": 0.95, "status": {"10": "ok", "20": "oom"}}))
    spec = spec_from_dict(SPEC)
    return spec, results


def test_planted_site_in_a_browser(planted, browser, tmp_path):
    spec, results = planted
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "animals.json").write_text(json.dumps({"name": "animals", "count": 123, "image_shape_chw": [1, 28, 28],
                                                       "description": "planted silhouettes", "license": "MIT"}))
    (datasets / "index.json").write_text(json.dumps({"files": ["a.png"]}))  # not a dataset manifest
    raw = {"alpha": {"n_rows": 10}, "features": {"extractor": "effnet_lite0", "resolution": 64},
           "zoo": {"real": "animals", "heldout_fraction": 0.2, "models": {"gan": {"family": "dcgan", "n_samples": 40}}}}
    summary = build_site(spec, results, "smoke", raw, datasets, progress=False)
    assert summary["counts"] == {"holds": 1, "partial": 1, "does not hold": 1, "not run": 1}
    index = results / "report" / "index.html"
    found = check_site(browser, index)
    assert found["claim_rows"] == 4
    assert found["verdicts"] == ["holds", "partial", "does not hold", "not run"]
    assert found["images"] == 3  # fig_a, fig_extra (alpha), fig_g (unregistered gamma)
    assert found["pages"] == 2 and found["page_images"] == 2  # the two executed notebooks, each with its PNG output
    html = index.read_text()
    for expected in ["fig_extra.png", "not mapped to a paper item", "Unregistered stages", "fig_g.png",
                     "missing_*.png", "not run at profile smoke", "beta.json", "qualitative",
                     "effnet_lite0 @ 64 px", "<td>animals</td><td>123</td><td>1×28×28</td>", "n_rows: 10",
                     "<td>gan</td><td>dcgan</td><td>40</td>", "animals, 20% held out"]:
        assert expected in html, expected
    assert "<th>ours</th>" in html and "0.95" in html  # the table's own columns, rendered from its Markdown
    assert "<td>index</td>" not in html
    md = (results / "report" / "claims.md").read_text()
    assert len([ln for ln in md.splitlines() if ln.startswith("| ")]) == 1 + 4 and "**partial**" in md  # header + rows
    data = json.loads((results / "report" / "claims.json").read_text())
    assert [c["verdict"] for c in data["claims"]] == found["verdicts"]


def test_rebuild_removes_stale_notebook_pages(planted, tmp_path):
    spec, results = planted
    build_site(spec, results, "smoke", {}, tmp_path, progress=False)
    pages = results / "report" / "notebooks"
    assert {p.name for p in pages.glob("*.html")} == {"alpha.html", "gamma.html"}
    import shutil

    shutil.rmtree(results / "gamma")
    build_site(spec, results, "smoke", {}, tmp_path, progress=False)
    assert {p.name for p in pages.glob("*.html")} == {"alpha.html"}


def test_embed_claims_replaces_only_the_marked_block():
    readme = f"# x\n\n## Results\n\n{BEGIN}\nold table\n{END}\n\nafter\n"
    out = embed_claims(readme, "| new |\n", "mini")
    assert out.startswith("# x\n\n## Results\n\n" + BEGIN) and out.endswith(f"{END}\n\nafter\n")
    assert "old table" not in out and "| new |" in out
    assert embed_claims(out, "| new |\n", "mini") == out  # idempotent
    with pytest.raises(ValueError, match="exactly one"):
        embed_claims("no markers", "x", "mini")


def test_cli_validates_the_rules_before_any_work(tmp_path, repo, capsys):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["report"]["claims"][0]["holds"] = {"metric": "finc_colored.x", "gte": 1}
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params))
    from beyondfid.crosspaper.spec import SpecError

    with pytest.raises(SpecError, match=r"report\.claims\.0\.holds\.gte: unknown key"):
        main(["--profile", "smoke", "--params", str(bad), "--root", str(tmp_path)])
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------- wiring


def _stages(repo: Path) -> dict:
    return yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]


def _result_dirs(stage: dict) -> list[str]:
    outs = stage.get("outs") or stage.get("do", {}).get("outs") or []
    names = [next(iter(o)) if isinstance(o, dict) else o for o in outs]
    return [n for n in names if n.startswith("results/${profile}/")]


def test_report_stage_depends_on_every_results_folder(repo):
    stages = _stages(repo)
    deps = set(stages["report"]["deps"])
    assert "results/${profile}/metrics" in deps
    for name, st in stages.items():
        for out in _result_dirs(st):
            if name != "report":
                assert out in deps, f"the report stage must depend on {out} (stage {name}); add it to dvc.yaml"


def test_every_results_stage_is_in_the_registry(repo):
    """A stage that writes results must be shown by a paper item (else it lands under 'Unregistered')."""
    registered = set(load_spec(repo / "params.yaml").stages())
    for name, st in _stages(repo).items():
        if name != "report" and _result_dirs(st):
            assert name in registered, f"stage {name} writes results but no item of report.papers names it"


# ---------------------------------------------------------------- the committed mini report and the README

MINI = Path(__file__).resolve().parents[1] / "results" / "mini" / "report"


@pytest.mark.skipif(not (MINI / "index.html").is_file(), reason="no committed mini report")
def test_committed_mini_report_is_current_and_opens(repo, browser):
    spec = load_spec(repo / "params.yaml")
    expected = [r.verdict for r in evaluate_all(spec.claims, load_metrics(repo / "results" / "mini" / "metrics"))]
    committed = json.loads((MINI / "claims.json").read_text())
    assert [c["id"] for c in committed["claims"]] == [c.id for c in spec.claims], "re-run `dvc repro report`"
    assert [c["verdict"] for c in committed["claims"]] == expected, "re-run `dvc repro report`"
    found = check_site(browser, MINI / "index.html")
    assert found["claim_rows"] == len(spec.claims) and found["verdicts"] == expected


@pytest.mark.skipif(not (MINI / "claims.md").is_file(), reason="no committed mini report")
def test_readme_links_the_report_and_embeds_its_claims(repo):
    readme = (repo / "README.md").read_text()
    section = readme[readme.index("## Mini results"):]
    assert "](results/mini/report/index.html)" in section[:600], "the results section starts with the report's link"
    assert BEGIN in section[:1200], "the claims table comes right after the link, first in the results section"
    assert embed_claims(readme, (MINI / "claims.md").read_text(), "mini") == readme, (
        "README's claims table differs from results/mini/report/claims.md; run "
        "`python -m beyondfid.crosspaper.report --profile mini --update-readme README.md`")


@pytest.mark.skipif(not (MINI / "index.html").is_file(), reason="no committed mini report")
def test_every_committed_mini_output_is_mapped_to_a_paper_item(repo):
    """Outputs no item names are still shown ("other outputs"), but the registry should name them all."""
    from beyondfid.crosspaper.site import build_views

    spec = load_spec(repo / "params.yaml")
    papers, unregistered = build_views(spec, repo / "results" / "mini", {}, [], {})
    leftovers = {s.name: [o.name for o in s.leftovers] for p in papers for s in p.stages if s.leftovers}
    assert not leftovers, f"add these outputs to an item of report.papers: {leftovers}"
    assert not unregistered, [s.name for s in unregistered]
