"""``torch.jit.trace``: run the entry once on the example inputs and record the tensor ops it saw.

Control flow on tensor values, Python numbers taken from tensors and shapes are frozen into the
trace; the pitfall checks (:mod:`jit_explorer.pitfalls`) find where. A failed trace is a result
pinned to the user's line, never an exception.
"""

from __future__ import annotations

import time

import torch

from . import CaptureMode, Job, Outcome, failure, register
from .common import user_line_of_exception
from .torchscript import LEGACY, VIEWS, run_torchscript

__all__ = ["MODE"]


def convert(job: Job) -> Outcome:
    """Trace ``job.obj`` on ``job.inputs`` (``check_trace`` from the options) and read its views."""
    start = time.perf_counter()
    check = bool(job.options.get("check_trace", False))
    from ..jit_scope import private_compilation_unit  # (imports this package: not at module level)

    try:
        # every trace makes new mangled types: in a private unit they live as long as the traced module, no longer
        with private_compilation_unit():
            result, traced = run_torchscript(lambda: torch.jit.trace(job.obj, job.inputs, check_trace=check),
                                             job.inputs, user_files=job.user_files, clean=job.clean)
    except Exception as e:  # a failed trace is a result, not a crash
        line = user_line_of_exception(e, job.user_files)
        message = f"torch.jit.trace failed ({type(e).__name__}): {job.clean(str(e).strip())}"
        return Outcome(failure(message, line, seconds=time.perf_counter() - start, legacy=LEGACY), exception=e)
    return Outcome(result, compiled=traced)


MODE = register(CaptureMode(
    name="trace",
    title="torch.jit.trace",
    summary="runs the code once on the example inputs and records the tensor ops it saw (control flow is frozen)",
    views=VIEWS,
    detects=("tensor-to-bool", "tensor-to-number", "tensor-iteration", "shape-specialization", "constant-tensor",
             "python-side-effect", "nondeterministic", "container-output"),
    convert=convert,
    torchscript=True,
))
