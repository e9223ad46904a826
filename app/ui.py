"""The Gradio Blocks layout and event wiring (no torch logic here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from jit_explorer import highlight, zoo

from . import handlers, render

__all__ = ["build_demo", "CSS", "EXAMPLES"]

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES: dict[str, str] = {p.stem: p.read_text() for p in sorted((ASSETS / "examples").glob("*.py"))}
DEFAULT_EXAMPLE = "branch_on_value"
CSS = highlight.css() + "\n" + (ASSETS / "app.css").read_text()

INTRO = """# JIT Explorer
See what PyTorch's script mode does to your model. **`torch.jit.trace`** runs your model once and records
the operations it saw — Python `if`s, loops and numbers are frozen into the graph. **`torch.jit.script`**
compiles your Python source, so control flow survives, but only a subset of Python is accepted.
Pick a model or paste code, read both IRs side by side, and see every tracing pitfall pinned to its line.
"""


def _result_panes(prefix: str) -> list[gr.HTML]:
    """Trace and script columns, each with Graph / Code / Inlined / Optimized tabs: 8 HTML panes."""
    panes: list[gr.HTML] = []
    with gr.Row(equal_height=False):
        for mode in ("trace", "script"):
            with gr.Column(min_width=320):
                gr.Markdown(f"### `torch.jit.{mode}`")
                with gr.Tabs():
                    for label, key, _ in render.VIEWS:
                        with gr.Tab(label, id=f"{prefix}-{mode}-{key}"):
                            panes.append(gr.HTML(render.empty_panes()[0], elem_id=f"{prefix}-{mode}-{key}",
                                                 elem_classes=["jx-pane"]))
    return panes


def _model_tab() -> None:
    with gr.Row():
        model = gr.Dropdown(handlers.model_choices(), value="resnet18", label="Model", scale=3)
        mode = gr.Radio(["both", "trace", "script"], value="both", label="Mode", scale=2)
        device = gr.Radio(["cpu", "cuda"], value="cpu", label="Device", scale=1)
        go = gr.Button("Convert", variant="primary", elem_id="convert-btn", scale=1)
    desc = gr.Markdown(zoo.spec("resnet18").description, elem_id="model-desc")
    notice = gr.HTML(elem_id="model-notice")
    pitfalls = gr.HTML(elem_id="model-pitfalls")
    warns = gr.HTML(elem_id="model-warnings")
    panes = _result_panes("m")
    report = gr.JSON(visible=False)
    model.change(lambda n: zoo.spec(n).description, model, desc, api_visibility="private", queue=False)
    go.click(handlers.ui_convert, [model, mode, device], [notice, *panes, pitfalls, warns, report],
             api_visibility="private", concurrency_limit=1, concurrency_id="convert")


def _paste_tab() -> None:
    with gr.Row():
        with gr.Column(scale=3):
            example = gr.Dropdown(list(EXAMPLES), value=DEFAULT_EXAMPLE, label="Example snippets", elem_id="example-pick")
            code = gr.Code(EXAMPLES[DEFAULT_EXAMPLE], language="python", interactive=True, lines=16,
                           label="Your code (functions and nn.Module subclasses)", elem_id="paste-code")
        with gr.Column(scale=2):
            entry = gr.Dropdown(["clamp_sign"], value="clamp_sign", label="Entry", allow_custom_value=True, elem_id="paste-entry")
            inputs = gr.Textbox(label="Inputs (a Python expression; empty: example_inputs())",
                                placeholder="torch.randn(2, 3)", elem_id="paste-inputs")
            mode = gr.Radio(["both", "trace", "script"], value="both", label="Mode")
            go = gr.Button("Analyze", variant="primary", elem_id="analyze-btn")
            gr.Markdown("Your code runs in a separate sandboxed process with time and memory limits.")
    notice = gr.HTML(elem_id="paste-notice")
    pitfalls = gr.HTML(elem_id="paste-pitfalls")
    source = gr.HTML(elem_id="paste-source")
    warns = gr.HTML(elem_id="paste-warnings")
    panes = _result_panes("p")
    report = gr.JSON(visible=False)
    example.change(lambda name: EXAMPLES.get(name, ""), example, code, api_visibility="private", queue=False)
    code.change(handlers.ui_entries, code, entry, api_visibility="private", queue=False)
    go.click(handlers.ui_analyze, [code, entry, inputs, mode], [notice, *panes, pitfalls, warns, source, report],
             api_visibility="private", concurrency_limit=2, concurrency_id="sandbox")


def build_demo() -> gr.Blocks:
    """Build the Blocks app (not launched). API endpoints: /convert_model, /analyze_code."""
    with gr.Blocks(title="JIT Explorer") as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab("Model", id="model"):
                _model_tab()
            with gr.Tab("Paste code", id="paste"):
                _paste_tab()
        gr.api(handlers.convert_model, api_name="convert_model", concurrency_limit=1, concurrency_id="convert")
        gr.api(handlers.analyze_code, api_name="analyze_code", concurrency_limit=2, concurrency_id="sandbox")
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def launch_kwargs() -> dict[str, Any]:
    """Styling arguments for ``demo.launch`` (Gradio 6 takes css/theme at launch)."""
    return {"css": CSS, "theme": gr.themes.Soft()}
