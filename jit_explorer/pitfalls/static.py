"""Static (AST) facts about the user's source, for the pitfall checks.

Nothing here executes user code: it reads the source with :mod:`ast` and answers
questions such as "what is decided at line 7, and on what (a tensor's value, its
shape, its dtype)?", "which lines mutate ``self`` or a global?", "where does the
entry return a dict?", "which line makes ``torch.jit.script`` fail?".

Values in a function are put in coarse *categories* by a small flow-insensitive
taint analysis (see :class:`Cat`): a tensor that comes from the inputs, a Python
number read from a tensor's values, a size read from a tensor's shape, a
dtype/device, or anything else (constants, config attributes, parameters). The
checks only fire on categories that really come from the inputs, which is what
keeps ``if self.use_bias:``, ``range(3)`` or ``x.view(x.size(0), -1)`` quiet.

Example::

    >>> idx = SourceIndex("def f(x):\\n    if x.dim() == 3:\\n        x = x[0]\\n    return x\\n")
    >>> [(d.line, d.cat, d.what) for d in idx.analysis(entry="f").decisions]
    [(2, 'S', 'if')]
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeGuard

__all__ = [
    "Cat", "SourceIndex", "FunctionInfo", "Decision", "Loop", "Site", "Analysis",
    "locate_script_failure", "explain_script_failure", "NONDETERMINISTIC_CALLS",
    "line_ref", "branch_story", "loop_story", "parting_story",
]


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
_LIST_MUTATORS = {"append", "extend", "insert", "pop", "clear", "update", "setdefault", "popitem", "remove"}
_SPLIT_METHODS = {"unbind", "split", "tensor_split", "split_with_sizes"}
_CONSTANT_TENSOR_FUNCS = {"tensor", "as_tensor", "from_numpy", "Tensor", "FloatTensor", "LongTensor",
                          "IntTensor", "DoubleTensor", "BoolTensor", "asarray"}
_LOG_CALLS = {"print"}

#: module-level callables whose results differ from call to call (module, attribute prefix)
NONDETERMINISTIC_CALLS: tuple[tuple[str, str], ...] = (
    ("random", ""), ("numpy.random", ""), ("time", "time"), ("time", "perf_counter"), ("time", "monotonic"),
    ("time", "process_time"), ("datetime", "datetime.now"), ("datetime", "datetime.utcnow"), ("os", "urandom"),
    ("uuid", "uuid"), ("secrets", ""),
)

_DROPOUT_FUNCS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}


@dataclass(frozen=True)
class Decision:
    """A Python-level decision (``if``/``while``/ternary/comprehension ``if``/``assert``)."""

    line: int
    node: ast.AST
    test: ast.expr
    cat: str  # category of the test
    what: str  # "if" | "while" | "ternary" | "comprehension" | "assert"
    guard: bool  # the branch only raises / warns (a check the trace drops)
    func: str


@dataclass(frozen=True)
class Loop:
    """A ``for`` loop (or comprehension) whose trip count comes from an input."""

    line: int
    node: ast.AST
    how: str  # "range-shape" | "range-len" | "tensor" | "split"
    text: str
    func: str


@dataclass(frozen=True)
class Site:
    """One interesting line: a side effect, a random call, a numpy round trip, a container return..."""

    line: int
    node: ast.AST
    what: str
    text: str
    cat: str = Cat.C
    func: str = ""
    extra: str = ""


@dataclass
class FunctionInfo:
    """A function or method of the file, with its qualified name and parameters."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    qualname: str
    cls: str | None
    params: list[str]
    first_line: int  # first decorator line or the def line (== code.co_firstlineno)
    param_cats: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Analysis:
    """Everything the static pass found in the functions it was asked to look at."""

    decisions: list[Decision] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    side_effects: list[Site] = field(default_factory=list)
    random_calls: list[Site] = field(default_factory=list)
    numpy_calls: list[Site] = field(default_factory=list)
    constant_tensors: list[Site] = field(default_factory=list)
    conversions: list[Site] = field(default_factory=list)
    dropout_calls: list[Site] = field(default_factory=list)
    prints: list[Site] = field(default_factory=list)


class SourceIndex:
    """The parsed user source: functions, classes, imports, parents, and the taint analysis.

    Args:
        source: the file's text.
        executed: 1-based lines that ran in an eager call (``None``: unknown, everything counts).
        runtime_params: ``{code first line: {param: category}}`` seen at run time.
    """

    def __init__(self, source: str, *, executed: set[int] | None = None,
                 runtime_params: dict[int, dict[str, str]] | None = None) -> None:
        self.source = source
        self.lines = source.splitlines()
        try:
            self.tree: ast.Module | None = ast.parse(source)
        except SyntaxError:
            self.tree = None
        self.executed = executed
        self.runtime_params = runtime_params or {}
        self.parents: dict[ast.AST, ast.AST] = {}
        self.functions: list[FunctionInfo] = []
        self.classes: dict[str, ast.ClassDef] = {}
        self.imports: dict[str, str] = {}  # local name -> dotted module path (or module.attr)
        self.globals: set[str] = set()
        self.defs: dict[str, str] = {}  # top-level function/class name -> "function" | "class"
        if self.tree is not None:
            self._index(self.tree)
        self._analysis: Analysis | None = None
        self._scope: list[FunctionInfo] | None = None

    # ------------------------------------------------------------------ indexing

    def _index(self, tree: ast.Module) -> None:
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                self.classes[node.name] = node
                self.defs[node.name] = "class"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.defs[node.name] = "function"
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.globals.add(n.id)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.imports[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    self.imports[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = self.parents.get(node)
                cls = owner.name if isinstance(owner, ast.ClassDef) else None
                args = node.args
                params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                self.functions.append(FunctionInfo(node, f"{cls}.{node.name}" if cls else node.name, cls, params, first))

    def text(self, line: int | None) -> str:
        """The stripped source text of a 1-based line ("" when out of range)."""
        if line is None or not 1 <= line <= len(self.lines):
            return ""
        return self.lines[line - 1].strip()

    def function_at(self, node: ast.AST) -> FunctionInfo | None:
        """The innermost function that contains ``node``."""
        n: ast.AST | None = node
        while n is not None:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for f in self.functions:
                    if f.node is n:
                        return f
            n = self.parents.get(n)
        return None

    def function_named(self, name: str, cls: str | None = None) -> FunctionInfo | None:
        """A top-level function (``cls=None``) or a method of ``cls`` or of its bases defined in the file."""
        seen: set[str] = set()
        todo = [cls] if cls else [None]
        while todo:
            c = todo.pop(0)
            for f in self.functions:
                if f.cls == c and f.node.name == name and (c is not None or self.parents.get(f.node) is self.tree):
                    return f
            if c and c in self.classes and c not in seen:
                seen.add(c)
                for b in self.classes[c].bases:
                    bname = ast.unparse(b).rsplit(".", 1)[-1]
                    if bname in self.classes:
                        todo.append(bname)
        return None

    def resolve(self, expr: ast.expr) -> str:
        """Dotted name of ``expr`` with import aliases resolved (``np.random.rand`` -> ``numpy.random.rand``)."""
        parts: list[str] = []
        n: ast.AST = expr
        while isinstance(n, ast.Attribute):
            parts.append(n.attr)
            n = n.value
        if not isinstance(n, ast.Name):
            return ""
        base = self.imports.get(n.id, n.id)
        return ".".join([base] + parts[::-1])

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        """The innermost statement containing ``node``."""
        n: ast.AST | None = node
        while n is not None and not isinstance(n, ast.stmt):
            n = self.parents.get(n)
        return n if isinstance(n, ast.stmt) else None

    def ran(self, node: ast.AST) -> bool:
        """Whether the statement holding ``node`` (its header, for compound ones) executed in the eager run."""
        if self.executed is None:
            return True
        stmt = self.statement_of(node)
        if stmt is None:
            return False
        start = stmt.lineno
        if isinstance(stmt, (ast.If, ast.While)):
            end = stmt.test.end_lineno or start
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            end = stmt.iter.end_lineno or start
        elif isinstance(stmt, (ast.With, ast.AsyncWith, ast.Try, ast.FunctionDef, ast.ClassDef)):
            end = start
        else:
            end = stmt.end_lineno or start
        return any(line in self.executed for line in range(start, end + 1))

    def traced_away(self, node: ast.AST) -> bool:
        """Whether ``node`` sits in a branch that does not run while tracing (``torch.jit.is_tracing()`` guards)."""
        child: ast.AST = node
        parent = self.parents.get(child)
        while parent is not None:
            if isinstance(parent, (ast.If, ast.IfExp)) and child is not parent.test:
                polarity = _tracing_test(parent.test, self)
                if polarity is not None:
                    in_body = child in (parent.body if isinstance(parent, ast.If) else [parent.body])
                    if polarity != in_body:
                        return True
            child, parent = parent, self.parents.get(parent)
        return False

    # ------------------------------------------------------------------ scope

    def scope(self, *, entry: str = "", entry_line: int | None = None, classes: set[str] | None = None) -> list[FunctionInfo]:
        """The functions to look at: those that ran (when known), else those reachable from the entry."""
        if self._scope is not None:
            return self._scope
        if self.executed is not None:
            ran_firsts = set(self.runtime_params)
            picked = [f for f in self.functions if f.first_line in ran_firsts
                      or any(line in self.executed for line in _body_lines(f.node))]
        else:
            picked = self._reachable(entry, entry_line, classes or set())
        self._scope = [f for f in picked if f.node.name not in ("__init__", "example_inputs")]
        return self._scope

    def _reachable(self, entry: str, entry_line: int | None, classes: set[str]) -> list[FunctionInfo]:
        roots: list[FunctionInfo] = []
        if entry in self.classes or classes:
            for c in ({entry} if entry in self.classes else set()) | classes:
                f = self.function_named("forward", c)
                if f:
                    roots.append(f)
        else:
            for f in self.functions:
                if f.node.name == entry and f.cls is None and (entry_line is None or f.node.lineno == entry_line or f.first_line == entry_line):
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
                target = self._callee(call, f)
                if target is not None:
                    todo.append(target)
                elif isinstance(call.func, ast.Name) and call.func.id in self.classes:
                    g = self.function_named("forward", call.func.id)
                    if g:
                        todo.append(g)
            if f.cls:  # submodules built in __init__ from classes of this file
                init = self.function_named("__init__", f.cls)
                if init:
                    for call in ast.walk(init.node):
                        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in self.classes:
                            g = self.function_named("forward", call.func.id)
                            if g:
                                todo.append(g)
        return seen

    def _callee(self, call: ast.Call, caller: FunctionInfo) -> FunctionInfo | None:
        fn = call.func
        if isinstance(fn, ast.Name) and fn.id not in self.classes:
            return self.function_named(fn.id)
        if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and fn.value.id == "self" and caller.cls:
            return self.function_named(fn.attr, caller.cls)
        return None

    # ------------------------------------------------------------------ taint analysis

    def analysis(self, *, entry: str = "", entry_line: int | None = None, classes: set[str] | None = None) -> Analysis:
        """Run the taint analysis on :meth:`scope` and collect decisions, loops and sites (cached)."""
        if self._analysis is not None:
            return self._analysis
        funcs = self.scope(entry=entry, entry_line=entry_line, classes=classes) if self.tree is not None else []
        for f in funcs:
            f.param_cats = self._initial_param_cats(f)
        for _ in range(2):  # propagate shape/number categories through calls into helpers of this file
            for f in funcs:
                f.env = self._env(f)
            changed = False
            for f in funcs:
                for call in ast.walk(f.node):
                    if isinstance(call, ast.Call):
                        callee = self._callee(call, f)
                        if callee is not None and any(c is callee for c in funcs):
                            changed |= self._bind_call(call, f, callee)
            if not changed:
                break
        result = Analysis()
        for f in funcs:
            self._collect(f, result)
        self._analysis = result
        return result

    def _initial_param_cats(self, f: FunctionInfo) -> dict[str, str]:
        seen = self.runtime_params.get(f.first_line)
        cats: dict[str, str] = {}
        args = f.node.args
        all_args = args.posonlyargs + args.args + args.kwonlyargs
        defaults = dict(zip([a.arg for a in (args.posonlyargs + args.args)][::-1], args.defaults[::-1]))
        defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
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

    def _bind_call(self, call: ast.Call, caller: FunctionInfo, callee: FunctionInfo) -> bool:
        params = [p for p in callee.params]
        if callee.cls and params and params[0] in ("self", "cls"):
            params = params[1:]
        changed = False
        pairs = list(zip(params, call.args)) + [(k.arg, k.value) for k in call.keywords if k.arg]
        for name, arg in pairs:
            if isinstance(arg, ast.Starred):
                continue
            cat = self.cat(arg, caller.env)
            old = callee.param_cats.get(name, Cat.C)
            if cat in (Cat.S, Cat.N, Cat.M) and Cat.ORDER[cat] > Cat.ORDER[old] and old not in (Cat.T, Cat.TL):
                callee.param_cats[name] = cat
                changed = True
        return changed

    def _env(self, f: FunctionInfo) -> dict[str, str]:
        env = dict(f.param_cats)
        for _ in range(2):  # flow-insensitive: two sweeps reach a fixed point for simple code
            for node in ast.walk(f.node):
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        self._assign(t, node.value, env)
                elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                    base = env.get(node.target.id, Cat.C) if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) else Cat.C
                    self._assign(node.target, node.value, env, base)
                elif isinstance(node, (ast.For, ast.comprehension)):
                    it = self.cat(node.iter, env)
                    elem = Cat.T if it in (Cat.T, Cat.TL) else (Cat.S if it == Cat.S else (Cat.N if it == Cat.N else Cat.C))
                    if _is_call_to(node.iter, "range"):
                        elem = Cat.C  # a loop index is an ordinary int (the loop itself is what is specialized)
                    if _is_call_to(node.iter, "enumerate") and isinstance(node.target, ast.Tuple) and len(node.target.elts) == 2:
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
                for t, v in zip(target.elts, value.elts):
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
                SourceIndex._bind_name(t, Cat.T if cat == Cat.TL else cat, env)
        elif isinstance(target, ast.Starred):
            SourceIndex._bind_name(target.value, cat, env)

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
        name = self.resolve(fn)
        short = name.rsplit(".", 1)[-1]
        if isinstance(fn, ast.Name) and fn.id in ("len",):
            inner = arg_cats[0] if arg_cats else Cat.C
            return Cat.S if inner == Cat.T else (Cat.C if inner == Cat.TL else inner)
        if isinstance(fn, ast.Name) and fn.id in ("int", "float", "bool", "complex", "round", "abs", "sum", "min", "max"):
            inner = Cat.max(*arg_cats) if arg_cats else Cat.C
            if fn.id in ("sum", "min", "max", "abs") and inner in (Cat.T, Cat.TL):
                return Cat.T
            return Cat.N if inner == Cat.T else inner
        if isinstance(fn, ast.Name) and fn.id in ("isinstance", "hasattr", "callable", "type", "id", "getattr", "str", "repr"):
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
            if short in _CONSTANT_TENSOR_FUNCS:
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

    # ------------------------------------------------------------------ collection

    def _collect(self, f: FunctionInfo, out: Analysis) -> None:
        env = f.env
        declared_global: set[str] = set()
        local_names = set(env) | set(f.params)
        pending_state: list[ast.stmt] = []
        for node in ast.walk(f.node):
            if isinstance(node, ast.Global):
                declared_global.update(node.names)
        self._collect_nodes(f, out, env, declared_global, local_names, pending_state)
        for node in pending_state:  # state set on a path the eager run no longer takes (e.g. `if not self.seen:`)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                desc = self._mutated(t, declared_global, local_names)
                if desc:
                    out.side_effects.append(Site(node.lineno, node, desc[0], desc[1], func=f.qualname))

    def _state_branch(self, node: ast.AST, f: FunctionInfo) -> bool:
        """Whether ``node`` sits under an executed ``if`` that reads a ``self`` attribute which forward itself changes."""
        shared = self.defs.keys() | self.globals
        mutated: set[str] = set()
        for n in ast.walk(f.node):
            if not isinstance(n, (ast.Assign, ast.AugAssign)):
                continue
            for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                        (t.value.id == "self" or t.value.id in shared):
                    mutated.add(ast.unparse(t))  # self.seen = ..., f.cache = ...
                elif isinstance(t, ast.Subscript) and isinstance(t.value, (ast.Name, ast.Attribute)):
                    mutated.add(ast.unparse(t.value))  # CACHE[key] = ..., self.memo[key] = ...
        child: ast.AST = node
        parent = self.parents.get(node)
        while parent is not None and parent is not f.node:
            if isinstance(parent, ast.If) and child is not parent.test and self.ran(parent):
                reads = {ast.unparse(n) for n in ast.walk(parent.test) if isinstance(n, ast.Attribute)}
                reads |= {_attr_probe(n) for n in ast.walk(parent.test) if _attr_probe(n)}
                reads |= {n.id for n in ast.walk(parent.test) if isinstance(n, ast.Name) and n.id in shared}
                if reads & mutated:
                    return True
            child, parent = parent, self.parents.get(parent)
        return False

    def _collect_nodes(self, f: FunctionInfo, out: Analysis, env: dict[str, str], declared_global: set[str],
                       local_names: set[str], pending_state: list[ast.stmt]) -> None:
        for node in ast.walk(f.node):
            if node is f.node or not isinstance(node, (ast.stmt, ast.expr, ast.comprehension)):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not f.node:
                continue
            if self.function_at(node) is not f:
                continue
            if self.traced_away(node):
                continue
            if not self.ran(node):
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and self._state_branch(node, f):
                    pending_state.append(node)
                continue
            # decisions
            if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                test = node.test
                what = {ast.If: "if", ast.While: "while", ast.IfExp: "ternary", ast.Assert: "assert"}[type(node)]
                c = self.cat(test, env)
                if c != Cat.C and not _tracing_call_in(test, self):
                    guard = isinstance(node, ast.Assert) or (isinstance(node, ast.If) and _is_guard(node))
                    out.decisions.append(Decision(test.lineno, node, test, c, what, guard, f.qualname))
            if isinstance(node, ast.comprehension):
                for cond in node.ifs:
                    c = self.cat(cond, env)
                    if c != Cat.C:
                        out.decisions.append(Decision(cond.lineno, node, cond, c, "comprehension", False, f.qualname))
            # loops
            if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                loop = self._loop(node, env, f)
                if loop:
                    out.loops.append(loop)
            # side effects on self / globals
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for tt in (t.elts if isinstance(t, ast.Tuple) else [t]):
                        desc = self._mutated(tt, declared_global, local_names)
                        if desc:
                            out.side_effects.append(Site(node.lineno, node, desc[0], desc[1], func=f.qualname,
                                                         extra="aug" if isinstance(node, ast.AugAssign) else ""))
            if isinstance(node, ast.Delete):
                for t in node.targets:
                    desc = self._mutated(t, declared_global, local_names)
                    if desc:
                        out.side_effects.append(Site(node.lineno, node, desc[0], desc[1], func=f.qualname))
            if isinstance(node, ast.Call):
                self._call_site(node, env, f, out, local_names)
            # `x.data`: a tensor the tracer cannot follow; wherever it is used, the trace stores the example's values
            if isinstance(node, ast.Attribute) and node.attr == "data" and isinstance(node.ctx, ast.Load) \
                    and self.cat(node.value, env) == Cat.T:
                out.constant_tensors.append(Site(node.lineno, node, "data", ast.unparse(node), Cat.T, f.qualname))

    def _line_of(self, node: ast.AST) -> int:
        n: ast.AST | None = node
        while n is not None and not hasattr(n, "lineno"):
            n = self.parents.get(n)
        return getattr(n, "lineno", 0)

    def _loop(self, node: ast.For | ast.AsyncFor | ast.comprehension, env: dict[str, str], f: FunctionInfo) -> Loop | None:
        it = node.iter
        line = it.lineno if isinstance(node, ast.comprehension) else node.lineno
        text = ast.unparse(it)
        inner = it
        if _is_call_to(it, "enumerate", "zip", "reversed") and it.args:
            for a in it.args:
                if self.cat(a, env) == Cat.T:
                    return Loop(line, node, "tensor", text, f.qualname)
            inner = it.args[0]
        if _is_call_to(inner, "range"):
            cats = [self.cat(a, env) for a in inner.args]
            if any(_is_len_of_tensor(a, self, env) for a in inner.args):
                return Loop(line, node, "range-len", text, f.qualname)
            if Cat.S in cats:
                rank = all(_rank_only(a) for a, c in zip(inner.args, cats) if c == Cat.S)
                return Loop(line, node, "range-rank" if rank else "range-shape", text, f.qualname)
            return None
        c = self.cat(inner, env)
        if c == Cat.T:
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr in _SPLIT_METHODS:
                return Loop(line, node, "split", text, f.qualname)
            return Loop(line, node, "tensor", text, f.qualname)
        if c == Cat.TL and isinstance(inner, ast.Call):
            fname = inner.func.attr if isinstance(inner.func, ast.Attribute) else self.resolve(inner.func).rsplit(".", 1)[-1]
            if fname in _SPLIT_METHODS:
                return Loop(line, node, "split", text, f.qualname)
        return None

    def _mutated(self, target: ast.expr, declared_global: set[str], local_names: set[str]) -> tuple[str, str] | None:
        """``(what, text)`` when assigning to ``target`` changes state outside the call."""
        root = target
        chain = False
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
            chain = True
        text = ast.unparse(target)
        if chain and _is_call_to(root, "type") and isinstance(root, ast.Call) and root.args and \
                isinstance(root.args[0], ast.Name) and root.args[0].id == "self":
            return "class", text  # type(self).count += 1
        if not isinstance(root, ast.Name):
            return None
        if root.id == "self" and chain:
            if isinstance(target, ast.Attribute) and target.value is not root and \
                    isinstance(target.value, ast.Attribute) and target.value.attr == "__class__":
                return "class", text  # self.__class__.count += 1
            return "self", text
        if isinstance(target, ast.Name) and target.id in declared_global:
            return "global", text
        if chain and root.id not in local_names and root.id not in self.imports:
            if root.id in self.defs:  # memoisation on a function's or a class's attribute: `f.cache = ...`
                return self.defs[root.id], text
            if root.id in self.globals:
                return "global", text
        return None

    def _call_site(self, node: ast.Call, env: dict[str, str], f: FunctionInfo, out: Analysis, local_names: set[str]) -> None:
        fn = node.func
        name = self.resolve(fn)
        short = name.rsplit(".", 1)[-1] if name else (fn.attr if isinstance(fn, ast.Attribute) else "")
        text = ast.unparse(node)
        line = node.lineno
        arg_cat = Cat.max(*[self.cat(a, env) for a in list(node.args) + [k.value for k in node.keywords]]) if (node.args or node.keywords) else Cat.C
        # mutation of containers held by self / globals
        if isinstance(fn, ast.Attribute) and fn.attr in _LIST_MUTATORS:
            root = fn.value
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(root, ast.Name):
                if root.id == "self" and fn.value is not root:
                    out.side_effects.append(Site(line, node, "self", text, func=f.qualname, extra="call"))
                elif root.id in self.defs and fn.value is not root and root.id not in local_names:
                    out.side_effects.append(Site(line, node, self.defs[root.id], text, func=f.qualname, extra="call"))
                elif (root.id in self.globals and root.id not in local_names and root.id not in self.imports):
                    out.side_effects.append(Site(line, node, "global", text, func=f.qualname, extra="call"))
        # setattr(f, "cache", v) / setattr(self, name, v): the same as an assignment
        if isinstance(fn, ast.Name) and fn.id == "setattr" and len(node.args) >= 2 and \
                isinstance(node.args[0], ast.Name):
            owner = node.args[0].id
            what = "self" if owner == "self" else self.defs.get(owner) or (
                "global" if owner in self.globals and owner not in local_names else None)
            if what is not None and owner not in (local_names - {"self"}):
                out.side_effects.append(Site(line, node, what, text, func=f.qualname, extra="call"))

        if isinstance(fn, ast.Name) and fn.id in _LOG_CALLS:
            out.prints.append(Site(line, node, "print", text, arg_cat, f.qualname))
        if name.startswith(("logging.", "warnings.warn")) or (isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name)
                                                              and fn.value.id in ("logger", "log", "LOGGER") and fn.attr in ("info", "debug", "warning", "error")):
            out.prints.append(Site(line, node, "log", text, arg_cat, f.qualname))
        # randomness / clocks
        for mod, prefix in NONDETERMINISTIC_CALLS:
            if name == mod or name.startswith(mod + "."):
                rest = name[len(mod) + 1:]
                if not prefix or rest.startswith(prefix):
                    if mod == "random" and rest in ("seed", "Random"):
                        continue
                    out.random_calls.append(Site(line, node, mod, text, func=f.qualname))
                    break
        # numpy round trips
        if isinstance(fn, ast.Attribute) and fn.attr == "numpy" and self.cat(fn.value, env) == Cat.T:
            out.numpy_calls.append(Site(line, node, "to-numpy", text, Cat.T, f.qualname))
        elif name.startswith("numpy.") and not name.startswith("numpy.random") and arg_cat in (Cat.T, Cat.TL, Cat.N):
            out.numpy_calls.append(Site(line, node, "numpy-call", text, arg_cat, f.qualname))
        # python numbers from tensors
        if isinstance(fn, ast.Attribute) and fn.attr in ("item", "tolist") and self.cat(fn.value, env) == Cat.T:
            out.conversions.append(Site(line, node, fn.attr, text, Cat.N, f.qualname))
        elif isinstance(fn, ast.Name) and fn.id in ("int", "float") and node.args:
            c = self.cat(node.args[0], env)
            if c in (Cat.T, Cat.S):
                out.conversions.append(Site(line, node, fn.id, text, Cat.N if c == Cat.T else Cat.S, f.qualname))
        elif name.startswith("math.") and arg_cat in (Cat.T, Cat.S):
            out.conversions.append(Site(line, node, "math", text, Cat.N if arg_cat == Cat.T else Cat.S, f.qualname))
        # tensors built from Python data
        is_torch_ctor = (name.startswith("torch.") and short in _CONSTANT_TENSOR_FUNCS) or (
            isinstance(fn, ast.Attribute) and fn.attr == "new_tensor")
        if is_torch_ctor:
            data = node.args[0] if node.args else None
            dcat = self.cat(data, env) if data is not None else Cat.C
            if dcat in (Cat.S, Cat.N, Cat.T, Cat.TL):
                out.constant_tensors.append(Site(line, node, short, text, dcat, f.qualname))
        # F.dropout(x, p) defaults to training=True
        if short in _DROPOUT_FUNCS and (name.startswith("torch.nn.functional.") or name.startswith("F.") or name.startswith("torch.")):
            training = next((k.value for k in node.keywords if k.arg in ("training", "train")), None)
            if training is None and len(node.args) >= 3:
                training = node.args[2]
            functional = not name.startswith("torch.") or name.startswith("torch.nn.functional.")
            if (training is None and functional) or (isinstance(training, ast.Constant) and training.value is True):
                out.dropout_calls.append(Site(line, node, short, text, func=f.qualname))

    # ------------------------------------------------------------------ questions about a line

    def decisions_at(self, line: int) -> list[Decision]:
        """Decisions whose test starts on ``line``."""
        return [d for d in self.analysis().decisions if d.line == line]

    def nodes_at(self, line: int) -> Iterator[ast.AST]:
        """Every AST node that starts on ``line``."""
        if self.tree is None:
            return
        for n in ast.walk(self.tree):
            if getattr(n, "lineno", None) == line:
                yield n

    def statement_at(self, line: int) -> ast.stmt | None:
        """The innermost statement that starts on ``line``."""
        best: ast.stmt | None = None
        for n in self.nodes_at(line):
            if isinstance(n, ast.stmt):
                if best is None or self._depth(n) > self._depth(best):
                    best = n
        return best

    def _depth(self, n: ast.AST) -> int:
        d = 0
        while n in self.parents:
            n = self.parents[n]
            d += 1
        return d

    def env_at(self, line: int) -> dict[str, str]:
        """The taint environment of the function around ``line``."""
        for f in self.scope():
            if f.node.lineno <= line <= (f.node.end_lineno or f.node.lineno):
                inner = [g for g in self.scope() if g.node.lineno <= line <= (g.node.end_lineno or g.node.lineno)]
                return max(inner, key=lambda g: g.node.lineno).env
        return {}

    def line_cats(self, line: int) -> set[str]:
        """Categories of the outermost expressions of the statement on ``line`` (its value, test or iterable)."""
        env = self.env_at(line)
        stmt = self.statement_at(line)
        if stmt is None:
            return {self.cat(n, env) for n in self.nodes_at(line) if isinstance(n, ast.expr)}
        tops = [getattr(stmt, f, None) for f in ("value", "test", "iter", "msg")]
        if isinstance(stmt, ast.Expr):
            tops = [stmt.value]
        return {self.cat(e, env) for e in tops if isinstance(e, ast.expr)}

    def has_construct(self, kind: str, line: int) -> bool:
        """Whether ``line`` itself holds Python code that raises a TracerWarning of ``kind`` (else it came from a library call)."""
        a = self.analysis()
        env = self.env_at(line)
        nodes = list(self.nodes_at(line))
        hot = (Cat.T, Cat.N, Cat.S, Cat.M, Cat.TL)
        if kind == "tensor-to-bool":
            if any(d.line == line for d in a.decisions) or self.is_assert(line):
                return True
            for n in nodes:
                if isinstance(n, (ast.BoolOp, ast.IfExp)) or (isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not)):
                    if self.cat(n, env) in hot:
                        return True
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in (
                        "bool", "min", "max", "any", "all", "sorted", "abs", "round") and any(
                        self.cat(x, env) in hot for x in n.args):
                    return True
                if isinstance(n, ast.Compare) and self.cat(n, env) in hot:
                    return True
            return False
        if kind == "tensor-to-number":
            if any(c.line == line for c in a.conversions + a.numpy_calls):
                return True
            return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("int", "float", "complex", "range")
                       and any(self.cat(x, env) in hot for x in n.args) for n in nodes)
        if kind == "tensor-iteration":
            if any(lp.line == line for lp in a.loops):
                return True
            for n in nodes:
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("len", "list", "tuple", "zip", "enumerate", "sorted") \
                        and any(self.cat(x, env) == Cat.T for x in n.args):
                    return True
                if isinstance(n, (ast.Assign,)) and any(isinstance(t, (ast.Tuple, ast.List)) for t in n.targets) \
                        and self.cat(n.value, env) == Cat.T:
                    return True
                if isinstance(n, ast.Starred) and self.cat(n.value, env) == Cat.T:
                    return True
                if isinstance(n, ast.comprehension) and self.cat(n.iter, env) == Cat.T:
                    return True
            return False
        if kind == "constant-tensor":
            return any(isinstance(n, ast.Call) and (self.resolve(n.func).rsplit(".", 1)[-1] in _CONSTANT_TENSOR_FUNCS
                                                   or (isinstance(n.func, ast.Attribute) and n.func.attr == "new_tensor"))
                       for n in nodes)
        return True

    def is_assert(self, line: int) -> bool:
        """Whether the statement on ``line`` is an ``assert``."""
        return isinstance(self.statement_at(line), ast.Assert)

    def guard_at(self, line: int) -> bool:
        """Whether ``line`` is the test of an ``if`` that only raises/warns (or an assert)."""
        stmt = self.statement_at(line)
        return isinstance(stmt, ast.Assert) or (isinstance(stmt, ast.If) and _is_guard(stmt))

    def returns_of(self, func: FunctionInfo) -> list[tuple[ast.Return, str]]:
        """``return`` statements of ``func`` that give a dict or a list (``(node, "dict"|"list")``)."""
        found: list[tuple[ast.Return, str]] = []
        builds: dict[str, str] = {}
        for node in ast.walk(func.node):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                kind = _container_kind(node.value)
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    if isinstance(t, ast.Name) and kind:
                        builds[t.id] = kind
        for node in ast.walk(func.node):
            if isinstance(node, ast.Return) and node.value is not None and self.function_at(node) is func:
                v = node.value
                kind = _container_kind(v) or (builds.get(v.id) if isinstance(v, ast.Name) else None)
                if kind is None and isinstance(v, ast.Tuple):
                    for el in v.elts:
                        kind = _container_kind(el) or (builds.get(el.id) if isinstance(el, ast.Name) else None)
                        if kind:
                            kind = "nested " + kind
                            break
                if kind:
                    found.append((node, kind))
        return found


# ---------------------------------------------------------------------- helpers


def _value_cat(cats: Iterator[str] | list[str]) -> str:
    cs = list(cats)
    c = Cat.max(*cs)
    return Cat.T if c == Cat.TL else c


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> range:
    start = fn.body[0].lineno if fn.body else fn.lineno
    return range(start, (fn.end_lineno or start) + 1)


def _attr_probe(n: ast.AST) -> str:
    """``"f.cache"`` for ``hasattr(f, "cache")`` / ``getattr(f, "cache", ...)`` ("" for anything else)."""
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("hasattr", "getattr") \
            and len(n.args) >= 2 and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str):
        return f"{ast.unparse(n.args[0])}.{n.args[1].value}"
    return ""


def _is_call_to(e: ast.AST, *names: str) -> TypeGuard[ast.Call]:
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in names


def _is_len_of_tensor(e: ast.expr, idx: SourceIndex, env: dict[str, str]) -> bool:
    for n in ast.walk(e):
        if _is_call_to(n, "len") and n.args and idx.cat(n.args[0], env) == Cat.T:
            return True
    return False


def _rank_only(e: ast.expr) -> bool:
    """Whether a size expression only reads the number of dimensions (``x.dim()``, ``x.ndim``, ``len(x.shape)``)."""
    rank = sizes = False
    for n in ast.walk(e):
        if isinstance(n, ast.Attribute) and n.attr in ("ndim",):
            rank = True
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("dim", "ndimension"):
            rank = True
        elif _is_call_to(n, "len") and n.args and isinstance(n.args[0], ast.Attribute) and n.args[0].attr == "shape":
            rank = True
        elif isinstance(n, ast.Attribute) and n.attr == "shape" and not _inside_len(n, e):
            sizes = True
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("size", "numel", "stride"):
            sizes = True
        elif _is_call_to(n, "len") and not (n.args and isinstance(n.args[0], ast.Attribute) and n.args[0].attr == "shape"):
            sizes = True
    return rank and not sizes


def _inside_len(node: ast.AST, root: ast.expr) -> bool:
    return any(_is_call_to(n, "len") and n.args and n.args[0] is node for n in ast.walk(root))


def _tracing_test(test: ast.expr, idx: SourceIndex) -> bool | None:
    """True when ``test`` is true while tracing (``is_tracing()``), False when false (``is_scripting()``...)."""
    neg = False
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        neg = not neg
        test = test.operand
    if isinstance(test, ast.Call):
        name = idx.resolve(test.func)
        if name.endswith(("is_tracing", "_get_tracing_state")):
            return not neg
        if name.endswith("is_scripting"):
            return neg
    return None


def _tracing_call_in(test: ast.expr, idx: SourceIndex) -> bool:
    return any(isinstance(n, ast.Call) and idx.resolve(n.func).endswith(("is_tracing", "is_scripting", "_get_tracing_state"))
               for n in ast.walk(test))


def _is_guard(node: ast.If) -> bool:
    """An ``if`` whose body only raises / warns / prints and that has no ``else``: a check, not a branch."""
    if node.orelse:
        return False

    def quiet(stmt: ast.stmt) -> bool:
        if isinstance(stmt, (ast.Raise, ast.Pass, ast.Assert)):
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            fn = ast.unparse(stmt.value.func)
            return fn in ("print", "warnings.warn") or fn.startswith(("logging.", "logger.", "log."))
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return True
        return False

    return all(quiet(s) for s in node.body)


def _container_kind(v: ast.expr) -> str | None:
    if isinstance(v, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(v, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("dict", "list", "OrderedDict"):
        return "dict" if v.func.id != "list" else "list"
    return None


# ---------------------------------------------------------------------- messages


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
            alt = f"; where it is False the trace still runs {line_ref(idx, nxt)} instead of {line_ref(idx, other)}" if other else ""
            return (f"`if {test}:` is decided in Python from {about}. The trace records only the path the example "
                    f"input took (the condition was True: it runs {line_ref(idx, nxt)}) and replays it for every input{alt}")
        if taken is False:
            first = node.body[0].lineno
            return (f"`if {test}:` is decided in Python from {about}. The trace records only the path the example "
                    f"input took (the condition was False, so it skips {line_ref(idx, first)}) and replays it for every "
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
    return (f"Eager takes another path at {line_ref(idx, decide)}: it goes on with {eager_next}, while the trace replays "
            f"the example's path and goes on with {trace_next}.")


# ---------------------------------------------------------------------- script failures

_UNSUPPORTED_MODULES = ("numpy", "scipy", "pandas", "random", "time", "os", "sys", "PIL", "cv2", "sklearn",
                        "datetime", "json", "pickle", "copy", "itertools", "functools", "collections", "uuid", "secrets")

#: (pattern in TorchScript's message, plain explanation, fix)
_SCRIPT_EXPLANATIONS: tuple[tuple[str, str, str], ...] = (
    (r"numpy|weak reference to 'numpy", "this line calls numpy; TorchScript compiles only torch operations and a small "
     "subset of Python, so it cannot call into numpy",
     "use the torch equivalent (e.g. `torch.exp` for `np.exp`, `t.clamp` for `np.clip`), or move the numpy code into "
     "a function decorated with @torch.jit.ignore (it then runs in Python and the model cannot be saved without Python); "
     "or use torch.jit.trace for this part"),
    (r"undefined Tensor", "a parameter that defaults to None has no type annotation, so TorchScript types it as "
     "Tensor: `x is not None` is then always true and the scripted code runs on an undefined tensor",
     "annotate the parameter: `mask: Optional[torch.Tensor] = None`"),
    (r"Lambda", "TorchScript cannot compile lambdas", "replace the lambda with a named function (a `def` at module level or a "
     "method), or with the operation itself"),
    (r"variable number of arguments|keyword-only arguments", "TorchScript cannot compile functions with *args / **kwargs "
     "(or keyword-only arguments with defaults)", "list the arguments explicitly, or take one `List[Tensor]` / "
     "`Dict[str, Tensor]` argument"),
    (r"try blocks", "TorchScript does not support try/except", "remove the try/except and check the condition explicitly, "
     "or move this code into a @torch.jit.ignore helper"),
    (r"with statements|With", "TorchScript supports `with` only for a few torch context managers",
     "remove the `with` block or move it into a @torch.jit.ignore helper"),
    (r"function definitions aren't supported", "TorchScript cannot compile a function defined inside another function "
     "(a closure)", "move the inner function to module level (or make it a method) and pass what it needs as arguments"),
    (r"type hint for result of tolist|Expected type hint", "TorchScript needs the static type of this value",
     "annotate it, e.g. `values: List[float] = x.tolist()` (better: keep the values as a tensor)"),
    (r"global variables aren't supported", "TorchScript does not support the `global` statement (functions cannot "
     "change module-level variables)", "return the new value instead, or keep it in a registered buffer of a module"),
    (r"cannot be used as a tuple", "TorchScript cannot unpack a tensor like a tuple (`a, b = x`)",
     "index explicitly (`a, b = x[0], x[1]`) or use `x.unbind(0)`"),
    (r"unsupported index type", "TorchScript indexes tensors only with ints, slices, tensors or None; this index is a "
     "Python number of another type", "convert it with `int(...)`, or keep it as a tensor and use `x.index_select`/`x[idx]`"),
    (r"'(\w+)(?: \(inferred\))?' object has no attribute or method '(\w+)'",
     "TorchScript's {0} type has no method or attribute `{1}`",
     "use the equivalent TorchScript op (e.g. `.to(torch.bool)` for `.bool()`, torch functions instead of numpy), or "
     "move the call into a @torch.jit.ignore helper"),
    (r"cannot be used as a value|closed over global|attribute lookup is not defined on python value", "this line reads a global (or attribute) holding a Python object "
     "that TorchScript cannot use as a value (a dict, list, module or object)",
     "pass it in as an argument, store it on the module as an attribute (mark constants with `Final` or `__constants__`), "
     "or make it a local constant"),
    (r"previously had type|previously defined with type|is being assigned to a value of type|was defined with type",
     "a variable changes its type here; TorchScript gives every variable one static type",
     "use a new variable name for the value of the other type (or annotate it with a common type such as Optional[Tensor])"),
    (r"Expected a value of type .* for argument|inferred|was not annotated",
     "an argument has no type annotation, so TorchScript assumed `Tensor`, but a different type is passed here",
     "annotate the parameter with its type (e.g. `k: int`, `scale: float`, `mask: Optional[Tensor]`)"),
    (r"Can't get source for", "this line calls a function or class TorchScript cannot read the source of (a C "
     "builtin or a library function outside torch)", "use a torch operation instead, or move the call into a function "
     "decorated with @torch.jit.ignore"),
    (r"Python builtin .* is currently not supported|is not supported in Torchscript|Unknown builtin op|Python type",
     "this line calls a Python builtin or library function that TorchScript does not know",
     "use a torch operation instead, or move the call into a function decorated with @torch.jit.ignore"),
    (r"has no attribute|nonexistent attribute|Module '.*' has no attribute", "this line uses an attribute that TorchScript "
     "could not compile or infer (a lambda, a Python object, or an attribute set only at run time)",
     "initialise the attribute in __init__ with a scriptable value (tensor, number, str, list/dict of those, submodule), "
     "turn lambdas into methods, or mark the method that needs it @torch.jit.unused"),
    (r"[Cc]omprehension", "TorchScript supports only simple list/dict comprehensions",
     "rewrite it as a plain for loop that appends to a typed list"),
    (r"generator|yield", "TorchScript cannot compile generators", "build a list instead of yielding"),
    (r"Tried to set nonexistent attribute|Expected integer literal", "TorchScript cannot create or index this value "
     "dynamically", "declare the attribute in __init__, or index with a constant / use a ModuleList loop"),
)


def explain_script_failure(message: str) -> tuple[str, str]:
    """``(plain explanation, fix)`` for TorchScript's ``message``."""
    for pattern, what, fix in _SCRIPT_EXPLANATIONS:
        m = re.search(pattern, message)
        if m:
            return what.format(*m.groups()), fix
    return ("TorchScript cannot compile this line (the code uses Python that is outside the TorchScript subset)",
            "rewrite it with torch operations and type annotations, decorate the Python-only helper with "
            "@torch.jit.ignore (or @torch.jit.unused), or use torch.jit.trace for this part")


def locate_script_failure(message: str, source: str, *, entry: str, entry_line: int | None = None,
                          classes: set[str] | None = None) -> int | None:
    """The user's line that makes ``torch.jit.script`` fail, found in the source when TorchScript names none.

    Looks, in the entry and the functions it calls (source order), for the construct the message is
    about (a call into numpy or another Python library, a lambda, ``try``, ``*args``...); if the message
    names nothing recognisable, for the first construct TorchScript cannot compile.
    """
    idx = SourceIndex(source)
    if idx.tree is None:
        return None
    funcs = sorted(idx._reachable(entry, entry_line, classes or set()), key=lambda f: f.node.lineno)
    if not funcs:
        return None
    mentioned = [m for m in _UNSUPPORTED_MODULES if re.search(rf"\b{re.escape(m)}\b", message)]
    m = re.search(r"(?:site|dist)-packages/([A-Za-z_][\w]*)", message)
    if m:
        mentioned.insert(0, m.group(1))
    candidates: list[tuple[int, int, str]] = []  # (priority, line, what)
    for f in funcs:
        args = f.node.args
        if "undefined Tensor" in message:
            positional = args.posonlyargs + args.args
            for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults):
                if a.annotation is None and isinstance(d, ast.Constant) and d.value is None:
                    candidates.append((0, f.node.lineno, "untyped-none"))
        if args.vararg or args.kwarg:
            candidates.append((1 if re.search("variable number", message) else 5, f.node.lineno, "varargs"))
        for node in ast.walk(f.node):
            if node is not f.node and idx.function_at(node) is not f and not isinstance(node, (ast.FunctionDef, ast.Lambda)):
                continue
            line = getattr(node, "lineno", None)
            if line is None:
                continue
            if isinstance(node, ast.Call):
                name = idx.resolve(node.func)
                root = name.split(".")[0]
                if root in mentioned:
                    candidates.append((0, line, root))
                elif root in _UNSUPPORTED_MODULES and root not in ("torch", "math"):
                    candidates.append((3, line, root))
            elif isinstance(node, ast.Lambda):
                candidates.append((1 if "ambda" in message else 4, line, "lambda"))
            elif isinstance(node, ast.Try):
                candidates.append((1 if "try" in message else 4, line, "try"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not f.node:
                candidates.append((1 if "function definitions" in message else 4, line, "def"))
            elif isinstance(node, (ast.Yield, ast.YieldFrom)):
                candidates.append((4, line, "yield"))
            elif isinstance(node, ast.Global):
                candidates.append((4, line, "global"))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1]))
    return candidates[0][1]
