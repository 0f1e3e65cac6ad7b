"""Checks of the static report site in a real headless browser (used by the report and pipeline tests).

``check_site`` opens ``index.html`` from disk (file://, as a reader would), and asserts that every
image loaded (naturalWidth > 0), that every link resolves (in-page anchors exist, linked files exist,
linked HTML pages load and their own images load too) and returns what it found.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

IMAGES_JS = "els => els.map(e => ({src: e.getAttribute('src'), w: e.naturalWidth}))"
LINKS_JS = "els => els.map(e => e.getAttribute('href'))"


def _broken_images(page) -> list[str]:
    """Images with a source that did not load (an ``<img>`` without ``src`` is a placeholder a script fills,
    e.g. the human-study page's left/right images before the study starts: nothing to load yet)."""
    page.wait_for_load_state("load")
    return [i["src"] for i in page.eval_on_selector_all("img", IMAGES_JS) if i["src"] is not None and not i["w"]]


def _anchor_exists(page, frag: str) -> bool:
    return page.evaluate("id => document.getElementById(id) !== null", frag)


def check_site(browser, index: Path, screenshot: Path | None = None) -> dict:
    """Open the report and check images and links; returns counts and the claim rows' texts."""
    assert index.is_file(), index
    ctx = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(index.as_uri())
    broken = _broken_images(page)
    assert not broken, f"images that did not load: {broken}"
    n_images = len(page.eval_on_selector_all("img", IMAGES_JS))

    links = page.eval_on_selector_all("a[href]", LINKS_JS)
    bad, pages = [], []
    for href in links:
        parts = urlsplit(href)
        if parts.scheme in ("http", "https"):
            bad.append(f"{href}: external link (the report must work offline)")
            continue
        if not parts.path:  # in-page anchor
            if not _anchor_exists(page, unquote(parts.fragment)):
                bad.append(f"{href}: no element with that id")
            continue
        target = (index.parent / unquote(parts.path)).resolve()
        if not target.is_file():
            bad.append(f"{href}: {target} does not exist")
        elif target.suffix == ".html" and target not in pages:
            pages.append(target)
    assert not bad, "links that do not resolve:\n" + "\n".join(bad)

    page_images = 0
    for target in pages:  # every linked page loads, with its images and its own relative links
        sub = ctx.new_page()
        sub.goto(target.as_uri())
        assert sub.title(), f"{target} has no title"
        broken = _broken_images(sub)
        assert not broken, f"{target}: images that did not load: {broken}"
        page_images += len(sub.eval_on_selector_all("img", IMAGES_JS))
        for href in sub.eval_on_selector_all("a[href]", LINKS_JS):
            parts = urlsplit(href)
            if parts.scheme or not parts.path:
                continue
            assert (target.parent / unquote(parts.path)).resolve().exists(), f"{target}: broken link {href}"
        sub.close()

    rows = page.locator("table.claims tbody tr.claim")
    verdicts = [rows.nth(i).locator(".verdict").inner_text() for i in range(rows.count())]
    if screenshot is not None:
        page.screenshot(path=str(screenshot))  # the top of the page: title, claims table
        page.screenshot(path=str(screenshot.with_name(screenshot.stem + "_full.png")), full_page=True)
    ctx.close()
    assert not errors, f"script errors on the page: {errors}"
    return {"images": n_images, "links": len(links), "pages": len(pages), "page_images": page_images,
            "claim_rows": len(verdicts),
            "verdicts": verdicts}
