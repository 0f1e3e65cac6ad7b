"""Diagnosing a generator with distribution classification (paper 3, Sec. 7.1; App. C.4-C.5, F).

Every experiment here is one distribution-classification task (real vs the U-ViT stand-in, or the
same-family pair) whose images -- both classes, training and validation alike -- are first put
through one *setting*: a centre crop, random crops, or a Fourier filter. A :class:`Setting` is a
small, hashable description; :func:`apply_setting` turns uint8 NCHW arrays into the arrays the
classifier sees:

* ``center:<s>`` -- the central ``s x s`` window (:func:`beyondfid.distclass.crops.center_crop`);
* ``random:<s>`` -- ``per_image`` random windows of every training image (the training set grows
  ``per_image``-fold, labels repeated) and one random window of every validation image;
* ``low:<t>``, ``high:<t>``, ``band:<lo>-<hi>`` -- the filters of Eq. 3-4
  (:mod:`beyondfid.distclass.filters`; square mask, or ``circle`` for Fig. 11) at the native image
  side, then :func:`quantise` back to uint8 (the classifiers' pixel path is uint8).

Crops are then resized back to the task's side by the shared pixel path (one PIL bicubic resize,
identical for both classes), as the paper's crops are resized to the network's 224-px input.

**Quantising filtered images.** A filtered image is real-valued: a high-pass or a band without
DC has zero mean and values in about ``[-255, 255]``; a low-pass stays near ``[0, 255]`` with a
little ringing. :func:`quantise` maps every filtered image by the same fixed affine map
``u = clip(round(127.5 + x / 2), 0, 255)``, which holds ``[-255, 255]`` without clipping (a
low-pass image keeps 128 grey levels of its 256). The map is the same for both classes, every
filter and every image, so it can neither create nor hide a difference between the classes
beyond the half-level rounding.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .crops import center_crop, random_crops
from .filters import band_pass, high_pass, low_pass

Kind = Literal["none", "center", "random", "low", "high", "band"]
KINDS = ("none", "center", "random", "low", "high", "band")


class DiagnoseError(ValueError):
    """An impossible setting."""


@dataclass(frozen=True)
class Setting:
    """One preprocessing of both classes: crop or filter (``shape`` = the filter mask)."""

    kind: Kind
    size: int = 0            # crops: side
    low: int = 0             # filters: low threshold (band) / unused
    high: int = 0            # filters: threshold (low, high) / high threshold (band)
    shape: str = "square"
    per_image: int = 1       # random crops per training image
    trial: int = 0           # random crops: the trial (seed of the crop positions)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DiagnoseError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind in ("center", "random") and self.size < 2:
            raise DiagnoseError(f"a crop needs size >= 2, got {self.size}")
        if self.kind == "band" and not 0 <= self.low < self.high:
            raise DiagnoseError(f"a band needs 0 <= low < high, got {self.low}-{self.high}")

    @property
    def label(self) -> str:
        """Short name in tables: ``none``, ``center 14``, ``random 7 #2``, ``low 3``, ``band 1-3 (circle)``."""
        circ = " (circle)" if self.shape == "circle" else ""
        if self.kind == "none":
            return "none"
        if self.kind == "center":
            return f"center {self.size}"
        if self.kind == "random":
            return f"random {self.size} #{self.trial}"
        if self.kind == "band":
            return f"band {self.low}-{self.high}{circ}"
        return f"{self.kind} {self.high}{circ}"

    def key(self) -> dict:
        return {"kind": self.kind, "size": self.size, "low": self.low, "high": self.high, "shape": self.shape,
                "per_image": self.per_image, "trial": self.trial}


def quantise(x: np.ndarray) -> np.ndarray:
    """Filtered float images -> uint8 by the fixed map ``clip(round(127.5 + x / 2), 0, 255)``."""
    return np.clip(np.rint(127.5 + np.asarray(x, dtype=np.float64) / 2.0), 0, 255).astype(np.uint8)


def filtered(images: np.ndarray, s: Setting) -> np.ndarray:
    """The filter of ``s`` applied to uint8 NCHW images, quantised to uint8."""
    if s.kind == "low":
        return quantise(low_pass(images, s.high, s.shape))
    if s.kind == "high":
        return quantise(high_pass(images, s.high, s.shape))
    if s.kind == "band":
        return quantise(band_pass(images, s.low, s.high, s.shape))
    raise DiagnoseError(f"{s.label} is not a filter")


def apply_setting(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, s: Setting,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The task's arrays after setting ``s`` (crops not yet resized; see the module docstring)."""
    if s.kind == "none":
        return x_train, y_train, x_val, y_val
    if s.kind == "center":
        return center_crop(x_train, s.size), y_train, center_crop(x_val, s.size), y_val
    if s.kind == "random":
        # train and val crops come from different streams of the trial's seed
        xt, src = random_crops(x_train, s.size, s.per_image, seed=seed * 1000 + 2 * s.trial)
        xv, _ = random_crops(x_val, s.size, 1, seed=seed * 1000 + 2 * s.trial + 1)
        return xt, np.asarray(y_train)[src], xv, y_val
    return filtered(x_train, s), y_train, filtered(x_val, s), y_val


def frequency_settings(thresholds: tuple[int, ...], circle: bool) -> list[Setting]:
    """Fig. 4's low / high / band settings (bands 0-t1, t1-t2, ...), plus Fig. 11's circular low / high."""
    out = [Setting("low", high=t) for t in thresholds] + [Setting("high", high=t) for t in thresholds]
    edges = (0,) + tuple(thresholds)
    out += [Setting("band", low=a, high=b) for a, b in zip(edges[:-1], edges[1:])]
    if circle:
        out += [Setting("low", high=t, shape="circle") for t in thresholds]
        out += [Setting("high", high=t, shape="circle") for t in thresholds]
    return out


def band_settings(thresholds: tuple[int, ...]) -> list[Setting]:
    """Table 16's bands 0-t1, t1-t2, ... (square mask)."""
    edges = (0,) + tuple(thresholds)
    return [Setting("band", low=a, high=b) for a, b in zip(edges[:-1], edges[1:])]


def check_mappings(crops_cfg, freq_cfg, profile: str) -> dict:
    """Check that params.yaml's crop sides and thresholds are the paper's mapped to our side (fails naming the key).

    Crops: :func:`beyondfid.distclass.crops.map_crop_sizes` (sides below 2 px are dropped);
    thresholds: :func:`beyondfid.distclass.filters.scale_threshold`. Returns the mapping for tables.
    """
    from ..config import ConfigError
    from .crops import map_crop_sizes
    from .filters import scale_threshold

    out: dict = {}
    for key in ("center", "random"):
        paper = tuple(int(v) for v in getattr(crops_cfg, f"paper_{key}").split(","))
        m = map_crop_sizes(paper, crops_cfg.paper_image, crops_cfg.image)
        want = tuple(c.size for c in m if c.runnable)
        have = crops_cfg.center_sizes if key == "center" else crops_cfg.random_sizes
        if have != want:
            raise ConfigError(f"profiles.{profile}.distclass.crops.{key} = {have} but the paper's {paper} at "
                              f"{crops_cfg.paper_image} px map to {want} at {crops_cfg.image} px")
        out[key] = m
    want_t = tuple(scale_threshold(t, freq_cfg.paper_image, freq_cfg.image) for t in freq_cfg.paper_threshold_list)
    if freq_cfg.threshold_list != want_t:
        raise ConfigError(f"profiles.{profile}.distclass.frequency.thresholds = {freq_cfg.threshold_list} but the paper's "
                          f"{freq_cfg.paper_threshold_list} map to {want_t} at {freq_cfg.image} px")
    out["thresholds"] = dict(zip(freq_cfg.paper_threshold_list, freq_cfg.threshold_list))
    return out


# --------------------------------------------------------------------------------------
# Running settings as distribution-classification runs
# --------------------------------------------------------------------------------------


def transform_task(task, transform: dict, seed: int = 0):
    """The :class:`~beyondfid.distclass.task.Task` after the setting ``Setting(**transform)``.

    Crops are resized back to the task's side by the pixel path's resize (the same for both
    classes); random crops repeat each training image's label and pool row ``per_image`` times.
    """
    from .pixels import resize
    from .task import Task

    s = Setting(**transform)
    side = task.x_train.shape[-1]
    xt, yt, xv, yv = apply_setting(task.x_train, task.y_train, task.x_val, task.y_val, s, seed)
    if xt.shape[-1] != side:
        xt, xv = resize(xt, side), resize(xv, side)
    ti = np.repeat(task.train_index, s.per_image) if s.kind == "random" else task.train_index
    return Task(task.spec, xt, np.asarray(yt, np.int64), xv, np.asarray(yv, np.int64), ti, task.val_index)


@dataclass(frozen=True)
class SettingRun:
    """A distribution-classification run (``spec``) whose images first go through ``setting``."""

    spec: object          # beyondfid.distclass.runs.RunSpec
    setting: Setting

    @property
    def run_id(self) -> str:
        key = dict(self.spec.key(), transform=self.setting.key())
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "setting": self.setting.key()}

    @classmethod
    def from_dict(cls, d: dict) -> "SettingRun":
        from .runs import RunSpec

        return cls(RunSpec.from_dict(d["spec"]), Setting(**d["setting"]))


def setting_recipe(recipe, s: Setting):
    """The recipe of a setting's run: random crops train ``epochs / per_image`` over their ``per_image``-fold
    training set, i.e. as many steps as every other run (params.yaml, distclass.crops)."""
    return recipe.model_copy(update={"epochs": recipe.epochs / s.per_image}) if s.kind == "random" else recipe


_POOLS: dict = {}


def execute_setting(cfg, run: SettingRun, root, progress: bool = False):
    """Train and evaluate one :class:`SettingRun` (or read its stored result); writes ``<root>/<id>/result.json``.

    A stop-gap until ``RunSpec`` takes a transform (the request in API_distclass.md): the run goes
    through the same :func:`~beyondfid.distclass.task.build_task` and
    :func:`~beyondfid.distclass.train.train_task` as every issue-13 run.
    """
    from ..io import save_json
    from .runs import discard_stale, pool_digests
    from .task import build_task
    from .train import RunResult, train_task

    d = Path(root) / run.run_id
    spec = run.spec
    pools = pool_digests(cfg, spec.task, _POOLS)
    discard_stale(d, pools)  # trained on other pixels (e.g. a retrained zoo model): train again
    if (d / "result.json").is_file():
        return RunResult.from_dict(json.loads((d / "result.json").read_text())["result"])
    d.mkdir(parents=True, exist_ok=True)
    task = transform_task(build_task(cfg, spec.task, cache=_POOLS), run.setting.key(), seed=spec.seed)
    res = train_task(task, spec.arch, spec.recipe, seed=spec.seed, ckpt_path=d / "ckpt.pt", progress=progress,
                     desc=f"{spec.tag}:{run.setting.label}"[:60],
                     meta={"task": json.dumps(spec.task.to_dict(), sort_keys=True),
                           "transform": json.dumps(run.setting.key(), sort_keys=True),
                           "pools": json.dumps(pools, sort_keys=True)})
    save_json(d / "result.json", {"run": run.to_dict(), "pools": pools, "result": res.to_dict()})
    return res


def _setting_worker(cfg, run_dict: dict, root: str) -> str:
    run = SettingRun.from_dict(run_dict)
    execute_setting(cfg, run, root)
    return run.run_id


def run_settings(cfg, runs, root, *, workers: int = 1, threads: int = 1, progress: bool = True) -> dict:
    """Results (``run_id -> RunResult``) of every :class:`SettingRun`, computing missing ones in a pool of
    ``workers`` processes with ``threads`` torch threads each (as ``distclass.runner``'s local launcher)."""
    from .pool import parallel_map
    from .runs import pool_digests, recorded_pools

    runs = list({r.run_id: r for r in runs}.values())
    todo = [r for r in runs if not (Path(root) / r.run_id / "result.json").is_file()
            or recorded_pools(Path(root) / r.run_id) != pool_digests(cfg, r.spec.task, _POOLS)]
    todo.sort(key=lambda r: -r.spec.cost)
    parallel_map(_setting_worker, [(cfg, r.to_dict(), str(root)) for r in todo], workers=workers, threads=threads,
                 progress=progress, desc="runs")
    return {r.run_id: execute_setting(cfg, r, root) for r in runs}


# --------------------------------------------------------------------------------------
# Tables with the paper's values beside ours
# --------------------------------------------------------------------------------------

# Table 7 (U-H/2 vs I-256, ResNet-50): accuracy (%) by crop; random crops: mean over four trials (± std, Sec. 7.1)
PAPER_TABLE7 = {("none", 0): "99.96", ("center", 128): "99.96", ("center", 64): "99.97", ("center", 32): "99.97",
                ("center", 16): "99.78", ("random", 128): "99.97 ± 0.004", ("random", 64): "99.97 ± 0.007"}
# Table 16 (E2-XS vs E2-XXL, ResNet-50): accuracy (%) by band
PAPER_TABLE16 = {(0, 10): 57.94, (10, 30): 58.96, (30, 50): 58.12, (50, 100): 50.48}
# Fig. 4 (U-H/2 vs I-256) gives no numbers in the text: its claim, per filter
PAPER_FIG4 = {"low": "near chance at the smallest threshold (10), high above", "high": "high at every threshold",
              "band": "near chance for 0-10, high for every other band"}


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def crops_table(results: list[dict], mapping: dict, scale: str):
    """Table 7: one row per crop (centre crops, random crops over trials), the paper's accuracy beside ours.

    ``results`` rows: ``{"setting": Setting, "record": AccuracyRecord}``; ``mapping`` from
    :func:`check_mappings`. Crops the paper ran but we could not (below 2 px) appear with a note.
    """
    import pandas as pd

    from .significance import mean_std

    rows = []
    none = [r for r in results if r["setting"].kind == "none"]
    for r in none:
        rec = r["record"]
        rows.append({"crop": "None", "paper side": 256, "our side": r.get("side", ""), "paper accuracy (%)":
                     PAPER_TABLE7[("none", 0)], "our accuracy (%)": _pct(rec.accuracy),
                     "95% CI": f"[{_pct(rec.ci_low)}, {_pct(rec.ci_high)}]", "p vs chance": rec.p_value,
                     "runs": 1, "scale": scale})
    for kind, mark in (("center", "†"), ("random", "*")):
        for m in mapping[kind]:
            label = f"{m.paper_size}{mark}"
            paper = PAPER_TABLE7.get((kind, m.paper_size), "–")
            if not m.runnable:
                rows.append({"crop": label, "paper side": m.paper_size, "our side": f"{m.exact:g} px (< 2): not run",
                             "paper accuracy (%)": paper, "our accuracy (%)": "–", "95% CI": "–",
                             "p vs chance": float("nan"), "runs": 0, "scale": scale})
                continue
            mine = [r["record"] for r in results if r["setting"].kind == kind and r["setting"].size == m.size]
            if not mine:
                continue
            if len(mine) == 1:
                rec = mine[0]
                acc, ci, p = _pct(rec.accuracy), f"[{_pct(rec.ci_low)}, {_pct(rec.ci_high)}]", rec.p_value
            else:
                mu, sd = mean_std([x.accuracy for x in mine])
                acc = f"{100 * mu:.1f} ± {100 * sd:.1f}"
                ci = f"per trial: [{_pct(min(x.ci_low for x in mine))}, {_pct(max(x.ci_high for x in mine))}]"
                p = max(x.p_value for x in mine)
            rows.append({"crop": label, "paper side": m.paper_size, "our side": m.size, "paper accuracy (%)": paper,
                         "our accuracy (%)": acc, "95% CI": ci, "p vs chance": p, "runs": len(mine),
                         "scale": scale})
    return pd.DataFrame(rows)


def frequency_table(results: list[dict], thresholds: dict, scale: str):
    """Fig. 4 / Fig. 11 as a table: every filter setting, its threshold at 256 px and ours, our accuracy."""
    import pandas as pd

    inv = {v: k for k, v in thresholds.items()}
    inv[0] = 0
    rows = []
    for r in results:
        s, rec = r["setting"], r["record"]
        paper_t = f"{inv.get(s.low, '?')}-{inv.get(s.high, '?')}" if s.kind == "band" else str(inv.get(s.high, "?"))
        ours = f"{s.low}-{s.high}" if s.kind == "band" else str(s.high)
        rows.append({"filter": s.kind, "mask": s.shape, "paper threshold": paper_t, "our threshold": ours,
                     "our accuracy (%)": _pct(rec.accuracy), "95% CI": f"[{_pct(rec.ci_low)}, {_pct(rec.ci_high)}]",
                     "p vs chance": rec.p_value, "paper (Fig. 4, qualitative)": PAPER_FIG4.get(s.kind, ""),
                     "scale": scale})
    return pd.DataFrame(rows)


def band_table(results: list[dict], thresholds: dict, scale: str):
    """Table 16: band-pass accuracy on the same-family pair, the paper's numbers beside ours."""
    import pandas as pd

    inv = {v: k for k, v in thresholds.items()}
    inv[0] = 0
    rows = []
    for r in results:
        s, rec = r["setting"], r["record"]
        pb = (inv[s.low], inv[s.high])
        rows.append({"paper band": f"{pb[0]}-{pb[1]}", "our band": f"{s.low}-{s.high}",
                     "paper accuracy (%)": PAPER_TABLE16.get(pb, float("nan")),
                     "our accuracy (%)": _pct(rec.accuracy), "95% CI": f"[{_pct(rec.ci_low)}, {_pct(rec.ci_high)}]",
                     "p vs chance": rec.p_value, "scale": scale})
    return pd.DataFrame(rows)
