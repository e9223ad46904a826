"""Rendering of result dicts (the JSON of DESIGN.md) into HTML for the UI.

Pure functions: a result in, HTML out. No torch, no gradio.
"""

from __future__ import annotations

import html
from typing import Any

from jit_explorer import highlight

__all__ = [
    "VIEWS", "ir_panes", "pitfalls_html", "warnings_html", "notice_html", "source_html", "error_html", "empty_panes",
    "deprecation_line", "bench_summary_html", "bench_chart_html", "bench_table_html", "bench_notes_html",
    "bench_wrong_modes", "libtorch_snippet",
]

#: (tab label, key in the mode result, lexer)
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("Graph", "graph", "ir"),
    ("Code", "code", "python"),
    ("Inlined", "inlined_graph", "ir"),
    ("Optimized", "optimized_graph", "ir"),
)
MAX_LINES = 4000

_SEV_ICON = {"error": "⛔", "warning": "⚠️", "info": "ℹ️"}


def _lines_for(report: dict[str, Any], text: str, file: str) -> list[int]:
    """IR lines whose source comment (``# file.py:LINE:COL``) points at a pitfall's line.

    Pitfalls of either mode count: a trace pitfall's line is where the script graph
    keeps the control flow that the trace froze.
    """
    wanted = {p["line"] for p in report.get("pitfalls", []) if p.get("line") and p.get("severity") != "info"}
    if not wanted:
        return []
    name = file.rsplit("/", 1)[-1]
    marks = []
    for i, line in enumerate(text.splitlines(), start=1):
        _, sep, comment = line.partition(f"# {name}:")
        if sep and comment.split(":", 1)[0].isdigit() and int(comment.split(":", 1)[0]) in wanted:
            marks.append(i)
    return marks


def ir_panes(report: dict[str, Any], mode: str) -> list[str]:
    """Four HTML panes (graph, code, inlined, optimized) for ``mode`` ("trace" or "script")."""
    res = report.get(mode)
    if res is None:
        return [f"<div class='jx-empty'>torch.jit.{mode} was not requested.</div>"] * len(VIEWS)
    if not res.get("ok"):
        err = res.get("error") or {}
        line = f" (line {err['line']})" if err.get("line") else ""
        msg = f"<div class='jx-failed'><b>torch.jit.{mode} failed{line}</b><pre>{html.escape(err.get('message', ''))}</pre></div>"
        return [msg] * len(VIEWS)
    panes = []
    for label, key, lexer in VIEWS:
        text = res.get(key) or ""
        marks = _lines_for(report, text, report.get("file", "")) if lexer == "ir" else []
        panes.append(highlight.render_html(text, language=lexer, anchor=f"{mode}-{key}", marked_lines=marks, max_lines=MAX_LINES))
    return panes


def empty_panes() -> list[str]:
    """Placeholder panes before anything ran."""
    return ["<div class='jx-empty'>Run a conversion to see the IR here.</div>"] * len(VIEWS)


def pitfalls_html(report: dict[str, Any]) -> str:
    """The pitfalls panel: one card per pitfall (severity colour, line, message, fix, evidence)."""
    pits = report.get("pitfalls", [])
    if not report.get("ok", True):
        return ""
    if not pits:
        return "<div class='jx-pitfalls jx-clean'>✅ No pitfalls found: the trace should generalise to other inputs.</div>"
    cards = []
    for p in pits:
        line = f"line {p['line']}" if p.get("line") else "no line"
        cards.append(
            f"<div class='jx-pitfall jx-{html.escape(p['severity'])}'>"
            f"<div class='jx-pit-head'>{_SEV_ICON.get(p['severity'], '')} <b>{html.escape(p['kind'])}</b>"
            f" <span class='jx-pit-meta'>{html.escape(line)} · {html.escape(p['mode'])} · {html.escape(p['evidence'])}</span></div>"
            f"<div class='jx-pit-msg'>{html.escape(p['message'])}</div>"
            f"<div class='jx-pit-fix'><b>Fix:</b> {html.escape(p['fix'])}</div></div>"
        )
    return f"<div class='jx-pitfalls'><h4>{len(pits)} pitfall{'s' * (len(pits) != 1)}</h4>{''.join(cards)}</div>"


def warnings_html(report: dict[str, Any]) -> str:
    """The raw warnings raised while converting (deduplicated)."""
    ws = report.get("warnings", [])
    if not ws:
        return ""
    items = "".join(f"<li><code>{html.escape(w)}</code></li>" for w in ws)
    return f"<details class='jx-warnings'><summary>{len(ws)} warning{'s' * (len(ws) != 1)} raised while converting</summary><ul>{items}</ul></details>"


def notice_html(report: dict[str, Any]) -> str:
    """Weights notice, notes, timings and the one-line deprecation notice."""
    parts = []
    if report.get("model"):
        w = report.get("weights")
        badge = "pretrained weights" if w == "pretrained" else "random weights"
        parts.append(f"<b>{html.escape(report['model'])}</b> · <span class='jx-badge jx-{html.escape(str(w))}'>{badge}</span>")
    else:
        parts.append(f"<b>{html.escape(report.get('file', ''))}</b> · entry <code>{html.escape(report.get('entry', ''))}</code>")
    for mode in ("trace", "script"):
        res = report.get(mode)
        if res:
            state = f"ok in {res['seconds']:.2f} s" if res["ok"] else "failed"
            parts.append(f"torch.jit.{mode}: {state}")
    body = " · ".join(parts)
    notes = "".join(f"<div class='jx-note'>{html.escape(n)}</div>" for n in report.get("notes", []))
    dep = deprecation_line(report["deprecation"]) if report.get("deprecation") else ""
    return f"<div class='jx-notice'>{body}{notes}{dep}</div>"


def deprecation_line(said: str = "") -> str:
    """The one-line deprecation notice; torch's own words go in the tooltip."""
    title = f" title='{html.escape(said, quote=True)}'" if said else ""
    return (f"<div class='jx-deprecation'{title}>⚠️ TorchScript is deprecated since PyTorch 2.11: for new work use "
            "<code>torch.compile</code>, <code>torch.export</code> or ONNX.</div>")


def error_html(report: dict[str, Any]) -> str:
    """The message shown when the code could not be loaded or run at all."""
    err = report.get("error") or {}
    line = f" on line {err['line']}" if err.get("line") else ""
    return (f"<div class='jx-failed'><b>Could not analyse {html.escape(report.get('entry') or 'the code')}{line}</b>"
            f" ({html.escape(err.get('kind', 'error'))})<pre>{html.escape(err.get('message', ''))}</pre></div>")


def source_html(source: str, report: dict[str, Any]) -> str:
    """The user's source with pitfall lines (and the error line) marked."""
    marks = sorted({p["line"] for p in report.get("pitfalls", []) if p.get("line") and p.get("severity") != "info"})
    err = report.get("error") or {}
    if err.get("line"):
        marks.append(err["line"])
    return highlight.render_html(source, language="python", anchor="src", marked_lines=marks, max_lines=MAX_LINES)


# --------------------------------------------------------------------------- benchmark


def _num(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if x == 0:
        return "0"
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    return f"{x:.{digits}g}"


def bench_wrong_modes(report: dict[str, Any]) -> set[str]:
    """Modes whose output differs from eager beyond tolerance (the library's notes say so)."""
    notes = report.get("notes", [])
    return {r["mode"] for r in report.get("results", [])
            if any(n.startswith(f"{r['mode']} is ") and "WRONG" in n for n in notes)}


def _fastest(report: dict[str, Any]) -> str | None:
    wrong = bench_wrong_modes(report)
    good = [r for r in report.get("results", []) if r["ok"] and r["mode"] not in wrong and r["median_ms"] > 0]
    return min(good, key=lambda r: r["median_ms"])["mode"] if len(good) > 1 else None


def bench_summary_html(report: dict[str, Any]) -> str:
    """One line: model, device, threads, input, peak estimate; plus the fastest correct mode."""
    peak = f"{_num(report.get('peak_gflops'), 4)} GFLOP/s (estimate)" if report.get("peak_gflops") else "unknown"
    best = _fastest(report)
    eager = next((r for r in report.get("results", []) if r["mode"] == "eager" and r["ok"]), None)
    verdict = ""
    if best and eager:
        row = next(r for r in report["results"] if r["mode"] == best)
        verdict = (f"<div class='jx-bench-verdict'>Fastest correct mode: <b>{html.escape(best)}</b> — "
                   f"{_num(row['median_ms'], 4)} ms vs eager {_num(eager['median_ms'], 4)} ms "
                   f"({row['speedup_vs_eager']:.2f}x)</div>")
    return (f"<div class='jx-notice jx-bench-summary'><b>{html.escape(report['model'])}</b> on "
            f"<b>{html.escape(report['device'])}</b> ({html.escape(report.get('device_name', ''))}) · "
            f"{report['threads']} thread{'s' * (report['threads'] != 1)} · input {html.escape(report.get('input', ''))} · "
            f"peak {html.escape(peak)} · torch {html.escape(report.get('torch_version', ''))}{verdict}</div>")


def bench_chart_html(report: dict[str, Any]) -> str:
    """A horizontal bar chart (inline SVG): median per mode, a whisker to p90; wrong outputs in red.

    Text uses ``currentColor`` so it stays legible in light and dark themes.
    """
    rows = report.get("results", [])
    if not rows:
        return ""
    wrong = bench_wrong_modes(report)
    best = _fastest(report)
    top = max([r["p90_ms"] for r in rows if r["ok"]] + [r["median_ms"] for r in rows if r["ok"]] + [1e-9])
    label_w, bar_w, value_w, row_h = 130, 330, 150, 26
    width = label_w + bar_w + value_w
    height = row_h * len(rows) + 26
    parts = [f"<svg class='jx-chart' viewBox='0 0 {width} {height}' width='100%' role='img' "
             f"preserveAspectRatio='xMinYMin meet' aria-label='median latency per mode, whisker to p90'>"]
    for i, r in enumerate(rows):
        y = 6 + i * row_h
        mode = html.escape(r["mode"])
        parts.append(f"<text x='{label_w - 8}' y='{y + 15}' text-anchor='end' class='jx-chart-label'>{mode}</text>")
        if not r["ok"]:
            parts.append(f"<text x='{label_w}' y='{y + 15}' class='jx-chart-failed'>failed</text>")
            continue
        cls = "jx-bar-wrong" if r["mode"] in wrong else "jx-bar-eager" if r["mode"] == "eager" else \
            "jx-bar-best" if r["mode"] == best else "jx-bar"
        w = max(1.0, bar_w * r["median_ms"] / top)
        p90 = label_w + bar_w * r["p90_ms"] / top
        parts.append(f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row_h - 8}' rx='3' class='{cls}'>"
                     f"<title>{mode}: median {_num(r['median_ms'], 4)} ms, p90 {_num(r['p90_ms'], 4)} ms</title></rect>")
        mid = y + 3 + (row_h - 8) / 2
        parts.append(f"<line x1='{label_w + w:.1f}' x2='{p90:.1f}' y1='{mid:.1f}' y2='{mid:.1f}' class='jx-whisker'/>"
                     f"<line x1='{p90:.1f}' x2='{p90:.1f}' y1='{y + 6}' y2='{y + row_h - 8}' class='jx-whisker'/>")
        tag = " WRONG" if r["mode"] in wrong else ""
        parts.append(f"<text x='{max(p90, label_w + w) + 6:.1f}' y='{y + 15}' class='jx-chart-value'>"
                     f"{_num(r['median_ms'], 3)} ms · {r['speedup_vs_eager']:.2f}x{tag}</text>")
    axis_y = 6 + len(rows) * row_h + 12
    parts.append(f"<text x='{label_w}' y='{axis_y}' class='jx-chart-axis'>0</text>"
                 f"<text x='{label_w + bar_w}' y='{axis_y}' text-anchor='end' class='jx-chart-axis'>{_num(top, 3)} ms</text>")
    parts.append("</svg>")
    legend = ("<div class='jx-chart-legend'>bar: median latency (lower is better) · whisker: p90 · "
              "<span class='jx-key jx-bar-best'></span> fastest correct · <span class='jx-key jx-bar-wrong'></span> wrong output</div>")
    return f"<div class='jx-chart-box'>{''.join(parts)}{legend}</div>"


_BENCH_COLUMNS = ("mode", "ok", "median ms", "p90 ms", "IQR ms", "runs", "first call ms", "speedup vs eager",
                  "GFLOP/s", "% of peak", "max abs diff", "error")


def bench_table_html(report: dict[str, Any]) -> str:
    """The results table: one row per mode (failed modes show their reason)."""
    wrong = bench_wrong_modes(report)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _BENCH_COLUMNS)
    body = []
    for r in report.get("results", []):
        mode = html.escape(r["mode"])
        if not r["ok"]:
            body.append(f"<tr class='jx-row-failed'><td>{mode}</td><td>✗</td>" + "<td></td>" * 9 +
                        f"<td class='jx-err'>{html.escape(r.get('error') or 'failed')}</td></tr>")
            continue
        flag = " <b class='jx-wrong'>WRONG</b>" if r["mode"] in wrong else ""
        cells = [
            _num(r["median_ms"], 4), _num(r["p90_ms"], 4), _num(r["iqr_ms"], 3), str(r["runs"]),
            _num(r["first_call_ms"], 4), f"{r['speedup_vs_eager']:.2f}x{flag}", _num(r["gflops"], 3),
            _num(r.get("pct_of_peak"), 3), _num(r["max_abs_diff"], 2),
        ]
        cls = " class='jx-row-wrong'" if r["mode"] in wrong else ""
        body.append(f"<tr{cls}><td>{mode}</td><td>✓</td>" + "".join(f"<td>{c}</td>" for c in cells) + "<td></td></tr>")
    return (f"<div class='jx-table-wrap'><table class='jx-bench-table'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def bench_notes_html(report: dict[str, Any]) -> str:
    """The engine's notes (threads, peak, failures, wrong outputs, the verdict) as a list."""
    notes = report.get("notes", [])
    if not notes:
        return ""
    items = "".join(f"<li{' class=jx-wrong' if 'WRONG' in n else ''}>{html.escape(n)}</li>" for n in notes)
    return f"<details class='jx-bench-notes' open><summary>Notes ({len(notes)})</summary><ul>{items}</ul></details>"


# --------------------------------------------------------------------------- artifact


def libtorch_snippet(filename: str, inputs: list[tuple[list[int], str]]) -> str:
    """C++ that loads the saved module with LibTorch (``torch::jit::load``) and runs it once.

    Args:
        filename: the ``.pt`` file's name.
        inputs: (shape, dtype name) of each positional input, e.g. ``[([1, 3, 224, 224], "float32")]``.
    """
    args = []
    for shape, dtype in inputs:
        dims = ", ".join(str(d) for d in shape)
        if dtype.startswith("int") or dtype == "bool":
            kind = {"int64": "torch::kLong", "int32": "torch::kInt", "bool": "torch::kBool"}.get(dtype, "torch::kLong")
            args.append(f"torch::zeros({{{dims}}}, {kind})")
        else:
            args.append(f"torch::rand({{{dims}}})")
    joined = ",\n                                         ".join(args)
    return f"""// main.cpp: link against LibTorch (CMake: find_package(Torch REQUIRED), target_link_libraries(app ${{TORCH_LIBRARIES}}))
#include <torch/script.h>
#include <iostream>

int main() {{
  torch::jit::script::Module module = torch::jit::load("{filename}");
  module.eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::jit::IValue> inputs{{{joined}}};
  torch::jit::IValue output = module.forward(inputs);
  std::cout << output << std::endl;  // a model returning a tuple: output.toTuple()->elements()
}}
"""
