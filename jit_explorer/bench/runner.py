"""The benchmark run: convert, first call, warm-up, interleaved timing, memory, then rows and verdicts.

Measured the way PyTorch's own tools measure (DESIGN.md, "Rules that keep the
numbers honest"):

* every timed call goes through ``torch.utils.benchmark.Timer`` (its
  ``blocked_autorange``) with ``num_threads`` set explicitly, under
  ``torch.inference_mode()``;
* each mode is converted, called once (``first_call_ms``: conversion, export,
  compilation or packaging + the first call, the one-off cost a user pays) and
  warmed up (at least :data:`MIN_WARMUP_CALLS` more calls, which covers the
  TorchScript profiling executor's profiling runs) before anything is timed;
* modes are timed interleaved in rounds (round-robin, the starting mode rotating
  every round) so machine drift hits every mode alike;
* the result is the median, p90, IQR and a bootstrap 95% interval of the
  samples, never a mean of a few calls; speedups get an interval too;
* on CUDA every timed call is synchronised;
* every mode's output is compared with eager (``max_abs_diff``, ``correct``); a
  wrong mode is never the report's ``fastest``;
* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (counted once, on
  eager); ``pct_of_peak`` is against a measured GEMM peak (see
  :func:`~jit_explorer.bench.machine.measure_peak_gflops`);
* ``peak_mem_mb`` per mode (see :mod:`jit_explorer.bench.memory`).

The timer and the memory probe are injectable so the scheduling, statistics and
CUDA paths can be tested with fakes.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ..errors import InputError
from ..report import BenchReport
from . import machine
from . import modes as _modes
from .memory import MemoryProbe, probe_for
from .modes import ALL_MODES, BUILDERS, Ctx, NotApplicable, default_modes
from .util import quiet, short_error, snapshot, sync, torch_threads
from .verdicts import ModeRun, fastest_mode, rows_from_runs, verdict_notes

__all__ = [
    "DEFAULT_BUDGET_S",
    "MIN_WARMUP_CALLS",
    "MAX_ROUNDS",
    "MIN_ROUNDS",
    "TimerLike",
    "TimerFactory",
    "benchmark_module",
    "benchmark",
]

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


# --------------------------------------------------------------------------- timer protocol


class TimerLike(Protocol):
    """What :func:`benchmark_module` needs from a timer (``torch.utils.benchmark.Timer`` fits)."""

    def blocked_autorange(self, *, min_run_time: float = ...) -> Any:
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
    unknown = [m for m in cleaned if m not in BUILDERS]
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
class _Mode(ModeRun):
    """Per-mode state while a benchmark runs (private, per call)."""

    fn: Callable[[], Any] | None = None
    timer: TimerLike | None = None
    timed_s: float = 0.0


def _dynamo_graphs() -> int:
    try:
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])
    except Exception:
        return -1


def _timed_stmt(fn: Callable[[], Any], device: str) -> Callable[[], Any]:
    """What the timer runs: the call, followed on CUDA by ``torch.cuda.synchronize``."""
    if not device.startswith("cuda"):
        return fn

    def stmt() -> None:
        fn()
        sync(device)

    return stmt


def _measure_memory(m: _Mode, stmt: Callable[[], Any], probe: MemoryProbe, baseline: float | None,
                    device: str) -> None:
    """``peak_mem_mb``: peak during one steady-state call minus the memory before the mode was built."""
    if baseline is None or (device.startswith("cuda") and m.name in _modes.CUDA_MEMORY_UNSEEN):
        return
    probe.settle()
    if not probe.reset_peak():
        return
    with quiet():
        stmt()
    peak = probe.peak_mb()
    if peak is not None:
        m.peak_mem_mb = max(0.0, peak - baseline)


def _prepare(m: _Mode, c: Ctx, *, budget_s: float, timer_factory: TimerFactory, probe: MemoryProbe) -> None:
    """Convert, call once (timed: ``first_call_s``), warm up, snapshot the output, measure memory, build the timer."""
    device = c.device
    graphs_before = _dynamo_graphs()
    probe.settle()
    baseline = probe.current_mb()
    try:
        t0 = time.perf_counter()
        with torch.inference_mode(False):  # convert/export outside inference mode; run inside it
            fn = BUILDERS[m.name](c)
        with quiet():
            out = fn()
        sync(device)
        m.first_call_s = time.perf_counter() - t0
        if m.name.startswith("compile") and graphs_before >= 0 and _dynamo_graphs() == graphs_before:
            m.compile_cached = True
        # Warm-up: covers the profiling executor's runs; untimed, excluded from the statistics.
        calls, t_start = 0, time.perf_counter()
        warmup_s = min(_WARMUP_MAX_S, 0.1 * budget_s)
        while calls < MIN_WARMUP_CALLS or (time.perf_counter() - t_start < warmup_s and calls < _WARMUP_MAX_CALLS):
            with quiet():
                out = fn()
            sync(device)
            calls += 1
        m.output = snapshot(out)
        del out
        stmt = _timed_stmt(fn, device)
        _measure_memory(m, stmt, probe, baseline, device)
    except NotApplicable as e:
        m.error = f"does not apply: {e}"
        return
    except Exception as e:
        m.error = short_error(e)
        return
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
    mode has been timed for ``budget_s``. Returns the number of rounds run. Progress says
    "round r of at most MAX_ROUNDS" (the count is only known at the end; the caller's last message
    gives it, as the notes do); its fraction follows the expected number of rounds.
    """
    n = len(ready)
    block_s = budget_s / MAX_ROUNDS
    rounds, expected = 0, MAX_ROUNDS
    for r in range(MAX_ROUNDS):
        order = ready[r % n:] + ready[: r % n] if n else []
        for i, m in enumerate(order):
            if progress:
                progress(f"timing round {r + 1} of at most {MAX_ROUNDS}: {m.name}",
                         p0 + (1 - p0) * min(1.0, (r * n + i) / (expected * n)))
            assert m.timer is not None
            with quiet():
                meas = m.timer.blocked_autorange(min_run_time=block_s)
            times, calls = _samples(meas)
            m.times.extend(times)
            m.runs += calls
            m.timed_s += sum(times) * (calls / max(len(times), 1))
        rounds = r + 1
        if rounds >= MIN_ROUNDS and all(m.timed_s >= budget_s for m in ready):
            break
        expected = _expected_rounds(ready, rounds, budget_s)
    return rounds


def _expected_rounds(ready: list[_Mode], done: int, budget_s: float) -> int:
    """How many rounds the run will likely take, from the timed seconds per round so far."""
    need = done
    for m in ready:
        per_round = m.timed_s / done if done else 0.0
        need = max(need, math.ceil(budget_s / per_round) if per_round > 0 else MAX_ROUNDS)
    return max(MIN_ROUNDS, done + 1, min(MAX_ROUNDS, need))


def _count_flops(module: Callable[..., Any], inputs: tuple[Any, ...]) -> tuple[int | None, str]:
    from torch.utils.flop_counter import FlopCounterMode

    try:
        counter = FlopCounterMode(display=False)
        with counter, quiet():
            module(*inputs)
        return int(counter.get_total_flops()), ""
    except Exception as e:
        return None, f"FLOPs could not be counted ({short_error(e)}): gflops is 0"



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
    memory_probe: MemoryProbe | None = None,
) -> BenchReport:
    """Benchmark one module in several modes against eager, interleaved, and check every output.

    Each mode is converted, called once (``first_call_ms``: conversion, export, compilation
    or packaging and the first call), warmed up (at least 3 more calls), its memory measured
    over one more call, then all modes are timed in interleaved rounds with
    ``torch.utils.benchmark.Timer`` under ``torch.inference_mode()``. A mode that does not
    apply or fails becomes a row with ``ok=False`` and a one-line reason; the others go on.

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
        memory_probe: how ``peak_mem_mb`` is measured (default: RSS on CPU,
            ``max_memory_allocated`` on CUDA); tests pass a fake one.

    Returns:
        A :class:`~jit_explorer.report.BenchReport`; rows in the order of ``modes``.

    Raises:
        InputError: an unknown mode, a bad device (CUDA missing), bad numbers, or a
            model that fails in eager mode.

    Example::

        >>> import torch
        >>> mlp = torch.nn.Sequential(torch.nn.Linear(4, 4)).eval()
        >>> rep = benchmark_module(mlp, (torch.randn(1, 4),), name="mlp", modes=["eager", "trace"], budget_s=0.2)
        >>> rep.results[1].correct
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
    cores, cores_why = machine.usable_cores_explained()
    n_threads = threads or cores
    factory = timer_factory or _torch_timer
    probe = memory_probe or probe_for(device)
    notes: list[str] = []
    if modes is not None and "eager" not in modes:
        notes.append("eager was added: it is the baseline for speedup and max_abs_diff")
    notes.append(
        f"threads: {n_threads} intra-op (torch.utils.benchmark.Timer num_threads); "
        f"{cores} usable cores ({cores_why})"
        + ("; more threads than usable cores" if n_threads > cores else "")
    )
    cpu_start = machine.cpu_sample()
    if progress:
        progress("measuring the device's peak (dense GEMM)", 0.0)
    measured = machine.measure_peak_gflops(device, n_threads)
    estimate, estimate_how = machine.estimate_peak_gflops(device, n_threads)
    notes.append(f"peak_gflops is {measured.method}; pct_of_peak is against it" if measured.gflops
                 else measured.method)
    notes.append(f"peak_estimate_gflops is an {estimate_how}" if estimate is not None else estimate_how)
    notes.append(probe.method)

    with tempfile.TemporaryDirectory(prefix="jit-explorer-bench-") as tmpdir:
        ctx = Ctx(module, inputs, device, n_threads, tmpdir)  # type: ignore[arg-type]
        states = [_Mode(m) for m in mode_names]
        with torch_threads(n_threads), torch.inference_mode():
            n = len(states)
            for i, m in enumerate(states):
                if progress:
                    progress(f"{m.name}: converting, first call and warm-up", 0.5 * i / n)
                _prepare(m, ctx, budget_s=budget_s, timer_factory=factory, probe=probe)
                if m.name == "eager" and m.error:
                    raise InputError(f"{name} fails in eager mode, so it cannot be benchmarked: {m.error}")
            flops, flop_note = _count_flops(module, inputs)  # after the first calls: they stay honest
            if flop_note:
                notes.append(flop_note)
            ready = [m for m in states if m.error is None]
            rounds = _run_rounds(ready, budget_s=budget_s, progress=progress, p0=0.5)
        for m in states:  # release converted programs (and their files) before the temp dir goes
            m.fn, m.timer = None, None
        if progress:  # the same count as the method note
            progress(f"done: {rounds} interleaved round{'s' if rounds != 1 else ''}", 1.0)
        notes.extend(ctx.notes)

    busy = machine.busy_note(cpu_start, machine.cpu_sample(), cores=cores)
    if busy:
        notes.append(busy)
    rows = rows_from_runs(states, flops=flops, peak=measured.gflops, device=device)
    notes.extend(verdict_notes(states, rows, device=device, rounds=rounds, max_rounds=MAX_ROUNDS,
                               min_rounds=MIN_ROUNDS, flops=flops, peak=measured.gflops,
                               min_warmup_calls=MIN_WARMUP_CALLS))
    if device.startswith("cuda"):
        notes.append(
            f"CUDA: {machine.device_name(device)}; every timed call ends with "
            f"torch.cuda.synchronize(); torch.backends.cudnn.benchmark={torch.backends.cudnn.benchmark}"
            + (" (cuDNN picks convolution algorithms by heuristics, not by trying them)"
               if not torch.backends.cudnn.benchmark else " (cuDNN tried algorithms during warm-up)")
        )
    return BenchReport(
        model=name,
        device=device,
        device_name=machine.device_name(device),
        threads=n_threads,
        torch_version=torch.__version__,
        batch=_batch_of(inputs),
        input=input_desc or _describe_inputs(inputs),
        peak_gflops=measured.gflops,
        peak_estimate_gflops=estimate,
        notes=tuple(notes),
        results=tuple(rows),
        fastest=fastest_mode(rows),
    )


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
    from .. import zoo

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


