"""Dynamic evidence for the pitfall checks: run the code and watch it.

* :func:`instrumented_call` runs the eager callable once while recording the
  sequence of executed lines of the user's file (``sys.settrace``, only frames of
  that file are traced), the run-time type of every argument of every user
  function, and each ``Dropout``/``BatchNorm`` called in training mode.
* :func:`variants` makes other inputs from the example (sign flips, scaling,
  other sizes along each dimension, another dtype).
* :func:`compare` tells whether two outputs agree and, if not, how they differ.
* :func:`parting` finds the line where two executed-line sequences part: the
  branch or loop that the trace froze.
* :func:`script_control_flow` reads ``prim::If``/``prim::Loop`` nodes of a
  scripted graph and whether their condition depends on an input's values or shape.

Everything is bounded: callers pass a time budget, and line sequences are capped.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "EagerRun", "Variant", "instrumented_call", "variants", "compare", "parting", "call_quietly",
    "script_control_flow", "ControlFlow", "MAX_LINES",
]

#: longest executed-line sequence kept (a runaway loop must not eat memory)
MAX_LINES = 100_000

_TRAIN_SENSITIVE = (
    torch.nn.modules.dropout._DropoutNd,
    torch.nn.modules.batchnorm._BatchNorm,
    torch.nn.RReLU,
)


@dataclass
class EagerRun:
    """One eager call, observed."""

    ok: bool
    output: Any = None
    error: str | None = None
    lines: list[int] = field(default_factory=list)
    truncated: bool = False
    params: dict[int, dict[str, str]] = field(default_factory=dict)
    train_modules: list[tuple[str, int | None]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Variant:
    """Another input built from the example: ``label`` says how, for a person."""

    label: str
    args: tuple[Any, ...]
    kind: str  # "value" | "size" | "dtype"


def _arg_cat(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        return "T"
    if isinstance(v, (list, tuple)) and v and any(isinstance(x, torch.Tensor) for x in v):
        return "TL"
    if isinstance(v, dict) and any(isinstance(x, torch.Tensor) for x in v.values()):
        return "TL"
    return "C"


_ORDER = {"C": 0, "TL": 1, "T": 2}


def clone_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Deep copies of tensor arguments (user code may modify its inputs in place)."""

    def c(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return v.clone()
        if isinstance(v, (list, tuple)):
            return type(v)(c(x) for x in v)
        if isinstance(v, dict):
            return {k: c(x) for k, x in v.items()}
        return v

    return tuple(c(a) for a in args)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def call_quietly(fn: Callable[..., Any], args: tuple[Any, ...], *, seed: int = 0, jit: bool = False) -> tuple[Any, str | None]:
    """Call ``fn(*clone(args))`` with torch's RNG seeded, no grad, warnings off -> ``(output, error)``."""
    try:
        with _quiet(), torch.no_grad():
            torch.manual_seed(seed)
            if jit:
                from .convert import jit_lock

                with jit_lock, torch.jit.optimized_execution(False):  # a process-wide flag: hold the JIT's lock
                    return fn(*clone_args(args)), None
            return fn(*clone_args(args)), None
    except Exception as e:  # noqa: BLE001 - any failure is a result here
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return None, f"{type(e).__name__}: {first}"[:300]


def _user_line(user_file: str) -> int | None:
    f = sys._getframe(2)
    while f is not None:
        if f.f_code.co_filename == user_file:
            return f.f_lineno
        f = f.f_back
    return None


def instrumented_call(fn: Callable[..., Any], args: tuple[Any, ...], user_file: str | None, *, seed: int = 0) -> EagerRun:
    """Call ``fn`` once, recording executed lines of ``user_file``, argument types and train-mode modules."""
    run = EagerRun(ok=False)
    if not user_file:
        out, err = call_quietly(fn, args, seed=seed)
        run.ok, run.output, run.error = err is None, out, err
        return run
    lines = run.lines
    params = run.params

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            if len(lines) < MAX_LINES:
                lines.append(frame.f_lineno)
            else:
                run.truncated = True
        return local

    def glob(frame: Any, event: str, arg: Any) -> Any:
        code = frame.f_code
        if code.co_filename != user_file:
            return None
        n = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 4) + bool(code.co_flags & 8)
        rec = params.setdefault(code.co_firstlineno, {})
        loc = frame.f_locals
        for name in code.co_varnames[:n]:
            cat = _arg_cat(loc.get(name))
            if _ORDER[cat] >= _ORDER.get(rec.get(name, "C"), 0):
                rec[name] = cat
        return local

    me = threading.get_ident()

    def pre_hook(module: torch.nn.Module, inputs: Any) -> None:  # global hook: keep only this thread's calls
        if module.training and isinstance(module, _TRAIN_SENSITIVE) and threading.get_ident() == me:
            run.train_modules.append((type(module).__name__, _user_line(user_file)))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)
    prev = sys.gettrace()
    start = time.perf_counter()
    try:
        with _quiet(), torch.no_grad():
            torch.manual_seed(seed)
            sys.settrace(glob)
            try:
                run.output = fn(*clone_args(args))
                run.ok = True
            finally:
                sys.settrace(prev)
    except Exception as e:  # noqa: BLE001
        run.error = f"{type(e).__name__}: {e}"[:300]
    finally:
        handle.remove()
        run.seconds = time.perf_counter() - start
    return run


# --------------------------------------------------------------------------- other inputs


def _names(args: tuple[Any, ...], names: list[str]) -> list[str]:
    return [names[i] if i < len(names) else f"input {i}" for i in range(len(args))]


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"


def variants(args: tuple[Any, ...], names: list[str]) -> Iterator[Variant]:
    """Other inputs, most telling first: values (signs, scale), then sizes, then dtype."""
    names = _names(args, names)
    tensors = [(i, a) for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    floats = [(i, a) for i, a in tensors if a.is_floating_point() and a.numel() > 0]
    ints = [(i, a) for i, a in tensors if not a.is_floating_point() and a.dtype != torch.bool and not a.is_complex() and a.numel() > 0]
    bools = [(i, a) for i, a in tensors if a.dtype == torch.bool and a.numel() > 0]
    who = " and ".join(names[i] for i, _ in floats) if floats else ""

    def with_(changes: dict[int, torch.Tensor]) -> tuple[Any, ...]:
        return tuple(changes.get(i, a) for i, a in enumerate(args))

    if floats:
        for label, f in (
            (f"{who} with every sign flipped (-{names[floats[0][0]]})", lambda t: -t),
            (f"{who} with all values positive (abs)", lambda t: t.abs() + 0.1),
            (f"{who} with all values negative (-abs)", lambda t: -t.abs() - 0.1),
            (f"{who} scaled by 100", lambda t: t * 100),
            (f"{who} scaled by 0.01", lambda t: t * 0.01),
        ):
            yield Variant(label, with_({i: f(a) for i, a in floats}), "value")
        if len(floats) > 1:
            for i, a in floats:
                yield Variant(f"{names[i]} with every sign flipped (the other inputs unchanged)", with_({i: -a}), "value")
    if ints:
        g = torch.Generator().manual_seed(1234)
        changes = {}
        for i, a in ints:
            lo, hi = int(a.min()), int(a.max())
            changes[i] = torch.randint(lo, hi + 1, a.shape, generator=g, dtype=a.dtype) if hi > lo else a + 1
        yield Variant(" and ".join(f"{names[i]} with other integer values" for i, _ in ints), with_(changes), "value")
    if bools:
        yield Variant(" and ".join(f"{names[i]} negated (~)" for i, _ in bools), with_({i: ~a for i, a in bools}), "value")
    for i, a in tensors:
        for d in range(a.dim()):
            s = a.shape[d]
            for new in sorted({s + 1, max(1, s - 1)} - {s}, reverse=True):
                changed = _resize(a, d, s, new)
                label = f"{names[i]} with size {new} instead of {s} along dim {d} (shape {_shape(changed)})"
                yield Variant(label, with_({i: changed}), "size")
                if s > 1 and sum(list(b.shape).count(s) for _, b in tensors) > 1:
                    multi = {j: _resize_all(b, s, new) for j, b in tensors if s in b.shape}
                    yield Variant(f"every size {s} changed to {new} (" + ", ".join(
                        f"{names[j]} {_shape(t)}" for j, t in sorted(multi.items())) + ")", with_(multi), "size")
    f32 = [(i, a) for i, a in floats if a.dtype == torch.float32]
    if f32:
        yield Variant(" and ".join(names[i] for i, _ in f32) + " as float64", with_({i: a.double() for i, a in f32}), "dtype")


def _resize(t: torch.Tensor, dim: int, old: int, new: int) -> torch.Tensor:
    """``t`` with ``new`` entries along ``dim``, repeating its own slices (values keep their distribution)."""
    return t.index_select(dim, torch.arange(new) % max(old, 1))


def _resize_all(t: torch.Tensor, old: int, new: int) -> torch.Tensor:
    for d in range(t.dim()):
        if t.shape[d] == old:
            t = _resize(t, d, old, new)
    return t


# --------------------------------------------------------------------------- comparing outputs


def _flatten(v: Any, out: list[Any]) -> None:
    if isinstance(v, (list, tuple)):
        out.append(("seq", len(v)))
        for x in v:
            _flatten(x, out)
    elif isinstance(v, dict):
        out.append(("dict", len(v)))
        for x in v.values():
            _flatten(x, out)
    elif hasattr(v, "to_tuple") and callable(v.to_tuple):  # transformers ModelOutput
        _flatten(v.to_tuple(), out)
    else:
        out.append(v)


def compare(eager: Any, traced: Any) -> str | None:
    """``None`` when the two outputs agree (within float tolerance), else what differs, in words."""
    a: list[Any] = []
    b: list[Any] = []
    _flatten(eager, a)
    _flatten(traced, b)
    if len(a) != len(b):
        return f"the outputs have a different structure ({len(a)} vs {len(b)} parts)"
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
                return f"eager returns {type(x).__name__}, the trace {type(y).__name__}"
            if x.shape != y.shape:
                return f"eager returns shape {_shape(x)}, the trace shape {_shape(y)}"
            if x.dtype != y.dtype:
                return f"eager returns dtype {x.dtype}, the trace {y.dtype}".replace("torch.", "")
            if x.numel() == 0:
                continue
            xf, yf = x.detach().cpu(), y.detach().cpu()
            if xf.is_floating_point() or xf.is_complex():
                scale = float(xf.abs().nan_to_num(0, 0, 0).max()) if xf.numel() else 0.0
                if not torch.allclose(xf, yf, rtol=1e-4, atol=1e-5 * max(1.0, scale), equal_nan=True):
                    diff = (xf - yf).abs().nan_to_num(float("inf"))
                    return f"max abs difference {float(diff.max()):.4g}"
            elif not torch.equal(xf, yf):
                return f"{int((xf != yf).sum())} of {xf.numel()} values differ"
        elif x != y and not (isinstance(x, float) and isinstance(y, float) and x != x and y != y):
            return f"eager returns {x!r}, the trace {y!r}"
    return None


def parting(base: list[int], other: list[int]) -> tuple[int | None, int | None, int | None]:
    """Where two executed-line sequences part: ``(deciding line, next line in base, next line in other)``.

    ``(None, None, None)`` when they are identical; the deciding line is ``None`` when they differ from the start.
    """
    n = min(len(base), len(other))
    i = 0
    while i < n and base[i] == other[i]:
        i += 1
    if i == len(base) == len(other):
        return None, None, None
    decide = base[i - 1] if i > 0 else None
    nb = base[i] if i < len(base) else None
    no = other[i] if i < len(other) else None
    return decide, nb, no


# --------------------------------------------------------------------------- trace vs script structure


@dataclass(frozen=True)
class ControlFlow:
    """A ``prim::If``/``prim::Loop`` of a compiled graph at a line of the user's file."""

    line: int
    node: str  # "prim::If" | "prim::Loop"
    depends: str | None  # "value" | "shape" | None (config / constants / optional arguments)


_SHAPE_OPS = {"aten::size", "aten::dim", "aten::len", "aten::numel", "prim::dtype", "prim::device", "prim::is_cuda",
              "aten::is_floating_point", "aten::is_complex", "prim::shape", "aten::sym_size", "prim::layout"}
_VALUE_OPS = {"aten::Bool", "aten::Int", "aten::Float", "aten::item", "aten::IntImplicit", "aten::FloatImplicit",
              "aten::ScalarImplicit", "aten::is_nonzero", "aten::tolist", "prim::tolist", "aten::__getitem__"}
_FILE_RE = re.compile(r'File "([^"]+)", line (\d+)')


def _graph_of(compiled: Any) -> Any:
    for attr in ("inlined_graph", "graph"):
        try:
            return getattr(compiled, attr)
        except Exception:  # noqa: BLE001
            continue
    return None


def _derived(graph: Any) -> set[int]:
    """Values computed from the graph's inputs (not from ``self``'s attributes or constants)."""
    derived: set[int] = set()
    for i, v in enumerate(graph.inputs()):
        if i == 0 and v.type().kind() == "ClassType":
            continue
        derived.add(v.unique())

    def walk(block: Any) -> None:
        for n in block.nodes():
            ins = list(n.inputs())
            if n.kind() == "prim::Loop":
                for b in n.blocks():
                    for p, src in zip(list(b.inputs())[1:], ins[2:]):
                        if src.unique() in derived:
                            derived.add(p.unique())
            for b in n.blocks():
                walk(b)
            dep = any(v.unique() in derived for v in ins) or any(
                r.unique() in derived for b in n.blocks() for r in b.outputs())
            if dep:
                derived.update(o.unique() for o in n.outputs())

    walk(graph)
    return derived


def _depends(value: Any, derived: set[int], limit: int = 200) -> str | None:
    todo = [value]
    seen: set[int] = set()
    found: str | None = None
    while todo and len(seen) < limit:
        v = todo.pop()
        if v.unique() in seen:
            continue
        seen.add(v.unique())
        node = v.node()
        kind = node.kind()
        if kind in ("prim::GetAttr", "prim::Constant", "prim::Param"):
            continue
        ins = list(node.inputs())
        if kind in _VALUE_OPS and any(i.unique() in derived and i.type().kind() == "TensorType" for i in ins):
            return "value"
        if kind in _SHAPE_OPS and any(i.unique() in derived for i in ins):
            found = "shape"
            continue
        if kind in ("prim::If", "prim::Loop"):
            continue
        todo.extend(ins)
    return found


def script_control_flow(compiled: Any, user_file: str | None) -> list[ControlFlow]:
    """``prim::If``/``prim::Loop`` nodes of ``compiled`` at lines of ``user_file``, with what decides them."""
    if compiled is None or not user_file:
        return []
    graph = _graph_of(compiled)
    if graph is None:
        return []
    derived = _derived(graph)
    found: list[ControlFlow] = []

    def line_of(node: Any) -> int | None:
        try:
            text = node.sourceRange()
        except Exception:  # noqa: BLE001
            return None
        m = _FILE_RE.search(text or "")
        if m and m.group(1) == user_file:
            return int(m.group(2))
        return None

    def walk(block: Any) -> None:
        for n in block.nodes():
            kind = n.kind()
            if kind in ("prim::If", "prim::Loop"):
                line = line_of(n)
                if line is not None:
                    ins = list(n.inputs())
                    dep: str | None = None
                    if kind == "prim::If":
                        dep = _depends(ins[0], derived)
                    else:
                        deps = [_depends(ins[0], derived)]
                        for b in n.blocks():
                            outs = list(b.outputs())
                            if outs:
                                deps.append(_depends(outs[0], derived))
                        dep = "value" if "value" in deps else ("shape" if "shape" in deps else None)
                    found.append(ControlFlow(line, kind, dep))
            for b in n.blocks():
                walk(b)

    try:
        walk(graph)
    except Exception:  # noqa: BLE001 - graph APIs differ between versions; no evidence is better than a crash
        return found
    return found
