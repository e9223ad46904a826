"""Facts: what the static pass found in the scope — decisions, loops and interesting sites — and
questions about a line that need them.

:func:`collect_facts` is the one way to build a :class:`SourceFacts`; it runs, in this order,
each step on the previous one's result (nothing cached, nothing ignored):

1. :func:`~jit_explorer.pitfalls.scope.functions_in_scope` — which functions to look at;
2. :class:`~jit_explorer.pitfalls.taint.Taint` — the category of every value in them;
3. the collection below — every node of the scope that ran (when an eager run says what ran)
   and is not cut away while tracing becomes a :class:`Decision`, a :class:`Loop` or a :class:`Site`.

Example::

    >>> from .index import SourceIndex
    >>> src = "def f(x):\\n    if x.dim() == 3:\\n        x = x[0]\\n    return x\\n"
    >>> facts = collect_facts(SourceIndex(src), entry="f")
    >>> [(d.line, d.cat, d.what) for d in facts.decisions]
    [(2, 'S', 'if')]
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .index import FunctionInfo, SourceIndex, is_call_to, is_guard, tracing_call_in
from .scope import functions_in_scope
from .taint import CONSTANT_TENSOR_FUNCS, SPLIT_METHODS, Cat, Taint

__all__ = ["Decision", "Loop", "Site", "SourceFacts", "collect_facts", "ran", "NONDETERMINISTIC_CALLS"]

_LIST_MUTATORS = {"append", "extend", "insert", "pop", "clear", "update", "setdefault", "popitem", "remove"}
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
class _Found:
    """The lists the collection appends to (frozen into :class:`SourceFacts` at the end)."""

    decisions: list[Decision] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    side_effects: list[Site] = field(default_factory=list)
    random_calls: list[Site] = field(default_factory=list)
    numpy_calls: list[Site] = field(default_factory=list)
    constant_tensors: list[Site] = field(default_factory=list)
    conversions: list[Site] = field(default_factory=list)
    dropout_calls: list[Site] = field(default_factory=list)
    prints: list[Site] = field(default_factory=list)


@dataclass(frozen=True)
class SourceFacts:
    """Everything the static pass found in the functions of its scope, and the questions about a line.

    Attributes:
        index: the parsed source.
        taint: the categories of the scope's values.
        executed: 1-based lines that ran in the eager call (``None``: unknown, every line counts).
    """

    index: SourceIndex
    taint: Taint
    executed: frozenset[int] | None = None
    decisions: tuple[Decision, ...] = ()
    loops: tuple[Loop, ...] = ()
    side_effects: tuple[Site, ...] = ()
    random_calls: tuple[Site, ...] = ()
    numpy_calls: tuple[Site, ...] = ()
    constant_tensors: tuple[Site, ...] = ()
    conversions: tuple[Site, ...] = ()
    dropout_calls: tuple[Site, ...] = ()
    prints: tuple[Site, ...] = ()

    @property
    def scope(self) -> tuple[FunctionInfo, ...]:
        """The functions that were looked at."""
        return self.taint.funcs

    def ran(self, node: ast.AST) -> bool:
        """Whether the statement holding ``node`` (its header, for compound ones) executed in the eager run."""
        return ran(self.index, self.executed, node)

    def decisions_at(self, line: int) -> list[Decision]:
        """Decisions whose test starts on ``line``."""
        return [d for d in self.decisions if d.line == line]

    def line_cats(self, line: int) -> set[str]:
        """Categories of the outermost expressions of the statement on ``line`` (its value, test or iterable)."""
        env = self.taint.env_at(line)
        stmt = self.index.statement_at(line)
        if stmt is None:
            return {self.taint.cat(n, env) for n in self.index.nodes_at(line) if isinstance(n, ast.expr)}
        tops = [getattr(stmt, f, None) for f in ("value", "test", "iter", "msg")]
        if isinstance(stmt, ast.Expr):
            tops = [stmt.value]
        return {self.taint.cat(e, env) for e in tops if isinstance(e, ast.expr)}

    def has_construct(self, kind: str, line: int) -> bool:
        """Whether ``line`` itself holds Python code that raises a TracerWarning of ``kind``.

        Else the warning came from a library call.
        """
        a = self
        env = self.taint.env_at(line)
        nodes = list(self.index.nodes_at(line))
        hot = (Cat.T, Cat.N, Cat.S, Cat.M, Cat.TL)
        if kind == "tensor-to-bool":
            if any(d.line == line for d in a.decisions) or self.index.is_assert(line):
                return True
            for n in nodes:
                if isinstance(n, (ast.BoolOp, ast.IfExp)) or (isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not)):
                    if self.taint.cat(n, env) in hot:
                        return True
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in (
                        "bool", "min", "max", "any", "all", "sorted", "abs", "round") and any(
                        self.taint.cat(x, env) in hot for x in n.args):
                    return True
                if isinstance(n, ast.Compare) and self.taint.cat(n, env) in hot:
                    return True
            return False
        if kind == "tensor-to-number":
            if any(c.line == line for c in a.conversions + a.numpy_calls):
                return True
            return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                       and n.func.id in ("int", "float", "complex", "range")
                       and any(self.taint.cat(x, env) in hot for x in n.args) for n in nodes)
        if kind == "tensor-iteration":
            if any(lp.line == line for lp in a.loops):
                return True
            for n in nodes:
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) \
                        and n.func.id in ("len", "list", "tuple", "zip", "enumerate", "sorted") \
                        and any(self.taint.cat(x, env) == Cat.T for x in n.args):
                    return True
                if isinstance(n, (ast.Assign,)) and any(isinstance(t, (ast.Tuple, ast.List)) for t in n.targets) \
                        and self.taint.cat(n.value, env) == Cat.T:
                    return True
                if isinstance(n, ast.Starred) and self.taint.cat(n.value, env) == Cat.T:
                    return True
                if isinstance(n, ast.comprehension) and self.taint.cat(n.iter, env) == Cat.T:
                    return True
            return False
        if kind == "constant-tensor":
            return any(isinstance(n, ast.Call)
                       and (self.index.resolve(n.func).rsplit(".", 1)[-1] in CONSTANT_TENSOR_FUNCS
                            or (isinstance(n.func, ast.Attribute) and n.func.attr == "new_tensor"))
                       for n in nodes)
        return True


def collect_facts(index: SourceIndex, *, executed: set[int] | frozenset[int] | None = None,
                  runtime_params: dict[int, dict[str, str]] | None = None, entry: str = "",
                  entry_line: int | None = None, classes: set[str] | None = None) -> SourceFacts:
    """Scope, taint, then collection (see the module's docstring): the facts the checks read.

    Args:
        index: the parsed source.
        executed: 1-based lines that ran in an eager call (``None``: unknown, everything counts).
        runtime_params: ``{code first line: {param: category}}`` seen at run time.
        entry, entry_line, classes: the entry (its name and line) and the classes of the built module;
            they pick the scope when ``executed`` is unknown.
    """
    done = frozenset(executed) if executed is not None else None
    funcs = functions_in_scope(index, executed=done, runtime_params=runtime_params, entry=entry,
                               entry_line=entry_line, classes=classes)
    taint = Taint(index, funcs, runtime_params=runtime_params)
    found = _Found()
    collector = _Collector(index, taint, done, found)
    for f in funcs:
        collector.collect(f)
    return SourceFacts(index=index, taint=taint, executed=done, **{k: tuple(v) for k, v in vars(found).items()})


def ran(index: SourceIndex, executed: frozenset[int] | set[int] | None, node: ast.AST) -> bool:
    """Whether the statement holding ``node`` (its header, for compound ones) is among the ``executed`` lines."""
    if executed is None:
        return True
    stmt = index.statement_of(node)
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
    return any(line in executed for line in range(start, end + 1))


class _Collector:
    """Walks the scope's functions and appends what it finds to ``out``."""

    def __init__(self, index: SourceIndex, taint: Taint, executed: frozenset[int] | None, out: _Found) -> None:
        self.index = index
        self.taint = taint
        self.executed = executed
        self.out = out

    def ran(self, node: ast.AST) -> bool:
        return ran(self.index, self.executed, node)

    def cat(self, e: ast.expr | None, env: dict[str, str]) -> str:
        return self.taint.cat(e, env)

    def collect(self, f: FunctionInfo) -> None:
        out = self.out
        env = self.taint.env(f)
        declared_global: set[str] = set()
        local_names = set(env) | set(f.params)
        pending_state: list[ast.Assign | ast.AugAssign | ast.AnnAssign] = []
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
        """Whether ``node`` sits under an executed ``if`` that reads a ``self`` attribute which forward
        itself changes."""
        shared = self.index.defs.keys() | self.index.globals
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
        parent = self.index.parents.get(node)
        while parent is not None and parent is not f.node:
            if isinstance(parent, ast.If) and child is not parent.test and self.ran(parent):
                reads = {ast.unparse(n) for n in ast.walk(parent.test) if isinstance(n, ast.Attribute)}
                reads |= {_attr_probe(n) for n in ast.walk(parent.test) if _attr_probe(n)}
                reads |= {n.id for n in ast.walk(parent.test) if isinstance(n, ast.Name) and n.id in shared}
                if reads & mutated:
                    return True
            child, parent = parent, self.index.parents.get(parent)
        return False

    def _collect_nodes(self, f: FunctionInfo, out: _Found, env: dict[str, str], declared_global: set[str],
                       local_names: set[str], pending_state: list[ast.Assign | ast.AugAssign | ast.AnnAssign]) -> None:
        for node in ast.walk(f.node):
            if node is f.node or not isinstance(node, (ast.stmt, ast.expr, ast.comprehension)):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not f.node:
                continue
            if self.index.function_at(node) is not f:
                continue
            if self.index.traced_away(node):
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
                if c != Cat.C and not tracing_call_in(test, self.index):
                    guard = isinstance(node, ast.Assert) or (isinstance(node, ast.If) and is_guard(node))
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

    def _loop(
        self, node: ast.For | ast.AsyncFor | ast.comprehension, env: dict[str, str], f: FunctionInfo
    ) -> Loop | None:
        it = node.iter
        line = it.lineno if isinstance(node, ast.comprehension) else node.lineno
        text = ast.unparse(it)
        inner = it
        if is_call_to(it, "enumerate", "zip", "reversed") and it.args:
            for a in it.args:
                if self.cat(a, env) == Cat.T:
                    return Loop(line, node, "tensor", text, f.qualname)
            inner = it.args[0]
        if is_call_to(inner, "range"):
            cats = [self.cat(a, env) for a in inner.args]
            if any(_is_len_of_tensor(a, self.taint, env) for a in inner.args):
                return Loop(line, node, "range-len", text, f.qualname)
            if Cat.S in cats:
                rank = all(_rank_only(a) for a, c in zip(inner.args, cats, strict=True) if c == Cat.S)
                return Loop(line, node, "range-rank" if rank else "range-shape", text, f.qualname)
            return None
        c = self.cat(inner, env)
        if c == Cat.T:
            if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr in SPLIT_METHODS):
                return Loop(line, node, "split", text, f.qualname)
            return Loop(line, node, "tensor", text, f.qualname)
        if c == Cat.TL and isinstance(inner, ast.Call):
            if isinstance(inner.func, ast.Attribute):
                fname = inner.func.attr
            else:
                fname = self.index.resolve(inner.func).rsplit(".", 1)[-1]
            if fname in SPLIT_METHODS:
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
        if chain and is_call_to(root, "type") and isinstance(root, ast.Call) and root.args and \
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
        if chain and root.id not in local_names and root.id not in self.index.imports:
            if root.id in self.index.defs:  # memoisation on a function's or a class's attribute: `f.cache = ...`
                return self.index.defs[root.id], text
            if root.id in self.index.globals:
                return "global", text
        return None

    def _call_site(
        self, node: ast.Call, env: dict[str, str], f: FunctionInfo, out: _Found, local_names: set[str]
    ) -> None:
        fn = node.func
        name = self.index.resolve(fn)
        short = name.rsplit(".", 1)[-1] if name else (fn.attr if isinstance(fn, ast.Attribute) else "")
        text = ast.unparse(node)
        line = node.lineno
        arg_exprs = list(node.args) + [k.value for k in node.keywords]
        arg_cat = Cat.max(*[self.cat(a, env) for a in arg_exprs]) if arg_exprs else Cat.C
        # mutation of containers held by self / globals
        if isinstance(fn, ast.Attribute) and fn.attr in _LIST_MUTATORS:
            root = fn.value
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(root, ast.Name):
                if root.id == "self" and fn.value is not root:
                    out.side_effects.append(Site(line, node, "self", text, func=f.qualname, extra="call"))
                elif root.id in self.index.defs and fn.value is not root and root.id not in local_names:
                    out.side_effects.append(
                        Site(line, node, self.index.defs[root.id], text, func=f.qualname, extra="call"))
                elif (root.id in self.index.globals and root.id not in local_names
                      and root.id not in self.index.imports):
                    out.side_effects.append(Site(line, node, "global", text, func=f.qualname, extra="call"))
        # setattr(f, "cache", v) / setattr(self, name, v): the same as an assignment
        if isinstance(fn, ast.Name) and fn.id == "setattr" and len(node.args) >= 2 and \
                isinstance(node.args[0], ast.Name):
            owner = node.args[0].id
            what = "self" if owner == "self" else self.index.defs.get(owner) or (
                "global" if owner in self.index.globals and owner not in local_names else None)
            if what is not None and owner not in (local_names - {"self"}):
                out.side_effects.append(Site(line, node, what, text, func=f.qualname, extra="call"))

        if isinstance(fn, ast.Name) and fn.id in _LOG_CALLS:
            out.prints.append(Site(line, node, "print", text, arg_cat, f.qualname))
        if name.startswith(("logging.", "warnings.warn")) or (
                isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name)
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
        is_torch_ctor = (name.startswith("torch.") and short in CONSTANT_TENSOR_FUNCS) or (
            isinstance(fn, ast.Attribute) and fn.attr == "new_tensor")
        if is_torch_ctor:
            data = node.args[0] if node.args else None
            dcat = self.cat(data, env) if data is not None else Cat.C
            if dcat in (Cat.S, Cat.N, Cat.T, Cat.TL):
                out.constant_tensors.append(Site(line, node, short, text, dcat, f.qualname))
        # F.dropout(x, p) defaults to training=True
        if short in _DROPOUT_FUNCS and name.startswith(("torch.nn.functional.", "F.", "torch.")):
            training = next((k.value for k in node.keywords if k.arg in ("training", "train")), None)
            if training is None and len(node.args) >= 3:
                training = node.args[2]
            functional = not name.startswith("torch.") or name.startswith("torch.nn.functional.")
            if (training is None and functional) or (isinstance(training, ast.Constant) and training.value is True):
                out.dropout_calls.append(Site(line, node, short, text, func=f.qualname))


def _attr_probe(n: ast.AST) -> str:
    """``"f.cache"`` for ``hasattr(f, "cache")`` / ``getattr(f, "cache", ...)`` ("" for anything else)."""
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("hasattr", "getattr") \
            and len(n.args) >= 2 and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str):
        return f"{ast.unparse(n.args[0])}.{n.args[1].value}"
    return ""



def _is_len_of_tensor(e: ast.expr, taint: Taint, env: dict[str, str]) -> bool:
    for n in ast.walk(e):
        if is_call_to(n, "len") and n.args and taint.cat(n.args[0], env) == Cat.T:
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
        elif is_call_to(n, "len") and n.args and isinstance(n.args[0], ast.Attribute) and n.args[0].attr == "shape":
            rank = True
        elif isinstance(n, ast.Attribute) and n.attr == "shape" and not _inside_len(n, e):
            sizes = True
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
              and n.func.attr in ("size", "numel", "stride")):
            sizes = True
        elif is_call_to(n, "len") and not (
                n.args and isinstance(n.args[0], ast.Attribute) and n.args[0].attr == "shape"):
            sizes = True
    return rank and not sizes


def _inside_len(node: ast.AST, root: ast.expr) -> bool:
    return any(is_call_to(n, "len") and n.args and n.args[0] is node for n in ast.walk(root))
