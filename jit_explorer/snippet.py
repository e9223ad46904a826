"""Pasted source -> a real module file, its entries and its inputs.

Two halves:

* **Static** (safe in the server): :func:`validate_source` and :func:`parse_source`
  read the source with ``ast`` only — nothing is executed — to list the entries
  (top-level functions and ``nn.Module`` subclasses) for the UI and to reject bad
  input early with a specific message.
* **Dynamic** (only inside a sandbox worker): :func:`load_module` writes the
  source to a real file and imports it (so ``inspect.getsource`` and therefore
  ``torch.jit.script`` can read it), :func:`build_entry` makes the callable and
  :func:`eval_inputs` evaluates the inputs expression.

Example::

    >>> info = parse_source("import torch\\ndef f(x):\\n    return x + 1\\n")
    >>> [e.name for e in info.entries]
    ['f']
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .convert import user_line_of_exception
from .errors import SnippetError

__all__ = [
    "Entry",
    "SnippetInfo",
    "MAX_SOURCE_BYTES",
    "validate_source",
    "parse_source",
    "names_text",
    "select_entries",
    "load_module",
    "build_entry",
    "eval_inputs",
]

MAX_SOURCE_BYTES = 256 * 1024
#: top-level functions and classes a pasted source may define (each one is an entry the tool may analyse)
MAX_ENTRIES = 500
_EXAMPLE_INPUTS = "example_inputs"


@dataclass(frozen=True)
class Entry:
    """A candidate for conversion: a top-level function or ``nn.Module`` subclass."""

    name: str
    kind: str  # "function" | "module"
    line: int


@dataclass(frozen=True)
class SnippetInfo:
    """What a static read of the source found."""

    entries: tuple[Entry, ...]
    has_example_inputs: bool

    def names(self) -> list[str]:
        """The entry names, in source order."""
        return [e.name for e in self.entries]


def validate_source(source: str) -> None:
    """Reject source that is empty, too large or binary, with a message that says what to do."""
    if not isinstance(source, str):
        raise SnippetError("the source must be text")
    if "\x00" in source:
        raise SnippetError("the source contains NUL bytes (binary data?): paste Python source text")
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise SnippetError(
            f"the source is {size // 1024} KB; the limit is {MAX_SOURCE_BYTES // 1024} KB: "
            "paste only the function or module you want to convert"
        )
    if not source.strip():
        raise SnippetError("the source is empty: paste a function or an nn.Module subclass")


_MODULE_BASES = {"Module", "Sequential", "ModuleList", "ModuleDict"}


def _is_module_base(base: ast.expr, local_modules: set[str]) -> bool:
    text = ast.unparse(base)
    if text in local_modules:
        return True
    last = text.rsplit(".", 1)[-1]
    return text.startswith(("nn.", "torch.nn.")) or last in _MODULE_BASES


def parse_source(source: str) -> SnippetInfo:
    """Parse ``source`` (no execution) and list its entries.

    Raises:
        SnippetError: on a syntax error (with its line) or invalid source.
    """
    validate_source(source)
    try:
        tree = ast.parse(source, filename="snippet.py")
    except SyntaxError as e:
        detail = (e.text or "").strip()
        where = f" on line {e.lineno}" if e.lineno else ""
        raise SnippetError(
            f"syntax error{where}: {e.msg}" + (f" — `{detail}`" if detail else ""), line=e.lineno, kind="syntax"
        ) from None
    except (RecursionError, MemoryError):
        raise SnippetError("the source is nested too deeply for Python's parser (thousands of brackets or "
                           "operators in one expression): split it into smaller expressions", kind="syntax") from None
    except UnicodeEncodeError:
        raise SnippetError("the source contains characters that are not valid text (lone surrogates): paste "
                           "Python source text", kind="source") from None
    entries: list[Entry] = []
    local_modules: set[str] = set()
    has_example = False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            if node.name == _EXAMPLE_INPUTS:
                has_example = True
            elif not node.name.startswith("_"):
                entries.append(Entry(node.name, "function", node.lineno))
        elif isinstance(node, ast.ClassDef):
            if any(_is_module_base(b, local_modules) for b in node.bases):
                local_modules.add(node.name)
                if not node.name.startswith("_"):
                    entries.append(Entry(node.name, "module", node.lineno))
    if len(entries) > MAX_ENTRIES:
        raise SnippetError(
            f"the source defines {len(entries)} functions and modules "
            f"({names_text([e.name for e in entries])}); the limit is {MAX_ENTRIES}: paste only the code you "
            "want analysed", kind="source")
    return SnippetInfo(tuple(entries), has_example)


def select_entries(info: SnippetInfo, entry: str = "") -> list[Entry]:
    """The entries to analyse: ``entry`` if named, else all of them.

    Raises:
        SnippetError: when there is no entry or the named one does not exist.
    """
    if not info.entries:
        raise SnippetError(
            "no entry found: define a top-level function or an nn.Module subclass "
            "(names starting with '_' and example_inputs are not entries)",
            kind="no-entry",
        )
    if not entry:
        return list(info.entries)
    for e in info.entries:
        if e.name == entry:
            return [e]
    raise SnippetError(f"entry {entry!r} not found; the source defines: {names_text(info.names())}", kind="no-entry")


def names_text(names: list[str], limit: int = 12) -> str:
    """``a, b, c`` — at most ``limit`` names, then how many more (a message stays one short line)."""
    shown = ", ".join(names[:limit])
    return shown + (f" … and {len(names) - limit} more" if len(names) > limit else "")


def load_module(source: str, directory: Path, *, filename: str = "snippet.py") -> tuple[ModuleType, Path]:
    """Write ``source`` to ``directory/filename`` and import it as a fresh module.

    Only call this in a sandbox worker: it executes the source.
    """
    path = Path(directory) / filename
    path.write_text(source, encoding="utf-8")
    name = f"jx_snippet_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # torch.jit.script resolves globals through sys.modules
    spec.loader.exec_module(module)
    return module, path


def build_entry(module: ModuleType, entry: Entry) -> Any:
    """The callable for ``entry``: the function itself, or the module class built with no arguments in eval mode."""
    import torch

    obj = getattr(module, entry.name, None)
    if obj is None:
        raise SnippetError(f"{entry.name!r} is not defined after running the source", line=entry.line, kind="no-entry")
    if entry.kind == "module" or inspect.isclass(obj):
        if not (inspect.isclass(obj) and issubclass(obj, torch.nn.Module)):
            raise SnippetError(f"{entry.name!r} is not an nn.Module subclass", line=entry.line, kind="no-entry")
        sig = inspect.signature(obj.__init__)
        required = [
            p.name for p in list(sig.parameters.values())[1:]
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if required:
            raise SnippetError(
                f"class {entry.name} needs constructor arguments ({', '.join(required)}); entries are built with "
                "no arguments: give them default values or add a wrapper function that builds and calls it",
                line=entry.line,
                kind="constructor",
            )
        instance = obj()
        instance.eval()
        return instance
    if not callable(obj):
        raise SnippetError(f"{entry.name!r} is not callable", line=entry.line, kind="no-entry")
    return obj


def eval_inputs(expr: str, module: ModuleType) -> tuple[Any, ...]:
    """Evaluate the inputs: ``expr`` if given, else the module's ``example_inputs()``.

    A tuple means positional arguments; anything else is one argument. ``torch`` is
    always available to the expression.
    """
    import torch

    namespace = dict(vars(module))
    namespace.setdefault("torch", torch)
    if expr.strip():
        try:
            value = eval(compile(expr, "<inputs>", "eval"), namespace)  # noqa: S307 - runs only in the sandbox worker
        except SyntaxError as e:
            raise SnippetError(f"the inputs expression is not valid Python: {e.msg}", kind="inputs") from None
        except Exception as e:
            raise SnippetError(f"the inputs expression failed: {type(e).__name__}: {e}", kind="inputs") from None
    else:
        fn = getattr(module, _EXAMPLE_INPUTS, None)
        if fn is None:
            raise SnippetError(
                "no inputs: give an inputs expression such as `torch.randn(2, 3)` or define "
                "`def example_inputs(): return (torch.randn(2, 3),)` in the source",
                kind="inputs",
            )
        try:
            value = fn()
        except Exception as e:
            line = user_line_of_exception(e, {module.__file__ or ""})
            raise SnippetError(
                f"example_inputs() failed: {type(e).__name__}: {e}", line=line, kind="inputs"
            ) from None
    return value if isinstance(value, tuple) else (value,)
