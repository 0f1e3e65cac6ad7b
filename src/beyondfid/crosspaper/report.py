"""The ``report`` DVC stage: ``python -m beyondfid.crosspaper.report --profile <p>``.

Writes ``results/<profile>/report/`` (see :mod:`beyondfid.crosspaper.site`). With
``--update-readme README.md`` it instead pastes the committed ``claims.md`` of the profile into the
README between the ``<!-- claims:begin -->`` / ``<!-- claims:end -->`` markers.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import yaml

from ..config import add_stage_arguments, load_config
from .site import REPORT_DIR, build_site
from .spec import load_spec

BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"


def embed_claims(readme: str, claims_md: str, profile: str) -> str:
    """The README with the text between the claims markers replaced by the claims table."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), flags=re.S)
    if len(pattern.findall(readme)) != 1:
        raise ValueError(f"README must hold exactly one {BEGIN} ... {END} block (found {len(pattern.findall(readme))})")
    block = (f"{BEGIN}\n<!-- generated from results/{profile}/report/claims.md by "
             f"`python -m beyondfid.crosspaper.report --profile {profile} --update-readme README.md`; do not edit -->\n"
             f"{claims_md.strip()}\n{END}")
    return pattern.sub(lambda _: block, readme)


def main(argv: list[str] | None = None) -> int:
    ap = add_stage_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]), progress=True)
    ap.add_argument("--update-readme", metavar="README", default=None,
                    help="paste results/<profile>/report/claims.md into this README and exit")
    args = ap.parse_args(argv)
    cfg = load_config(args.profile, args.params, args.root)
    spec = load_spec(args.params)  # validated before any work
    out = cfg.results / REPORT_DIR
    if args.update_readme:
        claims = out / "claims.md"
        if not claims.is_file():
            ap.error(f"{claims} does not exist; run the report stage first (dvc repro report)")
        readme = Path(args.update_readme)
        readme.write_text(embed_claims(readme.read_text(), claims.read_text(), cfg.profile))
        print(f"pasted {claims} into {readme}")
        return 0
    raw = yaml.safe_load(Path(args.params).read_text())["profiles"][cfg.profile]
    t0 = time.perf_counter()
    summary = build_site(spec, cfg.results, cfg.profile, raw, cfg.datasets_dir, progress=not args.no_progress)
    counts = ", ".join(f"{n} {v}" for v, n in summary["counts"].items())
    print(f"report: {summary['index']} ({summary['notebooks']} notebooks; claims: {counts}) "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
