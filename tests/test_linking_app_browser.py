"""Source <-> IR linking, op docs and the optimizer diff in the real app (Debian chromium + playwright).

The Paste tab's default example (``clamp_sign``: ``if x.sum() > 0`` on line 6) is analysed with trace and
script; hovering source line 6 highlights its IR lines in the script Graph pane and in the export/compile
panes that are open, hovering an op shows its doc, and the Optimized pane opens "what the optimizer did".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_browser import LONG, open_app

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
    ctx.set_default_timeout(30_000)
    pg = open_app(ctx, app_url)
    pg.get_by_role("tab", name="Paste", exact=True).click()
    picker = pg.locator("#paste-mode")
    for title in ("torch.export", "torch.compile"):  # trace, script and their panes only: a quick analysis
        picker.get_by_label(title, exact=True).uncheck()
    pg.click("#analyze-btn")
    pg.locator("#p-script-graph .jx-code.jx-linked").wait_for(timeout=LONG)
    pg.wait_for_function("document.querySelector('#src-L6')?.classList.contains('jx-has-ir')")
    yield pg
    ctx.close()


def _highlighted_src_lines(page: Any, pane: str) -> set[str]:
    return set(page.eval_on_selector_all(f"{pane} .jx-line.jx-hl", "els => els.map(e => e.dataset.srcLine)"))


def test_hover_source_line_highlights_ir_in_two_panes(page: Any) -> None:
    page.locator("#src-L6").hover()
    assert _highlighted_src_lines(page, "#p-script-graph") == {"6"}
    assert page.locator("#p-script-graph .jx-line.jx-hl").count() >= 3  # sum, gt, Bool, If
    # the trace froze the branch: its graph has no line 6, but the return of the taken branch (line 7)
    page.locator("#src-L7").hover()
    assert _highlighted_src_lines(page, "#p-trace-graph") == {"7"}
    assert _highlighted_src_lines(page, "#p-script-graph") == {"7"}


def test_hover_ir_line_highlights_the_source_and_op_doc_shows(page: Any) -> None:
    line = page.locator("#p-script-graph .jx-line[data-src-line='6']").first
    line.locator(".nv").first.hover()
    assert page.eval_on_selector_all("#paste-source .jx-line.jx-hl", "els => els.map(e => e.id)") == ["src-L6"]
    op = page.locator("#p-script-graph .jx-op[data-op='aten::sum']").first
    op.hover()
    tip = page.locator("#jx-tip")
    tip.wait_for(state="visible")
    assert "aten::sum" in tip.inner_text() and "Tensor self" in tip.inner_text()


def test_optimized_pane_opens_the_optimizer_diff(page: Any) -> None:
    page.locator("#p-col-script").get_by_role("tab", name="Optimized").click()
    details = page.locator("#p-script-optimized details.jx-optdiff")
    details.wait_for(state="attached", timeout=30_000)
    details.locator("summary").click()
    diff = details.locator(".jx-irdiff")
    diff.wait_for(state="visible")
    # the normalised diff: lines the optimizer removed or added (and, where it knows, what kind of change)
    assert diff.locator(".jx-line.jx-del, .jx-line.jx-add").count() >= 1
    assert "optimized" in (diff.text_content() or "")
