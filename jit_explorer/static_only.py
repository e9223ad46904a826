"""Static-only analysis: the pitfall checks that read the source, without running any of it.

``jit-explorer analyze --static-only`` (the fast path of the pre-commit hook) uses this instead of
the sandbox: the source is parsed, never imported or executed, so it needs no inputs and takes a
fraction of a second per file once torch is imported. It runs the registered checks of
:mod:`jit_explorer.pitfalls` that need only the source (:data:`STATIC_CHECKS`) on a placeholder
conversion, so messages, fixes and severities are the same as in a full analysis.

What it cannot see, compared with the full analysis: TracerWarnings, script errors, divergence of
the trace on other inputs, modules left in training mode, and which lines really ran (every
branch counts as reachable). A ``self.buf += 1`` on a registered buffer is reported as a Python
side effect (only a built module shows that ``buf`` is a tensor).

Example::

    >>> [a] = analyze_source("import torch\\ndef f(x):\\n    if x.sum() > 0:\\n        return x\\n    return -x\\n")
    >>> [(p.kind, p.line, p.evidence) for p in a.pitfalls]
    [('tensor-to-bool', 3, 'static')]
"""

from __future__ import annotations

import ast
from typing import Any

import torch

from .analysis import failed
from .convert import Conversion
from .errors import SnippetError
from .pitfalls import REGISTRY, Context, detect
from .pitfalls.facts import collect_facts
from .pitfalls.index import SourceIndex
from .report import Analysis, ModeResult
from .snippet import Entry, parse_source, select_entries

__all__ = ["STATIC_CHECKS", "STATIC_NOTE", "analyze_source", "imports_torch"]

#: the checks of :data:`jit_explorer.pitfalls.REGISTRY` that read only the source (in registry order)
STATIC_CHECKS: tuple[str, ...] = (
    "python-decisions", "python-loops", "python-numbers", "constant-tensors", "side-effects",
    "python-randomness", "container-output",
)
#: the note every static-only analysis carries
STATIC_NOTE = "static checks only: the code was read, not run (no trace, no script, no inputs)"


def imports_torch(source: str) -> bool:
    """Whether ``source`` imports ``torch`` (or a ``torch.*`` module) anywhere; ``False`` when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "torch" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "torch":
            return True
    return False


def _traces(mode: str) -> bool:
    """Whether ``mode`` (``trace``, ``both``, ``all`` or a comma list) asks for ``torch.jit.trace``."""
    mode = (mode or "both").strip()
    return mode in ("both", "all") or "trace" in {m.strip() for m in mode.split(",")}


def _stand_in(entry: Entry) -> Any:
    """What the checks see as the converted object, built without running user code.

    For an ``nn.Module`` entry: an empty module whose class has the entry's name (the checks find its
    ``forward`` in the source by that name); for a function: ``None`` (they use the entry's name).
    """
    if entry.kind == "module":
        return type(entry.name, (torch.nn.Module,), {})()
    return None


def _analyze_entry(source: str, entry: Entry, *, file: str) -> Analysis:
    # no eager run: no `executed` lines, every branch reachable from the entry counts
    facts = collect_facts(SourceIndex(source), entry=entry.name, entry_line=entry.line)
    placeholder = Conversion(results={"trace": ModeResult(ok=True)})  # trace asked for; nothing compiled, nothing run
    ctx = Context(obj=_stand_in(entry), inputs=(), source=source, user_file=None, conversion=placeholder,
                  entry=entry.name, entry_line=entry.line, facts=facts, prepared=True)
    pitfalls = detect(ctx, checks=[name for name in STATIC_CHECKS if name in REGISTRY])
    return Analysis(file=file, entry=entry.name, ok=True, torch_version=torch.__version__,
                    pitfalls=tuple(pitfalls), notes=(STATIC_NOTE,))


def analyze_source(source: str, *, entry: str = "", mode: str = "both", filename: str = "snippet.py") -> list[Analysis]:
    """Run the static checks on every entry of ``source`` (or only ``entry``); nothing is executed.

    Returns one :class:`~jit_explorer.report.Analysis` per entry, like :func:`jit_explorer.sandbox.analyze_source`,
    with ``trace``/``script`` left ``None`` and :data:`STATIC_NOTE` in ``notes``. The checks concern
    ``torch.jit.trace``: a ``mode`` without it gives analyses without pitfalls. A source that cannot be
    read (syntax error, no entry, unknown entry) gives one analysis with ``ok=False`` and its ``error``.
    """
    try:
        entries = select_entries(parse_source(source), entry)
    except SnippetError as e:
        return [failed(filename, entry, e.kind, str(e), e.line)]
    if not _traces(mode):
        return [Analysis(file=filename, entry=e.name, ok=True, torch_version=torch.__version__, notes=(STATIC_NOTE,))
                for e in entries]
    return [_analyze_entry(source, e, file=filename) for e in entries]
