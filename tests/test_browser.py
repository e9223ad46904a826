"""A real browser (Debian chromium driven by playwright) against the launched app."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent / "out"
SHOTS.mkdir(exist_ok=True)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_convert_resnet18_shows_highlighted_ir(browser: object, app_url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.goto(app_url, wait_until="networkidle")
    page.click("#convert-btn")
    graph = page.locator("#m-trace-graph .jx-code")
    graph.wait_for(timeout=120_000)
    # highlighted: node kinds are their own spans, lines have anchors
    assert page.locator("#m-trace-graph .jx-code span.nf").count() > 10
    assert page.locator("#m-trace-graph .jx-code span.nv", has_text="%x").count() >= 1
    assert page.locator("#m-trace-graph #trace-graph-L1").count() == 1
    assert "random weights" in page.locator("#model-notice").inner_text()
    assert page.locator("#m-script-graph .jx-code").count() == 1
    # the Inlined tab shows the convolutions themselves
    page.get_by_role("tab", name="Inlined").first.click()
    inlined = page.locator("#m-trace-inlined_graph .jx-code span.nf", has_text="aten::_convolution")
    inlined.first.wait_for(timeout=30_000)
    assert inlined.count() == 20  # ResNet-18: 17 convolutions + 3 downsample convolutions
    page.screenshot(path=str(SHOTS / "model-tab.png"), full_page=False)
    page.close()
