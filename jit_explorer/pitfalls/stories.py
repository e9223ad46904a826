"""The words of the trace's pitfalls: a line quoted from the source, what the trace recorded for a
decision or a loop, where eager and the trace part ways."""

from __future__ import annotations

import ast

from .facts import Decision, Loop
from .index import SourceIndex
from .taint import Cat

__all__ = ["line_ref", "branch_story", "loop_story", "parting_story"]


def line_ref(idx: SourceIndex | None, line: int | None) -> str:
    """``line N `source text``` for messages (the text cut at 80 characters)."""
    t = idx.text(line) if idx is not None else ""
    if len(t) > 80:
        t = t[:77] + "..."
    return f"line {line} `{t}`" if t else f"line {line}"


def branch_story(idx: SourceIndex, d: Decision, lines: list[int]) -> str:
    """What the trace recorded for a decision, from the eager run's executed lines."""
    test = ast.unparse(d.test)
    about = {Cat.S: "the input's shape", Cat.M: "the input's dtype/device"}.get(d.cat, "a tensor's values")
    if d.what == "assert" or d.guard:
        return (f"`{test}` is checked in Python from {about}; the trace does not record the check, so the traced "
                "model never performs it")
    node = d.node
    if isinstance(node, ast.If) and d.line in lines:
        k = lines.index(d.line)
        nxt = lines[k + 1] if k + 1 < len(lines) else None
        body = range(node.body[0].lineno, (node.body[-1].end_lineno or node.body[0].lineno) + 1)
        other = node.orelse[0].lineno if node.orelse else _next_stmt_line(idx, node)
        taken = nxt in body if nxt is not None else None
        if taken is True:
            alt = (f"; where it is False the trace still runs {line_ref(idx, nxt)} instead of {line_ref(idx, other)}"
                   if other else "")
            return (f"`if {test}:` is decided in Python from {about}. The trace records only the path the example "
                    f"input took (the condition was True: it runs {line_ref(idx, nxt)}) and replays it for every "
                    f"input{alt}")
        if taken is False:
            first = node.body[0].lineno
            return (f"`if {test}:` is decided in Python from {about}. The trace records only the path the example "
                    f"input took (the condition was False, so it skips {line_ref(idx, first)}) and replays it for "
                    "every "
                    f"input; where it is True the traced model still skips that branch")
    if isinstance(node, ast.While) and d.line in lines:
        n = max(0, lines.count(d.line) - 1)
        return (f"`while {test}:` is decided in Python from {about}: the trace unrolled the loop {n} time(s) for "
                "the example input and runs exactly that many iterations for every input")
    what = {"ternary": "the conditional expression", "comprehension": "the comprehension's `if`"}.get(d.what, "`if`")
    return (f"{what} `{test}` is decided in Python from {about}; the trace keeps the outcome it had for the example "
            "input and applies it to every input")


def _next_stmt_line(idx: SourceIndex, node: ast.stmt) -> int | None:
    parent = idx.parents.get(node)
    for attr in ("body", "orelse", "finalbody"):
        seq = getattr(parent, attr, None)
        if isinstance(seq, list) and node in seq:
            i = seq.index(node)
            return seq[i + 1].lineno if i + 1 < len(seq) else None
    return None


def loop_story(idx: SourceIndex, lp: Loop, lines: list[int]) -> str:
    n = ""
    if isinstance(lp.node, (ast.For, ast.AsyncFor)) and lp.node.body:
        count = lines.count(lp.node.body[0].lineno)
        if count:
            n = f" {count} time(s)"
    how = {
        "range-shape": f"`{lp.text}` takes its length from the input's shape",
        "range-rank": f"`{lp.text}` takes its length from the input's number of dimensions",
        "range-len": f"`{lp.text}` takes its length from len() of a tensor",
        "tensor": f"`for ... in {lp.text}` iterates over a tensor in Python",
        "split": f"`{lp.text}` makes one Python tensor per slice, as many as the input has",
    }[lp.how]
    return (f"{how}: the trace unrolled the loop{n} for the example input and runs exactly that many iterations for "
            "every input — other sizes give wrong results or index errors")


def parting_story(idx: SourceIndex | None, decide: int, nb: int | None, nv: int | None) -> str:
    trace_next = line_ref(idx, nb) if nb else "the end of that code (the example's path stops here)"
    eager_next = line_ref(idx, nv) if nv else "the end of that code"
    return (f"Eager takes another path at {line_ref(idx, decide)}: it goes on with {eager_next}, while the trace "
            "replays "
            f"the example's path and goes on with {trace_next}.")
