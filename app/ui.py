"""The Gradio Blocks layout and event wiring (no torch logic here).

Tabs: Start (trace vs script in three sentences, the blog's two models, a gallery of
pitfall examples), Model, Paste code, Benchmark. A "Copy link" button packs the view
into ``?s=`` (see :mod:`app.share`); opening such a link restores the view and re-runs
the conversion or analysis it showed.

Concurrency groups (the queue shows waiting users their place):
``convert`` (1: the JIT is serialised anyway), ``sandbox`` (2 workers),
``bench-cpu`` and ``bench-cuda`` (1 each: one benchmark per device), ``bench-api``
(the API's own group; a per-device lock in the handler serialises it with the UI).
A running benchmark never holds a slot that IR requests need.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import gradio as gr

from jit_explorer import bench, highlight, zoo
from jit_explorer.modes import REGISTRY, parse_modes

from . import archive_tab, handlers, render, share, subtabs

__all__ = ["build_demo", "CSS", "EXAMPLES", "GALLERY", "launch_kwargs"]

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES: dict[str, str] = {p.stem: p.read_text() for p in sorted((ASSETS / "examples").glob("*.py"))}
DEFAULT_EXAMPLE = "branch_on_value"
CSS = highlight.css() + "\n" + (ASSETS / "app.css").read_text()

#: (example file stem, card title, pitfall kind shown on the card); the Start tab's gallery.
GALLERY: tuple[tuple[str, str, str], ...] = (
    ("branch_on_value", "if on a tensor value", "tensor-to-bool"),
    ("item_to_python", ".item() into Python", "tensor-to-number"),
    ("loop_over_rows", "loop over x.size(0)", "shape-specialization"),
    ("dim_check", "branch on x.dim()", "shape-specialization"),
    ("tolist_rebuild", "tolist() round trip", "constant-tensor"),
    ("call_counter", "self.calls += 1", "python-side-effect"),
    ("python_random", "random.random()", "nondeterministic"),
    ("dict_output", "dict output", "container-output"),
    ("script_error_lambda", "lambda in forward", "script-error"),
    ("clean_mlp", "a clean MLP", "no pitfalls"),
)

TITLE = "# ⚡ JIT Explorer"
LANDING = """### What do PyTorch's compilers do to your code?
**`torch.jit.trace`** runs your model once and records the tensor ops it saw (Python `if`s, loops and numbers are
frozen); **`torch.jit.script`** compiles your source into TorchScript (deprecated since PyTorch 2.11).
Their successors: **`torch.export`** captures the whole program as one graph of ATen ops, for deployment without
Python (AOTInductor `.pt2`, ExecuTorch), and **`torch.compile`** (Dynamo) captures graphs from running Python and
falls back to Python where it cannot (*graph breaks*). This tool runs the four side by side, says which capture fits
your code, pins every problem to the line that causes it with a fix, and times them honestly.
"""

METHODOLOGY = """\
**How it is measured.** Each mode is converted and called once (*first call*: conversion, compilation and
the first run, the one-off cost), warmed up (at least 3 more calls, which covers TorchScript's profiling runs), then
all modes are timed in interleaved rounds with `torch.utils.benchmark.Timer` under `torch.inference_mode()`, the
thread count set explicitly (on CUDA every call is synchronised). **median** is the typical latency, **p90** the
slow tail, **IQR** the spread (small = stable), *95% CI* a bootstrap interval of the median. *speedup* is eager's
median divided by the mode's, with its 95% interval; when that interval contains 1.0 the mode is the **same** as eager.
Every output is compared with eager (*max abs diff*): a fast but wrong mode is flagged, never called fastest. *peak
mem* is the memory a mode's program and one call add (resident set on CPU, `max_memory_allocated` on CUDA).
*export* runs `torch.export`'s program in Python; *aot-inductor* compiles it into a `.pt2` package that C++ can load
(its first call includes that compilation, tens of seconds). GFLOP/s counts FLOPs with `FlopCounterMode`; *% of
peak* divides by the **measured** peak of a dense matrix multiply on the same device and threads (the spec-sheet
estimate is shown beside it). On a shared 2-vCPU Space other users' requests can disturb the numbers: the notes say
when the machine was busy.
"""

CUDA_MISSING = ("CUDA is not available on this server (`torch.cuda.is_available()` is False), so only the CPU is "
                "offered. Run the app on a machine with an NVIDIA GPU, or on a ZeroGPU Space, to benchmark on cuda.")

_COPY_JS = """(token) => {
  const url = new URL(window.location.href);
  url.search = token ? "?s=" + token : "";
  url.hash = "";
  const link = url.toString();
  try { window.history.replaceState(null, "", link); } catch (e) {}
  try { if (navigator.clipboard) { navigator.clipboard.writeText(link).catch(() => {}); } } catch (e) {}
  return link;
}"""

_PRIVATE: dict[str, Any] = {"api_visibility": "private"}
SANDBOX_CONCURRENCY = 8
"""Pastes let into the handler at once: they wait in the fair gate (jit_explorer.fairness), which admits
the sandbox's ``max_running`` by client, instead of in Gradio's first-come queue behind long runs."""


def _result_panes(prefix: str, c: dict[str, Any] | None = None) -> list[gr.HTML]:
    """One column per capture mode of the registry, each with a tab per view: the HTML panes in ``render.PANES`` order.

    ``c["mode_tabs"]`` collects each column's Tabs and ``c["sub_tabs"]`` its (prefix, mode, view, Tab), for links."""
    panes: list[gr.HTML] = []
    placeholder = render.empty_panes()[0]
    with gr.Row(equal_height=False, elem_classes=["jx-modes"]):
        for name, spec in REGISTRY.items():
            with gr.Column(min_width=420, elem_classes=["jx-mode-col"], elem_id=f"{prefix}-col-{name}"):
                gr.Markdown(f"### `{spec.title}`\n{spec.summary}", elem_classes=["jx-mode-head"])
                with gr.Tabs(elem_id=f"{prefix}-tabs-{name}") as mode_tabs:
                    if c is not None:
                        c.setdefault("mode_tabs", []).append(mode_tabs)
                    for view in render.pane_views(name):
                        with gr.Tab(view.label, id=f"{prefix}-{name}-{view.name}") as sub:
                            if c is not None:
                                c.setdefault("sub_tabs", []).append((prefix, name, view.name, sub))
                            panes.append(gr.HTML(placeholder, elem_id=f"{prefix}-{name}-{view.name}",
                                                 elem_classes=["jx-pane"]))
    return panes


def _mode_picker(elem_id: str, default: str = "all") -> gr.CheckboxGroup:
    """The capture modes to run: one checkbox per registered mode (``default`` ticked: every mode)."""
    return gr.CheckboxGroup([(spec.title, name) for name, spec in REGISTRY.items()], value=list(parse_modes(default)),
                            label="Capture modes", elem_id=elem_id, min_width=260)


def _start_tab(c: dict[str, Any]) -> None:
    gr.Markdown(LANDING, elem_id="landing")
    with gr.Row(elem_classes=["jx-start-models"]):
        c["start_resnet"] = gr.Button("ResNet-18 — vision, traces and scripts cleanly", variant="primary",
                                      elem_id="start-resnet18")
        c["start_bert"] = gr.Button("BERT-base — NLP, trace works, script fails", variant="primary",
                                    elem_id="start-bert")
    gr.Markdown("#### Tracing pitfalls, live — click one to analyse it now (nothing is cached)")
    c["gallery"] = {}
    with gr.Row(elem_classes=["jx-gallery"], elem_id="gallery"):
        for name, title, kind in GALLERY:
            if name in EXAMPLES:
                c["gallery"][name] = gr.Button(f"{title} · {kind}", size="sm", elem_id=f"ex-{name}",
                                               elem_classes=["jx-gallery-card"], min_width=150)
    gr.HTML(render.deprecation_line(), elem_id="start-deprecation")


def _model_tab(c: dict[str, Any]) -> None:
    with gr.Row():
        c["model"] = gr.Dropdown(handlers.model_choices(), value="resnet18", label="Model", scale=3,
                                 min_width=200, elem_id="model-pick")
        c["mode"] = _mode_picker("model-mode")
        c["device"] = gr.Radio(handlers.convert_devices(), value="cpu", label="Device", scale=1, min_width=120,
                               elem_id="model-device")
        c["convert"] = gr.Button("Convert", variant="primary", elem_id="convert-btn", scale=1, min_width=120)
    c["desc"] = gr.Markdown(zoo.spec("resnet18").description, elem_id="model-desc")
    notice = gr.HTML(elem_id="model-notice")
    summary = gr.HTML(elem_id="model-summary")
    pitfalls = gr.HTML(elem_id="model-pitfalls")
    warns = gr.HTML(elem_id="model-warnings")
    with gr.Accordion("The model's source (read-only): hover a line to see its IR, hover IR to find its line",
                      open=True, elem_id="model-source-box"):
        source = gr.HTML(elem_id="model-source")
    panes = _result_panes("m", c)
    report = gr.JSON(visible=False)
    c["convert_outputs"] = [notice, summary, *panes, pitfalls, warns, source, report]
    with gr.Accordion("Download the TorchScript module (.pt) and load it from C++", open=False, elem_id="artifact"):
        with gr.Row():
            c["save_mode"] = gr.Radio(["trace", "script"], value="trace", label="Module to save", min_width=160,
                                      elem_id="save-mode")
            c["save"] = gr.Button("Build .pt (torch.jit.save)", elem_id="save-btn", min_width=160)
        c["artifact"] = gr.File(label="TorchScript artifact", elem_id="artifact-file", interactive=False)
        c["cpp"] = gr.Code(render.libtorch_snippet("resnet18_trace.pt", [([1, 3, 224, 224], "float32")]),
                           language="cpp", label="LibTorch (C++) loads it with torch::jit::load", interactive=False,
                           elem_id="libtorch-snippet")


def _paste_tab(c: dict[str, Any]) -> None:
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            c["example"] = gr.Dropdown(list(EXAMPLES), value=DEFAULT_EXAMPLE, label="Example snippets",
                                       elem_id="example-pick")
            c["code"] = gr.Code(EXAMPLES[DEFAULT_EXAMPLE], language="python", interactive=True, lines=16,
                                label="Your code (functions and nn.Module subclasses)", elem_id="paste-code")
        with gr.Column(scale=2, min_width=260):
            c["entry"] = gr.Dropdown(["clamp_sign"], value="clamp_sign", label="Entry", allow_custom_value=True,
                                     elem_id="paste-entry")
            c["inputs"] = gr.Textbox(label="Inputs (a Python expression; empty: example_inputs())",
                                     placeholder="torch.randn(2, 3)", elem_id="paste-inputs")
            c["pmode"] = _mode_picker("paste-mode")
            c["analyze"] = gr.Button("Analyze", variant="primary", elem_id="analyze-btn")
            gr.Markdown("Your code runs in a separate sandboxed process with time and memory limits.")
    notice = gr.HTML(elem_id="paste-notice")
    summary = gr.HTML(elem_id="paste-summary")
    pitfalls = gr.HTML(elem_id="paste-pitfalls")
    source = gr.HTML(elem_id="paste-source")
    warns = gr.HTML(elem_id="paste-warnings")
    panes = _result_panes("p", c)
    report = gr.JSON(visible=False)
    c["paste_report"] = report  # the Benchmark tab carries its verdict (a trace correct only for the example)
    c["analyze_outputs"] = [notice, summary, *panes, pitfalls, warns, source, report]
    with gr.Accordion("Download your module (.pt) and load it from C++", open=False, elem_id="paste-artifact"):
        with gr.Row():
            c["psave_mode"] = gr.Radio(["trace", "script"], value="trace", label="Module to save", min_width=160,
                                       elem_id="paste-save-mode")
            c["psave"] = gr.Button("Build .pt (torch.jit.save, in the sandbox)", elem_id="paste-save-btn",
                                   min_width=160)
        c["partifact"] = gr.File(label="TorchScript artifact of your entry", elem_id="paste-artifact-file",
                                 interactive=False)
        c["pcpp"] = gr.Code("// build the .pt first: the snippet fills in your entry's inputs", language="cpp",
                            label="LibTorch (C++) loads it with torch::jit::load", interactive=False,
                            elem_id="paste-libtorch-snippet")


def _bench_tab(c: dict[str, Any]) -> None:
    with gr.Row():
        c["bmodel"] = gr.Dropdown(handlers.bench_targets(), value="resnet18", label="Model", scale=3, min_width=200,
                                  elem_id="bench-model")
        c["bdevice"] = gr.Radio(handlers.bench_devices(), value="cpu", label="Device", scale=1, min_width=120,
                                elem_id="bench-device")
        c["bthreads"] = gr.Number(0, precision=0, minimum=0, maximum=1024, label="Threads (0 = all usable cores)",
                                  scale=1, min_width=140, elem_id="bench-threads")
        c["budget"] = gr.Slider(0.5, 10.0, value=handlers.BENCH_UI_BUDGET_S, step=0.5, scale=2, min_width=200,
                                label="Seconds of timed calls per mode", elem_id="bench-budget")
    default = list(bench.default_modes("cpu"))  # offered; ticked: handlers.ui_default_bench_modes
    c["bmodes"] = gr.CheckboxGroup(default, value=handlers.ui_default_bench_modes("cpu"),
                                   label="Modes (eager is always run: it is the baseline)",
                                   elem_id="bench-modes")
    if "cuda" not in handlers.bench_devices():
        gr.Markdown(CUDA_MISSING, elem_id="bench-cuda-note")
    with gr.Row():
        c["bench_cpu"] = gr.Button("Run benchmark", variant="primary", elem_id="bench-btn")
        c["bench_gpu"] = gr.Button("Run benchmark on the GPU", variant="primary", elem_id="bench-gpu-btn",
                                   visible=False)
    summary = gr.HTML(elem_id="bench-summary")
    chart = gr.HTML(elem_id="bench-chart")
    table = gr.HTML(elem_id="bench-table")
    notes = gr.HTML(elem_id="bench-notes")
    report = gr.JSON(visible=False)
    c["bench_outputs"] = [summary, chart, table, notes, report]
    with gr.Accordion("How to read these numbers", open=False, elem_id="bench-method"):
        gr.Markdown(METHODOLOGY)


def _open_model(name: str) -> list[Any]:
    return [gr.update(selected="model"), "model", name]


def _open_example(name: str) -> list[Any]:
    source = EXAMPLES[name]
    return [gr.update(selected="paste"), "paste", name, source, handlers.ui_entries(source, ""), ""]


def _example_for_code(code: str, example: str | None) -> Any:
    """The example dropdown names an example only while the editor holds it (pasted code is nobody's example)."""
    if example and (EXAMPLES.get(example) or "").strip() == (code or "").strip():
        return gr.skip()
    return gr.update(value=None) if example else gr.skip()


def _share_token(*args: Any) -> str:
    """:func:`handlers.ui_share_token` plus the IR sub-tabs the current tab shows (``views``)."""
    *view_args, subviews = args
    token = handlers.ui_share_token(*view_args)
    extra = subtabs.views_text(subviews, view_args[0])
    view = share.decode(token) if extra else None
    return share.encode({**view, "views": extra}) if view is not None else token


def _restore(request: gr.Request) -> list[Any]:
    """:func:`handlers.ui_restore`, then each mode column's sub-tab and the sub-tab state from the link."""
    out = handlers.ui_restore(request)
    try:
        token = dict(request.query_params).get(share.PARAM, "") if request is not None else ""
    except Exception:  # noqa: BLE001 - a request without query parameters
        token = ""
    view = share.decode(token) if token else None
    n = len(subtabs.PREFIXES) * len(subtabs.known())
    if view is None or not view.get("views"):
        return [*out, *[gr.skip()] * n, gr.skip()]
    updates, state = subtabs.restore(view["views"], view["tab"])
    return [*out, *(gr.update(selected=u) if u else gr.skip() for u in updates), state]


def _bench_buttons(device: str) -> list[Any]:
    gpu = device == "cuda"
    return [gr.update(visible=not gpu), gr.update(visible=gpu)]


def _wire(demo: gr.Blocks, c: dict[str, Any]) -> None:
    """Every event of the page."""
    convert_args = {"concurrency_limit": 1, "concurrency_id": "convert", **_PRIVATE}
    # the sandbox runs 2 at once; up to 8 wait in jit_explorer.fairness (per-client order), not in FIFO
    sandbox_args = {"concurrency_limit": SANDBOX_CONCURRENCY, "concurrency_id": "sandbox", **_PRIVATE}
    model_in = [c["model"], c["mode"], c["device"]]
    paste_in = [c["code"], c["entry"], c["inputs"], c["pmode"]]

    # tabs remember where the user is (for the link)
    for tab_id, tab in c["tab_items"].items():
        tab.select(functools.partial(lambda t: t, tab_id), None, c["tab_state"], queue=False, **_PRIVATE)

    # Model tab
    c["model"].change(lambda n: zoo.spec(n).description, c["model"], c["desc"], queue=False, **_PRIVATE)
    c["convert"].click(handlers.ui_convert, model_in, c["convert_outputs"], **convert_args)
    c["save"].click(handlers.ui_download, [c["model"], c["save_mode"]], [c["artifact"], c["cpp"]], **convert_args)

    # Paste tab
    c["example"].input(lambda n: (EXAMPLES.get(n, ""), ""), c["example"], [c["code"], c["inputs"]], queue=False,
                       **_PRIVATE)  # a new example starts from its own example_inputs(), not the old expression
    c["code"].change(_example_for_code, [c["code"], c["example"]], c["example"], queue=False, **_PRIVATE)
    c["code"].change(handlers.ui_entries, [c["code"], c["entry"]], c["entry"], queue=False, **_PRIVATE)
    c["analyze"].click(handlers.ui_analyze, paste_in, c["analyze_outputs"], **sandbox_args)
    c["psave"].click(handlers.ui_download_code, [c["code"], c["entry"], c["inputs"], c["psave_mode"]],
                     [c["partifact"], c["pcpp"]], **sandbox_args)

    # Start tab: one click opens a tab and runs it live
    for name, button in (("resnet18", c["start_resnet"]), ("bert-base-uncased", c["start_bert"])):
        button.click(functools.partial(_open_model, name), None, [c["tabs"], c["tab_state"], c["model"]],
                     queue=False, **_PRIVATE).then(handlers.ui_convert, model_in, c["convert_outputs"], **convert_args)
    for name, button in c["gallery"].items():
        button.click(functools.partial(_open_example, name), None,
                     [c["tabs"], c["tab_state"], c["example"], c["code"], c["entry"], c["inputs"]],
                     queue=False, **_PRIVATE).then(handlers.ui_analyze, paste_in, c["analyze_outputs"], **sandbox_args)

    # Benchmark tab: one concurrency group per device, so a benchmark waits only for one on its device
    bench_in = [c["bmodel"], c["bdevice"], c["bmodes"], c["bthreads"], c["budget"], c["code"], c["entry"], c["inputs"],
                c["paste_report"]]
    c["bdevice"].input(handlers.ui_bench_modes, c["bdevice"], c["bmodes"], queue=False, **_PRIVATE)
    c["bdevice"].change(_bench_buttons, c["bdevice"], [c["bench_cpu"], c["bench_gpu"]], queue=False, **_PRIVATE)
    c["bench_cpu"].click(handlers.ui_benchmark, bench_in, c["bench_outputs"], concurrency_limit=1,
                         concurrency_id="bench-cpu", **_PRIVATE)
    c["bench_gpu"].click(handlers.ui_benchmark, bench_in, c["bench_outputs"], concurrency_limit=1,
                         concurrency_id="bench-cuda", **_PRIVATE)

    # shareable links
    view_in = [c["tab_state"], c["model"], c["mode"], c["device"], c["code"], c["entry"], c["inputs"], c["pmode"],
               c["bmodel"], c["bdevice"], c["bmodes"], c["bthreads"]]
    for prefix, mode, view, sub in c["sub_tabs"]:  # the IR sub-tab of each column travels with the link
        sub.select(functools.partial(subtabs.pick, prefix=prefix, mode=mode, view=view), c["subviews"], c["subviews"],
                   queue=False, **_PRIVATE)
    c["copy"].click(_share_token, [*view_in, c["subviews"]], c["token"], queue=False, **_PRIVATE).then(
        None, c["token"], c["link"], js=_COPY_JS, queue=False, **_PRIVATE).then(
        lambda: gr.update(visible=True), None, c["link"], queue=False, **_PRIVATE)
    demo.load(_restore, None,
              [c["tabs"], c["tab_state"], c["model"], c["mode"], c["device"], c["code"], c["entry"], c["inputs"],
               c["pmode"], c["bmodel"], c["bdevice"], c["bmodes"], c["bthreads"], c["auto_model"], c["auto_paste"],
               *c["mode_tabs"], c["subviews"]],
              queue=False, **_PRIVATE)
    c["auto_model"].change(handlers.ui_convert, model_in, c["convert_outputs"], **convert_args)
    c["auto_paste"].change(handlers.ui_analyze, paste_in, c["analyze_outputs"], **sandbox_args)


def build_demo() -> gr.Blocks:
    """Build the Blocks app (not launched). API endpoints: /convert_model, /analyze_code, /benchmark."""
    c: dict[str, Any] = {}
    with gr.Blocks(title="JIT Explorer") as demo:
        with gr.Row(elem_id="header", equal_height=True):
            gr.Markdown(TITLE, elem_id="title")
            c["copy"] = gr.Button("🔗 Copy link", size="sm", scale=0, min_width=120, elem_id="copy-link")
        c["link"] = gr.Textbox(label="Link to this view (copied to the clipboard)", interactive=False,
                               visible=False, buttons=["copy"], elem_id="share-link")
        c["token"] = gr.Textbox(visible="hidden", elem_id="share-token")
        c["auto_model"] = gr.Textbox(visible="hidden", elem_id="auto-model")
        c["auto_paste"] = gr.Textbox(visible="hidden", elem_id="auto-paste")
        c["tab_state"] = gr.State("start")
        c["subviews"] = gr.State({})  # the IR sub-tab of each mode column (app.subtabs)
        c["tab_items"] = {}
        with gr.Tabs(elem_id="main-tabs", selected="start") as tabs:
            c["tabs"] = tabs
            with gr.Tab("Start", id="start", elem_id="tab-start") as t:
                c["tab_items"]["start"] = t
                _start_tab(c)
            with gr.Tab("Model", id="model", elem_id="tab-model") as t:
                c["tab_items"]["model"] = t
                _model_tab(c)
            with gr.Tab("Paste", id="paste", elem_id="tab-paste") as t:
                c["tab_items"]["paste"] = t
                _paste_tab(c)
            with gr.Tab("Benchmark", id="bench", elem_id="tab-bench") as t:
                c["tab_items"]["bench"] = t
                _bench_tab(c)
            with gr.Tab("Open a .pt", id="archive", elem_id="tab-archive"):
                c["archive"] = archive_tab.build()  # its events and the /inspect_archive API are wired there
        _wire(demo, c)
        gr.api(handlers.convert_model, api_name="convert_model", concurrency_limit=1, concurrency_id="convert")
        gr.api(handlers.analyze_code, api_name="analyze_code", concurrency_limit=SANDBOX_CONCURRENCY,
               concurrency_id="sandbox")
        gr.api(handlers.benchmark, api_name="benchmark", concurrency_limit=2, concurrency_id="bench-api")
    # sized for a 2-vCPU Space: the groups above bound the heavy work; light UI events skip the queue
    demo.queue(default_concurrency_limit=1, max_size=32, status_update_rate="auto")
    return demo


def launch_kwargs() -> dict[str, Any]:
    """Styling arguments for ``demo.launch`` (Gradio 6 takes css/theme/head at launch); ``head`` carries linking.js."""
    return {"css": CSS, "theme": gr.themes.Soft(), "head": f"<script>{(ASSETS / 'linking.js').read_text()}</script>",
            "max_file_size": archive_tab.MAX_UPLOAD}
