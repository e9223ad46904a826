"""Orchestration: convert one entry, run the pitfall checks, build the :class:`Analysis` record.

* :func:`analyze_model` — a zoo model, in this process (trusted code).
* :func:`analyze_callable` — any callable already loaded (used by the two above and by the worker).
* :func:`analyze_source_here` — pasted source; executes it, so it is called **only** inside a
  sandbox worker (see :mod:`jit_explorer.sandbox`, the only door for pasted code).

Example::

    >>> from jit_explorer.analysis import analyze_model
    >>> report = analyze_model("sign_branch", mode="both")
    >>> report.trace.ok and report.script.ok
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from . import pitfalls, snippet, zoo
from .convert import CapturedWarning, clean_paths, convert, user_line_of_exception
from .errors import ErrorKind, JitExplorerError, SnippetError
from .fix_words import matches_note, specific_fixes
from .report import Analysis

__all__ = [
    "analyze_model", "analyze_callable", "analyze_source_here", "analyze_source_outcomes", "benchmark_source_here",
    "warning_lines", "failed", "module_for_function", "MAX_FUNCTION_INPUTS",
]


def warning_lines(warnings: Iterable[CapturedWarning]) -> list[str]:
    """Deduplicated human lines for the ``warnings`` field (``where: Category: text (xN)``)."""
    counts: dict[str, int] = {}
    for w in warnings:
        t = w.text()
        counts[t] = counts.get(t, 0) + 1
    return [t if n == 1 else f"{t} (x{n})" for t, n in counts.items()]


def failed(file: str, entry: str, kind: str, message: str, line: int | None = None) -> Analysis:
    """An :class:`Analysis` with ``ok=False``: the code could not be loaded or run at all (:meth:`Analysis.failure`)."""
    return Analysis.failure(file, entry, kind, message, line)


def analyze_callable(
    obj: Any,
    inputs: tuple[Any, ...],
    *,
    file: str,
    entry: str,
    mode: str = "both",
    device: str = "cpu",
    user_file: str | None = None,
    source: str | None = None,
    entry_line: int | None = None,
    check_trace: bool = False,
    dynamic: bool = True,
    inductor: bool = False,
) -> Analysis:
    """Convert ``obj`` and check it for pitfalls.

    Args:
        obj: function or ``nn.Module`` (eval mode).
        inputs: positional example inputs.
        file: the file name shown to people (``snippet.py``, ``examples/bad.py``).
        entry: the entry's name.
        mode: a mode selection (``both``, ``all``, ``export,compile``…; see :func:`jit_explorer.modes.parse_modes`).
        device: ``cpu`` or ``cuda``.
        user_file: real path of the source file, replaced by ``file`` in every message.
        source: the source text, for static checks.
        entry_line: where the entry is defined.
        check_trace: let the tracer re-run and compare (catches nondeterminism).
        dynamic: also run the dynamic checks (:data:`pitfalls.DYNAMIC_CHECKS`: eager vs trace on
            other inputs); static checks and the tracer's warnings always run.
        inductor: also produce the compile mode's Inductor view (slow).

    Returns:
        An :class:`Analysis` (``ok=True`` even when trace or script failed: those are results).
    """
    label = Path(file).name
    conv = convert(obj, inputs, mode=mode, device=device, user_file=user_file, label=label, check_trace=check_trace,
                   inductor=inductor, entry_line=entry_line)
    ctx = pitfalls.Context(
        obj=obj, inputs=inputs, source=source, user_file=user_file, conversion=conv,
        entry=entry, entry_line=entry_line, extra={"mode": mode, "device": device},
    )
    checks = None if dynamic else [k for k in pitfalls.REGISTRY if k not in pitfalls.DYNAMIC_CHECKS]
    chosen = set(conv.results)
    found = [p for p in pitfalls.detect(ctx, checks=checks) if p.mode in chosen]
    checked = int(ctx.cache.get("inputs_checked", 0))
    clean = checked and not any(p.mode == "trace" and "divergence" in p.evidence for p in found)
    return Analysis(
        file=file, entry=entry, ok=True, torch_version=torch.__version__,
        modes=dict(conv.results), pitfalls=specific_fixes(found, source),
        warnings=tuple(warning_lines(conv.warnings)), deprecation=conv.deprecation,
        notes=(matches_note(checked),) if clean else (),
    )


def analyze_model(name: str, *, mode: str = "both", device: str = "cpu", inductor: bool = False) -> Analysis:
    """Conversion report of a zoo model: :func:`analyze_callable` plus ``model`` and ``weights``.

    Example::

        >>> analyze_model("resnet18").weights in ("pretrained", "random")
        True
    """
    from . import ir_cache  # zoo conversions never change per (model, mode, device, torch): cached

    cache_key = ir_cache.key_for(name, mode=mode, device=device, inductor=inductor)
    cached = ir_cache.lookup(cache_key)
    if cached is not None:
        return cached
    loaded = zoo.load(name)
    module = loaded.module
    src: str | None = None
    entry_line: int | None = None
    try:
        src_file = inspect.getsourcefile(type(module))
        src = Path(src_file).read_text() if src_file else None
        entry_line = inspect.getsourcelines(type(module))[1]
    except (OSError, TypeError):
        src_file = None
    file = clean_paths(src_file) if src_file else name
    notes = []
    if loaded.weights == "random":
        notes.append(
            "Random weights: pretrained weights were not available offline. The IR and the latency are the same "
            "as with pretrained weights; the outputs are not meaningful."
        )
    # The library models of the catalogue have no data-dependent Python control flow; re-running
    # them on other inputs would only add seconds. The teaching models get the full dynamic evidence.
    dynamic = loaded.spec.family == "teaching"
    if not dynamic:
        notes.append(
            "Pitfalls of catalogue models come from TorchScript's warnings and static checks; the dynamic "
            "eager-vs-trace comparison on other inputs runs for pasted code and the teaching models."
        )
    report = analyze_callable(module, loaded.inputs(), file=file, entry=type(module).__name__, mode=mode,
                              device=device, user_file=src_file, source=src, dynamic=dynamic, inductor=inductor,
                              entry_line=entry_line)
    return ir_cache.store(cache_key,
                          report.with_changes(model=name, weights=loaded.weights, notes=(*notes, *report.notes)))


def analyze_source_here(
    source: str,
    *,
    workdir: Path,
    entry: str = "",
    inputs: str = "",
    mode: str = "both",
    filename: str = "snippet.py",
) -> list[Analysis]:
    """Load pasted ``source`` in this process and analyse its entries.

    Executes the source: call it only inside a sandbox worker. Errors that stop
    everything (syntax, no entry, failing inputs) give one ``ok=False`` analysis.
    """
    return [a for a, _ in analyze_source_outcomes(source, workdir=workdir, entry=entry, inputs=inputs, mode=mode,
                                                  filename=filename)]


def analyze_source_outcomes(
    source: str,
    *,
    workdir: Path,
    entry: str = "",
    inputs: str = "",
    mode: str = "both",
    filename: str = "snippet.py",
) -> list[tuple[Analysis, BaseException | None]]:
    """:func:`analyze_source_here`, each analysis with the exception of the user's code that failed it
    (``None`` when none did): the worker explains it (a limit hit, the user's frames)."""
    label = filename
    try:
        info = snippet.parse_source(source)
        entries = snippet.select_entries(info, entry)
    except SnippetError as e:
        return [(failed(label, entry, e.kind, str(e), e.line), None)]
    try:
        module, path = snippet.load_module(source, workdir, filename=Path(filename).name)
    except SnippetError as e:
        return [(failed(label, entry, e.kind, str(e), e.line), None)]
    except Exception as e:
        line = _line_in(e, workdir / Path(filename).name)
        msg = clean_paths(f"{type(e).__name__}: {e}", user_file=str(workdir / Path(filename).name), label=label)
        return [(failed(label, entry, ErrorKind.IMPORT, f"running the source failed: {msg}", line), e)]
    results: list[tuple[Analysis, BaseException | None]] = []
    for ent in entries:
        try:
            obj = snippet.build_entry(module, ent)
            args = snippet.eval_inputs(inputs, module)
        except SnippetError as e:
            results.append((failed(label, ent.name, e.kind, str(e), e.line), None))
            continue
        except Exception as e:
            line = _line_in(e, path)
            results.append((failed(label, ent.name, ErrorKind.BUILD,
                                   f"building {ent.name} failed: {type(e).__name__}: {e}", line), e))
            continue
        try:
            with torch.no_grad():
                obj(*args)
        except Exception as e:
            line = _line_in(e, path)
            msg = clean_paths(f"{type(e).__name__}: {e}", user_file=str(path), label=label)
            results.append((failed(label, ent.name, ErrorKind.RUN,
                                   f"{ent.name} fails in eager mode on the given inputs: {msg}", line), e))
            continue
        results.append((analyze_callable(obj, args, file=label, entry=ent.name, mode=mode, user_file=str(path),
                                         source=source, entry_line=ent.line, check_trace=False), None))
    return results


def _line_in(exc: BaseException, path: Path) -> int | None:
    return user_line_of_exception(exc, {str(path)})


def benchmark_source_here(
    source: str,
    *,
    workdir: Path,
    entry: str,
    inputs: str = "",
    modes: list[str] | None = None,
    threads: int = 1,
    budget_s: float = 1.0,
    filename: str = "snippet.py",
) -> dict[str, Any]:
    """Benchmark one entry of pasted ``source`` on the CPU; returns ``{"ok": true, "bench": {...}}``.

    Executes the source: call it only inside a sandbox worker. A problem with the code comes back
    as ``{"ok": false, "error": {"kind", "message", "line"}}``.
    """
    from . import bench

    try:
        info = snippet.parse_source(source)
        (ent,) = snippet.select_entries(info, entry) if entry else snippet.select_entries(info, "")[:1]
        module, path = snippet.load_module(source, workdir, filename=Path(filename).name)
        obj = snippet.build_entry(module, ent)
        args = snippet.eval_inputs(inputs, module)
    except SnippetError as e:
        return {"ok": False, "error": {"kind": e.kind, "message": str(e), "line": e.line}}
    if not isinstance(obj, torch.nn.Module):
        if not 1 <= len(args) <= MAX_FUNCTION_INPUTS:
            return {"ok": False, "error": {"kind": ErrorKind.INPUTS, "line": ent.line, "message": (
                f"{ent.name} takes {len(args)} inputs; a pasted function is benchmarked with 1 to "
                f"{MAX_FUNCTION_INPUTS} tensor inputs: wrap it in an nn.Module for more")}}
        obj = module_for_function(obj, len(args))
    try:
        report = bench.benchmark_module(obj, args, name=ent.name, device="cpu", modes=modes, threads=threads,
                                        budget_s=budget_s)
    except JitExplorerError as e:
        return {"ok": False, "error": {"kind": ErrorKind.RUN, "message": str(e), "line": None}}
    return {"ok": True, "bench": report.to_dict()}


MAX_FUNCTION_INPUTS = 4
"""The most tensor inputs :func:`module_for_function` wraps."""


def module_for_function(fn: Any, arity: int) -> torch.nn.Module:
    """Wrap a function of 1 to :data:`MAX_FUNCTION_INPUTS` tensors in an ``nn.Module`` (fixed arity, so that
    TorchScript can compile it too): the benchmark's modes (freeze, compile, ONNX) and ``torch::jit::load`` want
    a module."""
    if arity == 1:
        class Entry1(torch.nn.Module):
            def forward(self, a: torch.Tensor) -> Any:
                return fn(a)
        return Entry1().eval()
    if arity == 2:
        class Entry2(torch.nn.Module):
            def forward(self, a: torch.Tensor, b: torch.Tensor) -> Any:
                return fn(a, b)
        return Entry2().eval()
    if arity == 3:
        class Entry3(torch.nn.Module):
            def forward(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> Any:
                return fn(a, b, c)
        return Entry3().eval()

    class Entry4(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> Any:
            return fn(a, b, c, d)
    return Entry4().eval()
