"""How long BERT's inlined graph takes to become interactive in chromium once its HTML arrives.

Traces BERT-base (random weights offline), renders its inlined graph with ``render_html`` (source links
taken from the graph's ``# modeling_bert.py:N`` comments, op docs on) beside the model's source pane,
then in headless chromium with the app's CSS and ``assets/linking.js`` already loaded:
swaps the HTML into the page (as Gradio does with a gr.HTML output), waits for the first frame to be
painted, hovers a source line and waits until its IR lines are highlighted. That is "time to
interactive after the data arrives"; the target is under 1 s. Also reported: the server-side render
time, the HTML size, and a hover's latency.

Run: ``python benchmarks/ir_page_speed.py [--runs 5] [--max-lines N]``
"""

from __future__ import annotations

import argparse
import inspect
import re
import shutil
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jit_explorer import zoo  # noqa: E402
from jit_explorer.highlight import css, render_html  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
TARGET_S = 1.0

MEASURE_JS = """async ([srcHtml, irHtml, line]) => {
  const t0 = performance.now();
  document.querySelector('#src').innerHTML = srcHtml;
  document.querySelector('#ir').innerHTML = irHtml;
  document.body.offsetHeight;                       // style + layout
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));  // first frame painted
  const t1 = performance.now();
  const src = document.querySelector('#src [data-line="' + line + '"]');
  src.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  const hl = document.querySelectorAll('#ir .jx-line.jx-hl').length;
  await new Promise(r => requestAnimationFrame(r));
  const t2 = performance.now();
  const banded = document.querySelectorAll('#src .jx-has-ir').length;
  return {paint_ms: t1 - t0, interactive_ms: t2 - t0, hover_ms: t2 - t1, highlighted: hl, banded: banded};
}"""


def bert_inlined() -> tuple[str, str, list[int | None]]:
    """BERT's traced inlined graph, the source of modeling_bert, and the graph's source lines."""
    import torch

    m = zoo.load("bert-base-uncased", allow_download=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(m.module, m.inputs(), check_trace=False)
    ir = str(traced.inlined_graph)
    source_file = inspect.getsourcefile(type(m.module)) or ""
    source = Path(source_file).read_text(encoding="utf-8")
    name = Path(source_file).name
    ir = ir.replace(str(Path(source_file).parent) + "/", "")  # no machine path on the page
    pat = re.compile(r"# " + re.escape(name) + r":(\d+):")
    lines: list[int | None] = []
    for line in ir.split("\n")[:-1] if ir.endswith("\n") else ir.split("\n"):
        hit = pat.search(line)
        lines.append(int(hit.group(1)) if hit else None)
    return ir, source, lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--max-lines", type=int, default=None, help="render at most this many IR lines (default: all)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    ir, source, lines = bert_inlined()
    t = time.perf_counter()
    ir_html = render_html(ir, anchor="bert-inlined", source_lines=lines, max_lines=args.max_lines)
    render_s = time.perf_counter() - t
    src_html = render_html(source, language="python", anchor="src", source_pane=True)
    known = [n for n in lines if n is not None]
    busiest = max(set(known), key=known.count) if known else 1
    style = css() + "\n" + (ROOT / "assets" / "app.css").read_text(encoding="utf-8")
    script = (ROOT / "assets" / "linking.js").read_text(encoding="utf-8")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style><script>{script}</script>"
            "</head><body><div id='src'></div><div id='ir'></div></body></html>")
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for _ in range(args.runs):
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_content(page, wait_until="load")
            results.append(pg.evaluate(MEASURE_JS, [src_html, ir_html, busiest]))
            pg.close()
        browser.close()
    med = {k: statistics.median(r[k] for r in results) for k in ("paint_ms", "interactive_ms", "hover_ms")}
    n_lines = ir.count("\n")
    print(f"BERT inlined graph: {n_lines} lines, {sum(n is not None for n in lines)} linked to the source, "
          f"HTML {len(ir_html) / 1e6:.2f} MB (render_html {render_s:.2f} s in Python)")
    print(f"chromium, {args.runs} runs, median: first paint {med['paint_ms']:.0f} ms, "
          f"interactive (hover highlighted) {med['interactive_ms']:.0f} ms, hover {med['hover_ms']:.0f} ms; "
          f"{results[0]['highlighted']} IR lines highlighted for source line {busiest}, "
          f"{results[0]['banded']} source lines banded")
    ok = med["interactive_ms"] / 1000 < TARGET_S
    print(f"target < {TARGET_S:.0f} s after the data arrives: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
