"""Op docs as data: what every op kind on screen is and what it means for the reader.

:func:`doc_for` answers for any spelling an IR view uses:

- TorchScript node kinds ``aten::conv2d``, ``prim::GetAttr``, ``prim::DifferentiableGraph_0``;
- export / FX spellings ``aten.conv2d.default``, ``torch.ops.aten.sym_size.int``, ``ops.prim.NumToTensor``
  (TorchScript ``.code``), ``torch.ops.higher_order.cond``, ``torch.cond``, ``getitem``, ``placeholder``;
- the ``torch.relu(...)`` calls of TorchScript ``.code`` (``torch.x`` where ``aten::x`` exists).

The schema comes from torch's registered operators (``torch._C._jit_get_schemas_for_operator``,
``torch.ops.aten.<name>.<overload>._schema``); the summary from torch's own docstring of
``torch.Tensor.<name>`` / ``torch.<name>`` / ``torch.nn.functional.<name>`` (first sentence) where
one exists, else from the hand-written tables below (``prim::`` ops, higher-order ops, FX tokens,
the private ATen ops TorchScript emits). :func:`explain_value` and :func:`explain_type` explain
``%x.1`` value names and ``Float(1, 3, strides=[...], ...)`` types.

Example::

    >>> doc = doc_for("aten::relu")
    >>> doc.op, doc.schemas[0].startswith("aten::relu(Tensor self)")
    ('aten::relu', True)
    >>> doc_for("prim::GetAttr").origin
    'table'
    >>> ops_in("%2 : Tensor = aten::relu(%x.1)\\n%3 = prim::GetAttr[name=\\"w\\"](%self)")
    ['aten::relu', 'prim::GetAttr']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OpDoc",
    "doc_for",
    "ops_in",
    "canonical",
    "explain_value",
    "explain_type",
    "value_kind",
    "VALUE_DOCS",
    "TYPE_DOCS",
    "PRIM_DOCS",
    "FX_DOCS",
]


@dataclass(frozen=True)
class OpDoc:
    """What one op kind is.

    Attributes:
        op: the canonical spelling, ``aten::conv2d`` (or ``aten::sym_size.int`` when an overload was named).
        schemas: the registered schema(s), e.g. ``aten::relu(Tensor self) -> Tensor``; empty when torch
            registers none (``prim::GetAttr`` is built into the IR, not an operator).
        summary: one or two sentences on what it does.
        meaning: what it means for the reader of this IR (may be empty).
        origin: where the summary came from: ``torch`` (torch's docstring), ``table`` (written here)
            or ``schema`` (only the schema is known: no docstring, no table entry).
    """

    op: str
    schemas: tuple[str, ...]
    summary: str
    meaning: str
    origin: str

    @property
    def text(self) -> str:
        """Plain tooltip text: the op, its first schemas, the summary and the meaning."""
        parts = [self.op]
        if self.schemas:
            parts.append(
                "\n".join(self.schemas[:3])
                + (f"\n(+{len(self.schemas) - 3} more overloads)" if len(self.schemas) > 3 else "")
            )
        parts.append(self.summary)
        if self.meaning:
            parts.append(self.meaning)
        return "\n\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        """The doc as JSON."""
        return {
            "op": self.op,
            "schemas": list(self.schemas),
            "summary": self.summary,
            "meaning": self.meaning,
            "origin": self.origin,
        }


# --------------------------------------------------------------------------- tables

#: ``prim::`` node kinds (and a few other namespaces' built-ins): (summary, meaning for the reader)
PRIM_DOCS: dict[str, tuple[str, str]] = {
    "prim::GetAttr": (
        "Reads an attribute (a submodule, parameter, buffer or constant) of a module object, "
        "like `self.fc1` or `self.fc1.weight`.",
        "Script keeps the module tree: weights are looked up at run time, so loading other weights works.",
    ),
    "prim::SetAttr": (
        "Writes an attribute of a module object (`self.count = ...`).",
        "A side effect on the module: script keeps it, a trace does not record it.",
    ),
    "prim::CallMethod": (
        "Calls a method (usually `forward`) of a submodule object.",
        "The `graph` view keeps submodule calls; the `inlined` view replaces each by the callee's body.",
    ),
    "prim::CallFunction": (
        "Calls a TorchScript function value (a compiled free function, or the executor's fallback).",
        "In an optimized graph, `fallback_function` is the unoptimized program run when a guard fails.",
    ),
    "prim::Constant": (
        "A constant value (number, string, list, device, None, or a tensor) baked into the graph.",
        "In a trace, a tensor or number constant is often a value the trace froze from the example input.",
    ),
    "prim::ListConstruct": ("Builds a list from its inputs (`[a, b]`), e.g. the sizes passed to `view` or `cat`.", ""),
    "prim::ListUnpack": (
        "Unpacks a list into separate values (`a, b = xs`); the length must match.",
        "A trace fixes the list length seen with the example input.",
    ),
    "prim::tolist": (
        "Converts a tensor into a (nested) Python list of numbers, as `t.tolist()` does.",
        "The values leave the graph: in a trace they are frozen, in script they are read at run time.",
    ),
    "prim::TupleConstruct": ("Builds a tuple from its inputs (a function returning several values).", ""),
    "prim::TupleUnpack": ("Unpacks a tuple into separate values (`a, b = f(x)`).", ""),
    "prim::TupleIndex": ("Reads one element of a tuple by index (`t[i]`).", ""),
    "prim::DictConstruct": (
        "Builds a dict from alternating keys and values (`{'a': x}`).",
        "torch.jit.trace cannot return dicts unless strict=False; script can.",
    ),
    "prim::DictIndex": ("Reads a dict entry by key (`d[k]`).", ""),
    "prim::If": (
        "Control flow: runs block0 when the condition is true, else block1; the blocks' `-> (...)` "
        "values become the outputs.",
        "Only script (or torch.cond) keeps a branch; a trace records just the side the example input took.",
    ),
    "prim::Loop": (
        "Control flow: a loop `prim::Loop(max_trip_count, start_condition, carried...)`; its body block "
        "gets the iteration number and the carried values and returns the next condition and values.",
        "Script keeps loops for any length; a trace unrolls them for the example input's length.",
    ),
    "prim::RaiseException": (
        "Raises an exception with the given message (`raise ValueError(...)`).",
        "A check kept from the source; traces drop such checks.",
    ),
    "prim::Uninitialized": (
        "A placeholder for a value that is not set on this path (e.g. after a raise).",
        "Never read at run time; the compiler needs a value of the right type for every block output.",
    ),
    "prim::unchecked_cast": (
        "Refines a value's type without a run-time check (Optional[T] -> T after `is not None`).",
        "",
    ),
    "prim::NumToTensor": (
        "Wraps a Python number (int, float, bool) into a 0-dim tensor.",
        "In a trace, `x.size(0)` becomes aten::size + NumToTensor so the shape stays dynamic only "
        "where tensor ops consume it.",
    ),
    "prim::device": ("Reads a tensor's device (`x.device`).", "Branching on it freezes the branch in a trace."),
    "prim::dtype": (
        "Reads a tensor's dtype (`x.dtype`) as an int code.",
        "Branching on it freezes the branch in a trace.",
    ),
    "prim::layout": ("Reads a tensor's layout (`x.layout`).", ""),
    "prim::is_cuda": (
        "Whether a tensor is on a CUDA device (`x.is_cuda`).",
        "Branching on it freezes the branch in a trace.",
    ),
    "prim::requires_grad": ("Whether a tensor requires grad (`x.requires_grad`).", ""),
    "prim::shape": ("A tensor's sizes as a list (`x.shape`).", ""),
    "prim::min": ("The smallest of its int/float inputs, or of a list (`min(a, b)`).", ""),
    "prim::max": ("The largest of its int/float inputs, or of a list (`max(a, b)`).", ""),
    "prim::abs": ("The absolute value of a number (`abs(n)`).", ""),
    "prim::data": ("A tensor's data without autograd history (`x.data`).", ""),
    "prim::ConstantChunk": (
        "Splits a tensor into a fixed number of chunks along a dimension (an optimized `chunk`).",
        "The optimizer rewrote `aten::chunk` + `ListUnpack` into this when the count is known.",
    ),
    "prim::IfThenElse": ("Picks one of two values by a condition (`a if c else b`) without a block.", ""),
    "prim::isinstance": ("A type test (`isinstance(x, T)`) on a value; usually folded away at compile time.", ""),
    "prim::TypeCheck": (
        "Optimizer guard: checks that the inputs have the shapes, strides, dtypes and devices seen "
        "while profiling; its last output is true when they all match.",
        "Inserted by the profiling executor: when the check fails the unoptimized fallback runs.",
    ),
    "prim::RequiresGradCheck": (
        "Optimizer guard: checks each input's requires_grad against what profiling saw.",
        "Inserted by the profiling executor before a DifferentiableGraph: autograd-free "
        "inputs take the fast path, others the fallback.",
    ),
    "prim::TensorExprDynamicGuard": (
        "Optimizer guard for a dynamic-shape fusion group: checks input ranks and strides before the group runs.",
        "Inserted by the profiling executor.",
    ),
    "prim::Guard": ("Optimizer guard (legacy executor): checks that a value matches its profiled type.", ""),
    "prim::profile": (
        "Profiling node: records the shape, dtype and device flowing through this value during the first runs.",
        "Only in the profiling graph; removed once the executor has specialised the program.",
    ),
    "prim::profile_ivalue": (
        "Profiling node for a non-tensor value (records e.g. a constant-looking int).",
        "Only in the profiling graph.",
    ),
    "prim::BailOut": (
        "Optimizer guard (bailout executor): checks a profiled type; on mismatch it leaves the "
        "optimized code and resumes in the unoptimized graph.",
        "Inserted by the JIT, not from your source.",
    ),
    "prim::BailoutTemplate": ("The unoptimized graph a BailOut resumes in.", "Inserted by the JIT."),
    "prim::DifferentiableGraph": (
        "A subgraph that autograd treats as one op: its forward runs as a unit and a "
        "generated backward graph computes its gradients.",
        "The optimizer grouped these nodes so they can be fused/optimized together.",
    ),
    "prim::TensorExprGroup": (
        "A fusion group compiled by NNC (TensorExpr) into one kernel.",
        "The optimizer fused the ops inside into one loop: fewer passes over memory.",
    ),
    "prim::TensorExprDynamicGroup": (
        "An NNC fusion group specialised for dynamic shapes.",
        "The optimizer fused the ops inside; guards check the shapes first.",
    ),
    "prim::FusionGroup": (
        "A fusion group of the legacy fuser: several pointwise ops compiled into one kernel.",
        "The optimizer fused the ops inside.",
    ),
    "prim::CudaFusionGroup": (
        "A fusion group of nvFuser (CUDA) compiled into one GPU kernel.",
        "The optimizer fused the ops inside.",
    ),
    "prim::oneDNNFusionGroup": ("A fusion group handed to oneDNN Graph (CPU).", "The optimizer fused the ops inside."),
    "prim::StaticSubgraph": ("A subgraph run by the Static Runtime.", ""),
    "prim::FallbackGraph": (
        "The unoptimized graph kept for when an optimized group's guard fails.",
        "Inserted by the JIT.",
    ),
    "prim::AutogradZero": (
        "A gradient known to be zero (undefined), so the backward can skip work.",
        "Appears in backward/optimized graphs when a gradient is not needed.",
    ),
    "prim::AutogradAdd": ("Adds two gradients, treating undefined ones as zero.", "Appears in backward graphs."),
    "prim::AutogradAnyNonZero": ("Whether any of the given gradients is defined.", "Appears in backward graphs."),
    "prim::AutogradAllZero": ("Whether all of the given gradients are undefined.", "Appears in backward graphs."),
    "prim::AutogradAllNonZero": ("Whether all of the given gradients are defined.", "Appears in backward graphs."),
    "prim::SumToSize": ("Sums a gradient back down to a broadcast input's size.", "Appears in backward graphs."),
    "prim::BroadcastSizes": ("Computes the broadcast size of several tensors.", "Appears in fused/backward graphs."),
    "prim::ChunkSizes": ("Computes the sizes of the chunks of a fused chunk.", ""),
    "prim::MMTreeReduce": ("A sum of matrix products computed as one batched reduction (an optimization).", ""),
    "prim::MMBatchSide": ("Batches several matmuls that share one side (an optimization).", ""),
    "prim::Enter": ("Enters a `with` block (calls `__enter__`).", ""),
    "prim::Exit": ("Leaves a `with` block (calls `__exit__`).", ""),
    "prim::With": ("A `with` statement block.", ""),
    "prim::Return": ("Returns from a function (internal, before exit transforms).", ""),
    "prim::Break": ("`break` out of a loop (internal, before exit transforms).", ""),
    "prim::Continue": ("`continue` a loop (internal, before exit transforms).", ""),
    "prim::Print": ("Prints its inputs (`print(...)`).", "A side effect kept by script, dropped by a trace."),
    "prim::PythonOp": (
        "A call into Python that TorchScript cannot compile (a traced autograd.Function or "
        "@torch.jit.ignore'd function).",
        "Needs the Python interpreter: it cannot run from C++.",
    ),
    "prim::CreateObject": ("Allocates an instance of a TorchScript class.", ""),
    "prim::Closure": ("A closure (a nested function with the values it captures).", ""),
    "prim::TupleSlice": ("A slice of a tuple (`t[1:3]`).", ""),
    "prim::ListIndex": ("Reads one element of a list by index.", ""),
    "prim::EnumValue": ("The value of an Enum member.", ""),
    "prim::EnumName": ("The name of an Enum member.", ""),
    "prim::AutogradAnyNonZeroGuard": ("Guards that gradients are defined.", ""),
    "prim::rpc_async": ("An asynchronous remote procedure call (torch.distributed.rpc).", ""),
    "prim::unchecked_unwrap_optional": ("Unwraps an Optional value without a check.", ""),
    "prim::dict": ("Builds an empty dict or copies one (`dict(...)`).", ""),
    "prim::id": ("The identity of an object (`id(x)`).", ""),
    "prim::VarConcat": ("Concatenates a variable number of tensors (an optimized `cat`).", ""),
    "prim::VarStack": ("Stacks a variable number of tensors (an optimized `stack`).", ""),
    "prim::Store": ("Stores to a local variable (internal, before SSA conversion).", ""),
    "prim::Load": ("Loads a local variable (internal, before SSA conversion).", ""),
    "prim::ignored_python_op": ("A Python function marked @torch.jit.ignore (runs only in Python).", ""),
    "prim::StringIndex": ("One character of a string (`s[i]`).", ""),
    "prim::Param": ("The graph's inputs (internal).", ""),
    "prim::Drop": ("Drops values no longer needed (interpreter internal).", ""),
    "prim::MethodCall": ("A call of a method on an object (interpreter internal).", ""),
    "aten::Bool": (
        "Converts a value (a one-element tensor or a number) to a Python bool.",
        "A tensor turned into a bool: in a trace the result is frozen (tensor-to-bool pitfall).",
    ),
    "aten::Int": (
        "Converts a value (a one-element tensor or a number) to a Python int.",
        "A tensor turned into an int: in a trace the result is frozen as a constant.",
    ),
    "aten::Float": (
        "Converts a value (a one-element tensor or a number) to a Python float.",
        "A tensor turned into a float: in a trace the result is frozen as a constant.",
    ),
    "aten::ScalarImplicit": (
        "Converts a 0-dim tensor to a Scalar argument (an implicit `.item()` for ops that take a Scalar).",
        "A tensor used where a number is expected.",
    ),
    "aten::IntImplicit": ("Converts a 0-dim integer tensor to an int argument.", ""),
    "aten::FloatImplicit": ("Converts a 0-dim float tensor to a float argument.", ""),
    "aten::__getitem__": ("Indexing a list, dict, string or tuple (`xs[i]`, `d[k]`).", ""),
    "aten::__contains__": ("Membership test (`k in xs`, `k in d`).", ""),
    "aten::__is__": ("Identity test (`a is b`), mostly `x is None`.", "Often folded away once the type is known."),
    "aten::__isnot__": (
        "Negated identity test (`a is not b`), mostly `x is not None`.",
        "Often folded away once the type is known.",
    ),
    "aten::__not__": ("Logical not of a bool (`not c`).", ""),
    "aten::__and__": ("`a & b`: logical and of bools/ints, or elementwise bitwise and of tensors.", ""),
    "aten::__or__": ("`a | b`: logical or of bools/ints, or elementwise bitwise or of tensors.", ""),
    "aten::__xor__": ("`a ^ b`: exclusive or.", ""),
    "aten::__range_length": (
        "The number of iterations of `range(lo, hi, step)`.",
        "Emitted for `for i in range(...)` loops.",
    ),
    "aten::__derive_index": (
        "The loop variable of `range(start, stop, step)` from the iteration number: start + index * step.",
        "Emitted for `for i in range(...)` loops.",
    ),
    "aten::__round_to_zero_floordiv": (
        "Integer division rounding toward zero (used by `range` length computations).",
        "",
    ),
    "aten::format": ("Formats a string (`'{} {}'.format(a, b)`, f-strings).", "Usually builds an error message."),
    "aten::append": ("Appends to a list (`xs.append(v)`); mutates the list in place.", ""),
    "aten::len": (
        "The length of a list, string, dict or tensor (`len(x)`).",
        "A trace freezes `len(x)` of a tensor as a constant.",
    ),
    "aten::list": ("Makes a (copy of a) list (`list(xs)`).", ""),
    "aten::dim": ("The number of dimensions of a tensor (`x.dim()`).", "A trace freezes it as a constant."),
    "aten::size": (
        "The size of a tensor (`x.size()` / `x.size(d)` / `x.shape[d]`).",
        "Script reads it at run time; a trace records the op but uses it as an int only through NumToTensor.",
    ),
    "aten::lstm": (
        "A whole multi-layer LSTM (all time steps) as one ATen op; `nn.LSTM` calls it with its weights as a list.",
        "One op for the whole recurrence: neither trace nor script unrolls it.",
    ),
    "aten::gru": (
        "A whole multi-layer GRU (all time steps) as one ATen op; `nn.GRU` calls it with its weights as a list.",
        "One op for the whole recurrence: neither trace nor script unrolls it.",
    ),
    "aten::rnn_tanh": ("A whole multi-layer Elman RNN with tanh (all time steps) as one ATen op.", ""),
    "aten::rnn_relu": ("A whole multi-layer Elman RNN with ReLU (all time steps) as one ATen op.", ""),
    "aten::slice": (
        "Basic slicing along one dimension, `x[start:end:step]`; returns a view (no copy).",
        "In a trace, `end` is often the huge sentinel 9223372036854775807, which means 'to the end'.",
    ),
    "aten::_convolution": (
        "The general convolution ATen op behind conv1d/2d/3d and transposed convolutions, with every option explicit.",
        "A trace records it instead of `aten::conv2d` because it traces below nn.functional.",
    ),
    "aten::lift_fresh": (
        "Marks a tensor created from Python data (`torch.tensor(...)`) as a fresh constant input.",
        "A literal tensor in your source: it is a constant of the program.",
    ),
    "aten::tensor": ("Builds a tensor from Python data (`torch.tensor([...])`).", ""),
    "aten::warn": ("Issues a Python warning (`warnings.warn`).", ""),
    "aten::dict": ("Builds a dict (`dict()`).", ""),
    "aten::keys": ("The keys of a dict (`d.keys()`).", ""),
    "aten::values": ("The values of a dict (`d.values()`).", ""),
    "aten::items": ("The (key, value) pairs of a dict (`d.items()`).", ""),
    "aten::_set_item": ("Sets a list or dict entry (`xs[i] = v`, `d[k] = v`).", ""),
    "aten::str": ("Converts a value to a string (`str(x)`).", ""),
    "aten::_assert_scalar": (
        "Asserts that a symbolic scalar condition holds at run time (from `torch._check`, or a guard export inserted).",
        "Export turned an assumption about a dynamic size into a run-time check.",
    ),
    "aten::sym_size": (
        "The size of one dimension (or all) of a tensor, as a symbolic int (SymInt).",
        "A dynamic dimension: the exported program works for other sizes.",
    ),
    "aten::sym_numel": ("The number of elements of a tensor, as a symbolic int.", "A dynamic size."),
    "aten::sym_stride": ("The stride of one dimension of a tensor, as a symbolic int.", "A dynamic size."),
    "aten::sym_storage_offset": ("The storage offset of a tensor, as a symbolic int.", ""),
    "aten::sym_constrain_range_for_size": (
        "Tells export a symbolic int is a valid size within a range.",
        "From `torch._check_is_size`.",
    ),
    "aten::_assert_async": ("Asserts that a tensor is true without waiting for the device.", ""),
    "aten::_local_scalar_dense": (
        "Reads a one-element tensor's value as a number (what `.item()` lowers to).",
        "A data-dependent value: export makes it an unbacked symbol.",
    ),
    "aten::alias": ("Returns a view sharing the tensor's data (no copy).", ""),
    "aten::detach_": ("Detaches a tensor from the autograd graph in place.", ""),
    "aten::copy_": ("Copies a tensor's values into `self` in place.", ""),
    "aten::_to_copy": ("Copies a tensor to another dtype/device/layout (what `.to` lowers to when it copies).", ""),
    "aten::_native_batch_norm_legit_no_training": (
        "Batch normalisation in eval mode (running statistics), as export lowers it.",
        "",
    ),
    "aten::_native_batch_norm_legit_functional": (
        "Batch normalisation in training mode, functional form (export).",
        "",
    ),
    "aten::__interpolate": ("Resizes a tensor (`F.interpolate`).", ""),
    "aten::__upsample_bilinear": ("Bilinear upsampling (`F.upsample_bilinear`).", ""),
    "aten::_shape_as_tensor": ("A tensor's shape as a 1-D tensor (what `x.shape` traces to for ONNX).", ""),
    "aten::_unwrap_optional": ("Unwraps an Optional value, failing when it is None.", ""),
    "aten::_size_if_not_equal": ("The size of a tensor if it differs from another's (autograd internal).", ""),
    "aten::_grad_sum_to_size": ("Sums a gradient down to a size (autograd internal, for broadcasting).", ""),
    "aten::_autocast_to_reduced_precision": ("Casts for autocast (mixed precision).", ""),
    "aten::_autocast_to_full_precision": ("Casts back to full precision (autocast).", ""),
    "aten::has_torch_function": ("Whether an argument overrides __torch_function__ (always false in TorchScript).", ""),
    "aten::is_scripting": ("True when running as TorchScript (`torch.jit.is_scripting()`).", ""),
    "aten::_set_grad_enabled": ("Turns autograd on or off (`torch.no_grad()` / `torch.enable_grad()`).", ""),
    "aten::wait": ("Waits for a future (`torch.jit.wait`).", ""),
    "aten::scalar_tensor": ("Makes a 0-dim tensor from a number.", ""),
    "aten::dropout_": (
        "Dropout, in place: in eval mode it does nothing.",
        "Check that the model is in eval mode before tracing.",
    ),
    "aten::_make_per_tensor_quantized_tensor": ("Builds a quantized tensor.", ""),
    # export / FX / higher-order ops
    "higher_order::cond": (
        "`torch.cond(pred, true_fn, false_fn, operands)`: data-dependent control flow that export and "
        "torch.compile keep as one op with both branches as subgraphs.",
        "The replacement for an `if` on a tensor value: both branches are in the program.",
    ),
    "higher_order::while_loop": (
        "`torch._higher_order_ops.while_loop(cond_fn, body_fn, carried)`: a loop kept in the graph "
        "with its condition and body as subgraphs.",
        "The replacement for a data-dependent Python loop.",
    ),
    "higher_order::map_impl": ("`torch._higher_order_ops.map`: applies a subgraph to each slice of a tensor.", ""),
    "higher_order::scan": ("A scan (prefix computation) with its body as a subgraph.", ""),
    "higher_order::wrap_with_set_grad_enabled": ("Runs a subgraph with autograd turned on or off.", ""),
    "higher_order::wrap_with_autocast": ("Runs a subgraph under autocast.", ""),
    "higher_order::auto_functionalized": ("Runs a mutating custom op in a functional form.", ""),
    "higher_order::invoke_subgraph": ("Calls a shared subgraph.", ""),
    "higher_order::flex_attention": ("FlexAttention with its score and mask functions as subgraphs.", ""),
}

#: FX / export node tokens (``%x : [num_users=1] = placeholder[target=x]``, ``operator.getitem``)
FX_DOCS: dict[str, tuple[str, str]] = {
    "fx::placeholder": (
        "An input of the graph (a user input, or for export a lifted parameter/buffer/constant).",
        "Export lifts weights to inputs: `p_fc1_weight` is `self.fc1.weight`.",
    ),
    "fx::output": ("The graph's outputs.", ""),
    "fx::get_attr": ("Reads an attribute of the GraphModule (a submodule, parameter or a branch's subgraph).", ""),
    "fx::call_function": ("A call of a function (an ATen op or a Python function) in an FX graph.", ""),
    "fx::call_method": ("A call of a Tensor method in an FX graph.", ""),
    "fx::call_module": ("A call of a submodule in an FX graph (Dynamo graphs before lowering).", ""),
    "fx::getitem": (
        "`operator.getitem`: picks one output of an op that returns several (`out[0]`).",
        "Not a copy: just names one result.",
    ),
    "fx::sym_size": (
        "`torch.ops.aten.sym_size.int`: the size of one dimension as a symbolic int.",
        "A dynamic dimension: the exported program works for other sizes.",
    ),
    "fx::_assert_scalar": ("A run-time check on a symbolic size that export inserted.", ""),
    "fx::_guards_fn": ("The exported program's input checks (shapes and constraints).", ""),
}

#: explanations of value names, by :func:`value_kind`
VALUE_DOCS: dict[str, str] = {
    "%self": "`%self` is the module object itself: attributes and submodules are read from it with prim::GetAttr.",
    "%name.N": (
        "A value (SSA: assigned exactly once) named after your variable. The `.N` suffix makes names unique: "
        "each time the variable is reassigned (or another function uses the same name) TorchScript makes a new "
        "value, `%x.1`, `%x.3`, ...; the number itself means nothing."
    ),
    "%N": (
        "A value (SSA: assigned exactly once) with no name in your source, e.g. a temporary result or a constant; "
        "the number is only an id."
    ),
    "%name": "A value (SSA: assigned exactly once) named after your variable or argument.",
}

#: explanations of type heads (the first word of a value's type)
TYPE_DOCS: dict[str, str] = {
    "Tensor": "A tensor of unknown shape, dtype and device (script does not specialise types).",
    "Float": (
        "A float32 tensor as recorded (trace) or profiled (optimized graph): `Float(sizes, strides=[...], "
        "requires_grad=0/1, device=...)` gives its shape, memory strides, whether it needs gradients, and device."
    ),
    "Double": "A float64 tensor with its recorded shape, strides, requires_grad and device.",
    "Half": "A float16 tensor with its recorded shape, strides, requires_grad and device.",
    "BFloat16": "A bfloat16 tensor with its recorded shape, strides, requires_grad and device.",
    "Long": (
        "An int64 tensor with its recorded shape, strides, requires_grad and device "
        "(a 0-dim one is a number turned into a tensor)."
    ),
    "Int": "An int32 tensor with its recorded shape, strides, requires_grad and device.",
    "Bool": "A bool tensor with its recorded shape, strides, requires_grad and device.",
    "Byte": "A uint8 tensor with its recorded shape, strides, requires_grad and device.",
    "int": "A Python int (64-bit in TorchScript).",
    "float": "A Python float (64-bit double in TorchScript).",
    "bool": "A Python bool.",
    "str": "A string.",
    "NoneType": "The type of `None` (an omitted optional argument).",
    "Device": "A torch.device.",
    "Scalar": "A number of any kind (int, float, bool, complex).",
    "Function": "A compiled TorchScript function value.",
    "Optional": "Either a value of the inner type or None.",
    "Dict": "A dict with typed keys and values.",
    "List": "A list of values of one type.",
    "Tuple": "A tuple of values of fixed types.",
    "__torch__": (
        "A TorchScript class: `__torch__.` + the Python module path; `___torch_mangle_N` keeps names of "
        "different compiled versions apart."
    ),
}


# --------------------------------------------------------------------------- spellings

_GROUP_SUFFIX = re.compile(r"^(prim::\w+?)_\d+$")
_FX_BARE = {"placeholder", "output", "get_attr", "call_function", "call_method", "call_module", "getitem", "_guards_fn"}


def canonical(op: str) -> tuple[str, str | None]:
    """``(ns::name, overload or None)`` for any spelling of an op.

    Example::

        >>> canonical("torch.ops.aten.sym_size.int"), canonical("aten.add.Tensor"), canonical("prim::TensorExprGroup_0")
        (('aten::sym_size', 'int'), ('aten::add', 'Tensor'), ('prim::TensorExprGroup', None))
        >>> canonical("torch.cond"), canonical("operator.getitem")
        (('higher_order::cond', None), ('fx::getitem', None))
    """
    op = op.strip()
    if op.startswith("%"):
        return op, None
    if "::" in op:
        ns, _, rest = op.partition("::")
        name, _, overload = rest.partition(".")
        full = f"{ns}::{name}"
        m = _GROUP_SUFFIX.match(full)
        if m and (m.group(1) in PRIM_DOCS):
            full = m.group(1)
        return full, overload or None
    for prefix in ("torch.ops.", "ops."):
        if op.startswith(prefix):
            op = op[len(prefix) :]
            break
    else:
        if op in ("torch.cond", "cond"):
            return "higher_order::cond", None
        if op in ("torch._higher_order_ops.while_loop", "while_loop"):
            return "higher_order::while_loop", None
        if op in ("operator.getitem", "getitem"):
            return "fx::getitem", None
        if op in _FX_BARE:
            return f"fx::{op}", None
        if op.startswith("torch.") and op.count(".") == 1:  # TorchScript .code: torch.relu(...)
            return f"aten::{op[len('torch.') :]}", None
        if op.startswith("torch._C._nn.") or op.startswith("torch._C._VariableFunctions."):
            return f"aten::{op.rsplit('.', 1)[1]}", None
    parts = op.split(".")
    if len(parts) >= 2:
        return f"{parts[0]}::{parts[1]}", (parts[2] if len(parts) > 2 else None)
    return op, None


# --------------------------------------------------------------------------- torch lookups


def _schemas(full: str, overload: str | None) -> tuple[str, ...]:
    import torch

    try:
        found = list(torch._C._jit_get_schemas_for_operator(full))
    except Exception:
        found = []
    if overload is not None:
        want = "" if overload == "default" else overload
        picked = [s for s in found if s.overload_name == want]
        if not picked:
            ns, _, name = full.partition("::")
            try:
                picked = [getattr(getattr(getattr(torch.ops, ns), name), overload)._schema]
            except Exception:
                picked = []
        found = picked or found
    out = [str(s) for s in found]
    return tuple(s for s in out if "(...)" not in s)  # prim::profile(...) -> ... says nothing


_ROLE = re.compile(r":(?:attr|class|func|meth|ref|mod|data|obj|exc):`~?([^`<]*?)(?:\s*<[^>]*>)?`|:math:`([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``")
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?:?$", re.S)


def _first_sentences(doc: str) -> str:
    """The first sentence (two when the first is short) of a torch docstring, RST roles removed."""
    paras = [p.strip() for p in re.split(r"\n\s*\n", doc.strip()) if p.strip()]
    for p in paras:
        flat = " ".join(p.split())
        if _SIGNATURE.match(flat) or flat.startswith(".. ") or flat.lower().startswith(("warning", "note")):
            continue
        flat = _LITERAL.sub(r"`\1`", _ROLE.sub(lambda m: f"`{m.group(1) or m.group(2)}`", flat)).replace("\\ ", "")
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`])", flat)
        text = sentences[0]
        if len(text) < 60 and len(sentences) > 1:
            text += " " + sentences[1]
        return text if text.endswith((".", "!", "?", ":")) else text + "."
    return ""


def _tex(text: str) -> str:
    """A little LaTeX made readable: ``\\text{x}`` -> x, ``\\frac{a}{b}`` -> (a)/(b), ``\\lceil`` -> ⌈."""
    text = re.sub(r"\\(?:text|mathrm|operatorname|mathbf)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", text)
    for a, b in (
        ("\\lceil", "⌈"),
        ("\\rceil", "⌉"),
        ("\\lfloor", "⌊"),
        ("\\rfloor", "⌋"),
        ("\\times", "×"),
        ("\\cdot", "·"),
        ("\\left", ""),
        ("\\right", ""),
        ("\\leq", "≤"),
        ("\\neq", "≠"),
        ("\\geq", "≥"),
        ("\\Phi", "Φ"),
    ):
        text = text.replace(a, b)
    return re.sub(r"\{\{|\}\}", "", text).replace("\\", "")


_SEE = re.compile(r"^(?:See|Alias for|Alias of|Out-of-place version of) `~?(?:torch\.)?([\w.]+)`")


def _candidates(name: str) -> list[Any]:
    import torch
    import torch.nn.functional as F

    subs = {"special_": torch.special, "linalg_": torch.linalg, "fft_": torch.fft}
    found: list[Any] = [getattr(torch, name, None), getattr(F, name, None), getattr(torch.Tensor, name, None)]
    for prefix, mod in subs.items():
        if name.startswith(prefix):
            found.insert(0, getattr(mod, name[len(prefix) :], None))
    return [c for c in found if c is not None]


def _resolve(dotted: str) -> Any:
    import torch

    obj: Any = torch
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _torch_doc(name: str, _depth: int = 0) -> str:
    """Torch's docstring summary for op ``name`` (``relu``, ``linalg_vector_norm``); '' when torch has none."""
    weak = ""
    for c in _candidates(name):
        doc = getattr(c, "__doc__", None)
        if not doc or doc.lstrip().startswith(("Built-in", "Python", "str(object")):
            continue
        text = _tex(_first_sentences(doc))
        m = _SEE.match(text)
        if m and _depth < 2:
            target = _resolve(m.group(1).removeprefix("nn.functional.").removeprefix("Tensor."))
            if target is None:
                target = _resolve(m.group(1))
            tdoc = getattr(target, "__doc__", None) if target is not None else None
            if tdoc:
                resolved = _tex(_first_sentences(tdoc))
                if resolved and not _SEE.match(resolved):
                    return resolved
            continue
        if text.startswith(("Out-of-place version", "In-place version")):
            weak = weak or text
            continue
        if text:
            return text
    return weak


def _op_summary(name: str) -> str:
    """The summary of ``aten::name``: its docstring, or its base op's for an in-place ``name_``."""
    text = _torch_doc(name)
    if name.endswith("_") and not name.endswith("__"):
        base = _torch_doc(name[:-1])
        if base and (not text or text.startswith(("In-place version", "Out-of-place version"))):
            return f"In-place version of `{name[:-1]}`: " + base[0].lower() + base[1:]
    return text


_INPLACE_MEANING = "An in-place op: it overwrites its input instead of making a new tensor."


@functools.lru_cache(maxsize=4096)
def doc_for(op: str) -> OpDoc | None:
    """The doc of ``op`` in any spelling (see :func:`canonical`), or None when it is unknown.

    An op that torch registers but that neither torch's docstrings nor the tables here explain gets a doc
    with ``origin="schema"`` and a summary that says only that.

    Example::

        >>> doc_for("aten.sym_size.int").schemas
        ('aten::sym_size.int(Tensor self, int dim) -> SymInt',)
        >>> doc_for("not_an_op") is None
        True
    """
    full, overload = canonical(op)
    if full.startswith("%"):
        return OpDoc(full, (), explain_value(full), "", "table")
    shown = f"{full}.{overload}" if overload else full
    schemas = _schemas(full, overload) if "::" in full and not full.startswith(("fx::", "higher_order::")) else ()
    table = PRIM_DOCS.get(full) or FX_DOCS.get(full)
    if full.startswith("higher_order::"):
        import torch

        ns, _, name = full.partition("::")
        try:
            schemas = (
                (str(getattr(torch.ops.higher_order, name)._schema),)
                if hasattr(getattr(torch.ops.higher_order, name), "_schema")
                else ()
            )
        except Exception:
            schemas = ()
    if table:
        return OpDoc(shown, schemas, table[0], table[1], "table")
    if "::" not in full:
        return None
    ns, _, name = full.partition("::")
    meaning = _INPLACE_MEANING if name.endswith("_") and not name.endswith("__") else ""
    if ns == "aten":
        summary = _op_summary(name)
        if summary:
            return OpDoc(shown, schemas, summary, meaning, "torch")
    if schemas:
        return OpDoc(
            shown,
            schemas,
            f"The registered operator `{full}` (torch has no docstring for it); its schema says "
            "what it takes and returns.",
            meaning,
            "schema",
        )
    return None


# --------------------------------------------------------------------------- finding ops, values, types

#: an op in any view: ``aten::x``, ``prim::X_0``, ``torch.ops.aten.x.y``, ``ops.prim.X``, ``aten.x.default``,
#: ``torch.ops.higher_order.cond``, ``torch.cond``
OP_RE = re.compile(
    r"(?<![\w.%])(?:"
    r"[A-Za-z_]\w*::\w+"  # TorchScript node kinds
    r"|torch\.ops\.\w+\.\w+(?:\.\w+)?"  # torch.ops.aten.conv2d.default
    r"|ops\.(?:aten|prim|quantized|higher_order)\.\w+(?:\.\w+)?"  # TorchScript .code: ops.prim.NumToTensor
    r"|(?:aten|prim)\.\w+\.\w+"  # FX printing: aten.conv2d.default
    r"|torch\.cond|operator\.getitem"
    r")(?![\w])"
)


def ops_in(text: str) -> list[str]:
    """The distinct ops spelled in ``text`` (any view's spelling), in order of first appearance.

    Example::

        >>> ops_in("x = torch.ops.aten.relu.default(a); y = aten::relu(b); z = aten::relu(c)")
        ['torch.ops.aten.relu.default', 'aten::relu']
    """
    return list(dict.fromkeys(m.group(0) for m in OP_RE.finditer(text)))


_VALUE_NAME = re.compile(r"^%(?:(self)|(\d+)|([A-Za-z_]\w*?)\.(\d+)|([A-Za-z_][\w.]*))$")


def value_kind(name: str) -> str:
    """Which :data:`VALUE_DOCS` entry explains the value ``name``: ``%self``, ``%name.N``, ``%N`` or ``%name``.

    Example::

        >>> [value_kind(v) for v in ("%self", "%x.1", "%12", "%weight")]
        ['%self', '%name.N', '%N', '%name']
    """
    m = _VALUE_NAME.match(name)
    if not m:
        return "%name"
    if m.group(1):
        return "%self"
    if m.group(2):
        return "%N"
    if m.group(3):
        return "%name.N"
    return "%name"


def explain_value(name: str) -> str:
    """One or two sentences on an IR value name (``%x.1``, ``%12``, ``%self``)."""
    return VALUE_DOCS[value_kind(name)]


def explain_type(type_text: str) -> str:
    """One or two sentences on an IR type (``Float(1, 3, strides=[...], requires_grad=0, device=cpu)``, ``int[]``).

    Example::

        >>> "float32" in explain_type("Float(1, 3, strides=[3, 1], requires_grad=0, device=cpu)")
        True
    """
    t = type_text.strip()
    head = re.match(r"[A-Za-z_]\w*", t)
    key = head.group(0) if head else t
    if t.startswith("__torch__"):
        key = "__torch__"
    text = TYPE_DOCS.get(key, f"The type `{t}`.")
    if t.endswith("[]"):
        text = f"A list of `{t[:-2]}` values."
    elif t.endswith("?"):
        text = f"An optional `{t[:-1]}`: the value or None."
    return text
