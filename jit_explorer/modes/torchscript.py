"""What ``torch.jit.trace`` and ``torch.jit.script`` share: their four IR views and how to read them.

Both produce a ``ScriptModule``/``ScriptFunction`` whose ``graph``, ``code`` and ``inlined_graph``
are read directly, and whose *optimized* graph is the one the JIT executor really ran after
:data:`PROFILING_RUNS` calls (``torch.jit.last_executed_optimized_graph``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from ..report import ModeResult
from . import View
from .common import torchscript_source_lines

__all__ = ["VIEWS", "PROFILING_RUNS", "run_torchscript"]

#: how many calls the converted program gets before its optimized graph is read
PROFILING_RUNS = 3

VIEWS: tuple[View, ...] = (
    View("graph", "Graph", "ir", legacy="graph", doc="the TorchScript graph of the entry, calls to submodules kept"),
    View("code", "Code", "python", legacy="code", doc="the graph printed back as TorchScript's Python subset"),
    View("inlined", "Inlined", "ir", legacy="inlined_graph", doc="every submodule call inlined: all the ops"),
    View("optimized", "Optimized", "ir", legacy="optimized_graph",
         doc=f"the graph the JIT executor ran after {PROFILING_RUNS} profiling calls (fusion, guards)"),
)
LEGACY = {v.legacy: v.name for v in VIEWS if v.legacy}


def _optimized_graph(compiled: Any, inputs: tuple[Any, ...]) -> str:
    """Call ``compiled`` :data:`PROFILING_RUNS` times and return the graph the executor ran last."""
    with torch.inference_mode():
        for _ in range(PROFILING_RUNS):
            compiled(*inputs)
    return str(torch.jit.last_executed_optimized_graph())


def run_torchscript(make: Callable[[], Any], inputs: tuple[Any, ...], *, user_files: frozenset[str],
                    clean: Callable[[str], str]) -> tuple[ModeResult, Any]:
    """Build the compiled program with ``make()``, read its four views and map them to the user's lines."""
    start = time.perf_counter()
    compiled = make()
    raw = {
        "graph": str(compiled.graph),
        "code": compiled.code,
        "inlined": str(compiled.inlined_graph),
        "optimized": _optimized_graph(compiled, inputs),
    }
    seconds = round(time.perf_counter() - start, 4)
    lines: dict[str, list[int | None]] = {}
    for name, text in raw.items():
        if name == "code":  # TorchScript keeps no source locations in .code
            lines[name] = [None] * len(text.rstrip("\n").split("\n")) if text else []
        else:
            lines[name] = torchscript_source_lines(text, user_files)
    return ModeResult(ok=True, views={k: clean(v) for k, v in raw.items()}, source_lines=lines, seconds=seconds,
                      legacy=LEGACY), compiled
