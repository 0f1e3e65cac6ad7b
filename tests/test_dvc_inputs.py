"""The paper profile's image folders are real DVC dependencies (issue 10, case 1).

In a fresh-clone copy of the repository (``conftest.copy_repo``), with tiny synthetic folders
under ``data/paper/``: adding an image, or replacing one by another of the same size, makes
``dvc status`` report the ``prepare`` stage as changed and ``dvc repro prepare`` re-run it,
and the smoke profile still resolves and runs ``prepare`` without any ``data/`` folder. Only
the ``prepare`` stage runs here (seconds); tests/test_pipeline.py runs the whole smoke DAG.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REPO, copy_repo

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, check: bool = True) -> str:
    # the copy's own src/ is what runs
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(cwd / "src"))
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.stdout + p.stderr


def _png(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(path, compress_level=0)


def _git_commit(ws: Path) -> None:
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    _run(["git", "init", "-q"], ws)
    _run(git + ["add", "-A"], ws)
    _run(git + ["commit", "-qm", "clone"], ws)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    ws = copy_repo(tmp_path_factory.mktemp("inputs_clone"))
    _git_commit(ws)
    return ws


def _paper_params(ws: Path) -> None:
    raw = yaml.safe_load((ws / "params.yaml").read_text())
    raw["profile"] = "paper"
    raw["data_root"] = "data/paper"
    p = raw["profiles"]["paper"]
    p["data"].update(folders="real,fake", image_size=0)
    p["features"].update(extractor="pixels", resolution=8, datasets="real,fake", device="cpu")
    p["finc_colored"]["datasets"] = "real"
    p["finc_novelty"].update(test="real", ref="fake")
    p["finc_scalability"]["real_dataset"] = "real"
    p["zoo"]["real"] = "real"
    for name, m in p["zoo"]["models"].items():
        m.update(folder="gen" if name == "gan" else "fake", candidates_folder="", n_samples=3)
    (ws / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture(scope="module")
def paper_clone(tmp_path_factory):
    ws = copy_repo(tmp_path_factory.mktemp("paper_clone"))
    shutil.copy2(REPO / ".gitignore", ws / ".gitignore")  # data/ is DVC's (data.dvc), not git's
    _paper_params(ws)
    for folder, seeds in (("real", range(10)), ("fake", range(10, 14)), ("gen", range(20, 24))):
        (ws / "data" / "paper" / folder).mkdir(parents=True)
        for s in seeds:
            _png(ws / "data" / "paper" / folder / f"{s:03d}.png", s)
    _git_commit(ws)
    _run(["dvc", "repro", "prepare"], ws)
    return ws


def _manifest(ws: Path, name: str) -> dict:
    return json.loads((ws / "artifacts" / "paper" / "datasets" / f"{name}.json").read_text())


def test_adding_an_image_reruns_prepare(paper_clone):
    ws = paper_clone
    assert _manifest(ws, "real")["count"] == 10
    assert "prepare" not in _run(["dvc", "status", "prepare"], ws)
    _png(ws / "data" / "paper" / "real" / "100.png", 100)
    status = _run(["dvc", "status", "prepare"], ws)
    assert "prepare:" in status and "data/paper" in status, status
    out = _run(["dvc", "repro", "prepare"], ws)
    assert "Running stage 'prepare'" in out, out
    assert _manifest(ws, "real")["count"] == 11


def test_replacing_an_image_of_a_zoo_folder_reaches_the_zoo_stages(paper_clone):
    """A zoo role's folder (not in data.folders) is an input too: its content digest is in prepare's
    output, and zoo_splits passes it on, so zoo_train and zoo_eval (which read the folders) re-run."""
    ws = paper_clone
    _run(["dvc", "repro", "zoo_splits"], ws)
    digests = ws / "artifacts/paper/zoo/splits/inputs.json"
    before = json.loads(digests.read_text())["folders"]["gen"]
    target = ws / "data" / "paper" / "gen" / "021.png"
    size = target.stat().st_size
    _png(target, 999)  # same size, other pixels
    assert target.stat().st_size == size
    assert "prepare:" in _run(["dvc", "status", "prepare"], ws)
    out = _run(["dvc", "repro", "zoo_splits"], ws)
    assert "Running stage 'prepare'" in out and "Running stage 'zoo_splits'" in out, out
    after = json.loads(digests.read_text())["folders"]["gen"]
    assert after["count"] == before["count"] == 4 and after["sha256"] != before["sha256"]
    stages = yaml.safe_load((ws / "dvc.yaml").read_text())["stages"]
    for name in ("features", "zoo_splits", "finc_colored_inputs", "finc_novelty"):
        assert "artifacts/${profile}/datasets" in stages[name]["deps"], name
    for name in ("zoo_train", "zoo_eval"):
        assert "artifacts/${profile}/zoo/splits" in stages[name].get("do", stages[name])["deps"], name


def test_builtin_profiles_run_without_data(clone):
    """smoke/mini on a fresh clone without data/: the DAG resolves and prepare runs."""
    ws = clone
    assert not (ws / "data").exists()
    raw = yaml.safe_load((ws / "params.yaml").read_text())
    raw["profile"] = "smoke"
    (ws / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    out = _run(["dvc", "repro", "prepare"], ws)
    assert "Running stage 'prepare'" in out
    assert json.loads((ws / "artifacts/smoke/datasets/index.json").read_text())["animals"]["count"] == 200
    raw["profile"] = "mini"
    (ws / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    status = _run(["dvc", "status"], ws)
    assert "prepare:" in status and "error" not in status.lower(), status


def test_switching_profile_without_data_root_is_explained(clone):
    """profile: paper with the builtin data_root fails at load, naming both keys and the fix."""
    from beyondfid.config import ConfigError, load_config

    raw = yaml.safe_load((clone / "params.yaml").read_text())
    raw["profile"] = "paper"
    (clone / "p.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError, match=r"data_root.*profiles\.paper\.data\.root.*-S data_root=data/paper"):
        load_config(None, clone / "p.yaml")
