"""Words for the learner: fixes that fit the construct found, the counter-example's outputs, and what a
divergence check that found nothing means.

The pitfall checks give one fix per kind; a kind covers several constructs (``nondeterministic`` is both
``random.random()`` and dropout left in training mode; ``shape-specialization`` is both a loop over
``x.size(0)`` and a reshape with a frozen size). :func:`specific_fixes` rewrites a pitfall's fix from the
text of its line, so a ``random.random()`` is not told about ``.eval()``.

Example::

    >>> fix = specific_fix("nondeterministic", "    if random.random() < 0.5:", "use torch's RNG ...; call .eval()")
    >>> print(fix.replace(") or", ")\\nor"))
    draw the number with torch's RNG (`torch.rand(())`: the trace records an op and it stays random)
    or pass it in as an input
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

__all__ = ["specific_fix", "specific_fixes", "counter_example", "matches_note", "torch_cause", "script_said",
           "no_line_wording", "without_paths", "stable_names"]

_PY_RANDOM = re.compile(r"\b(random\.\w+|np\.random\.\w+|numpy\.random\.\w+)\s*\(")
_TRAINING = re.compile(r"\b(dropout|Dropout|batch_norm|BatchNorm\w*|self\.training)\b")
_LOOP = re.compile(r"^\s*(for|while)\b")
_DIM_CHECK = re.compile(r"\.(dim|ndim)\b|\blen\(\s*\w+\.shape\s*\)")
_SCRIPT = "; torch.jit.script keeps it as written"


def specific_fix(kind: str, line_text: str, fix: str) -> str:
    """The fix for a ``kind`` pitfall found on a line reading ``line_text``; ``fix`` when no construct is recognised."""
    text = line_text.split("#", 1)[0]
    if kind == "nondeterministic":
        if _PY_RANDOM.search(text):
            return ("draw the number with torch's RNG (`torch.rand(())`: the trace records an op and it stays random) "
                    "or pass it in as an input")
        if _TRAINING.search(text):
            return "call `.eval()` before tracing so dropout and batch-norm run in inference mode"
    if kind in ("shape-specialization", "tensor-iteration") and _LOOP.match(text):
        return ("the trace unrolls this loop once per step of the example (its length is frozen): replace it with one "
                "tensor op over that dimension (`x.sum(0)`, `torch.cumsum`, batched matmul), or torch.jit.script this "
                "function so the loop stays a loop")
    if kind == "shape-specialization" and _DIM_CHECK.search(text):
        return ("the trace keeps only the branch for the example's number of dimensions: trace once per rank you need, "
                "or make the code rank-independent (`x.reshape(-1, x.shape[-1])`, `x.flatten(1)`)" + _SCRIPT)
    return fix


def specific_fixes(pitfalls: Iterable[Any], source: str | None) -> tuple[Any, ...]:
    """``pitfalls`` (frozen dataclasses with ``kind``, ``line``, ``fix``) with fixes fitted to their line's
    construct."""
    lines = (source or "").splitlines()
    out = []
    for p in pitfalls:
        if p.line and 0 < p.line <= len(lines):
            fix = specific_fix(p.kind, lines[p.line - 1], p.fix)
            at = p.fix.find(". torch.jit.script compiles")  # the hint that scripting works stays
            if fix != p.fix and at >= 0:
                fix += p.fix[at:]
            p = replace(p, fix=fix) if fix != p.fix else p
        out.append(p)
    return tuple(out)


def _values(v: Any, limit: int = 4) -> str:
    import torch

    if isinstance(v, torch.Tensor):
        flat = v.detach().reshape(-1)[:limit].cpu().tolist()
        shown = ", ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in flat)
        more = ", …" if v.numel() > limit else ""
        return f"[{shown}{more}]" if v.dim() else shown
    if isinstance(v, (tuple, list)) and v:
        return _values(v[0], limit)
    return repr(v)[:60]


def counter_example(inputs: tuple[Any, ...], eager: Any, traced: Any) -> str:
    """``On inputs of shape (6, 8): eager gives [0.41, …], the trace [1.53, …].`` (first values of the first output)."""
    import torch

    shapes = ", ".join("(" + ", ".join(str(s) for s in a.shape) + ")" for a in inputs if isinstance(a, torch.Tensor))
    where = f"On the input of shape {shapes}" if shapes else "On that input"
    return f"{where}: eager gives {_values(eager)}, the trace {_values(traced)}."


def matches_note(checked: int) -> str:
    """What a divergence check that found nothing says."""
    return (f"Checked on {checked} other input{'s' * (checked != 1)} (signs, scales, sizes, dtype): "
            "the trace matches eager on every one.")


_INTERPRETER = "The following operation failed in the TorchScript interpreter"
_CAUSE = re.compile(r"^\s*(?:builtins\.)?(\w+(?:Error|Exception)): (.+)$")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.+@-]+)+[\\/]([\w.+-]+\.py)")


def without_paths(text: str) -> str:
    """``text`` with file paths cut to their file name (``/usr/lib/…/torch/nn/functional.py`` -> ``functional.py``)."""
    return _PATH.sub(r"\1", text)


def torch_cause(exc: BaseException) -> str:
    """``Type: message`` for an exception, with the real cause when TorchScript's interpreter wrapped it.

    The interpreter's first line ("The following operation failed in the TorchScript interpreter.") says
    nothing; the cause ("RuntimeError: Expected 10 elements in a list but found 18") is its last line.
    """
    text = str(exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and _INTERPRETER in lines[0]:
        for ln in reversed(lines):
            m = _CAUSE.match(ln)
            if m:
                return without_paths(f"{m.group(1)}: {m.group(2).strip()}")
    return without_paths(f"{type(exc).__name__}: {lines[0].strip() if lines else ''}")


def script_said(raw: str) -> str:
    """What torch.jit.script itself said, from a mode error message (past any canned explanation before it)."""
    text = raw.split("TorchScript said:", 1)[1] if "TorchScript said:" in raw else raw
    text = re.sub(r"^\s*torch\.jit\.script failed \(\w+\):\s*", "", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("File ", "~", "^"))]
    return without_paths(lines[0]) if lines else ""


def no_line_wording(what: str, line: int | None) -> str:
    """``what`` without "this line" when no line is known (no "no line" beside "cannot compile this line")."""
    return what if line else what.replace("this line", "this code")


_MANGLE = re.compile(r"___torch_mangle_(\d+)")


def stable_names(text: str) -> str:
    """TorchScript's ``___torch_mangle_N`` renumbered by first appearance in ``text`` (0, 1, …).

    The JIT's counter grows over the server's life (``_58`` becomes ``_2169``); shown numbers stay put.
    Downloads (``torch.jit.save``) keep the real names.

    >>> stable_names("a.___torch_mangle_58.M b.___torch_mangle_2169.N a.___torch_mangle_58.M")
    'a.___torch_mangle_0.M b.___torch_mangle_1.N a.___torch_mangle_0.M'
    """
    seen: dict[str, int] = {}
    return _MANGLE.sub(lambda m: f"___torch_mangle_{seen.setdefault(m.group(1), len(seen))}", text)
