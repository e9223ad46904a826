"""SARIF 2.1.0 output for ``jit-explorer analyze --format sarif`` (GitHub code scanning, IDEs, review bots).

One log with one run: the tool's rules are the pitfall kinds (read from
:data:`jit_explorer.report.PITFALL_KINDS` when the log is made, so a kind added there appears
without a change here; a kind with no text below gets a generic description), and each pitfall is a
result at its file (relative to the working directory) and line, with the column of the code the
message quotes when that code is found on the line. Analyses that failed (syntax error, no entry,
sandbox limits) are tool execution notifications, and make the invocation unsuccessful.

Example::

    >>> from jit_explorer.report import Analysis, Pitfall
    >>> p = Pitfall(kind="tensor-to-bool", mode="trace", severity="warning", line=2,
    ...             message="`x.sum() > 0` decides a branch", fix="use torch.where", evidence="static")
    >>> log = to_sarif([Analysis(file="m.py", entry="f", ok=True, torch_version="2.14.1", pitfalls=(p,))],
    ...                sources={"m.py": "def f(x):\\n    if x.sum() > 0:\\n        return x\\n"})
    >>> r = log["runs"][0]["results"][0]
    >>> r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startColumn"]
    ('tensor-to-bool', 'warning', 8)
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import __version__, report
from .report import Analysis, Pitfall

__all__ = ["SARIF_VERSION", "SARIF_SCHEMA", "DOCS_URL", "LEVELS", "RuleText", "rule_text", "rules", "to_sarif"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: where the README (with one ``pitfall-KIND`` anchor per kind) is published; ``JX_DOCS_URL`` overrides it
DOCS_URL = "https://pypi.org/project/jit-explorer/"
#: pitfall severity -> SARIF level
LEVELS: Mapping[str, str] = {"error": "error", "warning": "warning", "info": "note"}
_TOOL = "jit-explorer"


@dataclass(frozen=True)
class RuleText:
    """What a rule says about one pitfall kind: a one-line summary, the full story, and the fix."""

    short: str
    full: str
    help: str


_TEXT: dict[str, RuleText] = {
    "tensor-to-bool": RuleText(
        "A tensor's value decides a Python branch",
        "An `if`, `while`, `and`/`or` or ternary is decided by a tensor's value. torch.jit.trace records only the "
        "branch the example input took and replays it for every input; torch.export refuses it and torch.compile "
        "breaks the graph there.",
        "Express the choice with tensor ops (`torch.where(cond, a, b)`, masking) so both branches are computed in "
        "the graph; for torch.export use `torch.cond`; or compile the function with torch.jit.script, which keeps "
        "the `if`."),
    "tensor-to-number": RuleText(
        "A tensor's value becomes a Python number",
        "`.item()`, `int(t)`, `float(t)`, `.tolist()` or `.numpy()` turns a tensor's value into Python data. The "
        "trace stores the number computed for the example input as a constant and uses it for every input.",
        "Keep the value as a tensor (tensor ops broadcast with 0-dim tensors) and use the torch equivalent of numpy "
        "calls; or torch.jit.script the function."),
    "tensor-iteration": RuleText(
        "A Python loop over a tensor",
        "A `for` loop over a tensor, or over `range(len(x))`, is unrolled by the trace for the example input's "
        "size; inputs of another size give wrong results or errors.",
        "Replace the loop with a vectorized op over that dimension (`x.sum(0)`, `torch.cumsum`, batched matmul), "
        "or torch.jit.script the function so the loop stays a loop."),
    "shape-specialization": RuleText(
        "Code specialised to the example input's shape, dtype or device",
        "A decision or loop depends on the input's shape, dtype or device. The trace keeps only what the example "
        "input did, so inputs of another shape or dtype silently take the same path.",
        "Make the code independent of the shape (`x.flatten(1)`, `x.reshape(-1, n)`, broadcasting), trace once per "
        "variant you need, or use torch.jit.script / torch.export with dynamic dims, which keep the check."),
    "constant-tensor": RuleText(
        "A tensor built from Python data is frozen as a constant",
        "`torch.tensor`, `torch.as_tensor` or `torch.from_numpy` of data computed from the input is stored in the "
        "trace as a constant: every later input gets the example's values.",
        "Compute the tensor from the input with tensor ops (`x.sum() / x.shape[0]`, `torch.arange(x.size(0))`, "
        "`x.new_ones(...)`) instead of building it from Python data."),
    "python-side-effect": RuleText(
        "A Python side effect the captured program does not perform",
        "The function changes an attribute of the module, a global, or prints. The capture does not record Python "
        "side effects, so the converted model never performs them and code that reads the value sees the one it "
        "had while capturing.",
        "Keep state in a registered buffer updated in place (`self.count.add_(1)`) or return it as an output; run "
        "bookkeeping outside the captured call, or guard it with `if not torch.jit.is_tracing():`."),
    "nondeterministic": RuleText(
        "A random or clock value, or a module in training mode",
        "A Python `random`/`numpy.random`/clock value is frozen by the trace as a constant, or dropout/batch-norm "
        "runs in training mode, so outputs differ between eager and the converted model, or from call to call.",
        "Use torch's RNG (`torch.rand(())`, `torch.randn_like(x)`) or pass the value in as an input; call "
        "`.eval()` before capturing and pass `training=self.training` to functional dropout."),
    "container-output": RuleText(
        "A dict or list returned from the captured function",
        "The entry returns a dict or list. torch.jit.trace (strict) refuses it, or, with `strict=False`, fixes its "
        "length and keys to the example's.",
        "Return a tuple of tensors (e.g. `return out['logits'], out['hidden']`); use `strict=False` only if the "
        "structure never changes."),
    "script-error": RuleText(
        "torch.jit.script cannot compile this code",
        "TorchScript's compiler rejects a construct on this line (an unsupported Python feature, a library call, "
        "a type it cannot infer).",
        "Rewrite the construct in TorchScript's subset (type annotations, no lambdas, no `**kwargs`, torch ops "
        "instead of numpy), move it out of the scripted code, or use torch.jit.trace / torch.export instead."),
    "graph-break": RuleText(
        "torch.compile (Dynamo) leaves the graph here",
        "Dynamo cannot put this line in the compiled graph: it splits the function into several graphs and runs "
        "the line in Python, which costs speed and can recompile on every new value.",
        "Follow the hint in the message: keep values as tensors, replace data-dependent Python control flow with "
        "`torch.where`/`torch.cond`, move printing and logging out, or mark the helper with "
        "`torch.compiler.disable` on purpose."),
    "export-error": RuleText(
        "torch.export refuses this code",
        "torch.export needs one graph for all inputs: data-dependent control flow, Python values read from "
        "tensors or specialised sizes make it fail or specialise.",
        "Rewrite with `torch.cond` (branches), `torch.where` (values), `torch._check` (facts about sizes), or "
        "declare dynamic dims with `torch.export.Dim`."),
}


def rule_text(kind: str) -> RuleText:
    """The rule text of a pitfall kind; a generic one for a kind this module has no words for."""
    known = _TEXT.get(kind)
    if known is not None:
        return known
    words = kind.replace("-", " ")
    return RuleText(
        f"JIT Explorer pitfall: {words}",
        f"JIT Explorer found a '{words}' pitfall: the captured program may behave differently from eager PyTorch "
        "here. The result's message says what happens on this line.",
        "Follow the fix in the result's message; the README's section on this kind explains it.")


def _docs_url(explicit: str | None) -> str:
    return (explicit or os.environ.get("JX_DOCS_URL") or DOCS_URL).split("#")[0]


def _rule_name(kind: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", kind) if part)


def _kinds(analyses: Sequence[Analysis]) -> list[str]:
    """Every registered kind (read now), then any other kind the analyses report, in order of appearance."""
    kinds = list(report.PITFALL_KINDS)
    for a in analyses:
        for p in a.pitfalls:
            if p.kind not in kinds:
                kinds.append(p.kind)
    return kinds


def rules(kinds: Iterable[str], *, docs_url: str | None = None) -> list[dict[str, Any]]:
    """The SARIF ``reportingDescriptor`` of each kind: id, name, descriptions, help with the fix, help URI."""
    base = _docs_url(docs_url)
    out = []
    for kind in kinds:
        t = rule_text(kind)
        out.append({
            "id": kind,
            "name": _rule_name(kind),
            "shortDescription": {"text": t.short},
            "fullDescription": {"text": t.full},
            "help": {"text": f"{t.full}\n\nFix: {t.help}", "markdown": f"{t.full}\n\n**Fix:** {t.help}"},
            "helpUri": f"{base}#pitfall-{kind}",
            "properties": {"tags": ["pytorch", "correctness"]},
        })
    return out


def _uri(file: str, cwd: Path) -> str:
    """``file`` as a URI relative to ``cwd`` (POSIX separators, percent-encoded), or a ``file:`` URI outside it."""
    path = Path(file)
    absolute = path if path.is_absolute() else cwd / path
    try:
        rel = Path(os.path.normpath(absolute)).relative_to(os.path.normpath(cwd))
    except ValueError:
        return Path(os.path.normpath(absolute)).as_uri()
    return quote(rel.as_posix())


def _columns(line_text: str, message: str) -> tuple[int, int] | None:
    """1-based ``(startColumn, endColumn)`` of the longest code the message quotes (in backticks) that is on the line.

    ``endColumn`` is exclusive (SARIF: the column after the region's last character).
    """
    found = [q for q in re.findall(r"`([^`\n]+)`", message) if q.strip() and q in line_text]
    if not found:
        return None
    quoted = max(found, key=len)
    at = line_text.find(quoted)
    return at + 1, at + 1 + len(quoted)


def _region(p: Pitfall, lines: Sequence[str] | None) -> dict[str, Any] | None:
    if p.line is None:
        return None
    region: dict[str, Any] = {"startLine": p.line}
    if lines is not None and 1 <= p.line <= len(lines):
        text = lines[p.line - 1]
        cols = _columns(text, p.message)
        if cols is not None:
            region["startColumn"], region["endColumn"] = cols
        region["snippet"] = {"text": text}
    return region


def _fingerprint(a: Analysis, p: Pitfall, region: dict[str, Any] | None) -> str:
    """Stable across runs and line moves: the kind, mode, entry and the text of the line."""
    text = (region or {}).get("snippet", {}).get("text", "").strip() or str(p.line)
    return hashlib.sha256("\0".join((p.kind, p.mode, a.entry, text)).encode()).hexdigest()[:32]


def _location(uri: str, region: dict[str, Any] | None, entry: str = "") -> dict[str, Any]:
    artifact = {"uri": uri} if uri.startswith("file:") else {"uri": uri, "uriBaseId": "%SRCROOT%"}
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if region is not None:
        physical["region"] = region
    loc: dict[str, Any] = {"physicalLocation": physical}
    if entry:
        loc["logicalLocations"] = [{"name": entry}]
    return loc


def _lines_of(file: str, sources: Mapping[str, str] | None, cwd: Path) -> list[str] | None:
    text = (sources or {}).get(file)
    if text is None:
        try:
            text = (cwd / file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return text.splitlines()


def to_sarif(analyses: Sequence[Analysis], *, sources: Mapping[str, str] | None = None, cwd: str | Path | None = None,
             docs_url: str | None = None) -> dict[str, Any]:
    """One SARIF 2.1.0 log (a JSON-ready dict) for the analyses of one ``analyze`` run.

    Args:
        analyses: what :func:`jit_explorer.sandbox.analyze_source` (or the static-only path) returned, with
            ``file`` set to the path the user gave.
        sources: file -> source text, used for columns and snippets (files not in it are read from disk).
        cwd: the directory paths are made relative to (default: the working directory).
        docs_url: where the README is published (default ``JX_DOCS_URL`` or :data:`DOCS_URL`).
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    kinds = _kinds(analyses)
    index = {k: i for i, k in enumerate(kinds)}
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for a in analyses:
        uri = _uri(a.file, base)
        if not a.ok:
            err = a.error
            region = {"startLine": err.line} if err is not None and err.line else None
            why = f"{err.kind}: {err.message}" if err is not None else "analysis failed"
            notifications.append({
                "level": "error",
                "message": {"text": f"{a.file}: {why}"},
                "locations": [_location(uri, region, a.entry)],
                "descriptor": {"id": err.kind if err else "analysis-failed"},
            })
            continue
        lines = _lines_of(a.file, sources, base)
        for p in a.pitfalls:
            region = _region(p, lines)
            results.append({
                "ruleId": p.kind,
                "ruleIndex": index[p.kind],
                "level": LEVELS.get(p.severity, "warning"),
                "message": {"text": f"{p.message}\nFix: {p.fix}" if p.fix else p.message},
                "locations": [_location(uri, region, a.entry)],
                "partialFingerprints": {"jitExplorerPitfall/v1": _fingerprint(a, p, region)},
                "properties": {"mode": p.mode, "severity": p.severity, "evidence": p.evidence, "entry": a.entry},
            })
    torch_versions = sorted({a.torch_version for a in analyses if a.torch_version})
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": _TOOL,
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": _docs_url(docs_url),
                "rules": rules(kinds, docs_url=docs_url),
            }},
            "invocations": [{"executionSuccessful": all(a.ok for a in analyses),
                             "toolExecutionNotifications": notifications}],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {"torchVersions": torch_versions},
        }],
    }
