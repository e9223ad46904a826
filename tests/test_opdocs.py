"""Op docs: every op kind that appears in the zoo's and the fixtures' IR has a doc (schema + summary).

The IR is made here with torch directly (graph, inlined and optimized views of trace and script), so the
test does not depend on how the modes are wired; ``.code`` views are included (``torch.relu``, ``ops.prim.X``).
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from jit_explorer import opdocs, snippet, zoo
from jit_explorer.opdocs import OpDoc, canonical, doc_for, explain_type, explain_value, ops_in

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_FILES = sorted(FIXTURES.glob("*/*.py"))
SMALL_MODELS = ["resnet18", "mobilenet_v3_small", "gru", "sign_branch", "running_loop"]


def _views(compiled: Any, inputs: tuple[Any, ...]) -> dict[str, str]:
    views = {"graph": str(compiled.graph), "inlined": str(compiled.inlined_graph), "code": compiled.code}
    with torch.inference_mode():
        for _ in range(3):
            compiled(*inputs)
    views["optimized"] = str(torch.jit.last_executed_optimized_graph())
    return views


def _ir_of(obj: Any, inputs: tuple[Any, ...]) -> dict[str, str]:
    """``{"trace/graph": text, ...}`` for every mode that works on ``obj``."""
    out: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mode in ("trace", "script"):
            try:
                compiled = torch.jit.trace(obj, inputs, check_trace=False) if mode == "trace" else torch.jit.script(obj)
                views = _views(compiled, inputs)
            except Exception:
                continue  # a fixture that is meant to fail in this mode
            out.update({f"{mode}/{k}": v for k, v in views.items()})
    return out


def _undocumented(ir: dict[str, str]) -> dict[str, str]:
    """``{op: where}`` for each op in ``ir`` without a real doc (torch's docstring or a table entry)."""
    missing: dict[str, str] = {}
    for where, text in ir.items():
        for op in ops_in(text):
            doc = doc_for(op)
            if doc is None or doc.origin not in ("torch", "table") or not doc.summary:
                missing.setdefault(op, where)
    return missing


def _node_kinds(text: str) -> set[str]:
    return set(re.findall(r"\b[a-z_]+::\w+", text))


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_every_op_of_a_zoo_model_has_a_doc(name: str) -> None:
    m = zoo.load(name, allow_download=False)
    ir = _ir_of(m.module, m.inputs())
    assert any(k.startswith("trace/") for k in ir), "the trace must work on every zoo model"
    kinds = set().union(*(_node_kinds(t) for k, t in ir.items() if not k.endswith("/code")))
    assert kinds and {"prim::Constant"} <= kinds
    assert _undocumented(ir) == {}


def test_every_op_of_bert_has_a_doc() -> None:
    start = time.perf_counter()
    m = zoo.load("bert-base-uncased", allow_download=False)
    ir = _ir_of(m.module, m.inputs())
    assert "trace/inlined" in ir
    assert "aten::scaled_dot_product_attention" in ops_in(ir["trace/inlined"]) or "aten::softmax" in ops_in(
        ir["trace/inlined"]
    )
    assert _undocumented(ir) == {}
    assert time.perf_counter() - start < 120


def test_every_op_of_every_fixture_has_a_doc(tmp_path: Path) -> None:
    assert len(FIXTURE_FILES) > 20
    missing: dict[str, str] = {}
    seen: set[str] = set()
    for path in FIXTURE_FILES:
        source = path.read_text(encoding="utf-8")
        info = snippet.parse_source(source)
        d = tmp_path / path.stem
        d.mkdir()
        module, _ = snippet.load_module(source, d, filename=path.name)
        for entry in info.entries:
            try:
                obj = snippet.build_entry(module, entry)
                inputs = snippet.eval_inputs("", module)
            except Exception:
                continue
            ir = _ir_of(obj, inputs)
            for text in ir.values():
                seen.update(ops_in(text))
            missing.update({op: f"{path.name}:{entry.name} {w}" for op, w in _undocumented(ir).items()})
    assert len(seen) > 40
    assert missing == {}


def test_export_spellings_have_docs() -> None:
    class Branchy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            def yes(t: torch.Tensor) -> torch.Tensor:
                return t.sin()

            def no(t: torch.Tensor) -> torch.Tensor:
                return t.cos()

            y = torch.cond(x.sum() > 0, yes, no, (x,))
            return y.view(x.size(0), -1)

    batch = torch.export.Dim("batch", min=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(Branchy(), (torch.randn(4, 3),), dynamic_shapes=({0: batch},))
    code = ep.graph_module.code + "\n" + str(ep.graph)
    ops = ops_in(code)
    assert any(canonical(o)[0] == "higher_order::cond" for o in ops), ops
    assert any(canonical(o)[0] == "aten::sym_size" for o in ops), ops
    assert _undocumented({"export": code}) == {}
    for token in ("getitem", "placeholder", "output", "torch.cond", "aten._assert_scalar.default"):
        doc = doc_for(token)
        assert doc is not None and doc.summary, token


def test_doc_fields_come_from_torch() -> None:
    conv = doc_for("aten::conv2d")
    assert conv is not None and conv.origin == "torch"
    assert conv.schemas[0].startswith("aten::conv2d(Tensor input, Tensor weight")
    assert conv.summary.startswith("Applies a 2D convolution")
    relu_ = doc_for("aten::relu_")
    assert relu_ is not None and "In-place" in relu_.summary and relu_.meaning
    overload = doc_for("torch.ops.aten.add.Tensor")
    assert overload is not None and overload.op == "aten::add.Tensor"
    assert overload.schemas == ("aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",)
    assert doc_for("aten.conv2d.default").schemas == (conv.schemas[0],)  # type: ignore[union-attr]
    getattr_doc = doc_for("prim::GetAttr")
    assert getattr_doc is not None and getattr_doc.schemas == () and "attribute" in getattr_doc.summary
    assert doc_for("prim::NumToTensor").schemas  # type: ignore[union-attr]
    assert doc_for("nonsense") is None and doc_for("aten::definitely_not_an_op") is None


def test_group_and_guard_kinds_of_the_optimizer_are_documented() -> None:
    for op in (
        "prim::DifferentiableGraph_0",
        "prim::TensorExprGroup_3",
        "prim::FusionGroup_1",
        "prim::CudaFusionGroup_0",
        "prim::TensorExprDynamicGroup_0",
        "prim::TypeCheck",
        "prim::RequiresGradCheck",
        "prim::BailOut",
        "prim::profile",
        "prim::profile_ivalue",
        "prim::AutogradZero",
        "prim::isinstance",
        "prim::DictConstruct",
        "prim::DictIndex",
        "prim::If",
        "prim::Loop",
        "prim::RaiseException",
        "prim::Uninitialized",
        "prim::unchecked_cast",
        "prim::device",
        "prim::dtype",
        "prim::ListUnpack",
        "prim::TupleConstruct",
        "prim::TupleUnpack",
        "prim::CallFunction",
        "prim::CallMethod",
        "prim::Constant",
        "prim::ListConstruct",
        "torch.ops.higher_order.while_loop",
    ):
        doc = doc_for(op)
        assert isinstance(doc, OpDoc) and doc.origin == "table" and doc.summary.endswith((".", ")")), op


def test_ops_in_finds_every_spelling() -> None:
    text = (
        "%3 : Tensor = aten::relu(%x.1) # snippet.py:3:8\n"
        "  _0 = ops.prim.NumToTensor(torch.size(x, 0))\n"
        "  relu = torch.ops.aten.relu.default(x);  x = None\n"
        "  getitem = cond[0]; c = torch.ops.higher_order.cond(gt, true_graph_0, false_graph_0, (x,))\n"
        "  %y = prim::TensorExprGroup_0(%a)\n"
    )
    assert ops_in(text) == [
        "aten::relu",
        "ops.prim.NumToTensor",
        "torch.ops.aten.relu.default",
        "torch.ops.higher_order.cond",
        "prim::TensorExprGroup_0",
    ]
    assert ops_in("%x.1 : Float(2, strides=[1], requires_grad=0, device=cpu)") == []


def test_values_and_types_are_explained() -> None:
    assert ".N" in explain_value("%x.1") and "SSA" in explain_value("%x.1")
    assert "module object" in explain_value("%self")
    assert explain_value("%12") == opdocs.VALUE_DOCS["%N"]
    t = explain_type("Float(1, 3, 224, 224, strides=[150528, 50176, 224, 1], requires_grad=0, device=cpu)")
    assert "float32" in t and "strides" in t
    assert "list" in explain_type("int[]").lower()
    assert "None" in explain_type("Tensor?")


def test_docs_name_no_machine_path() -> None:
    texts = [doc_for(o).text for o in ("aten::conv2d", "prim::If", "aten::lstm", "torch.cond")]  # type: ignore[union-attr]
    for t in texts:
        assert "/work/" not in t and "site-packages" not in t and "/home/" not in t


# --- rendering: op tooltips and source links (jit_explorer.highlight.render_html) -----------------

IR = (
    "graph(%self : __torch__.M,\n"
    "      %x.1 : Float(2, strides=[1], requires_grad=0, device=cpu)):\n"
    '  %2 : Tensor = aten::relu(%x.1) # snippet.py:3:8\n'
    '  %3 : str = prim::Constant[value="<b>&"]() # snippet.py:4:8\n'
    "  return (%2)\n"
)


def test_render_marks_source_lines_and_bands() -> None:
    from jit_explorer.highlight import render_html

    out = render_html(IR, source_lines=[None, None, 3, 4, None])
    assert re.search(r'<span class="jx-line jx-b3" id="ir-L3" data-ln="3" data-src-line="3">', out)
    assert 'id="ir-L4" data-ln="4" data-src-line="4"' in out
    assert out.count("data-src-line=") == 2
    assert 'data-src-lines="3 4"' in out and "jx-linked" in out
    plain = render_html(IR)
    assert "data-src-line" not in plain and "jx-linked" not in plain
    src = render_html("import torch\nx = 1\n", language="python", anchor="src", source_pane=True)
    assert 'id="src-L2" data-ln="2" data-line="2"' in src and "jx-source" in src


def test_render_wraps_ops_with_docs() -> None:
    from jit_explorer.highlight import render_html

    out = render_html(IR)
    assert '<span class="jx-op" data-op="aten::relu"><span class="nf">aten::relu</span></span>' in out
    assert 'data-op="prim::Constant"' in out
    docs = re.search(r'<div class="jx-opdocs" hidden>(.*)</div></div>$', out, re.S)
    assert docs, out[-500:]
    for key in ("aten::relu", "prim::Constant", "%name.N", "%N", "%self", "type:Float", "type:Tensor"):
        assert f'data-doc-for="{key}"' in docs.group(1), key
    assert "aten::relu(Tensor self) -&gt; Tensor" in docs.group(1)
    assert "&lt;b&gt;&amp;" in out and "<b>&" not in out  # the constant stays escaped
    assert "/work/" not in out and "site-packages" not in out
    assert "jx-op" not in render_html(IR, op_docs=False)
    code = render_html("  y = torch.ops.aten.relu.default(x)\n  z = torch.relu(y)\n  w = torch.nn\n", language="python")
    assert 'data-op="aten::relu.default"' in code and 'data-op="aten::relu"' in code
    assert code.count('class="jx-op"') == 2


def test_render_keeps_line_text_when_wrapping() -> None:
    from jit_explorer.highlight import render_html

    text = "  %5 : Tensor = aten::add(%a, %b, %c) # x.py:1:1\n  _0 = ops.prim.NumToTensor(torch.size(x, 0))\n"
    for lang in ("ir", "python"):
        out = render_html(text, language=lang)
        visible = re.sub(r'<div class="jx-opdocs".*$', "", out, flags=re.S)
        visible = re.sub(r"<[^>]+>", "", visible)
        assert visible == text.replace(">", "&gt;")


@pytest.mark.parametrize("name", ["gpt2", "ssdlite"])
def test_every_op_in_every_view_of_the_newer_zoo_models_has_a_doc(name: str) -> None:
    """GPT-2 and SSDlite through all four capture modes (SSDlite's trace fails: its output is a list of dicts)."""
    from jit_explorer.analysis import analyze_model

    report = analyze_model(name, mode="all")
    seen: set[str] = set()
    for res in report.modes.values():
        for text in res.views.values():
            seen.update(ops_in(text))
    assert len(seen) > 20
    assert sorted(op for op in seen if doc_for(op) is None) == []
