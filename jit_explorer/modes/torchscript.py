"""What ``torch.jit.trace`` and ``torch.jit.script`` share: their four IR views and how to read them.

Both produce a ``ScriptModule``/``ScriptFunction`` whose ``graph``, ``code`` and ``inlined_graph``
are read directly, and whose *optimized* graph is the one the JIT executor really ran after
:data:`PROFILING_RUNS` calls (``torch.jit.last_executed_optimized_graph``).
"""

from __future__ import annotations

import os
import re
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


def _optimized_graph(compiled: Any, inputs: tuple[Any, ...]) -> Any:
    """Call ``compiled`` :data:`PROFILING_RUNS` times and return the graph the executor ran last."""
    with torch.no_grad():  # not inference_mode: its tensors cached in the plan break later calls with autograd on
        for _ in range(PROFILING_RUNS):
            compiled(*inputs)
    return torch.jit.last_executed_optimized_graph()


_VALUE_RE = re.compile(r"^\s*%([\w.]+)")
_TRACE_FRAME_RE = re.compile(r"^(.+)\((\d+)\): ", re.M)
_CALL_LOC_RE = re.compile(r"# (\S+?):(\d+):\d+\s*$")


def _outputs(graph: Any) -> dict[str, Any]:
    """Value name -> the node that defines it, through nested blocks."""
    out: dict[str, Any] = {}

    def walk(block: Any) -> None:
        for node in block.nodes():
            for o in node.outputs():
                out[o.debugName()] = node
            for b in node.blocks():
                walk(b)

    walk(graph)
    return out


def _call_lines(module: Any, files: set[str]) -> dict[str, int]:
    """``attr -> user line`` of each ``prim::CallMethod`` on a submodule in ``module``'s own graph."""
    try:  # every method of the module (forward may call self._forward_impl, where the calls are)
        graphs = [module._c._get_method(name).graph for name in module._c._method_names()]
    except Exception:  # noqa: BLE001 - a module without methods (e.g. an interface)
        return {}
    getattr_of: dict[str, str] = {}
    lines: dict[str, int] = {}
    for node in (n for g in graphs for n in g.findAllNodes("prim::GetAttr") + g.findAllNodes("prim::CallMethod")):
        if node.kind() == "prim::GetAttr":
            getattr_of[node.output().debugName()] = node.s("name")
        elif node.kind() == "prim::CallMethod":
            inputs = list(node.inputs())
            attr = getattr_of.get(inputs[0].debugName()) if inputs else None
            m = _CALL_LOC_RE.search(str(node).strip())
            if attr and m and os.path.abspath(m.group(1)) in files:
                lines.setdefault(attr, int(m.group(2)))
    return lines


def _node_user_line(node: Any, module: Any, files: set[str]) -> int | None:
    """The user's line behind a node whose own location is in a library: the innermost call in the user's file.

    A traced node's source range is the whole Python stack (innermost first); a scripted node carries its
    module hierarchy (``layer1(Sequential).0(BasicBlock).conv1(Conv2d)``), whose calls are found in the
    submodules' own graphs.
    """
    rng = node.sourceRange() or ""
    for path, n in _TRACE_FRAME_RE.findall(rng):
        if os.path.abspath(path.strip()) in files:
            return int(n)
    hierarchy = node.getModuleHierarchy() or ""
    if module is None or not hierarchy:
        return None
    # "SELF(ResNet).layer1(Sequential).0(BasicBlock)": SELF segments are calls of the module's own methods
    names = [seg.split("(", 1)[0] for seg in hierarchy.split(".") if not seg.startswith(("SELF(", "TOP("))]
    if not names:
        return None
    chain = [module]
    for name in names[:-1]:
        sub = getattr(chain[-1], name, None)
        if sub is None:
            return None
        chain.append(sub)
    for parent, name in zip(reversed(chain), reversed(names), strict=True):  # the deepest call site in a user file
        line = _call_lines(parent, files).get(name)
        if line is not None:
            return line
    return None


def library_lines(text: str, graph: Any, module: Any, lines: list[int | None],
                  user_files: frozenset[str]) -> list[int | None]:
    """Fill the ``None`` entries of ``lines`` whose node sits in a library with the user's calling line."""
    files = {os.path.abspath(f) for f in user_files}
    if not files:
        return lines
    defs = _outputs(graph)
    out = list(lines)
    for i, line in enumerate(text.split("\n")[: len(out)]):
        if out[i] is not None:
            continue
        m = _VALUE_RE.match(line)
        node = defs.get(m.group(1)) if m and " = " in line else None
        if node is not None and node.kind() not in ("prim::Constant", "prim::GetAttr"):
            out[i] = _node_user_line(node, module, files)
    return out


def run_torchscript(make: Callable[[], Any], inputs: tuple[Any, ...], *, user_files: frozenset[str],
                    clean: Callable[[str], str]) -> tuple[ModeResult, Any]:
    """Build the compiled program with ``make()``, read its four views and map them to the user's lines."""
    start = time.perf_counter()
    compiled = make()
    inlined = compiled.inlined_graph
    optimized = _optimized_graph(compiled, inputs)
    raw = {
        "graph": str(compiled.graph),
        "code": compiled.code,
        "inlined": str(inlined),
        "optimized": str(optimized),
    }
    seconds = round(time.perf_counter() - start, 4)
    lines: dict[str, list[int | None]] = {}
    for name, text in raw.items():
        if name == "code":  # TorchScript keeps no source locations in .code
            lines[name] = [None] * len(text.rstrip("\n").split("\n")) if text else []
        else:
            lines[name] = torchscript_source_lines(text, user_files)
    module = compiled if isinstance(compiled, torch.jit.ScriptModule) else None
    for name, graph in (("inlined", inlined), ("optimized", optimized)):
        try:
            lines[name] = library_lines(raw[name], graph, module, lines[name], user_files)
        except Exception:  # noqa: BLE001 - linking is best effort; the view itself is right
            pass
    return ModeResult(ok=True, views={k: clean(v) for k, v in raw.items()}, source_lines=lines, seconds=seconds,
                      legacy=LEGACY), compiled
