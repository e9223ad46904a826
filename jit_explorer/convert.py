"""Run the requested capture modes on one callable and collect what they found.

``convert()`` iterates the capture-mode registry (:mod:`jit_explorer.modes`): for each requested
mode it runs the mode's ``convert`` with the warnings raised meanwhile captured and pinned to the
user's line, and returns a :class:`Conversion`: each mode's :class:`ModeResult` (views and
source_lines), the compiled objects, the problems the modes found themselves (export failures,
graph breaks), and TorchScript's deprecation notice kept apart from the warnings.

Example::

    >>> import torch
    >>> from jit_explorer.convert import convert
    >>> c = convert(lambda x: x * 2, (torch.ones(2),), mode="trace")
    >>> "aten::mul" in c.trace.graph
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import torch

from .modes import REGISTRY, Job, parse_modes
from .modes.common import (
    CapturedWarning,
    capture_warnings,
    check_device,
    clean_paths,
    jit_lock,
    source_file,
    to_device,
    user_line_of_exception,
)
from .modes.script import script_error_line
from .modes.torchscript import PROFILING_RUNS
from .report import ModeResult, Pitfall

__all__ = [
    "CapturedWarning", "Conversion", "convert", "capture_warnings", "PROFILING_RUNS", "jit_lock",
    "clean_paths", "user_line_of_exception", "check_device", "script_error_line",
]

_DEPRECATION_RE = re.compile(r"deprecat", re.I)


@dataclass
class Conversion:
    """Everything :func:`convert` learned.

    ``results[mode]`` is each requested mode's result, ``compiled[mode]`` its compiled object
    (``None`` when it failed), ``exceptions[mode]`` the exception of a failed mode, ``problems``
    the pitfalls the modes reported themselves. ``conversion.trace`` / ``.traced`` /
    ``.scripted`` / ``.script_exception`` read these (the older names).
    """

    results: dict[str, ModeResult] = field(default_factory=dict)
    compiled: dict[str, Any] = field(default_factory=dict)
    exceptions: dict[str, BaseException] = field(default_factory=dict)
    problems: list[Pitfall] = field(default_factory=list)
    warnings: list[CapturedWarning] = field(default_factory=list)
    deprecation: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in REGISTRY:
            return self.__dict__["results"].get(name)
        if name == "traced":
            return self.__dict__["compiled"].get("trace")
        if name == "scripted":
            return self.__dict__["compiled"].get("script")
        if name == "script_exception":
            return self.__dict__["exceptions"].get("script")
        raise AttributeError(name)


def convert(
    obj: Callable[..., Any],
    inputs: tuple[Any, ...],
    *,
    mode: str | Collection[str] = "both",
    device: str = "cpu",
    user_file: str | None = None,
    label: str = "snippet.py",
    check_trace: bool = False,
    inductor: bool = False,
    entry_line: int | None = None,
) -> Conversion:
    """Run the capture modes of ``mode`` on ``obj`` with ``inputs`` and read their views.

    Args:
        obj: a function or an ``nn.Module`` (put it in eval mode first if that is what you want captured).
        inputs: positional arguments for one call.
        mode: a selection for :func:`jit_explorer.modes.parse_modes` (``both``, ``all``, ``export,compile``…).
        device: ``cpu`` or ``cuda``; inputs are moved there, a module is copied there when it is elsewhere.
        user_file: the path of the user's source file; warnings, errors and IR lines are located in
            it and the path is replaced by ``label`` in every text.
        label: the name shown instead of ``user_file``.
        check_trace: let ``torch.jit.trace`` re-run and compare the trace (slower).
        inductor: also produce the compile mode's ``inductor`` view (slow: Inductor compiles C++).
        entry_line: where the entry is defined (export's info pitfalls point there).

    Returns:
        A :class:`Conversion`. A failing mode gives ``ok=False`` with its error; it never raises
        for a conversion failure (only for bad options).
    """
    chosen = parse_modes(mode)
    check_device(device)
    obj = _on_device(obj, device)
    inputs = to_device(tuple(inputs), device)
    files = {user_file} if user_file else set()
    if not files and (src := source_file(obj)):
        files.add(src)
    job = Job(obj=obj, inputs=inputs, user_files=frozenset(files), user_file=user_file, label=label, device=device,
              entry_line=entry_line, options={"check_trace": check_trace, "inductor": inductor})
    result = Conversion()
    with jit_lock:
        for name in chosen:
            with capture_warnings(files, name, label=label) as recs:
                outcome = REGISTRY[name].convert(job)
            result.results[name] = outcome.result
            if outcome.compiled is not None:
                result.compiled[name] = outcome.compiled
            if outcome.exception is not None:
                result.exceptions[name] = outcome.exception
            result.problems.extend(outcome.problems)
            result.warnings.extend(recs)
    _split_deprecation(result)
    return result


def _on_device(obj: Any, device: str) -> Any:
    """``obj`` on ``device``; a module that lives elsewhere is copied, never moved (it may be shared)."""
    if not isinstance(obj, torch.nn.Module):
        return obj
    current = next((p.device for p in obj.parameters()), None) or next((b.device for b in obj.buffers()), None)
    if current is None or current.type == device:
        return obj
    import copy

    return copy.deepcopy(obj).to(device)


def _split_deprecation(result: Conversion) -> None:
    """Keep TorchScript's deprecation notice apart: it is a fact about torch, not a warning about the code."""
    kept: list[CapturedWarning] = []
    for w in result.warnings:
        if w.category in ("FutureWarning", "DeprecationWarning") and _DEPRECATION_RE.search(w.message) and (
            "jit" in w.message.lower() or "torchscript" in w.message.lower()
        ):
            result.deprecation = result.deprecation or w.message.strip()
        else:
            kept.append(w)
    result.warnings = kept
