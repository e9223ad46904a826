"""Small pieces of the pitfall cards for a learner: inline Markdown, the heading's count, the jump to the IR.

Pure functions on the result dicts (the JSON of DESIGN.md); no gradio, no torch.
"""

from __future__ import annotations

import html
import re
from typing import Any

from jit_explorer.fix_words import stable_names
from jit_explorer.modes import REGISTRY

__all__ = ["inline_markdown", "pitfall_count_text", "card_ir_links", "evidence_lines", "stable_names", "MAX_JUMPS"]

MAX_JUMPS = 8
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_FROZEN = re.compile(r"prim::Constant\[value=(\{|\[|-?\d)")  # a number or tensor frozen into the trace
_LOOP_BODY = 12  # source lines after a loop's header searched for its unrolled copies


def inline_markdown(text: str) -> str:
    """Escaped ``text`` with ``code`` spans and **bold** rendered (the cards' only Markdown).

    >>> inline_markdown("use `torch.where(a < b, a, b)` **now**")
    'use <code>torch.where(a &lt; b, a, b)</code> <b>now</b>'
    """
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            out.append(_BOLD.sub(r"<b>\1</b>", html.escape(part)))
    return "".join(out)


def pitfall_count_text(pits: list[dict[str, Any]]) -> str:
    """``2 pitfalls · 1 note``: infos are notes, not pitfalls."""
    notes = sum(1 for p in pits if p.get("severity") == "info")
    n = len(pits) - notes
    head = f"{n} pitfall{'s' * (n != 1)}" if n or not notes else ""
    tail = f"{notes} note{'s' * (notes != 1)}" if notes else ""
    return " · ".join(t for t in (head, tail) if t)


def _pitfall_hits(res: dict[str, Any], view: str, p: dict[str, Any]) -> list[int]:
    """Lines of ``view`` that show ``p``: those from its source line, and for the trace the freeze itself —
    the constants a number became (``value={2.17}``), the copies of an unrolled loop's body."""
    lines = (res.get("source_lines") or {}).get(view) or []
    line = p.get("line")
    hits = {i for i, ln in enumerate(lines, start=1) if ln == line}
    if p.get("mode") == "trace" and line:
        text = ((res.get("views") or {}).get(view) or "").splitlines()
        if p.get("kind") in ("tensor-to-number", "constant-tensor"):
            # strict=False: source_lines need not cover every line of the view's text; extra lines map to nothing
            hits |= {i for i, (t, ln) in enumerate(zip(text, lines, strict=False), start=1)
                     if ln is not None and ln >= line and _FROZEN.search(t)}
        elif p.get("kind") in ("shape-specialization", "tensor-iteration"):
            counts: dict[int, int] = {}
            for ln in lines:
                if ln is not None and line < ln <= line + _LOOP_BODY:
                    counts[ln] = counts.get(ln, 0) + 1
            hits |= {i for i, ln in enumerate(lines, start=1) if ln is not None and counts.get(ln, 0) > 1}
    return sorted(hits)


def evidence_lines(report: dict[str, Any], mode: str, view: str) -> list[int]:
    """Lines of ``mode``'s ``view`` to mark: the evidence of that mode's own warning/error pitfalls.

    The script's panes also mark the control flow a trace froze (a branch or loop on a tensor's value or
    shape): the script graph keeps it as ``prim::If``/``prim::Loop``, so that is where a reader sees it.
    """
    res = report.get(mode) or {}
    out: set[int] = set()
    for p in report.get("pitfalls", []):
        if not p.get("line") or p.get("severity") == "info":
            continue
        frozen_flow = mode == "script" and p.get("mode") == "trace" and p.get("kind") in _FROZEN_FLOW
        if p.get("mode") == mode or frozen_flow:
            out.update(_pitfall_hits(res, view, p))
    return sorted(out)


#: trace pitfalls whose construct the script graph keeps as real control flow
_FROZEN_FLOW = ("tensor-to-bool", "tensor-iteration", "shape-specialization")


def card_ir_links(report: dict[str, Any], pitfall: dict[str, Any], *, prefix: str = "") -> str:
    """Links from a card to the IR lines of its own mode that came from its source line (the evidence);
    ``prefix`` starts the ids of the tab's IR lines (``render.id_prefix``)."""
    mode, line = pitfall.get("mode"), pitfall.get("line")
    res = report.get(mode or "") or {}
    if not line or not res.get("ok") or mode not in REGISTRY:
        return ""
    for view in REGISTRY[mode].views:
        hits = _pitfall_hits(res, view.name, pitfall)
        if not hits:
            continue
        anchor = f"{prefix}{mode}-{view.name}"
        links = " ".join(f"<a href='#{anchor}-L{n}' class='jx-ir-jump' data-pane='{html.escape(anchor)}'>{n}</a>"
                         for n in hits[:MAX_JUMPS])
        more = f" … and {len(hits) - MAX_JUMPS} more" if len(hits) > MAX_JUMPS else ""
        title = html.escape(REGISTRY[mode].title)
        return (f"<div class='jx-pit-jump'>In the {title} {html.escape(view.label)} pane, "
                f"line{'s' * (len(hits) != 1)} {links}{more}</div>")
    return ""


# --------------------------------------------------------------------------- benchmark verdicts for people

NOISY_IQR = 0.3
"""A mode whose IQR is more than this fraction of its median was timed on a noisy machine."""


def human_number(x: float | None) -> str:
    """A number as people write it: ``25,770``, ``52.9``, ``3.03``, ``0.0412``; never ``2.577e+04``.

    >>> [human_number(v) for v in (25770.4, 152.94, 52.94, 3.031, 0.04123, 0.0, None)]
    ['25,770', '153', '52.9', '3.03', '0.0412', '0', 'n/a']
    """
    if x is None:
        return "n/a"
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def noise_reasons(report: dict[str, Any]) -> list[str]:
    """Why this benchmark's numbers are too noisy to crown a winner (empty: they are not)."""
    reasons = [n for n in report.get("notes", []) if "busy" in n.lower()]
    for r in report.get("results", []):
        if (r.get("ok") and r.get("median_ms") and r.get("iqr_ms") is not None
                and r["iqr_ms"] > NOISY_IQR * r["median_ms"]):
            reasons.append(f"{r['mode']}'s spread (IQR {human_number(r['iqr_ms'])} ms) is "
                           f"{r['iqr_ms'] / r['median_ms']:.0%} of its median ({human_number(r['median_ms'])} ms)")
    return reasons


def trace_caveats(analysis: dict[str, Any] | None, entry: str = "") -> dict[str, str]:
    """Benchmark modes that are correct only for the example input, per the Paste tab's analysis of the same entry."""
    if not analysis or not analysis.get("ok") or (entry and analysis.get("entry") != entry):
        return {}
    wrong = [p for p in analysis.get("pitfalls", []) if p.get("mode") == "trace" and p.get("severity") == "error"]
    if not wrong:
        return {}
    where = f" (line {wrong[0]['line']})" if wrong[0].get("line") else ""
    why = f"correct only for this input: the analysis proved the trace wrong on other inputs{where}, {wrong[0]['kind']}"
    return {m: why for m in ("trace", "trace+freeze")}


def bench_with_verdicts(report: dict[str, Any], caveats: dict[str, str]) -> dict[str, Any]:
    """``report`` for display: rows carry ``caveat``; ``fastest`` is dropped when the run is noisy or the
    fastest mode is correct only for the example input (then the next correct mode without a caveat)."""
    out = {**report, "results": [{**r, "caveat": caveats.get(r["mode"], "")} for r in report.get("results", [])]}
    noisy = noise_reasons(report)
    out["noise"] = noisy
    best = report.get("fastest")
    if best in caveats:
        ok = [r for r in out["results"] if r.get("ok") and r.get("correct", True) and not r["caveat"]
              and r["mode"] != "eager" and r.get("median_ms") is not None and not r.get("same_as_eager")]
        best = min(ok, key=lambda r: r["median_ms"])["mode"] if ok else None
    out["fastest"] = None if noisy else best
    return out
