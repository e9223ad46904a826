"""Peak memory of one mode: how much its program and one call add to what was there before.

``peak_mem_mb`` of a mode = (peak memory during one steady-state call, after
warm-up) minus (memory in use just before the mode was built). It counts what
the conversion keeps (frozen weight copies, compiled kernels, an ONNX Runtime
session and arena) plus one call's working memory (activations, workspaces);
weights shared with the eager module were already there and are not counted.

* CPU: resident set size from ``/proc/self/status``. Before the baseline and
  before the measured call, Python's garbage is collected and glibc's
  ``malloc_trim(0)`` hands freed heap pages back to the kernel, so memory an
  earlier mode freed cannot hide this mode's use; the peak is ``VmHWM`` after
  resetting it by writing ``5`` to ``/proc/self/clear_refs``. Where that file
  cannot be written (non-Linux, some sandboxes) there is no CPU figure.
* CUDA: ``torch.cuda.memory_allocated`` before building,
  ``torch.cuda.reset_peak_memory_stats`` then ``max_memory_allocated`` around
  one synchronised call. Memory outside PyTorch's allocator (ONNX Runtime's CUDA
  arena) is not seen, so that mode gets no figure.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import re
from pathlib import Path
from typing import Protocol

import torch

__all__ = ["MemoryProbe", "RssProbe", "CudaProbe", "NullProbe", "probe_for"]


class MemoryProbe(Protocol):
    """What the runner needs to measure one mode's memory (fakes in tests fit it)."""

    method: str

    def settle(self) -> None:
        """Free what can be freed (garbage, allocator caches) before reading a baseline."""
        ...

    def current_mb(self) -> float | None:
        """Memory in use now, MiB (None when unknown)."""
        ...

    def reset_peak(self) -> bool:
        """Start a new peak window; False when the peak cannot be reset."""
        ...

    def peak_mb(self) -> float | None:
        """The peak since :meth:`reset_peak`, MiB (None when unknown)."""
        ...


def _status_kb(key: str) -> float | None:
    try:
        m = re.search(rf"^{key}:\s+(\d+)\s+kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return float(m.group(1)) if m else None


class RssProbe:
    """CPU: resident set size and its high-water mark (``VmRSS``/``VmHWM``), reset via ``clear_refs``."""

    method = ("peak_mem_mb (CPU): growth of the resident set (VmHWM after resetting it via /proc/self/clear_refs) "
              "during one call after warm-up, over the RSS before the mode was built; gc + glibc malloc_trim "
              "before each reading so memory freed by other modes does not hide this one's; counts the "
              "converted program's own memory + one call's working memory, not the shared eager weights")

    def __init__(self) -> None:
        self._trim = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            self._trim = libc.malloc_trim
        except (OSError, AttributeError):
            pass

    def settle(self) -> None:
        """Collect garbage and return freed heap pages to the kernel (glibc ``malloc_trim``)."""
        gc.collect()
        if self._trim is not None:
            self._trim(0)

    def current_mb(self) -> float | None:
        """``VmRSS`` in MiB."""
        kb = _status_kb("VmRSS")
        return kb / 1024 if kb is not None else None

    def reset_peak(self) -> bool:
        """Reset ``VmHWM`` to the current RSS (Linux 4.0+: write ``5`` to ``/proc/self/clear_refs``)."""
        try:
            Path("/proc/self/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def peak_mb(self) -> float | None:
        """``VmHWM`` in MiB."""
        kb = _status_kb("VmHWM")
        return kb / 1024 if kb is not None else None


class CudaProbe:
    """CUDA: PyTorch's caching allocator statistics (``max_memory_allocated``)."""

    method = ("peak_mem_mb (CUDA): torch.cuda.max_memory_allocated during one synchronised call after warm-up "
              "(after reset_peak_memory_stats), minus memory_allocated before the mode was built; memory "
              "outside PyTorch's allocator (ONNX Runtime's arena) is not seen")

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)

    def settle(self) -> None:
        """Collect garbage and wait for the device."""
        gc.collect()
        torch.cuda.synchronize(self.device)

    def current_mb(self) -> float | None:
        """``torch.cuda.memory_allocated`` in MiB."""
        return torch.cuda.memory_allocated(self.device) / 2**20

    def reset_peak(self) -> bool:
        """``torch.cuda.reset_peak_memory_stats``."""
        torch.cuda.reset_peak_memory_stats(self.device)
        return True

    def peak_mb(self) -> float | None:
        """``torch.cuda.max_memory_allocated`` in MiB."""
        return torch.cuda.max_memory_allocated(self.device) / 2**20


class NullProbe:
    """No memory figures (used when none can be measured)."""

    method = "peak_mem_mb: not measured"

    def settle(self) -> None:
        """Nothing to do."""

    def current_mb(self) -> float | None:
        """Unknown."""
        return None

    def reset_peak(self) -> bool:
        """Cannot reset."""
        return False

    def peak_mb(self) -> float | None:
        """Unknown."""
        return None


def probe_for(device: str) -> MemoryProbe:
    """The memory probe of a device: :class:`CudaProbe` on CUDA, else :class:`RssProbe`.

    Example::

        >>> type(probe_for("cpu")).__name__
        'RssProbe'
    """
    if str(device).startswith("cuda"):
        return CudaProbe(device)
    return RssProbe()
