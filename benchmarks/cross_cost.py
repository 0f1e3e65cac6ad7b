"""The cross-paper stages' CPU budget at a profile's sizes, on synthetic features (no mini run needed).

Times, on random features of the profile's shapes (``features`` dimension 1,280 on mini, SSL dims 64):

* ``cross_attack``: one FINC of ``eval_size`` rows against the real set (``fidclasses.real``'s size) at
  ``cross_attack.rff_dim`` (the stage runs ``2 x draws`` of them);
* ``cross_explain``: one FINC of a model's samples against the real class's pool at ``cross_explain.rff_dim``
  (the stage runs one per model);
* ``cross_rank``: one :func:`beyondfid.crosspaper.ranking.judge_values` pass over all ranked models at the
  half-sample size (the stage runs ``resamples + 1``, the first at full size).

The attack's optimisation is data-dependent and is not timed here: ``fid_resampling`` reports its own
(``results/<p>/metrics/fid_resampling.json``, ``table2.seconds_pl``); the classifier runs are sized by
``benchmarks/dc_budget.py`` (same recipe and architecture). No judge's value is computed on real data.

    flock /tmp/beyondfid-heavy.lock python benchmarks/cross_cost.py --profile mini --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from beyondfid.config import load_config  # noqa: E402
from beyondfid.crosspaper.ranking import JudgeInputs, judge_values  # noqa: E402
from beyondfid.finc.algorithm import finc, finc_kwargs, median_bandwidth  # noqa: E402


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--params", default=str(Path(__file__).resolve().parents[1] / "params.yaml"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--d", type=int, default=1280, help="feature dimension (EfficientNet-Lite0 pre-logits)")
    ap.add_argument("--n-real-train", type=int, default=8000)
    ap.add_argument("--n-heldout", type=int, default=2000)
    ap.add_argument("--n-samples", type=int, default=2000)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    cfg = load_config(args.profile, args.params, ".")
    A, E, R, P = cfg.params.cross_attack, cfg.params.cross_explain, cfg.params.cross_rank, cfg.params.fidclasses
    rng = np.random.default_rng(0)
    f = lambda n, d=args.d, s=0.0: (rng.normal(size=(n, d)) + s).astype(np.float32)  # noqa: E731

    real, test = f(args.n_real_train), f(P.eval_size, s=0.05)
    sig = float(median_bandwidth(test, real, seed=0))
    t_attack = _timed(lambda: finc(test, real, sigma=sig, **finc_kwargs(A, 0)))
    held, gen = f(args.n_heldout), f(args.n_samples, s=0.05)
    sig = float(median_bandwidth(gen, held, seed=0))
    t_explain = _timed(lambda: finc(gen, held, sigma=sig, **finc_kwargs(E, 0)))

    m = int(round(R.fraction * args.n_samples))
    spaces = {"effnet": args.d, "ssl_contrastive": 64, "ssl_masked": 96}
    inp = JudgeInputs({s: f(int(round(R.fraction * args.n_heldout)), d) for s, d in spaces.items()},
                      {mod: {s: f(m, d, 0.02 * i) for s, d in spaces.items()} for i, mod in enumerate(R.model_names)},
                      {(mod, a): (400, 500) for mod in R.model_names for a in R.arch_names}, R.arch_names,
                      finc_kwargs(R, 0), 30.0, R.pr_k)
    t_rank = _timed(lambda: judge_values(inp))

    print(f"profile {args.profile}, {args.threads} torch thread(s), synthetic features (d = {args.d})")
    print(f"| stage | unit | seconds per unit | units | projected seconds |\n|---|---|---|---|---|")
    print(f"| cross_attack | FINC {P.eval_size} vs {args.n_real_train}, r = {A.rff_dim} | {t_attack:.2f} | "
          f"{2 * A.draws} | {2 * A.draws * t_attack:.0f} |")
    print(f"| cross_explain | FINC {args.n_samples} vs {args.n_heldout}, r = {E.rff_dim} | {t_explain:.2f} | "
          f"{len(E.model_names)} | {len(E.model_names) * t_explain:.0f} |")
    print(f"| cross_rank | all judges, {len(R.model_names)} models, {m} vs {len(inp.real['effnet'])} rows, "
          f"FINC r = {R.rff_dim} | {t_rank:.2f} | {R.resamples + 1} (first at full size) | "
          f"{(R.resamples + 1) * t_rank:.0f} (+ the full-size pass's extra) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
