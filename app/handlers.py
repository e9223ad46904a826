"""Event handlers: short adapters from UI/API arguments to one library call, then to outputs.

The API functions (``convert_model``, ``analyze_code``) return exactly the JSON
objects of DESIGN.md; the ``ui_*`` functions map the same results to the panes of
the page. Library errors become ``gr.Error`` here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from jit_explorer import sandbox, snippet, zoo
from jit_explorer.analysis import analyze_model, failed
from jit_explorer.convert import MODES
from jit_explorer.errors import JitExplorerError, SnippetError

from . import render

__all__ = ["convert_model", "analyze_code", "ui_convert", "ui_analyze", "ui_entries", "model_choices"]


def _check_mode(mode: str) -> str:
    mode = mode or "both"
    if mode not in MODES:
        raise gr.Error(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


def convert_model(model: str, mode: str = "both", device: str = "cpu") -> dict[str, Any]:
    """Trace and/or script a zoo model; returns the conversion report (analysis + model + weights)."""
    try:
        return analyze_model(model, mode=_check_mode(mode), device=device or "cpu").to_dict()
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None


def analyze_code(source: str, entry: str = "", inputs: str = "", mode: str = "both") -> dict[str, Any]:
    """Analyse pasted code in the sandbox; returns one analysis object.

    An empty ``entry`` is fine when the source defines exactly one; an empty ``inputs``
    uses the source's ``example_inputs()``. Problems with the code itself come back as
    an analysis with ``ok: false`` and an ``error`` that says what to do.
    """
    mode = _check_mode(mode)
    entry = (entry or "").strip()
    try:
        info = snippet.parse_source(source or "")
        chosen = snippet.select_entries(info, entry)
    except SnippetError as e:
        return failed("snippet.py", entry, e.kind, str(e), e.line).to_dict()
    if len(chosen) > 1:
        return failed("snippet.py", "", "no-entry",
                      f"the source defines several entries ({', '.join(info.names())}): choose one").to_dict()
    try:
        results = sandbox.analyze_source(source, entry=chosen[0].name, inputs=inputs or "", mode=mode)
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None
    return results[0].to_dict()


def model_choices() -> list[tuple[str, str]]:
    """(label, value) pairs for the model dropdown."""
    return [(f"{zoo.spec(n).title} ({n})", n) for n in zoo.names()]


def _panes(report: dict[str, Any]) -> list[str]:
    return render.ir_panes(report, "trace") + render.ir_panes(report, "script")


def ui_convert(model: str, mode: str, device: str, progress: gr.Progress = gr.Progress()) -> list[Any]:
    """Model tab: notice, 8 IR panes, pitfalls, warnings, the report (for downloads/state)."""
    progress(0.1, desc=f"Loading {model}, tracing and scripting…")
    report = convert_model(model, mode, device)
    progress(1.0, desc="Rendering IR")
    return [render.notice_html(report), *_panes(report), render.pitfalls_html(report), render.warnings_html(report), report]


def ui_analyze(source: str, entry: str, inputs: str, mode: str, progress: gr.Progress = gr.Progress()) -> list[Any]:
    """Paste tab: notice (or error), 8 IR panes, pitfalls, warnings, marked source, the report."""
    progress(0.1, desc="Running your code in the sandbox…")
    report = analyze_code(source, entry or "", inputs or "", mode)
    if not report.get("ok"):
        return [render.error_html(report), *render.empty_panes(), *render.empty_panes(), "", "",
                render.source_html(source or "", report), report]
    return [render.notice_html(report), *_panes(report), render.pitfalls_html(report), render.warnings_html(report),
            render.source_html(source, report), report]


def ui_entries(source: str) -> Any:
    """Refill the entry dropdown from the source (static parse only: nothing runs)."""
    try:
        names = snippet.parse_source(source or "").names()
    except SnippetError:
        return gr.update()
    return gr.update(choices=names, value=names[0] if names else None)
