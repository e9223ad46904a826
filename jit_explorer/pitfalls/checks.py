"""Pitfall detectors: a registry of small named checks that turn evidence into :class:`Pitfall` records.

Each check takes a :class:`Context` (the callable, its inputs, its source and the
:class:`~jit_explorer.convert.Conversion`) and yields pitfalls. :func:`detect`
runs every registered check in order and merges pitfalls that several checks
confirm (same kind, mode and line: the evidence is joined with ``+``, the most
severe severity and the most concrete message win).

Three kinds of evidence (``Pitfall.evidence``):

* ``tracer-warning`` — a ``TracerWarning`` raised while tracing, mapped to the user's line;
* ``static`` — read from the source (:mod:`jit_explorer.pitfalls.static`), from the
  script graph's control flow, or from TorchScript's compiler;
* ``divergence`` — the trace gave another result than eager on another input
  (:mod:`jit_explorer.pitfalls.dynamic`); the input is named in the message.

Example::

    >>> from jit_explorer.pitfalls import REGISTRY
    >>> "tracer-warnings" in REGISTRY and "divergence" in REGISTRY
    True
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..convert import Conversion
from ..fix_words import counter_example, no_line_wording, script_said
from ..report import Pitfall
from . import dynamic as dyn
from .facts import Loop, Site, SourceFacts, collect_facts
from .index import SourceIndex
from .script_failure import explain_script_failure
from .stories import branch_story, line_ref, loop_story, parting_story
from .taint import Cat

__all__ = [
    "Context", "Check", "REGISTRY", "register", "prepare", "detect", "classify_tracer_warning", "DYNAMIC_BUDGET_S",
    "DYNAMIC_CHECKS",
]

#: wall-clock seconds the dynamic checks may spend on one entry (env ``JX_PITFALL_BUDGET_S``)
DYNAMIC_BUDGET_S = float(os.environ.get("JX_PITFALL_BUDGET_S", "2.0"))
#: an eager call slower than this skips the variant runs (a big model: the budget would buy nothing)
SLOW_CALL_S = 0.1
#: checks that run the code again on other inputs (the costly ones)
DYNAMIC_CHECKS: tuple[str, ...] = ("stateful", "divergence")


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
        extra: options (``mode``, ``device``).
        found: pitfalls reported by the checks that ran before (filled by :func:`detect`).
        grad: the grad mode torch.jit.trace ran in (every eager reference call uses it too).
        eager: the instrumented eager call on the example inputs (``None`` when the trace was not asked for).
        facts: the static facts about the source (``None`` without a source).
        prepared: ``grad``, ``eager`` and ``facts`` are filled (by :func:`prepare`, or by the caller).
        unstable: eager's output changes between two calls on the same input (set by ``stateful``;
            ``divergence``, which runs after it, then proves nothing and stays quiet).
        cache: counters the checks leave for the caller.
    """

    obj: Any
    inputs: tuple[Any, ...]
    source: str | None
    user_file: str | None
    conversion: Conversion
    entry: str = ""
    entry_line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    found: list[Pitfall] = field(default_factory=list)
    grad: bool = True
    eager: dyn.EagerRun | None = None
    facts: SourceFacts | None = None
    prepared: bool = False
    unstable: bool = False
    cache: dict[str, Any] = field(default_factory=dict)


Check = Callable[[Context], Iterable[Pitfall]]

#: name -> check; filled by :func:`register` at import time (a constant table, not per-request state).
#: :func:`detect` runs them in this (registration) order, and the order matters where a check reads
#: ``ctx.found`` or ``ctx.unstable``:
#:
#: 1. ``tracer-warnings``, ``script-error``, the static checks (``python-decisions`` ... ``container-output``)
#:    and ``trace-vs-script`` read only the conversion and ``ctx.facts``;
#: 2. ``stateful`` sets ``ctx.unstable`` when eager changes between calls on the same input;
#: 3. ``divergence`` runs after it (it stays quiet when ``ctx.unstable``) and blames lines that the
#:    checks before it found (``ctx.found``) when eager and the trace take the same path;
#: 4. ``mode-problems`` copies what the capture modes reported themselves.
REGISTRY: dict[str, Check] = {}


def register(name: str) -> Callable[[Check], Check]:
    """Decorator: add a check to :data:`REGISTRY` under ``name``."""

    def deco(fn: Check) -> Check:
        REGISTRY[name] = fn
        return fn

    return deco


# --------------------------------------------------------------------------- shared facts

_FIX = {
    "tensor-to-bool": "express the choice with tensor ops (`torch.where(cond, a, b)`, masking) so both branches are "
                      "computed in the graph, or compile this function with torch.jit.script (it keeps the `if`)",
    "shape-specialization": "make the code independent of the shape/dtype (e.g. `x.flatten(1)`, `x.reshape(-1, n)`, "
                            "broadcasting) or trace once per variant you need; torch.jit.script keeps the check at "
                            "run time",
    "tensor-iteration": "replace the Python loop with a vectorized tensor op over that dimension (`x.sum(0)`, "
                        "`torch.cumsum`, batched matmul), or torch.jit.script this function so the loop stays a loop",
    "tensor-to-number": "keep the value as a tensor (drop `.item()`/`int()`/`float()`/`.tolist()`/`.numpy()`: tensor "
                        "ops broadcast with 0-dim tensors), or torch.jit.script this function",
    "constant-tensor": "compute the tensor from the input with tensor ops (e.g. `x.sum() / x.shape[0]`, "
                       "`torch.arange(x.size(0))`, `x.new_ones(...)` * value) instead of torch.tensor/from_numpy of "
                       "Python data",
    "python-side-effect": "keep state in a registered buffer updated in place (`self.count.add_(1)`) or return it as "
                          "an output; run bookkeeping outside the traced call, or guard it with "
                          "`if not torch.jit.is_tracing():`",
    "nondeterministic": "use torch's RNG (`torch.rand(())`, `torch.randn_like(x)`: the trace records an op) or pass "
                        "the value in as an input; call .eval() before tracing so dropout/batch-norm are in inference "
                        "mode",
    "container-output": "return a tuple of tensors (e.g. `return out['logits'], out['hidden']`); use "
                        "torch.jit.trace(..., strict=False) only if the structure never changes",
}


def _device_inputs(ctx: Context) -> tuple[Any, ...]:
    """The example inputs on the analysis' device, any pytree structure kept (namedtuples, dicts, dataclasses)."""
    return dyn.to_device(tuple(ctx.inputs), ctx.extra.get("device", "cpu"))


def _grad(ctx: Context) -> bool:
    """The grad mode ``torch.jit.trace`` ran in, which every eager reference call uses too.

    Read from the conversion when it records it (``grad_enabled``), else from ``ctx.extra``, else the
    mode in effect now (the checks run right after the conversion, in the caller's grad mode:
    ``torch.jit.trace`` itself never changes it, so by default it traces with autograd on).
    """
    mode = getattr(ctx.conversion, "grad_enabled", None)
    if not isinstance(mode, bool):
        mode = ctx.extra.get("grad_enabled")
    return mode if isinstance(mode, bool) else torch.is_grad_enabled()


def prepare(ctx: Context) -> Context:
    """Fill what every check may read, in this order (each step needs the one before):

    1. ``ctx.grad`` — the grad mode the trace ran in;
    2. ``ctx.eager`` — one instrumented eager call in that mode (only when the trace was asked for);
    3. ``ctx.facts`` — the static facts, restricted to the lines that eager call executed.

    Does nothing when ``ctx.prepared`` (a caller that built them itself, e.g. the static-only path).
    """
    if ctx.prepared:
        return ctx
    ctx.grad = _grad(ctx)
    if ctx.conversion.trace is not None and ctx.user_file:
        ctx.eager = dyn.instrumented_call(ctx.obj, _device_inputs(ctx), ctx.user_file, grad=ctx.grad)
    if ctx.source:
        run = ctx.eager
        executed = set(run.lines) if run is not None and run.ok and not run.truncated else None
        classes = {type(m).__name__ for m in ctx.obj.modules()} if isinstance(ctx.obj, torch.nn.Module) else set()
        ctx.facts = collect_facts(SourceIndex(ctx.source), executed=executed,
                                  runtime_params=run.params if run is not None else None,
                                  entry=ctx.entry, entry_line=ctx.entry_line, classes=classes)
    ctx.prepared = True
    return ctx


def _proven(ctx: Context) -> str:
    """The start of a divergence proof, saying which grad mode both ran in."""
    return f"Proven by running both (eager {dyn.grad_mode_name(ctx.grad)}, as torch.jit.trace ran)"


def _tracing(ctx: Context) -> bool:
    return ctx.conversion.trace is not None


def _src(facts: SourceFacts | None) -> SourceIndex | None:
    return facts.index if facts is not None else None


def _text(facts: SourceFacts | None, line: int | None) -> str:
    return line_ref(_src(facts), line)


def _lines(ctx: Context) -> list[int]:
    run = ctx.eager
    return run.lines if run is not None else []


def _script_hint(ctx: Context) -> str:
    res = ctx.conversion.script
    if res is not None and res.ok:
        return ". torch.jit.script compiles this code: scripting it is the simplest fix"
    return ""


def _kind_at(facts: SourceFacts | None, line: int | None, fallback: str, *, prefer: str = "decision") -> str:
    """The kind that the source says a decision/loop on ``line`` is (the same kind for all checks)."""
    if facts is None or line is None:
        return fallback
    a = facts
    decision = next(("tensor-to-bool" if d.cat in (Cat.T, Cat.N, Cat.TL) else "shape-specialization"
                     for d in a.decisions if d.line == line), None)
    loop = next((_loop_kind(lp) for lp in a.loops if lp.line == line), None)
    first, second = (loop, decision) if prefer == "loop" else (decision, loop)
    return first or second or fallback


def _loop_kind(lp: Loop) -> str:
    return "tensor-iteration" if lp.how in ("tensor", "range-len") else "shape-specialization"


def _pit(
    kind: str, severity: str, line: int | None, message: str, fix: str, evidence: str, mode: str = "trace"
) -> Pitfall:
    return Pitfall(kind=kind, mode=mode, severity=severity, line=line, message=message, fix=fix, evidence=evidence)


# --------------------------------------------------------------------------- 1. tracer warnings

# (pattern, kind, what goes wrong, fix)
_TRACER_RULES: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (re.compile(r"Python boolean", re.I), "tensor-to-bool",
     "a tensor's value decides a Python `if`/`while`/`and`/`or` here; the trace records only the branch taken for "
     "the example input and takes it for every input", _FIX["tensor-to-bool"]),
    (re.compile(r"Python (number|integer|float|index)|to a NumPy array|Python list", re.I), "tensor-to-number",
     "a tensor's value is turned into a Python number/array here; the trace stores the number computed for the "
     "example input as a constant", _FIX["tensor-to-number"]),
    (re.compile(r"Iterating over a tensor|len to get tensor shape", re.I), "tensor-iteration",
     "iterating over a tensor (or taking len()) unrolls the loop for the example's size; other sizes give wrong "
     "results or errors", _FIX["tensor-iteration"]),
    (re.compile(r"registered as constants|torch\.tensor results|from_numpy", re.I), "constant-tensor",
     "a tensor created from Python data is stored in the trace as a constant; it will not change with the input",
     _FIX["constant-tensor"]),
    (re.compile(r"list at the output|dict at the output|output of the tracer", re.I), "container-output",
     "the traced function returns a list/dict; the trace fixes its structure", _FIX["container-output"]),
    (re.compile(r"nondeterministic|does not match the corresponding output|not match", re.I), "nondeterministic",
     "running the trace again gave different results: the code is nondeterministic or depends on Python state",
     _FIX["nondeterministic"]),
)


def classify_tracer_warning(message: str) -> tuple[str, str, str]:
    """Map a TracerWarning text to ``(kind, what goes wrong, fix)``."""
    for pattern, kind, what, fix in _TRACER_RULES:
        if pattern.search(message):
            return kind, what, fix
    return ("shape-specialization", "the tracer warns that this value is specialized to the example input",
            "check that the trace stays valid for other inputs, or script this code")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _refine_warning(ctx: Context, kind: str, line: int) -> tuple[str, str, str | None]:
    """``(kind, severity, concrete message or None)`` for a tracer warning on ``line``, using the source."""
    facts = ctx.facts
    if facts is None or facts.index.tree is None:
        return kind, "warning", None
    a = facts
    if kind in ("tensor-to-bool", "tensor-to-number") and facts.line_cats(line) <= {Cat.C} and not any(
            d.line == line for d in a.decisions) and not facts.index.is_assert(line):
        return kind, "info", ("the value converted here depends only on the module's parameters/buffers or on "
                              "constants, not on the input: the trace freezes it, which is right until the weights "
                              "change (re-trace after changing them)")
    if kind == "tensor-to-bool":
        decs = [d for d in a.decisions if d.line == line]
        if decs:
            d = decs[0]
            k = _kind_at(facts, line, kind)
            return k, "info" if d.guard else "warning", branch_story(facts.index, d, _lines(ctx))
        if facts.index.is_assert(line) or facts.index.guard_at(line):
            return kind, "info", None
        cats = facts.line_cats(line)
        if not cats & {Cat.T, Cat.N} and cats & {Cat.S, Cat.M}:
            return "shape-specialization", "warning", None
        return kind, "warning", None
    if kind == "tensor-to-number":
        convs = [c for c in a.conversions + a.numpy_calls if c.line == line]
        if convs and all(c.cat == Cat.S for c in convs):
            return ("shape-specialization", "info",
                    f"`{convs[0].text}` turns a size of the input into a Python number; the trace stores the size "
                    "of the example input as a constant (harmless when that size is fixed by the model, e.g. a "
                    "feature dimension; wrong when it varies, e.g. the batch size)")
        if convs:
            return kind, "warning", (f"`{convs[0].text}` turns a tensor's value into a Python number; the trace "
                                     "stores the number computed for the example input as a constant and uses it "
                                     "for every input")
        return kind, "warning", None
    if kind == "constant-tensor":
        sites = [c for c in a.constant_tensors if c.line == line]
        if not sites:
            return kind, "info", ("this tensor is built from constant Python data, so storing it as a constant in the "
                                  "trace is fine (the TracerWarning can be ignored)")
        s = sites[0]
        if s.cat == Cat.S:
            return kind, "info", (f"`{s.text}` builds a tensor from a size of the input; the tracer warns that it may "
                                  "be stored as a constant (the size of the example input)")
        return kind, "warning", (f"`{s.text}` builds a tensor from values computed from the input; the trace stores "
                                 "the values of the example input as a constant")
    if kind == "tensor-iteration":
        if any(lp.line == line for lp in a.loops):
            lp = next(lp for lp in a.loops if lp.line == line)
            severity = "info" if lp.how == "range-rank" else "warning"
            return _loop_kind(lp), severity, loop_story(facts.index, lp, _lines(ctx))
        if "len(" in facts.index.text(line) and not facts.decisions_at(line):
            return kind, "info", ("len() of a tensor gives its first size as a Python int; the trace stores the "
                                  "example's size as a constant (use `x.size(0)` in tensor arithmetic instead)")
    return kind, "warning", None


@register("tracer-warnings")
def tracer_warnings(ctx: Context) -> Iterable[Pitfall]:
    """One pitfall per TracerWarning, on the user's line that raised it, classified with the source."""
    for w in ctx.conversion.warnings:
        if w.category != "TracerWarning":
            continue
        kind, what, fix = classify_tracer_warning(w.message)
        if w.line is None:
            if kind == "container-output":
                continue  # the container-output check puts it on the return line
            yield _pit(kind, "info", None, f"{what} (at {w.where}). TracerWarning: {_first_line(w.message)}", fix,
                       "tracer-warning")
            continue
        facts = ctx.facts
        if getattr(w, "internal", False) or (
                facts is not None and facts.index.tree is not None and not facts.has_construct(kind, w.line)):
            yield _pit(kind, "info", w.line,
                       f"{_text(facts, w.line)} calls library code that raised this TracerWarning inside it ({what}); "
                       "check that the call behaves the same for other inputs. "
                       f"TracerWarning: {_first_line(w.message)}",
                       fix, "tracer-warning")
            continue
        kind, severity, story = _refine_warning(ctx, kind, w.line)
        message = f"{story or what}. TracerWarning: {_first_line(w.message)}"
        yield _pit(kind, severity, w.line, message, _FIX.get(kind, fix) + _script_hint(ctx), "tracer-warning")


# --------------------------------------------------------------------------- 5. script errors


@register("script-error")
def script_error(ctx: Context) -> Iterable[Pitfall]:
    """The script failure, on the user's line (located by TorchScript or, failing that, in the source)."""
    res = ctx.conversion.script
    if res is None or res.ok or res.error is None:
        return
    raw = res.error.message
    what, fix = explain_script_failure(raw)
    src = SourceIndex(ctx.source) if ctx.source else None
    where = f" at {line_ref(src, res.error.line)}" if res.error.line else ""
    said = script_said(raw) or _first_line(raw)  # torch's own words, past any canned text before them
    what = no_line_wording(what, res.error.line)
    trace = ctx.conversion.trace
    if trace is not None and trace.ok:
        fix += "; torch.jit.trace works on this code (check its pitfalls before relying on it)"
    yield _pit("script-error", "error", res.error.line,
               f"torch.jit.script fails{where}: {what}. TorchScript said: {said}", fix, "static", mode="script")


# --------------------------------------------------------------------------- 2. static checks


@register("python-decisions")
def python_decisions(ctx: Context) -> Iterable[Pitfall]:
    """``if``/``while``/ternaries decided by an input's values, shape, dtype or device (static)."""
    facts = ctx.facts if _tracing(ctx) else None
    if facts is None:
        return
    for d in facts.decisions:
        kind = _kind_at(facts, d.line, "tensor-to-bool")
        severity = "info" if d.guard else "warning"
        yield _pit(kind, severity, d.line, branch_story(facts.index, d, _lines(ctx)),
                   _FIX[kind] + _script_hint(ctx), "static")


@register("python-loops")
def python_loops(ctx: Context) -> Iterable[Pitfall]:
    """Loops whose trip count comes from an input: ``range(x.size(0))``, ``range(len(x))``, ``for row in x``."""
    facts = ctx.facts if _tracing(ctx) else None
    if facts is None:
        return
    for lp in facts.loops:
        kind = _loop_kind(lp)
        fix = _FIX["tensor-iteration"] if kind == "tensor-iteration" else (
            "vectorize over that dimension instead of looping in Python, or torch.jit.script this function so the "
            "loop stays a loop (prim::Loop)")
        severity = "info" if lp.how == "range-rank" else "warning"  # the rank is fixed for most models
        yield _pit(kind, severity, lp.line, loop_story(facts.index, lp, _lines(ctx)), fix + _script_hint(ctx), "static")


@register("python-numbers")
def python_numbers(ctx: Context) -> Iterable[Pitfall]:
    """Tensor values turned into Python numbers / numpy arrays (``.item()``, ``int(t)``, ``np.exp(t)``)."""
    facts = ctx.facts if _tracing(ctx) else None
    if facts is None:
        return
    a = facts
    for s in a.conversions + a.numpy_calls:
        if s.cat == Cat.S:
            continue  # a size turned into an int: reported (as info) with the tracer's own warning
        if s.what in ("to-numpy", "numpy-call"):
            msg = (f"`{s.text}` is a numpy round trip: the tensor leaves torch, so the trace cannot follow it and "
                   "stores the numpy result for the example input as a constant")
            fix = ("use the torch equivalent (`torch.exp`, `torch.clip`, `torch.sort`...) so the operation stays in "
                   "the graph")
        else:
            msg = (f"`{s.text}` turns a tensor's value into a Python number; the trace stores the number computed "
                   "for the example input as a constant and uses it for every input")
            fix = _FIX["tensor-to-number"]
        yield _pit("tensor-to-number", "warning", s.line, msg, fix + _script_hint(ctx), "static")


@register("constant-tensors")
def constant_tensors(ctx: Context) -> Iterable[Pitfall]:
    """``torch.tensor``/``from_numpy``/``as_tensor`` of data computed from the input's values (frozen)."""
    facts = ctx.facts if _tracing(ctx) else None
    if facts is None:
        return
    for s in facts.constant_tensors:
        if s.cat == Cat.S:
            continue
        if s.what == "data":
            yield _pit("constant-tensor", "warning", s.line,
                       f"`{s.text}` takes a tensor computed from the input out of the tracer's sight (`.data` is not "
                       "recorded): wherever it is used, the trace stores the values of the example input as a constant "
                       "tensor, so every later input gets the same values",
                       "use the tensor itself, or `.detach()` (recorded as aten::detach), instead of `.data`", "static")
            continue
        yield _pit("constant-tensor", "warning", s.line,
                   f"`{s.text}` builds a tensor from Python data computed from the input; the trace stores the data "
                   "of the example input as a constant tensor, so every later input gets the same values",
                   _FIX["constant-tensor"], "static")


_OWNERS = {
    "self": "an attribute of the module (`self`)",
    "global": "a module-level global",
    "function": "an attribute of the function `{root}` (state memoised on a function object)",
    "class": "an attribute of the class `{root}` (shared by every instance)",
}


def _owner(site: Site) -> str:
    """Whose state ``site`` changes, in words."""
    root = re.split(r"[.\[(,]", site.text.removeprefix("setattr("))[0].strip()
    if site.what == "class" and root in ("self", "type"):
        return "an attribute of the module's class (shared by every instance)"
    return _OWNERS.get(site.what, _OWNERS["global"]).format(root=root)


@register("side-effects")
def side_effects(ctx: Context) -> Iterable[Pitfall]:
    """Mutation of ``self`` attributes or module globals inside the traced call; ``print`` (advisory)."""
    facts = ctx.facts if _tracing(ctx) else None
    if facts is None:
        return
    a = facts
    for s in _side_effects(ctx, facts):
        owner = _owner(s)
        yield _pit("python-side-effect", "warning", s.line,
                   f"`{facts.index.text(s.line)}` changes {owner} in Python; the trace does not record it, so the "
                   "traced model never updates it, and code that reads it keeps the value it had while tracing",
                   _FIX["python-side-effect"], "static")
    for s in a.prints:
        yield _pit("python-side-effect", "info", s.line,
                   f"`{s.text}` runs only while tracing: the traced model does not print or log",
                   "guard debug output with `if not torch.jit.is_tracing():`, or return what you want to see", "static")


@register("python-randomness")
def python_randomness(ctx: Context) -> Iterable[Pitfall]:
    """Python ``random``/``numpy.random``/clock values (frozen by the trace); ``F.dropout`` without ``training=``."""
    facts = ctx.facts if _tracing(ctx) else None
    if facts is None:
        return
    a = facts
    for s in a.random_calls:
        yield _pit("nondeterministic", "warning", s.line,
                   f"`{s.text}` is a Python-level {'clock' if s.what in ('time', 'datetime') else 'random'} value: "
                   "the trace records the value it had while tracing as a constant, so the traced model uses that same "
                   "value on every call while eager draws a new one", _FIX["nondeterministic"], "static")
    for s in a.dropout_calls:
        yield _pit("nondeterministic", "warning", s.line,
                   f"`{s.text}` runs in training mode (F.{s.what} defaults to training=True, even after .eval()): "
                   "eager and traced outputs are random on every call",
                   "pass `training=self.training` (or use nn.Dropout, which .eval() turns off)", "static")


@register("train-mode")
def train_mode(ctx: Context) -> Iterable[Pitfall]:
    """Dropout/BatchNorm modules called in training mode during the traced call (observed)."""
    run = ctx.eager if _tracing(ctx) else None
    if run is None:
        return
    facts = ctx.facts
    seen: set[tuple[str, int | None]] = set()
    for name, line in run.train_modules:
        if (name, line) in seen:
            continue
        seen.add((name, line))
        if "Norm" in name:
            what = (f"calls {name} in training mode: the trace records batch statistics (each output depends on the "
                    "other samples in the batch) and updates the running statistics on every call")
        else:
            what = f"calls {name} in training mode: the trace records it, so the traced model is random on every call"
        yield _pit("nondeterministic", "warning", line, f"{_text(facts, line)} {what}",
                   "call model.eval() before torch.jit.trace (and pass training=self.training to functional calls)",
                   "static")


@register("container-output")
def container_output(ctx: Context) -> Iterable[Pitfall]:
    """``return`` of a dict or list from the traced entry (on the return line)."""
    facts = ctx.facts if _tracing(ctx) else None
    if facts is None or facts.index.tree is None:
        return
    if isinstance(ctx.obj, torch.nn.Module):
        fn = facts.index.function_named("forward", type(ctx.obj).__name__)
    else:
        fn = facts.index.function_named(getattr(ctx.obj, "__name__", ctx.entry) or ctx.entry)
    if fn is None:
        return
    trace = ctx.conversion.trace
    failed = trace is not None and not trace.ok and trace.error is not None and "at the output" in trace.error.message
    for node, kind in facts.index.returns_of(fn):
        if not facts.ran(node):
            continue
        base = kind.split()[-1]
        if failed:
            msg = (f"`{facts.index.text(node.lineno)}` returns a {kind}: torch.jit.trace (strict mode) refuses a "
                   f"{base} output and fails; with strict=False the trace would fix the container's structure to "
                   "the example's")
            sev = "error"
        else:
            msg = (f"`{facts.index.text(node.lineno)}` returns a {kind}: the trace fixes the container's structure "
                   "(its length and keys) to the example's; outputs of other structure are silently wrong")
            sev = "warning"
        yield _pit("container-output", sev, node.lineno, msg, _FIX["container-output"], "static")


# --------------------------------------------------------------------------- 4. trace vs script structure


@register("trace-vs-script")
def trace_vs_script(ctx: Context) -> Iterable[Pitfall]:
    """Control flow that the script graph keeps (``prim::If``/``prim::Loop`` on an input) and the trace lost."""
    conv = ctx.conversion
    if conv.scripted is None or conv.trace is None or not ctx.user_file:
        return
    flows = dyn.script_control_flow(conv.scripted, ctx.user_file)
    kept = {f.line for f in dyn.script_control_flow(conv.traced, ctx.user_file)} if conv.traced is not None else set()
    facts = ctx.facts
    seen: set[int] = set()
    for f in flows:
        if f.depends is None or f.line in kept or f.line in seen:
            continue
        seen.add(f.line)
        if facts is not None and facts.executed is not None and f.line not in facts.executed:
            continue
        stmt = facts.index.statement_at(f.line) if facts is not None else None
        if stmt is not None and facts is not None and (facts.index.traced_away(stmt) or isinstance(stmt, ast.Assert)):
            continue
        default = "tensor-to-bool" if f.depends == "value" else "shape-specialization"
        if isinstance(stmt, (ast.For, ast.AsyncFor)) and f.node == "prim::Loop":
            default = "tensor-iteration" if f.depends == "value" else "shape-specialization"
        kind = _kind_at(facts, f.line, default, prefer="loop" if f.node == "prim::Loop" else "decision")
        guard = facts is not None and facts.index.guard_at(f.line)
        if facts is not None and f.depends == "shape" and _kind_at(facts, f.line, "") == "":
            guard = True  # no Python decision or loop on an input's shape here (e.g. `list(range(x.dim()))`): advisory
        if f.node == "prim::Loop" and facts is not None and any(
                lp.line == f.line and lp.how == "range-rank" for lp in facts.loops):
            guard = True  # a loop over the number of dimensions: advisory
        on = "a tensor's values" if f.depends == "value" else "the input's shape/dtype"
        yield _pit(kind, "info" if guard else "warning", f.line,
                   f"torch.jit.script keeps {_text(facts, f.line)} as real control flow ({f.node}, decided by {on} at "
                   f"run time), but the trace has no {f.node} there: it replays what the example input did",
                   "use torch.jit.script for this function (it compiles and keeps the control flow), or script just "
                   "this helper and call it from the traced model", "static")


# --------------------------------------------------------------------------- 3. dynamic evidence


def _inplace_tensor_update(ctx: Context, site: Site) -> bool:
    """``self.buf += 1`` on a tensor attribute is an in-place op the trace records: not a Python side effect."""
    m = re.fullmatch(r"self\.(\w+)", site.text)
    if site.extra != "aug" or m is None or not isinstance(ctx.obj, torch.nn.Module):
        return False
    cls = site.func.split(".")[0]
    return any(type(mod).__name__ == cls and isinstance(getattr(mod, m.group(1), None), torch.Tensor)
               for mod in ctx.obj.modules())


def _side_effects(ctx: Context, facts: SourceFacts) -> list[Site]:
    return [s for s in facts.side_effects if not _inplace_tensor_update(ctx, s)]


def _param_names(obj: Any) -> list[str]:
    target = obj.forward if isinstance(obj, torch.nn.Module) else obj
    try:
        return [p.name for p in inspect.signature(target).parameters.values()]
    except (TypeError, ValueError):
        return []


def _dynamic_ready(ctx: Context) -> dyn.EagerRun | None:
    conv = ctx.conversion
    if conv.traced is None or conv.trace is None or not conv.trace.ok:
        return None
    run = ctx.eager
    if run is None or not run.ok or run.seconds > SLOW_CALL_S:
        return None
    return run


def _candidates(ctx: Context, facts: SourceFacts | None, run: dyn.EagerRun, variant_kind: str) -> list[tuple[str, int]]:
    """Lines that freeze a value (kind, line), in execution order, for a divergence with no parting line."""
    found: list[tuple[str, int, str]] = []  # kind, line, "value"|"size"|"any"
    if facts is not None:
        a = facts
        for d in a.decisions:  # one-line decisions (ternaries, `and`/`or`) leave no trace in the line sequence
            if not d.guard:
                found.append((_kind_at(facts, d.line, "tensor-to-bool"), d.line,
                              "value" if d.cat in (Cat.T, Cat.N) else "size"))
        for s in a.conversions + a.numpy_calls:
            found.append(("tensor-to-number" if s.cat != Cat.S else "shape-specialization", s.line,
                          "size" if s.cat == Cat.S else "value"))
        for s in a.constant_tensors:  # a frozen `.data` tensor fixes values and sizes alike
            how = "any" if s.what == "data" else "size" if s.cat == Cat.S else "value"
            found.append(("constant-tensor", s.line, how))
    for p in ctx.found:
        if p.mode == "trace" and p.line is not None and p.kind in (
                "tensor-to-number", "constant-tensor", "shape-specialization", "tensor-iteration"):
            found.append((p.kind, p.line, "size" if p.kind in ("shape-specialization", "tensor-iteration") else "any"))
    want = "size" if variant_kind == "size" else "value"
    order = {line: i for i, line in reversed(list(enumerate(run.lines)))}
    picked = [(k, line) for k, line, t in found if t in (want, "any") and line in order]
    picked.sort(key=lambda kl: order[kl[1]])
    return picked


@register("stateful")
def stateful(ctx: Context) -> Iterable[Pitfall]:
    """Call eager twice with the same input: if it changes (Python state, Python randomness) the frozen trace is
    wrong."""
    base = _dynamic_ready(ctx)
    if base is None:
        return
    args = _device_inputs(ctx)
    grad = ctx.grad
    r1 = dyn.instrumented_call(ctx.obj, args, ctx.user_file, grad=grad)
    r2 = dyn.instrumented_call(ctx.obj, args, ctx.user_file, grad=grad)
    t1, terr = dyn.call_quietly(ctx.conversion.traced, args, jit=True, grad=grad)
    t2, terr2 = dyn.call_quietly(ctx.conversion.traced, args, jit=True, grad=grad)
    if not (r1.ok and r2.ok) or terr is not None or terr2 is not None:
        return
    d12 = dyn.compare(r1.output, r2.output)
    d2t = dyn.compare(r2.output, t1)
    if d12 is None and d2t is None:
        return
    ctx.unstable = True  # outputs depend on more than the input: comparing other inputs proves nothing
    if d12 is not None and dyn.compare(t1, t2) is not None:
        return  # the trace changes between calls too: state kept in tensors (buffers updated in place) is traced
    facts = ctx.facts
    a = facts if facts is not None else None
    if d12 is not None:
        proof = (f"{_proven(ctx)}: calling the eager model twice with the same input gives different results "
                 f"({d12}), while the traced model gives the same result every time.")
    else:
        proof = (f"{_proven(ctx)}: on the example input itself the traced model now differs from eager ({d2t}): "
                 "Python state changed since tracing.")
    decide, nb, nv = dyn.parting(r1.lines, r2.lines)
    emitted = False
    if decide is not None:
        kind = "python-side-effect"
        if a is not None and facts is not None and a.random_calls and not _side_effects(ctx, facts):
            kind = "nondeterministic"
        emitted = True
        yield _pit(kind, "error", decide, f"{_text(facts, decide)} decides on Python state that changes between calls. "
                   f"{proof} {parting_story(_src(facts), decide, nb, nv)}", _FIX[kind], "divergence")
    if a is not None and facts is not None:
        for s in _side_effects(ctx, facts):
            emitted = True
            yield _pit("python-side-effect", "error", s.line,
                       f"`{facts.index.text(s.line)}` changes Python state on every call; the trace does not record "
                       f"it. {proof}",
                       _FIX["python-side-effect"], "divergence")
        for s in a.random_calls:
            emitted = True
            yield _pit("nondeterministic", "error", s.line,
                       f"`{s.text}` draws a new Python value on every eager call; the trace froze the one it drew "
                       f"while tracing. {proof}", _FIX["nondeterministic"], "divergence")
    if not emitted:
        yield _pit("nondeterministic", "error", None, f"{proof} No single line could be pinned down.",
                   _FIX["nondeterministic"], "divergence")


@register("divergence")
def divergence(ctx: Context) -> Iterable[Pitfall]:
    """Run eager and the trace on other inputs (values, sizes, dtype); name the input and the line when they differ."""
    base = _dynamic_ready(ctx)
    if base is None or ctx.unstable:
        return
    facts = ctx.facts
    names = _param_names(ctx.obj)
    deadline = time.perf_counter() + DYNAMIC_BUDGET_S
    reported: set[int | None] = set()
    traced = ctx.conversion.traced
    grad = ctx.grad
    for v in dyn.variants(_device_inputs(ctx), names):
        if time.perf_counter() > deadline:
            break
        eo, ee = dyn.call_quietly(ctx.obj, v.args, grad=grad)
        if ee is not None:
            continue  # eager itself does not accept this input: nothing to compare
        to, te = dyn.call_quietly(traced, v.args, jit=True, grad=grad)
        diff = f"the trace fails: {te}" if te is not None else dyn.compare(eo, to)
        ctx.cache["inputs_checked"] = ctx.cache.get("inputs_checked", 0) + 1  # "checked on N other inputs"
        if diff is None:
            continue
        again, _ = dyn.call_quietly(ctx.obj, v.args, grad=grad)
        if dyn.compare(eo, again) is not None:
            continue  # eager itself changes between calls on this input (Python state): not evidence about the trace
        run = dyn.instrumented_call(ctx.obj, v.args, ctx.user_file, grad=grad)
        decide, nb, nv = dyn.parting(base.lines, run.lines) if run.ok else (None, None, None)
        proof = f"{_proven(ctx)}: for {v.label}, eager and the traced model disagree ({diff})."
        if te is None:
            proof += " " + counter_example(v.args, eo, to)
        cands = _candidates(ctx, facts, base, v.kind)
        if decide is not None:
            fallback = "shape-specialization" if v.kind != "value" else "tensor-to-bool"
            existing = [p.kind for p in ctx.found if p.line == decide and p.mode == "trace"]
            kind = _kind_at(facts, decide, existing[0] if existing else "")
            if not kind and cands and cands[0][1] != decide:
                # the path parts at an ordinary line (e.g. a loop over a list made by .tolist()): the frozen value
                # is the cause
                kind, line = cands[0]
                if line not in reported:
                    reported.add(line)
                    yield _pit(kind, "error", line,
                               f"{proof} {parting_story(_src(facts), decide, nb, nv)} That path follows "
                               f"from a value frozen into the trace at {_text(facts, line)}.", _FIX[kind], "divergence")
                continue
            kind = kind or fallback
            if decide in reported:
                continue
            reported.add(decide)
            yield _pit(kind, "error", decide, f"{proof} {parting_story(_src(facts), decide, nb, nv)}",
                       _FIX[kind] + _script_hint(ctx), "divergence")
            continue
        if cands:
            kind, line = cands[0]
            if line in reported:
                continue
            reported.add(line)
            yield _pit(kind, "error", line, f"{proof} Eager runs the same lines for both inputs, so the difference "
                       f"comes from a value frozen into the trace at {_text(facts, line)}.", _FIX[kind], "divergence")
        elif None not in reported:
            reported.add(None)
            kind = "shape-specialization" if v.kind != "value" else "tensor-to-number"
            yield _pit(kind, "error", None, f"{proof} The line that froze the value could not be pinned down.",
                       _FIX[kind], "divergence")


# --------------------------------------------------------------------------- merging


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_EVIDENCE_RANK = {"divergence": 0, "tracer-warning": 1, "static": 2}


def _merge(pitfalls: list[Pitfall]) -> list[Pitfall]:
    """Merge pitfalls of the same kind/mode/line: evidence joined (``a+b``), most severe severity and
    the most concrete message (divergence, then tracer warning, then static) win."""
    groups: dict[tuple[str, str, int | None, str], list[Pitfall]] = {}
    for p in pitfalls:
        key = (p.kind, p.mode, p.line, p.message if p.line is None else "")
        groups.setdefault(key, []).append(p)
    merged: list[Pitfall] = []
    for group in groups.values():
        evidence: list[str] = []
        for p in group:
            for e in p.evidence.split("+"):
                if e not in evidence:
                    evidence.append(e)
        best = min(group, key=lambda p: (_SEVERITY_ORDER.get(p.severity, 3), _EVIDENCE_RANK.get(p.evidence, 3)))
        severity = min((p.severity for p in group), key=lambda s: _SEVERITY_ORDER.get(s, 3))
        evidence.sort(key=lambda e: _EVIDENCE_RANK.get(e, 3))
        merged.append(Pitfall(**{**best.to_dict(), "severity": severity, "evidence": "+".join(evidence)}))
    return merged


@register("mode-problems")
def _mode_problems(ctx: Context) -> Iterable[Pitfall]:
    """What the capture modes reported themselves: export failures and specialisations, graph breaks."""
    yield from getattr(ctx.conversion, "problems", ())


def detect(ctx: Context, *, checks: Iterable[str] | None = None) -> list[Pitfall]:
    """Run the registered checks (all, or those named) in order and return merged pitfalls, most severe first.

    :func:`prepare` fills the facts the checks share first. A check that crashes is skipped (a broken
    heuristic must not hide the other checks' findings).
    """
    prepare(ctx)
    for name in checks if checks is not None else list(REGISTRY):
        try:
            ctx.found.extend(REGISTRY[name](ctx))
        except Exception:  # noqa: BLE001
            if os.environ.get("JX_PITFALL_DEBUG"):
                raise
    merged = _merge(ctx.found)
    return sorted(merged, key=lambda p: (_SEVERITY_ORDER.get(p.severity, 3), p.line if p.line is not None else 10**9))
