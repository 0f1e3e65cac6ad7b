"""The shared headless-browser fixture works: a page's script runs, a click changes the page,
a download arrives and a screenshot is a PNG (the report and human-study tests rely on these)."""

from __future__ import annotations

PAGE = """<!doctype html><html><head><title>probe</title></head><body>
<button id="b" onclick="document.getElementById('o').textContent = String(6 * 7)">go</button>
<p id="o">-</p>
<a id="d" download="answers.json" href="data:application/json,%7B%22ok%22%3A1%7D">save</a>
</body></html>"""


def test_headless_chromium_runs_scripts_and_downloads(browser, tmp_path):
    html = tmp_path / "probe.html"
    html.write_text(PAGE)
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    page.goto(html.as_uri())
    assert page.title() == "probe"
    assert page.text_content("#o") == "-"
    page.click("#b")
    assert page.text_content("#o") == "42"
    with page.expect_download() as dl:
        page.click("#d")
    saved = tmp_path / "answers.json"
    dl.value.save_as(saved)
    assert saved.read_text() == '{"ok":1}'
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ctx.close()
