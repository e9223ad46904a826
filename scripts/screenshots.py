"""Make the README's screenshots from the running app, so they stay current.

    python scripts/screenshots.py                 # launches the app itself on a free port
    python scripts/screenshots.py --url http://127.0.0.1:7860/   # or uses a running one

Writes PNGs into ``assets/screenshots/``: the Start tab, the Model tab with ResNet-18, the Paste
tab with a pitfall example (light and dark theme) and the Benchmark tab. Drives Debian's chromium
through playwright (``CHROMIUM`` overrides the path).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "assets" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1360, "height": 900}
LONG = 300_000  # ms


@contextmanager
def _served(url: str | None) -> Iterator[str]:
    """The given URL, or the app launched in this process on a free loopback port."""
    if url:
        yield url
        return
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    sys.path.insert(0, str(ROOT))
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


def _open(browser: Any, url: str, *, dark: bool = False) -> Any:
    page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1, color_scheme="dark" if dark else "light")
    page.goto(url + ("?__theme=dark" if dark else ""), wait_until="load")
    page.locator("#start-resnet18").wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    return page


def _shot(page: Any, name: str) -> None:
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)
    path = OUT / name
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def start(browser: Any, url: str) -> None:
    page = _open(browser, url)
    _shot(page, "start.png")
    page.close()


def model(browser: Any, url: str) -> None:
    page = _open(browser, url)
    page.click("#start-resnet18")
    page.locator("#m-trace-graph .jx-code").first.wait_for(timeout=LONG)
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "model-resnet18.png")
    page.close()


def paste(browser: Any, url: str, *, dark: bool = False) -> None:
    page = _open(browser, url, dark=dark)
    page.click("#ex-loop_over_rows")
    page.locator("#paste-source .jx-mark").first.wait_for(timeout=LONG)
    if dark:
        page.evaluate("window.scrollTo(0, document.querySelector('#paste-pitfalls').getBoundingClientRect().top"
                      " + window.scrollY - 20)")
    _shot(page, "paste-pitfall-dark.png" if dark else "paste-pitfall.png")
    page.close()


def benchmark(browser: Any, url: str, *, model_name: str, modes: list[str], budget: float) -> None:
    page = _open(browser, url)
    page.get_by_role("tab", name="Benchmark").click()
    box = page.locator("#bench-model input")
    box.click()
    box.fill(model_name)
    page.locator("ul[role=listbox] li", has_text=model_name).first.click()
    group = page.locator("#bench-modes")
    for label in group.locator("label").all_inner_texts():
        label = label.strip()
        checkbox = group.get_by_label(label, exact=True)
        if (label in modes) != checkbox.is_checked():
            checkbox.click()
    budget_box = page.locator("#bench-budget input[type=number]")
    budget_box.fill(str(budget))
    budget_box.press("Enter")
    page.click("#bench-btn")
    page.locator("#bench-table table").wait_for(timeout=LONG)
    page.evaluate("window.scrollTo(0, document.querySelector('#bench-modes').getBoundingClientRect().top"
                  " + window.scrollY - 10)")
    _shot(page, "benchmark.png")
    page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: launch one here)")
    parser.add_argument("--bench-model", default="resnet18")
    parser.add_argument("--bench-modes", default="eager,trace,script,trace+freeze,onnxruntime")
    parser.add_argument("--bench-budget", type=float, default=1.0, help="seconds of timing per mode")
    parser.add_argument("--only", default="", help="comma-separated: start,model,paste,dark,bench")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        parser.error(f"chromium not found at {CHROMIUM}: apt-get install chromium, or set CHROMIUM")
    only = {s for s in args.only.split(",") if s}
    OUT.mkdir(parents=True, exist_ok=True)
    with _served(args.url) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            jobs = {
                "start": lambda: start(browser, url),
                "model": lambda: model(browser, url),
                "paste": lambda: paste(browser, url),
                "dark": lambda: paste(browser, url, dark=True),
                "bench": lambda: benchmark(browser, url, model_name=args.bench_model,
                                           modes=args.bench_modes.split(","), budget=args.bench_budget),
            }
            for name, job in jobs.items():
                if not only or name in only:
                    job()
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
