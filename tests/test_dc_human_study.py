"""The human-study instrument (paper 3, Fig. 3 / Fig. 10 / App. C.6): the static page in a real headless
Chromium, the response files it downloads, and their scoring. Every response file here is synthetic and
named so (``synthetic_test_response_*.json``); no made-up data reaches the pipeline's results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from beyondfid.distclass.human_study import (HumanStudyError, StudyTask, build_study, classifier_pair_accuracy,
                                             load_key, load_responses, parse_response, score_responses,
                                             screenshot_tasks, summarise)

N_PAIRS = 32


def _images(value: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.full((n, 1, 28, 28), value, np.uint8)
    x[:, :, 10:18, 10:18] = rng.integers(0, 256, size=(n, 1, 8, 8))  # every image distinct
    return x


def _tasks(n: int = N_PAIRS) -> list[StudyTask]:
    spec = [("real_vs_generated", "Real or generated?", "Which image is real?", "real", "uvit", {}),
            ("model_a_vs_b", "Two models", "Which image is from model A?", "uvit", "dit",
             {"model A": _images(200, 6, 9), "model B": _images(60, 6, 10)}),
            ("quality", "Same family", "Which image is of higher quality?", "ddpm_l", "ddpm_s", {})]
    out = []
    for k, (key, title, q, tgt, oth, refs) in enumerate(spec):
        out.append(StudyTask(key, title, q, tgt, oth, _images(220, n, k), _images(40, n, 10 + k),
                             np.arange(n) + 1000, np.arange(n) + 2000, refs))
    return out


@pytest.fixture()
def study(tmp_path):
    key = build_study(_tasks(), tmp_path / "study", seed=0)
    return tmp_path / "study", key


@pytest.fixture()
def small_study(tmp_path):
    """8 pairs per task: for the tests that need several sessions (clicks cost ~0.1 s on a busy CPU)."""
    key = build_study(_tasks(8), tmp_path / "small", seed=0)
    return tmp_path / "small", key


def _run_session(browser, study_dir, policy, tmp_path, name, seed=None):
    """Answer every pair of the page with ``policy(task, pair_id, letter_left) -> 'left'|'right'``; return the JSON."""
    key = load_key(study_dir / "key.json")
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto((study_dir / "index.html").as_uri() + (f"?seed={seed}" if seed is not None else ""))
    page.fill("#participant", name)
    page.click("#start")
    n_trials = page.evaluate("STUDY.tasks.reduce((n, t) => n + t.pairs.length, 0)")
    tasks_seen = []
    for _ in range(n_trials):
        # what is on screen: the pair and which of its images (a or b) the left one is
        shown = page.evaluate("""() => { const d = document.getElementById("trial").dataset;
            const p = STUDY.tasks.flatMap(t => t.pairs).find(q => q.id === d.pair);
            const src = document.querySelector("#left img").src, other = document.querySelector("#right img").src;
            return {pair: d.pair, task: d.task, left: src === p.a && other === p.b ? "a" :
                    (src === p.b && other === p.a ? "b" : "?")}; }""")
        assert shown["left"] in ("a", "b")
        tasks_seen.append(shown["task"])
        page.click("#" + policy(shown["task"], shown["pair"], shown["left"], key))
    assert page.is_visible("#download") and not page.is_visible("#left")
    with page.expect_download() as dl:
        page.click("#download")
    path = tmp_path / f"synthetic_test_response_{name}.json"
    dl.value.save_as(path)
    ctx.close()
    assert requests == []  # self-contained: nothing fetched from any server
    return json.loads(path.read_text()), path, tasks_seen


def _policy(task, pid, letter_left, key):
    """Right on task 1, wrong on task 2, 'always left' on task 3."""
    target = key["pairs"][pid]["target"]
    if task == "quality":
        return "left"
    want_target = task == "real_vs_generated"
    target_left = letter_left == target
    return "left" if target_left == want_target else "right"


def test_page_answers_download_parse_and_score(browser, study, tmp_path):
    study_dir, key = study
    assert len(key["pairs"]) == 3 * N_PAIRS
    obj, path, tasks_seen = _run_session(browser, study_dir, _policy, tmp_path, "synthetic-1")
    # tasks come in blocks of 32, in order; every pair answered once
    assert tasks_seen == ["real_vs_generated"] * 32 + ["model_a_vs_b"] * 32 + ["quality"] * 32
    r = parse_response(obj, key, path)
    assert len(r.choices) == 96 and r.participant == "synthetic-1"
    scores = score_responses([r], key).set_index("task")["accuracy"]
    assert scores["real_vs_generated"] == 1.0 and scores["model_a_vs_b"] == 0.0
    # task 3 always picked the left image: accuracy = share of pairs whose target was placed left
    left = {t["pair"]: t["left"] for t in obj["trials"]}
    q = [p for p, v in key["pairs"].items() if v["task"] == "quality"]
    assert scores["quality"] == pytest.approx(np.mean([left[p] == key["pairs"][p]["target"] for p in q]))
    assert all(t["rt_ms"] >= 0 for t in obj["trials"])


def test_order_and_placement_are_randomised_per_session(browser, small_study, tmp_path):
    study_dir, key = small_study
    first, _, _ = _run_session(browser, study_dir, _policy, tmp_path, "synthetic-2")
    second, _, _ = _run_session(browser, study_dir, _policy, tmp_path, "synthetic-3")
    o1, o2 = [t["pair"] for t in first["trials"]], [t["pair"] for t in second["trials"]]
    assert first["seed"] != second["seed"]
    assert sorted(o1) == sorted(o2) and o1 != o2
    for task in key["tasks"]:  # shuffled within every task, not just overall
        assert [p for p in o1 if p.startswith(task)] != [p for p in o2 if p.startswith(task)]
    assert [t["left"] for t in first["trials"]] != [t["left"] for t in second["trials"]]
    # a fixed ?seed= reproduces a session's order exactly (used for the Fig. 10 screenshots)
    orders = []
    for seed in (7, 7, 8):
        page = browser.new_page()
        page.goto((study_dir / "index.html").as_uri() + f"?seed={seed}")
        orders.append(page.evaluate("trials.map(t => t.pair.id + t.left)"))
        page.close()
    assert orders[0] == orders[1] != orders[2]


def test_zoom_and_reference_images(browser, study):
    study_dir, _ = study
    page = browser.new_page()
    page.goto((study_dir / "index.html").as_uri() + "?seed=3")
    page.click("#start")
    page.fill("#zoom", "8")
    page.dispatch_event("#zoom", "input")
    assert page.eval_on_selector("#left img", "e => e.width") == 28 * 8
    assert not page.is_visible("#refs")
    for _ in range(N_PAIRS):
        page.click("#left")
    assert page.get_attribute("#trial", "data-task") == "model_a_vs_b"
    assert page.is_visible("#refs") and page.eval_on_selector_all("#refs img", "els => els.length") == 12
    page.keyboard.press("ArrowRight")  # keyboard answers work too
    assert page.text_content("#progress") == f"pair {N_PAIRS + 2} of {3 * N_PAIRS}"
    page.close()


def test_screenshots_of_every_task(browser, small_study, tmp_path):
    study_dir, _ = small_study
    shots = screenshot_tasks(study_dir / "index.html", tmp_path / "shots", [8] * 3, browser=browser)
    from PIL import Image

    assert len(shots) == 3
    for p in shots:
        im = np.asarray(Image.open(p).convert("L"))
        assert im.shape[0] > 300 and im.shape[1] > 600 and im.std() > 10  # a rendered page, not blank


def test_screenshots_inside_a_running_event_loop(browser, small_study, tmp_path):
    """papermill runs dc_human in a Jupyter kernel, whose asyncio loop is running: Playwright's sync
    API refuses to start there, so screenshot_tasks must launch its own browser off that loop.
    (``browser`` only brings the skip / must-not-skip rule; the kernel is imitated in a thread of its
    own, because the session's Playwright already owns this thread's loop.)"""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    study_dir, _ = small_study

    async def in_a_kernel():
        asyncio.get_running_loop()  # a loop is running here, as in a Jupyter kernel
        return screenshot_tasks(study_dir / "index.html", tmp_path / "shots", [8] * 3)

    with ThreadPoolExecutor(max_workers=1) as pool:
        shots = pool.submit(asyncio.run, in_a_kernel()).result()
    assert len(shots) == 3 and all(p.stat().st_size > 1000 for p in shots)


def test_load_responses_reads_every_file_and_rejects_bad_ones(study, tmp_path):
    study_dir, key = study
    folder = tmp_path / "human_study"
    (folder / "lab2").mkdir(parents=True)
    pids = list(key["pairs"])
    rng = np.random.default_rng(0)
    for i, sub in enumerate(["", "lab2"]):
        trials = [{"pair": p, "choice": str(rng.choice(["a", "b"])), "rt_ms": 500} for p in pids]
        obj = {"format": "beyondfid-human-study-response-v1", "study_id": key["study_id"],
               "participant": f"synthetic-{i}", "seed": i, "trials": trials}
        (folder / sub / f"synthetic_test_response_{i}.json").write_text(json.dumps(obj))
    rs = load_responses(folder, key)
    assert sorted(r.participant for r in rs) == ["synthetic-0", "synthetic-1"]
    s = summarise(score_responses(rs, key))
    assert set(s["task"]) == set(key["tasks"]) and (s["n"] == 2).all()
    assert load_responses(tmp_path / "nothing_here", key) == []

    bad = dict(obj, study_id="0000")
    with pytest.raises(HumanStudyError, match="other images"):
        parse_response(bad, key, "synthetic_test_response_bad.json")
    with pytest.raises(HumanStudyError, match="unanswered"):
        parse_response(dict(obj, trials=obj["trials"][:-1]), key)
    with pytest.raises(HumanStudyError, match="twice"):
        parse_response(dict(obj, trials=obj["trials"] + obj["trials"][:1]), key)
    with pytest.raises(HumanStudyError, match="expected 'a' or 'b'"):
        parse_response(dict(obj, trials=[dict(obj["trials"][0], choice="left")] + obj["trials"][1:]), key)
    (folder / "broken.json").write_text("{not json")
    with pytest.raises(HumanStudyError, match="broken.json: not valid JSON"):
        load_responses(folder, key)


def test_classifier_pair_accuracy():
    pa = np.array([0.9, 0.2, 0.5, 0.7])
    pb = np.array([0.1, 0.3, 0.5, 0.6])
    ta = np.array([True, False, True, False])
    # pair 0: picks a (target) right; 1: picks b (target) right; 2: tie -> 1/2; 3: picks a, target b -> wrong
    assert classifier_pair_accuracy(pa, pb, ta) == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    with pytest.raises(HumanStudyError):
        classifier_pair_accuracy(pa, pb[:2], ta)


def test_bad_tasks_are_rejected():
    t = _tasks(4)[0]
    with pytest.raises(HumanStudyError, match="equal"):
        StudyTask("x", "t", "q", "a", "b", t.target_images, t.other_images[:3], t.target_index, t.other_index[:3])
    with pytest.raises(HumanStudyError, match="uint8"):
        StudyTask("x", "t", "q", "a", "b", t.target_images.astype(float), t.other_images, t.target_index,
                  t.other_index)
    with pytest.raises(HumanStudyError, match="distinct"):
        build_study([t, t], "/nonexistent", seed=0)


def test_study_rows_are_disjoint_within_every_pool():
    from beyondfid.distclass.human_study import StudySpec, make_tasks, study_rows, used_rows

    specs = [StudySpec("t1", "T1", "q1", "real", "uvit"),
             StudySpec("t2", "T2", "q2", "uvit", "ddpm_l", "model A", "model B", n_references=4),
             StudySpec("t3", "T3", "q3", "ddpm_l", "ddpm_s")]
    pools = {"real": 50, "uvit": 50, "ddpm_l": 50, "ddpm_s": 50}
    rows = study_rows(pools, specs, n_pairs=10, seed=0)
    used = used_rows(rows, specs)
    assert len(used["uvit"]) == 10 + 10 + 4 and len(used["ddpm_l"]) == 10 + 4 + 10 and len(used["real"]) == 10
    again = study_rows(pools, specs, n_pairs=10, seed=0)
    assert all(np.array_equal(rows[k][part], again[k][part]) for k in rows for part in rows[k])
    images = {k: _images(0, n, i) for i, (k, n) in enumerate(pools.items())}
    tasks = make_tasks(images, specs, rows)
    assert [t.n_pairs for t in tasks] == [10, 10, 10] and set(tasks[1].references) == {"model A", "model B"}
    np.testing.assert_array_equal(tasks[0].target_images, images["real"][tasks[0].target_index])
    np.testing.assert_array_equal(tasks[2].other_images, images["ddpm_s"][tasks[2].other_index])
    with pytest.raises(HumanStudyError, match="too few"):
        study_rows({"real": 50, "uvit": 20, "ddpm_l": 50, "ddpm_s": 50}, specs, n_pairs=10, seed=0)


def test_fig3_without_responses_shows_classifiers_only_and_says_so(study, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from beyondfid.distclass.human_study import fig3_table, plot_fig3

    _, key = study
    clf = pd.DataFrame([{"task": t, "classifier": a, "accuracy": acc} for t, accs in
                        zip(key["tasks"], ([1.0, 0.97, 0.9], [0.9, 0.8, 0.85], [0.6, 0.5, 0.55]))
                        for a, acc in zip(("resnet", "convnext", "vit"), accs)])
    fig, ax = plt.subplots()
    plot_fig3(ax, None, clf, key)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "no human responses found" in texts
    assert len(ax.patches) == 3                      # one bar per task: classifiers only
    tab = fig3_table(None, clf, key)
    assert (tab["humans (%)"] == "–").all() and (tab["participants"] == 0).all()
    assert tab.loc[0, "classifiers (%)"] == "95.7 ± 5.1"
    plt.close(fig)
    # with (synthetic) responses the human bars appear and the note does not
    human = pd.DataFrame([{"participant": f"synthetic-{i}", "task": t, "accuracy": a}
                          for i in range(2) for t, a in zip(key["tasks"], (0.7, 0.5, 0.6))])
    fig, ax = plt.subplots()
    plot_fig3(ax, human, clf, key)
    assert len(ax.patches) == 6 and "no human responses" not in " ".join(t.get_text() for t in ax.texts)
    plt.close(fig)


def test_the_loaded_key_lists_the_tasks_in_page_order(study):
    """key.json is written with sorted keys (model_a_vs_b, quality, real_vs_generated); load_key restores the
    page's order, which the figures' titles follow (a sorted order once put the wrong title on each screenshot)."""
    study_dir, _ = study
    raw = json.loads((study_dir / "key.json").read_text())
    assert list(raw["tasks"]) == sorted(raw["tasks"])               # what is on disk
    key = load_key(study_dir / "key.json")
    assert list(key["tasks"]) == [t.key for t in _tasks()]          # the page's parts 1, 2, 3
    assert [v["part"] for v in key["tasks"].values()] == [1, 2, 3]
