"""The human study of the distribution-classification paper (Sec. 6, Fig. 3, Fig. 10, Appendix C.6).

A pipeline cannot invent participants, but it can ship the instrument and the analysis:

* :func:`build_study` turns the zoo's images into a **self-contained static page** (one HTML
  file, images inlined as PNG data URIs, no server, no network) with the paper's three tasks of
  ``n_pairs`` two-alternative pairs each: real vs generated ("which is real?"), two
  different-family models at similar FID with reference images of both shown ("which is from
  model A?"), and the same-family pair ("which is of higher quality?"). Each participant's page
  draws its own seed and shuffles the pairs within every task and the left/right placement of
  every pair; images can be zoomed. At the end the participant downloads their answers as a
  JSON file. The page holds only anonymous ``a``/``b`` images; which is which lives in the
  answer key ``key.json`` that stays with the experimenter.
* :func:`load_responses` reads every response file under a folder (``data/human_study/``) and
  checks it against the key; :func:`score_responses` gives accuracy per participant and task;
  :func:`classifier_pair_accuracy` scores a classifier on the *same* pairs (it picks, of the two
  images, the one it gives the higher probability of the task's target), so that humans and
  classifiers are compared on identical pairs as in Fig. 3.

Accuracy of a participant on a task = the share of its pairs where they chose the image from
the task's target distribution (real / model A / the larger model of the family).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..io import save_json, save_text

RESPONSE_FORMAT = "beyondfid-human-study-response-v1"
KEY_FORMAT = "beyondfid-human-study-key-v1"


class HumanStudyError(ValueError):
    """A study cannot be built from these images, or a response file does not fit its key."""


@dataclass(frozen=True)
class StudyTask:
    """One task: pairs of (target image, other image), shown in random order and placement.

    ``target_images[i]`` and ``other_images[i]`` form pair ``i`` (uint8 NCHW, equal counts);
    ``*_index`` records each image's row in the set it was drawn from (provenance, in the key).
    ``references`` (task 2) maps a display name to example images shown above every pair.
    """

    key: str
    title: str
    question: str
    target: str
    other: str
    target_images: np.ndarray
    other_images: np.ndarray
    target_index: np.ndarray
    other_index: np.ndarray
    references: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("target_images", "other_images"):
            a = getattr(self, name)
            if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1] not in (1, 3):
                raise HumanStudyError(f"task {self.key}: {name} must be uint8 NCHW (1 or 3 channels), got "
                                      f"{a.dtype} {a.shape}")
        if len(self.target_images) != len(self.other_images) or len(self.target_images) == 0:
            raise HumanStudyError(f"task {self.key}: needs equal, non-zero numbers of target and other images, "
                                  f"got {len(self.target_images)} and {len(self.other_images)}")
        if len(self.target_index) != len(self.target_images) or len(self.other_index) != len(self.other_images):
            raise HumanStudyError(f"task {self.key}: one provenance index per image is required")

    @property
    def n_pairs(self) -> int:
        return len(self.target_images)


def choose_pair_rows(n_target: int, n_other: int, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded rows (without replacement) of the target and the other set that form ``n_pairs`` pairs."""
    if n_pairs < 1 or n_pairs > min(n_target, n_other):
        raise HumanStudyError(f"cannot form {n_pairs} pairs from {n_target} target and {n_other} other images; "
                              f"lower n_pairs or provide more validation images")
    rng = np.random.default_rng(seed)
    return (np.sort(rng.choice(n_target, n_pairs, replace=False)),
            np.sort(rng.choice(n_other, n_pairs, replace=False)))


@dataclass(frozen=True)
class StudySpec:
    """What one task compares: ``target`` vs ``other`` (pool names), optionally with reference images."""

    key: str
    title: str
    question: str
    target: str
    other: str
    target_label: str = ""   # how the page names the target in references (e.g. "model A")
    other_label: str = ""
    n_references: int = 0


def study_rows(pools: Mapping[str, int], specs: Sequence[StudySpec], n_pairs: int, seed: int
               ) -> dict[str, dict[str, np.ndarray]]:
    """Seeded, disjoint rows of every pool for every task's pairs and references.

    ``pools`` maps a pool name to its size. A pool used by several tasks (a model in two tasks)
    gives each task different images, and references never reuse pair images, so that every study
    image can be kept out of the classifiers' training sets (:func:`used_rows`).
    Returns ``{task_key: {"target": rows, "other": rows, "target_ref": rows, "other_ref": rows}}``.
    """
    rng = np.random.default_rng(seed)
    free = {name: rng.permutation(n) for name, n in pools.items()}
    taken = {name: 0 for name in pools}

    def take(name: str, k: int) -> np.ndarray:
        if name not in free:
            raise HumanStudyError(f"unknown pool {name!r} (have {', '.join(pools)})")
        if taken[name] + k > len(free[name]):
            raise HumanStudyError(f"pool {name!r} has {len(free[name])} images, too few for the study's "
                                  f"{taken[name] + k}; lower n_pairs / n_references")
        out = free[name][taken[name]: taken[name] + k]
        taken[name] += k
        return np.sort(out)

    rows = {}
    for s in specs:
        rows[s.key] = {"target": take(s.target, n_pairs), "other": take(s.other, n_pairs),
                       "target_ref": take(s.target, s.n_references), "other_ref": take(s.other, s.n_references)}
    return rows


def used_rows(rows: Mapping[str, Mapping[str, np.ndarray]], specs: Sequence[StudySpec]) -> dict[str, np.ndarray]:
    """Every row of every pool that the study shows (pairs and references), per pool."""
    out: dict[str, list[np.ndarray]] = {}
    for s in specs:
        r = rows[s.key]
        out.setdefault(s.target, []).extend([r["target"], r["target_ref"]])
        out.setdefault(s.other, []).extend([r["other"], r["other_ref"]])
    return {k: np.unique(np.concatenate(v)) for k, v in out.items()}


def make_tasks(images: Mapping[str, np.ndarray], specs: Sequence[StudySpec],
               rows: Mapping[str, Mapping[str, np.ndarray]],
               index_of: Mapping[str, np.ndarray] | None = None) -> list[StudyTask]:
    """The :class:`StudyTask` of every spec from the pools' images and :func:`study_rows`.

    ``index_of[pool][r]`` is the provenance recorded for row ``r`` of ``images[pool]`` (default: ``r``),
    e.g. the pool row when ``images`` holds only a pool's validation images.
    """
    out = []
    for s in specs:
        r = rows[s.key]
        tgt, oth = images[s.target], images[s.other]
        refs = ({s.target_label or s.target: tgt[r["target_ref"]], s.other_label or s.other: oth[r["other_ref"]]}
                if s.n_references else {})
        # pair i = (i-th target row, i-th other row); rows are sorted, so shuffle the other side's order
        perm = np.random.default_rng(len(out)).permutation(len(r["other"]))
        idx = (lambda name, rr: np.asarray(index_of[name])[rr]) if index_of else (lambda name, rr: rr)
        out.append(StudyTask(s.key, s.title, s.question, s.target, s.other, tgt[r["target"]],
                             oth[r["other"][perm]], idx(s.target, r["target"]), idx(s.other, r["other"][perm]), refs))
    return out


def png_data_uri(image: np.ndarray) -> str:
    """One uint8 CHW image as a ``data:image/png;base64,...`` URI (gray for 1 channel)."""
    from PIL import Image

    a = np.asarray(image)
    arr = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pair_id(task: StudyTask, i: int) -> str:
    return f"{task.key}-{i:03d}"


def study_content(tasks: Sequence[StudyTask], seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page's data (anonymous a/b images) and the answer key, with a shared ``study_id``.

    Which of a pair's two images is ``a`` is drawn with ``seed`` (so that ``a`` is not always the
    target); the page then shuffles order and left/right per participant.
    """
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise HumanStudyError(f"task keys must be distinct, got {keys}")
    rng = np.random.default_rng(seed)
    page_tasks, key_tasks, key_pairs = [], {}, {}
    for t in tasks:
        pairs = []
        for i in range(t.n_pairs):
            target_is_a = bool(rng.integers(0, 2))
            imgs = (t.target_images[i], t.other_images[i]) if target_is_a else (t.other_images[i], t.target_images[i])
            pid = _pair_id(t, i)
            pairs.append({"id": pid, "a": png_data_uri(imgs[0]), "b": png_data_uri(imgs[1])})
            key_pairs[pid] = {
                "task": t.key, "target": "a" if target_is_a else "b",
                "a": t.target if target_is_a else t.other, "b": t.other if target_is_a else t.target,
                "a_index": int(t.target_index[i] if target_is_a else t.other_index[i]),
                "b_index": int(t.other_index[i] if target_is_a else t.target_index[i]),
            }
        refs = [{"name": name, "images": [png_data_uri(im) for im in ims]} for name, ims in t.references.items()]
        page_tasks.append({"key": t.key, "title": t.title, "question": t.question, "pairs": pairs, "references": refs})
        key_tasks[t.key] = {"title": t.title, "question": t.question, "target": t.target, "other": t.other,
                            "n_pairs": t.n_pairs, "part": len(key_tasks) + 1}  # its place on the page
    digest = hashlib.sha256(json.dumps([page_tasks, key_pairs], sort_keys=True).encode()).hexdigest()[:16]
    page = {"study_id": digest, "format": RESPONSE_FORMAT, "tasks": page_tasks}
    key = {"format": KEY_FORMAT, "study_id": digest, "tasks": key_tasks, "pairs": key_pairs}
    return page, key


def build_study(tasks: Sequence[StudyTask], out_dir: str | Path, seed: int, title: str = "Which image is which?"
                ) -> dict[str, Any]:
    """Write ``index.html`` (the self-contained study page) and ``key.json`` (the answer key) to ``out_dir``."""
    page, key = study_content(tasks, seed)
    out = Path(out_dir)
    html = _PAGE.replace("__TITLE__", _escape(title)).replace("__DATA__", json.dumps(page).replace("</", "<\\/"))
    save_text(out / "index.html", html)
    save_json(out / "key.json", key)
    return key


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --------------------------------------------------------------------------------------
# Responses and scoring
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """One participant's answers: ``choices[pair_id]`` is ``"a"`` or ``"b"``."""

    path: Path
    participant: str
    seed: int
    choices: dict[str, str]
    order: list[str]
    rt_ms: dict[str, float]


def load_key(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise HumanStudyError(f"answer key {p} not found; build the study first (the dc_human_study stage)")
    key = json.loads(p.read_text())
    if key.get("format") != KEY_FORMAT:
        raise HumanStudyError(f"{p} is not a human-study answer key ({KEY_FORMAT})")
    # JSON is written with sorted keys; put the tasks back in page order (parts 1-3), which every
    # figure and table of the analysis follows
    key["tasks"] = dict(sorted(key["tasks"].items(), key=lambda kv: kv[1].get("part", 0)))
    return key


def parse_response(obj: Any, key: Mapping[str, Any], path: str | Path = "<response>") -> Response:
    """Check one response against the key: same study, every pair answered exactly once with a or b."""
    where = str(path)
    if not isinstance(obj, dict) or obj.get("format") != RESPONSE_FORMAT:
        raise HumanStudyError(f"{where}: not a human-study response ({RESPONSE_FORMAT}); remove it from the folder")
    if obj.get("study_id") != key["study_id"]:
        raise HumanStudyError(f"{where}: answers study {obj.get('study_id')!r}, but the key is for study "
                              f"{key['study_id']!r} (a page built from other images); move it elsewhere")
    trials = obj.get("trials")
    if not isinstance(trials, list):
        raise HumanStudyError(f"{where}: no 'trials' list")
    choices: dict[str, str] = {}
    order: list[str] = []
    rts: dict[str, float] = {}
    for t in trials:
        pid, ch = (t.get("pair"), t.get("choice")) if isinstance(t, dict) else (None, None)
        if pid not in key["pairs"]:
            raise HumanStudyError(f"{where}: trial for unknown pair {pid!r}")
        if ch not in ("a", "b"):
            raise HumanStudyError(f"{where}: pair {pid} has choice {ch!r}, expected 'a' or 'b'")
        if pid in choices:
            raise HumanStudyError(f"{where}: pair {pid} answered twice")
        choices[pid] = ch
        order.append(pid)
        rts[pid] = float(t.get("rt_ms", float("nan")))
    missing = sorted(set(key["pairs"]) - set(choices))
    if missing:
        raise HumanStudyError(f"{where}: {len(missing)} pairs unanswered (e.g. {missing[:3]}); the participant "
                              f"must finish the study before downloading")
    return Response(Path(path), str(obj.get("participant", "")), int(obj.get("seed", -1)), choices, order, rts)


def response_files(folder: str | Path) -> list[Path]:
    """Every ``*.json`` under ``folder`` (recursively, sorted); none if the folder does not exist."""
    f = Path(folder)
    return sorted(p for p in f.rglob("*.json") if p.is_file()) if f.is_dir() else []


def load_responses(folder: str | Path, key: Mapping[str, Any]) -> list[Response]:
    """Every response file under ``folder``, each checked against ``key`` (a bad file raises, naming it)."""
    out = []
    for p in response_files(folder):
        try:
            obj = json.loads(p.read_text())
        except json.JSONDecodeError as err:
            raise HumanStudyError(f"{p}: not valid JSON ({err}); fix or remove the file") from None
        out.append(parse_response(obj, key, p))
    return out


def score_responses(responses: Sequence[Response], key: Mapping[str, Any]):
    """Accuracy per participant and task: ``mean_i [choice_i == target_i]`` over the task's pairs."""
    import pandas as pd

    rows = []
    for r in responses:
        for task in key["tasks"]:
            pids = [p for p, v in key["pairs"].items() if v["task"] == task]
            correct = [r.choices[p] == key["pairs"][p]["target"] for p in pids]
            rows.append({"participant": r.participant or r.path.stem, "file": r.path.name, "task": task,
                         "n_pairs": len(pids), "correct": int(sum(correct)), "accuracy": float(np.mean(correct))})
    return pd.DataFrame(rows, columns=["participant", "file", "task", "n_pairs", "correct", "accuracy"])


def classifier_pair_accuracy(p_target_a: np.ndarray, p_target_b: np.ndarray, target_is_a: np.ndarray) -> float:
    """A classifier's accuracy on pairs: it picks ``a`` iff ``p(target | a) > p(target | b)``.

    ``p_target_*`` are its probabilities of the task's target class for each pair's two images;
    ties count as half right (the classifier cannot tell the two apart).
    """
    pa, pb, ta = (np.asarray(v) for v in (p_target_a, p_target_b, target_is_a))
    if not (pa.shape == pb.shape == ta.shape) or pa.ndim != 1 or len(pa) == 0:
        raise HumanStudyError(f"need three equal-length 1-D arrays, got {pa.shape}, {pb.shape}, {ta.shape}")
    picks_a = np.where(pa == pb, 0.5, (pa > pb).astype(float))
    return float(np.mean(np.where(ta.astype(bool), picks_a, 1.0 - picks_a)))


def summarise(scores, by: str = "task"):
    """Mean, std (ddof=1 over participants; 0 for one) and count of accuracy per ``by``."""
    g = scores.groupby(by)["accuracy"]
    out = g.agg(["mean", "count"]).rename(columns={"count": "n"})
    out["std"] = g.std(ddof=1).fillna(0.0)
    return out.reset_index()


# --------------------------------------------------------------------------------------
# Headless screenshots (Fig. 10)
# --------------------------------------------------------------------------------------

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


def find_chromium() -> str | None:
    """Debian's chromium (or ``$BEYONDFID_CHROMIUM``), or None when none is installed."""
    import os
    import shutil

    exe = os.environ.get("BEYONDFID_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return exe if exe and Path(exe).exists() else None


def advance_to_task(page: Any, task_index: int, pairs_per_task: Sequence[int]) -> None:
    """Drive an open study page to the first pair of task ``task_index`` (answering 'left' before it)."""
    for _ in range(int(sum(pairs_per_task[:task_index]))):
        page.click("#left")


def screenshot_tasks(html: str | Path, out_dir: str | Path, pairs_per_task: Sequence[int], *, seed: int = 1,
                     zoom: int = 4, width: int = 1000, height: int = 720, browser: Any = None) -> list[Path]:
    """One PNG per task of the study page at its first pair (participant seed fixed by ``?seed=``).

    Uses ``browser`` (a Playwright browser) when given, else launches the local chromium headless.
    """
    shots = []

    def run(b: Any) -> None:
        for ti in range(len(pairs_per_task)):
            ctx = b.new_context(viewport={"width": width, "height": height})
            page = ctx.new_page()
            page.goto(Path(html).resolve().as_uri() + f"?seed={seed}")
            page.fill("#participant", "screenshot")
            page.click("#start")
            page.fill("#zoom", str(zoom))
            page.dispatch_event("#zoom", "input")
            advance_to_task(page, ti, pairs_per_task)
            p = Path(out_dir) / f"screenshot_task{ti + 1}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(p), full_page=True)
            shots.append(p)
            ctx.close()

    if browser is not None:
        run(browser)
        return shots
    exe = find_chromium()
    if exe is None:
        raise HumanStudyError("no Chromium found for the Fig. 10 screenshots; install it with "
                              "`sudo apt-get install chromium` or set BEYONDFID_CHROMIUM=/path/to/chromium")
    from playwright.sync_api import sync_playwright

    def launch_and_run() -> None:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=exe, args=list(CHROMIUM_ARGS))
            try:
                run(b)
            finally:
                b.close()

    # Playwright's sync API refuses to start inside a running asyncio loop (a Jupyter kernel, so
    # every papermill-run notebook); a worker thread has no loop of its own.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(launch_and_run).result()
    return shots


# --------------------------------------------------------------------------------------
# The page (static HTML + JS; the study data is inlined at __DATA__)
# --------------------------------------------------------------------------------------

_PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 16px; color: #222; }
 h1 { font-size: 1.4em; margin: 0 0 8px; }
 .screen { display: none; } .screen.on { display: block; }
 .pair { display: flex; gap: 32px; justify-content: center; margin: 16px 0; }
 .choice { border: 3px solid #ccc; border-radius: 8px; padding: 8px; background: #fff; cursor: pointer; text-align: center; }
 .choice:hover, .choice:focus { border-color: #1f77b4; outline: none; }
 .choice img, .refs img { image-rendering: pixelated; image-rendering: crisp-edges; display: block; }
 .refs { display: flex; gap: 24px; justify-content: center; flex-wrap: wrap; margin: 8px 0; padding: 8px; background: #f4f4f4; border-radius: 8px; }
 .refs figure { margin: 0; } .refs .row { display: flex; gap: 4px; flex-wrap: wrap; max-width: 460px; }
 .refs figcaption { font-weight: 600; margin-bottom: 4px; }
 .bar { display: flex; justify-content: space-between; align-items: center; font-size: 0.95em; color: #555; }
 #question { font-size: 1.25em; font-weight: 600; text-align: center; margin: 12px 0 0; }
 button.big { font-size: 1.1em; padding: 8px 20px; }
</style></head>
<body>
<h1>__TITLE__</h1>
<div class="bar"><span id="progress"></span>
 <label>zoom <input id="zoom" type="range" min="1" max="12" step="1" value="5"> <span id="zoomval"></span></label></div>

<div id="intro" class="screen on">
 <p>You will see <b id="npairs"></b> pairs of small images in <b id="ntasks"></b> parts. Each part asks one
 question; for every pair click the image (or press the left / right arrow key) that you think answers it.
 Take your time; use the zoom slider (or your browser's zoom) to look closely. There is no feedback
 during the study. At the end, download your answers and send the file to the experimenter.</p>
 <p><label>Participant ID (any name or code): <input id="participant" autocomplete="off"></label></p>
 <p><button id="start" class="big">Start</button></p>
</div>

<div id="trial" class="screen">
 <div id="tasktitle" style="font-weight:600"></div>
 <div id="refs" class="refs" style="display:none"></div>
 <p id="question"></p>
 <div class="pair">
  <div id="left" class="choice" tabindex="0" role="button" aria-label="left image"><img alt="left image"><div>left</div></div>
  <div id="right" class="choice" tabindex="0" role="button" aria-label="right image"><img alt="right image"><div>right</div></div>
 </div>
</div>

<div id="done" class="screen">
 <p>Thank you! You answered every pair. Please download your answers and send the file to the experimenter.</p>
 <p><button id="download" class="big">Download answers (JSON)</button></p>
</div>

<script>
"use strict";
const STUDY = __DATA__;
function mulberry32(a) { return function() { a |= 0; a = a + 0x6D2B79F5 | 0; let t = Math.imul(a ^ a >>> 15, 1 | a);
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t; return ((t ^ t >>> 14) >>> 0) / 4294967296; }; }
function shuffle(arr, rnd) { for (let i = arr.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1));
  [arr[i], arr[j]] = [arr[j], arr[i]]; } return arr; }
const urlSeed = new URLSearchParams(window.location.search).get("seed");
const seed = urlSeed !== null ? (parseInt(urlSeed, 10) >>> 0) : crypto.getRandomValues(new Uint32Array(1))[0];
const rnd = mulberry32(seed);
// Per participant: the pairs of every task in a random order, each pair's a/b placed left or right at random.
const trials = [];
STUDY.tasks.forEach((task, ti) => {
  shuffle(task.pairs.slice(), rnd).forEach(p => trials.push({ task: ti, pair: p, left: rnd() < 0.5 ? "a" : "b" }));
});
const answers = []; let k = -1; let shownAt = 0; let started = null;
const $ = id => document.getElementById(id);
$("npairs").textContent = trials.length; $("ntasks").textContent = STUDY.tasks.length;
function setZoom() { const z = parseInt($("zoom").value, 10); $("zoomval").textContent = z + "x";
  document.querySelectorAll(".choice img").forEach(im => { im.width = 28 * z; im.height = 28 * z; });
  document.querySelectorAll(".refs img").forEach(im => { im.width = 14 * z; im.height = 14 * z; }); }
$("zoom").addEventListener("input", setZoom);
function show(id) { document.querySelectorAll(".screen").forEach(s => s.classList.toggle("on", s.id === id)); }
function renderRefs(task) {
  const box = $("refs"); box.innerHTML = "";
  if (!task.references.length) { box.style.display = "none"; return; }
  task.references.forEach(r => { const f = document.createElement("figure"); const c = document.createElement("figcaption");
    c.textContent = r.name; f.appendChild(c); const row = document.createElement("div"); row.className = "row";
    r.images.forEach(src => { const im = document.createElement("img"); im.src = src; im.alt = r.name; row.appendChild(im); });
    f.appendChild(row); box.appendChild(f); });
  box.style.display = "flex";
}
function next() {
  k += 1;
  if (k >= trials.length) { show("done"); $("progress").textContent = "finished"; return; }
  const t = trials[k]; const task = STUDY.tasks[t.task];
  if (k === 0 || trials[k - 1].task !== t.task) { renderRefs(task); }
  $("tasktitle").textContent = "Part " + (t.task + 1) + " of " + STUDY.tasks.length + ": " + task.title;
  $("question").textContent = task.question;
  const right = t.left === "a" ? "b" : "a";
  $("left").querySelector("img").src = t.pair[t.left]; $("right").querySelector("img").src = t.pair[right];
  $("trial").dataset.pair = t.pair.id; $("trial").dataset.task = task.key;
  $("progress").textContent = "pair " + (k + 1) + " of " + trials.length;
  setZoom(); shownAt = performance.now();
}
function answer(side) {
  if (k < 0 || k >= trials.length) { return; }
  const t = trials[k]; const shown = side === "left" ? t.left : (t.left === "a" ? "b" : "a");
  answers.push({ order: k, task: STUDY.tasks[t.task].key, pair: t.pair.id, left: t.left, side: side, choice: shown,
                 rt_ms: Math.round(performance.now() - shownAt) });
  next();
}
$("left").addEventListener("click", () => answer("left"));
$("right").addEventListener("click", () => answer("right"));
document.addEventListener("keydown", e => { if (!$("trial").classList.contains("on")) { return; }
  if (e.key === "ArrowLeft") { answer("left"); } else if (e.key === "ArrowRight") { answer("right"); } });
$("start").addEventListener("click", () => { started = new Date().toISOString(); show("trial"); next(); });
$("download").addEventListener("click", () => {
  const who = ($("participant").value || "anonymous").trim();
  const out = { format: STUDY.format, study_id: STUDY.study_id, participant: who, seed: seed, started: started,
                finished: new Date().toISOString(), user_agent: navigator.userAgent, trials: answers };
  const blob = new Blob([JSON.stringify(out, null, 1)], { type: "application/json" });
  const a = document.createElement("a"); a.href = URL.createObjectURL(blob);
  a.download = "human_study_" + who.replace(/[^A-Za-z0-9_-]/g, "_") + "_" + seed + ".json";
  document.body.appendChild(a); a.click(); a.remove();
});
setZoom();
</script>
</body></html>
"""


# --------------------------------------------------------------------------------------
# The dc_human_study stage: the page of the profile's zoo
# --------------------------------------------------------------------------------------

TASK_KEYS = ("real_vs_generated", "model_a_vs_b", "quality")


def study_specs(cfg: Any) -> list[StudySpec]:
    """The paper's three tasks on the profile's pools: real vs ``human.generated``; the issue-13 cross-family
    pair (``family.cross``, "which is from model A?", references shown); the same-family pair
    (``family.small`` vs ``family.large``, "which is of higher quality?", the larger model the target)."""
    d = cfg.params.distclass
    a, b = d.family.cross_names
    return [
        StudySpec(TASK_KEYS[0], "Real or generated?", "Which image is real?", d.binary.real, d.human.generated),
        StudySpec(TASK_KEYS[1], "Two generators", "Which image is from model A?", a, b, "model A", "model B",
                  d.human.n_references),
        StudySpec(TASK_KEYS[2], "Two sizes of one model family", "Which image is of higher quality?",
                  d.family.large, d.family.small),
    ]


def validation_rows(cfg: Any, name: str, n: int) -> np.ndarray:
    """Rows of pool ``name`` (``n`` images) that are validation images in every issue-13 task."""
    from .task import pool_order

    t = cfg.params.distclass.task
    return pool_order(name, n, t.split_seed)[: t.n_val]


def build_from_config(cfg: Any, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Build the profile's study page from the pools' validation images (through the pixel path).

    Pairs and references are validation images of the issue-13 tasks, so the classifiers of those
    tasks never trained on them and can be scored on exactly these pairs (the ``dc_human`` notebook).
    """
    from .pixels import load_pool

    h = cfg.params.distclass.human
    specs = study_specs(cfg)
    names = sorted({n for s in specs for n in (s.target, s.other)})
    val_images, val_index = {}, {}
    for n in names:
        pool = load_pool(cfg, n)
        val_index[n] = validation_rows(cfg, n, len(pool))
        val_images[n] = pool[val_index[n]]
    rows = study_rows({n: len(v) for n, v in val_images.items()}, specs, h.n_pairs, h.seed)
    tasks = make_tasks(val_images, specs, rows, val_index)
    out = Path(out_dir) if out_dir is not None else cfg.results / "dc_human_study"
    key = build_study(tasks, out, seed=h.seed, title="Which image is which? A study of generated images")
    key["pools"] = {n: {"validation_images": int(len(val_index[n]))} for n in names}
    key["profile"] = cfg.profile
    save_json(out / "key.json", key)
    return key


# --------------------------------------------------------------------------------------
# The issue-13 classifiers on the study's pairs
# --------------------------------------------------------------------------------------


def task_runs(cfg: Any) -> dict[str, list]:
    """The issue-13 runs (one per architecture) whose task is each study task: Table 2's real vs
    ``human.generated``, Table 6's cross-family pair and its same-family pair."""
    from .experiments import plan_binary, plan_family

    d = cfg.params.distclass
    specs = plan_binary(cfg) + plan_family(cfg)
    want = {TASK_KEYS[0]: (d.binary.real, d.human.generated), TASK_KEYS[1]: tuple(d.family.cross_names),
            TASK_KEYS[2]: (d.family.small, d.family.large)}
    out: dict[str, list] = {}
    for key, classes in want.items():
        found = {s.arch_name: s for s in specs if s.task.class_names == classes and s.task.n_train in
                 (d.binary.n_train, d.family.n_train) and s.tag in ("table2", "table6", "table6_cross")}
        if not found:
            raise HumanStudyError(f"no issue-13 run classifies {classes} (task {key}); add "
                                  f"{classes[-1]} to distclass.binary.models or set distclass.family")
        out[key] = [found[a] for a in sorted(found)]
    return out


def evaluated_model(cfg: Any, spec: Any, root: str | Path):
    """The classifier of a finished issue-13 run exactly as it was evaluated: its final checkpoint, then the
    same precise-BN pass over the same training images (:func:`beyondfid.distclass.train.precise_bn`).

    A stop-gap until the runs expose probabilities (request 2 in API_distclass.md). It checks itself:
    its predictions on the run's validation images must reproduce the stored confusion matrix.
    """
    from ..zoo.training import load_modules
    from .models import build_classifier
    from .runs import load_result, pool_digests, run_dir
    from .task import build_task
    from .train import precise_bn, predict

    res = load_result(root, spec, pool_digests(cfg, spec.task))
    if res is None:
        raise HumanStudyError(f"issue-13 run {spec.run_id} ({spec.arch_name}, {spec.task.class_names}) has not "
                              f"finished, or was trained on other images than the current pools; "
                              f"run `dvc repro dc_runs`")
    task = build_task(cfg, spec.task)
    model = build_classifier(spec.arch, task.n_classes, task.x_train.shape[1], task.x_train.shape[-1])
    load_modules(run_dir(root, spec) / "ckpt.pt", {"model": model})
    r = spec.recipe
    if r.precise_bn_images:
        order = np.random.default_rng(np.random.SeedSequence([int(spec.seed), 0xB17])).permutation(len(task.x_train))
        precise_bn(model, task.x_train[np.sort(order[: r.precise_bn_images])], r.batch_size // r.grad_shards, "cpu")
    pred = predict(model, task.x_val)
    conf = np.zeros((task.n_classes, task.n_classes), np.int64)
    np.add.at(conf, (task.y_val, pred), 1)
    if conf.tolist() != res.confusion:
        raise HumanStudyError(f"rebuilt model of run {spec.run_id} does not reproduce its validation confusion "
                              f"matrix ({conf.tolist()} vs {res.confusion}); the run's code or data changed")
    return model.eval(), res


def class_probabilities(model: Any, images: np.ndarray, micro: int = 64) -> np.ndarray:
    """Softmax probabilities (N, K) of uint8 NCHW images, fixed zero-padded micro-batches (float64)."""
    import torch

    out = []
    with torch.no_grad():
        for lo in range(0, len(images), micro):
            x = images[lo: lo + micro]
            n = len(x)
            if n < micro:
                x = np.concatenate([x, np.zeros((micro - n,) + x.shape[1:], np.uint8)])
            logits = model(torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0))[:n]
            out.append(torch.softmax(logits.double(), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def classifier_scores(cfg: Any, key: Mapping[str, Any], root: str | Path):
    """Every issue-13 classifier of every study task scored on the task's pairs (two-alternative accuracy)."""
    import pandas as pd

    from .pixels import load_pool

    pools: dict[str, np.ndarray] = {}
    rows = []
    for task, specs in task_runs(cfg).items():
        pairs = [(pid, v) for pid, v in key["pairs"].items() if v["task"] == task]
        target = key["tasks"][task]["target"]
        for spec in specs:
            model, res = evaluated_model(cfg, spec, root)
            t_idx = spec.task.class_names.index(target)
            imgs = {}
            for side in ("a", "b"):
                for pid, v in pairs:
                    pools.setdefault(v[side], load_pool(cfg, v[side]))
                imgs[side] = np.stack([pools[v[side]][v[f"{side}_index"]] for _, v in pairs])
            pa = class_probabilities(model, imgs["a"])[:, t_idx]
            pb = class_probabilities(model, imgs["b"])[:, t_idx]
            ta = np.array([v["target"] == "a" for _, v in pairs])
            rows.append({"task": task, "classifier": spec.arch_name, "pairs": len(pairs),
                         "accuracy": classifier_pair_accuracy(pa, pb, ta),
                         "validation accuracy": res.record.accuracy, "run_id": spec.run_id})
    return pd.DataFrame(rows)


# Fig. 3's claim per task (the paper gives bars, no numbers)
PAPER_FIG3 = {TASK_KEYS[0]: "classifiers far above humans", TASK_KEYS[1]: "classifiers high, humans near chance",
              TASK_KEYS[2]: "classifiers low, humans comparable to them"}


def fig3_table(human_summary, clf, key: Mapping[str, Any]):
    """Per task: humans (mean ± std over participants, or '–' without responses) and classifiers on the
    same pairs (mean ± std over architectures), with the paper's claim."""
    import pandas as pd

    rows = []
    hs = {} if human_summary is None else {r["task"]: r for _, r in human_summary.iterrows()}
    for task, v in key["tasks"].items():
        c = clf[clf["task"] == task]["accuracy"].to_numpy(dtype=float)
        h = hs.get(task)
        rows.append({"task": task, "question": v["question"], "target": v["target"], "other": v["other"],
                     "pairs": v["n_pairs"],
                     "humans (%)": "–" if h is None else f"{100 * h['mean']:.1f} ± {100 * h['std']:.1f}",
                     "participants": 0 if h is None else int(h["n"]),
                     "classifiers (%)": (f"{100 * c.mean():.1f} ± {100 * (c.std(ddof=1) if len(c) > 1 else 0):.1f}"
                                         if len(c) else "–"),
                     "classifiers": len(c), "paper (Fig. 3)": PAPER_FIG3.get(task, "")})
    return pd.DataFrame(rows)


def plot_fig3(ax: Any, human, clf, key: Mapping[str, Any], responses_dir: str = "data/human_study") -> None:
    """Fig. 3: accuracy per task, humans (mean ± std over participants) beside the classifiers (mean ± std
    over architectures, each architecture a dot). Without responses only the classifiers are drawn and
    the axes say that no responses were found -- never made-up human data."""
    tasks = list(key["tasks"])
    x = np.arange(len(tasks))
    w = 0.38
    cm = [clf[clf["task"] == t]["accuracy"].to_numpy(dtype=float) for t in tasks]
    ax.bar(x + w / 2, [100 * c.mean() for c in cm], w, yerr=[100 * (c.std(ddof=1) if len(c) > 1 else 0) for c in cm],
           capsize=3, color="tab:orange", label="classifiers (mean ± std over architectures)")
    for xi, c, t in zip(x, cm, tasks):
        names = clf[clf["task"] == t]["classifier"].tolist()
        ax.scatter(np.full(len(c), xi + w / 2), 100 * c, color="k", s=10, zorder=3)
        for yi, n in zip(100 * c, names):
            ax.annotate(n, (xi + w / 2 + 0.03, yi), fontsize=6)
    if human is not None and len(human):
        hm = [human[human["task"] == t]["accuracy"].to_numpy(dtype=float) for t in tasks]
        ax.bar(x - w / 2, [100 * h.mean() for h in hm], w,
               yerr=[100 * (h.std(ddof=1) if len(h) > 1 else 0) for h in hm], capsize=3, color="tab:blue",
               label=f"humans (mean ± std over {human['participant'].nunique()} participants)")
    else:
        ax.text(0.5, 0.985, f"no human responses found under {responses_dir}/: classifiers only", fontsize=8,
                color="tab:blue", ha="center", va="top", transform=ax.transAxes)
    ax.axhline(50, color="gray", ls=":", lw=1, label="chance")
    ax.set_xticks(x, [f"{t}\n{key['tasks'][t]['target']} vs {key['tasks'][t]['other']}" for t in tasks], fontsize=8)
    ax.set_ylabel("accuracy on the study's pairs (%)")
    ax.set_ylim(0, 112)  # headroom for the dots, their labels and the no-responses note
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Fig. 3 (mini): humans vs classifiers on the same pairs", fontsize=10)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from ..config import ConfigError, add_stage_arguments, load_config

    ap = add_stage_arguments(argparse.ArgumentParser(description="build the human-study page (dc_human_study)"))
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.profile, args.params, args.root)
        key = build_from_config(cfg)
    except (ConfigError, HumanStudyError, ValueError) as err:
        print(f"error: {err}")
        return 2
    counts = {t: v["n_pairs"] for t, v in key["tasks"].items()}
    print(f"study {key['study_id']}: {counts} -> {cfg.results / 'dc_human_study' / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
