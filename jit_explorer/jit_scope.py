"""A private TorchScript compilation unit per conversion, so that a server's conversions do not pile up.

Every ``torch.jit.trace`` / ``torch.jit.script`` registers what it compiles in the process-wide
compilation unit ``torch.jit._state._python_cu``: one fresh module type (``___torch_mangle_N``) per
traced submodule, its ``forward`` with its graph and its executor's profiled and optimized plans.
That unit never forgets (it has ``drop_all_functions`` and nothing per function), so a server that
traces ResNet-18 per request grew by ~6 MB a request (76 functions each time).

:func:`private_compilation_unit` points torch at a fresh unit for the duration of a block
(TorchScript's C++ side looks the unit up in ``torch.jit._state`` each time, as torch's own
``check_trace`` does with its fresh unit). A script module keeps the unit it was created in alive
(its object holds the unit strongly), so the unit lives exactly as long as the modules and functions
compiled in the block, and is freed with them. Python-side registries that would otherwise point into
the unit after the block (the concrete-type store, the script-class and function caches) are swapped or
restored, so nothing outside the block's results refers to it. The block holds
:data:`~jit_explorer.modes.common.jit_lock`: nothing else may compile while the unit is swapped.

Example::

    >>> import torch
    >>> with private_compilation_unit():
    ...     traced = torch.jit.trace(torch.nn.Linear(2, 2), (torch.ones(1, 2),))
    >>> traced(torch.ones(1, 2)).shape
    torch.Size([1, 2])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.jit._recursive as _recursive
import torch.jit._state as _state

from .modes.common import jit_lock

__all__ = ["private_compilation_unit", "global_function_count"]


def global_function_count() -> int:
    """How many functions the process-wide TorchScript compilation unit holds (grows with every leak)."""
    unit: Any = _state._python_cu  # torch's stub says get_functions returns None; it returns a list
    return len(unit.get_functions())


def _registries() -> tuple[Any, ...]:
    """The Python-side caches of script *classes*, whose types belong to the unit that compiled them.

    The caches of compiled *functions* (``_jit_caching_layer``, ``_jit_function_overload_caching``) are kept:
    a compiled function holds its own unit alive, their number is bounded by the library functions there are
    (``F.interpolate``…), and dropping them made a second conversion fail to compile an overloaded function
    again ("interpolate(Tensor input, int? size=None, …)": SSDlite scripted twice in one process).
    """
    return (_state._script_classes, _state._name_to_pyclass)


@contextlib.contextmanager
def private_compilation_unit() -> Iterator[torch._C.CompilationUnit]:
    """Compile everything TorchScript compiles inside the block into a fresh compilation unit.

    Yields the unit. On exit the process-wide unit, the concrete-type store and the caches are exactly
    what they were before, whatever happened inside.
    """
    with jit_lock:
        saved_cu = _state._python_cu
        saved_store = _recursive.concrete_type_store
        saved = [(registry, dict(registry)) for registry in _registries()]
        unit = torch._C.CompilationUnit()
        _state._python_cu = unit
        _recursive._python_cu = unit  # create_script_class looks classes up through its own import
        _recursive.concrete_type_store = _recursive.ConcreteTypeStore()  # its types would point into the unit
        try:
            yield unit
        finally:
            _state._python_cu = saved_cu
            _recursive._python_cu = saved_cu
            _recursive.concrete_type_store = saved_store
            for registry, items in saved:  # entries added in the block name the private unit's classes/functions
                registry.clear()
                registry.update(items)
