"""The sandbox's entry points: pre-check a paste, then analyse, benchmark or run a request in a fresh worker."""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import USER_CODE_KINDS, ErrorKind, InputError, SandboxError, SnippetError
from ..report import Analysis, BenchReport
from .limits import Limits, usable_cores
from .pool import WorkerPool, default_pool
from .protocol import AnalyzeRequest, BenchRequest, Request, SaveRequest

if TYPE_CHECKING:
    from ..pasted_save import SavedModule

__all__ = ["precheck", "analyze_source", "benchmark_source", "save_source", "run_request", "MAX_INPUTS_CHARS",
           "PASTE_BENCH_MODES"]

log = logging.getLogger("jit_explorer.sandbox")

MAX_INPUTS_CHARS = 16 * 1024


# =========================================================================== requests

_warned: set[str] = set()


def _note_protections(report: dict[str, Any]) -> None:
    prot = report.get("protections") or {}
    for key in ("seccomp", "landlock"):
        if key in prot and not prot[key] and key not in _warned:
            _warned.add(key)
            log.warning("sandbox: %s is not active in the user process: %s", key, prot.get(f"{key}_error", "?"))


def run_request(request: Request | Mapping[str, Any], *, limits: Limits | None = None,
                pool: WorkerPool | None = None) -> dict[str, Any]:
    """Send one request to a fresh worker and return its report.

    ``request`` is a :mod:`~jit_explorer.sandbox.protocol` request or its JSON object. The report
    (:class:`~jit_explorer.sandbox.protocol.Response`) is ``{"ok": true, "analyses": [...]}`` (or the
    answer of the request's kind) or ``{"ok": false, "error": {"kind", "message"}}`` for failures of
    the sandboxed process (timeout, CPU, memory kill, crash, exit, output flood).

    Raises:
        SandboxError: the sandbox itself failed (could not start, worker died).
    """
    message: Mapping[str, Any] = request if isinstance(request, Mapping) else request.to_json()
    pool = pool or default_pool()
    report = pool.run(message, limits or pool.limits)
    _note_protections(report)
    return report


# --------------------------------------------------------------------------- input validation


def _required_init_args(cls: ast.ClassDef) -> list[str]:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            a = node.args
            positional = a.posonlyargs + a.args
            required = positional[1: len(positional) - len(a.defaults)] if positional else []
            required_kw = [k for k, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is None]
            return [x.arg for x in required + required_kw]
    return []


def precheck(source: str, *, entry: str = "", inputs: str = "", mode: str = "both") -> None:
    """Static checks of a request before any process is used (nothing runs).

    Raises:
        SnippetError: with ``kind`` and ``line`` — empty/binary/too large source, syntax error, no entry,
            unknown entry, a constructor that needs arguments, no inputs, an inputs expression that is
            not valid Python, an unknown mode.
    """
    from ..modes import parse_modes
    from ..snippet import parse_source, select_entries

    if not isinstance(source, str):
        raise SnippetError("the source must be text")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise SnippetError("the source contains characters that are not valid text (lone surrogates): paste "
                           "Python source text") from None
    try:
        parse_modes(mode)
    except InputError as e:
        raise SnippetError(str(e), kind=ErrorKind.MODE) from None
    info = parse_source(source)  # size, NUL, empty, syntax (with line)
    chosen = select_entries(info, entry)
    if not isinstance(inputs, str):
        raise SnippetError("the inputs must be a Python expression (text)", kind=ErrorKind.INPUTS)
    if len(inputs) > MAX_INPUTS_CHARS:
        raise SnippetError(f"the inputs expression is {len(inputs) // 1024} KB; the limit is "
                           f"{MAX_INPUTS_CHARS // 1024} KB: build big inputs in example_inputs() instead",
                           kind=ErrorKind.INPUTS)
    if "\x00" in inputs:
        raise SnippetError("the inputs expression contains NUL bytes: type a Python expression", kind=ErrorKind.INPUTS)
    try:
        inputs.encode("utf-8")
    except UnicodeEncodeError:
        raise SnippetError("the inputs expression contains characters that are not valid text (lone surrogates)",
                           kind=ErrorKind.INPUTS) from None
    if inputs.strip():
        try:
            compile(inputs, "<inputs>", "eval")
        except (RecursionError, MemoryError):
            raise SnippetError("the inputs expression is nested too deeply for Python's parser: build big inputs "
                               "in example_inputs() instead", kind=ErrorKind.INPUTS) from None
        except SyntaxError as e:
            raise SnippetError(f"the inputs expression is not valid Python: {e.msg} — `{inputs.strip()[:80]}`; "
                               "give one expression such as `torch.randn(2, 3)` or `(torch.ones(2), 3)`",
                               kind=ErrorKind.INPUTS) from None
    elif not info.has_example_inputs:
        raise SnippetError("no inputs: give an inputs expression such as `torch.randn(2, 3)` or define "
                           "`def example_inputs(): return (torch.randn(2, 3),)` in the source", kind=ErrorKind.INPUTS)
    tree = ast.parse(source)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for ent in chosen if len(chosen) == 1 else ():  # several entries: the worker skips such a class, the others run
        if ent.kind == "module" and ent.name in classes:
            required = _required_init_args(classes[ent.name])
            if required:
                raise SnippetError(
                    f"class {ent.name} needs constructor arguments ({', '.join(required)}); entries are built "
                    "with no arguments: give them default values or add a wrapper function that builds and calls it",
                    line=ent.line, kind=ErrorKind.CONSTRUCTOR)


# --------------------------------------------------------------------------- public entry point


def analyze_source(
    source: str,
    *,
    entry: str = "",
    inputs: str = "",
    mode: str = "both",
    filename: str = "snippet.py",
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
) -> list[Analysis]:
    """Analyse pasted ``source`` in a sandboxed process.

    Args:
        source: Python source defining functions / ``nn.Module`` subclasses.
        entry: the entry to analyse; empty means every entry.
        inputs: an expression for the inputs; empty means the source's ``example_inputs()``.
        mode: a mode selection: ``both``, ``all``, a mode or a comma list (see :func:`jit_explorer.modes.parse_modes`).
        filename: the name shown for the file (no directories are created from it).
        limits: resource limits; default: the pool's (:meth:`Limits.from_env`).
        pool: the worker pool; default :func:`default_pool`.

    Returns:
        One :class:`Analysis` per entry. Anything that stops the code — a syntax error, no entry, inputs
        that fail, an exception, the time, CPU, memory, output or disk limit, a crash or an exit — is a
        single ``ok=False`` analysis whose ``error`` says what happened.

    Raises:
        SnippetError: empty, binary or too large source (checked before anything runs).
        SandboxError: the sandbox itself could not run (e.g. torch failed to import in the worker).

    Example::

        >>> analyze_source("import torch\\ndef f(x):\\n    return x * 2\\n", inputs="torch.ones(2)")[0].ok
        True
    """
    from ..snippet import validate_source

    validate_source(source)
    label = Path(filename).name or "snippet.py"
    try:
        precheck(source, entry=entry, inputs=inputs, mode=mode)
    except SnippetError as e:
        return [Analysis.failure(label, entry, e.kind, str(e), e.line)]
    from ..modes import parse_modes

    request = AnalyzeRequest(source=source, entry=entry, inputs=inputs, mode=",".join(parse_modes(mode)),
                             filename=label)
    report = run_request(request, limits=limits, pool=pool)
    if not report.get("ok"):
        err = report.get("error") or {}
        return [Analysis.failure(label, entry, err.get("kind", ErrorKind.SANDBOX),
                                 err.get("message", "the sandbox failed"), err.get("line"))]
    return [Analysis.from_dict(d) for d in report.get("analyses", [])]


#: modes a pasted-code benchmark runs by default (compilation inside the sandbox is slow and memory hungry)
PASTE_BENCH_MODES: tuple[str, ...] = ("eager", "trace", "script", "trace+freeze")


def benchmark_source(
    source: str,
    *,
    entry: str = "",
    inputs: str = "",
    modes: list[str] | None = None,
    threads: int = 1,
    budget_s: float = 1.0,
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
) -> BenchReport:
    """Benchmark one entry of pasted ``source`` on the CPU, in a sandboxed process.

    Args:
        source: Python source; ``entry`` names the function / ``nn.Module`` (empty: the first one).
        inputs: inputs expression; empty means ``example_inputs()``.
        modes: benchmark modes (default :data:`PASTE_BENCH_MODES`).
        threads: intra-op threads inside the sandbox.
        budget_s: seconds of timed calls per mode.
        limits: resource limits; the wall-clock limit is raised to fit the benchmark.

    Returns:
        The :class:`~jit_explorer.report.BenchReport`.

    Raises:
        SnippetError: the code could not be loaded or run (with its line when known).
        InputError: bad options (unknown mode).
        SandboxError: the sandboxed process failed (time, memory, crash).
    """
    from ..bench import ALL_MODES
    from ..snippet import validate_source

    validate_source(source)
    cores = usable_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= cores:
        raise InputError(f"threads must be a whole number from 1 to {cores} (the cores this server may use)")
    modes = list(modes or PASTE_BENCH_MODES)
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown:
        raise InputError(f"unknown benchmark mode(s) {', '.join(unknown)}: use {', '.join(ALL_MODES)}")
    precheck(source, entry=entry, inputs=inputs, mode="both")
    pool = pool or default_pool()
    base = limits or pool.limits
    wall = max(base.wall_s, 30.0 + len(modes) * (budget_s * 2 + 10.0))
    lim = replace(base, wall_s=wall, cpu_s=max(base.cpu_s, int(wall * max(threads, 1) * 2)))
    request = BenchRequest(source=source, entry=entry, inputs=inputs, modes=tuple(modes), threads=threads,
                           budget_s=budget_s, filename="snippet.py")
    report = run_request(request, limits=lim, pool=pool)
    if report.get("ok") and "bench" in report:
        return BenchReport.from_dict(report["bench"])
    _raise_failure(report, user_code="the code could not be loaded", sandbox="the sandboxed benchmark failed")


def _raise_failure(report: Mapping[str, Any], *, user_code: str, sandbox: str, conversion: bool = False) -> NoReturn:
    """Raise what a failed answer says: :class:`SnippetError` (with the line) for the user's code or inputs, or a
    failed ``conversion``; else :class:`SandboxError`. ``user_code`` and ``sandbox`` are the words when the answer
    has none."""
    err = report.get("error") or {}
    if not err and report.get("analyses"):
        err = report["analyses"][0].get("error") or {}
    if conversion or err.get("kind") in USER_CODE_KINDS:
        raise SnippetError(err.get("message", user_code), line=err.get("line"), kind=err.get("kind", ErrorKind.RUN))
    raise SandboxError(err.get("message", sandbox))


def save_source(
    source: str,
    *,
    entry: str = "",
    inputs: str = "",
    mode: str = "trace",
    filename: str = "snippet.py",
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
) -> SavedModule:
    """Trace or script one entry of pasted ``source`` in a sandboxed process and ``torch.jit.save`` it.

    Args:
        source: Python source; ``entry`` names the function / ``nn.Module`` (empty: the only or first one).
        inputs: inputs expression; empty means ``example_inputs()``.
        mode: ``trace`` or ``script``.
        filename: the name torch's messages give the file (no directories are created from it).
        limits: resource limits (default: the pool's); the answer may hold the file, so its cap is raised.

    Returns:
        The :class:`~jit_explorer.pasted_save.SavedModule`: the ``.pt`` bytes and the example inputs' shapes.

    Raises:
        SnippetError: the code could not be loaded or run, or the conversion failed (nothing to save;
            torch's reason and the user's line in it).
        InputError: ``mode`` is not ``trace`` or ``script``.
        SandboxError: the sandboxed process failed (time, memory, crash).
    """
    from ..pasted_save import MAX_SAVED_MB, SAVE_MODES, SavedModule
    from ..snippet import validate_source

    if mode not in SAVE_MODES:
        raise InputError(f"only TorchScript modules can be saved as .pt: use mode {' or '.join(SAVE_MODES)}, "
                         f"not {str(mode)[:40]!r}")
    validate_source(source)
    precheck(source, entry=entry, inputs=inputs, mode=mode)
    pool = pool or default_pool()
    base = limits or pool.limits
    lim = replace(base, result_mb=max(base.result_mb, MAX_SAVED_MB * 4 // 3 + 2),
                  file_mb=max(base.file_mb, MAX_SAVED_MB), disk_mb=max(base.disk_mb, 2 * MAX_SAVED_MB + 64))
    request = SaveRequest(source=source, entry=entry, inputs=inputs, mode=mode,
                          filename=Path(filename).name or "snippet.py")
    report = run_request(request, limits=lim, pool=pool)
    if report.get("ok") and isinstance(report.get("saved"), dict):
        try:
            return SavedModule.from_json(report["saved"])
        except ValueError as e:  # the process that answers ran the pasted code: its answer is checked
            raise SandboxError(f"the sandbox's answer could not be read ({e})") from None
    _raise_failure(report, user_code="the code could not be saved", sandbox="the sandboxed save failed",
                   conversion=bool(report.get("conversion_failed")))
