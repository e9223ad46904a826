"""Taint: the category of every value in the functions of a scope (a small flow-insensitive analysis).

Values are put in coarse *categories* (see :class:`Cat`): a tensor that comes from the inputs, a
Python number read from a tensor's values, a size read from a tensor's shape, a dtype/device, or
anything else (constants, config attributes, parameters). The checks only fire on categories
that really come from the inputs, which is what keeps ``if self.use_bias:``, ``range(3)`` or
``x.view(x.size(0), -1)`` quiet.

:class:`Taint` is computed once, for one scope, from nothing but its constructor's arguments:

1. each function's parameters get a category (the run-time categories when an eager run saw
   them, else from annotations and defaults: an unannotated parameter is a tensor);
2. each function's environment (name -> category) is swept to a fixed point;
3. shape/number/meta categories flow through calls into helpers of the same scope (twice at most),
   then the environments are recomputed.

Example::

    >>> from .index import SourceIndex
    >>> idx = SourceIndex("def f(x):\\n    n = x.size(0)\\n    return x * n\\n")
    >>> Taint(idx, idx.functions).env(idx.functions[0])["n"]
    'S'
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

from .index import FunctionInfo, SourceIndex, is_call_to
from .scope import callee

__all__ = ["Cat", "Taint", "CONSTANT_TENSOR_FUNCS", "SPLIT_METHODS"]


class Cat:
    """Value categories, ordered: the max of two is the more input-dependent one."""

    C = "C"    # constant / config / parameter / unknown non-input value
    M = "M"    # meta data of an input tensor: dtype, device, is_cuda, is_floating_point()
    S = "S"    # a size read from an input tensor's shape: x.size(0), x.shape, x.dim(), len(x)
    N = "N"    # a Python number read from an input tensor's values: .item(), int(t), .tolist()
    TL = "TL"  # a list/tuple/dict of input tensors
    T = "T"    # a tensor computed from the inputs

    ORDER = {"C": 0, "M": 1, "S": 2, "N": 3, "TL": 4, "T": 5}

    @classmethod
    def max(cls, *cats: str) -> str:
        """The most input-dependent category (``C`` for none)."""
        return max(cats, key=cls.ORDER.__getitem__, default=cls.C)


_SHAPE_METHODS = {"size", "dim", "numel", "nelement", "ndimension", "stride"}
_META_METHODS = {"is_floating_point", "is_complex", "get_device", "is_contiguous", "is_signed"}
_META_ATTRS = {"dtype", "device", "is_cuda", "is_sparse", "is_quantized", "is_mps", "layout", "is_meta"}
_SHAPE_ATTRS = {"shape", "ndim"}
_NUMBER_METHODS = {"item", "tolist", "numpy"}
_TENSOR_ATTRS = {"T", "mT", "H", "mH", "real", "imag", "data"}
SPLIT_METHODS = {"unbind", "split", "tensor_split", "split_with_sizes"}
CONSTANT_TENSOR_FUNCS = {"tensor", "as_tensor", "from_numpy", "Tensor", "FloatTensor", "LongTensor",
                          "IntTensor", "DoubleTensor", "BoolTensor", "asarray"}


class Taint:
    """Categories of the values of ``funcs`` (functions of ``index``), computed once at construction.

    Args:
        index: the parsed source.
        funcs: the scope (see :func:`jit_explorer.pitfalls.scope.functions_in_scope`).
        runtime_params: ``{code first line: {param: category}}`` seen in an eager run.
    """

    def __init__(self, index: SourceIndex, funcs: Iterable[FunctionInfo], *,
                 runtime_params: dict[int, dict[str, str]] | None = None) -> None:
        self.index = index
        self.funcs = tuple(funcs)
        self.runtime_params = runtime_params or {}
        self.param_cats: dict[FunctionInfo, dict[str, str]] = {f: self._initial_param_cats(f) for f in self.funcs}
        self.envs: dict[FunctionInfo, dict[str, str]] = {}
        for _ in range(2):  # propagate shape/number categories through calls into helpers of this file
            self.envs = {f: self._env(f) for f in self.funcs}
            changed = False
            for f in self.funcs:
                for call in ast.walk(f.node):
                    if isinstance(call, ast.Call):
                        target = callee(self.index, call, f)
                        if target is not None and target in self.param_cats:
                            changed |= self._bind_call(call, f, target)
            if not changed:
                break

    def env(self, f: FunctionInfo) -> dict[str, str]:
        """Name -> category in ``f`` (empty for a function outside the scope)."""
        return self.envs.get(f, {})

    def env_at(self, line: int) -> dict[str, str]:
        """The environment of the innermost function of the scope around ``line``."""
        inner = [g for g in self.funcs if g.node.lineno <= line <= (g.node.end_lineno or g.node.lineno)]
        return self.env(max(inner, key=lambda g: g.node.lineno)) if inner else {}

    def _initial_param_cats(self, f: FunctionInfo) -> dict[str, str]:
        seen = self.runtime_params.get(f.first_line)
        cats: dict[str, str] = {}
        args = f.node.args
        all_args = args.posonlyargs + args.args + args.kwonlyargs
        # the last positional parameters have the defaults: fewer defaults than parameters
        positional = [a.arg for a in (args.posonlyargs + args.args)]
        defaults = dict(zip(positional[::-1], args.defaults[::-1], strict=False))
        defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None})
        for i, a in enumerate(all_args):
            if i == 0 and f.cls and a.arg in ("self", "cls"):
                cats[a.arg] = Cat.C
                continue
            if seen is not None and a.arg in seen:
                cats[a.arg] = seen[a.arg]
                continue
            ann = ast.unparse(a.annotation) if a.annotation is not None else ""
            default = defaults.get(a.arg)
            if ann and not re.search(r"Tensor", ann):
                cats[a.arg] = Cat.C
            elif ann and re.search(r"(List|Tuple|Dict|list|tuple|dict|Sequence)\[", ann):
                cats[a.arg] = Cat.TL
            elif isinstance(default, ast.Constant) and default.value is not None:
                cats[a.arg] = Cat.C
            else:
                cats[a.arg] = Cat.T
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                cats[extra.arg] = Cat.TL
        return cats

    def _bind_call(self, call: ast.Call, caller: FunctionInfo, target: FunctionInfo) -> bool:
        params = list(target.params)
        if target.cls and params and params[0] in ("self", "cls"):
            params = params[1:]
        changed = False
        # a call may pass fewer positional arguments than there are parameters (defaults, keywords)
        pairs = list(zip(params, call.args, strict=False)) + [(k.arg, k.value) for k in call.keywords if k.arg]
        for name, arg in pairs:
            if isinstance(arg, ast.Starred):
                continue
            cat = self.cat(arg, self.envs[caller])
            old = self.param_cats[target].get(name, Cat.C)
            if cat in (Cat.S, Cat.N, Cat.M) and Cat.ORDER[cat] > Cat.ORDER[old] and old not in (Cat.T, Cat.TL):
                self.param_cats[target][name] = cat
                changed = True
        return changed

    def _env(self, f: FunctionInfo) -> dict[str, str]:
        env = dict(self.param_cats[f])
        for _ in range(2):  # flow-insensitive: two sweeps reach a fixed point for simple code
            for node in ast.walk(f.node):
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        self._assign(t, node.value, env)
                elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                    base = Cat.C
                    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                        base = env.get(node.target.id, Cat.C)
                    self._assign(node.target, node.value, env, base)
                elif isinstance(node, (ast.For, ast.comprehension)):
                    it = self.cat(node.iter, env)
                    elem = Cat.T if it in (Cat.T, Cat.TL) else (
                        Cat.S if it == Cat.S else (Cat.N if it == Cat.N else Cat.C))
                    if is_call_to(node.iter, "range"):
                        elem = Cat.C  # a loop index is an ordinary int (the loop itself is what is specialized)
                    if (is_call_to(node.iter, "enumerate") and isinstance(node.target, ast.Tuple)
                            and len(node.target.elts) == 2):
                        self._bind_name(node.target.elts[0], Cat.C, env)
                        self._bind_name(node.target.elts[1], elem, env)
                    else:
                        self._bind_name(node.target, elem, env)
                elif isinstance(node, ast.NamedExpr):
                    self._bind_name(node.target, self.cat(node.value, env), env)
                elif isinstance(node, (ast.With, ast.AsyncWith)):
                    for item in node.items:
                        if item.optional_vars is not None:
                            self._bind_name(item.optional_vars, self.cat(item.context_expr, env), env)
        return env

    def _assign(self, target: ast.expr, value: ast.expr, env: dict[str, str], base: str = Cat.C) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            vcat = self.cat(value, env)
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self._assign(t, v, env)
                return
            elem = Cat.T if vcat in (Cat.T, Cat.TL) else vcat
            for t in target.elts:
                self._bind_name(t, elem, env)
            return
        self._bind_name(target, Cat.max(base, self.cat(value, env)), env)

    @staticmethod
    def _bind_name(target: ast.expr, cat: str, env: dict[str, str]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = Cat.max(env.get(target.id, Cat.C), cat)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                Taint._bind_name(t, Cat.T if cat == Cat.TL else cat, env)
        elif isinstance(target, ast.Starred):
            Taint._bind_name(target.value, cat, env)

    def cat(self, e: ast.expr | None, env: dict[str, str]) -> str:
        """The category of expression ``e`` in ``env``."""
        if e is None:
            return Cat.C
        if isinstance(e, ast.Name):
            return env.get(e.id, Cat.C)
        if isinstance(e, ast.Constant):
            return Cat.C
        if isinstance(e, ast.Attribute):
            base = self.cat(e.value, env)
            if base == Cat.TL and isinstance(e.value, ast.Name):
                return Cat.T  # a field of a namedtuple / dataclass of tensors (``p.x``)
            if base in (Cat.T,):
                if e.attr in _SHAPE_ATTRS:
                    return Cat.S
                if e.attr in _META_ATTRS:
                    return Cat.M
                if e.attr in _TENSOR_ATTRS:
                    return Cat.T
                return Cat.C if e.attr == "requires_grad" else Cat.T
            return base if base in (Cat.S, Cat.N, Cat.M) else Cat.C
        if isinstance(e, ast.Subscript):
            base = self.cat(e.value, env)
            if base == Cat.TL:
                return Cat.TL if isinstance(e.slice, ast.Slice) else Cat.T
            return base
        if isinstance(e, ast.Call):
            return self._call_cat(e, env)
        if isinstance(e, ast.Compare):
            if all(isinstance(op, (ast.Is, ast.IsNot)) for op in e.ops):
                return Cat.C
            if all(isinstance(op, (ast.In, ast.NotIn)) for op in e.ops):
                return Cat.C
            return _value_cat(self.cat(x, env) for x in [e.left, *e.comparators])
        if isinstance(e, ast.BoolOp):
            return _value_cat(self.cat(v, env) for v in e.values)
        if isinstance(e, ast.BinOp):
            return _value_cat(self.cat(v, env) for v in (e.left, e.right))
        if isinstance(e, ast.UnaryOp):
            return self.cat(e.operand, env)
        if isinstance(e, ast.IfExp):
            return _value_cat(self.cat(v, env) for v in (e.body, e.orelse))
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            cats = [self.cat(v, env) for v in e.elts]
            return Cat.TL if any(c in (Cat.T, Cat.TL) for c in cats) else Cat.max(*cats)
        if isinstance(e, ast.Dict):
            cats = [self.cat(v, env) for v in e.values]
            return Cat.TL if any(c in (Cat.T, Cat.TL) for c in cats) else Cat.max(*cats)
        if isinstance(e, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            local = dict(env)
            for g in e.generators:
                it = self.cat(g.iter, local)
                self._bind_name(g.target, Cat.T if it in (Cat.T, Cat.TL) else it, local)
            c = self.cat(e.elt, local)
            return Cat.TL if c in (Cat.T, Cat.TL) else c
        if isinstance(e, ast.DictComp):
            return Cat.TL
        if isinstance(e, ast.Starred):
            return self.cat(e.value, env)
        if isinstance(e, ast.NamedExpr):
            return self.cat(e.value, env)
        if isinstance(e, ast.JoinedStr):
            return Cat.C
        return Cat.C

    def _call_cat(self, e: ast.Call, env: dict[str, str]) -> str:
        fn = e.func
        args = [a for a in e.args] + [k.value for k in e.keywords]
        arg_cats = [self.cat(a, env) for a in args]
        if isinstance(fn, ast.Attribute):
            base = self.cat(fn.value, env)
            if base == Cat.T:
                if fn.attr in _SHAPE_METHODS:
                    return Cat.S
                if fn.attr in _META_METHODS:
                    return Cat.M
                if fn.attr in _NUMBER_METHODS:
                    return Cat.N
                if fn.attr in ("unbind", "split", "chunk", "tensor_split"):
                    return Cat.TL
                return Cat.T
            if base == Cat.TL and fn.attr in ("values", "items", "keys", "get"):
                return Cat.TL if fn.attr != "keys" else Cat.C
            if base in (Cat.S, Cat.N, Cat.M):
                return base
        name = self.index.resolve(fn)
        short = name.rsplit(".", 1)[-1]
        if isinstance(fn, ast.Name) and fn.id in ("len",):
            inner = arg_cats[0] if arg_cats else Cat.C
            return Cat.S if inner == Cat.T else (Cat.C if inner == Cat.TL else inner)
        if isinstance(fn, ast.Name) and fn.id in (
                "int", "float", "bool", "complex", "round", "abs", "sum", "min", "max"):
            inner = Cat.max(*arg_cats) if arg_cats else Cat.C
            if fn.id in ("sum", "min", "max", "abs") and inner in (Cat.T, Cat.TL):
                return Cat.T
            return Cat.N if inner == Cat.T else inner
        if isinstance(fn, ast.Name) and fn.id in (
                "isinstance", "hasattr", "callable", "type", "id", "getattr", "str", "repr"):
            return Cat.C
        if name.startswith("math."):
            inner = Cat.max(*arg_cats) if arg_cats else Cat.C
            return Cat.N if inner == Cat.T else inner
        if name.startswith(("numpy.", "np.")):
            inner = Cat.max(*arg_cats) if arg_cats else Cat.C
            return Cat.N if inner in (Cat.T, Cat.TL) else inner
        if name.startswith("torch.") or name.startswith("F."):
            inner = Cat.max(*arg_cats) if arg_cats else Cat.C
            if short in ("is_tracing", "is_scripting"):
                return Cat.C
            if short in ("unbind", "split", "chunk", "tensor_split"):
                return Cat.TL if inner in (Cat.T, Cat.TL) else inner
            if short in CONSTANT_TENSOR_FUNCS:
                return Cat.C if inner == Cat.C else Cat.T
            if short in ("is_floating_point", "is_complex"):
                return Cat.M if inner in (Cat.T,) else Cat.C
            if short in ("numel",):
                return Cat.S if inner == Cat.T else inner
            return Cat.T if inner in (Cat.T, Cat.TL, Cat.S, Cat.N) else Cat.C
        base = self.cat(fn.value, env) if isinstance(fn, ast.Attribute) else Cat.C
        cats = arg_cats + [base]
        if any(c in (Cat.T, Cat.TL) for c in cats):
            return Cat.T
        return Cat.max(*cats)


def _value_cat(cats: Iterator[str] | list[str]) -> str:
    cs = list(cats)
    c = Cat.max(*cs)
    return Cat.T if c == Cat.TL else c
