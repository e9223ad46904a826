"""Trace and script one callable, capture its warnings, extract its IR.

``convert()`` runs ``torch.jit.trace`` and/or ``torch.jit.script`` on a function
or an ``nn.Module`` and returns a :class:`Conversion`: for each mode the four
views of the IR (``graph``, ``code``, ``inlined_graph`` and the graph the JIT
really runs after its profiling runs), the warnings raised while tracing, each
pinned to the line of the user's own source that caused it, and TorchScript's
deprecation notice kept apart.

Example::

    >>> import torch
    >>> from jit_explorer.convert import convert
    >>> c = convert(lambda x: x * 2, (torch.ones(2),), mode="trace")
    >>> "aten::mul" in c.trace.graph
    True
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import InputError
from .report import ModeError, ModeResult

__all__ = ["CapturedWarning", "Conversion", "convert", "capture_warnings", "MODES", "PROFILING_RUNS", "jit_lock", "clean_paths", "user_line_of_exception", "check_device"]

MODES = ("trace", "script", "both")
#: how many calls the converted program gets before its optimized graph is read
PROFILING_RUNS = 3

#: TorchScript's global state (warning filters, the last executed graph) is shared
#: by the whole process: conversions run one at a time.
jit_lock = threading.RLock()

_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_TORCH_NN_DIR = os.path.join(_TORCH_DIR, "nn") + os.sep
_THIS_DIR = str(Path(__file__).resolve().parent)
_SITE_RE = re.compile(r"(?:/[^\s\"',:()]+)?/(?:site|dist)-packages/")
_DEPRECATION_RE = re.compile(r"deprecat", re.I)


@dataclass(frozen=True)
class CapturedWarning:
    """A warning raised while converting, located in the user's source.

    Attributes:
        category: the warning class name (``TracerWarning``).
        message: the warning text, with temp paths removed.
        line: 1-based line in the user's file, or ``None`` when no user frame was on the stack.
        where: ``file:line`` of the innermost frame outside torch (for display).
        mode: ``trace`` or ``script``.
        internal: raised inside a ``torch.nn`` module called on ``line`` (its own checks),
            not by what the user wrote on that line.
    """

    category: str
    message: str
    line: int | None
    where: str
    mode: str
    internal: bool = False

    def text(self) -> str:
        """One line for a person: ``where: Category: message``."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.where}: {self.category}: {first}"


@dataclass
class Conversion:
    """Everything :func:`convert` learned. ``traced``/``scripted`` are the compiled objects (or ``None``)."""

    trace: ModeResult | None = None
    script: ModeResult | None = None
    traced: Any = None
    scripted: Any = None
    warnings: list[CapturedWarning] = field(default_factory=list)
    deprecation: str | None = None
    script_exception: BaseException | None = None


def clean_paths(text: str, *, user_file: str | None = None, label: str = "snippet.py") -> str:
    """Replace temp-file and site-packages paths in ``text`` with short names a person can read."""
    if user_file:
        text = text.replace(user_file, label)
        text = text.replace(os.path.dirname(user_file) + os.sep, "")
    text = _SITE_RE.sub("", text)
    return text.replace(str(Path(_THIS_DIR).parent) + os.sep, "")


def _locate(frame: Any, user_files: set[str]) -> tuple[int | None, str, bool]:
    """Find the innermost user frame (line), the innermost non-torch frame (display), and
    whether the warning came from inside a library module called on that line (``internal``).

    ``internal`` is true when a ``torch.nn`` frame sits between the warning and the user's
    frame: the warning is about torch's own code (e.g. ``nn.GRU``'s input checks), not about
    what the user wrote. ``for row in t`` or ``t.item()`` warn from torch frames too, but
    none of those is in ``torch.nn``.
    """
    user_line: int | None = None
    where = ""
    internal = False
    f = frame
    while f is not None:
        fname = f.f_code.co_filename
        if fname in user_files:
            user_line = f.f_lineno
            if not where:
                where = f"{clean_paths(fname)}:{f.f_lineno}"
            break
        if fname.startswith(_TORCH_NN_DIR):
            internal = True
        if not where and not fname.startswith((_TORCH_DIR, _THIS_DIR)) and "warnings" not in os.path.basename(fname) and not fname.startswith("<"):
            where = f"{clean_paths(fname)}:{f.f_lineno}"
        f = f.f_back
    return user_line, where, internal and user_line is not None


@contextlib.contextmanager
def capture_warnings(user_files: set[str], mode: str, *, label: str = "snippet.py") -> Iterator[list[CapturedWarning]]:
    """Record every warning raised inside the block, with the user's line that raised it.

    The hook runs at the moment the warning is issued, so the Python stack still
    holds the user's frame even for warnings raised inside torch (C++ or Python).
    """
    records: list[CapturedWarning] = []
    user_file = next(iter(user_files), None)

    def hook(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        user_line, where, internal = _locate(sys._getframe(1), user_files)
        if not where:
            where = f"{clean_paths(filename)}:{lineno}"
        text = clean_paths(str(message), user_file=user_file, label=label)
        records.append(CapturedWarning(category.__name__, text, user_line, clean_paths(where, user_file=user_file, label=label), mode, internal))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = hook  # restored by catch_warnings
        yield records


def _ir_views(compiled: Any) -> tuple[str, str, str]:
    graph = str(compiled.graph)
    code = compiled.code
    inlined = str(compiled.inlined_graph)
    return graph, code, inlined


def _optimized_graph(compiled: Any, inputs: tuple[Any, ...]) -> str:
    """Call ``compiled`` :data:`PROFILING_RUNS` times and return the graph the executor ran last."""
    with torch.inference_mode():
        for _ in range(PROFILING_RUNS):
            compiled(*inputs)
    graph = torch.jit.last_executed_optimized_graph()
    return str(graph)


_FILE_LINE_RE = re.compile(r'File "([^"]+)", line (\d+)')


def script_error_line(message: str, user_file: str | None) -> int | None:
    """The first ``File "<user_file>", line N`` that TorchScript's message names, else ``None``."""
    if not user_file:
        return None
    for path, line in _FILE_LINE_RE.findall(message):
        if os.path.abspath(path) == os.path.abspath(user_file):
            return int(line)
    return None


def _explain_script_failure(exc: BaseException, user_file: str | None, label: str, obj: Any) -> ModeError:
    raw = str(exc).strip() or type(exc).__name__
    line = script_error_line(raw, user_file)
    msg = clean_paths(raw, user_file=user_file, label=label)
    src_file = _source_file(obj)
    path = user_file or src_file
    if (line is None and path and src_file and os.path.abspath(path) == os.path.abspath(src_file)
            and "-packages" not in path):
        # TorchScript named no line of the user's file (e.g. a call into numpy): find the construct in the source
        try:
            from .pitfall_static import locate_script_failure

            source = Path(path).read_text(encoding="utf-8")
            if isinstance(obj, torch.nn.Module):
                line = locate_script_failure(raw, source, entry=type(obj).__name__,
                                             classes={type(m).__name__ for m in obj.modules()})
            else:
                code = getattr(obj, "__code__", None)
                line = locate_script_failure(raw, source, entry=getattr(obj, "__name__", ""),
                                             entry_line=code.co_firstlineno if code is not None else None)
        except Exception:  # noqa: BLE001 - locating is best effort; the failure itself is still reported
            line = None
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


def _source_file(obj: Any) -> str | None:
    target = type(obj) if isinstance(obj, torch.nn.Module) else obj
    try:
        return inspect.getsourcefile(target)
    except (TypeError, OSError):
        return None


def _run_mode(make: Callable[[], Any], inputs: tuple[Any, ...], clean: Callable[[str], str]) -> tuple[ModeResult, Any]:
    start = time.perf_counter()
    compiled = make()
    graph, code, inlined = _ir_views(compiled)
    optimized = _optimized_graph(compiled, inputs)
    seconds = round(time.perf_counter() - start, 4)
    views = {k: clean(v) for k, v in (("graph", graph), ("code", code), ("inlined_graph", inlined), ("optimized_graph", optimized))}
    return ModeResult(ok=True, seconds=seconds, **views), compiled


def _to_device(x: Any, device: str) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, (tuple, list)):
        return type(x)(_to_device(v, device) for v in x)
    return x


def check_device(device: str) -> None:
    """Raise :class:`InputError` when ``device`` is not usable here."""
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA is not available on this machine (no GPU or no CUDA driver); use device 'cpu'")


def convert(
    obj: Callable[..., Any],
    inputs: tuple[Any, ...],
    *,
    mode: str = "both",
    device: str = "cpu",
    user_file: str | None = None,
    label: str = "snippet.py",
    check_trace: bool = False,
) -> Conversion:
    """Trace and/or script ``obj`` on ``inputs`` and read its IR.

    Args:
        obj: a function or an ``nn.Module`` (put it in eval mode first if that is what you want traced).
        inputs: positional arguments for one call.
        mode: ``trace``, ``script`` or ``both``.
        device: ``cpu`` or ``cuda``; a module and its inputs are moved there.
        user_file: the path of the user's source file; warnings and script errors are
            located in it and the path is replaced by ``label`` in every message.
        label: the name shown instead of ``user_file``.
        check_trace: let ``torch.jit.trace`` re-run and compare the trace (slower).

    Returns:
        A :class:`Conversion`. A failing mode gives ``ok=False`` with its error; it never raises
        for a conversion failure (only for bad options).
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    check_device(device)
    if isinstance(obj, torch.nn.Module):
        obj = obj.to(device)
    inputs = _to_device(tuple(inputs), device)
    files: set[str] = set()
    if user_file:
        files.add(user_file)
    else:
        src = _source_file(obj)
        if src:
            files.add(src)
    result = Conversion()

    def clean(text: str) -> str:
        return clean_paths(text, user_file=user_file, label=label)

    with jit_lock:
        if mode in ("trace", "both"):
            with capture_warnings(files, "trace", label=label) as recs:
                try:
                    result.trace, result.traced = _run_mode(
                        lambda: torch.jit.trace(obj, inputs, check_trace=check_trace), inputs, clean
                    )
                except Exception as e:  # a failed trace is a result, not a crash
                    line = user_line_of_exception(e, files)
                    result.trace = ModeResult(ok=False, error=ModeError(
                        f"torch.jit.trace failed ({type(e).__name__}): {clean(str(e).strip())}",
                        line,
                    ))
            result.warnings.extend(recs)
        if mode in ("script", "both"):
            with capture_warnings(files, "script", label=label) as recs:
                try:
                    result.script, result.scripted = _run_mode(lambda: torch.jit.script(obj), inputs, clean)
                except Exception as e:
                    result.script_exception = e
                    result.script = ModeResult(ok=False, error=_explain_script_failure(e, user_file, label, obj))
            result.warnings.extend(recs)
    kept: list[CapturedWarning] = []
    for w in result.warnings:
        if w.category in ("FutureWarning", "DeprecationWarning") and _DEPRECATION_RE.search(w.message) and (
            "jit" in w.message.lower() or "torchscript" in w.message.lower()
        ):
            result.deprecation = result.deprecation or w.message.strip()
        else:
            kept.append(w)
    result.warnings = kept
    return result


def user_line_of_exception(exc: BaseException, user_files: Collection[str]) -> int | None:
    """The innermost traceback line of ``exc`` that is in a user file."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in user_files:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
