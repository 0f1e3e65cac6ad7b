"""Time the report stage (beyondfid.crosspaper) on a copy of a profile's results.

    python benchmarks/report_build.py --profile mini [--copies 3]

Copies results/<profile>/ to a temporary folder (the committed report is never touched), optionally
adds ``--copies`` renamed duplicates of every notebook stage (to project the cost at the ~20 notebooks
of all three papers), builds the site there and prints the time of each part and in all. Run it under
the heavy lock and quote the machine state it prints.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from beyondfid.crosspaper import site  # noqa: E402
from beyondfid.crosspaper.claims import evaluate_all, load_metrics  # noqa: E402
from beyondfid.crosspaper.spec import load_spec  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--copies", type=int, default=0, help="extra renamed copies of every notebook stage")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    src = REPO / "results" / args.profile
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["profiles"][args.profile]
    spec = load_spec(REPO / "params.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / args.profile
        shutil.copytree(src, results, ignore=shutil.ignore_patterns("report"))
        stages = [d for d in results.iterdir() if d.is_dir() and any(d.glob("*.ipynb"))]
        for k in range(args.copies):
            for d in stages:
                dup = results / f"{d.name}_copy{k}"
                shutil.copytree(d, dup)
                for nb in dup.glob("*.ipynb"):
                    nb.rename(dup / f"{dup.name}.ipynb")
        n_nb = sum(1 for _ in results.glob("*/*.ipynb"))

        t = time.perf_counter()
        import nbconvert  # noqa: F401  (import cost, paid once per stage run)
        import jinja2  # noqa: F401
        t_import = time.perf_counter() - t

        t = time.perf_counter()
        evaluate_all(spec.claims, load_metrics(results / "metrics"))
        t_claims = time.perf_counter() - t

        t = time.perf_counter()
        for nb in sorted(results.glob("*/*.ipynb")):
            site.notebook_html(nb, "r.css", "i.html", nb.stem)
        t_nb = time.perf_counter() - t

        t = time.perf_counter()
        site.build_site(spec, results, args.profile, raw, REPO / "artifacts" / args.profile / "datasets", progress=False)
        t_all = time.perf_counter() - t

    print(f"| part | seconds |\n| --- | --- |")
    print(f"| import nbconvert + jinja2 | {t_import:.2f} |")
    print(f"| claims from metrics ({len(spec.claims)} rules) | {t_claims:.3f} |")
    print(f"| nbconvert, {n_nb} notebooks | {t_nb:.2f} ({t_nb / max(n_nb, 1):.2f} per notebook) |")
    print(f"| whole build_site ({n_nb} notebooks, index, claims) | {t_all:.2f} |")


if __name__ == "__main__":
    main()
