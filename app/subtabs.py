"""The IR sub-tab each mode column shows (Graph, Code, Inlined, Optimized…), remembered for shared links.

The page keeps ``{"m:trace": "optimized", "p:script": "code"}`` in a ``gr.State`` (each sub-tab's ``select``
writes it); a link carries the current tab's part as ``views`` (``trace:optimized,script:code``) and opening
it selects those sub-tabs again. Pure functions: the wiring is in :mod:`app.ui`.
"""

from __future__ import annotations

from typing import Any

from . import render

__all__ = ["PREFIXES", "tab_id", "pick", "views_text", "selected", "known"]

#: page tab -> prefix of its panes' ids
PREFIXES = {"model": "m", "paste": "p"}


def tab_id(prefix: str, mode: str, view: str) -> str:
    """The id of a sub-tab (and of its pane): ``m-trace-optimized``."""
    return f"{prefix}-{mode}-{view}"


def known() -> dict[str, set[str]]:
    """mode -> the views that have a sub-tab."""
    out: dict[str, set[str]] = {}
    for mode, view in render.PANES:
        out.setdefault(mode, set()).add(view.name)
    return out


def pick(state: dict[str, str] | None, prefix: str, mode: str, view: str) -> dict[str, str]:
    """The state after the sub-tab ``view`` of ``mode`` under ``prefix`` was selected."""
    return {**(state or {}), f"{prefix}:{mode}": view}


def views_text(state: dict[str, str] | None, tab: str) -> str:
    """The ``views`` field of a link from ``tab``: only sub-tabs other than each column's first."""
    prefix = PREFIXES.get(tab)
    if not prefix or not state:
        return ""
    firsts = {mode: next(v.name for m, v in render.PANES if m == mode) for mode in known()}
    parts = [f"{key.split(':', 1)[1]}:{view}" for key, view in sorted(state.items())
             if key.startswith(prefix + ":") and view != firsts.get(key.split(":", 1)[1])]
    return ",".join(parts)


def selected(text: str) -> dict[str, str]:
    """``views`` of a link -> mode -> view, keeping only known pairs (the link is untrusted)."""
    ok = known()
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        mode, _, view = part.partition(":")
        if view in ok.get(mode, ()):
            out[mode] = view
    return out


def restore(text: str, tab: str) -> tuple[list[Any], dict[str, str]]:
    """The ``selected`` of every mode column's Tabs on both pages (``None``: leave it), and the new state."""
    prefix = PREFIXES.get(tab, "")
    chosen = selected(text) if prefix else {}
    updates: list[Any] = []
    for p in PREFIXES.values():
        for mode in known():
            view = chosen.get(mode) if p == prefix else None
            updates.append(tab_id(p, mode, view) if view else None)
    return updates, {f"{prefix}:{m}": v for m, v in chosen.items()}
