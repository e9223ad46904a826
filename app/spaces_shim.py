"""ZeroGPU support that costs nothing elsewhere.

On a Hugging Face ZeroGPU Space the ``spaces`` package is installed and a GPU is
attached only while a function decorated with ``spaces.GPU`` runs (in a forked
process). Everywhere else (a laptop, CI, a CPU Space, a dedicated GPU Space
without the package) :func:`gpu` returns the function unchanged.

Import this module before anything initialises CUDA (``space.py`` does).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["gpu", "HAS_SPACES", "ZERO_GPU", "ON_SPACES"]

F = TypeVar("F", bound=Callable[..., Any])

try:  # pragma: no cover - only on Spaces
    import spaces as _spaces
except ImportError:
    _spaces = None

HAS_SPACES: bool = _spaces is not None
"""The ``spaces`` package is importable."""
ZERO_GPU: bool = HAS_SPACES and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")
"""Running on a ZeroGPU Space (the GPU exists only inside ``@spaces.GPU`` calls)."""
ON_SPACES: bool = bool(os.environ.get("SPACE_ID"))
"""Running on any Hugging Face Space."""


def gpu(fn: F | None = None, *, duration: int = 120) -> Any:
    """Decorate the GPU path: ``spaces.GPU(duration=...)`` when available, else the function itself.

    Args:
        fn: the function (or ``None`` when used as ``@gpu(duration=...)``).
        duration: seconds of GPU time ZeroGPU reserves for one call.

    Returns:
        The decorated function, or ``fn`` unchanged without the ``spaces`` package.

    Example::

        >>> @gpu(duration=60)
        ... def f(x):
        ...     return x + 1
        >>> f(1)
        2
    """

    def wrap(f: F) -> F:
        if _spaces is None:
            return f
        return _spaces.GPU(duration=duration)(f)

    return wrap(fn) if fn is not None else wrap
