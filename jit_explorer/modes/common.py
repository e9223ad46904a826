"""What every capture mode shares: clean paths, captured warnings, user lines, source-line maps.

Nothing here knows a particular mode. The helpers turn torch's output into what a person
may see: machine paths replaced by short names (:func:`clean_paths`), warnings and
exceptions pinned to the user's own line (:func:`capture_warnings`,
:func:`user_line_of_exception`), and an IR text's lines mapped back to the user's source
(:func:`torchscript_source_lines` for ``# file.py:12:8`` comments, :func:`fx_source_lines`
for FX graphs whose nodes carry stack traces).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import sys
import sysconfig
import threading
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError

__all__ = [
    "CapturedWarning", "capture_warnings", "clean_paths", "user_line_of_exception", "jit_lock", "to_device",
    "source_file", "check_device", "torchscript_source_lines", "fx_source_lines", "innermost_user_frame",
    "quiet_output", "as_module",
]

#: TorchScript's and Dynamo's global state (warning filters, the last executed graph, Dynamo's
#: caches) is shared by the whole process: conversions run one at a time.
jit_lock = threading.RLock()

_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_TORCH_NN_DIR = os.path.join(_TORCH_DIR, "nn") + os.sep
_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
_PROJECT_DIR = str(Path(_PACKAGE_DIR).parent)
_SITE_RE = re.compile(r"(?:/[^\s\"',:()]+)?/(?:site|dist)-packages/")
_STDLIB = sysconfig.get_paths().get("stdlib", "")
#: any other absolute path of this machine (a home folder, a temp dir): its folders are dropped
_OTHER_PATH_RE = re.compile(r"(?<![\w.])/(?:root|home|tmp|var|usr|opt|work|srv|mnt|private)/(?:[^\s\"',:()/]+/)*")


@dataclass(frozen=True)
class CapturedWarning:
    """A warning raised while converting, located in the user's source.

    Attributes:
        category: the warning class name (``TracerWarning``).
        message: the warning text, with temp paths removed.
        line: 1-based line in the user's file, or ``None`` when no user frame was on the stack.
        where: ``file:line`` of the innermost frame outside torch (for display).
        mode: the capture mode (``trace``, ``script``, ``export``, ``compile``).
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


def clean_paths(text: str, *, user_file: str | None = None, label: str = "snippet.py") -> str:
    """Replace temp-file, site-packages, standard-library and other machine paths in ``text`` with short names."""
    if user_file:
        text = text.replace(user_file, label)
        text = text.replace(os.path.dirname(user_file) + os.sep, "")
    text = _SITE_RE.sub("", text)
    text = text.replace(_PROJECT_DIR + os.sep, "")
    if _STDLIB:
        text = text.replace(_STDLIB + os.sep, "")
    return _OTHER_PATH_RE.sub("", text)


def _locate(frame: Any, user_files: Collection[str]) -> tuple[int | None, str, bool]:
    """The innermost user frame (line), the innermost non-torch frame (display), and whether
    the warning came from inside a ``torch.nn`` module called on that line (``internal``)."""
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
        outside = not fname.startswith((_TORCH_DIR, _PACKAGE_DIR, "<")) and "warnings" not in os.path.basename(fname)
        if not where and outside:
            where = f"{clean_paths(fname)}:{f.f_lineno}"
        f = f.f_back
    return user_line, where, internal and user_line is not None


@contextlib.contextmanager
def capture_warnings(user_files: Collection[str], mode: str, *,
                     label: str = "snippet.py") -> Iterator[list[CapturedWarning]]:
    """Record every warning raised inside the block, with the user's line that raised it.

    The hook runs at the moment the warning is issued, so the Python stack still holds the
    user's frame even for warnings raised inside torch (C++ or Python).
    """
    records: list[CapturedWarning] = []
    user_file = next(iter(user_files), None)

    def hook(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        user_line, where, internal = _locate(sys._getframe(1), user_files)
        if not where:
            where = f"{clean_paths(filename)}:{lineno}"
        text = clean_paths(str(message), user_file=user_file, label=label)
        records.append(CapturedWarning(category.__name__, text, user_line,
                                       clean_paths(where, user_file=user_file, label=label), mode, internal))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = hook  # restored by catch_warnings
        yield records


@contextlib.contextmanager
def quiet_output() -> Iterator[io.StringIO]:
    """Swallow what torch prints inside the block (a failed export prints its partial graph: 450 KB for SSDlite)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        yield buf


def user_line_of_exception(exc: BaseException, user_files: Collection[str]) -> int | None:
    """The innermost traceback line of ``exc`` that is in a user file."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in user_files:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def to_device(x: Any, device: str) -> Any:
    """``x`` with every tensor in it (nested tuples/lists) moved to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, (tuple, list)):
        items = [to_device(v, device) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)  # a namedtuple takes fields
    return x


def source_file(obj: Any) -> str | None:
    """The file that defines ``obj`` (a module's class or a function), or ``None``."""
    target = type(obj) if isinstance(obj, torch.nn.Module) else obj
    try:
        return inspect.getsourcefile(target)
    except (TypeError, OSError):
        return None


def check_device(device: str) -> None:
    """Raise :class:`InputError` when ``device`` is not usable here."""
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA is not available on this machine (no GPU or no CUDA driver); use device 'cpu'")


def as_module(obj: Any) -> torch.nn.Module:
    """``obj`` itself when it is an ``nn.Module``, else a module whose ``forward`` calls it."""
    if isinstance(obj, torch.nn.Module):
        return obj

    class Function(torch.nn.Module):
        def forward(self, *args: Any) -> Any:
            return obj(*args)

    return Function()


# --------------------------------------------------------------------------- source lines

_TS_LOC_RE = re.compile(r"# (\S+?):(\d+):\d+\s*$")
_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+)')


def _same_file(path: str, user_files: Collection[str]) -> bool:
    return path in user_files or os.path.abspath(path) in {os.path.abspath(f) for f in user_files}


def torchscript_source_lines(text: str, user_files: Collection[str]) -> list[int | None]:
    """For each line of a TorchScript graph, the user line its ``# file:line:col`` comment names (else ``None``).

    Works on the raw text (before :func:`clean_paths`); the result has one entry per line.
    """
    files = {os.path.abspath(f) for f in user_files}
    out: list[int | None] = []
    for line in text.split("\n"):
        m = _TS_LOC_RE.search(line)
        out.append(int(m.group(2)) if m and os.path.abspath(m.group(1)) in files else None)
    return _trim(out, text)


def _trim(lines: list[int | None], text: str) -> list[int | None]:
    """One entry per line as the views count them (a trailing newline ends the last line)."""
    if text.endswith("\n"):
        lines = lines[:-1]
    return lines


def innermost_user_frame(stack_trace: str | None, user_files: Collection[str]) -> int | None:
    """The line of the innermost frame of ``stack_trace`` (``File "x", line N`` text) in a user file."""
    if not stack_trace:
        return None
    files = {os.path.abspath(f) for f in user_files}
    line = None
    for path, n in _FRAME_RE.findall(stack_trace):
        if os.path.abspath(path) in files:
            line = int(n)
    return line


_FX_ASSIGN_RE = re.compile(r"^\s*(\w+)(?:\s*:\s*\"[^\"]*\")?\s*=\s")
_FX_FILE_RE = re.compile(r"^\s*# File: ")


def fx_source_lines(gm: torch.fx.GraphModule, text: str, user_files: Collection[str]) -> list[int | None]:
    """For each line of an FX graph's code (``gm.code`` or ``print_readable``), the user line of its node.

    A line ``name = torch.ops…`` belongs to node ``name``; its line is the innermost frame of the
    node's ``stack_trace`` in a user file (so a library op is attributed to the user line that
    called into the library). ``# File:`` comments take the line of the statement they head.
    """
    by_name: dict[str, int | None] = {}
    for node in gm.graph.nodes:
        by_name[node.name] = innermost_user_frame(node.meta.get("stack_trace"), user_files)
    lines = text.split("\n")
    out: list[int | None] = []
    for line in lines:
        m = _FX_ASSIGN_RE.match(line)
        out.append(by_name.get(m.group(1)) if m else None)
    # a "# File:" comment takes the line of the statement that follows it
    for i in range(len(lines) - 1, -1, -1):
        if _FX_FILE_RE.match(lines[i]) and i + 1 < len(lines):
            out[i] = out[i + 1]
    return _trim(out, text)
