"""Pitfall detection: small named checks that turn evidence into :class:`~jit_explorer.report.Pitfall` records.

The package, one concern a module:

* :mod:`.checks` — the registry (:data:`REGISTRY`, :func:`register`), the :class:`Context` a check
  reads, the checks themselves and :func:`detect` (runs them in order, merges what several confirm);
* :mod:`.static` — facts read from the source with :mod:`ast` (nothing executed);
* :mod:`.dynamic` — facts observed by running the code (the eager run, variants of the inputs).

Example::

    >>> from jit_explorer.pitfalls import REGISTRY
    >>> "tracer-warnings" in REGISTRY and "divergence" in REGISTRY
    True
"""

from __future__ import annotations

from .checks import (
    DYNAMIC_BUDGET_S,
    DYNAMIC_CHECKS,
    REGISTRY,
    Check,
    Context,
    classify_tracer_warning,
    detect,
    register,
)

__all__ = ["Context", "Check", "REGISTRY", "register", "detect", "classify_tracer_warning", "DYNAMIC_BUDGET_S",
           "DYNAMIC_CHECKS"]
