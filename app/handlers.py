"""Event handlers: short adapters from UI/API arguments to one library call, then to outputs.

The API functions (``convert_model``, ``analyze_code``) return exactly the JSON
objects of DESIGN.md; the ``ui_*`` functions map the same results to the panes of
the page. Library errors become ``gr.Error`` here and nowhere else.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from gradio.utils import is_static_file

from jit_explorer import artifacts, bench, fairness, sandbox, snippet, zoo
from jit_explorer.analysis import analyze_model, failed
from jit_explorer.entry_choice import choose_entry
from jit_explorer.errors import JitExplorerError, SnippetError
from jit_explorer.modes import REGISTRY, parse_modes

from . import fast, render, share, spaces_shim
from .learner import bench_with_verdicts, trace_caveats

__all__ = [
    "convert_model", "analyze_code", "benchmark", "save_artifact",
    "ui_convert", "ui_analyze", "ui_entries", "ui_benchmark", "ui_bench_modes", "ui_download",
    "ui_download_code",
    "ui_share_token", "ui_restore", "model_choices", "convert_devices", "cuda_available", "bench_devices", "BENCH_UI_BUDGET_S",
]


_MAX_NAME_CHARS = 200
"""Names (model, entry, mode, device) longer than this are refused without being echoed."""


def _arg_text(value: Any, name: str, *, limit: int = _MAX_NAME_CHARS, default: str = "") -> str:
    """A text argument from the page or the API: ``None`` is ``default``; another type, more than ``limit``
    characters or lone surrogates are refused in one line that does not echo the value."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise gr.Error(f"{name} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise gr.Error(f"{name} is {len(value)} characters long; the limit is {limit}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise gr.Error(f"{name} contains characters that are not valid text (lone surrogates)") from None
    return value


def _arg_threads(value: Any) -> int:
    """``threads``: a whole number from 0 (all usable cores) to the usable cores; ``None`` is 0."""
    cores = sandbox.usable_cores()
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= cores:
        raise gr.Error(f"threads must be a whole number from 0 to {cores} (0: all {cores} usable cores)")
    return value


def _arg_modes(modes: Any) -> list[str] | None:
    """``modes``: ``None`` or a list of benchmark mode names (empty: every mode of the device)."""
    if modes is None:
        return None
    if (not isinstance(modes, (list, tuple)) or len(modes) > 32
            or not all(isinstance(m, str) and 0 < len(m) <= 64 for m in modes)):
        raise gr.Error("modes must be a list of benchmark mode names (empty: all of them): "
                       + ", ".join(bench.ALL_MODES))
    return list(modes)


def _check_mode(mode: str) -> str:
    """The mode selection as the canonical comma list (``trace,script``); one sentence when it is unknown."""
    try:
        return ",".join(parse_modes(mode or "both"))
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None


def _ui_mode(mode: Any) -> str:
    """The page's mode checkboxes (a list) as the text the API takes; nothing ticked is a clear error."""
    if isinstance(mode, (list, tuple)):
        if not mode:
            raise gr.Error("no capture mode is ticked: tick at least one of " + ", ".join(REGISTRY))
        return ",".join(str(m) for m in mode)
    return mode or "both"


def convert_model(model: str, mode: str = "both", device: str = "cpu") -> dict[str, Any]:
    """Convert a model of JIT Explorer's catalogue (the zoo) with PyTorch's capture modes; return its IR and pitfalls.

    Use it to show what torch.jit.trace, torch.jit.script, torch.export and torch.compile make of a known model
    (resnet18, mobilenet_v3_small, bert-base-uncased, gru, and small teaching models such as sign_branch); no user
    code runs. Without a model hub the weights are random: the IR is the same, the outputs mean nothing.
    Conversions run one at a time; BERT takes tens of seconds on a CPU.

    Args:
        model: a zoo model name, e.g. "resnet18" (an unknown name fails with the list of names).
        mode: the capture modes: "trace", "script", "export", "compile", a comma list of them, "both" (trace and script, the default) or "all".
        device: "cpu" (the default) or "cuda" (only where the server has a GPU).

    Returns:
        dict: the CLI's `convert --json` object: "ok", "error", "model", "weights" ("pretrained" or "random")
        "pitfalls": a list of {kind, mode, severity (error/warning/info), line, message, fix, evidence}
        one object per requested mode ("trace", "script"...) with "ok", "error" and "views" (the IR texts by view name)
    """
    model, mode = _arg_text(model, "model"), _arg_text(mode, "mode", default="both")
    device = _arg_text(device, "device", default="cpu")
    if device not in ("", "cpu", "cuda"):
        raise gr.Error(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    try:
        return analyze_model(model, mode=_check_mode(mode), device=device or "cpu").to_dict()
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None


def _paste_refusal() -> str | None:
    """Why pasted code may not run here (paste gating), or ``None``.

    A public share link counts: :func:`app.launch` records it in the sandbox's paste policy
    (``sandbox.mark_public_share``), so the handler asks the policy, not the launched app.
    """
    return sandbox.paste_refusal()


def _paste_args(source: Any, entry: Any, inputs: Any) -> tuple[str, str, str]:
    """The Paste tab's three texts (source, entry, inputs) checked as :func:`_arg_text` does, the entry stripped."""
    return (_arg_text(source, "source", limit=4 * snippet.MAX_SOURCE_BYTES), _arg_text(entry, "entry").strip(),
            _arg_text(inputs, "inputs", limit=4 * sandbox.MAX_INPUTS_CHARS))


def analyze_code(source: str, entry: str = "", inputs: str = "", mode: str = "both",
                 request: gr.Request | None = None) -> dict[str, Any]:
    """Find the pitfalls of PyTorch code under torch.jit.trace/script, torch.export and torch.compile; return its IR.

    Give the Python source of a function or nn.Module (with its imports). It runs in a sandbox: a throw-away,
    confined process with a 30 s time limit and a memory limit; sources up to 256 KB. Each pitfall is pinned to
    a 1-based line of the given source with a fix (e.g. an `if` on a tensor's value that a trace freezes). Problems
    with the code itself (syntax error, no entry, an exception, a limit hit) come back as "ok": false with an
    "error" {kind, message, line} that says what to change; when the server does not accept pasted code, the
    error's kind is "disabled". At most two analyses run at a time.

    Args:
        source: the Python source text: a top-level function or nn.Module subclass, its imports, and ideally an example_inputs() function returning a tuple of inputs.
        entry: the function or class to convert; "" when the source defines only one.
        inputs: a Python expression for the inputs, e.g. "torch.randn(2, 3)" or "(torch.ones(4), 2)"; "" calls the source's example_inputs().
        mode: the capture modes: "trace", "script", "export", "compile", a comma list of them, "both" (trace and script, the default) or "all".

    Returns:
        dict: the CLI's `analyze --json` object: "ok", "error" (null or {kind, message, line}), "entry"
        "pitfalls": a list of {kind, mode, severity (error/warning/info), line, message, fix, evidence}
        one object per requested mode with "ok", "error" and "views" (the IR texts by view name)
    """
    source, entry, inputs = _paste_args(source, entry, inputs)
    mode = _arg_text(mode, "mode", default="both")
    refusal = _paste_refusal()
    if refusal:
        return failed("snippet.py", entry, "disabled", refusal).to_dict()
    mode = _check_mode(mode)
    try:
        info = snippet.parse_source(source or "")
        chosen = snippet.select_entries(info, entry)
    except SnippetError as e:
        return failed("snippet.py", entry, e.kind, str(e), e.line).to_dict()
    why: tuple[str, ...] = ()
    if len(chosen) > 1:  # no entry named: the one example_inputs() fits, else the top-level one (entry_choice)
        choice = choose_entry(source)
        chosen, why = ([choice.entry], (choice.reason,)) if choice else (chosen, ())
    try:
        name = chosen[0].name  # fair admission: another client's long runs do not hold this paste back
        results = fairness.sandbox_gate().run(_client_key(request), lambda: sandbox.analyze_source(
            source, entry=name, inputs=inputs or "", mode=mode))
    except SnippetError as e:
        return failed("snippet.py", chosen[0].name, e.kind, str(e), e.line).to_dict()
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None
    return results[0].with_changes(notes=(*why, *results[0].notes)).to_dict()


def _client_key(request: gr.Request | None) -> str:
    """Who is asking, for fair admission: Gradio's session (one per page or API client), else the address."""
    session = getattr(request, "session_hash", None) if request is not None else None
    if session:
        return f"session:{session}"
    host = getattr(getattr(request, "client", None), "host", None)
    return f"host:{host}" if host else "anonymous"


def model_choices() -> list[tuple[str, str]]:
    """(label, value) pairs for the model dropdown."""
    return [(f"{zoo.spec(n).title} ({n})", n) for n in zoo.names()]


def _panes(report: dict[str, Any]) -> list[str]:
    return render.all_panes(report)


def ui_convert(model: str, mode: Any, device: str, progress: gr.Progress = gr.Progress()) -> list[Any]:
    """Model tab: notice, capture summary, one pane per view of every mode, pitfalls, warnings, the model's source, the report."""
    mode = _ui_mode(mode)
    progress(0.1, desc=f"Loading {model}, converting ({mode})…")
    report = convert_model(model, mode, device)
    progress(1.0, desc="Rendering IR")
    src = zoo.source_text(model)
    source = render.source_html(src[1], report, anchor="msrc") if src else "<div class='jx-empty'>The model's source is not available.</div>"
    return fast.convert_outputs(report, source)  # a repeat is a lookup, not 3 MB of highlighting


def ui_analyze(source: str, entry: str, inputs: str, mode: Any, progress: gr.Progress = gr.Progress(),
               request: gr.Request | None = None) -> list[Any]:
    """Paste tab: notice (or error), capture summary, every pane, pitfalls, warnings, marked source, the report."""
    mode = _ui_mode(mode)
    progress(0.1, desc="Running your code in the sandbox…")
    report = analyze_code(source, entry or "", inputs or "", mode, request)
    if not report.get("ok"):
        return [render.error_html(report, inputs=inputs or ""), "", *render.empty_panes(), "", "",
                render.source_html(source or "", report), report]
    return [render.notice_html(report), render.summary_html(report), *_panes(report), render.pitfalls_html(report),
            render.warnings_html(report), render.source_html(source, report), report]


def ui_entries(source: str, current: str = "") -> Any:
    """Refill the entry dropdown from the source (static parse only: nothing runs); keep ``current`` if it is still there."""
    try:
        names = snippet.parse_source(source or "").names()
        choice = choose_entry(source or "") if current not in names else None
    except SnippetError:
        return gr.update()
    if current in names:
        return gr.update(choices=names, value=current, info=None)
    return gr.update(choices=names, value=choice.entry.name if choice else None, info=choice.reason if choice else None)


# --------------------------------------------------------------------------- benchmark

#: one benchmark per device at a time, whichever door it came through (UI or API).
#: A resource lock, not per-user data.
_DEVICE_LOCKS: dict[str, threading.Lock] = {"cpu": threading.Lock(), "cuda": threading.Lock()}
BENCH_UI_BUDGET_S = 2.0
"""The UI's default seconds of timed calls per mode (the API uses the library's default)."""


def convert_devices() -> list[str]:
    """The devices the Model tab offers (ZeroGPU has no GPU outside ``@spaces.GPU`` calls)."""
    return ["cpu", "cuda"] if torch.cuda.is_available() and not spaces_shim.ZERO_GPU else ["cpu"]


def cuda_available() -> bool:
    """Whether CUDA benchmarks can run here (a GPU, or a ZeroGPU Space that attaches one per call)."""
    return spaces_shim.ZERO_GPU or torch.cuda.is_available()


def bench_devices() -> list[str]:
    """The devices the Benchmark tab offers."""
    return ["cpu", "cuda"] if cuda_available() else ["cpu"]


def _bench_here(model: str, device: str, modes: list[str] | None, threads: int, budget_s: float,
                progress: Callable[[str, float], None] | None) -> dict[str, Any]:
    report = bench.benchmark(model, device=device, modes=modes, threads=threads, budget_s=budget_s, progress=progress)
    return report.to_dict()


@spaces_shim.gpu(duration=240)
def _bench_gpu(model: str, modes: list[str] | None, threads: int, budget_s: float,
               progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """The CUDA path; on a ZeroGPU Space this runs in the process that holds the GPU."""
    return _bench_here(model, "cuda", modes, threads, budget_s, progress)


def _check_bench_args(model: str, device: str, modes: Sequence[str] | None, threads: Any) -> tuple[str, list[str] | None, int]:
    model, modes, threads = _arg_text(model, "model"), _arg_modes(modes), _arg_threads(threads)
    device = (_arg_text(device, "device") or "cpu").strip().lower()
    if device not in ("cpu", "cuda"):
        raise gr.Error(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    if device == "cuda" and not cuda_available():
        raise gr.Error("CUDA is not available on this server (torch.cuda.is_available() is False): "
                       "benchmark on 'cpu', or run the app on a machine or Space with a GPU")
    try:
        zoo.spec(model)
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None
    chosen = [m for m in (modes or []) if m]
    return device, (chosen or None), threads


def _run_benchmark(model: str, device: str, modes: list[str] | None, threads: int, *, budget_s: float,
                   progress: Callable[[str, float], None] | None) -> dict[str, Any]:
    lock = _DEVICE_LOCKS[device]
    if not lock.acquire(blocking=False):
        if progress:
            progress(f"waiting for the benchmark running on {device} to finish", 0.0)
        lock.acquire()
    try:
        if device == "cuda":
            # a progress callback cannot cross into ZeroGPU's GPU process
            return _bench_gpu(model, modes, threads, budget_s, None if spaces_shim.ZERO_GPU else progress)
        return _bench_here(model, device, modes, threads, budget_s, progress)
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None
    finally:
        lock.release()


def benchmark(model: str, device: str = "cpu", modes: list[str] | None = None, threads: int = 0) -> dict[str, Any]:
    """Benchmark a zoo model: eager PyTorch vs TorchScript, torch.export, torch.compile and ONNX Runtime.

    Times each mode with torch.utils.benchmark (median, p90, a 95% interval), checks each mode's output against
    eager, and names the fastest correct mode. It takes a while (seconds of timed calls per mode, plus conversion
    and compilation: often a minute or more on a CPU); one benchmark per device runs at a time, others wait.

    Args:
        model: a zoo model name, e.g. "resnet18".
        device: "cpu" (the default) or "cuda" (only where the server has a GPU).
        modes: a list of modes, e.g. ["eager", "trace", "compile"]; empty or null for every mode of the device (eager, trace, script, trace+freeze, export, aot-inductor, compile, compile+freeze or compile+cudagraphs, onnxruntime).
        threads: CPU threads for the timed calls; 0 for the cores the server may use.

    Returns:
        dict: the CLI's `bench --json` object: "model", "device", "threads", "fastest" (a correct mode, or null), "notes"
        "results": a list of {mode, ok, error, median_ms, p90_ms, ci95_ms, speedup_vs_eager, correct, max_abs_diff, ...}
    """
    device, chosen, threads = _check_bench_args(model, device, modes, threads)
    return _run_benchmark(model, device, chosen, threads, budget_s=api_budget_s(), progress=None)


def api_budget_s() -> float:
    """Seconds of timed calls per mode for the API: ``JX_BENCH_BUDGET_S`` or the library's default."""
    try:
        value = float(os.environ.get("JX_BENCH_BUDGET_S", bench.DEFAULT_BUDGET_S))
    except ValueError:
        return bench.DEFAULT_BUDGET_S
    return value if 0 < value <= 60 else bench.DEFAULT_BUDGET_S


#: modes offered but not ticked by default on the page: AOTInductor packaging takes 10-70 s on a 2-core CPU
UI_UNTICKED_BENCH_MODES: tuple[str, ...] = ("aot-inductor",)


def ui_default_bench_modes(device: str) -> list[str]:
    """The benchmark modes ticked by default for ``device``: every mode that applies but the slow-to-build ones."""
    return [m for m in bench.default_modes(device or "cpu") if m not in UI_UNTICKED_BENCH_MODES]


def ui_bench_modes(device: str) -> Any:
    """The mode checkboxes for ``device``: every mode that applies, the default ones ticked."""
    return gr.update(choices=list(bench.default_modes(device or "cpu")), value=ui_default_bench_modes(device))


#: the Benchmark tab's target value for "the code of the Paste tab"
PASTED_TARGET = "__pasted__"


def bench_targets() -> list[tuple[str, str]]:
    """(label, value) pairs for the Benchmark tab's target: the zoo, then the Paste tab's code."""
    return [*model_choices(), ("Your code from the Paste tab (sandboxed, CPU)", PASTED_TARGET)]


def _bench_pasted(source: str, entry: str, inputs: str, modes: list[str], threads: Any, budget_s: float) -> dict[str, Any]:
    """Benchmark the Paste tab's code through the sandbox (CPU only; one thread unless asked)."""
    refusal = _paste_refusal()
    if refusal:
        raise gr.Error(refusal)
    n = _arg_threads(threads) or 1
    lock = _DEVICE_LOCKS["cpu"]
    lock.acquire()
    try:
        return sandbox.benchmark_source(source or "", entry=(entry or "").strip(), inputs=inputs or "",
                                        modes=list(modes), threads=n, budget_s=budget_s).to_dict()
    except SnippetError as e:
        where = f" (line {e.line})" if e.line else ""
        raise gr.Error(f"your code could not be benchmarked{where}: {e}") from None
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None
    finally:
        lock.release()


def ui_benchmark(model: str, device: str, modes: list[str], threads: float, budget_s: float,
                 source: str = "", entry: str = "", inputs: str = "", analysis: dict[str, Any] | None = None,
                 progress: gr.Progress = gr.Progress()) -> list[Any]:
    """Benchmark tab: summary, bar chart, table, notes, the report.

    ``model`` is a zoo name or :data:`PASTED_TARGET` (then ``source``/``entry``/``inputs`` of the
    Paste tab are benchmarked in the sandbox, on the CPU).
    """
    if not modes:
        raise gr.Error("choose at least one mode to benchmark")
    budget = float(budget_s or BENCH_UI_BUDGET_S)
    if model == PASTED_TARGET:
        if (device or "cpu") != "cpu":
            raise gr.Error("pasted code is benchmarked on the CPU only (inside the sandbox): choose device 'cpu'")
        progress(0.1, desc="Benchmarking your code in the sandbox…")
        report = _bench_pasted(source, entry, inputs, modes, threads, budget)
        shown = bench_with_verdicts(report, trace_caveats(analysis, (entry or "").strip()))  # the Paste tab's verdict
        return [render.bench_summary_html(shown), render.bench_chart_html(shown), render.bench_table_html(shown),
                render.bench_notes_html(shown), report]
    device, chosen, n = _check_bench_args(model, device, modes, threads)

    def report_progress(message: str, fraction: float) -> None:
        progress(max(0.0, min(1.0, fraction)), desc=message)

    report = _run_benchmark(model, device, chosen, n, budget_s=budget, progress=report_progress)
    shown = bench_with_verdicts(report, {})  # a noisy run crowns no mode
    return [render.bench_summary_html(shown), render.bench_chart_html(shown), render.bench_table_html(shown),
            render.bench_notes_html(shown), report]


# --------------------------------------------------------------------------- TorchScript artifact


def save_artifact(model: str, mode: str = "trace") -> str:
    """Convert a zoo model on the CPU and ``torch.jit.save`` it; returns the path of the ``.pt`` file."""
    model, mode = _arg_text(model, "model"), _arg_text(mode, "mode", default="trace")
    try:  # built once per (model, mode) in the size-capped download folder (jit_explorer.artifacts)
        path = artifacts.torchscript_artifact(model, mode)
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None
    return _served(path)


def _served(path: Path) -> str:
    """``path`` (a file of the download folder) as Gradio serves it: the folder as it is, no second copy in its
    cache."""
    if not is_static_file(path):
        gr.set_static_paths([artifacts.default_store().root])
    return str(path)


def ui_download(model: str, mode: str, progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
    """Model tab: the saved ``.pt`` file and the LibTorch snippet that loads it."""
    progress(0.2, desc=f"torch.jit.{mode} + torch.jit.save")
    path = save_artifact(model, mode)
    shapes = [(list(t.shape), str(t.dtype).removeprefix("torch.")) for t in zoo.example_inputs(model)
              if isinstance(t, torch.Tensor)]
    return path, render.libtorch_snippet(Path(path).name, shapes)


def ui_download_code(source: str, entry: str, inputs: str, mode: str, progress: gr.Progress = gr.Progress(),
                     request: gr.Request | None = None) -> tuple[str, str]:
    """Paste tab: your entry traced or scripted in the sandbox and saved as ``.pt``, and the LibTorch snippet."""
    source, entry, inputs = _paste_args(source, entry, inputs)
    mode = _arg_text(mode, "mode", default="trace")
    refusal = _paste_refusal()
    if refusal:
        raise gr.Error(refusal)
    if not entry:  # the entry the analysis would choose (entry_choice), so that both name the same one
        choice = choose_entry(source or "")
        entry = choice.entry.name if choice else ""
    progress(0.2, desc=f"torch.jit.{mode} + torch.jit.save in the sandbox")
    try:
        path, shapes = fairness.sandbox_gate().run(_client_key(request), lambda: artifacts.pasted_artifact(
            source or "", entry=entry, inputs=inputs or "", mode=mode))
    except SnippetError as e:  # one line: where, and torch's first line (the whole message is in the analysis)
        where = f"line {e.line}: " if e.line else ""
        raise gr.Error(f"{where}{e.headline()}") from None
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None
    return _served(path), render.libtorch_snippet(path.name, shapes)


# --------------------------------------------------------------------------- shareable links


def ui_share_token(tab: str, model: str, mode: Any, device: str, code: str, entry: str, inputs: str, pmode: Any,
                   bmodel: str, bdevice: str, bmodes: list[str], bthreads: float) -> str:
    """The ``s`` token of the current view (the page's js turns it into a link)."""
    view = {"tab": tab, "model": model, "mode": share.modes_text(mode), "device": device, "code": code or "",
            "entry": entry or "", "inputs": inputs or "", "pmode": share.modes_text(pmode), "bmodel": bmodel, "bdevice": bdevice,
            "bmodes": list(bmodes or []) if list(bmodes or []) != ui_default_bench_modes(bdevice or "cpu") else None,
            "bthreads": int(bthreads or 0)}
    if view["tab"] != "paste":  # keep links short: pasted code only travels with the Paste tab
        view.update(code="", entry="", inputs="")
    token = share.encode(view)
    if len(token) > share.MAX_TOKEN_CHARS:
        gr.Warning("The pasted code is too long to travel in a link: the link keeps everything else.")
        token = share.encode({**view, "code": "", "entry": ""})
    return token


def ui_restore(request: gr.Request) -> list[Any]:
    """On page load: restore the view of a shared link (``?s=``); nothing changes without one.

    Returns updates for: tabs, tab state, model, mode, device, code, entry, inputs, paste mode,
    bench model, bench device, bench modes, bench threads, model autorun, paste autorun.
    """
    token = ""
    try:
        token = dict(request.query_params).get(share.PARAM, "") if request is not None else ""
    except Exception:  # noqa: BLE001 - a request without query parameters
        token = ""
    view = share.decode(token, models=zoo.names(), modes=bench.ALL_MODES) if token else None
    if view is None:
        return [gr.skip()] * 15
    bdevice = view["bdevice"] if view["bdevice"] in bench_devices() else "cpu"
    device = view["device"] if view["device"] in convert_devices() else "cpu"
    applicable = list(bench.default_modes(bdevice))
    bmodes = [m for m in (view["bmodes"] or ui_default_bench_modes(bdevice)) if m in applicable] or applicable
    names = _entry_names(view["code"])
    entry = view["entry"] if view["entry"] in names else (names[0] if names else None)
    nonce = uuid.uuid4().hex[:8]
    tab = view["tab"]
    code = tab == "paste" and bool(view["code"])  # a link without code keeps the page's example
    return [
        gr.update(selected=tab), tab,
        view["model"], list(parse_modes(view["mode"])), device,
        view["code"] if code else gr.skip(),
        gr.update(choices=names, value=entry) if code else gr.skip(),
        view["inputs"] if tab == "paste" else gr.skip(),
        list(parse_modes(view["pmode"])),
        view["bmodel"], gr.update(value=bdevice), gr.update(choices=applicable, value=bmodes), view["bthreads"],
        nonce if tab == "model" else gr.skip(),
        nonce if code else gr.skip(),
    ]


def _entry_names(source: str) -> list[str]:
    try:
        return snippet.parse_source(source or "").names()
    except SnippetError:
        return []
