"""``torch.compile``'s front end, Dynamo: which graphs it captures, where it breaks, what it guards.

Runs ``torch._dynamo.explain`` (Dynamo's analysis with a recording backend: no Inductor, no C++
compiler) with Dynamo's graph-break log captured. Views: ``graphs`` (each captured graph's code,
numbered, linked to the user's lines), ``breaks`` (each graph break: the user's line, the reason in
plain words, torch's hints, the graph-break id and its page), ``guards`` (what would trigger a
recompile, in words) and, only when asked, ``inductor`` (the code Inductor generates for the
first graph: slow). Every graph break is a ``graph-break`` pitfall on the user's line — a break
inside torch or a library is attributed to the user's line that called into it. Dynamo's caches
are reset before and after, so one request never changes another's result.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ..report import ModeResult, Pitfall
from . import CaptureMode, Job, Outcome, View, failure, register
from .common import fx_source_lines, innermost_user_frame, quiet_output, user_line_of_exception

__all__ = ["MODE", "GraphBreak", "parse_break_log"]

VIEWS: tuple[View, ...] = (
    View("graphs", "Graphs", "python", doc="each graph Dynamo captured, in the order they run"),
    View("breaks", "Breaks", "text", doc="where Dynamo had to leave the graph and run Python, and why"),
    View("guards", "Guards", "text", doc="what Dynamo checks before reusing the compiled code (else it recompiles)"),
    View("inductor", "Inductor", "python", on_request=True, doc="the code Inductor generates for the first graph"),
)

_GB_URL_RE = re.compile(r"(https://\S+/gb/(gb\d+)\.html)")
_BREAK_AT_RE = re.compile(r"Graph break in user code at (.+):(\d+)")
_FRAME_RE = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\S+)')


@dataclass
class GraphBreak:
    """One graph break, as Dynamo logged it."""

    reason: str
    explanation: str = ""
    hints: list[str] = field(default_factory=list)
    gb_id: str | None = None
    url: str | None = None
    frames: list[tuple[str, int]] = field(default_factory=list)
    at: tuple[str, int] | None = None


def parse_break_log(text: str) -> GraphBreak:
    """Parse one ``graph_breaks`` log record of Dynamo into a :class:`GraphBreak`."""
    gb = GraphBreak(reason="")
    lines = text.splitlines()
    in_tb = False
    reason_next = False
    for raw in lines:
        line = raw.strip()
        if m := _BREAK_AT_RE.search(line):
            gb.at = (m.group(1), int(m.group(2)))
        elif line.startswith("Graph Break Reason:"):
            gb.reason = line.split(":", 1)[1].strip()
            reason_next = gb.reason.endswith(":")  # "…when attempting to trace CALL: …:" then the real reason
        elif reason_next and line and not line.startswith(("Explanation:", "Hint:")):
            gb.reason = line
            reason_next = False
        elif line.startswith("Explanation:"):
            gb.explanation = line.split(":", 1)[1].strip()
            reason_next = False
        elif line.startswith("Hint:"):
            gb.hints.append(line.split(":", 1)[1].strip())
        elif m := _GB_URL_RE.search(line):
            gb.url, gb.gb_id = m.group(1), m.group(2).upper()
        elif line.startswith("User code traceback:"):
            in_tb = True
        elif in_tb and (m := _FRAME_RE.match(raw)):
            gb.frames.append((m.group(1), int(m.group(2))))
    return gb


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a log we cannot format is simply not shown
            pass


@contextlib.contextmanager
def _graph_break_log() -> Iterator[_Collector]:
    """Collect Dynamo's ``graph_breaks`` log records (and only those) inside the block; restore logging after."""
    import torch._dynamo.exc  # noqa: F401  (creates the artifact loggers)
    import torch._dynamo.symbolic_convert  # noqa: F401

    collector = _Collector()
    torch._logging.set_logs(graph_breaks=True)
    loggers = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)
               if name.startswith("torch") and name.endswith(".__graph_breaks")]
    saved = [(lg, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(collector)
        lg.propagate = False  # not on the server's stderr
    try:
        yield collector
    finally:
        for lg, propagate in saved:
            lg.removeHandler(collector)
            lg.propagate = propagate
        torch._logging.set_logs()


_PLAIN = (
    (re.compile(r"Data-dependent branching|generic_jump", re.I),
     "an `if`/`while` decided by the values inside a tensor: Dynamo cannot know the branch at compile time"),
    (re.compile(r"Tensor\.item\(\)|capture_scalar_outputs", re.I),
     "a tensor is turned into a Python number (`.item()`): the value is only known when the code runs"),
    (re.compile(r"builtin operator `print`|print", re.I), "a `print` (a Python side effect) inside the compiled code"),
    (re.compile(r"numpy", re.I), "a NumPy call on a tensor's data"),
    (re.compile(r"Unsupported.*call_function|Failed to trace builtin|skipped|marked as skipped", re.I),
     "a call into a function Dynamo does not trace (a C extension, a skipped library, an unsupported builtin)"),
    (re.compile(r"data.dependent|dynamic shape", re.I), "an operation whose output size depends on tensor values"),
)


def _plain(gb: GraphBreak) -> str:
    text = f"{gb.reason} {gb.explanation}"
    for pattern, words in _PLAIN:
        if pattern.search(text):
            return words
    return gb.reason or "Dynamo stopped capturing here"


def _fix_for(gb: GraphBreak) -> str:
    text = f"{gb.reason} {gb.explanation}"
    if re.search(r"Data-dependent branching|generic_jump", text, re.I):
        return ("make the branch a tensor op: `torch.where(cond, a, b)`, or "
                "`torch.cond(pred, true_fn, false_fn, (x,))` to keep both branches in one graph")
    if re.search(r"item\(\)|capture_scalar_outputs", text, re.I):
        return ("keep the value a tensor (0-dim tensors broadcast), or set "
                "`torch._dynamo.config.capture_scalar_outputs = True` so Dynamo keeps `.item()` in the graph")
    if re.search(r"print|logging", text, re.I):
        return ("move the print/logging out of the compiled function, or guard it with "
                "`if not torch.compiler.is_compiling():`")
    if re.search(r"numpy", text, re.I):
        return "use the torch equivalent of the NumPy call so the work stays in the graph"
    return gb.hints[0] if gb.hints else "rewrite that line with tensor ops, or move it out of the compiled function"


def _break_line(gb: GraphBreak, record: Any, job: Job) -> int | None:
    """The innermost frame in the user's file: the break itself, or the user's call into the library that broke."""
    line = None
    for path, n in gb.frames:
        if path in job.user_files:
            line = n
    if line is None and gb.at and gb.at[0] in job.user_files:
        line = gb.at[1]
    if line is None and record is not None:
        line = innermost_user_frame("\n".join(f'File "{f.filename}", line {f.lineno}' for f in record.user_stack),
                                    job.user_files)
    return line


def _breaks(explained: Any, logs: list[str], job: Job) -> tuple[str, list[int | None], list[Pitfall]]:
    """The ``breaks`` view, its source lines and one ``graph-break`` pitfall per break."""
    parsed = [parse_break_log(t) for t in logs if "Graph Break Reason" in t]
    records = list(getattr(explained, "break_reasons", []) or [])
    if not parsed:  # no log (should not happen): fall back on explain's own short reasons
        parsed = [GraphBreak(reason=str(r.reason).splitlines()[0]) for r in records]
    text: list[str] = []
    lines: list[int | None] = []
    problems: list[Pitfall] = []
    seen: set[tuple[int | None, str]] = set()
    for i, gb in enumerate(parsed):
        record = records[i] if i < len(records) else None
        line = _break_line(gb, record, job)
        if (line, gb.reason) in seen:
            continue
        seen.add((line, gb.reason))
        src = f"{job.label}:{line}" if line else "(no line of yours)"
        text.append(f"break {len(seen)} at {src}: {_plain(gb)}")
        lines.append(line)
        for label, value in (("torch says", gb.reason), ("why", gb.explanation)):
            if value:
                text.append(f"    {label}: {job.clean(value)}")
                lines.append(line)
        for h in gb.hints[:3]:
            text.append(f"    hint: {job.clean(h)}")
            lines.append(line)
        if gb.gb_id:
            text.append(f"    {gb.gb_id}: {gb.url}")
            lines.append(line)
        text.append("")
        lines.append(None)
        where = f" on line {line}" if line else ""
        problems.append(Pitfall(
            kind="graph-break", mode="compile", severity="warning", line=line,
            message=f"torch.compile leaves the graph{where}: {_plain(gb)}. The code still runs, but Python runs "
                    "between the compiled graphs, which costs speed" + (f" ({gb.gb_id})" if gb.gb_id else ""),
            fix=_fix_for(gb), evidence="dynamo"))
    if not text:
        text, lines = ["no graph breaks: Dynamo captured the code in one piece"], [None]
    return "\n".join(text).rstrip("\n") + "\n", lines[: len("\n".join(text).rstrip("\n").split("\n"))], problems


_GUARD_WORDS = {
    "TENSOR_MATCH": "recompiles if this tensor's dtype, device, requires_grad, rank or (static) sizes and strides "
                    "change",
    "TYPE_MATCH": "recompiles if the object's type changes",
    "ID_MATCH": "recompiles if a different object is passed here",
    "EQUALS_MATCH": "recompiles if this Python value changes (it was baked into the graph)",
    "CONSTANT_MATCH": "recompiles if this constant changes",
    "SHAPE_ENV": "checks the relations between symbolic sizes (dynamic shapes)",
    "GRAD_MODE": "recompiles if grad mode changes (torch.no_grad / inference_mode)",
    "DEFAULT_DEVICE": "recompiles if the default device changes",
    "DETERMINISTIC_ALGORITHMS": "recompiles if torch.use_deterministic_algorithms changes",
    "TORCH_FUNCTION_STATE": "recompiles if __torch_function__ overrides are switched on or off",
    "GLOBAL_STATE": "recompiles if global torch state (autocast, threads…) changes",
    "LIST_LENGTH": "recompiles if this list/tuple's length changes",
    "BOOL_MATCH": "recompiles if this bool flips", "NONE_MATCH": "recompiles if this stops being None",
    "DICT_KEYS_MATCH": "recompiles if this dict's keys change",
    "DICT_LENGTH": "recompiles if this dict's length changes",
}


def _guards(explained: Any) -> str:
    """What Dynamo guards on, grouped by kind, in words (module-hook bookkeeping summarised in one line)."""
    groups: dict[str, list[str]] = {}
    for g in list(getattr(explained, "out_guards", []) or []):
        kind = g.create_fn_name()
        groups.setdefault(kind, []).append(g.name or "(global)")
    if not groups:
        return "no guards recorded\n"
    out = ["# Dynamo re-checks these before reusing the compiled code; a failed check means a recompile", ""]
    hooks = 0
    for kind in sorted(groups, key=lambda k: (k not in _GUARD_WORDS, k)):
        names = sorted(set(groups[kind]))
        if "HOOK" in kind or "NOT_PRESENT" in kind or kind == "MODULE_MATCH":
            hooks += len(groups[kind])
            continue
        user = [n for n in names if n.startswith("L[")] or names
        shown = ", ".join(user[:6]) + (f" … (+{len(user) - 6})" if len(user) > 6 else "")
        words = _GUARD_WORDS.get(kind, kind.lower().replace("_", " "))
        out.append(f"{kind} ×{len(groups[kind])}: {words}")
        out.append(f"    on {shown}")
    if hooks:
        out.append(f"+ {hooks} bookkeeping guards: modules' hook dicts stay empty, imported modules stay the same")
    return "\n".join(out) + "\n"


def _inductor_code(job: Job) -> str:
    """The code Inductor generates for the entry (its first graph): slow, only on request."""
    from torch._inductor.utils import run_and_get_code

    torch._dynamo.reset()
    try:
        compiled = torch.compile(job.obj)
        with quiet_output():
            _, codes = run_and_get_code(compiled, *job.inputs)
    finally:
        torch._dynamo.reset()
    return codes[0] if codes else "# Inductor generated no code (nothing to compile)\n"


def convert(job: Job) -> Outcome:
    """Run Dynamo's analysis on ``job.obj``: graphs, graph breaks (as pitfalls), guards; Inductor's code on request."""
    start = time.perf_counter()
    torch._dynamo.reset()
    try:
        with _graph_break_log() as log:
            explained = torch._dynamo.explain(job.obj)(*job.inputs)
    except Exception as e:
        line = user_line_of_exception(e, job.user_files)
        first = job.clean(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)[:500]
        internal = getattr(torch._dynamo.exc, "InternalTorchDynamoError", None)
        if internal is not None and isinstance(e, internal):
            message = (f"torch.compile (Dynamo) failed inside torch {torch.__version__} ({type(e).__name__}: {first}); "
                       "this looks like a bug or limitation of torch, not of your code")
        else:
            message = f"torch.compile (Dynamo) failed ({type(e).__name__}): {first}"
        return Outcome(failure(message, line, seconds=time.perf_counter() - start), exception=e)
    finally:
        torch._dynamo.reset()
    seconds = time.perf_counter() - start
    graphs_text: list[str] = []
    graph_lines: list[int | None] = []
    graphs = list(explained.graphs)
    for i, gm in enumerate(graphs, start=1):
        ops = sum(1 for n in gm.graph.nodes if n.op in ("call_function", "call_method", "call_module"))
        header = f"# ===== graph {i} of {len(graphs)}: {ops} ops ====="
        body = gm.print_readable(print_output=False, include_stride=False, include_device=False).rstrip("\n")
        graphs_text += [header, body, ""]
        graph_lines += [None, *fx_source_lines(gm, body, job.user_files), None]
    if not graphs:
        graphs_text, graph_lines = ["# Dynamo captured no graph (no tensor ops ran)", ""], [None, None]
    graphs_view = "\n".join(graphs_text)
    breaks, break_lines, problems = _breaks(explained, log.records, job)
    guards = _guards(explained)
    views = {"graphs": job.clean(graphs_view), "breaks": breaks, "guards": job.clean(guards)}
    lines: dict[str, list[int | None]] = {
        "graphs": graph_lines[: len(graphs_view.rstrip("\n").split("\n"))],
        "breaks": break_lines,
        "guards": [None] * len(guards.rstrip("\n").split("\n")),
    }
    if job.options.get("inductor"):
        try:
            code = _inductor_code(job)
        except Exception as e:  # noqa: BLE001 - Inductor needs a C++ compiler; say why it is missing
            said = job.clean(str(e).splitlines()[0] if str(e) else "")
            code = f"# Inductor could not compile this code ({type(e).__name__}): {said}\n"
        views["inductor"] = job.clean(code)
        lines["inductor"] = [None] * len(code.rstrip("\n").split("\n"))
    extra = {"graph_count": len(graphs), "graph_break_count": len(problems)}
    result = ModeResult(ok=True, views=views, source_lines=lines, seconds=round(seconds, 4), extra=extra)
    return Outcome(result, compiled=explained, problems=problems)


MODE = register(CaptureMode(
    name="compile",
    title="torch.compile",
    summary="Dynamo captures graphs from the running Python and falls back to Python where it cannot (graph breaks)",
    views=VIEWS,
    detects=("graph-break",),
    convert=convert,
))
