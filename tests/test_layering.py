"""The package's layers, read from its import statements (issue 9).

    core (top-level modules, extractors/)  ->  zoo/  ->  finc/, fidclasses/, distclass/  ->  crosspaper/

Imports run downward only: the core imports no subpackage; the zoo imports only the core; a paper
subpackage imports the core and the zoo, never another paper's subpackage; only ``crosspaper``
(the cross-paper report) may read all three papers. Nothing in the package imports the notebooks.
Imports inside functions count as much as module-level ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PAPERS = ("finc", "fidclasses", "distclass")
SUBPACKAGES = ("zoo",) + PAPERS + ("crosspaper",)


def layer_of(module: str) -> str:
    """``beyondfid.zoo.eval`` -> ``zoo``; ``beyondfid.metrics`` / ``beyondfid.extractors.base`` -> ``core``."""
    parts = module.split(".")
    if parts[0] != "beyondfid":
        return "external"
    if len(parts) > 1 and parts[1] in SUBPACKAGES:
        return parts[1]
    return "core"


def allowed(src_layer: str, dst_layer: str) -> bool:
    if dst_layer in ("external", "core") or src_layer == dst_layer:
        return True
    if src_layer == "core":
        return False
    if src_layer == "zoo":
        return False
    if src_layer in PAPERS:
        return dst_layer == "zoo"
    return src_layer == "crosspaper"  # the report may read everything below it


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every module a file imports, as absolute dotted names (relative imports resolved)."""
    mod = module_name(path, root)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None:
                # ``from . import a, b``: each name may be a submodule
                out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, target))
    return out


def violations(root: Path) -> list[str]:
    bad = []
    for path in sorted((root / "beyondfid").rglob("*.py")):
        src_layer = layer_of(module_name(path, root))
        for line, target in imports_of(path, root):
            if target.split(".")[0] == "notebooks" or "notebooks" in target.split(".")[1:2]:
                bad.append(f"{path.relative_to(root)}:{line} imports the notebooks ({target})")
            elif not allowed(src_layer, layer_of(target)):
                bad.append(f"{path.relative_to(root)}:{line} ({src_layer}) imports {target} ({layer_of(target)})")
    return bad


def test_package_imports_run_downward_only():
    assert violations(SRC) == []


def test_every_subpackage_is_a_known_layer():
    found = {p.name for p in (SRC / "beyondfid").iterdir() if (p / "__init__.py").is_file()}
    assert found - {"extractors"} <= set(SUBPACKAGES), found


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        f = tmp_path / "beyondfid" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    for d in [tmp_path / "beyondfid", *(p for p in (tmp_path / "beyondfid").rglob("*") if p.is_dir())]:
        (d / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"metrics.py": "from .zoo import training\n"}, "metrics.py:1 (core) imports beyondfid.zoo (zoo)"),
        ({"stats.py": "def f():\n    import beyondfid.finc.algorithm\n"}, "stats.py:2 (core) imports beyondfid.finc"),
        ({"extractors/base.py": "from ..zoo import ssl\n"}, "extractors/base.py:1 (core) imports beyondfid.zoo (zoo)"),
        ({"zoo/eval.py": "from ..finc import finc\n"}, "zoo/eval.py:1 (zoo) imports beyondfid.finc"),
        ({"finc/a.py": "from ..fidclasses import resampling\n"}, "finc/a.py:1 (finc) imports beyondfid.fidclasses"),
        ({"distclass/a.py": "from beyondfid.fidclasses.x import y\n"}, "(distclass) imports beyondfid.fidclasses.x"),
        ({"fidclasses/a.py": "from .. import crosspaper\n"}, "(fidclasses) imports beyondfid.crosspaper"),
        ({"distclass/a.py": "import notebooks.dc_binary\n"}, "imports the notebooks"),
    ],
)
def test_checker_catches_an_upward_import(tmp_path, files, expected):
    bad = violations(_tree(tmp_path, files))
    assert len(bad) == 1 and expected in bad[0], bad


def test_checker_accepts_downward_imports(tmp_path):
    files = {
        "metrics.py": "from .stats import compute_stats\nfrom . import io\n",
        "zoo/eval.py": "from ..metrics import kid\nfrom .registry import zoo_dirs\n",
        "finc/a.py": "from ..zoo.transforms import colorize\nfrom .algorithm import finc\n",
        "crosspaper/a.py": "from ..finc import finc\nfrom ..fidclasses import x\nfrom ..distclass import y\n",
    }
    assert violations(_tree(tmp_path, files)) == []
