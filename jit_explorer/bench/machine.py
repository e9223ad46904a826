"""Machine facts: usable cores, the CPU/GPU name, the measured and the estimated FP32 peak, busy-ness.

The peak that ``pct_of_peak`` is computed against is *measured*: a short dense
fp32 GEMM (``torch.matmul`` of square matrices, on the benchmark's device and
thread count), run once per process and cached per (device, threads). The
clock x FLOPs/cycle figure (:func:`estimate_peak_gflops`) is kept beside it,
labelled an estimate: on a CPU whose boost clock or FMA units are unknown it can
be far off in either direction.
"""

from __future__ import annotations

import math
import os
import platform
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .util import short_error, sync

__all__ = [
    "usable_cores",
    "usable_cores_explained",
    "cpu_name",
    "device_name",
    "estimate_peak_gflops",
    "measure_peak_gflops",
    "PeakMeasurement",
    "CpuSample",
    "cpu_sample",
    "busy_note",
]


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


def usable_cores_explained() -> tuple[int, str]:
    """The usable core count and which limit decided it (see :func:`usable_cores`)."""
    return _usable_cores_explained()


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what :mod:`platform` knows."""
    return _cpu_name()


def device_name(device: str) -> str:
    """The GPU's name for a CUDA device, else the CPU's name."""
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return _cpu_name()


def estimate_peak_gflops(device: str, threads: int) -> tuple[float | None, str]:
    """Estimate the device's FP32 peak in GFLOP/s from its specifications, and say how.

    CPU: cores used (``threads``, at most :func:`usable_cores`) x clock x FP32
    FLOPs per cycle from the vector ISA and FMA units in ``/proc/cpuinfo`` flags
    (``avx512f``, ``avx2``, ``fma``). GPU: a table of known parts (FP32 without
    tensor cores). Always an estimate, never a measurement: the benchmark's
    ``pct_of_peak`` uses :func:`measure_peak_gflops` instead.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        threads: intra-op threads the benchmark uses (CPU only; 0 means all usable cores).

    Returns:
        ``(gflops, method)``; ``gflops`` is None when no estimate is possible and
        ``method`` then says why.

    Example::

        >>> peak, how = estimate_peak_gflops("cpu", 1)
        >>> peak is None or peak > 0
        True
    """
    if str(device).startswith("cuda"):
        try:
            name = torch.cuda.get_device_name(torch.device(device))
        except Exception as e:  # no driver, bad index
            return None, f"no GPU peak estimate: {short_error(e)}"
        for key in sorted(_GPU_FP32_TFLOPS, key=len, reverse=True):
            if key.lower() in name.lower():
                tf = _GPU_FP32_TFLOPS[key]
                return tf * 1e3, (f"estimate: {name} FP32 data-sheet peak {tf:g} TFLOP/s "
                                  "(table of known GPUs; TF32/tensor cores can exceed it)")
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


# --------------------------------------------------------------------------- the measured peak


@dataclass(frozen=True)
class PeakMeasurement:
    """The attainable FP32 peak of one device at one thread count, measured with a dense GEMM."""

    gflops: float | None
    method: str
    device: str
    threads: int
    size: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"gflops", "method", "device", "threads", "size", "seconds"}``."""
        return asdict(self)


CPU_GEMM_SIZES: tuple[int, ...] = (512, 1024, 2048)
CUDA_GEMM_SIZES: tuple[int, ...] = (4096, 8192)
_GEMM_BLOCK_S = 0.2  # seconds of calls per size and pass
_GEMM_MIN_CALLS = 5
GEMM_PASSES = 2
"""Sweeps over the sizes: on a shared machine a second pass often finds the cores free."""
_PEAK_CACHE: dict[tuple[str, int], PeakMeasurement] = {}  # a machine fact, not per-user data
_PEAK_LOCK = threading.Lock()

GemmTimer = Callable[[Callable[[], object], float], float]
"""``gemm_timer(stmt, seconds) -> best seconds per call`` (injectable for tests)."""


def _best_call_s(stmt: Callable[[], object], seconds: float) -> float:
    """The fastest call of ``stmt`` in about ``seconds`` of repeated calls (after one warm-up call)."""
    stmt()
    best, spent, calls = math.inf, 0.0, 0
    while calls < _GEMM_MIN_CALLS or spent < seconds:
        t0 = time.perf_counter()
        stmt()
        dt = time.perf_counter() - t0
        best, spent, calls = min(best, dt), spent + dt, calls + 1
    return best


def _gemm_peak(device: str, threads: int, *, sizes: tuple[int, ...], gemm_timer: GemmTimer) -> PeakMeasurement:
    """Time square fp32 matmuls of each size; the peak is the best GFLOP/s of any call."""
    from .util import torch_threads

    started = time.perf_counter()
    best_gflops, best_n = 0.0, 0
    dev = torch.device(device)
    with torch_threads(threads), torch.inference_mode():
        for n in [n for _ in range(GEMM_PASSES) for n in sizes]:
            a = torch.randn(n, n, device=dev, dtype=torch.float32)
            b = torch.randn(n, n, device=dev, dtype=torch.float32)

            def stmt(a: torch.Tensor = a, b: torch.Tensor = b) -> None:
                torch.matmul(a, b)
                sync(device)

            s = gemm_timer(stmt, _GEMM_BLOCK_S)
            if s > 0 and 2 * n**3 / s / 1e9 > best_gflops:
                best_gflops, best_n = 2 * n**3 / s / 1e9, n
            del a, b
    spent = time.perf_counter() - started
    tf32 = device.startswith("cuda") and torch.backends.cuda.matmul.allow_tf32
    what = "torch.matmul" + (" (TF32 allowed)" if tf32 else "")
    where = device_name(device) if device.startswith("cuda") else f"{threads} thread{'s' * (threads != 1)}"
    sizes_txt = ", ".join(str(n) for n in sizes)
    return PeakMeasurement(
        gflops=round(best_gflops, 1) if best_gflops > 0 else None,
        method=(f"measured: the fastest call of fp32 dense GEMMs ({what}, square {sizes_txt}, {GEMM_PASSES} passes; "
                f"best at {best_n}) on {where}, once per process ({spent:.2f} s)"),
        device=device, threads=threads, size=best_n, seconds=round(spent, 3),
    )


def measure_peak_gflops(device: str, threads: int, *, refresh: bool = False,
                        gemm_timer: GemmTimer | None = None) -> PeakMeasurement:
    """The attainable FP32 peak, measured with a short dense GEMM, cached per process.

    CPU: ``torch.matmul`` of square fp32 matrices (512, 1024, 2048) with
    ``threads`` intra-op threads; GPU: the device's matmul (4096, 8192),
    synchronised. Each size runs for at least 0.2 s (5 calls), the sweep twice;
    the fastest call of any size gives the peak (the attainable rate when the
    cores are free: on a shared machine typical calls can be several times
    slower). Measured once per (device, threads) in a process (about 1-3 s on
    two cores) and cached.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        threads: intra-op threads (CPU); ignored on CUDA beyond the cache key.
        refresh: measure again even when cached.
        gemm_timer: ``gemm_timer(stmt, seconds) -> best seconds per call``; tests pass a fake.

    Returns:
        A :class:`PeakMeasurement`; ``gflops`` is None (and ``method`` says why) if the GEMM failed.

    Example::

        >>> m = measure_peak_gflops("cpu", 1)  # doctest: +SKIP
        >>> m.gflops > 0  # doctest: +SKIP
        True
    """
    key = (str(device), int(threads))
    with _PEAK_LOCK:
        if not refresh and key in _PEAK_CACHE:
            return _PEAK_CACHE[key]
        sizes = CUDA_GEMM_SIZES if str(device).startswith("cuda") else CPU_GEMM_SIZES
        try:
            peak = _gemm_peak(str(device), int(threads), sizes=sizes, gemm_timer=gemm_timer or _best_call_s)
        except Exception as e:  # out of memory, no BLAS: the benchmark still runs, without a peak
            peak = PeakMeasurement(None, f"no measured peak: the GEMM failed ({short_error(e)})", str(device),
                                   int(threads))
        _PEAK_CACHE[key] = peak
        return peak


# --------------------------------------------------------------------------- busy machine


@dataclass(frozen=True)
class CpuSample:
    """Machine-wide busy and steal CPU seconds (``/proc/stat``), this process's CPU seconds, wall time."""

    busy_s: float
    steal_s: float
    own_s: float
    wall_s: float


def cpu_sample() -> CpuSample | None:
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
    return CpuSample(busy / hz, steal / hz, time.process_time(), time.perf_counter())


def busy_note(start: CpuSample | None, end: CpuSample | None, *, cores: int) -> str | None:
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


