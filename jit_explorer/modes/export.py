"""``torch.export``: capture the entry as one whole-program graph of ATen ops (non-strict mode).

Views: ``graph`` (the exported program's code, each op linked to the user's line through its
node's stack trace), ``signature`` (parameters, buffers, user inputs and outputs) and ``dynamic``
(the same program exported with ``Dim.AUTO`` on every dim: which dims stay symbolic, which were
specialised, and the range constraints). A failure becomes a pitfall on the user's own line with
the rewrite that fixes it (``torch.cond``, ``torch.where``, ``torch._check``, dynamic dims).
"""

from __future__ import annotations

import linecache
import re
import time
from typing import Any

import torch

from ..report import ModeResult, Pitfall
from . import CaptureMode, Job, Outcome, View, failure, register
from .common import as_module, fx_source_lines, innermost_user_frame, quiet_output, user_line_of_exception

__all__ = ["MODE", "explain_export_error"]

VIEWS: tuple[View, ...] = (
    View("graph", "Graph", "python", doc="the exported program: ATen ops, parameters lifted to inputs"),
    View("signature", "Signature", "text", doc="what the program takes and returns: parameters, buffers, user inputs"),
    View("dynamic", "Dynamic", "text",
         doc="the program exported with automatic dynamic dims: what stays symbolic, what was specialised"),
)

_DATA_DEPENDENT = ("Could not guard on data-dependent expression", "Could not extract specialized integer",
                   "data-dependent", "GuardOnDataDependentSymNode")


def _source_line(job: Job, line: int | None) -> str:
    if line is None or not job.user_file:
        return ""
    return linecache.getline(job.user_file, line).strip()


def _error_line(exc: BaseException, job: Job) -> int | None:
    line = user_line_of_exception(exc, job.user_files)
    if line is None:  # export names the call in its message ("The following call raised this error")
        line = innermost_user_frame(str(exc), job.user_files)
    return line


def _is_torch_bug(exc: BaseException, text: str) -> bool:
    internal = getattr(getattr(torch, "_dynamo", None), "exc", None)
    cls = getattr(internal, "InternalTorchDynamoError", None) if internal else None
    return bool(cls and isinstance(exc, cls)) or "please report a bug to pytorch" in text.lower() or \
        "internal assert failed" in text.lower()


def explain_export_error(exc: BaseException, job: Job) -> tuple[str, int | None, Pitfall]:
    """Turn an export failure into (message for the pane, user line, pitfall with a fix).

    The pitfall's kind is specific where the construct is known: an ``if``/``while`` on a tensor's
    value is ``tensor-to-bool`` (fix: ``torch.cond`` / ``torch.where``), a Python number taken from a
    tensor is ``tensor-to-number`` (fix: keep a tensor, or ``torch._check``); anything else is
    ``export-error``. A failure inside torch with no line of the user's is labelled a torch bug.
    """
    raw = str(exc).strip() or type(exc).__name__
    first = _short_line(job.clean(raw.splitlines()[0]))
    line = _error_line(exc, job)
    code = _source_line(job, line)
    quoted = f"`{code}`" if code else "this line"
    data_dependent = any(t in raw for t in _DATA_DEPENDENT)
    branch = bool(re.match(r"(if|elif|while|assert)\b", code) or re.search(r"\bif\b.*\belse\b", code))
    if data_dependent and branch:
        kind, severity = "tensor-to-bool", "error"
        message = (f"torch.export cannot decide {quoted} while exporting: the condition depends on the values inside "
                   "a tensor, and an exported program has no Python left to decide it when it runs")
        fix = ("express the branch in the graph: `torch.cond(pred, true_fn, false_fn, (x,))` keeps both branches "
               "(each a function of the same inputs), or `torch.where(cond, a, b)` for an element-wise choice")
    elif data_dependent and re.search(r"\.item\(\)|\.tolist\(\)|\b(int|float|bool)\(", code):
        kind, severity = "tensor-to-number", "error"
        message = (f"torch.export cannot turn a tensor into a Python number on {quoted}: the value is only known when "
                   "the program runs, so export cannot use it to decide shapes or control flow")
        fix = ("keep the value as a tensor; where it must be a number (a size, an index), tell export what you know "
               "right after taking it: `n = t.item(); torch._check_is_size(n)` or `torch._check(n < x.shape[0])`")
    elif data_dependent:
        kind, severity = "export-error", "error"
        message = (f"torch.export cannot follow {quoted}: a size or a decision there depends on the values inside a "
                   "tensor (a data-dependent shape)")
        fix = ("tell export what you know about the value with `torch._check(...)` / `torch._check_is_size(n)`, or "
               "rewrite without the data-dependent size (masking with `torch.where` instead of boolean indexing)")
    elif ".numpy()" in raw or "numpy" in code and "not supported" in raw:
        kind, severity = "export-error", "error"
        message = (f"torch.export cannot follow {quoted} into NumPy: export traces torch operations only, and a "
                   "NumPy array leaves the graph")
        fix = "do the computation with torch ops (most NumPy functions have a torch twin: torch.conv1d, torch.cumsum…)"
    elif "Constraints violated" in raw or "specializ" in raw.lower() and "dim" in raw.lower():
        kind, severity = "shape-specialization", "error"
        message = f"torch.export found a shape that cannot be dynamic as asked on {quoted}: {first}"
        fix = ("let export choose (`Dim.AUTO`), or give the dim a range it can hold (`Dim('n', min=2, max=1024)`); "
               "the message names the dim and the size it had to keep")
    elif _is_torch_bug(exc, raw) or line is None and isinstance(exc, (AssertionError, SystemError)):
        kind, severity = "export-error", "error"
        message = (f"torch.export failed inside torch {torch.__version__} ({type(exc).__name__}: {first}); this looks "
                   "like a bug or limitation of torch, not of your code")
        fix = "try torch.compile (it falls back to Python where it cannot capture) or a newer torch release"
    else:
        kind, severity = "export-error", "error"
        where = f" on {quoted}" if code else ""
        message = f"torch.export refused the code{where} ({type(exc).__name__}): {first}"
        fix = ("rewrite that line with tensor ops export can capture; where control flow depends on tensor values "
               "use `torch.cond`, where a size does use `torch._check`, and keep Python side effects out of forward")
    pane = f"torch.export failed ({type(exc).__name__}): {job.clean(_trim_message(raw))}"
    return pane, line, Pitfall(kind=kind, mode="export", severity=severity, line=line, message=message, fix=fix,
                               evidence="export")


def _short_line(line: str, limit: int = 300) -> str:
    """One line of torch's message, cut when it is a huge symbolic expression (detection models make 10 KB ones)."""
    return line if len(line) <= limit else line[:limit] + f" … ({len(line) - limit} more characters)"


def _trim_message(raw: str, limit: int = 3000) -> str:
    """torch's message without the advice for torch developers (env vars, log settings)."""
    noise = re.compile(r"TORCH_LOGS|TORCHDYNAMO_|docs\.google\.com")
    keep = [_short_line(ln) for ln in raw.splitlines() if not noise.search(ln)]
    text = "\n".join(keep).strip()
    return text if len(text) <= limit else text[:limit] + " …"


def _readable(gm: torch.fx.GraphModule) -> str:
    return gm.print_readable(print_output=False, include_stride=False, include_device=False)


def _signature_text(ep: Any) -> str:
    """Inputs and outputs of the exported program, each with its kind and shape."""
    sig = ep.graph_signature
    vals = {n.name: n.meta.get("val") for n in ep.graph.nodes}
    out = ["# inputs (in the order the program takes them)"]
    for spec in sig.input_specs:
        kind = getattr(spec.kind, "name", str(spec.kind))
        name = getattr(spec.arg, "name", str(spec.arg))
        target = f" -> {spec.target}" if spec.target else ""
        out.append(f"{name}: {kind}{target}{_shape(vals.get(name))}")
    out.append("")
    out.append("# outputs")
    for spec in sig.output_specs:
        kind = getattr(spec.kind, "name", str(spec.kind))
        name = getattr(spec.arg, "name", str(spec.arg))
        out.append(f"{name}: {kind}{_shape(vals.get(name))}")
    out.append("")
    out.append("# PARAMETER/BUFFER inputs are the module's weights, lifted out of the program; USER_INPUT are yours.")
    return "\n".join(out) + "\n"


def _shape(val: Any) -> str:
    if isinstance(val, torch.Tensor):
        dims = ", ".join(str(d) for d in val.shape)
        return f"  {str(val.dtype).replace('torch.', '')}[{dims}]"
    return f"  {val}" if isinstance(val, (int, float, bool, torch.SymInt)) else ""


def _auto_dims(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    from torch.export import Dim

    def spec(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return {i: Dim.AUTO for i in range(x.dim())} if x.dim() else None
        if isinstance(x, (tuple, list)):
            return type(x)(spec(v) for v in x)
        if isinstance(x, dict):
            return {k: spec(v) for k, v in x.items()}
        return None

    return tuple(spec(x) for x in inputs)


def _is_symbolic(d: Any) -> bool:
    """Whether a size stayed a symbol (a SymInt may also stand for a constant that export specialised)."""
    from torch.fx.experimental.symbolic_shapes import free_symbols

    return isinstance(d, torch.SymInt) and bool(free_symbols(d))


def _dynamic_view(module: torch.nn.Module, job: Job) -> tuple[str, list[Pitfall]]:
    """Export again with ``Dim.AUTO`` everywhere and say which dims stayed symbolic and which were specialised."""
    try:
        with quiet_output():
            ep = torch.export.export(module, job.inputs, dynamic_shapes=_auto_dims(job.inputs))
    except Exception as e:  # noqa: BLE001 - the static export worked; say why the dynamic one did not
        line = _error_line(e, job)
        where = f" (line {line})" if line else ""
        first = job.clean(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
        return (f"# exporting with Dim.AUTO on every dim failed{where}: {first}\n"
                "# the program above is valid for exactly the example shapes\n"), []
    user_inputs = list(ep.graph_signature.user_inputs)
    nodes = {n.name: n for n in ep.graph.nodes}
    lines = ["# torch.export with Dim.AUTO on every dim of every input: which dims stay symbolic", ""]
    specialised: list[str] = []
    for name in user_inputs:
        val = nodes[name].meta.get("val") if name in nodes else None
        if not isinstance(val, torch.Tensor):
            lines.append(f"{name}: {val!r} (not a tensor: its value is baked into the program)")
            continue
        shape = ", ".join(str(d) if _is_symbolic(d) else str(int(d)) for d in val.shape)
        lines.append(f"{name}: {str(val.dtype).replace('torch.', '')}[{shape}]")
        for i, d in enumerate(val.shape):
            if _is_symbolic(d):
                lines.append(f"  dim {i}: symbolic {d} — any size in its range works")
            else:
                d = int(d)
                why = ("sizes 0 and 1 are always specialised: use an example of size >= 2 to keep it dynamic"
                       if d in (0, 1) else
                       "the program needs exactly this size (an op fixes it: a layer's in_features/channels, a "
                       "reshape, a comparison with a constant)")
                lines.append(f"  dim {i}: specialised to {d} — {why}")
                specialised.append(f"{name} dim {i} = {d}")
    lines.append("")
    lines.append("# range constraints (symbol: [min, max]; int_oo is unbounded)")
    for sym, rng in ep.range_constraints.items():
        lines.append(f"{sym}: [{rng.lower}, {rng.upper}]")
    if not ep.range_constraints:
        lines.append("(none: every dim was specialised)")
    problems = []
    if specialised:
        shown = ", ".join(specialised[:6]) + (" …" if len(specialised) > 6 else "")
        problems.append(Pitfall(
            kind="shape-specialization", mode="export", severity="info", line=job.entry_line,
            message=f"torch.export specialised {len(specialised)} dim(s) even when asked for dynamic ones ({shown}): "
                    "the exported program accepts only those sizes there (see the Dynamic view)",
            fix="expected for weights' sizes; for a batch or sequence dim, use an example size >= 2 and "
                "`dynamic_shapes={'x': {0: Dim('batch')}}` so export checks it can stay dynamic",
            evidence="export"))
    return "\n".join(lines) + "\n", problems


def convert(job: Job) -> Outcome:
    """Export ``job.obj`` (non-strict) on ``job.inputs`` and read the graph, signature and dynamic views."""
    start = time.perf_counter()
    module = as_module(job.obj)
    try:
        with quiet_output():
            ep = torch.export.export(module, job.inputs)
    except Exception as e:
        pane, line, pitfall = explain_export_error(e, job)
        return Outcome(failure(pane, line, seconds=time.perf_counter() - start), exception=e, problems=[pitfall])
    seconds = time.perf_counter() - start
    graph = _readable(ep.graph_module)
    signature = _signature_text(ep)
    dynamic, problems = _dynamic_view(module, job)
    views = {"graph": job.clean(graph), "signature": job.clean(signature), "dynamic": job.clean(dynamic)}
    lines: dict[str, list[int | None]] = {
        "graph": fx_source_lines(ep.graph_module, graph, job.user_files),
        "signature": [None] * len(signature.rstrip("\n").split("\n")),
        "dynamic": [None] * len(dynamic.rstrip("\n").split("\n")),
    }
    ops = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    result = ModeResult(ok=True, views=views, source_lines=lines, seconds=round(seconds, 4), extra={"ops": ops})
    return Outcome(result, compiled=ep, problems=problems)


MODE = register(CaptureMode(
    name="export",
    title="torch.export",
    summary="captures the whole program as one graph of ATen ops, for deployment without Python "
            "(AOTInductor, ExecuTorch)",
    views=VIEWS,
    detects=("export-error", "tensor-to-bool", "tensor-to-number", "shape-specialization"),
    convert=convert,
))
