"""The "what the optimizer did" view: an IR diff rendered as HTML. Pure functions, no gradio, no torch.

:func:`optimizer_diff_html` takes one trace/script mode result (the JSON of DESIGN.md: ``views`` and
``source_lines``) and shows ``inlined`` (else ``graph``) against ``optimized``; :func:`trace_script_diff_html`
takes a whole report and shows the trace's graph against the script graph. Both give a list of the
classified changes (:mod:`jit_explorer.irdiff`) above the diff, whose lines keep their links to the
source (``data-src-line``) and op docs (``render_html``); removed lines have ``jx-del``, added ``jx-add``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jit_explorer import highlight, irdiff

__all__ = ["optimizer_diff_html", "trace_script_diff_html", "diff_html", "MAX_DIFF_LINES"]

MAX_DIFF_LINES = 4000

_LEGACY = {"graph": "graph", "inlined": "inlined_graph", "optimized": "optimized_graph"}


def _view(res: Mapping[str, Any], name: str) -> str:
    views = res.get("views") or {}
    return str(views.get(name) or res.get(_LEGACY.get(name, name)) or "")


def _src_lines(res: Mapping[str, Any], name: str) -> Sequence[int | None]:
    return list((res.get("source_lines") or {}).get(name) or [])


def _at(lines: Sequence[int | None], n: int | None) -> int | None:
    return lines[n - 1] if n is not None and 0 < n <= len(lines) else None


def diff_html(d: irdiff.IRDiff, *, anchor: str, before_src: Sequence[int | None] = (),
              after_src: Sequence[int | None] = ()) -> str:
    """Render ``d``: the changes as a list, then the diff (``-`` lines ``jx-del``, ``+`` lines ``jx-add``).

    ``before_src`` / ``after_src`` are the two views' ``source_lines``; each diff line links to the source
    line of the side it comes from.
    """
    head = (f"<div class='jx-irdiff-head'><b>{html.escape(d.before_label)}</b> → <b>{html.escape(d.after_label)}</b>: "
            f"{d.removed} line{'s' * (d.removed != 1)} removed, {d.added} added (values renamed %v1, %v2, … "
            "so only real changes show).</div>")
    if d.identical:
        return f"<div class='jx-irdiff'>{head}<div class='jx-empty'>No change: the two graphs are the same.</div></div>"
    items = "".join(
        f"<li data-change='{html.escape(c.kind, quote=True)}'><span class='jx-chg-kind'>{html.escape(c.kind)}</span> "
        f"{'<code>' + html.escape(c.op) + '</code> ' if c.op else ''}— {html.escape(c.explanation)}</li>"
        for c in d.changes)
    summary = f"<ul class='jx-irdiff-summary'>{items}</ul>" if items else ""
    lines = d.lines
    text = "\n".join(line.text for line in lines) + "\n"
    src = [_at(before_src, line.before_line) if line.tag == "-" else _at(after_src, line.after_line) for line in lines]
    body = highlight.render_html(text, anchor=anchor, source_lines=src, max_lines=MAX_DIFF_LINES)
    tags = {n: line.tag for n, line in enumerate(lines, start=1)}
    prefix = html.escape(anchor, quote=True)

    def mark(m: re.Match[str]) -> str:
        tag = tags.get(int(m.group(2)))
        extra = " jx-del" if tag == "-" else " jx-add" if tag == "+" else ""
        return f'<span class="{m.group(1)}{extra}" id="{prefix}-L{m.group(2)}"'

    body = re.sub(r'<span class="(jx-line[^"]*)" id="' + re.escape(prefix) + r'-L(\d+)"', mark, body)
    return f"<div class='jx-irdiff'>{head}{summary}{body}</div>"


def optimizer_diff_html(mode_result: Mapping[str, Any] | None, *, mode: str = "script", prefix: str = "") -> str:
    """What the optimizer did to one trace/script result: ``inlined`` (else ``graph``) vs ``optimized``, as HTML
    (``prefix`` starts its line ids, one per tab: ``render.id_prefix``)."""
    if not mode_result:
        return f"<div class='jx-empty'>{html.escape(mode)} was not requested.</div>"
    if not mode_result.get("ok"):
        return f"<div class='jx-empty'>{html.escape(mode)} failed: there is no optimized graph to compare.</div>"
    before_name = "inlined" if _view(mode_result, "inlined") else "graph"
    before, after = _view(mode_result, before_name), _view(mode_result, "optimized")
    if not before or not after:
        return "<div class='jx-empty'>This result has no optimized graph to compare.</div>"
    d = irdiff.diff_ir(before, after, before_label=before_name, after_label="optimized")
    return diff_html(d, anchor=f"{prefix}{mode}-optdiff", before_src=_src_lines(mode_result, before_name),
                     after_src=_src_lines(mode_result, "optimized"))


def trace_script_diff_html(report: Mapping[str, Any], *, prefix: str = "") -> str:
    """The trace's graph against the script graph of the same entry (what the trace froze or dropped), as HTML
    (``prefix`` starts its line ids)."""
    trace, script = report.get("trace") or {}, report.get("script") or {}
    if not (trace.get("ok") and script.get("ok")):
        return "<div class='jx-empty'>Both torch.jit.trace and torch.jit.script must succeed to compare them.</div>"
    d = irdiff.diff_ir(_view(trace, "graph"), _view(script, "graph"), before_label="trace", after_label="script")
    return diff_html(d, anchor=f"{prefix}trace-script-diff", before_src=_src_lines(trace, "graph"),
                     after_src=_src_lines(script, "graph"))
