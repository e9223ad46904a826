"""The TorchScript IR lexer, the HTML rendering and the stylesheet (jit_explorer/highlight.py)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from pygments.token import Comment, Keyword, Name, Number, Punctuation, String, Whitespace, _TokenType

from jit_explorer import zoo
from jit_explorer.convert import Conversion, convert, jit_lock
from jit_explorer.highlight import TorchScriptIRLexer, css, error_tokens, render_html, tokens

IR_VIEWS = ("graph", "inlined_graph", "optimized_graph")

SIMPLE_IR = """\
graph(%self : __torch__.jit_explorer.zoo.___torch_mangle_12.SignBranch,
      %x.1 : Float(1, 3, 224, 224, strides=[150528, 50176, 224, 1], requires_grad=0, device=cpu)):
  %fc : __torch__.torch.nn.modules.linear.Linear = prim::GetAttr[name="fc"](%self)
  %2 : int = prim::Constant[value=2]() # snippet.py:3:8
  %3 : Tensor = aten::mul(%x.1, %2) # snippet.py:3:11
  %4 : float = prim::Constant[value=1.0000000000000001e-05]()
  %5 : float = prim::Constant[value=inf]() # <string>:3:4
  return (%3)
"""

# shapes of IR the zoo does not print on CPU in inference mode: the profiling executor's
# first run, fusion groups, differentiable graphs, tensor constants, containers, alias sets
EXECUTOR_IR = """\
graph(%x.1 : Tensor,
      %y.1 : Tensor):
  %2 : float = prim::Constant[value=-inf]()
  %12 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu), seen_none=0](%x.1)
   = prim::profile()
  %36 : Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu), %38 : bool = prim::TypeCheck[types=[Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu), Tensor(requires_grad=0)]](%x.1, %y.1)
  %48 : Float(*, *, requires_grad=1, device=cuda:0), %50 : bool = prim::RequiresGradCheck[types=[Tensor(requires_grad=0)]](%y.1)
  %39 : Tensor = prim::If(%38)
    block0():
      %21 : Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu) = prim::TensorExprGroup_0(%36, %37)
      %22 : Tensor = prim::DifferentiableGraph_0(%48, %49)
      -> (%21)
    block1():
      %51 : Function = prim::Constant[name="fallback_function", fallback=1]()
      %52 : (Tensor) = prim::CallFunction(%51, %x.1, %y.1)
      %53 : Tensor = prim::TupleUnpack(%52)
      %54 : Tensor = prim::BailOut[index=0](%53, %x.1)
      -> (%53)
  %c : Long(4, strides=[1], requires_grad=0, device=cpu) = prim::Constant[value= 1  2  3  4 [ CPULongType{4} ]]() # t.py:34:0
  %m : Float(2, 2, strides=[2, 1], requires_grad=0, device=cpu) = prim::Constant[value=
 1.5000  2.5000
 3.5000  4.5000
[ CPUFloatType{2,2} ]]() # t.py:35:0
  %s : Long(requires_grad=0, device=cpu) = prim::Constant[value={1}]()
  %e : int[] = prim::Constant[value=annotate(List[int], [])]()
  %d : Dict(str, Tensor), %o : int?, %l : int[], %t : (Tensor, Tensor), %n : NoneType = prim::Uninitialized()
  %a : Tensor(a!) = aten::add_(%x.1, %2, %2)
  %q : str = prim::Constant[value="a \\"quoted\\" # [string]"]()
  %z : Tensor = aten::relu(%x.1), scope: __module.layer1/__module.layer1.0 # torch/nn/functional.py:1704:0
  %i : int, %h : Tensor = prim::Loop(%13, %16, %h.1) # zoo.py:209:8
    block0(%i.1 : int, %h.11 : Tensor):
      -> (%16, %h.11)
  return (%39)
with prim::TensorExprGroup_0 = graph(%x.1 : Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu),
      %y.1 : Tensor(requires_grad=0)):
  %1 : float = prim::Constant[value=1.0000000000000001e-05]()
  %17 : Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu) = aten::mul(%x.1, %y.1) # /tmp/extra.py:19:8
  return (%17)
"""


def _significant(text: str) -> list[tuple[_TokenType, str]]:
    return [(t, v) for t, v in tokens(text) if t not in Whitespace and v]


def _type_of(text: str, value: str) -> _TokenType:
    for t, v in _significant(text):
        if v == value:
            return t
    raise AssertionError(f"no token {value!r} in {text!r}")


# --- every zoo model, every form ------------------------------------------------------------


@pytest.fixture(scope="module", params=zoo.names())
def zoo_conversion(request: pytest.FixtureRequest) -> Iterator[tuple[str, Conversion]]:
    """Each zoo model converted once, trace and script (about 15 s for the whole zoo)."""
    loaded = zoo.load(request.param, allow_download=False)
    yield request.param, convert(loaded.module, loaded.inputs(), mode="both")


def test_zoo_ir_has_no_error_tokens(zoo_conversion: tuple[str, Conversion]) -> None:
    name, conv = zoo_conversion
    checked = 0
    problems = []
    for mode in ("trace", "script"):
        result = getattr(conv, mode)
        if result is None or not result.ok:
            continue  # e.g. BERT does not script: nothing to highlight
        for view in IR_VIEWS:
            text = getattr(result, view)
            assert text.strip(), f"{name} {mode} {view} is empty"
            errs = error_tokens(text)
            if errs:
                lines = text.splitlines()
                problems += [f"{mode}.{view} line {n}: {tok!r} in {lines[n - 1]!r}" for n, tok in errs[:5]]
            checked += 1
        py_errs = error_tokens(result.code, language="python")
        assert not py_errs, f"{name} {mode} code: {py_errs[:5]}"
    assert checked, f"{name}: neither trace nor script succeeded"
    assert not problems, f"{name}: the IR lexer did not understand:\n" + "\n".join(problems)


def test_zoo_ir_tokens_are_meaningful(zoo_conversion: tuple[str, Conversion]) -> None:
    """Beyond 'no errors': values, node kinds and types get their own tokens in real IR."""
    name, conv = zoo_conversion
    result = conv.trace if conv.trace is not None and conv.trace.ok else conv.script
    assert result is not None and result.ok
    toks = _significant(result.inlined_graph)
    kinds = {t for t, _ in toks}
    assert Name.Variable in kinds and Name.Function in kinds and Keyword.Type in kinds, name
    for t, v in toks:
        if v.startswith("%"):
            assert t is Name.Variable, (name, v)
        if re.fullmatch(r"aten::\w+", v):
            assert t is Name.Function, (name, v)
        if v.startswith("#"):
            assert t in Comment, (name, v)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_live_executor_graphs_have_no_error_tokens() -> None:
    """The graph the profiling executor runs for a function that needs gradients."""

    def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x * y + 1.0) * 2.0

    x = torch.randn(4, 4, requires_grad=True)
    y = torch.randn(4, 4)
    with jit_lock:
        scripted = torch.jit.script(f)
        scripted(x, y)
        first = str(torch.jit.last_executed_optimized_graph())
        for _ in range(3):
            scripted(x, y)
        later = str(torch.jit.last_executed_optimized_graph())
    for text in (first, later, str(scripted.graph)):
        assert error_tokens(text) == [], text


def test_executor_and_container_ir_has_no_error_tokens() -> None:
    assert error_tokens(EXECUTOR_IR) == []


# --- specific tokens ------------------------------------------------------------------------


def test_value_names_are_variables() -> None:
    for value in ("%x.1", "%self", "%2", "%3"):
        assert _type_of(SIMPLE_IR, value) is Name.Variable
    assert _type_of(EXECUTOR_IR, "%h.11") is Name.Variable


def test_node_kinds() -> None:
    assert _type_of(SIMPLE_IR, "aten::mul") is Name.Function
    assert _type_of(SIMPLE_IR, "prim::Constant") is Name.Function
    assert _type_of(SIMPLE_IR, "prim::GetAttr") is Name.Function
    for kind in ("prim::profile", "prim::TypeCheck", "prim::TensorExprGroup_0", "prim::CallFunction",
                 "prim::RequiresGradCheck", "prim::BailOut", "prim::DifferentiableGraph_0", "prim::TupleUnpack"):
        assert _type_of(EXECUTOR_IR, kind) is Name.Function, kind
    # control flow stands out as keywords
    assert _type_of(EXECUTOR_IR, "prim::If") in Keyword
    assert _type_of(EXECUTOR_IR, "prim::Loop") in Keyword


def test_source_comments() -> None:
    assert _type_of(SIMPLE_IR, "# snippet.py:3:8") in Comment
    assert _type_of(SIMPLE_IR, "# <string>:3:4") in Comment
    # a '#' inside a string is not a comment
    assert _type_of(EXECUTOR_IR, '"a \\"quoted\\" # [string]"') is String.Double


def test_types() -> None:
    toks = _significant(SIMPLE_IR)
    i = toks.index((Name.Variable, "%x.1"))
    assert toks[i + 1] == (Punctuation, ":")
    assert toks[i + 2] == (Keyword.Type, "Float")
    assert toks[i + 3] == (Punctuation, "(")
    assert (Name.Attribute, "strides") in toks and (Name.Attribute, "requires_grad") in toks
    assert _type_of(SIMPLE_IR, "__torch__.jit_explorer.zoo.___torch_mangle_12.SignBranch") is Name.Class
    assert _type_of(SIMPLE_IR, "Tensor") is Keyword.Type
    ex = _significant(EXECUTOR_IR)
    for expected in [(Keyword.Type, "Dict"), (Keyword.Type, "str"), (Keyword.Type, "?"), (Keyword.Type, "[]"),
                     (Keyword.Type, "NoneType"), (Name.Label, "a"), (Name.Constant, "cuda:0"),
                     (Keyword.Type, "[ CPULongType{4} ]"), (Keyword.Type, "[ CPUFloatType{2,2} ]")]:
        assert expected in ex, expected


def test_attributes_and_constants() -> None:
    toks = _significant(SIMPLE_IR)
    assert (Name.Attribute, "name") in toks and (String.Double, '"fc"') in toks
    assert (Name.Attribute, "value") in toks
    assert (Number.Float, "1.0000000000000001e-05") in toks
    assert (Number.Float, "inf") in toks
    assert (Number.Integer, "2") in toks
    ex = _significant(EXECUTOR_IR)
    assert (Number.Float, "-inf") in ex
    assert (Name.Attribute, "profiled_type") in ex and (Name.Attribute, "seen_none") in ex


def test_multiline_tensor_constant_keeps_following_lines_right() -> None:
    toks = _significant(EXECUTOR_IR)
    i = toks.index((Keyword.Type, "[ CPUFloatType{2,2} ]"))
    assert toks[i - 1] == (Number.Float, "4.5000")
    assert toks[i + 1] == (Punctuation, "]")
    assert toks[i + 4] == (Comment.Single, "# t.py:35:0")
    assert toks[i + 5] == (Name.Variable, "%s")


def test_blocks_and_subgraphs() -> None:
    toks = _significant(EXECUTOR_IR)
    assert (Name.Label, "block0") in toks and (Name.Label, "block1") in toks
    assert (Keyword, "->") in toks and (Keyword, "return") in toks
    i = toks.index((Keyword, "with"))
    assert toks[i + 1 : i + 5] == [(Name.Function, "prim::TensorExprGroup_0"), (Punctuation, "="),
                                   (Keyword, "graph"), (Punctuation, "(")]
    assert (Name.Namespace, "__module.layer1/__module.layer1.0") in toks


def test_lexer_metadata() -> None:
    assert TorchScriptIRLexer.name == "TorchScript IR"
    assert TorchScriptIRLexer.aliases == ["torchscript-ir", "tsir"]


def test_error_tokens_reports_line_and_text() -> None:
    errs = error_tokens("graph(%x : Tensor):\n  return (%x)\n  $$$\n")
    assert errs and all(line == 3 for line, _ in errs)
    assert "".join(tok for _, tok in errs) == "$$$"


# --- HTML -----------------------------------------------------------------------------------


def test_html_has_one_anchor_per_line_and_numbers() -> None:
    out = render_html(SIMPLE_IR)
    assert out.startswith('<div class="jx-code')
    n = SIMPLE_IR.count("\n")
    assert out.count('class="jx-line') == n
    for i in range(1, n + 1):
        assert f'id="ir-L{i}"' in out and f'data-ln="{i}"' in out
    assert f'id="ir-L{n + 1}"' not in out
    assert 'id="graph2-L3"' in render_html(SIMPLE_IR, anchor="graph2")


def test_html_marks_lines() -> None:
    out = render_html(SIMPLE_IR, marked_lines=[4, 5])
    marked = re.findall(r'<span class="jx-line jx-mark" id="ir-L(\d+)"', out)
    assert marked == ["4", "5"]
    assert "jx-mark" not in render_html(SIMPLE_IR)


def test_html_escapes() -> None:
    ir = 'graph(%x : Tensor):\n  %1 : str = prim::Constant[value="a<b & c>d"]()\n  return (%x)\n'
    out = render_html(ir)
    assert "a&lt;b &amp; c&gt;d" in out and "a<b" not in out
    py = render_html("if a < b and c & d:\n    pass\n", language="python")
    assert "&lt;" in py and "&amp;" in py and "< b" not in py
    assert 'id="x&quot;y-L1"' in render_html("x = 1\n", language="python", anchor='x"y')


def test_html_token_classes() -> None:
    out = render_html(SIMPLE_IR)
    assert '<span class="nv">%x.1</span>' in out
    assert '<span class="nf">aten::mul</span>' in out
    assert '<span class="c1"># snippet.py:3:8</span>' in out
    assert '<span class="kt">Float</span>' in out


def test_html_python_mode() -> None:
    code = "\n\ndef forward(self,\n    x: Tensor) -> Tensor:\n  return torch.mul(x, 2)\n"
    out = render_html(code, language="python", anchor="code")
    assert "jx-lang-python" in out
    assert '<span class="k">def</span>' in out
    # leading blank lines are kept, so line numbers match the text
    assert re.search(r'id="code-L3"[^>]*>.*def', out)
    assert out.count('class="jx-line') == 5


def test_html_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        render_html("x", language="cpp")
    with pytest.raises(ValueError):
        error_tokens("x", language="rust")


def test_html_truncates_with_a_note() -> None:
    text = "".join(f"x{i} = {i}\n" for i in range(10))
    out = render_html(text, language="python", max_lines=3)
    assert out.count('id="ir-L') == 3 and 'id="ir-L4"' not in out
    assert "\u2026 7 more lines not shown" in out
    assert "jx-note" in out
    full = render_html(text, language="python", max_lines=10)
    assert "more line" not in full and full.count('id="ir-L') == 10
    assert "1 more line not shown" in render_html(text, language="python", max_lines=9)


def test_html_empty_text() -> None:
    out = render_html("")
    assert out.startswith('<div class="jx-code') and "jx-line" not in out


def test_html_shows_unknown_ir_as_plain_text() -> None:
    out = render_html("graph(%x : Tensor):\n  $$$ & <b>\n")
    assert 'id="ir-L2" data-ln="2">  $$$ &amp; &lt;b&gt;\n</span>' in out
    assert 'class="err"' not in out


# --- CSS ------------------------------------------------------------------------------------


def test_css_for_light_and_dark() -> None:
    sheet = css()
    assert re.search(r"^\.dark \.jx-code \{", sheet, re.M)
    assert re.search(r"^\.dark \.jx-code \.jx-pre \.nv \{", sheet, re.M)
    assert re.search(r"^\.jx-code \.jx-pre \.nv \{", sheet, re.M)
    assert "max-height: 520px" in sheet and "overflow: auto" in sheet
    assert "monospace" in sheet
    assert "user-select: none" in sheet
    assert "jx-mark" in sheet
    # light and dark colour variables differ (the dark theme is not the light one)
    light = re.search(r"^\.jx-code \.jx-pre \.nf \{ color: (#\w+)", sheet, re.M)
    dark = re.search(r"^\.dark \.jx-code \.jx-pre \.nf \{ color: (#\w+)", sheet, re.M)
    assert light and dark and light.group(1).lower() != dark.group(1).lower()
    assert sheet.count("{") == sheet.count("}")


def test_css_dark_rules_override_every_light_property() -> None:
    """Each dark token rule sets every property a light rule sets, so nothing leaks across themes."""
    sheet = css()
    for m in re.finditer(r"^\.jx-code \.jx-pre \.(\w+) \{ (.*) \}$", sheet, re.M):
        cls, light_props = m.group(1), {d.split(":")[0].strip() for d in m.group(2).split(";")}
        dm = re.search(rf"^\.dark \.jx-code \.jx-pre \.{cls} \{{ (.*) \}}$", sheet, re.M)
        assert dm, cls
        assert light_props <= {d.split(":")[0].strip() for d in dm.group(1).split(";")}, cls


# --- every construct TorchScript prints: golden IR, lexed -------------------------------------
#
# ``tests/golden/lexer/*.ir`` is IR that torch printed for the programs of
# ``tests/golden/lexer/corpus_source.py`` (NamedTuple, Enum, dict, Optional, Union, fork/wait, interfaces,
# ignored functions and partials, raise, with, frozen modules, optimize_for_inference, profiling and
# fusion graphs of the executor, dynamic and static quantization, autograd.Functions in a trace).
# Regenerate after a torch upgrade with::
#
#     UPDATE_GOLDEN=1 JIT_EXPLORER_OFFLINE=1 .venv/bin/python -m pytest -q tests/test_highlight.py -k lexer
#
# and review the diff; the live test below also lexes what this torch prints now.

LEXER_DIR = Path(__file__).resolve().parent / "golden" / "lexer"
LEXER_GOLDENS = sorted(LEXER_DIR.glob("*.ir"))
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")
_SITE_PACKAGES_RE = re.compile(r"(?:/[^\s\"',:()]+)?/(?:site|dist)-packages/")
_MANGLE_RE = re.compile(r"___torch_mangle_\d+\.")
_ADDRESS_RE = re.compile(r"object\(0x[0-9a-fA-F]+\)")

#: what each construct prints, and where (golden name -> snippets that must be in it)
CONSTRUCTS: dict[str, tuple[str, ...]] = {
    "named_tuple.graph": ("NamedTuple(x : Tensor, y : Tensor)", "prim::TupleConstruct"),
    "enums.graph": ("Enum<__torch__.lexer_corpus.Color>", "prim::EnumValue", "prim::EnumName"),
    "dicts.graph": ("Dict(str, Tensor)", "aten::items", "aten::Delete"),
    "optionals.graph": ("Tensor?", "float?", "prim::unchecked_cast", "aten::__isnot__"),
    "unions.graph": ("Union(Tensor, int)", "Any", "prim::isinstance[types=[int]]"),
    "fork_wait.graph": ("Future[Tensor]", "prim::fork_0", "aten::wait", "with prim::fork_0 = graph("),
    "UsesInterface.graph": ("InterfaceType<Scorer>", 'prim::CallMethod[name="forward"]'),
    "Ignored.graph": ("^python_only[]()(%x.1)", "^<python_value>[]()(%y)", "prim::RaiseException"),
    "raises.graph": ('"builtins.ValueError"', "prim::RaiseException", '\\"negative\\"'),
    "withs.inlined": ("prim::Enter", "prim::Exit", "prim::CreateObject", "prim::SetAttr"),
    "misc.graph": ("prim::Print", "prim::Loop", "Device", "prim::dtype", "complex", "1.+2.j"),
    "warns.graph": ("aten::warn[warn_id=0]",),
    "frozen.graph": ("prim::Constant[value=<Tensor>]()", "CPUFloatType"),
    "optimize_for_inference.graph": ("graph(",),
    "quantize_trace.graph": ("QUInt8(2, 3", "aten::quantize_per_tensor", "aten::dequantize"),
    "dynamic_quant.inlined": ("quantized::linear_dynamic", "__torch__.torch.classes.quantized.LinearPackedParamsBase"),
    "static_quant.frozen": ("quantized::conv2d", "quantized::linear", "object(0x"),
    "autograd_function.trace": ("^Scale[inplace=0", "Subgraph=<Graph>](2.5, it's)(%x)"),
    "profiling.graph": ("prim::profile[profiled_type=",),
    "differentiable.graph": ("prim::DifferentiableGraph_0", "prim::RequiresGradCheck", "aten::_size_if_not_equal"),
    "fuser_static.graph": ("prim::TypeCheck[types=", "prim::TensorExprGroup_0", "fallback_function"),
    "fuser_dynamic.graph": ("prim::TensorExprDynamicGuard", "symbolic_shape_inputs=[", "Float(*, *,", "%SS_2 : int"),
}


@contextlib.contextmanager
def _corpus_module(workdir: Path) -> Iterator[Any]:
    """``corpus_source.py`` imported as ``lexer_corpus`` from ``workdir`` (removed from sys.modules after)."""
    path = workdir / "lexer_corpus.py"
    shutil.copy(LEXER_DIR / "corpus_source.py", path)
    spec = importlib.util.spec_from_file_location("lexer_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lexer_corpus"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("lexer_corpus", None)


@contextlib.contextmanager
def _cpu_fuser() -> Iterator[None]:
    """NNC fusion on the CPU without LLVM (process-wide JIT flags, restored after)."""
    can_fuse, llvm = torch._C._jit_can_fuse_on_cpu(), torch._C._jit_get_te_must_use_llvm_cpu()
    torch._C._jit_override_can_fuse_on_cpu(True)
    torch._C._jit_set_te_must_use_llvm_cpu(False)
    try:
        with torch.jit.fuser("fuser1"):
            yield
    finally:
        torch._C._jit_override_can_fuse_on_cpu(can_fuse)
        torch._C._jit_set_te_must_use_llvm_cpu(llvm)


def _executor_graphs(m: Any) -> dict[str, str]:
    """The graphs the profiling executor runs: first run, differentiable graph, static and dynamic fusion."""
    out: dict[str, str] = {}
    f = torch.jit.script(m.fused)
    a, b = torch.randn(4, 4, requires_grad=True), torch.randn(4, 4)
    f(a, b)
    out["profiling.graph"] = str(torch.jit.last_executed_optimized_graph())
    for _ in range(3):
        f(a, b)
    out["differentiable.graph"] = str(torch.jit.last_executed_optimized_graph())
    with _cpu_fuser(), torch.no_grad():
        g = torch.jit.script(m.fused_static)
        for _ in range(4):
            g(a.detach(), b)
        out["fuser_static.graph"] = str(torch.jit.last_executed_optimized_graph())
        old = torch._C._jit_set_fusion_strategy([("DYNAMIC", 3)])
        try:
            h = torch.jit.script(m.fused_dynamic)
            for n in (3, 5, 7, 9):
                for _ in range(4):
                    h(torch.randn(n, 4), torch.randn(n, 4))
            out["fuser_dynamic.graph"] = str(torch.jit.last_executed_optimized_graph())
        finally:
            torch._C._jit_set_fusion_strategy(old)
    return out


def _quantized_graphs(m: Any) -> dict[str, str]:
    from torch import nn

    out: dict[str, str] = {}

    def q(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        qx = torch.quantize_per_tensor(x, 0.1, 0, torch.quint8)
        return qx.dequantize(), qx

    out["quantize_trace.graph"] = str(torch.jit.trace(q, (torch.randn(2, 3),)).graph)
    lin = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    dq = torch.ao.quantization.quantize_dynamic(lin, {nn.Linear}, dtype=torch.qint8)
    out["dynamic_quant.inlined"] = str(torch.jit.script(dq).inlined_graph)
    model = m.QuantBlock().eval()
    model.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    prepared = torch.ao.quantization.prepare(model)
    prepared(torch.randn(2, 3, 8, 8))
    converted = torch.ao.quantization.convert(prepared)
    out["static_quant.frozen"] = str(torch.jit.freeze(torch.jit.script(converted)).graph)
    return out


def generate_lexer_corpus(workdir: Path) -> dict[str, str]:
    """IR of every construct of :data:`CONSTRUCTS`, printed by this torch, paths normalised."""
    out: dict[str, str] = {}
    with jit_lock, warnings.catch_warnings(), _corpus_module(workdir) as m:
        warnings.simplefilter("ignore")
        for name in ("named_tuple", "enums", "dicts", "optionals", "unions", "fork_wait", "raises", "misc", "warns"):
            out[f"{name}.graph"] = str(torch.jit.script(getattr(m, name)).graph)
        out["withs.inlined"] = str(torch.jit.script(m.withs).inlined_graph)
        for cls in ("UsesInterface", "Ignored"):
            out[f"{cls}.graph"] = str(torch.jit.script(getattr(m, cls)().eval()).graph)
        out["frozen.graph"] = str(torch.jit.freeze(torch.jit.script(m.Block().eval())).graph)
        opt = torch.jit.optimize_for_inference(torch.jit.script(m.Block().eval()))
        opt(torch.randn(1, 3, 8, 8))
        out["optimize_for_inference.graph"] = str(opt.graph)
        out["autograd_function.trace"] = str(torch.jit.trace(m.autograd_function, (torch.randn(2),)).graph)
        out.update(_quantized_graphs(m))
        out.update(_executor_graphs(m))
    prefix = str(workdir) + os.sep
    repo = str(Path(__file__).resolve().parent.parent) + os.sep
    return {k: _ADDRESS_RE.sub("object(0x5555deadbeef)", _MANGLE_RE.sub("", _SITE_PACKAGES_RE.sub(
        "", v.replace(prefix, "").replace(repo, "")))) for k, v in out.items()}


def _describe(errs: list[tuple[int, str]], text: str) -> str:
    lines = text.splitlines()
    return "\n".join(f"line {n}: {tok!r} in {lines[n - 1]!r}" for n, tok in errs[:8])


@pytest.mark.parametrize("path", LEXER_GOLDENS, ids=[p.stem for p in LEXER_GOLDENS])
def test_lexer_golden_has_no_error_tokens(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.strip()
    errs = error_tokens(text)
    assert errs == [], f"{path.name}:\n{_describe(errs, text)}"


def test_lexer_goldens_cover_every_construct() -> None:
    names = {p.name.removesuffix(".ir") for p in LEXER_GOLDENS}
    assert names == set(CONSTRUCTS), f"missing {set(CONSTRUCTS) - names}, unexpected {names - set(CONSTRUCTS)}"
    for name, snippets in CONSTRUCTS.items():
        text = (LEXER_DIR / f"{name}.ir").read_text(encoding="utf-8")
        for snippet_ in snippets:
            assert snippet_ in text, f"{name}.ir does not show {snippet_!r}"
        assert not re.search(r"/tmp/|/work/|/root/|/home/|site-packages", text), name


@pytest.mark.filterwarnings("ignore")
def test_lexer_on_every_construct_this_torch_prints(tmp_path: Path) -> None:
    """The same programs, printed by the torch installed now: zero error tokens (UPDATE_GOLDEN=1 rewrites)."""
    fresh = generate_lexer_corpus(tmp_path)
    assert set(fresh) == set(CONSTRUCTS)
    if UPDATE_GOLDEN:
        for name, text in fresh.items():
            (LEXER_DIR / f"{name}.ir").write_text(text, encoding="utf-8")
    problems = {name: _describe(error_tokens(text), text) for name, text in fresh.items() if error_tokens(text)}
    assert not problems, problems


def test_python_ops_lex_as_calls() -> None:
    ir = "  %2 : Tensor = ^<python_value>[]()(%x.1)\n"
    assert error_tokens(ir) == []
    toks = _significant(ir)
    assert (Name.Function, "^<python_value>") in toks and (Name.Variable, "%x.1") in toks
    traced = ('  %3 : Float(2, strides=[1], requires_grad=0, device=cpu) = ^Scale[inplace=0, module="m", '
              "Subgraph=<Graph>](2.5, it's, None, [1, 2], <function f at 0x7f3a>)(%x) # m.py:9:0\n")
    assert error_tokens(traced) == []
    toks = _significant(traced)
    assert (Name.Function, "^Scale") in toks and (Number.Float, "2.5") in toks and (Keyword.Constant, "None") in toks
    assert (Name.Variable, "%x") in toks and (Comment.Single, "# m.py:9:0") in toks
    assert (Name.Attribute, "Subgraph") in toks and (Name.Constant, "<function f at 0x7f3a>") in toks
    assert error_tokens("  %y : Tensor = ^f(0x7f3a, 1e-05)(%x)\n") == []
    assert (Number.Hex, "0x7f3a") in _significant("  %y : Tensor = ^f(0x7f3a, 1e-05)(%x)\n")
    # what follows the call is lexed as usual again
    after = "  %y : Tensor = ^f()(%x)\n  %z : int = prim::Constant[value=1]()\n"
    assert _type_of(after, "prim::Constant") is Name.Function


def test_object_addresses_and_enum_constants() -> None:
    ir = ("  %p : __torch__.torch.classes.quantized.LinearPackedParamsBase = "
          "prim::Constant[value=object(0x5556fffc)]()\n"
          "  %3 : Enum<__torch__.m.Color> = prim::Constant[value=__torch__.m.Color.RED]()\n")
    assert error_tokens(ir) == []
    toks = _significant(ir)
    assert (Number.Hex, "0x5556fffc") in toks
    assert (Name.Class, "__torch__.m.Color.RED") in toks and (Keyword.Type, "Enum") in toks


def test_empty_dict_annotation_constant_lexes_cleanly() -> None:
    """SSDlite's optimized graph: ``annotate(Dict[str, Tensor],{})`` (an empty typed dict constant)."""
    line = "  %11 : Dict(str, Tensor) = prim::Constant[value=annotate(Dict[str, Tensor],{})]()\n"
    assert error_tokens(line) == []
