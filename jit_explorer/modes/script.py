"""``torch.jit.script``: compile the entry's Python source into TorchScript (control flow survives).

Only a subset of Python compiles; a failure is reported with TorchScript's own message (paths
cleaned) and the user's line, found in the message or, when TorchScript names none, in the source.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import torch

from ..report import ModeError
from . import CaptureMode, Job, Outcome, failure, register
from .common import clean_paths, source_file
from .torchscript import LEGACY, VIEWS, run_torchscript

__all__ = ["MODE", "script_error_line"]

_FILE_LINE_RE = re.compile(r'File "([^"]+)", line (\d+)')


def script_error_line(message: str, user_file: str | None) -> int | None:
    """The first ``File "<user_file>", line N`` that TorchScript's message names, else ``None``."""
    if not user_file:
        return None
    for path, line in _FILE_LINE_RE.findall(message):
        if os.path.abspath(path) == os.path.abspath(user_file):
            return int(line)
    return None


def _locate_in_source(raw: str, path: str, obj: Any) -> int | None:
    """TorchScript named no line of the user's file (e.g. a call into numpy): find the construct in the source."""
    from ..pitfalls.script_failure import locate_script_failure

    try:
        source = Path(path).read_text(encoding="utf-8")
        if isinstance(obj, torch.nn.Module):
            return locate_script_failure(raw, source, entry=type(obj).__name__,
                                         classes={type(m).__name__ for m in obj.modules()})
        code = getattr(obj, "__code__", None)
        return locate_script_failure(raw, source, entry=getattr(obj, "__name__", ""),
                                     entry_line=code.co_firstlineno if code is not None else None)
    except Exception:  # noqa: BLE001 - locating is best effort; the failure itself is still reported
        return None


def explain_failure(exc: BaseException, user_file: str | None, label: str, obj: Any) -> ModeError:
    """A :class:`ModeError` for a failed ``torch.jit.script``: TorchScript's message and the user's line."""
    raw = str(exc).strip() or type(exc).__name__
    line = script_error_line(raw, user_file)
    msg = clean_paths(raw, user_file=user_file, label=label)
    src_file = source_file(obj)
    path = user_file or src_file
    own_file = bool(path and src_file and "-packages" not in path
                    and os.path.abspath(path) == os.path.abspath(src_file))
    # a failure while the scripted code *ran* names the line where it crashed; the construct that caused it
    # (an untyped `=None` parameter…) is found in the source first, the crash line is the fallback
    if own_file and (line is None or "failed in the TorchScript interpreter" in raw):
        line = _locate_in_source(raw, path or "", obj) or line
    if line is None and src_file and "transformers" in src_file:
        msg = (
            "torch.jit.script cannot compile this Hugging Face transformers model: transformers code uses "
            "Python features TorchScript does not support (**kwargs, dataclass outputs, dynamic attribute "
            "access, non-tensor config objects). Use torch.jit.trace with return_dict=False instead, or "
            "torch.export / torch.compile.\n\nTorchScript said: " + msg
        )
    else:
        msg = f"torch.jit.script failed ({type(exc).__name__}): {msg}"
    return ModeError(message=msg, line=line)


def convert(job: Job) -> Outcome:
    """Script ``job.obj``, run it to read the optimized graph, and read its views."""
    start = time.perf_counter()
    try:
        result, scripted = run_torchscript(lambda: torch.jit.script(job.obj), job.inputs, user_files=job.user_files,
                                           clean=job.clean)
    except Exception as e:
        err = explain_failure(e, job.user_file, job.label, job.obj)
        return Outcome(failure(err.message, err.line, seconds=time.perf_counter() - start, legacy=LEGACY), exception=e)
    return Outcome(result, compiled=scripted)


MODE = register(CaptureMode(
    name="script",
    title="torch.jit.script",
    summary="compiles the Python source into TorchScript: control flow survives, but only a subset of Python is "
            "accepted",
    views=VIEWS,
    detects=("script-error",),
    convert=convert,
    torchscript=True,
))
