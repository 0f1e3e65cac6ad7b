"""The DVC pipeline on a fresh-clone copy, at smoke scale.

This executes every stage of dvc.yaml -- so every notebook, through papermill -- exactly as
`dvc repro` does, in a copy that has no data/ folder and no DVC remote (like a fresh clone
without paper data). It then checks that a second `dvc repro` does nothing and that editing
only a notebook's plotting code re-runs only that notebook's stage.
"""

from __future__ import annotations

import os
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from beyondfid.config import MODELS
from conftest import copy_repo

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p.stdout + p.stderr


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, repo):
    ws = copy_repo(tmp_path_factory.mktemp("clone"))
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["profile"] = "smoke"
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], ws)
    _run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], ws)
    _run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "clone"], ws)
    assert not (ws / "data").exists()
    log = _run(["dvc", "repro"], ws)
    return ws, log


def _stage_names(dvc_yaml: Path) -> list[str]:
    """Stage names as DVC reports them: a ``foreach`` stage expands to ``name@item`` per item."""
    names = []
    for name, s in yaml.safe_load(dvc_yaml.read_text())["stages"].items():
        names += [f"{name}@{item}" for item in s["foreach"]] if "foreach" in s else [name]
    return names


def test_every_notebook_is_a_stage(repo):
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    cmds = " ".join(s.get("cmd") or s["do"]["cmd"] for s in stages.values())  # foreach stages nest under "do"
    for nb in sorted((repo / "notebooks").glob("*.py")):
        assert f"notebooks/{nb.name}" in cmds, f"{nb.name} is not run by any dvc stage"
        assert "papermill -k python3" in cmds


def test_no_stage_is_silenced(repo):
    """Issue 16: every stage shows progress in `dvc repro`'s log. Python stages never pass the
    package's ``--no-progress``; notebook stages pass ``--log-output``, so papermill forwards the
    kernel's progress lines (``--no-progress-bar`` only drops papermill's own per-cell bar)."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for name, s in stages.items():
        cmd = " ".join(str(s.get("cmd") or s["do"]["cmd"]).split())
        assert not re.search(r"--no-progress(?!-bar)", cmd), f"{name} passes --no-progress: {cmd}"
        if "papermill" in cmd:
            assert "--log-output" in cmd, f"{name} runs papermill without --log-output: {cmd}"


def test_mini_dag_resolves_without_paper_data(workspace):
    ws, _ = workspace
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["profile"] = "mini"
    mini = ws.parent / (ws.name + "_mini")
    subprocess.run(["cp", "-r", str(ws), str(mini)], check=True)
    (mini / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # The mini DAG builds and every stage is pending; data.dvc's missing data/ is reported
    # as a not-yet-pulled source, not an error (no stage of the mini profile depends on it).
    dag = _run(["dvc", "dag"], mini)
    status = _run(["dvc", "status"], mini)
    names = _stage_names(ws / "dvc.yaml")
    assert "zoo_train@memorizer" in names and "zoo_encoder@classifier" in names
    for stage in names:
        assert stage in dag and f"{stage}:" in status, stage
    assert "error" not in (dag + status).lower()


def test_smoke_pipeline_runs_and_writes_outputs(workspace):
    ws, log = workspace
    res = ws / "results" / "smoke"
    assert (res / "overview" / "overview.ipynb").is_file()
    for f in ["fig_datasets.png", "fig_top1_histogram.png", "table_top1_classes.csv", "table_top1_classes.md"]:
        assert (res / "overview" / f).stat().st_size > 100, f
    metrics = yaml.safe_load((res / "metrics" / "overview.json").read_text())
    assert metrics["cat_photo_is_cat_class"] is True
    # every notebook stage wrote its executed notebook and metrics; every zoo role has samples
    for nb in sorted((ws / "notebooks").glob("*.py")):
        assert (res / nb.stem / f"{nb.stem}.ipynb").is_file(), nb.stem
        assert json.loads((res / "metrics" / f"{nb.stem}.json").read_text()), nb.stem
    for model in MODELS:
        assert (ws / "artifacts/smoke/zoo/models" / model / "samples.npz").is_file(), model
        assert (ws / "artifacts/smoke/zoo/eval" / f"{model}.npz").is_file(), model
    # dc_runs talks (issue 16): its run counter and the probes' feature passes end on a complete plain line
    assert re.search(r"^runs: .*\| (\d+)/\1 ", log, re.M), log[-3000:]
    assert re.search(r"^probe features: .*\| (\d+)/\1 ", log, re.M), log[-3000:]
    # ... and so do fid_features and the notebook stages (papermill --log-output forwards the kernel's lines)
    assert re.search(r"^fid_features \S+: .*\| (\d+)/\1 ", log, re.M), log[-3000:]
    assert re.search(r"heatmaps: .*\| (\d+)/\1 ", log), log[-3000:]
    assert re.search(r"resampling \(\w+\): .*\| \d+/\d+ ", log), log[-3000:]


def test_smoke_report_opens_in_a_browser(workspace, browser):
    """The report stage ran last and its page works: images load, links resolve, one row per claim."""
    from beyondfid.crosspaper.spec import load_spec
    from site_checks import check_site

    ws, _ = workspace
    report = ws / "results" / "smoke" / "report"
    shots = os.environ.get("BEYONDFID_SCREENSHOTS")  # set it to keep the screenshots for looking at them
    shot = Path(shots) / "report_smoke.png" if shots else ws / "report_smoke.png"
    found = check_site(browser, report / "index.html", screenshot=shot)
    n_claims = len(load_spec(ws / "params.yaml").claims)
    assert found["claim_rows"] == n_claims and len(found["verdicts"]) == n_claims
    # every executed notebook of the smoke run is rendered and linked
    notebooks = sorted(p.stem for p in (ws / "notebooks").glob("*.py"))
    assert sorted(p.stem for p in (report / "notebooks").glob("*.html")) == notebooks
    # linked pages: the executed notebooks plus the HTML pages stages write (the human-study page)
    html_outputs = [p for p in (ws / "results" / "smoke").glob("*/*.html") if p.parent.name != "report"]
    assert found["pages"] == len(notebooks) + len(html_outputs) and found["images"] > 0
    assert (report / "claims.md").read_text().count("**") >= 2 * n_claims
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_second_repro_does_nothing(workspace):
    ws, _ = workspace
    out = _run(["dvc", "repro"], ws)
    assert "Running stage" not in out, out
    status = _run(["dvc", "status"], ws)
    # Only data.dvc (paper data never pulled in this fresh clone) may be reported.
    for stage in _stage_names(ws / "dvc.yaml"):
        assert f"{stage}:" not in status, status


def test_the_repro_plan_lists_what_will_run(workspace):
    ws, _ = workspace
    cmd = [sys.executable, "-m", "beyondfid.zoo.plan", "--no-estimate"]
    assert "nothing will run" in _run(cmd, ws)
    nb = ws / "notebooks" / "finc_colored.py"
    text = nb.read_text()
    try:
        nb.write_text(text + "\n# an edit\n")
        out = _run(cmd, ws)
        # the notebook's stage, and the report that shows its outputs; nothing upstream
        assert "2 stage(s) will run" in out and "finc_colored " in out and "report " in out, out
        assert "zoo_train" not in out, out
    finally:
        nb.write_text(text)


def test_editing_plot_code_reruns_only_that_notebook_and_the_report(workspace):
    ws, _ = workspace
    nb = ws / "notebooks" / "overview.py"
    text = nb.read_text()
    assert 'color="tab:blue"' in text
    nb.write_text(text.replace('color="tab:blue"', 'color="tab:orange"'))
    out = _run(["dvc", "repro"], ws)
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert ran == {"overview", "report"}, out  # the report shows overview's outputs, so it follows


def test_paper2_stages_write_their_tables_and_figures(workspace):
    ws, _ = workspace
    res = ws / "results" / "smoke"
    expected = {
        "fid_schematic": ["fig1_fid_overview.png", "fig2_heatmap_method.png"],
        "fid_heatmaps": ["fig3_heatmaps.png", "fig4a_top1_histogram.png", "fig4b_fig12_mean_heatmaps.png",
                         "fig10_noise.png", "table_subject_agreement.md", "table_fig10_noise.md"],
        "fid_sensitivity": ["fig8a_sample_count.png", "table_fig8a_sample_count.md", "table_fig8b_instance.md",
                            "fig9_prelogit_logit.png"],
        "fid_resampling": ["table1.md", "table2.md", "table3.md", "fig5_weights.png", "fig6_top_n.png",
                           "table2_official_protocol.md"],
        "fid_projected": ["table_fig7.md", "fig7_samples.png", "table_snapshot_selection.md"],
    }
    for stage, files in expected.items():
        for f in files:
            assert (res / stage / f).stat().st_size > 100, f"{stage}/{f}"
    table2 = (res / "fid_resampling" / "table2.md").read_text()
    assert "paper FFHQ" in table2 and "Scale: smoke profile" in table2  # the paper's values beside ours
    assert (ws / "artifacts/smoke/fidclasses/features/index.json").is_file()


def test_cross_paper_stages_write_their_tables_and_figures(workspace):
    """Issue 15's three questions: each stage's table, figure and stated answer."""
    ws, _ = workspace
    res = ws / "results" / "smoke"
    expected = {
        "cross_attack": ["table_q1_answer.md", "table_classifier_runs.md", "table_classifier_compare.md",
                         "table_splits.md", "fig_classifier.png", "fig_finc_spectrum.png", "fig_finc_modes.png"],
        "cross_explain": ["table_overlap.md", "fig_enrichment.png", "fig_confident_vs_modes.png"],
        "cross_rank": ["table_judges.md", "table_ranks.md", "table_tau.md", "table_agreement.md", "fig_ranks.png",
                       "fig_tau_heatmap.png"],
    }
    for stage, files in expected.items():
        for f in files:
            assert (res / stage / f).stat().st_size > 100, f"{stage}/{f}"
        assert json.loads((res / "metrics" / f"{stage}.json").read_text())["answer"], stage
    assert "Scale: smoke profile" in (res / "cross_attack" / "table_q1_answer.md").read_text()
    assert list((ws / "artifacts/smoke/crosspaper/attack").glob("weights-*.npz"))  # the cached attack
    assert json.loads((res / "metrics" / "cross_explain.json").read_text())["min_reproduced"] == 1.0
