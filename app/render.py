"""Rendering of result dicts (the JSON of DESIGN.md) into HTML for the UI.

Pure functions: a result in, HTML out. No torch, no gradio.
"""

from __future__ import annotations

import html
from typing import Any

from jit_explorer import highlight
from jit_explorer.modes import REGISTRY, View

from .irdiff_view import optimizer_diff_html, trace_script_diff_html
from .learner import card_ir_links, evidence_lines, human_number, inline_markdown, pitfall_count_text, stable_names

__all__ = [
    "PANES", "pane_views", "id_prefix", "ir_panes", "all_panes", "summary_html", "pitfalls_html", "warnings_html",
    "notice_html", "source_html", "error_html", "empty_panes",
    "deprecation_line", "bench_summary_html", "bench_chart_html", "bench_table_html", "bench_notes_html",
    "bench_wrong_modes", "libtorch_snippet",
]

MAX_LINES = 4000

_SEV_ICON = {"error": "⛔", "warning": "⚠️", "info": "ℹ️"}


def pane_views(mode: str) -> tuple[View, ...]:
    """The views of ``mode`` that get a tab (those produced only on request are left out)."""
    return tuple(v for v in REGISTRY[mode].views if not v.on_request)


#: (mode, view) of every pane, in page order: the UI builds one tab per entry
PANES: tuple[tuple[str, View], ...] = tuple((m, v) for m in REGISTRY for v in pane_views(m))


def _marked(report: dict[str, Any], res: dict[str, Any], mode: str, view: str) -> list[int]:
    """Lines of ``view`` that came from a source line with a pitfall of this mode (a trace's frozen
    branch, constant or unrolled copies are marked in the trace's panes, not the script's)."""
    return evidence_lines(report, mode, view)


def id_prefix(scope: str) -> str:
    """What the element ids of one tab's results start with: ``""`` for the Paste tab, ``"m-"`` for ``scope="m"``.

    Both tabs live in one page; without it the Model tab's card ``pit-trace-0`` or IR line ``trace-graph-L5``
    would take the Paste tab's links.
    """
    return f"{scope}-" if scope else ""


def ir_panes(report: dict[str, Any], mode: str, *, scope: str = "") -> list[str]:
    """One HTML pane per view of ``mode`` (:func:`pane_views`), linked to the source by ``data-src-line``;
    line ``n`` of a view has the id ``{scope-}{mode}-{view}-L{n}`` (:func:`id_prefix`)."""
    spec = REGISTRY[mode]
    views = pane_views(mode)
    res = report.get(mode)
    if res is None:
        empty = f"<div class='jx-empty'>{html.escape(spec.title)} was not requested: tick it under Modes.</div>"
        return [empty] * len(views)
    if not res.get("ok"):
        err = res.get("error") or {}
        line = f" (line {err['line']})" if err.get("line") else ""
        msg = (f"<div class='jx-failed'><b>{html.escape(spec.title)} failed{line}</b>"
               f"<pre>{html.escape(err.get('message', ''))}</pre></div>")
        return [msg] * len(views)
    panes = []
    for v in views:
        text = stable_names((res.get("views") or {}).get(v.name, res.get(v.legacy or "", "")) or "")
        lines = (res.get("source_lines") or {}).get(v.name)
        pane = highlight.render_html(text, language=v.lexer, anchor=f"{id_prefix(scope)}{mode}-{v.name}",
                                     marked_lines=_marked(report, res, mode, v.name), max_lines=MAX_LINES,
                                     source_lines=lines)
        if v.name == "optimized" and spec.torchscript:  # what the JIT's optimizer changed, under its graph
            pane += ("<details class='jx-optdiff'><summary>What the optimizer did (diff against the inlined graph)"
                     f"</summary>{optimizer_diff_html(res, mode=mode, prefix=id_prefix(scope))}</details>")
        script = report.get("script") or {}
        if v.name == "graph" and mode == "trace" and script.get("ok"):  # what the trace froze or dropped
            pane += ("<details class='jx-tsdiff'><summary>Trace vs script: the same entry's two graphs, diffed"
                     f"</summary>{trace_script_diff_html(report, prefix=id_prefix(scope))}</details>")
        panes.append(pane)
    return panes


def all_panes(report: dict[str, Any], *, scope: str = "") -> list[str]:
    """Every pane of every mode, in :data:`PANES` order."""
    return [pane for mode in REGISTRY for pane in ir_panes(report, mode, scope=scope)]


def empty_panes() -> list[str]:
    """Placeholder panes before anything ran (one per entry of :data:`PANES`)."""
    return ["<div class='jx-empty'>Run a conversion to see the IR here.</div>"] * len(PANES)


def _first_problem(report: dict[str, Any], mode: str) -> dict[str, Any] | None:
    pits = [p for p in report.get("pitfalls", []) if p.get("mode") == mode and p.get("severity") != "info"]
    return pits[0] if pits else None


def summary_html(report: dict[str, Any], *, scope: str = "") -> str:
    """"Which capture fits this code?": one row per requested mode — works, works with N graph breaks /
    pitfalls, or fails at line L — each linking to its first problem's card."""
    rows = []
    for name, spec in REGISTRY.items():
        res = report.get(name)
        if res is None:
            continue
        first = _first_problem(report, name)
        count = sum(1 for p in report.get("pitfalls", []) if p.get("mode") == name and p.get("severity") != "info")
        if not res.get("ok"):
            err = res.get("error") or {}
            at = f" at line {err['line']}" if err.get("line") else ""
            icon, state, cls = "⛔", f"fails{at}", "jx-fails"
        elif name == "compile" and res.get("graph_break_count"):
            n = res["graph_break_count"]
            state = f"works with {n} graph break{'s' * (n != 1)} ({res.get('graph_count', '?')} graphs)"
            icon, cls = "⚠️", "jx-warns"
        elif count:
            icon, state, cls = "⚠️", f"works, with {count} pitfall{'s' * (count != 1)} to check", "jx-warns"
        else:
            icon, state, cls = "✅", "works", "jx-works"
        link = ""
        if first is not None:
            where = f"line {first['line']}" if first.get("line") else "details"
            n = [p for p in report.get("pitfalls", []) if p.get("mode") == name].index(first)  # its card's number
            link = (f" — <a href='#{id_prefix(scope)}pit-{html.escape(name)}-{n}' class='jx-sum-link'>"
                    f"{html.escape(first['kind'])}, {where}</a>")
        secs = f" <span class='jx-pit-meta'>{res.get('seconds', 0):.2f} s</span>" if res.get("ok") else ""
        rows.append(f"<tr class='{cls}' data-mode='{html.escape(name)}'><td>{icon}</td>"
                    f"<td><code>{html.escape(spec.title)}</code></td><td>{html.escape(state)}{link}{secs}</td></tr>")
    if not rows:
        return ""
    return (f"<div class='jx-summary' id='{id_prefix(scope)}capture-summary'><h4>Which capture fits this code?</h4>"
            f"<table>{''.join(rows)}</table></div>")


def pitfalls_html(report: dict[str, Any], *, scope: str = "") -> str:
    """The pitfalls panel: one card per pitfall (severity colour, line, message, fix, evidence), with the
    id ``{scope-}pit-{mode}-{n}`` and links to its IR lines in the same tab."""
    pits = report.get("pitfalls", [])
    if not report.get("ok", True):
        return ""
    if not pits:
        return "<div class='jx-pitfalls jx-clean'>✅ No pitfalls found in the modes that ran.</div>"
    cards = []
    per_mode: dict[str, int] = {}
    for p in pits:
        jump = card_ir_links(report, p, prefix=id_prefix(scope))
        line = f"line {p['line']}" if p.get("line") else "no line"
        n = per_mode.get(p["mode"], 0)
        per_mode[p["mode"]] = n + 1
        src = f" data-src-line='{int(p['line'])}'" if p.get("line") else ""
        card_id = f"{id_prefix(scope)}pit-{html.escape(p['mode'])}-{n}"
        cards.append(
            f"<div class='jx-pitfall jx-{html.escape(p['severity'])}' id='{card_id}'{src}>"
            f"<div class='jx-pit-head'>{_SEV_ICON.get(p['severity'], '')} <b>{html.escape(p['kind'])}</b>"
            f" <span class='jx-pit-meta'>{html.escape(line)} · {html.escape(p['mode'])} · "
            f"{html.escape(p['evidence'])}</span></div>"
            f"<div class='jx-pit-msg'>{inline_markdown(p['message'])}</div>"
            f"<div class='jx-pit-fix'><b>Fix:</b> {inline_markdown(p['fix'])}</div>{jump}</div>"
        )
    return f"<div class='jx-pitfalls'><h4>{pitfall_count_text(pits)}</h4>{''.join(cards)}</div>"


def warnings_html(report: dict[str, Any]) -> str:
    """The raw warnings raised while converting (deduplicated)."""
    ws = report.get("warnings", [])
    if not ws:
        return ""
    items = "".join(f"<li><code>{html.escape(w)}</code></li>" for w in ws)
    return (f"<details class='jx-warnings'><summary>{len(ws)} warning{'s' * (len(ws) != 1)} raised while converting"
            f"</summary><ul>{items}</ul></details>")


def notice_html(report: dict[str, Any]) -> str:
    """Weights notice, notes, timings and the one-line deprecation notice."""
    parts = []
    if report.get("model"):
        w = report.get("weights")
        badge = "pretrained weights" if w == "pretrained" else "random weights"
        parts.append(f"<b>{html.escape(report['model'])}</b> · "
                     f"<span class='jx-badge jx-{html.escape(str(w))}'>{badge}</span>")
    else:
        parts.append(f"<b>{html.escape(report.get('file', ''))}</b> · "
                     f"entry <code>{html.escape(report.get('entry', ''))}</code>")
    for mode, spec in REGISTRY.items():
        res = report.get(mode)
        if res:
            state = f"ok in {res['seconds']:.2f} s" if res["ok"] else "failed"
            parts.append(f"{spec.title}: {state}")
    body = " · ".join(parts)
    notes = "".join(f"<div class='jx-note'>{html.escape(n)}</div>" for n in report.get("notes", []))
    dep = deprecation_line(report["deprecation"]) if report.get("deprecation") else ""
    return f"<div class='jx-notice'>{body}{notes}{dep}</div>"


def deprecation_line(said: str = "") -> str:
    """The one-line deprecation notice; torch's own words go in the tooltip."""
    title = f" title='{html.escape(said, quote=True)}'" if said else ""
    return (f"<div class='jx-deprecation'{title}>⚠️ TorchScript is deprecated since PyTorch 2.11: for new work use "
            "<code>torch.compile</code>, <code>torch.export</code> or ONNX.</div>")


def error_html(report: dict[str, Any], *, inputs: str = "") -> str:
    """The message shown when the code could not be loaded or run at all.

    A code that does not parse names no entry (the dropdown may still hold the previous code's); ``inputs``,
    the Inputs box, is named when the inputs came from it."""
    err = report.get("error") or {}
    line = f" on line {err['line']}" if err.get("line") else ""
    whole = err.get("kind") in ("syntax", "source", "empty", "disabled") or not report.get("entry")
    what = "your code" if whole else html.escape(report["entry"])
    origin = ""
    if err.get("kind") in ("inputs", "run", "build") and inputs.strip():
        origin = (f"<div class='jx-note'>The inputs came from the Inputs box: <code>{html.escape(inputs.strip()[:200])}"
                  "</code> (empty it to use the code's own <code>example_inputs()</code>).</div>")
    return (f"<div class='jx-failed'><b>Could not analyse {what}{line}</b>"
            f" ({html.escape(err.get('kind', 'error'))})<pre>{html.escape(err.get('message', ''))}</pre>{origin}</div>")


def source_html(source: str, report: dict[str, Any], *, anchor: str = "src") -> str:
    """The user's source (or a zoo model's file) with pitfall lines (and the error line) marked.

    ``anchor`` prefixes the line ids: the Paste tab uses ``src``, the Model tab ``msrc``.
    """
    marks = sorted({p["line"] for p in report.get("pitfalls", []) if p.get("line") and p.get("severity") != "info"})
    err = report.get("error") or {}
    if err.get("line"):
        marks.append(err["line"])
    return highlight.render_html(source, language="python", anchor=anchor, marked_lines=marks, max_lines=MAX_LINES,
                                 source_pane=True)


# --------------------------------------------------------------------------- benchmark


def _num(x: float | None, digits: int = 3) -> str:
    return human_number(x)  # for people: 25,770 not 2.577e+04 (``digits`` kept for callers)


def bench_wrong_modes(report: dict[str, Any]) -> set[str]:
    """Modes whose output differs from eager beyond tolerance (each row's ``correct`` field)."""
    return {r["mode"] for r in report.get("results", []) if r["ok"] and not r.get("correct", True)}


def _fastest(report: dict[str, Any]) -> str | None:
    return report.get("fastest")  # the library's verdict: the fastest *correct* mode


def _speedup_cell(r: dict[str, Any]) -> str:
    """``1.25x [1.2-1.3]``, plus ``same`` when the speedup's 95% interval contains 1.0."""
    ci = r.get("speedup_ci95")
    text = f"{r['speedup_vs_eager']:.2f}x"
    if ci and r["mode"] != "eager":
        text += f" [{ci[0]:.2f}-{ci[1]:.2f}]"
    return text + (" same" if r["mode"] != "eager" and r.get("same_as_eager") else "")


def bench_summary_html(report: dict[str, Any]) -> str:
    """One line: model, device, threads, input, measured peak (estimate beside it); plus the fastest correct mode."""
    peak = f"{_num(report.get('peak_gflops'), 4)} GFLOP/s measured" if report.get("peak_gflops") else "unknown"
    if report.get("peak_estimate_gflops"):
        peak += f" (estimate {_num(report.get('peak_estimate_gflops'), 4)})"
    best = _fastest(report)
    eager = next((r for r in report.get("results", []) if r["mode"] == "eager" and r["ok"]), None)
    verdict = ""
    if best and eager:
        row = next(r for r in report["results"] if r["mode"] == best)
        verdict = (f"<div class='jx-bench-verdict'>Fastest correct mode: <b>{html.escape(best)}</b> — "
                   f"{_num(row['median_ms'], 4)} ms vs eager {_num(eager['median_ms'], 4)} ms "
                   f"({html.escape(_speedup_cell(row))})</div>")
    noisy = report.get("noise") or []
    if noisy:  # said first, before any number; no mode is crowned on noise
        verdict = ""
        first = ("<div class='jx-bench-noisy'>⚠️ <b>Noisy run</b>: " + html.escape("; ".join(noisy)) +
                 ". The numbers below are not reliable and no mode is named fastest: "
                 "run it again on a quiet machine.</div>")
    else:
        first = ""
    return first + (f"<div class='jx-notice jx-bench-summary'><b>{html.escape(report['model'])}</b> on "
            f"<b>{html.escape(report['device'])}</b> ({html.escape(report.get('device_name', ''))}) · "
            f"{report['threads']} thread{'s' * (report['threads'] != 1)} · "
            f"input {html.escape(report.get('input', ''))} · "
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
                     f"<title>{mode}: median {_num(r['median_ms'], 4)} ms, "
                     f"p90 {_num(r['p90_ms'], 4)} ms</title></rect>")
        mid = y + 3 + (row_h - 8) / 2
        parts.append(f"<line x1='{label_w + w:.1f}' x2='{p90:.1f}' y1='{mid:.1f}' y2='{mid:.1f}' class='jx-whisker'/>"
                     f"<line x1='{p90:.1f}' x2='{p90:.1f}' y1='{y + 6}' y2='{y + row_h - 8}' class='jx-whisker'/>")
        tag = " WRONG" if r["mode"] in wrong else " correct only for this input" if r.get("caveat") else \
            " same" if r["mode"] != "eager" and r.get("same_as_eager") else ""
        parts.append(f"<text x='{max(p90, label_w + w) + 6:.1f}' y='{y + 15}' class='jx-chart-value'>"
                     f"{_num(r['median_ms'], 3)} ms · {r['speedup_vs_eager']:.2f}x{tag}</text>")
    axis_y = 6 + len(rows) * row_h + 12
    parts.append(f"<text x='{label_w}' y='{axis_y}' class='jx-chart-axis'>0</text>"
                 f"<text x='{label_w + bar_w}' y='{axis_y}' text-anchor='end' class='jx-chart-axis'>"
                 f"{_num(top, 3)} ms</text>")
    parts.append("</svg>")
    legend = ("<div class='jx-chart-legend'>bar: median latency (lower is better) · whisker: p90 · "
              "<span class='jx-key jx-bar-best'></span> fastest correct · "
              "<span class='jx-key jx-bar-wrong'></span> wrong output</div>")
    return f"<div class='jx-chart-box'>{''.join(parts)}{legend}</div>"


_BENCH_COLUMNS = ("mode", "ok", "median ms", "95% CI ms", "p90 ms", "IQR ms", "runs", "first call ms",
                  "speedup vs eager", "peak mem MB", "GFLOP/s", "% of peak", "max abs diff", "error")


def bench_table_html(report: dict[str, Any]) -> str:
    """The results table: one row per mode (failed modes show their reason)."""
    wrong = bench_wrong_modes(report)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _BENCH_COLUMNS)
    body = []
    for r in report.get("results", []):
        mode = html.escape(r["mode"])
        if not r["ok"]:
            body.append(f"<tr class='jx-row-failed'><td>{mode}</td><td>✗</td>" +
                        "<td></td>" * (len(_BENCH_COLUMNS) - 3) +
                        f"<td class='jx-err'>{html.escape(r.get('error') or 'failed')}</td></tr>")
            continue
        flag = " <b class='jx-wrong'>WRONG</b>" if r["mode"] in wrong else ""
        if r.get("caveat"):
            flag += (f" <b class='jx-wrong jx-caveat' title='{html.escape(r['caveat'], quote=True)}'>"
                     "correct only for this input</b>")
        ci = r.get("ci95_ms")
        cells = [
            _num(r["median_ms"], 4), f"{_num(ci[0], 4)}-{_num(ci[1], 4)}" if ci else "n/a", _num(r["p90_ms"], 4),
            _num(r["iqr_ms"], 3), str(r["runs"]), _num(r["first_call_ms"], 4),
            f"{html.escape(_speedup_cell(r))}{flag}", _num(r.get("peak_mem_mb"), 4), _num(r["gflops"], 3),
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
    return ("// main.cpp: link against LibTorch (CMake: find_package(Torch REQUIRED), "
            f"""target_link_libraries(app ${{TORCH_LIBRARIES}}))
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
""")
