"""Small helpers shared by the benchmark modules: short errors, outputs, quiet conversions, threads."""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch

__all__ = ["short_error", "flatten", "snapshot", "max_abs_diff", "absmax", "sync", "quiet", "torch_threads", "sig"]

_ERROR_MAX_CHARS = 240


def short_error(e: BaseException) -> str:
    """One line: the exception type and the first meaningful line of its message (at most 240 chars)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    msg = ""
    for i, ln in enumerate(lines):
        if ln.lower().startswith(("traceback", "file \"")):
            continue
        msg = ln
        if ln.endswith(":") and i + 1 < len(lines):
            msg = f"{ln} {lines[i + 1]}"
        break
    msg = re.sub(r" at 0x[0-9a-fA-F]+", "", msg)  # object addresses change every run
    text = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
    return text if len(text) <= _ERROR_MAX_CHARS else text[: _ERROR_MAX_CHARS - 3] + "..."


def flatten(out: Any) -> list[torch.Tensor]:
    """Every tensor in a (nested) output, in order; numpy arrays become tensors."""
    if isinstance(out, torch.Tensor):
        return [out]
    if hasattr(out, "to_tuple") and callable(out.to_tuple):  # transformers' ModelOutput
        return flatten(out.to_tuple())
    if isinstance(out, Mapping):
        return [t for v in out.values() for t in flatten(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in flatten(v)]
    if type(out).__module__ == "numpy" and hasattr(out, "shape"):
        return [torch.from_numpy(out)]
    return []


def snapshot(out: Any) -> list[torch.Tensor]:
    """Detached CPU copies of the output's tensors (CUDA graph outputs get overwritten)."""
    return [t.detach().to("cpu", copy=True) for t in flatten(out)]


def max_abs_diff(ref: list[torch.Tensor], got: list[torch.Tensor]) -> float:
    """Largest absolute difference between two flattened outputs (inf when they do not match)."""
    if len(ref) != len(got):
        return math.inf
    worst = 0.0
    for a, b in zip(ref, got, strict=True):
        if tuple(a.shape) != tuple(b.shape):
            return math.inf
        if a.numel() == 0:
            continue
        d = (a.double() - b.double()).abs().max().item()
        if math.isnan(d):
            return math.inf
        worst = max(worst, d)
    return worst


def absmax(ref: list[torch.Tensor]) -> float:
    """The largest absolute value in a flattened output (0 when empty)."""
    vals = [t.double().abs().max().item() for t in ref if t.numel()]
    return max(vals, default=0.0)


def sync(device: str) -> None:
    """``torch.cuda.synchronize`` on a CUDA device; nothing on the CPU."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the deprecation/tracer warnings of conversions (they are not the user's pitfalls here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Set torch's intra-op threads for the block and restore them afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (JSON stays readable, small values survive)."""
    return float(f"{x:.{digits}g}")
