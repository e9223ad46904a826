"""Source <-> IR linking and op docs in a real browser (Debian chromium driven by playwright).

The page is generated here from ``render_html`` (a source pane and two IR panes whose lines carry
``data-src-line``), the app's CSS and ``assets/linking.js`` — the same pieces the app serves, without
launching it (the app-level check comes with the panes' wiring).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jit_explorer.highlight import css, render_html

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"

SOURCE = """import torch


def sign_branch(x):
    y = x * 2
    if y.sum() > 0:
        return y + 1
    return y - 1
"""
GRAPH = """graph(%x.1 : Tensor):
  %2 : int = prim::Constant[value=2]() # snippet.py:5:12
  %y.1 : Tensor = aten::mul(%x.1, %2) # snippet.py:5:8
  %4 : Tensor = aten::sum(%y.1, %3) # snippet.py:6:7
  %5 : Tensor = aten::gt(%4, %6) # snippet.py:6:7
  %7 : bool = aten::Bool(%5) # snippet.py:6:7
  %8 : Tensor = prim::If(%7) # snippet.py:6:4
    block0():
      %9 : Tensor = aten::add(%y.1, %10, %10) # snippet.py:7:15
      -> (%9)
    block1():
      %11 : Tensor = aten::sub(%y.1, %10, %10) # snippet.py:8:11
      -> (%11)
  return (%8)
"""
GRAPH_LINES = [None, 5, 5, 6, 6, 6, 6, None, 7, None, None, 8, None, None]
OPTIMIZED = """graph(%x.1 : Float(3, strides=[1], requires_grad=0, device=cpu)):
  %2 : int = prim::Constant[value=2]()
  %y.1 : Tensor = aten::mul(%x.1, %2) # snippet.py:5:8
  %4 : Tensor = aten::sum(%y.1, %3) # snippet.py:6:7
  %8 : Tensor = aten::add(%y.1, %10, %10) # snippet.py:7:15
  return (%8)
"""
OPT_LINES = [None, None, 5, 6, 7, None]


def page_html() -> str:
    """A stand-alone page: source pane, two IR panes, the app's CSS and linking.js."""
    panes = [
        render_html(SOURCE, language="python", anchor="src", source_pane=True),
        render_html(GRAPH, anchor="script-graph", source_lines=GRAPH_LINES),
        render_html(OPTIMIZED, anchor="script-optimized", source_lines=OPT_LINES),
    ]
    style = css() + "\n" + (ASSETS / "app.css").read_text(encoding="utf-8")
    script = (ASSETS / "linking.js").read_text(encoding="utf-8")
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style>"
            f"<script>{script}</script></head><body>"
            f"<div id='p-src'>{panes[0]}</div><div id='p-graph'>{panes[1]}</div><div id='p-opt'>{panes[2]}</div>"
            "</body></html>")




@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    ctx.set_default_timeout(20_000)
    pg = ctx.new_page()
    pg.set_content(page_html(), wait_until="load")
    pg.wait_for_function("document.querySelector('#src-L5').classList.contains('jx-has-ir')")
    yield pg
    ctx.close()


def classes(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.className)")


def highlighted(page: Any, pane: str) -> list[str]:
    return page.eval_on_selector_all(f"{pane} .jx-line.jx-hl", "els => els.map(e => e.id)")


def test_source_lines_that_made_ir_get_a_band(page: Any) -> None:
    banded = page.eval_on_selector_all("#p-src .jx-line.jx-has-ir", "els => els.map(e => e.dataset.line)")
    assert banded == ["5", "6", "7", "8"]
    assert "jx-b5" in page.get_attribute("#src-L5", "class")
    assert "jx-b5" in page.get_attribute("#script-graph-L2", "class")  # same colour on both sides


def test_hover_source_line_highlights_ir_in_both_panes(page: Any) -> None:
    page.hover("#src-L6")
    assert highlighted(page, "#p-graph") == [f"script-graph-L{n}" for n in (4, 5, 6, 7)]
    assert highlighted(page, "#p-opt") == ["script-optimized-L4"]
    page.hover("#src-L7")
    assert highlighted(page, "#p-graph") == ["script-graph-L9"]
    assert highlighted(page, "#p-opt") == ["script-optimized-L5"]
    page.mouse.move(1190, 890)  # off every line: nothing stays highlighted
    assert page.locator(".jx-hl").count() == 0


def test_hover_ir_line_highlights_its_source_line(page: Any) -> None:
    page.hover("#script-optimized-L3 .nv >> nth=0")
    assert highlighted(page, "#p-src") == ["src-L5"]
    assert "script-graph-L3" in highlighted(page, "#p-graph")


def test_hover_op_shows_its_doc(page: Any) -> None:
    page.hover("#script-graph-L3 .jx-op")
    tip = page.locator("#jx-tip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert "aten::mul" in text and "aten::mul.Tensor(Tensor self, Tensor other) -> Tensor" in text
    assert "Multiplies" in text
    page.hover("#script-graph-L7 .jx-op")  # prim::If: a table entry, with its meaning
    assert "block0" in tip.inner_text() and "trace" in tip.inner_text()
    page.hover("#script-graph-L1 .nv")  # %x.1: the value-name explanation
    assert ".N" in tip.inner_text()
    page.mouse.move(1190, 890)
    assert not tip.is_visible()


def test_click_pins_and_escape_unpins(page: Any) -> None:
    page.click("#src-L8")
    page.mouse.move(1190, 890)
    assert page.eval_on_selector_all(".jx-pin", "els => els.map(e => e.id)") == ["src-L8", "script-graph-L12"]
    page.hover("#src-L5")  # hovering elsewhere keeps the pin
    assert "jx-pin" in page.get_attribute("#script-graph-L12", "class")
    page.keyboard.press("Escape")
    assert page.locator(".jx-pin").count() == 0


def test_keyboard_moves_and_enter_pins(page: Any) -> None:
    page.keyboard.press("Tab")  # into the source pane: its first line
    assert page.evaluate("document.activeElement.id") == "src-L1"
    page.keyboard.press("Tab")  # on to the graph pane: its first linked line
    assert page.evaluate("document.activeElement.id") == "script-graph-L2"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.id") == "script-graph-L4"
    assert highlighted(page, "#p-src") == ["src-L6"]
    assert page.locator("#jx-tip").is_visible() and "aten::sum" in page.locator("#jx-tip").inner_text()
    page.keyboard.press("Enter")
    assert "jx-pin" in page.get_attribute("#src-L6", "class")
    assert "jx-pin" in page.get_attribute("#script-optimized-L4", "class")
    page.keyboard.press("Enter")  # Enter again unpins
    assert page.locator(".jx-pin").count() == 0


def test_replaced_panes_keep_working(page: Any) -> None:
    """Gradio swaps a gr.HTML's content after each run: delegation and the bands must survive it."""
    new = render_html(OPTIMIZED.replace("aten::add", "aten::sub"), anchor="script-optimized",
                      source_lines=[None, None, 5, 6, 8, None])
    page.evaluate("html => { document.querySelector('#p-opt').innerHTML = html; }", new)
    page.wait_for_function("document.querySelector('#src-L8').classList.contains('jx-has-ir')")
    page.hover("#src-L8")
    assert highlighted(page, "#p-opt") == ["script-optimized-L5"]


def test_tap_on_a_phone_pins_and_shows_the_doc(browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        pg = ctx.new_page()
        pg.set_content(page_html(), wait_until="load")
        pg.tap("#script-graph-L9 .jx-op")
        assert "jx-pin" in pg.get_attribute("#src-L7", "class")
        assert "aten::add" in pg.locator("#jx-tip").inner_text()
    finally:
        ctx.close()


def test_large_ir_scrolls_the_linked_line_into_view(page: Any) -> None:
    long_ir = "graph(%x : Tensor):\n" + "".join(f"  %{i} : Tensor = aten::relu(%x)\n" for i in range(600))
    lines = [None] + [5] * 300 + [7] * 300
    page.evaluate("html => { document.querySelector('#p-opt').innerHTML = html; }",
                  render_html(long_ir, anchor="big", source_lines=lines))
    page.hover("#src-L7")
    box = page.locator("#p-opt .jx-code")
    assert box.evaluate("b => b.scrollTop") > 1000
    first = page.locator("#big-L302")
    assert "jx-hl" in first.get_attribute("class")
