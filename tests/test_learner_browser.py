"""Issue 17, the learner's path, in a real browser (chromium + playwright) against the launched app.

Points 1 (entry chosen and why), 3 (Copy link restores the entry and the IR sub-tab), 4 (evidence on the
trace's pane, the card jumps to it), 5 (Markdown in cards), 8 (no stale state after pasting), 11 (phone:
dropdown text clear of its caret, IR panes fit), 13 (Download and the C++ snippet for pasted code).
The library halves are in tests/test_learner_path.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_learner_path import RNN_TUTORIAL

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
LONG = 180_000




@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    ctx = browser.new_context(viewport=DESKTOP)
    ctx.set_default_timeout(60_000)
    pg = ctx.new_page()
    pg.goto(app_url, wait_until="load")
    pg.locator("#start-resnet18").wait_for(state="visible", timeout=90_000)
    yield pg
    ctx.close()


def set_code(page: Any, text: str) -> None:
    editor = page.locator("#paste-code .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    editor.fill(text)


def value(page: Any, sel: str) -> str:
    return str(page.locator(f"{sel} textarea, {sel} input").first.input_value())


def wait_value(page: Any, sel: str, expected: str) -> None:
    page.wait_for_function(
        "([s, v]) => { const e = document.querySelector(s + ' textarea, ' + s + ' input'); "
        "return e && e.value === v; }",
        arg=[sel, expected], timeout=30_000)


def test_point1_and_8_pasting_the_rnn_tutorial_chooses_its_model_and_says_why(page: Any) -> None:
    page.get_by_role("tab", name="Paste", exact=True).click()
    assert value(page, "#example-pick") == "branch_on_value"
    set_code(page, RNN_TUTORIAL)
    wait_value(page, "#paste-entry", "MyRNNLoop")
    assert "example_inputs()" in page.locator("#paste-entry").inner_text()  # the reason, under the dropdown
    wait_value(page, "#example-pick", "")  # 8: the pasted code is not the example any more
    page.click("#analyze-btn")
    page.locator("#p-trace-graph .jx-line").first.wait_for(timeout=LONG)
    notice = page.locator("#paste-notice").inner_text()
    assert "entry MyRNNLoop" in notice and "torch.jit.trace: ok" in notice  # the helper MyCell would fail


def test_point8_no_stale_entry_example_or_inputs(page: Any) -> None:
    page.get_by_role("tab", name="Paste", exact=True).click()
    page.locator("#paste-inputs textarea, #paste-inputs input").first.fill("torch.randn(2, 5)")
    box = page.locator("#example-pick input")
    box.click()
    box.fill("item_to")
    page.locator("ul[role=listbox] li", has_text="item_to_python").first.click()
    wait_value(page, "#paste-inputs", "")  # a new example starts from its own example_inputs()
    set_code(page, "import torch\n\ndef broken(:\n    return 1\n")
    page.click("#analyze-btn")
    notice = page.locator("#paste-notice")
    notice.locator(".jx-failed").wait_for(timeout=LONG)
    assert "Could not analyse your code" in notice.inner_text() and "normalize" not in notice.inner_text()
    set_code(page, "import torch\n\ndef two(x, y):\n    return x + y\n")
    wait_value(page, "#paste-entry", "two")
    page.locator("#paste-inputs textarea, #paste-inputs input").first.fill("torch.randn(2, 3)")
    page.click("#analyze-btn")
    page.wait_for_function("() => document.querySelector('#paste-notice').innerText.includes('Inputs box')",
                           timeout=LONG)
    assert "torch.randn(2, 3)" in notice.inner_text()


def test_points_3_4_5_cards_marks_jumps_and_a_link_that_restores_the_sub_tab(page: Any, browser: Any) -> None:
    page.click("#ex-item_to_python")
    page.locator("#paste-pitfalls .jx-pitfall").first.wait_for(timeout=LONG)
    # 4: the freeze is marked in the trace's pane, not the script's; the card jumps there
    assert page.locator("#p-trace-graph .jx-line.jx-mark").count() >= 1
    assert page.locator("#p-script-graph .jx-line.jx-mark").count() == 0
    assert "prim::Constant[value={" in (page.locator("#p-trace-graph .jx-line.jx-mark").first.text_content() or "")
    jump = page.locator("#paste-pitfalls a.jx-ir-jump").first
    page.evaluate("window.scrollTo(0, 0)")
    jump.click()
    target = jump.get_attribute("href")
    page.wait_for_function("id => { const r = document.getElementById(id).getBoundingClientRect();"
                           " return r.top >= 0 && r.bottom <= window.innerHeight; }", arg=target[1:], timeout=10_000)
    assert "eager gives" in page.locator("#paste-pitfalls").inner_text()  # the counter-example's outputs
    # 5: Markdown rendered, no literal backticks
    assert page.locator("#paste-pitfalls .jx-pit-fix code").count() >= 1
    assert "`" not in page.locator("#paste-pitfalls").inner_text()
    # 3: the Optimized sub-tab and the entry travel with the link
    page.locator("#p-col-trace").get_by_role("tab", name="Optimized", exact=True).click()
    page.click("#copy-link")
    page.wait_for_function("() => { const e = document.querySelector('#share-link textarea, #share-link input');"
                           " return e && e.value.includes('?s='); }", timeout=30_000)
    link = value(page, "#share-link")
    other = browser.new_context(viewport=DESKTOP)
    try:
        p2 = other.new_page()
        p2.goto(link, wait_until="load")
        p2.locator("#paste-pitfalls .jx-pitfall").first.wait_for(timeout=LONG)
        assert value(p2, "#paste-entry") == "normalize"
        chosen = p2.locator("#p-col-trace [role=tab][aria-selected=true]").first.inner_text().strip()
        assert chosen == "Optimized"
        assert p2.locator("#p-trace-optimized .jx-line").first.is_visible()
    finally:
        other.close()


def test_point13_your_pasted_code_downloads_as_a_pt_with_its_cpp_snippet(page: Any) -> None:
    page.get_by_role("tab", name="Paste", exact=True).click()
    set_code(page, RNN_TUTORIAL)
    wait_value(page, "#paste-entry", "MyRNNLoop")
    page.locator("#paste-artifact").get_by_text("Download your module").click()
    page.click("#paste-save-btn")
    link = page.locator("#paste-artifact-file a").first
    link.wait_for(timeout=LONG)
    href = link.get_attribute("href") or ""
    assert href.endswith("MyRNNLoop_trace.pt")
    served = page.request.get(href)  # the file is served, and it is a TorchScript zip archive
    body = served.body()
    assert body[:2] == b"PK" and b"MyRNNLoop" in body
    assert "html" not in served.headers.get("content-type", "")  # bytes written by pasted code never render as a page
    cpp = page.locator("#paste-libtorch-snippet").inner_text()
    assert 'torch::jit::load("MyRNNLoop_trace.pt")' in cpp and "torch::rand({10, 3, 4})" in cpp


def test_point11_phone_dropdown_text_clears_the_caret_and_ir_panes_fit(browser: Any, app_url: str) -> None:
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = ctx.new_page()
        page.goto(app_url, wait_until="load")
        page.locator("#start-resnet18").wait_for(state="visible", timeout=90_000)
        page.get_by_role("tab", name="Model", exact=True).tap()
        gap = """sel => { const i = document.querySelector(sel + ' input');
                  const c = document.querySelector(sel + ' .icon-wrap');
                  const r = i.getBoundingClientRect(); const pad = parseFloat(getComputedStyle(i).paddingRight);
                  return c.getBoundingClientRect().left - (r.right - pad); }"""
        assert page.evaluate(gap, "#model-pick") >= -1, "the chosen model's text runs under the dropdown's caret"
        page.locator("#convert-btn").tap()
        code = page.locator("#m-trace-graph .jx-code").first
        code.locator(".jx-line").first.wait_for(timeout=LONG)
        code.scroll_into_view_if_needed()
        sideways = code.evaluate("e => e.scrollWidth - e.clientWidth")
        assert sideways <= 1, f"the IR pane scrolls sideways by {sideways}px on a phone"
    finally:
        ctx.close()
