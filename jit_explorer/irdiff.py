"""What the optimizer did: a diff of two TorchScript graphs with value names normalised, and its changes classified.

:func:`diff_ir` compares two IR texts — ``graph``/``inlined`` against ``optimized``, or a trace's graph
against the script graph of the same entry. Before comparing, each line is normalised: the source-range
comment (``# file.py:12:8``) and ``___torch_mangle_N.`` are dropped and values are renamed ``%v1``, ``%v2``,
... in order of first appearance; the two sides are aligned on the lines' structure (node kind,
attributes, arity), so a value renamed by the optimizer does not show as a change, and a value that
matches on both sides gets the same name on both. What changed is then classified (:class:`Change`):
``fused`` (a fusion / differentiable group), ``guard`` (type or requires-grad checks and their fallback),
``profiling``, ``bailout``, ``inlined`` (calls replaced by their bodies), ``folded-constant``,
``removed`` and ``added`` nodes, ``specialized`` (values that got concrete shapes/dtypes), each with a
one-line explanation.

Example::

    >>> before = ("graph(%x.1 : Tensor):\\n  %2 : Tensor = aten::relu(%x.1) # a.py:3:8\\n"
    ...           "  %3 : Tensor = aten::relu(%x.1)\\n  return (%2)\\n")
    >>> after = "graph(%x.1 : Tensor):\\n  %5 : Tensor = aten::relu(%x.1)\\n  return (%5)\\n"
    >>> d = diff_ir(before, after)
    >>> [(c.kind, c.op, c.before, c.after) for c in d.changes]
    [('removed', 'aten::relu', 2, 1)]
    >>> [f"{l.tag} {l.text}" for l in d.lines if l.tag != "="]
    ['-   %v3 : Tensor = aten::relu(%v1)']
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .opdocs import canonical

__all__ = ["Change", "DiffLine", "IRDiff", "diff_ir", "normalise_ir", "optimizer_diff", "CHANGE_KINDS"]

#: every :attr:`Change.kind`, in the order changes are listed
CHANGE_KINDS: tuple[str, ...] = ("fused", "guard", "profiling", "bailout", "inlined", "folded-constant", "removed",
                                 "added", "specialized")

_GROUPS = {"prim::DifferentiableGraph", "prim::TensorExprGroup", "prim::TensorExprDynamicGroup", "prim::FusionGroup",
           "prim::CudaFusionGroup", "prim::oneDNNFusionGroup", "prim::StaticSubgraph", "prim::FallbackGraph"}
_GUARDS = {"prim::TypeCheck", "prim::RequiresGradCheck", "prim::TensorExprDynamicGuard", "prim::Guard"}
_PROFILING = {"prim::profile", "prim::profile_ivalue"}
_BAILOUTS = {"prim::BailOut", "prim::BailoutTemplate"}
_CALLS = {"prim::CallMethod", "prim::CallFunction"}
_CONTROL = {"prim::If", "prim::Loop"}

_VALUE = re.compile(r"%[\w.]+")
_KIND = re.compile(r"(?<![\w.%])([A-Za-z_]\w*::\w+)")
_MANGLE = re.compile(r"___torch_mangle_\d+\.")
_CONSTANT = re.compile(r"prim::Constant\[(value=.*?)\]\(\)")


@dataclass(frozen=True)
class DiffLine:
    """One line of the diff: ``=`` on both sides, ``-`` only before, ``+`` only after.

    ``before_line`` / ``after_line`` are the 1-based lines of the original texts (None on the side that lacks it).
    """

    tag: str
    text: str
    before_line: int | None
    after_line: int | None

    def to_dict(self) -> dict[str, Any]:
        """The line as JSON."""
        return {"tag": self.tag, "text": self.text, "before_line": self.before_line, "after_line": self.after_line}


@dataclass(frozen=True)
class Change:
    """One classified change.

    Attributes:
        kind: one of :data:`CHANGE_KINDS`.
        op: the node kind concerned (``prim::DifferentiableGraph``, ``aten::relu``), or ``""``.
        before: how many such nodes (or values, for ``specialized``) the first graph has.
        after: how many the second has.
        explanation: one line in plain words.
        lines: 1-based lines where it shows: in the second text for additions, in the first for removals.
    """

    kind: str
    op: str
    before: int
    after: int
    explanation: str
    lines: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON."""
        return {"kind": self.kind, "op": self.op, "before": self.before, "after": self.after,
                "explanation": self.explanation, "lines": list(self.lines)}


@dataclass(frozen=True)
class IRDiff:
    """The diff of two IR texts and what changed between them."""

    before_label: str
    after_label: str
    lines: tuple[DiffLine, ...]
    changes: tuple[Change, ...]
    before_kinds: Mapping[str, int] = field(default_factory=dict)
    after_kinds: Mapping[str, int] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """True when the normalised texts are the same."""
        return all(line.tag == "=" for line in self.lines)

    @property
    def added(self) -> int:
        """How many lines only the second text has."""
        return sum(line.tag == "+" for line in self.lines)

    @property
    def removed(self) -> int:
        """How many lines only the first text has."""
        return sum(line.tag == "-" for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON (lines, changes, node-kind counts)."""
        return {"before": self.before_label, "after": self.after_label, "identical": self.identical,
                "added": self.added, "removed": self.removed,
                "changes": [c.to_dict() for c in self.changes], "lines": [line.to_dict() for line in self.lines],
                "before_kinds": dict(self.before_kinds), "after_kinds": dict(self.after_kinds)}


# --------------------------------------------------------------------------- normalising


def _strip_comment(line: str) -> str:
    """Drop a trailing ``# file.py:12:8`` source comment (not a ``#`` inside a string attribute)."""
    idx = line.rfind(" # ")
    while idx != -1:
        if line.count('"', 0, idx) % 2 == 0:
            return line[:idx].rstrip()
        idx = line.rfind(" # ", 0, idx)
    return line.rstrip()


def _skip_type(line: str, i: int) -> int:
    """Index just past the type that starts at ``i`` (balanced brackets; ends at depth 0 on ' ', ',' or ')')."""
    depth = 0
    while i < len(line):
        ch = line[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                return i
            depth -= 1
        elif depth == 0 and ch in " ,":
            return i
        i += 1
    return i


def _split_types(line: str) -> tuple[str, list[str]]:
    """The line without value types (``%x : T`` -> ``%x``) and the types removed, in order."""
    out: list[str] = []
    types: list[str] = []
    i = 0
    for m in re.finditer(r"(%[\w.]+)( : )", line):
        if m.start() < i:
            continue
        out.append(line[i:m.end(1)])
        end = _skip_type(line, m.end())
        types.append(line[m.end():end])
        i = end
    out.append(line[i:])
    return "".join(out), types


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based in the original text
    text: str  # comment and mangling removed, values as written
    key: str  # structure only: values -> %, types removed
    types: tuple[str, ...]
    values: tuple[str, ...]


def _lines(text: str) -> list[_Line]:
    out = []
    for n, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = _MANGLE.sub("", _strip_comment(raw))
        if not line.strip():
            continue
        untyped, types = _split_types(line)
        key = _VALUE.sub("%", untyped).strip()
        out.append(_Line(n, line, key, tuple(types), tuple(_VALUE.findall(line))))
    return out


def normalise_ir(text: str) -> str:
    """``text`` with source comments and ``___torch_mangle_N.`` removed and values renamed ``%v1``, ``%v2``, ...

    Example::

        >>> normalise_ir("graph(%x.1 : Tensor):\\n  %y.3 : Tensor = aten::relu(%x.1) # f.py:2:4\\n  return (%y.3)\\n")
        'graph(%v1 : Tensor):\\n  %v2 : Tensor = aten::relu(%v1)\\n  return (%v2)'
    """
    names: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"%v{len(names) + 1}")

    return "\n".join(_VALUE.sub(rename, line.text) for line in _lines(text))


# --------------------------------------------------------------------------- classifying


def _kinds(lines: Sequence[_Line]) -> tuple[Counter[str], dict[str, list[int]]]:
    counts: Counter[str] = Counter()
    where: dict[str, list[int]] = {}
    for line in lines:
        head = line.text.split("(", 1)[0] if " = " not in line.text else line.text.split(" = ", 1)[1]
        m = _KIND.search(head)
        if not m or line.text.lstrip().startswith("with "):
            continue
        kind = canonical(m.group(1))[0]
        counts[kind] += 1
        where.setdefault(kind, []).append(line.number)
    return counts, where


def _group_contents(lines: Sequence[_Line]) -> dict[str, Counter[str]]:
    """``{group kind: Counter of node kinds inside}`` from the ``with prim::X_0 = graph(...)`` sections."""
    out: dict[str, Counter[str]] = {}
    current: str | None = None
    for line in lines:
        m = re.match(r"\s*with (prim::\w+) = graph\(", line.text)
        if m:
            current = canonical(m.group(1))[0]
            out.setdefault(current, Counter())
            continue
        if current and " = " in line.text:
            k = _KIND.search(line.text.split(" = ", 1)[1])
            if k and not k.group(1).startswith("prim::Constant"):
                out[current][canonical(k.group(1))[0]] += 1
    return out


def _fmt_counts(c: Counter[str], limit: int = 4) -> str:
    items = [f"{k} ×{n}" if n > 1 else k for k, n in c.most_common(limit)]
    return ", ".join(items) + (", …" if len(c) > limit else "")


def _classify(before: Sequence[_Line], after: Sequence[_Line], labels: tuple[str, str],
              specialized: tuple[int, list[int]]) -> list[Change]:
    b_label, a_label = labels
    b_counts, b_where = _kinds(before)
    a_counts, a_where = _kinds(after)
    groups = _group_contents(after)
    changes: list[Change] = []
    for kind in sorted(set(b_counts) | set(a_counts)):
        nb, na = b_counts.get(kind, 0), a_counts.get(kind, 0)
        if nb == na:
            continue
        where = tuple(a_where.get(kind, [])) if na > nb else tuple(b_where.get(kind, []))
        grew = na > nb
        if kind in _GROUPS and grew:
            inside = _fmt_counts(groups.get(kind, Counter()))
            how = (" (autograd sees one op; its backward is generated)." if kind == "prim::DifferentiableGraph"
                   else " compiled together.")
            text = (f"{na - nb} {kind} group{'s' * (na - nb != 1)} in {a_label}: the optimizer moved "
                    f"{inside or 'nodes'} into one unit" + how)
            changes.append(Change("fused", kind, nb, na, text, where))
        elif kind in _GUARDS and grew:
            changes.append(Change("guard", kind, nb, na,
                                  f"{kind} inserted in {a_label}: it checks the inputs against what "
                                  "profiling saw; if they differ, the unoptimized fallback runs.", where))
        elif kind in _PROFILING:
            changes.append(Change("profiling", kind, nb, na,
                                  f"{kind}: the profiling executor records shapes, dtypes "
                                  f"and devices here during the first runs ({nb} in {b_label}, {na} in {a_label}).",
                                  where))
        elif kind in _BAILOUTS:
            changes.append(Change("bailout", kind, nb, na,
                                  f"{kind}: leaves optimized code for the unoptimized graph when "
                                  f"a profiled type does not hold ({nb} in {b_label}, {na} in {a_label}).", where))
        elif kind in _CALLS and not grew:
            changes.append(Change("inlined", kind, nb, na, f"{nb - na} {kind} call{'s' * (nb - na != 1)} of {b_label} "
                                  f"gone in {a_label}: the callee's body was inlined in place.", where))
        elif kind == "prim::Constant":
            verb = "more" if grew else "fewer"
            why = ("values computed at compile time became constants" if grew
                   else "duplicate constants were merged (constant pooling) and unused ones removed")
            changes.append(Change("folded-constant", kind, nb, na,
                                  f"{abs(na - nb)} constant{'s' * (abs(na - nb) != 1)} "
                                  f"{verb} in {a_label}: {why}.", where))
        elif kind in _CONTROL and not grew:
            changes.append(Change("removed", kind, nb, na, f"{kind} ×{nb - na} only in {b_label}: the control flow is "
                                  f"not in {a_label} (a trace records only the path taken; the optimizer drops "
                                  "branches it can decide).", where))
        elif grew:
            changes.append(Change("added", kind, nb, na, f"{kind}: {nb} in {b_label}, {na} in {a_label} "
                                  f"({na - nb} added).", where))
        else:
            changes.append(Change("removed", kind, nb, na, f"{kind}: {nb} in {b_label}, {na} in {a_label} "
                                  f"({nb - na} removed: dead code, peephole rewrites or folded into other nodes).",
                                  where))
    new_consts = _constant_values(after) - _constant_values(before)
    if new_consts and not any(c.kind == "folded-constant" and c.after > c.before for c in changes):
        lines = tuple(ln.number for ln in after if any(v in ln.text for v in new_consts))
        shown = ", ".join(sorted(new_consts)[:3])
        changes.append(Change("folded-constant", "prim::Constant", len(_constant_values(before)),
                              len(_constant_values(after)), f"new constant values in {a_label} ({shown}): computed "
                              "at compile time (constant propagation) or frozen by the trace.", lines))
    count, lines_spec = specialized
    if count:
        changes.append(Change("specialized", "", 0, count,
                              f"{count} value type{'s' * (count != 1)} differ in {a_label}: "
                              "concrete shapes, strides, dtypes or requires_grad recorded by profiling or tracing.",
                              tuple(lines_spec)))
    order = {k: i for i, k in enumerate(CHANGE_KINDS)}
    return sorted(changes, key=lambda c: (order[c.kind], c.op))


def _constant_values(lines: Sequence[_Line]) -> set[str]:
    return {m.group(1) for ln in lines for m in _CONSTANT.finditer(ln.text)}


# --------------------------------------------------------------------------- the diff


def diff_ir(before: str, after: str, *, before_label: str = "graph", after_label: str = "optimized") -> IRDiff:
    """Diff two IR texts with value names normalised and classify what changed.

    Args:
        before: the first IR text (``graph`` or ``inlined``, or a trace's graph).
        after: the second (``optimized``, or the script graph).
        before_label: how the first is called in the explanations.
        after_label: how the second is called.

    Returns:
        An :class:`IRDiff`: ``lines`` (``=``/``-``/``+``, values renamed ``%vN`` consistently on both sides)
        and ``changes`` (:class:`Change`, in :data:`CHANGE_KINDS` order).
    """
    b_lines, a_lines = _lines(before), _lines(after)
    matcher = difflib.SequenceMatcher(None, [ln.key for ln in b_lines], [ln.key for ln in a_lines], autojunk=False)
    opcodes = matcher.get_opcodes()
    # values of structurally matched lines are the same values: map the second side's names to the first's
    alias: dict[str, str] = {}
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for bl, al in zip(b_lines[i1:i2], a_lines[j1:j2], strict=True):
                for bv, av in zip(bl.values, al.values, strict=False):
                    alias.setdefault(av, bv)
    names: dict[str, str] = {}

    def name_before(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"%v{len(names) + 1}")

    for ln in b_lines:
        _VALUE.sub(name_before, ln.text)
    after_names: dict[str, str] = {}
    fresh = len(names)

    def name_after(m: re.Match[str]) -> str:
        nonlocal fresh
        v = m.group(0)
        if v not in after_names:
            if v in alias and alias[v] in names and names[alias[v]] not in after_names.values():
                after_names[v] = names[alias[v]]
            else:
                fresh += 1
                after_names[v] = f"%v{fresh}"
        return after_names[v]

    b_text = [_VALUE.sub(name_before, ln.text) for ln in b_lines]
    a_text = [_VALUE.sub(name_after, ln.text) for ln in a_lines]
    out: list[DiffLine] = []
    spec_count = 0
    spec_lines: list[int] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                if b_text[i] == a_text[j]:
                    out.append(DiffLine("=", a_text[j], b_lines[i].number, a_lines[j].number))
                    continue
                if b_lines[i].types != a_lines[j].types:
                    spec_count += sum(x != y for x, y in zip(b_lines[i].types, a_lines[j].types, strict=False))
                    spec_lines.append(a_lines[j].number)
                out.append(DiffLine("-", b_text[i], b_lines[i].number, None))
                out.append(DiffLine("+", a_text[j], None, a_lines[j].number))
            continue
        out.extend(DiffLine("-", b_text[i], b_lines[i].number, None) for i in range(i1, i2))
        out.extend(DiffLine("+", a_text[j], None, a_lines[j].number) for j in range(j1, j2))
    changes = _classify(b_lines, a_lines, (before_label, after_label), (spec_count, spec_lines))
    return IRDiff(before_label, after_label, tuple(out), tuple(changes),
                  dict(_kinds(b_lines)[0]), dict(_kinds(a_lines)[0]))


def optimizer_diff(views: Mapping[str, str]) -> IRDiff | None:
    """The optimizer's diff for a trace/script mode result's ``views``: ``inlined`` (else ``graph``) vs ``optimized``.

    Accepts the legacy keys too (``inlined_graph``, ``optimized_graph``). None when a view is missing.
    """
    after = views.get("optimized") or views.get("optimized_graph")
    before_key = next((k for k in ("inlined", "inlined_graph", "graph") if views.get(k)), None)
    if not after or before_key is None:
        return None
    label = "inlined" if before_key.startswith("inlined") else "graph"
    return diff_ir(views[before_key], after, before_label=label, after_label="optimized")
