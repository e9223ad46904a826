"""Rendering of result dicts (the JSON of DESIGN.md) into HTML for the UI.

Pure functions: a result in, HTML out. No torch, no gradio.
"""

from __future__ import annotations

import html
from typing import Any

from jit_explorer import highlight

__all__ = ["VIEWS", "ir_panes", "pitfalls_html", "warnings_html", "notice_html", "source_html", "error_html", "empty_panes"]

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
    dep = ""
    if report.get("deprecation"):
        dep = ("<div class='jx-deprecation'>TorchScript is deprecated in PyTorch 2.11+ "
               f"(torch said: <i>{html.escape(report['deprecation'])}</i>). Modern neighbours: "
               "<code>torch.compile</code>, <code>torch.export</code>, ONNX.</div>")
    return f"<div class='jx-notice'>{body}{notes}{dep}</div>"


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
