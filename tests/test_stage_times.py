"""benchmarks/stage_times.py re-times stages by running dvc.yaml's own commands: check it resolves them exactly."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("stage_times", ROOT / "benchmarks" / "stage_times.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_every_stage_resolves_to_its_dvc_command_with_no_variable_left(stages):
    mod = _module()
    for name, spec in stages.items():
        items = spec["foreach"] if "foreach" in spec else [None]
        raw = spec["do"]["cmd"] if "foreach" in spec else spec["cmd"]
        for item in items:
            cmd = mod.stage_command(stages, f"{name}@{item}" if item else name, "mini")
            assert "${" not in cmd, (name, item, cmd)
            # undoing the substitution gives back dvc.yaml's text: nothing else was changed
            back = cmd.replace("mini", "${profile}")
            if item:
                back = re.sub(rf"\b{re.escape(item)}\b", "${item}", back)
            assert back == raw, (name, item)


def test_foreach_item_and_profile_substituted(stages):
    mod = _module()
    assert mod.stage_command(stages, "zoo_train@gan", "smoke") == "python -m beyondfid.zoo train --profile smoke --model gan"


@pytest.mark.parametrize("bad", ["no_such_stage", "zoo_train", "zoo_train@no_such_model"])
def test_unknown_or_incomplete_stage_names_are_refused_before_anything_runs(stages, bad):
    mod = _module()
    with pytest.raises(SystemExit, match="error:"):
        mod.stage_command(stages, bad, "mini")
