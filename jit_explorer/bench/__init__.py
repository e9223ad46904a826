"""The benchmark engine: eager vs TorchScript vs torch.export/AOTInductor vs torch.compile vs ONNX Runtime.

One concept per module:

* :mod:`.machine`: usable cores, device names, the measured GEMM peak and the estimate;
* :mod:`.stats`: median, p90, IQR and bootstrap 95% intervals;
* :mod:`.modes`: one builder per capture mode (the registry);
* :mod:`.memory`: ``peak_mem_mb`` probes (RSS on CPU, ``max_memory_allocated`` on CUDA);
* :mod:`.runner`: conversion, warm-up, interleaved timing (:func:`benchmark`, :func:`benchmark_module`);
* :mod:`.verdicts`: rows, ``correct``, ``same_as_eager``, ``fastest``, and the notes;
* :mod:`.render`: Markdown.

Example::

    >>> from jit_explorer import bench
    >>> report = bench.benchmark("resnet18", modes=["eager", "trace+freeze"], budget_s=2.0)  # doctest: +SKIP
    >>> report.fastest  # doctest: +SKIP
    'trace+freeze'
    >>> print(bench.to_markdown([report]))  # doctest: +SKIP
"""

from __future__ import annotations

from . import machine, memory, modes, render, runner, stats, verdicts
from .machine import (
    PeakMeasurement,
    estimate_peak_gflops,
    measure_peak_gflops,
    usable_cores,
)
from .modes import ALL_MODES, CPU_MODES, CUDA_MODES, default_modes
from .render import to_markdown
from .runner import (
    DEFAULT_BUDGET_S,
    MAX_ROUNDS,
    MIN_ROUNDS,
    MIN_WARMUP_CALLS,
    TimerFactory,
    TimerLike,
    benchmark,
    benchmark_module,
)
from .stats import median_ci_ms, percentile, summarize
from .verdicts import fastest_mode

__all__ = [
    "CPU_MODES",
    "CUDA_MODES",
    "ALL_MODES",
    "DEFAULT_BUDGET_S",
    "MIN_WARMUP_CALLS",
    "MAX_ROUNDS",
    "MIN_ROUNDS",
    "default_modes",
    "usable_cores",
    "measure_peak_gflops",
    "estimate_peak_gflops",
    "PeakMeasurement",
    "benchmark_module",
    "benchmark",
    "to_markdown",
    "summarize",
    "percentile",
    "median_ci_ms",
    "fastest_mode",
    "TimerLike",
    "TimerFactory",
    "machine",
    "memory",
    "modes",
    "render",
    "runner",
    "stats",
    "verdicts",
]
