"""A real browser (Debian chromium driven by playwright) against the launched app.

Flows: Model (ResNet-18, BERT; export + compile only), Paste with a pitfall example and with the four
capture modes side by side (the summary, export's failure, compile's graph break), Benchmark on a small model,
a shared link reopened in a new browser context, and a phone-sized viewport.
Every wait is on an element with a generous timeout: the machine is small and shared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent / "out"
SHOTS.mkdir(exist_ok=True)

DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
LONG = 180_000  # ms: a conversion or the sandbox's first worker on a busy 2-core machine




@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies and storage) per test."""
    ctx = browser.new_context(viewport=DESKTOP)
    ctx.set_default_timeout(60_000)
    yield ctx
    ctx.close()


def open_app(ctx: Any, url: str) -> Any:
    """Open the app and wait until the page is built (the Start tab's buttons exist)."""
    page = ctx.new_page()
    page.goto(url, wait_until="load")
    page.locator("#start-resnet18").wait_for(state="visible", timeout=90_000)
    return page


def pick(page: Any, dropdown: str, text: str) -> None:
    """Choose an option of a gradio Dropdown by typing part of its label."""
    box = page.locator(f"{dropdown} input")
    box.click()
    box.fill(text)
    page.locator("ul[role=listbox] li", has_text=text).first.click()


def selected_tab(page: Any) -> str:
    return page.locator("#main-tabs [role=tab][aria-selected=true]").first.inner_text().strip()


def test_model_flow_resnet18_shows_highlighted_ir(context: Any, app_url: str) -> None:
    page = open_app(context, app_url)
    page.get_by_role("tab", name="Model", exact=True).click()
    page.click("#convert-btn")
    page.locator("#m-trace-graph .jx-code").first.wait_for(timeout=LONG)
    # highlighted: node kinds are their own spans, lines have anchors and CSS line numbers
    assert page.locator("#m-trace-graph .jx-code span.nf").count() > 10
    assert page.locator("#m-trace-graph .jx-code span.nv", has_text="%x").count() >= 1
    assert page.locator("#m-trace-graph #m-trace-graph-L1").get_attribute("data-ln") == "1"
    assert "random weights" in page.locator("#model-notice").inner_text()
    assert "deprecated" in page.locator("#model-notice .jx-deprecation").inner_text()
    assert page.locator("#m-script-graph .jx-code").count() == 1
    # the Inlined tab shows the convolutions themselves
    page.locator("#m-col-trace").get_by_role("tab", name="Inlined").click()
    inlined = page.locator("#m-trace-inlined .jx-code span.nf", has_text="aten::_convolution")
    inlined.first.wait_for(state="attached", timeout=30_000)
    assert inlined.count() == 20  # ResNet-18: 17 convolutions + 3 downsample convolutions
    # long IR scrolls inside its pane (with line numbers), not the page
    box = page.locator("#m-trace-inlined .jx-code").evaluate(
        "e => [e.scrollHeight, e.clientHeight, getComputedStyle(e).overflowY]")
    assert box[0] > box[1] + 100 and box[2] == "auto"
    page.screenshot(path=str(SHOTS / "model-tab.png"))
    # the TorchScript artifact and the LibTorch snippet
    page.locator("#artifact").get_by_text("Download the TorchScript module").click()
    page.click("#save-btn")
    page.locator("#artifact-file a[download], #artifact-file a").first.wait_for(timeout=LONG)
    assert "resnet18_trace.pt" in page.locator("#artifact-file").inner_text().replace("\n", "")
    href = page.locator("#artifact-file a").first.get_attribute("href") or ""
    assert href.endswith("resnet18_trace.pt")
    assert "torch::jit::load" in page.locator("#libtorch-snippet").inner_text()


def test_model_flow_bert_from_the_start_tab(context: Any, app_url: str) -> None:
    page = open_app(context, app_url)
    page.click("#start-bert")
    page.locator("#m-trace-graph .jx-code").first.wait_for(timeout=LONG)
    assert selected_tab(page) == "Model"
    assert "bert-base-uncased" in page.locator("#model-pick input").input_value()
    assert page.locator("#m-trace-graph .jx-code span.nf", has_text="aten::").count() > 0
    # transformers models do not script: the failure is shown as a result, not a crash
    page.locator("#m-script-graph .jx-failed").wait_for(timeout=30_000)
    assert "torch.jit.script failed" in page.locator("#m-script-graph").inner_text()


def test_paste_flow_marks_the_pitfall_line(context: Any, app_url: str) -> None:
    page = open_app(context, app_url)
    page.click("#ex-branch_on_value")  # a gallery card: switches tab and analyses live
    mark = page.locator("#paste-source .jx-mark")
    mark.first.wait_for(timeout=LONG)
    assert selected_tab(page) == "Paste"
    # text_content: lines scrolled out of view are not rendered (content-visibility), their innerText is empty
    assert "if x.sum() > 0:" in (mark.first.text_content() or "")
    assert mark.first.get_attribute("id") == "src-L6"
    pits = page.locator("#paste-pitfalls").inner_text()
    assert "tensor-to-bool" in pits and "line 6" in pits
    # each mode marks its own evidence: Dynamo's graph-break at line 6 is marked in the compile pane
    assert page.locator("#p-compile-graphs .jx-mark").count() >= 1
    page.screenshot(path=str(SHOTS / "paste-tab.png"))


def test_paste_four_modes_side_by_side_with_the_summary(context: Any, app_url: str) -> None:
    page = open_app(context, app_url)
    page.get_by_role("tab", name="Paste", exact=True).click()
    assert "if x.sum() > 0:" in page.locator("#paste-code .cm-content").inner_text()  # the default example
    picker = page.locator("#paste-mode")
    for title in ("torch.jit.trace", "torch.jit.script", "torch.export", "torch.compile"):
        assert picker.get_by_label(title, exact=True).is_checked()
    page.click("#analyze-btn")
    summary = page.locator("#paste-summary .jx-summary")
    summary.locator("tr[data-mode=compile]").wait_for(timeout=LONG)
    assert summary.locator("tr[data-mode]").count() == 4
    assert "fails at line 6" in summary.locator("tr[data-mode=export]").inner_text()
    assert "works with 1 graph break" in summary.locator("tr[data-mode=compile]").inner_text()
    # the export column shows the failure, pinned to line 6
    failed = page.locator("#p-export-graph .jx-failed")
    assert failed.count() == 1 and "torch.export failed (line 6)" in failed.inner_text()
    # compile's Breaks tab: the user's line (linked to source line 6) and Dynamo's GB id
    page.locator("#p-col-compile").get_by_role("tab", name="Breaks").click()
    breaks = page.locator("#p-compile-breaks .jx-code")
    breaks.wait_for(state="attached", timeout=30_000)
    text = breaks.text_content() or ""
    assert re.search(r"break 1 at \S+:6:", text) and re.search(r"\bGB\d{4}\b", text), text
    assert breaks.locator(".jx-line[data-src-line='6']").count() >= 1
    # the summary's compile link jumps to the graph-break card
    summary.locator("tr[data-mode=compile] a.jx-sum-link").click()
    page.wait_for_function("() => location.hash === '#pit-compile-0'", timeout=30_000)
    card = page.locator("#paste-pitfalls #pit-compile-0")
    assert "graph-break" in card.inner_text() and "line 6" in card.inner_text()
    assert page.evaluate("() => document.querySelector(':target')?.closest('#paste-pitfalls') !== null")
    from playwright.sync_api import expect

    expect(card).to_be_in_viewport()


def test_model_export_and_compile_only(context: Any, app_url: str) -> None:
    page = open_app(context, app_url)
    page.get_by_role("tab", name="Model", exact=True).click()
    picker = page.locator("#model-mode")
    for title in ("torch.jit.trace", "torch.jit.script"):
        picker.get_by_label(title, exact=True).uncheck()
    assert picker.get_by_label("torch.export", exact=True).is_checked()
    assert picker.get_by_label("torch.compile", exact=True).is_checked()
    page.click("#convert-btn")
    page.locator("#model-summary tr[data-mode=compile]").wait_for(timeout=LONG)
    assert page.locator("#model-summary tr[data-mode]").count() == 2
    graph = page.locator("#m-export-graph .jx-code")
    graph.wait_for(state="attached", timeout=30_000)
    code = graph.text_content() or ""
    assert "torch.ops.aten.conv2d" in code and code.count("aten.conv2d") == 20  # 17 convolutions + 3 downsample
    graphs = page.locator("#m-compile-graphs .jx-code").text_content() or ""
    assert "graph 1 of 1" in graphs and "graph 2" not in graphs
    for mode in ("trace", "script"):
        assert "was not requested" in page.locator(f"#m-{mode}-graph").inner_text()


def test_benchmark_flow_on_a_small_model(context: Any, app_url: str) -> None:
    page = open_app(context, app_url)
    page.get_by_role("tab", name="Benchmark").click()
    pick(page, "#bench-model", "sign_branch")
    modes = page.locator("#bench-modes")
    for m in ("script", "trace+freeze", "export", "aot-inductor", "compile", "compile+freeze", "onnxruntime"):
        modes.get_by_label(m, exact=True).uncheck()
    assert modes.get_by_label("eager", exact=True).is_checked() and modes.get_by_label("trace", exact=True).is_checked()
    budget = page.locator("#bench-budget input[type=number]")
    budget.fill("0.5")
    budget.press("Enter")
    page.locator("#bench-threads input").fill("1")
    page.click("#bench-btn")
    page.locator("#bench-table table").wait_for(timeout=LONG)
    rows = page.locator("#bench-table tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text() == "eager"
    assert rows.nth(1).locator("td").first.inner_text() == "trace"
    assert page.locator("#bench-chart svg rect").count() == 2
    assert "1 thread" in page.locator("#bench-summary").inner_text()
    assert "method:" in page.locator("#bench-notes").inner_text()


def test_shared_link_reopens_the_same_view_in_a_new_context(browser: Any, context: Any, app_url: str) -> None:
    page = open_app(context, app_url)
    page.click("#ex-item_to_python")
    page.locator("#paste-source .jx-mark").first.wait_for(timeout=LONG)
    page.locator("#paste-inputs textarea, #paste-inputs input").first.fill("torch.randn(2, 5)")
    for title in ("torch.jit.script", "torch.export", "torch.compile"):  # only trace stays ticked
        page.locator("#paste-mode").get_by_label(title, exact=True).uncheck()
    assert page.locator("#paste-mode").get_by_label("torch.jit.trace", exact=True).is_checked()
    page.click("#copy-link")
    link_box = page.locator("#share-link textarea, #share-link input").first
    link_box.wait_for(state="visible", timeout=30_000)
    page.wait_for_function("() => { const e = document.querySelector('#share-link textarea, #share-link input');"
                           " return e && e.value.includes('?s='); }", timeout=30_000)
    link = link_box.input_value()
    assert link.startswith(app_url.rstrip("/")) and "?s=" in link
    assert page.url == link  # the address bar shows it too

    other = browser.new_context(viewport=DESKTOP)  # no cookies, no storage: only the URL carries the view
    try:
        p2 = other.new_page()
        p2.goto(link, wait_until="load")
        p2.locator("#paste-source .jx-mark").first.wait_for(timeout=LONG)  # restored and analysed again
        assert selected_tab(p2) == "Paste"
        assert "peak = x.abs().max().item()" in p2.locator("#paste-code .cm-content").inner_text()
        assert p2.locator("#paste-inputs textarea, #paste-inputs input").first.input_value() == "torch.randn(2, 5)"
        assert p2.locator("#paste-entry input").input_value() == "normalize"
        assert "tensor-to-number" in p2.locator("#paste-pitfalls").inner_text()
        assert "torch.jit.script was not requested" in p2.locator("#p-script-graph").inner_text()
    finally:
        other.close()


def test_phone_viewport_stays_usable(browser: Any, app_url: str) -> None:
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = open_app(ctx, app_url)
        width = "() => [document.documentElement.scrollWidth, window.innerWidth]"
        scroll_w, inner_w = page.evaluate(width)
        assert scroll_w <= inner_w, "the start page scrolls sideways on a phone"
        # the learner's tabs are on screen; the others (Benchmark, .pt file) may sit in Gradio's overflow menu
        for name in ("Start", "Model", "Paste"):
            assert page.get_by_role("tab", name=name, exact=True).is_visible()
        page.locator("#start-resnet18").tap()
        page.locator("#m-trace-graph .jx-code").first.wait_for(timeout=LONG)
        scroll_w, inner_w = page.evaluate(width)
        assert scroll_w <= inner_w, "long IR pushed the page wider than the phone"
        code = page.locator("#m-trace-graph .jx-code").first
        code.scroll_into_view_if_needed()  # lines out of view are not laid out (content-visibility: auto)
        pane = code.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert pane[1] <= inner_w  # the IR pane fits the screen (long lines scroll or wrap inside it)
        btn = page.locator("#convert-btn")
        btn.scroll_into_view_if_needed()
        box = btn.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner_w
        assert (page.locator("#copy-link").bounding_box()["x"]
                + page.locator("#copy-link").bounding_box()["width"] <= inner_w)
        page.screenshot(path=str(SHOTS / "phone.png"))
    finally:
        ctx.close()
