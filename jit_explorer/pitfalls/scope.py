"""Which functions of the file the checks look at (the scope), and who calls whom.

Two ways to pick them, written down here once:

* after an eager run (``executed`` lines known): the functions that ran;
* without one (static-only, script failures): those reachable from the entry through calls to
  functions, methods of ``self`` and ``forward`` of classes of this file (submodules built in
  ``__init__`` included).

``__init__`` and ``example_inputs`` are never in the scope: they do not run in the traced call.
"""

from __future__ import annotations

import ast
from collections.abc import Set

from .index import FunctionInfo, SourceIndex, body_lines

__all__ = ["callee", "reachable", "functions_in_scope"]


def functions_in_scope(idx: SourceIndex, *, executed: Set[int] | None = None,
                       runtime_params: dict[int, dict[str, str]] | None = None, entry: str = "",
                       entry_line: int | None = None, classes: set[str] | None = None) -> tuple[FunctionInfo, ...]:
    """The functions to look at: those that ran (when ``executed`` is known), else those reachable from the entry."""
    if idx.tree is None:
        return ()
    if executed is not None:
        ran_firsts = set(runtime_params or {})
        picked = [f for f in idx.functions if f.first_line in ran_firsts
                  or any(line in executed for line in body_lines(f.node))]
    else:
        picked = reachable(idx, entry, entry_line, classes or set())
    return tuple(f for f in picked if f.node.name not in ("__init__", "example_inputs"))


def reachable(idx: SourceIndex, entry: str, entry_line: int | None, classes: set[str]) -> list[FunctionInfo]:
    """The entry's functions (``forward`` for classes) and every function of the file they call."""
    roots: list[FunctionInfo] = []
    if entry in idx.classes or classes:
        for c in ({entry} if entry in idx.classes else set()) | classes:
            f = idx.function_named("forward", c)
            if f:
                roots.append(f)
    else:
        for f in idx.functions:
            if f.node.name == entry and f.cls is None and (
                    entry_line is None or f.node.lineno == entry_line or f.first_line == entry_line):
                roots.append(f)
    seen: list[FunctionInfo] = []
    todo = list(roots)
    while todo:
        f = todo.pop()
        if any(s is f for s in seen):
            continue
        seen.append(f)
        for call in ast.walk(f.node):
            if not isinstance(call, ast.Call):
                continue
            target = callee(idx, call, f)
            if target is not None:
                todo.append(target)
            elif isinstance(call.func, ast.Name) and call.func.id in idx.classes:
                g = idx.function_named("forward", call.func.id)
                if g:
                    todo.append(g)
        if f.cls:  # submodules built in __init__ from classes of this file
            init = idx.function_named("__init__", f.cls)
            if init:
                for call in ast.walk(init.node):
                    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in idx.classes:
                        g = idx.function_named("forward", call.func.id)
                        if g:
                            todo.append(g)
    return seen


def callee(idx: SourceIndex, call: ast.Call, caller: FunctionInfo) -> FunctionInfo | None:
    """The function of this file that ``call`` calls (a top-level function or a method of ``self``)."""
    fn = call.func
    if isinstance(fn, ast.Name) and fn.id not in idx.classes:
        return idx.function_named(fn.id)
    if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and fn.value.id == "self" and caller.cls:
        return idx.function_named(fn.attr, caller.cls)
    return None
