"""Pitfall detectors: a registry of small named checks that turn evidence into :class:`Pitfall` records.

Each check takes a :class:`Context` (the callable, its inputs, its source and the
:class:`~jit_explorer.convert.Conversion`) and yields pitfalls. :func:`detect`
runs every registered check and merges pitfalls that several checks confirm.

Example::

    >>> from jit_explorer.pitfalls import REGISTRY
    >>> "tracer-warnings" in REGISTRY
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .convert import Conversion
from .report import Pitfall

__all__ = ["Context", "Check", "REGISTRY", "register", "detect", "classify_tracer_warning"]


@dataclass
class Context:
    """Everything a check may look at.

    Attributes:
        obj: the function or module that was converted (eager).
        inputs: the example inputs used for the trace.
        source: the user's source text, or ``None`` when unknown.
        user_file: path of the user's file (lines are 1-based in it).
        conversion: the result of :func:`jit_explorer.convert.convert`.
        entry: the entry's name.
        entry_line: where the entry is defined, when known.
    """

    obj: Any
    inputs: tuple[Any, ...]
    source: str | None
    user_file: str | None
    conversion: Conversion
    entry: str = ""
    entry_line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Check = Callable[[Context], Iterable[Pitfall]]

#: name -> check; filled by :func:`register` at import time (a constant table, not per-request state)
REGISTRY: dict[str, Check] = {}


def register(name: str) -> Callable[[Check], Check]:
    """Decorator: add a check to :data:`REGISTRY` under ``name``."""

    def deco(fn: Check) -> Check:
        REGISTRY[name] = fn
        return fn

    return deco


# --------------------------------------------------------------------------- tracer warnings

# (pattern, kind, what goes wrong, fix)
_TRACER_RULES: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (
        re.compile(r"Python boolean", re.I), "tensor-to-bool",
        "a tensor's value decides a Python `if`/`while`/`and`/`or` here; the trace records only the branch "
        "taken for the example input and takes it for every input",
        "express the choice with tensor ops (`torch.where`, masking), or use torch.jit.script for this code",
    ),
    (
        re.compile(r"Python (number|integer|float|index)|to a NumPy array|Python list", re.I), "tensor-to-number",
        "a tensor's value is turned into a Python number/array here; the trace freezes that number as a constant",
        "keep the value as a tensor (avoid .item(), int(), float(), .tolist(), .numpy()), or script this code",
    ),
    (
        re.compile(r"Iterating over a tensor|len to get tensor shape", re.I), "tensor-iteration",
        "iterating over a tensor (or taking len()) unrolls the loop for the example's size; other sizes give "
        "wrong results or errors",
        "use vectorized tensor ops, or torch.jit.script so the loop stays a loop",
    ),
    (
        re.compile(r"registered as constants|torch\.tensor results|from_numpy", re.I), "constant-tensor",
        "a tensor created from Python data is stored in the trace as a constant; it will not change with the input",
        "build it from the input with tensor ops (e.g. `x.new_tensor`, `torch.arange(x.size(0))`), or script this code",
    ),
    (
        re.compile(r"list at the output|dict at the output|output of the tracer", re.I), "container-output",
        "the traced function returns a list/dict; the trace fixes its structure (and lists become tuples)",
        "return a tuple of tensors, or pass strict=False knowingly",
    ),
    (
        re.compile(r"nondeterministic|does not match the corresponding output|not match", re.I), "nondeterministic",
        "running the trace again gave different results: the code is nondeterministic or depends on Python state",
        "put the module in eval() mode, seed or remove randomness, and avoid Python-side state in forward",
    ),
)


def classify_tracer_warning(message: str) -> tuple[str, str, str]:
    """Map a TracerWarning text to ``(kind, what goes wrong, fix)``."""
    for pattern, kind, what, fix in _TRACER_RULES:
        if pattern.search(message):
            return kind, what, fix
    return (
        "shape-specialization",
        "the tracer warns that this value is specialized to the example input",
        "check that the trace stays valid for other inputs, or script this code",
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@register("tracer-warnings")
def tracer_warnings(ctx: Context) -> Iterable[Pitfall]:
    """One pitfall per TracerWarning, on the user's line that raised it."""
    for w in ctx.conversion.warnings:
        if w.category != "TracerWarning":
            continue
        kind, what, fix = classify_tracer_warning(w.message)
        where = "" if w.line is not None else f" (at {w.where})"
        severity = "warning"
        if w.line is None:
            severity = "info"  # raised inside library code the user did not write
        yield Pitfall(
            kind=kind, mode="trace", severity=severity, line=w.line,
            message=f"{what}{where}. TracerWarning: {_first_line(w.message)}",
            fix=fix, evidence="tracer-warning",
        )


@register("script-error")
def script_error(ctx: Context) -> Iterable[Pitfall]:
    """The script failure, located on the user's line where TorchScript names one."""
    res = ctx.conversion.script
    if res is None or res.ok or res.error is None:
        return
    yield Pitfall(
        kind="script-error", mode="script", severity="error", line=res.error.line,
        message=_first_line(res.error.message),
        fix="rewrite the line in the TorchScript subset (type annotations, no lambdas/*args/try), mark it "
        "@torch.jit.ignore/@torch.jit.unused, or use torch.jit.trace for this part",
        evidence="static",
    )


def _merge(pitfalls: list[Pitfall]) -> list[Pitfall]:
    """Merge pitfalls of the same kind/mode/line; their evidence is joined (``a+b``)."""
    merged: dict[tuple[str, str, int | None, str], Pitfall] = {}
    order: list[tuple[str, str, int | None, str]] = []
    for p in pitfalls:
        key = (p.kind, p.mode, p.line, p.message if p.line is None else "")
        if key in merged:
            old = merged[key]
            ev = old.evidence.split("+")
            if p.evidence not in ev:
                merged[key] = Pitfall(**{**old.to_dict(), "evidence": "+".join(ev + [p.evidence])})
        else:
            merged[key] = p
            order.append(key)
    return [merged[k] for k in order]


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def detect(ctx: Context, *, checks: Iterable[str] | None = None) -> list[Pitfall]:
    """Run the registered checks (all, or those named) and return merged pitfalls, most severe first."""
    found: list[Pitfall] = []
    for name in checks if checks is not None else list(REGISTRY):
        found.extend(REGISTRY[name](ctx))
    merged = _merge(found)
    return sorted(merged, key=lambda p: (_SEVERITY_ORDER.get(p.severity, 3), p.line if p.line is not None else 10**9))
