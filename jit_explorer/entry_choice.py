"""Which entry of pasted source to analyse when none is named, and why (static: nothing runs).

The first class of a file is often a helper (the PyTorch tutorial's ``MyCell`` inside ``MyRNNLoop``).
The choice, in order:

1. the entries that ``example_inputs()`` fits: its return value's count of items matches the
   entry's required positional arguments (``forward``'s for a module), and a module can be built
   with no arguments;
2. among those (or all, when none fits), the top-level ones: no other entry uses their name;
3. the first of what is left, in source order.

Example::

    >>> src = '''import torch
    ... class Cell(torch.nn.Module):
    ...     def forward(self, x, h):
    ...         return x + h
    ... class Loop(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.cell = Cell()
    ...     def forward(self, xs):
    ...         return self.cell(xs, xs)
    ... def example_inputs():
    ...     return (torch.ones(2),)
    ... '''
    >>> choose_entry(src).entry.name
    'Loop'
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .snippet import Entry, parse_source

__all__ = ["EntryChoice", "choose_entry"]


@dataclass(frozen=True)
class EntryChoice:
    """The entry to analyse by default and one sentence saying why."""

    entry: Entry
    reason: str


def _required_positional(fn: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool) -> tuple[int, int | None]:
    """(required, most) positional arguments of ``fn`` (``most`` is ``None`` with ``*args``)."""
    a = fn.args
    positional = a.posonlyargs + a.args
    if method and positional:
        positional = positional[1:]
    required = len(positional) - len(a.defaults)
    return max(required, 0), (None if a.vararg else len(positional))


def _init_needs_args(cls: ast.ClassDef) -> bool:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            required, _ = _required_positional(node, method=True)
            kw_required = any(d is None for d in node.args.kw_defaults)
            return required > 0 or kw_required
    return False


def _example_count(tree: ast.Module) -> int | None:
    """How many inputs ``example_inputs()`` returns, when its ``return`` says so literally."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "example_inputs":
            counts = {len(r.value.elts) if isinstance(r.value, ast.Tuple) else 1
                      for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None}
            return counts.pop() if len(counts) == 1 else None
    return None


def _arity(node: ast.AST) -> tuple[int, int | None] | None:
    if isinstance(node, ast.FunctionDef):
        return _required_positional(node, method=False)
    if isinstance(node, ast.ClassDef):
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "forward":
                return _required_positional(item, method=True)
    return None


def _users(tree: ast.Module, names: set[str]) -> dict[str, set[str]]:
    """For each entry name, the other top-level definitions whose bodies mention it."""
    used: dict[str, set[str]] = {n: set() for n in names}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in used and sub.id != node.name:
                used[sub.id].add(node.name)
            elif isinstance(sub, ast.Attribute) and sub.attr in used and sub.attr != node.name:
                used[sub.attr].add(node.name)
    return used


def choose_entry(source: str) -> EntryChoice | None:
    """The entry to analyse when the user names none, with the reason; ``None`` when there is no entry.

    Raises:
        SnippetError: the source does not parse (see :func:`jit_explorer.snippet.parse_source`).
    """
    info = parse_source(source)
    entries = list(info.entries)
    if not entries:
        return None
    if len(entries) == 1:
        return EntryChoice(entries[0], f"{entries[0].name} is the only function or module in the source")
    tree = ast.parse(source)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    count = _example_count(tree) if info.has_example_inputs else None
    fits: list[Entry] = []
    if count is not None:
        for e in entries:
            node = defs.get(e.name)
            arity = _arity(node) if node is not None else None
            if arity is None or (isinstance(node, ast.ClassDef) and _init_needs_args(node)):
                continue
            low, high = arity
            if low <= count and (high is None or count <= high):
                fits.append(e)
    users = _users(tree, {e.name for e in entries} - {"example_inputs"})
    pool = fits or entries
    top = [e for e in pool if not (users.get(e.name, set()) - {"example_inputs"})]
    chosen = (top or pool)[0]
    why: list[str] = []
    if fits:
        n = f"{count} input{'s' * (count != 1)}"
        why.append(f"example_inputs() gives {n} and {chosen.name} takes {n}"
                   if len(fits) < len(entries) else f"example_inputs() fits every entry ({n})")
    elif count is not None:
        why.append(f"example_inputs() gives {count} input{'s' * (count != 1)} and no entry takes that many")
    if top and len(top) < len(pool):
        kind = "module" if chosen.kind == "module" else "function"
        why.append(f"it is the top-level {kind} (no other class or function uses it)")
    elif not why:
        why.append("it is the first entry in the source")
    others = [e.name for e in entries if e.name != chosen.name]
    return EntryChoice(chosen, f"{chosen.name} was chosen: {'; '.join(why)}. Others: {', '.join(others)}.")
