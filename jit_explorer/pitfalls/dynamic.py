"""Dynamic evidence for the pitfall checks: run the code and watch it.

* :func:`instrumented_call` runs the eager callable once while recording the
  sequence of executed lines of the user's file (``sys.settrace``, only frames of
  that file are traced), the run-time type of every argument of every user
  function, and each ``Dropout``/``BatchNorm`` called in training mode.
* :func:`variants` makes other inputs from the example (sign flips, scaling,
  other sizes along each dimension, another dtype). Inputs of any pytree
  structure (tuples, lists, dicts, namedtuples, nested, and dataclasses) are
  flattened with :mod:`torch.utils._pytree` and rebuilt with their own types.
* :func:`compare` tells whether two outputs agree and, if not, how they differ; it
  compares the way PyTorch's trace checker does (a Python number and a 0-dim tensor
  of the same value are equal).
* Every call runs in the grad mode ``torch.jit.trace`` ran in (``grad=``): code that
  looks at ``requires_grad`` must see what the tracer saw.
* :func:`parting` finds the line where two executed-line sequences part: the
  branch or loop that the trace froze.
* :func:`script_control_flow` reads ``prim::If``/``prim::Loop`` nodes of a
  scripted graph and whether their condition depends on an input's values or shape.

Everything is bounded: callers pass a time budget, and line sequences are capped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import torch
import torch.utils._pytree as pytree

__all__ = [
    "EagerRun", "Variant", "instrumented_call", "variants", "compare", "parting", "call_quietly",
    "script_control_flow", "ControlFlow", "MAX_LINES", "clone_args", "map_tensors", "tensor_leaves",
    "replace_leaves", "to_device", "grad_mode_name",
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
    if isinstance(v, (list, tuple, dict)) or _is_dataclass_instance(v):
        if any(isinstance(x, torch.Tensor) for _, x in _leaves_with_paths(v)):
            return "TL"
    return "C"


_ORDER = {"C": 0, "TL": 1, "T": 2}


# --------------------------------------------------------------------------- pytree inputs


def _is_dataclass_instance(v: Any) -> bool:
    return dataclasses.is_dataclass(v) and not isinstance(v, type)


def map_tensors(fn: Callable[[torch.Tensor], Any], value: Any) -> Any:
    """``value`` rebuilt with ``fn`` applied to every tensor in it, any pytree structure kept.

    Tuples, lists, dicts, namedtuples (and whatever else :mod:`torch.utils._pytree` knows) are rebuilt
    by pytree with their own types; dataclass instances with :func:`dataclasses.replace`. Anything
    else is returned as it is.

    Example::

        >>> from collections import namedtuple
        >>> P = namedtuple("P", "a b")
        >>> map_tensors(lambda t: t + 1, (P(torch.zeros(1), 3),))
        (P(a=tensor([1.]), b=3),)
    """

    def leaf(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return fn(v)
        if _is_dataclass_instance(v):
            changes = {f.name: map_tensors(fn, getattr(v, f.name)) for f in dataclasses.fields(v) if f.init}
            return dataclasses.replace(v, **changes)
        return v

    return pytree.tree_map(leaf, value, is_leaf=_is_dataclass_instance)


def _leaves_with_paths(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every leaf of ``value`` with its path (``[0].x``, ``['mask']``), in :func:`map_tensors`' order."""
    out: list[tuple[str, Any]] = []
    try:
        flat, _ = pytree.tree_flatten_with_path(value, is_leaf=_is_dataclass_instance)
    except Exception:  # noqa: BLE001 - an exotic container: treat it as one leaf
        return [(prefix, value)]
    for path, v in flat:
        where = prefix + pytree.keystr(path)
        if _is_dataclass_instance(v):
            for f in dataclasses.fields(v):
                if f.init:
                    out.extend(_leaves_with_paths(getattr(v, f.name), f"{where}.{f.name}"))
        else:
            out.append((where, v))
    return out


def tensor_leaves(args: tuple[Any, ...], names: list[str]) -> list[tuple[str, torch.Tensor]]:
    """``[(name, tensor)]`` for every tensor in ``args``, named after the parameter and the path in it.

    Example::

        >>> [n for n, _ in tensor_leaves((torch.ones(1), {"m": torch.ones(1)}), ["x", "batch"])]
        ['x', "batch['m']"]
    """
    found: list[tuple[str, torch.Tensor]] = []
    for i, a in enumerate(args):
        name = names[i] if i < len(names) else f"input {i}"
        found.extend((name + path, v) for path, v in _leaves_with_paths(a) if isinstance(v, torch.Tensor))
    return found


def replace_leaves(args: tuple[Any, ...], changes: dict[int, torch.Tensor]) -> tuple[Any, ...]:
    """``args`` with the ``i``-th tensor (in :func:`tensor_leaves`' order) replaced by ``changes[i]``."""
    counter = iter(range(10**9))
    return tuple(map_tensors(lambda t: changes.get(next(counter), t), a) for a in args)


def clone_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Deep copies of the tensors in ``args``, any structure (user code may modify its inputs in place)."""
    return tuple(map_tensors(lambda t: t.clone(), a) for a in args)


def to_device(args: tuple[Any, ...], device: str) -> tuple[Any, ...]:
    """``args`` with every tensor moved to ``device`` (any structure)."""
    return tuple(map_tensors(lambda t: t.to(device), a) for a in args)


def grad_mode_name(grad: bool) -> str:
    """How a message names a grad mode."""
    return "with autograd on" if grad else "under torch.no_grad()"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def call_quietly(fn: Callable[..., Any], args: tuple[Any, ...], *, seed: int = 0, jit: bool = False,
                 grad: bool = False) -> tuple[Any, str | None]:
    """Call ``fn(*clone(args))`` with torch's RNG seeded, warnings off -> ``(output, error)``.

    ``grad``: run with autograd on (the mode ``torch.jit.trace`` records in by default) or under ``no_grad``.
    """
    try:
        with _quiet(), torch.set_grad_enabled(grad):
            torch.manual_seed(seed)
            if jit:
                from ..convert import jit_lock

                with jit_lock, torch.jit.optimized_execution(False):  # a process-wide flag: hold the JIT's lock
                    return fn(*clone_args(args)), None
            return fn(*clone_args(args)), None
    except Exception as e:  # noqa: BLE001 - any failure is a result here
        from ..fix_words import torch_cause

        return None, torch_cause(e)[:300]  # the interpreter's real cause, not its "operation failed" header


def _user_line(user_file: str) -> int | None:
    f: FrameType | None = sys._getframe(2)
    while f is not None:
        if f.f_code.co_filename == user_file:
            return f.f_lineno
        f = f.f_back
    return None


def instrumented_call(fn: Callable[..., Any], args: tuple[Any, ...], user_file: str | None, *, seed: int = 0,
                      grad: bool = False) -> EagerRun:
    """Call ``fn`` once, recording executed lines of ``user_file``, argument types and train-mode modules.

    ``grad``: the grad mode of the call (see :func:`call_quietly`).
    """
    run = EagerRun(ok=False)
    if not user_file:
        out, err = call_quietly(fn, args, seed=seed, grad=grad)
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
        with _quiet(), torch.set_grad_enabled(grad):
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


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"


def variants(args: tuple[Any, ...], names: list[str]) -> Iterator[Variant]:
    """Other inputs, most telling first: values (signs, scale), then sizes, then dtype.

    Every tensor in ``args`` is varied, wherever it sits (a tuple, a dict, a namedtuple, a dataclass);
    the labels name it by parameter and path (``batch['mask']``, ``p.x``). The inputs are rebuilt with
    their own types.
    """
    leaves = tensor_leaves(args, names)
    names = [n for n, _ in leaves]
    tensors = [(i, a) for i, (_, a) in enumerate(leaves)]
    floats = [(i, a) for i, a in tensors if a.is_floating_point() and a.numel() > 0]
    ints = [(i, a) for i, a in tensors
            if not a.is_floating_point() and a.dtype != torch.bool and not a.is_complex() and a.numel() > 0]
    bools = [(i, a) for i, a in tensors if a.dtype == torch.bool and a.numel() > 0]
    who = " and ".join(names[i] for i, _ in floats) if floats else ""

    def with_(changes: dict[int, torch.Tensor]) -> tuple[Any, ...]:
        return replace_leaves(args, changes)

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
                yield Variant(f"{names[i]} with every sign flipped (the other inputs unchanged)",
                              with_({i: -a}), "value")
    if ints:
        g = torch.Generator().manual_seed(1234)
        changes = {}
        for i, a in ints:
            lo, hi = int(a.min()), int(a.max())
            changes[i] = torch.randint(lo, hi + 1, a.shape, generator=g, dtype=a.dtype) if hi > lo else a + 1
        yield Variant(" and ".join(f"{names[i]} with other integer values" for i, _ in ints), with_(changes), "value")
    if bools:
        yield Variant(" and ".join(f"{names[i]} negated (~)" for i, _ in bools),
                      with_({i: ~a for i, a in bools}), "value")
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
        yield Variant(" and ".join(names[i] for i, _ in f32) + " as float64",
                      with_({i: a.double() for i, a in f32}), "dtype")


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
    elif _is_dataclass_instance(v):
        _flatten(tuple(getattr(v, f.name) for f in dataclasses.fields(v)), out)
    else:
        out.append(v)


_NUMBER = (bool, int, float, complex)


def _as_number(v: Any) -> complex | None:
    """A Python number, or a tensor holding exactly one value, as a number (``None`` otherwise)."""
    if isinstance(v, _NUMBER):
        return complex(v)
    if isinstance(v, torch.Tensor) and v.dim() == 0:
        return complex(v.detach().cpu().item())
    return None


def _close_numbers(a: complex, b: complex) -> bool:
    if a != a and b != b:  # both NaN
        return True
    return abs(a - b) <= 1e-5 * max(1.0, abs(a)) + 1e-4 * abs(b)


def compare(eager: Any, traced: Any) -> str | None:
    """``None`` when the two outputs agree, else what differs, in words.

    Compared the way PyTorch's trace checker compares eager and traced outputs: values within a float
    tolerance (NaN equals NaN); a Python number from eager and a 0-dim tensor of the same value from the
    trace (a traced function returns its Python ints/floats as tensors) agree. Unlike the checker, a
    different shape or dtype of a tensor output is reported (the trace froze it).
    """
    a: list[Any] = []
    b: list[Any] = []
    _flatten(eager, a)
    _flatten(traced, b)
    if len(a) != len(b):
        return f"the outputs have a different structure ({len(a)} vs {len(b)} parts)"
    for x, y in zip(a, b, strict=True):
        x_t, y_t = isinstance(x, torch.Tensor), isinstance(y, torch.Tensor)
        if x_t != y_t:
            nx, ny = _as_number(x), _as_number(y)
            if nx is not None and ny is not None:
                if not _close_numbers(nx, ny):
                    return f"eager returns {_show(x)}, the trace {_show(y)}"
                continue
            return f"eager returns {type(x).__name__}, the trace {type(y).__name__}"
        if x_t and y_t:
            if x.shape != y.shape:
                return f"eager returns shape {_shape(x)}, the trace shape {_shape(y)}"
            if x.dtype != y.dtype:
                return f"eager returns dtype {x.dtype}, the trace {y.dtype}".replace("torch.", "")
            if x.numel() == 0:
                continue
            xf, yf = x.detach().cpu(), y.detach().cpu()
            if xf.is_quantized:
                xf = xf.dequantize()
            if yf.is_quantized:
                yf = yf.dequantize()
            if xf.is_floating_point() or xf.is_complex():
                scale = float(xf.abs().nan_to_num(0, 0, 0).max()) if xf.numel() else 0.0
                if not torch.allclose(xf, yf, rtol=1e-4, atol=1e-5 * max(1.0, scale), equal_nan=True):
                    diff = (xf - yf).abs().nan_to_num(float("inf"))
                    return f"max abs difference {float(diff.max()):.4g}"
            elif not torch.equal(xf, yf):
                return f"{int((xf != yf).sum())} of {xf.numel()} values differ"
        elif isinstance(x, _NUMBER) and isinstance(y, _NUMBER):
            if not _close_numbers(complex(x), complex(y)):
                return f"eager returns {x!r}, the trace {y!r}"
        elif x != y:
            return f"eager returns {x!r}, the trace {y!r}"
    return None


def _show(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        if v.dim() == 0:
            return f"a 0-dim tensor holding {v.detach().cpu().item()!r}"
        return f"a tensor of shape {_shape(v)}"
    return repr(v)


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
                    # block inputs (iter, *carried) and node inputs (trip count, cond, *carried): never raise on odd IR
                    for p, src in zip(list(b.inputs())[1:], ins[2:], strict=False):
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
