"""The parsed user source: functions, classes, imports, parents, and questions about a line.

Nothing here executes user code or knows about tensors: it is the :mod:`ast` of the file with
the lookups every other part of the static side needs (which function holds a node, what a
dotted name resolves to through the imports, which statement starts on a line, whether a
branch is cut away while tracing).

Example::

    >>> idx = SourceIndex("import numpy as np\\ndef f(x):\\n    return np.exp(x)\\n")
    >>> [f.qualname for f in idx.functions], idx.imports
    (['f'], {'np': 'numpy'})
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeGuard

__all__ = ["FunctionInfo", "SourceIndex", "is_call_to", "body_lines", "is_guard", "tracing_call_in"]


@dataclass(frozen=True, eq=False)
class FunctionInfo:
    """A function or method of the file, with its qualified name and parameters (hashed by identity)."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    qualname: str
    cls: str | None
    params: tuple[str, ...]
    first_line: int  # first decorator line or the def line (== code.co_firstlineno)


class SourceIndex:
    """The parsed user source (``tree`` is ``None`` when it does not parse).

    Args:
        source: the file's text.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.splitlines()
        try:
            self.tree: ast.Module | None = ast.parse(source)
        except SyntaxError:
            self.tree = None
        self.parents: dict[ast.AST, ast.AST] = {}
        self.functions: list[FunctionInfo] = []
        self.classes: dict[str, ast.ClassDef] = {}
        self.imports: dict[str, str] = {}  # local name -> dotted module path (or module.attr)
        self.globals: set[str] = set()
        self.defs: dict[str, str] = {}  # top-level function/class name -> "function" | "class"
        if self.tree is not None:
            self._index(self.tree)

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
        for sub in ast.walk(tree):
            if isinstance(sub, ast.Import):
                for a in sub.names:
                    self.imports[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                for a in sub.names:
                    self.imports[a.asname or a.name] = f"{sub.module}.{a.name}"
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = self.parents.get(sub)
                cls = owner.name if isinstance(owner, ast.ClassDef) else None
                args = sub.args
                params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
                first = min([sub.lineno] + [d.lineno for d in sub.decorator_list])
                qualname = f"{cls}.{sub.name}" if cls else sub.name
                self.functions.append(FunctionInfo(sub, qualname, cls, tuple(params), first))

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
        todo: list[str | None] = [cls] if cls else [None]
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

    def is_assert(self, line: int) -> bool:
        """Whether the statement on ``line`` is an ``assert``."""
        return isinstance(self.statement_at(line), ast.Assert)

    def guard_at(self, line: int) -> bool:
        """Whether ``line`` is the test of an ``if`` that only raises/warns (or an assert)."""
        stmt = self.statement_at(line)
        return isinstance(stmt, ast.Assert) or (isinstance(stmt, ast.If) and is_guard(stmt))

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


def body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> range:
    start = fn.body[0].lineno if fn.body else fn.lineno
    return range(start, (fn.end_lineno or start) + 1)



def is_call_to(e: ast.AST, *names: str) -> TypeGuard[ast.Call]:
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in names



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


def tracing_call_in(test: ast.expr, idx: SourceIndex) -> bool:
    return any(isinstance(n, ast.Call)
               and idx.resolve(n.func).endswith(("is_tracing", "is_scripting", "_get_tracing_state"))
               for n in ast.walk(test))


def is_guard(node: ast.If) -> bool:
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
