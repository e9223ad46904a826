"""The benchmark engine: eager vs TorchScript vs torch.compile vs ONNX Runtime.

Measured the way PyTorch's own tools measure (DESIGN.md, "Rules that keep the
numbers honest"):

* every timed call goes through ``torch.utils.benchmark.Timer`` (its
  ``blocked_autorange``) with ``num_threads`` set explicitly, under
  ``torch.inference_mode()``;
* each mode is converted, called once (``first_call_ms``: conversion +
  compilation + the first call, the one-off cost a user pays) and warmed up
  (at least :data:`MIN_WARMUP_CALLS` more calls, which covers the TorchScript
  profiling executor's profiling runs) before anything is timed;
* modes are timed interleaved in rounds (round-robin, the starting mode rotating
  every round) so machine drift hits every mode alike;
* the result is the median, p90 and IQR of the samples, never a mean of a few calls;
* on CUDA every timed call is synchronised;
* every mode's output is compared with eager (``max_abs_diff``); a fast but
  wrong mode is flagged in the notes and never named the fastest;
* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (counted once, on
  eager) and the device's peak is an estimate (see :func:`peak_gflops`).

The timer is injectable (``timer_factory``) so the scheduling and statistics
can be tested with fake times.

Example::

    >>> from jit_explorer import bench
    >>> report = bench.benchmark("resnet18", modes=["eager", "trace+freeze"], budget_s=2.0)  # doctest: +SKIP
    >>> [r.mode for r in report.results]  # doctest: +SKIP
    ['eager', 'trace+freeze']
    >>> print(bench.to_markdown([report]))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import math
import os
import platform
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from .errors import InputError
from .report import BenchReport, BenchResult

__all__ = [
    "CPU_MODES",
    "CUDA_MODES",
    "ALL_MODES",
    "DEFAULT_BUDGET_S",
    "MIN_WARMUP_CALLS",
    "default_modes",
    "usable_cores",
    "peak_gflops",
    "benchmark_module",
    "benchmark",
    "to_markdown",
    "summarize",
    "percentile",
    "TimerLike",
    "TimerFactory",
]

CPU_MODES: tuple[str, ...] = ("eager", "trace", "script", "trace+freeze", "compile", "compile+freeze", "onnxruntime")
CUDA_MODES: tuple[str, ...] = ("eager", "trace", "script", "trace+freeze", "compile", "compile+cudagraphs", "onnxruntime")
ALL_MODES: tuple[str, ...] = tuple(dict.fromkeys(CPU_MODES + CUDA_MODES))

DEFAULT_BUDGET_S = 5.0
"""Seconds of timed calls per mode (conversion, compilation and warm-up come on top)."""
MIN_WARMUP_CALLS = 3
"""Untimed calls after the first one: TorchScript's profiling executor optimises after its profiling runs."""
MAX_ROUNDS = 10
"""Rounds of interleaved timing; each mode gets ``budget_s / MAX_ROUNDS`` of timed calls per round."""
MIN_ROUNDS = 5
"""Rounds always run, even when a slow model has already used its budget."""
_WARMUP_MAX_S = 1.0
_WARMUP_MAX_CALLS = 200
_RTOL = {"cpu": 1e-3, "cuda": 1e-2}  # relative to max|eager output|; CUDA allows TF32 convolutions
_ERROR_MAX_CHARS = 240


# --------------------------------------------------------------------------- timer protocol


class TimerLike(Protocol):
    """What :func:`benchmark_module` needs from a timer (``torch.utils.benchmark.Timer`` fits)."""

    def blocked_autorange(self, min_run_time: float = ...) -> Any:
        """Time the statement for about ``min_run_time`` seconds.

        Returns an object with ``times`` (seconds per call, one entry per sample)
        and ``number_per_run`` (calls averaged in each sample), like
        ``torch.utils.benchmark.Measurement``.
        """
        ...


TimerFactory = Callable[..., TimerLike]
"""``timer_factory(stmt, *, num_threads: int, label: str) -> TimerLike``; ``stmt`` is a no-argument callable."""


def _torch_timer(stmt: Callable[[], object], *, num_threads: int, label: str) -> TimerLike:
    """The default timer: ``torch.utils.benchmark.Timer`` running ``stmt()``."""
    from torch.utils.benchmark import Timer

    return Timer(stmt="stmt()", globals={"stmt": stmt}, num_threads=num_threads, label=label, description=label)


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default method).

    Args:
        values: a non-empty sequence of numbers.
        q: the percentile, 0 to 100.

    Returns:
        The interpolated value.

    Example::

        >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
        2.5
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(times_s: Sequence[float]) -> tuple[float, float, float]:
    """Median, p90 and interquartile range, in milliseconds, of per-call times in seconds.

    Args:
        times_s: per-call times (seconds), one per sample.

    Returns:
        ``(median_ms, p90_ms, iqr_ms)``.

    Example::

        >>> summarize([0.001, 0.002, 0.003, 0.004, 0.005])
        (3.0, 4.6, 2.0)
    """
    ms = [t * 1e3 for t in times_s]
    med = percentile(ms, 50)
    p90 = percentile(ms, 90)
    iqr = percentile(ms, 75) - percentile(ms, 25)
    return (float(f"{med:.6g}"), float(f"{p90:.6g}"), float(f"{iqr:.6g}"))


# --------------------------------------------------------------------------- machine facts


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


def _cgroup_cpu_limit() -> float | None:
    """CPUs allowed by the cgroup quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``), or None when unlimited."""
    candidates: list[tuple[Path, Path | None]] = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            hid, controllers, rel = parts
            rel = rel.lstrip("/")
            if hid == "0" and controllers == "":
                candidates.append((Path("/sys/fs/cgroup") / rel / "cpu.max", None))
            elif "cpu" in controllers.split(","):
                for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                    base = Path("/sys/fs/cgroup") / mount / rel
                    candidates.append((base / "cpu.cfs_quota_us", base / "cpu.cfs_period_us"))
    except OSError:
        pass
    candidates += [
        (Path("/sys/fs/cgroup/cpu.max"), None),
        (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")),
    ]
    for quota_path, period_path in candidates:
        try:
            if period_path is None:
                quota, period = quota_path.read_text().split()[:2]
                if quota == "max":
                    continue
                return int(quota) / int(period)
            quota_us = int(quota_path.read_text().strip())
            if quota_us <= 0:
                continue
            return quota_us / int(period_path.read_text().strip())
        except (OSError, ValueError):
            continue
    return None


def _usable_cores_explained() -> tuple[int, str]:
    """The usable core count and which limit decided it."""
    limits: list[tuple[int, str]] = []
    try:
        limits.append((len(os.sched_getaffinity(0)), "CPU affinity"))
    except (AttributeError, OSError):
        limits.append((os.cpu_count() or 1, "os.cpu_count()"))
    quota = _cgroup_cpu_limit()
    if quota is not None:
        limits.append((max(1, math.floor(quota)), f"cgroup CPU quota {quota:g}"))
    env = os.environ.get("CPU_CORES", "").strip()
    if env:
        try:
            if int(env) > 0:
                limits.append((int(env), "CPU_CORES"))
        except ValueError:
            pass
    n, why = min(limits, key=lambda t: t[0])
    return max(1, n), why


def usable_cores() -> int:
    """The number of CPU cores this process may really use.

    The smallest of: the CPU affinity mask, the cgroup CPU quota (``cpu.max`` or
    ``cpu.cfs_quota_us``, rounded down, at least 1) and the ``CPU_CORES``
    environment variable when it is set.

    Returns:
        A positive integer.

    Example::

        >>> usable_cores() >= 1
        True
    """
    return _usable_cores_explained()[0]


def _cpuinfo() -> dict[str, str]:
    """The first processor block of ``/proc/cpuinfo`` (empty when unreadable)."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def _cpu_name() -> str:
    info = _cpuinfo()
    return info.get("model name") or info.get("Hardware") or platform.processor() or platform.machine() or "CPU"


def _cpu_clock_ghz(info: Mapping[str, str]) -> tuple[float | None, str]:
    """The clock in GHz and where it was read."""
    try:
        khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text().strip())
        if khz > 0:
            return khz / 1e6, "cpufreq max"
    except (OSError, ValueError):
        pass
    try:
        mhz = float(info.get("cpu MHz", ""))
        if mhz > 0:
            return mhz / 1e3, "cpu MHz in /proc/cpuinfo"
    except ValueError:
        pass
    m = re.search(r"@\s*([\d.]+)\s*GHz", info.get("model name", ""))
    if m:
        return float(m.group(1)), "model name"
    return None, ""


def _cpu_flops_per_cycle(info: Mapping[str, str]) -> tuple[int | None, str]:
    """FP32 FLOPs per cycle per core from the vector ISA and FMA units (a rule of thumb)."""
    flags = set((info.get("flags") or info.get("Features") or "").split())
    amd = info.get("vendor_id") == "AuthenticAMD"
    if "avx512f" in flags:
        if amd:  # Zen 4 executes 512-bit FMAs on two 256-bit units
            return 32, "AVX-512 on 2x256-bit FMA units"
        return 64, "AVX-512 + FMA, assuming 2 FMA units"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2 + FMA, assuming 2 FMA units"
    if "avx" in flags:
        return 16, "AVX, no FMA"
    if "sse2" in flags:
        return 8, "SSE2"
    if "asimd" in flags:
        return 16, "NEON, assuming 2 FMA units"
    return None, ""


# FP32 (non tensor-core) peak TFLOP/s of known GPUs, from the vendors' data sheets.
_GPU_FP32_TFLOPS: dict[str, float] = {
    "GH200": 67.0,
    "H200": 67.0,
    "H100 PCIe": 51.2,
    "H100 NVL": 60.0,
    "H100": 67.0,
    "B200": 80.0,
    "A100": 19.5,
    "A10G": 31.2,
    "A10": 31.2,
    "A30": 10.3,
    "A40": 37.4,
    "L40S": 91.6,
    "L40": 90.5,
    "L4": 30.3,
    "T4": 8.1,
    "V100": 15.7,
    "P100": 9.3,
    "RTX 6000 Ada": 91.1,
    "RTX A6000": 38.7,
    "RTX 4090": 82.6,
    "RTX 4080": 48.7,
    "RTX 3090": 35.6,
    "RTX 3080": 29.8,
}


def peak_gflops(device: str, threads: int) -> tuple[float | None, str]:
    """Estimate the device's FP32 peak in GFLOP/s, and say how it was estimated.

    CPU: cores used (``threads``, at most :func:`usable_cores`) x clock x FP32
    FLOPs per cycle from the vector ISA and FMA units in ``/proc/cpuinfo`` flags
    (``avx512f``, ``avx2``, ``fma``). GPU: a table of known parts (FP32 without
    tensor cores). Always an estimate, never a measurement.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        threads: intra-op threads the benchmark uses (CPU only; 0 means all usable cores).

    Returns:
        ``(gflops, method)``; ``gflops`` is None when no estimate is possible and
        ``method`` then says why.

    Example::

        >>> peak, how = peak_gflops("cpu", 1)
        >>> peak is None or peak > 0
        True
    """
    if str(device).startswith("cuda"):
        try:
            name = torch.cuda.get_device_name(torch.device(device))
        except Exception as e:  # no driver, bad index
            return None, f"no GPU peak: {_short_error(e)}"
        for key in sorted(_GPU_FP32_TFLOPS, key=len, reverse=True):
            if key.lower() in name.lower():
                tf = _GPU_FP32_TFLOPS[key]
                return tf * 1e3, f"estimate: {name} FP32 data-sheet peak {tf:g} TFLOP/s (table of known GPUs; TF32/tensor cores can exceed it)"
        return None, f"no peak estimate: {name} is not in the table of known GPUs"
    info = _cpuinfo()
    cores_avail, _ = _usable_cores_explained()
    cores = min(threads, cores_avail) if threads > 0 else cores_avail
    ghz, clock_src = _cpu_clock_ghz(info)
    fpc, isa = _cpu_flops_per_cycle(info)
    if ghz is None or fpc is None:
        missing = "clock" if ghz is None else "vector ISA"
        return None, f"no peak estimate: CPU {missing} unknown"
    peak = cores * ghz * fpc
    return round(peak, 1), (
        f"estimate: {cores} core{'s' if cores != 1 else ''} x {ghz:.2f} GHz ({clock_src}) x "
        f"{fpc} FP32 FLOPs/cycle ({isa})"
    )


# --------------------------------------------------------------------------- small helpers


def _short_error(e: BaseException) -> str:
    """One line: the exception type and the first meaningful line of its message."""
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


def _flatten(out: Any) -> list[torch.Tensor]:
    """Every tensor in a (nested) output, in order; numpy arrays become tensors."""
    if isinstance(out, torch.Tensor):
        return [out]
    if hasattr(out, "to_tuple") and callable(out.to_tuple):  # transformers' ModelOutput
        return _flatten(out.to_tuple())
    if isinstance(out, Mapping):
        return [t for v in out.values() for t in _flatten(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in _flatten(v)]
    if type(out).__module__ == "numpy" and hasattr(out, "shape"):
        return [torch.from_numpy(out)]
    return []


def _snapshot(out: Any) -> list[torch.Tensor]:
    """Detached CPU copies of the output's tensors (CUDA graph outputs get overwritten)."""
    return [t.detach().to("cpu", copy=True) for t in _flatten(out)]


def _max_abs_diff(ref: list[torch.Tensor], got: list[torch.Tensor]) -> float:
    """Largest absolute difference between two flattened outputs (inf when they do not match)."""
    if len(ref) != len(got):
        return math.inf
    worst = 0.0
    for a, b in zip(ref, got):
        if tuple(a.shape) != tuple(b.shape):
            return math.inf
        if a.numel() == 0:
            continue
        d = (a.double() - b.double()).abs().max().item()
        if math.isnan(d):
            return math.inf
        worst = max(worst, d)
    return worst


def _absmax(ref: list[torch.Tensor]) -> float:
    vals = [t.double().abs().max().item() for t in ref if t.numel()]
    return max(vals, default=0.0)


def _describe_inputs(inputs: tuple[Any, ...]) -> str:
    parts = []
    for x in inputs:
        if isinstance(x, torch.Tensor):
            parts.append("x".join(str(s) for s in x.shape) + " " + str(x.dtype).removeprefix("torch."))
        else:
            parts.append(type(x).__name__)
    return ", ".join(parts)


def _batch_of(inputs: tuple[Any, ...]) -> int:
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return int(x.shape[0]) if x.dim() >= 2 else 1
    return 1


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the deprecation/tracer warnings of conversions (they are not the user's pitfalls here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Set torch's intra-op threads for the block and restore them afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- mode builders


class _NotApplicable(Exception):
    """A mode that does not apply to this device/model (reported as a failed row)."""


@dataclass
class _Ctx:
    module: nn.Module
    inputs: tuple[Any, ...]
    device: str
    threads: int
    tmpdir: str
    notes: list[str] = field(default_factory=list)


def _call(fn: Callable[..., Any], inputs: tuple[Any, ...]) -> Callable[[], Any]:
    return lambda: fn(*inputs)


def _build_eager(c: _Ctx) -> Callable[[], Any]:
    return _call(c.module, c.inputs)


def _trace(c: _Ctx) -> torch.jit.ScriptModule:
    with torch.no_grad(), _quiet():
        return torch.jit.trace(c.module, c.inputs, strict=False, check_trace=False)


def _build_trace(c: _Ctx) -> Callable[[], Any]:
    return _call(_trace(c), c.inputs)


def _build_script(c: _Ctx) -> Callable[[], Any]:
    with torch.no_grad(), _quiet():
        scripted = torch.jit.script(c.module)
    return _call(scripted, c.inputs)


def _build_trace_freeze(c: _Ctx) -> Callable[[], Any]:
    traced = _trace(c)
    with torch.no_grad(), _quiet():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    return _call(frozen, c.inputs)


def _build_compile(c: _Ctx) -> Callable[[], Any]:
    return _call(torch.compile(c.module), c.inputs)


def _build_compile_freeze(c: _Ctx) -> Callable[[], Any]:
    return _call(torch.compile(c.module, options={"freezing": True}), c.inputs)


def _build_compile_cudagraphs(c: _Ctx) -> Callable[[], Any]:
    if not c.device.startswith("cuda"):
        raise _NotApplicable("needs CUDA (CUDA graphs); on CPU use compile+freeze")
    return _call(torch.compile(c.module, mode="reduce-overhead"), c.inputs)


def _onnx_export(c: _Ctx, path: str) -> str:
    """Export with the dynamo exporter, falling back to the legacy one; returns which worked."""
    errors = []
    for dynamo in (True, False):
        try:
            with torch.no_grad(), _quiet(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                torch.onnx.export(c.module, c.inputs, path, dynamo=dynamo, verbose=False)
            return "dynamo" if dynamo else "legacy"
        except Exception as e:
            errors.append(f"{'dynamo' if dynamo else 'legacy'} exporter: {_short_error(e)}")
    raise RuntimeError("torch.onnx.export failed; " + "; ".join(errors))


def _onnx_feeds(c: _Ctx, names: list[str]) -> dict[str, Any]:
    tensors = [x for x in c.inputs if isinstance(x, torch.Tensor)]
    if len(tensors) != len(c.inputs):
        raise _NotApplicable("onnxruntime takes tensor inputs only")
    arrays = [t.detach().cpu().numpy() for t in tensors]
    if len(names) == len(arrays):
        return dict(zip(names, arrays))
    try:  # the dynamo exporter names inputs after forward's parameters and drops unused ones
        params = list(inspect.signature(c.module.forward).parameters)
        by_name = dict(zip(params, arrays))
        return {n: by_name[n] for n in names}
    except (KeyError, TypeError, ValueError) as e:
        raise RuntimeError(f"cannot match the ONNX graph's inputs {names} to the model's inputs") from e


def _build_onnxruntime(c: _Ctx) -> Callable[[], Any]:
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise _NotApplicable("onnxruntime is not installed (pip install onnxruntime)") from e
    if c.device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise _NotApplicable("this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
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


_BUILDERS: dict[str, Callable[[_Ctx], Callable[[], Any]]] = {
    "eager": _build_eager,
    "trace": _build_trace,
    "script": _build_script,
    "trace+freeze": _build_trace_freeze,
    "compile": _build_compile,
    "compile+freeze": _build_compile_freeze,
    "compile+cudagraphs": _build_compile_cudagraphs,
    "onnxruntime": _build_onnxruntime,
}


# --------------------------------------------------------------------------- validation


def _validate_device(device: str) -> str:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(f"unknown device {device!r}; use 'cpu' or 'cuda'") from e
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device {device!r} is not supported; use 'cpu' or 'cuda'")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                "device 'cuda' was asked for but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use device='cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"there is no {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
        return str(dev)
    return "cpu"


def _validate_modes(modes: Sequence[str] | None, device: str) -> list[str]:
    if modes is None:
        return list(default_modes(device))
    if isinstance(modes, str):
        modes = [m for m in modes.split(",")]
    cleaned = [str(m).strip() for m in modes if str(m).strip()]
    if not cleaned:
        raise InputError(f"no modes given; choose from: {', '.join(ALL_MODES)}")
    unknown = [m for m in cleaned if m not in _BUILDERS]
    if unknown:
        raise InputError(f"unknown mode(s) {', '.join(map(repr, unknown))}; choose from: {', '.join(ALL_MODES)}")
    out = list(dict.fromkeys(cleaned))
    if "eager" not in out:
        out.insert(0, "eager")
    return out


def _validate_numbers(threads: int, budget_s: float) -> None:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise InputError(f"threads must be a whole number >= 0 (0: all usable cores), got {threads!r}")
    if not isinstance(budget_s, (int, float)) or not budget_s > 0 or math.isinf(budget_s):
        raise InputError(f"budget_s must be a positive number of seconds, got {budget_s!r}")


# --------------------------------------------------------------------------- the run


@dataclass
class _Mode:
    """Per-mode state while a benchmark runs (private, per call)."""

    name: str
    fn: Callable[[], Any] | None = None
    timer: TimerLike | None = None
    error: str | None = None
    first_call_s: float = 0.0
    output: list[torch.Tensor] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    runs: int = 0
    timed_s: float = 0.0
    compile_cached: bool = False


def _dynamo_graphs() -> int:
    try:
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])
    except Exception:
        return -1


def _prepare(m: _Mode, c: _Ctx, *, budget_s: float, timer_factory: TimerFactory) -> None:
    """Convert, call once (timed: ``first_call_s``), warm up, snapshot the output, build the timer."""
    device = c.device
    graphs_before = _dynamo_graphs()
    try:
        t0 = time.perf_counter()
        with torch.inference_mode(False):  # convert/export outside inference mode; run inside it
            fn = _BUILDERS[m.name](c)
        with _quiet():
            out = fn()
        _sync(device)
        m.first_call_s = time.perf_counter() - t0
        if m.name.startswith("compile") and graphs_before >= 0 and _dynamo_graphs() == graphs_before:
            m.compile_cached = True
        # Warm-up: covers the profiling executor's runs; untimed, excluded from the statistics.
        calls, t_start = 0, time.perf_counter()
        warmup_s = min(_WARMUP_MAX_S, 0.1 * budget_s)
        while calls < MIN_WARMUP_CALLS or (time.perf_counter() - t_start < warmup_s and calls < _WARMUP_MAX_CALLS):
            with _quiet():
                out = fn()
            _sync(device)
            calls += 1
        m.output = _snapshot(out)
    except _NotApplicable as e:
        m.error = f"does not apply: {e}"
        return
    except Exception as e:
        m.error = _short_error(e)
        return

    if device.startswith("cuda"):
        dev = torch.device(device)

        def stmt() -> None:
            fn()
            torch.cuda.synchronize(dev)
    else:
        stmt = fn  # type: ignore[assignment]
    m.fn = fn
    m.timer = timer_factory(stmt, num_threads=c.threads, label=m.name)


def _samples(measurement: Any) -> tuple[list[float], int]:
    """Per-sample seconds-per-call and the number of calls in a Measurement-like object."""
    if isinstance(measurement, (int, float)):
        return [float(measurement)], 1
    times = [float(t) for t in measurement.times]
    number = int(getattr(measurement, "number_per_run", 1) or 1)
    return times, len(times) * number


def _run_rounds(
    ready: list[_Mode], *, budget_s: float, progress: Callable[[str, float], None] | None, p0: float
) -> int:
    """Time the ready modes interleaved: round r starts at mode ``r % n`` and gives each a block.

    Stops after :data:`MAX_ROUNDS`, or earlier (but not before :data:`MIN_ROUNDS`) once every
    mode has been timed for ``budget_s``. Returns the number of rounds run.
    """
    n = len(ready)
    block_s = budget_s / MAX_ROUNDS
    rounds = 0
    for r in range(MAX_ROUNDS):
        order = ready[r % n:] + ready[: r % n] if n else []
        for i, m in enumerate(order):
            if progress:
                progress(f"timing round {r + 1}/{MAX_ROUNDS}: {m.name}", p0 + (1 - p0) * (r * n + i) / (MAX_ROUNDS * n))
            assert m.timer is not None
            with _quiet():
                meas = m.timer.blocked_autorange(min_run_time=block_s)
            times, calls = _samples(meas)
            m.times.extend(times)
            m.runs += calls
            m.timed_s += sum(times) * (calls / max(len(times), 1))
        rounds = r + 1
        if rounds >= MIN_ROUNDS and all(m.timed_s >= budget_s for m in ready):
            break
    return rounds


def _count_flops(module: Callable[..., Any], inputs: tuple[Any, ...]) -> tuple[int | None, str]:
    from torch.utils.flop_counter import FlopCounterMode

    try:
        counter = FlopCounterMode(display=False)
        with counter, _quiet():
            module(*inputs)
        return int(counter.get_total_flops()), ""
    except Exception as e:
        return None, f"FLOPs could not be counted ({_short_error(e)}): gflops is 0"


def benchmark_module(
    module: nn.Module | Callable[..., Any],
    inputs: tuple[Any, ...],
    *,
    name: str,
    device: str = "cpu",
    modes: Sequence[str] | None = None,
    threads: int = 0,
    input_desc: str = "",
    budget_s: float = DEFAULT_BUDGET_S,
    progress: Callable[[str, float], None] | None = None,
    timer_factory: TimerFactory | None = None,
) -> BenchReport:
    """Benchmark one module in several modes against eager, interleaved, and check every output.

    Each mode is converted, called once (``first_call_ms``: conversion, compilation and
    the first call), warmed up (at least 3 more calls), then all modes are timed in
    interleaved rounds with ``torch.utils.benchmark.Timer`` under
    ``torch.inference_mode()``. A mode that does not apply or fails becomes a row
    with ``ok=False`` and a one-line reason; the others go on.

    Args:
        module: the model, already on ``device`` and in eval mode; it is not modified.
        inputs: positional arguments of one call, already on ``device``.
        name: the model's name in the report.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        modes: modes to run (default: :func:`default_modes`); ``eager`` is always run as the baseline.
        threads: intra-op threads; 0 means :func:`usable_cores`.
        input_desc: the input in words (default: shapes and dtypes).
        budget_s: seconds of timed calls per mode (conversion and warm-up come on top).
        progress: called as ``progress(message, fraction_done)``.
        timer_factory: ``factory(stmt, *, num_threads, label)`` returning an object with
            ``blocked_autorange(min_run_time=...)``; default ``torch.utils.benchmark.Timer``.
            Tests pass a fake one.

    Returns:
        A :class:`~jit_explorer.report.BenchReport`; rows in the order of ``modes``.

    Raises:
        InputError: an unknown mode, a bad device (CUDA missing), bad numbers, or a
            model that fails in eager mode.

    Example::

        >>> import torch
        >>> mlp = torch.nn.Sequential(torch.nn.Linear(4, 4)).eval()
        >>> rep = benchmark_module(mlp, (torch.randn(1, 4),), name="mlp", modes=["eager", "trace"], budget_s=0.2)
        >>> rep.results[1].max_abs_diff < 1e-5
        True
    """
    device = _validate_device(device)
    mode_names = _validate_modes(modes, device)
    _validate_numbers(threads, budget_s)
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    elif isinstance(inputs, list):
        inputs = tuple(inputs)
    if not isinstance(inputs, tuple):
        raise InputError(f"inputs must be a tuple of positional arguments, got {type(inputs).__name__}")
    cores, cores_why = _usable_cores_explained()
    n_threads = threads or cores
    factory = timer_factory or _torch_timer
    notes: list[str] = []
    if modes is not None and "eager" not in modes:
        notes.append("eager was added: it is the baseline for speedup and max_abs_diff")
    notes.append(
        f"threads: {n_threads} intra-op (torch.utils.benchmark.Timer num_threads); "
        f"{cores} usable cores ({cores_why})"
        + (f"; more threads than usable cores" if n_threads > cores else "")
    )
    cpu_start = _cpu_sample()
    peak, peak_how = peak_gflops(device, n_threads)
    notes.append(f"peak_gflops is an {peak_how}" if peak is not None else peak_how)

    with tempfile.TemporaryDirectory(prefix="jit-explorer-bench-") as tmpdir:
        ctx = _Ctx(module, inputs, device, n_threads, tmpdir)
        states = [_Mode(m) for m in mode_names]
        with _torch_threads(n_threads), torch.inference_mode():
            n = len(states)
            for i, m in enumerate(states):
                if progress:
                    progress(f"{m.name}: converting, first call and warm-up", 0.5 * i / n)
                _prepare(m, ctx, budget_s=budget_s, timer_factory=factory)
                if m.name == "eager" and m.error:
                    raise InputError(f"{name} fails in eager mode, so it cannot be benchmarked: {m.error}")
            flops, flop_note = _count_flops(module, inputs)  # after the first calls: they stay honest
            if flop_note:
                notes.append(flop_note)
            ready = [m for m in states if m.error is None]
            rounds = _run_rounds(ready, budget_s=budget_s, progress=progress, p0=0.5)
        if progress:
            progress("done", 1.0)
        notes.extend(ctx.notes)

    busy = _busy_note(cpu_start, _cpu_sample(), cores=cores)
    if busy:
        notes.append(busy)
    results = _results(states, flops=flops, peak=peak, device=device)
    notes.extend(_verdicts(states, results, device=device, rounds=rounds))
    if device.startswith("cuda"):
        notes.append(
            f"CUDA: {torch.cuda.get_device_name(torch.device(device))}; every timed call ends with "
            f"torch.cuda.synchronize(); torch.backends.cudnn.benchmark={torch.backends.cudnn.benchmark}"
            + (" (cuDNN picks convolution algorithms by heuristics, not by trying them)"
               if not torch.backends.cudnn.benchmark else " (cuDNN tried algorithms during warm-up)")
        )
    return BenchReport(
        model=name,
        device=device,
        device_name=torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else _cpu_name(),
        threads=n_threads,
        torch_version=torch.__version__,
        batch=_batch_of(inputs),
        input=input_desc or _describe_inputs(inputs),
        peak_gflops=peak,
        notes=tuple(notes),
        results=tuple(results),
    )


@dataclass(frozen=True)
class _CpuSample:
    """Machine-wide busy and steal CPU seconds (``/proc/stat``), this process's CPU seconds, wall time."""

    busy_s: float
    steal_s: float
    own_s: float
    wall_s: float


def _cpu_sample() -> _CpuSample | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        hz = float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    if fields[0] != "cpu" or len(fields) < 8:
        return None
    vals = [float(v) for v in fields[1:]]
    busy = vals[0] + vals[1] + vals[2] + vals[5] + vals[6]  # user nice system irq softirq
    steal = vals[7] if len(vals) > 7 else 0.0
    return _CpuSample(busy / hz, steal / hz, time.process_time(), time.perf_counter())


def _busy_note(start: _CpuSample | None, end: _CpuSample | None, *, cores: int) -> str | None:
    """A warning when other processes (or the hypervisor) took CPU time while the benchmark ran."""
    if start is None or end is None or end.wall_s - start.wall_s <= 0:
        return None
    wall = end.wall_s - start.wall_s
    others = max(0.0, (end.busy_s - start.busy_s) - (end.own_s - start.own_s)) / wall
    steal = max(0.0, end.steal_s - start.steal_s) / wall
    if others < 0.25 * cores and steal < 0.1 * cores:
        return None
    parts = []
    if others >= 0.25 * cores:
        parts.append(f"other processes used {others:.1f} of {cores} cores on average")
    if steal >= 0.1 * cores:
        parts.append(f"the hypervisor took {steal:.1f} cores (steal time)")
    return ("the machine was busy while this ran: " + " and ".join(parts) + "; timings are noisy "
            "(multi-threaded runs suffer most: OpenMP threads wait for each other)")


def _sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (JSON stays readable, small values survive)."""
    return float(f"{x:.{digits}g}")


def _results(states: list[_Mode], *, flops: int | None, peak: float | None, device: str) -> list[BenchResult]:
    eager = next(m for m in states if m.name == "eager")
    eager_median = summarize(eager.times)[0] if eager.times else 0.0
    rows = []
    for m in states:
        if m.error is not None or not m.times:
            rows.append(BenchResult(mode=m.name, ok=False, error=m.error or "no timing samples",
                                    first_call_ms=round(m.first_call_s * 1e3, 3)))
            continue
        med, p90, iqr = summarize(m.times)
        gflops = flops / (med * 1e-3) / 1e9 if flops and med > 0 else 0.0
        rows.append(BenchResult(
            mode=m.name,
            ok=True,
            error=None,
            median_ms=med,
            p90_ms=p90,
            iqr_ms=iqr,
            runs=m.runs,
            first_call_ms=round(m.first_call_s * 1e3, 3),
            max_abs_diff=_max_abs_diff(eager.output, m.output),
            speedup_vs_eager=_sig(eager_median / med) if med > 0 else 0.0,
            gflops=_sig(gflops),
            pct_of_peak=_sig(gflops / peak * 100) if peak else None,
        ))
    return rows


def _verdicts(states: list[_Mode], rows: list[BenchResult], *, device: str, rounds: int) -> list[str]:
    """Notes on failures, wrong outputs, compile caches, method, and the fastest correct mode."""
    notes: list[str] = []
    eager = next(m for m in states if m.name == "eager")
    tol = _RTOL["cuda" if device.startswith("cuda") else "cpu"] * max(1.0, _absmax(eager.output))
    failed = [r for r in rows if not r.ok]
    if failed:
        notes.append("failed: " + "; ".join(f"{r.mode} ({r.error})" for r in failed))
    wrong: set[str] = set()
    for r in rows:
        if r.ok and r.mode != "eager" and not r.max_abs_diff <= tol:
            wrong.add(r.mode)
            verb = "fast" if r.speedup_vs_eager > 1 else "timed"
            notes.append(
                f"{r.mode} is {verb} but WRONG: max_abs_diff={r.max_abs_diff:.3g} > tolerance {tol:.3g}; "
                f"its {r.speedup_vs_eager:.2f}x must not be read as a win"
            )
    over = [r for r in rows if r.ok and r.pct_of_peak is not None and r.pct_of_peak > 100]
    if over:
        notes.append(
            f"{', '.join(r.mode for r in over)} exceeded the estimated peak ({max(r.pct_of_peak or 0 for r in over):.0f}%): "
            "the peak estimate is too low here (the clock read is probably the base clock, not the boost clock)"
        )
    if any(m.name.startswith("compile") and m.error is None for m in states):
        notes.append("compile first_call_ms is lower when inductor's on-disk cache already holds this model's kernels")
    for m in states:
        if m.compile_cached and m.error is None:
            notes.append(f"{m.name}: compiled code was reused from an earlier run in this process, "
                         "so first_call_ms excludes compilation")
    notes.append(
        f"method: torch.utils.benchmark.Timer.blocked_autorange under torch.inference_mode(); "
        f"{rounds} interleaved rounds (round-robin, rotating start); warm-up of >= {MIN_WARMUP_CALLS} calls "
        f"after the first call is not timed; first_call_ms = conversion + compilation + first call"
    )
    good = [r for r in rows if r.ok and r.mode not in wrong]
    if len(good) > 1:
        best = min(good, key=lambda r: r.median_ms)
        if best.mode == "eager":
            notes.append("fastest correct mode: eager (no conversion beat it here)")
        else:
            notes.append(f"fastest correct mode: {best.mode}, {best.speedup_vs_eager:.2f}x eager "
                         f"({best.median_ms:.3g} ms vs {next(r for r in rows if r.mode == 'eager').median_ms:.3g} ms)")
    return notes


def benchmark(
    model: str,
    *,
    device: str = "cpu",
    modes: Sequence[str] | None = None,
    threads: int = 0,
    budget_s: float = DEFAULT_BUDGET_S,
    progress: Callable[[str, float], None] | None = None,
) -> BenchReport:
    """Benchmark a zoo model by name (see :func:`benchmark_module` for the method).

    Args:
        model: a zoo name (``jit_explorer.zoo.names()``).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        modes: modes to run (default: every mode of the device).
        threads: intra-op threads; 0 means :func:`usable_cores`.
        budget_s: seconds of timed calls per mode.
        progress: called as ``progress(message, fraction_done)``.

    Returns:
        A :class:`~jit_explorer.report.BenchReport`; with random weights a note says so.

    Raises:
        UnknownModelError: ``model`` is not in the zoo.
        InputError: bad device, modes or numbers.

    Example::

        >>> rep = benchmark("resnet18", modes=["eager", "trace+freeze"], threads=1)  # doctest: +SKIP
        >>> rep.results[1].speedup_vs_eager  # doctest: +SKIP
        1.2
    """
    from . import zoo

    zoo.spec(model)  # UnknownModelError before any work
    device = _validate_device(device)
    _validate_modes(modes, device)
    _validate_numbers(threads, budget_s)
    if progress:
        progress(f"loading {model}", 0.0)
    loaded = zoo.load(model)
    module = loaded.module
    if device != "cpu":  # the zoo's module is shared: move a copy, never the original
        module = copy.deepcopy(module).to(device)
    report = benchmark_module(
        module,
        loaded.inputs(device),
        name=model,
        device=device,
        modes=modes,
        threads=threads,
        input_desc=loaded.spec.input_desc,
        budget_s=budget_s,
        progress=progress,
    )
    if loaded.weights == "random":
        note = ("weights: random (no pretrained weights available offline): latency and IR are the same "
                "as with pretrained weights, the outputs mean nothing")
        report = dataclasses.replace(report, notes=(note,) + report.notes)
    return report


# --------------------------------------------------------------------------- rendering


def _fmt(x: float, digits: int = 3) -> str:
    if x == 0:
        return "0"
    if math.isinf(x):
        return "inf"
    return f"{x:.{digits}g}"


def to_markdown(reports: Sequence[BenchReport]) -> str:
    """Render benchmark reports as Markdown: a heading, a table and the notes per report.

    Args:
        reports: reports from :func:`benchmark` or :func:`benchmark_module`.

    Returns:
        Markdown text. Failed modes show their reason; wrong outputs are marked.

    Example::

        >>> from jit_explorer.report import BenchReport, BenchResult
        >>> rep = BenchReport("m", "cpu", "CPU", 1, "2.14.1", 1, "1x4 float32", None, (),
        ...                   (BenchResult("eager", True, median_ms=1.0, p90_ms=1.1, runs=10, speedup_vs_eager=1.0),))
        >>> "| eager |" in to_markdown([rep])
        True
    """
    out: list[str] = []
    for rep in reports:
        wrong = {r.mode for r in rep.results
                 if any(n.startswith(f"{r.mode} is ") and "WRONG" in n for n in rep.notes)}
        out.append(f"### {rep.model} on {rep.device} ({rep.device_name}), {rep.threads} thread"
                   f"{'s' if rep.threads != 1 else ''}")
        out.append("")
        peak = f"{rep.peak_gflops:g} GFLOP/s (estimate)" if rep.peak_gflops else "unknown"
        out.append(f"Input: {rep.input}; batch {rep.batch}; torch {rep.torch_version}; peak {peak}.")
        out.append("")
        out.append("| mode | median ms | p90 ms | IQR ms | runs | first call ms | speedup vs eager "
                   "| GFLOP/s | % of peak | max abs diff |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rep.results:
            if not r.ok:
                reason = (r.error or "failed").replace("|", "\\|")
                out.append(f"| {r.mode} | failed: {reason} | | | | | | | | |")
                continue
            speed = f"{r.speedup_vs_eager:.2f}x" + (" (WRONG output)" if r.mode in wrong else "")
            pct = f"{r.pct_of_peak:.1f}" if r.pct_of_peak is not None else "n/a"
            out.append(
                f"| {r.mode} | {_fmt(r.median_ms, 4)} | {_fmt(r.p90_ms, 4)} | {_fmt(r.iqr_ms, 3)} | {r.runs} "
                f"| {_fmt(r.first_call_ms, 4)} | {speed} | {_fmt(r.gflops, 3)} | {pct} | {_fmt(r.max_abs_diff, 2)} |"
            )
        if rep.notes:
            out.append("")
            out.extend(f"- {n}" for n in rep.notes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"
