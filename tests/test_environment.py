"""pyproject.toml is the one dependency list; environment.yml, Makefile, README and CI agree with it."""

from __future__ import annotations

import re
import tomllib

import yaml


def test_environment_yml_installs_the_package_with_all_extras(repo):
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    env = yaml.safe_load((repo / "environment.yml").read_text())
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    assert pyproject["project"]["requires-python"] == ">=3.11,<3.12"
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert len(pip) == 1, "environment.yml must not list packages itself: pyproject.toml is the one list"
    m = re.fullmatch(r"-e \.\[(.*)\]", pip[0])
    assert m, pip
    extras = set(m.group(1).split(","))
    assert extras == set(pyproject["project"]["optional-dependencies"]), "every extra must be installed"
    # conda packages other than python/pip would be a second dependency list
    assert all(d in ("pip",) or (isinstance(d, str) and d.startswith("python")) or isinstance(d, dict) for d in deps)


def test_torch_pins(repo):
    deps = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_makefile_installs_the_same_extras(repo):
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    m = re.search(r"-e '\.\[([^\]]*)\]'", (repo / "Makefile").read_text())
    assert m, "Makefile must pip install -e '.[extras]'"
    assert set(m.group(1).split(",")) == set(pyproject["project"]["optional-dependencies"])


def test_ci_runs_the_readme_test_command(repo):
    readme = (repo / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    assert blocks, "README must open with a code block holding the two commands"
    commands = [ln.split("#")[0].strip() for ln in blocks[0].splitlines() if ln.split("#")[0].strip()]
    assert len(commands) == 2, commands
    ci = [ln.strip() for ln in (repo / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#") and not ln.startswith(("set ", "cd "))]
    # CI installs Chromium first and makes the browser tests mandatory, then runs the README's command
    assert ci == ["bash .ci/install-chromium", "export BEYONDFID_REQUIRE_BROWSER=1", commands[1]], (ci, commands)
    assert "apt-get install" in (repo / ".ci" / "install-chromium").read_text()


def test_jupyterlab_opens_the_py_notebooks_as_notebooks(repo, tmp_path):
    """`make lab`: JupyterLab serves notebooks/*.py as notebooks and opens them in the notebook view."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    assert "jupyter lab" in (repo / "Makefile").read_text()
    assert json.loads((repo / ".jupyter" / "overrides.json").read_text())[
        "@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["python"] == "Jupytext Notebook"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    jupyter = Path(sys.executable).parent / "jupyter"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    proc = subprocess.Popen([str(jupyter), "lab", "--allow-root", "--no-browser", f"--port={port}",
                             "--IdentityProvider.token=t", str(repo / "notebooks")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token=t", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        nb = json.load(urllib.request.urlopen(f"{base}/api/contents/finc_colored.py?token=t&type=notebook&content=1"))
        assert nb["type"] == "notebook" and len(nb["content"]["cells"]) > 3
        plugin = json.load(urllib.request.urlopen(
            f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin?token=t"))
        assert plugin["schema"]["properties"]["defaultViewers"]["default"].get("python") == "Jupytext Notebook"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
