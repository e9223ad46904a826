"""The capture modes a benchmark can run: one builder per mode, declared once in :data:`BUILDERS`.

A builder takes the benchmark's context (module, inputs, device, threads, a temp
dir) and returns a no-argument callable that runs one inference call. Whatever a
builder does (tracing, freezing, exporting, compiling, packaging) is paid in the
mode's ``first_call_ms``, together with the first call.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..jit_scope import private_compilation_unit
from .util import quiet, short_error

__all__ = ["CPU_MODES", "CUDA_MODES", "ALL_MODES", "BUILDERS", "default_modes", "NotApplicable", "Ctx"]

CPU_MODES: tuple[str, ...] = ("eager", "trace", "script", "trace+freeze", "export", "aot-inductor", "compile",
                              "compile+freeze", "onnxruntime")
CUDA_MODES: tuple[str, ...] = ("eager", "trace", "script", "trace+freeze", "export", "aot-inductor", "compile",
                               "compile+cudagraphs", "onnxruntime")
ALL_MODES: tuple[str, ...] = tuple(dict.fromkeys(CPU_MODES + CUDA_MODES))


def default_modes(device: str) -> tuple[str, ...]:
    """Every mode that applies to ``device``.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        :data:`CPU_MODES` or :data:`CUDA_MODES`.

    Example::

        >>> default_modes("cpu")[-1]
        'onnxruntime'
    """
    return CUDA_MODES if str(device).startswith("cuda") else CPU_MODES


class NotApplicable(Exception):
    """A mode that does not apply to this device/model (reported as a failed row)."""


@dataclass
class Ctx:
    """What a builder gets: the module and inputs (already on ``device``), threads, a temp dir; notes it adds."""

    module: nn.Module
    inputs: tuple[Any, ...]
    device: str
    threads: int
    tmpdir: str
    notes: list[str] = field(default_factory=list)


def _call(fn: Callable[..., Any], inputs: tuple[Any, ...]) -> Callable[[], Any]:
    return lambda: fn(*inputs)


def _build_eager(c: Ctx) -> Callable[[], Any]:
    return _call(c.module, c.inputs)


def _trace(c: Ctx) -> torch.jit.ScriptModule:
    with torch.no_grad(), quiet(), private_compilation_unit():  # its types leave with the module (no leak)
        return torch.jit.trace(c.module, c.inputs, strict=False, check_trace=False)


def _build_trace(c: Ctx) -> Callable[[], Any]:
    return _call(_trace(c), c.inputs)


def _build_script(c: Ctx) -> Callable[[], Any]:
    with torch.no_grad(), quiet():  # script reuses its types: no private unit (a second one fails on SSDlite)
        scripted = torch.jit.script(c.module)
    return _call(scripted, c.inputs)


def _build_trace_freeze(c: Ctx) -> Callable[[], Any]:
    traced = _trace(c)
    with torch.no_grad(), quiet(), private_compilation_unit():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    return _call(frozen, c.inputs)


def _build_compile(c: Ctx) -> Callable[[], Any]:
    return _call(torch.compile(c.module), c.inputs)


def _build_compile_freeze(c: Ctx) -> Callable[[], Any]:
    return _call(torch.compile(c.module, options={"freezing": True}), c.inputs)


def _build_compile_cudagraphs(c: Ctx) -> Callable[[], Any]:
    if not c.device.startswith("cuda"):
        raise NotApplicable("needs CUDA (CUDA graphs); on CPU use compile+freeze")
    return _call(torch.compile(c.module, mode="reduce-overhead"), c.inputs)


def _onnx_export(c: Ctx, path: str) -> str:
    """Export with the dynamo exporter, falling back to the legacy one; returns which worked."""
    errors = []
    for dynamo in (True, False):
        try:
            with torch.no_grad(), quiet(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                torch.onnx.export(c.module, c.inputs, path, dynamo=dynamo, verbose=False)
            return "dynamo" if dynamo else "legacy"
        except Exception as e:
            errors.append(f"{'dynamo' if dynamo else 'legacy'} exporter: {short_error(e)}")
    raise RuntimeError("torch.onnx.export failed; " + "; ".join(errors))


def _onnx_feeds(c: Ctx, names: list[str]) -> dict[str, Any]:
    tensors = [x for x in c.inputs if isinstance(x, torch.Tensor)]
    if len(tensors) != len(c.inputs):
        raise NotApplicable("onnxruntime takes tensor inputs only")
    arrays = [t.detach().cpu().numpy() for t in tensors]
    if len(names) == len(arrays):
        return dict(zip(names, arrays, strict=True))
    try:  # the dynamo exporter names inputs after forward's parameters and drops unused ones
        params = list(inspect.signature(c.module.forward).parameters)
        by_name = dict(zip(params, arrays, strict=False))  # unused parameters have no input
        return {n: by_name[n] for n in names}
    except (KeyError, TypeError, ValueError) as e:
        raise RuntimeError(f"cannot match the ONNX graph's inputs {names} to the model's inputs") from e


def _build_onnxruntime(c: Ctx) -> Callable[[], Any]:
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise NotApplicable("onnxruntime is not installed (pip install onnxruntime)") from e
    if c.device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise NotApplicable("this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
        providers: list[Any] = [("CUDAExecutionProvider", {"device_id": torch.device(c.device).index or 0})]
    else:
        providers = ["CPUExecutionProvider"]
    path = os.path.join(c.tmpdir, "model.onnx")
    exporter = _onnx_export(c, path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = c.threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, sess_options=so, providers=providers)
    feeds = _onnx_feeds(c, [i.name for i in sess.get_inputs()])
    c.notes.append(
        f"onnxruntime {ort.__version__}: exported with the {exporter} exporter, "
        f"intra_op_num_threads={c.threads}"
        + ("; inputs/outputs cross host<->device memory in every call" if c.device.startswith("cuda") else "")
    )

    def run() -> Any:
        return tuple(sess.run(None, feeds))

    return run


def _export(c: Ctx) -> torch.export.ExportedProgram:
    """``torch.export.export`` of the module with the benchmark's inputs (no grad, warnings silenced)."""
    if not isinstance(c.module, nn.Module):
        raise NotApplicable("torch.export needs an nn.Module")
    with torch.no_grad(), quiet():
        return torch.export.export(c.module, tuple(c.inputs))


def _build_export(c: Ctx) -> Callable[[], Any]:
    t0 = time.perf_counter()
    ep = _export(c)
    c.notes.append(f"export: torch.export.export took {time.perf_counter() - t0:.2f} s; "
                   "the ExportedProgram's module() runs in Python (the graph of ATen ops, no compilation)")
    return _call(ep.module(), c.inputs)


def _build_aot_inductor(c: Ctx) -> Callable[[], Any]:
    from torch import _inductor

    t0 = time.perf_counter()
    ep = _export(c)
    t1 = time.perf_counter()
    path = os.path.join(c.tmpdir, "model.pt2")
    with quiet(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        package = _inductor.aoti_compile_and_package(ep, package_path=path)
    t2 = time.perf_counter()
    runner = _inductor.aoti_load_package(package)
    try:
        size = f"{os.path.getsize(package) / 2**20:.1f} MB "
    except (OSError, TypeError):
        size = ""
    c.notes.append(
        f"aot-inductor: torch.export {t1 - t0:.2f} s + AOTInductor compile and package "
        f"(torch._inductor.aoti_compile_and_package) {t2 - t1:.1f} s into a {size}.pt2, loaded with "
        "aoti_load_package: the deployable artifact that runs without Python (C++ AOTIModelPackageLoader)"
    )
    return _call(runner, c.inputs)


BUILDERS: dict[str, Callable[[Ctx], Callable[[], Any]]] = {
    "eager": _build_eager,
    "trace": _build_trace,
    "script": _build_script,
    "trace+freeze": _build_trace_freeze,
    "export": _build_export,
    "aot-inductor": _build_aot_inductor,
    "compile": _build_compile,
    "compile+freeze": _build_compile_freeze,
    "compile+cudagraphs": _build_compile_cudagraphs,
    "onnxruntime": _build_onnxruntime,
}
"""Mode name -> builder. The registry: validation, defaults and the runner read it."""

CUDA_MEMORY_UNSEEN: frozenset[str] = frozenset({"onnxruntime"})
"""Modes whose CUDA memory lives outside PyTorch's allocator (no ``peak_mem_mb`` on CUDA)."""
