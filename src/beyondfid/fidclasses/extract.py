"""The ``fid_features`` stage: the feature spaces paper 2 needs beyond ``zoo_eval``.

Writes ``artifacts/<profile>/fidclasses/features/<set>__<space>.npz`` (key ``features``) and
``index.json`` (per file: rows, source, fingerprint):

* second-opinion spaces that ``zoo_eval`` does not compute (paper profile: ``clip_vit_b32``) for
  every set the ``fid_*`` notebooks read;
* the sibling ImageNet network (``fid_features.sibling``) on the first ``sibling_real`` /
  ``sibling_generated`` rows of the real and generated sets (Fig. 8b) and on ``compare_n``
  images of the projected model and of the GAN snapshot closest to it in FID (Fig. 7);
* Fig. 8b's instance analogue on the mini profile: the zoo's domain classifier (seed 0, from
  ``zoo_encoder@classifier``) and the same architecture and recipe trained with each of
  ``classifier_seeds``; its pooled features (``classifier_s<seed>``) of the Fig. 8b sets and of
  every zoo model against ``fidclasses.heldout`` (does the ranking survive the instance?).

Every file is recomputed only when its fingerprint (pixels, network, code) changed, so an
interrupted run resumes. Forward passes use the feature cache's fixed micro-batches.

Command line (the DVC stage)::

    python -m beyondfid.fidclasses.extract --profile mini
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import MODELS, Config, ConfigError, add_stage_arguments, apply_threads, load_config
from ..data import DataError
from ..extractors.base import ExtractorError
from ..features import FeatureError, _forward, check_finite, code_fingerprint
from ..io import save_json, save_npz, sha256_array, sha256_file
from . import networks  # noqa: F401  (registers effnet_lite1 / inception_torchvision)
from .projected import select_comparison
from .sets import FidClassesError, World, features_dir, second_key

STAGE = "fid_features"
_HERE = Path(__file__).resolve().parent


def _code_fp() -> str:
    h = hashlib.sha256(code_fingerprint().encode())
    for name in ("networks.py", "extract.py"):
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()[:16]


def _images_fp(source: Any, n: int) -> str:
    h = hashlib.sha256()
    for lo in range(0, n, 4096):
        h.update(sha256_array(source.get(lo, min(lo + 4096, n))).encode())
    return h.hexdigest()[:16]


class _Writer:
    """Writes ``<set>__<space>.npz`` unless the index already holds the same fingerprint."""

    def __init__(self, cfg: Config, progress: bool = False) -> None:
        self.progress = progress
        self.dir = features_dir(cfg)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.index_path = self.dir / "index.json"
        try:
            self.old = json.loads(self.index_path.read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            self.old = {}
        self.index: dict[str, Any] = {}
        self.computed: list[str] = []

    def want(self, key: str, fingerprint: str, rows: int, compute: Callable[[Any], np.ndarray]) -> None:
        """``compute(bar)`` returns the ``rows`` features and advances ``bar`` by the rows it has done."""
        entry = {"rows": rows, "fingerprint": fingerprint}
        path = self.dir / f"{key}.npz"
        if not (path.is_file() and self.old.get(key) == entry):
            from ..progress import progress_bar

            with progress_bar(total=rows, desc=f"{STAGE} {key}", unit="img", disable=not self.progress) as bar:
                feats = compute(bar)
            check_finite(key, {"features": feats})
            save_npz(path, features=feats.astype(np.float32))
            self.computed.append(key)
        self.index[key] = entry
        save_json(self.index_path, {"files": dict(self.old, **self.index)})

    def finish(self) -> None:
        for p in self.dir.glob("*.npz"):
            if p.stem not in self.index:
                p.unlink()
        save_json(self.index_path, {"files": self.index})


def _extract(extractor: Any, source: Any, n: int, bar: Any, chunk: int = 1024) -> np.ndarray:
    out = []
    for lo in range(0, n, chunk):
        out.append(_forward(extractor, source.get(lo, min(lo + chunk, n)))["features"])
        bar.update(len(out[-1]))
    return np.concatenate(out) if out else np.zeros((0, extractor.dim), np.float32)


def _classifier_features(model: Any, images: np.ndarray, bar: Any, batch: int = 1000) -> np.ndarray:
    import torch

    from ..zoo.classifier import to_float

    out = []
    with torch.no_grad():
        for lo in range(0, len(images), batch):
            out.append(model.features(to_float(images[lo:lo + batch])).float().numpy())
            bar.update(len(out[-1]))
    return np.concatenate(out)


def run(cfg: Config, progress: bool = True) -> dict[str, Any]:
    """The stage; returns ``{"files": index, "computed": [...], "comparison": chosen snapshot}``."""
    import torch

    from ..extractors import get_extractor

    torch.manual_seed(cfg.params.seed)
    world = World(cfg)
    P, F = cfg.params.fidclasses, cfg.params.fid_features
    f = cfg.params.features
    out = _Writer(cfg, progress)
    code = _code_fp()
    from ..zoo.eval import eval_sets, load_eval

    available = set(eval_sets(cfg))
    main_sets = [s for s in (P.real, P.heldout, P.generated, P.pool, P.projected) if s in available]
    sets_for_second = main_sets + world.snapshots()

    # 1. second-opinion spaces zoo_eval does not provide (paper profile: CLIP)
    for space in world.spaces:
        ext = None
        for name in sets_for_second:
            if space in load_eval(cfg, name):
                continue
            src = world.source(name)
            fp = hashlib.sha256(f"{code}-{space}-{_images_fp(src, len(src))}".encode()).hexdigest()[:24]
            if ext is None:
                ext = get_extractor(space, device=f.device, weights=cfg.params.weights, root=cfg.root,
                                    profile=cfg.profile)
            out.want(second_key(name, space), fp, len(src), lambda bar, s=src, e=ext: _extract(e, s, len(s), bar))

    # 2. the sibling ImageNet network
    chosen, _ = select_comparison(world, F.compare_n)
    sib = None
    plan = [(P.real, F.sibling_real), (P.generated, F.sibling_generated), (P.projected, F.compare_n),
            (chosen, F.compare_n)]
    done: set[str] = set()
    for name, n in plan:
        if name in done:
            continue
        done.add(name)
        src = world.source(name)
        n = min(n, len(src))
        fp = hashlib.sha256(f"{code}-{F.sibling}-{f.resolution}-{_images_fp(src, n)}".encode()).hexdigest()[:24]
        if sib is None:
            kw: dict[str, Any] = {"resolution": f.resolution} if F.sibling.startswith("effnet") else {}
            sib = get_extractor(F.sibling, device=f.device, weights_path=F.sibling_weights or None, root=cfg.root,
                                **kw)
        out.want(second_key(name, F.sibling), fp, n, lambda bar, s=src, k=n: _extract(sib, s, k, bar))

    # 3. classifier instances (seed 0 = the zoo's; more seeds trained here)
    seeds = F.classifier_seed_list
    if seeds:
        out.index.update(_classifier_instances(cfg, world, seeds, code, out, progress))
    out.finish()
    return {"files": out.index, "computed": out.computed, "comparison": chosen}


def _classifier_instances(cfg: Config, world: World, seeds: tuple[int, ...], code: str, out: _Writer,
                          progress: bool = False) -> dict:
    from ..data import load_imageset
    from ..zoo.classifier import load_classifier, train_classifier
    from ..zoo.registry import zoo_dirs

    zc = cfg.params.zoo.classifier
    if zc is None:
        raise FidClassesError("fid_features.classifier_seeds needs the zoo's domain classifier "
                              f"(profiles.{cfg.profile}.zoo.classifier is null); set classifier_seeds: ''")
    enc = zoo_dirs(cfg)["encoders"] / "classifier" / "ckpt.pt"
    if not enc.is_file():
        raise FidClassesError(f"{enc} not found; run `dvc repro zoo_encoder@classifier`")
    models = {0: (load_classifier(enc), sha256_file(enc))}
    train = load_imageset(zoo_dirs(cfg)["splits"], "real_train")
    ck_dir = features_dir(cfg).parent / "classifiers"
    for seed in seeds:
        if seed in models:
            continue
        ccfg = zc.model_copy(update={"seed": seed})
        tag = hashlib.sha256(json.dumps(ccfg.model_dump(), sort_keys=True).encode()).hexdigest()[:10]
        ckpt = ck_dir / f"seed_{seed}_{tag}.pt"  # the recipe is in the name: a changed config never resumes
        res = train_classifier(train, ccfg, ckpt, n_classes=len(train.class_names), progress=progress)
        models[seed] = (res.model.eval(), sha256_file(ckpt))
    P, F = world.P, cfg.params.fid_features
    plan = [(P.real, F.sibling_real), (P.generated, F.sibling_generated), (P.heldout, None)]
    plan += [(m, None) for m in MODELS if m != P.generated]
    for seed, (model, ck) in sorted(models.items()):
        for name, n in plan:
            src = world.source(name)
            k = len(src) if n is None else min(n, len(src))
            imgs = src.get(0, k)
            fp = hashlib.sha256(f"{code}-clf{seed}-{ck}-{sha256_array(imgs)}".encode()).hexdigest()[:24]
            out.want(second_key(name, f"classifier_s{seed}"), fp, k,
                     lambda bar, m=model, x=imgs: _classifier_features(m, x, bar))
    return {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m beyondfid.fidclasses.extract", description=__doc__.split("\n\n")[0])
    add_stage_arguments(p, progress=True, threads=True)
    args = p.parse_args(argv)
    apply_threads(p, args)
    try:
        cfg = load_config(args.profile, args.params, args.root)
        res = run(cfg, progress=not args.no_progress)
        print(f"{STAGE}: {len(res['files'])} arrays in {features_dir(cfg)}; recomputed {len(res['computed'])}; "
              f"Fig. 7 compares {cfg.params.fidclasses.projected} with {res['comparison']}")
        return 0
    except (ConfigError, FidClassesError, DataError, FeatureError, ExtractorError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
