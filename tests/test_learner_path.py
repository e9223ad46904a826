"""Issue 17, the learner's path: the CLI and library halves of its fourteen points.

The browser halves are in tests/test_learner_browser.py. Each test names its point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

#: the PyTorch tutorial's RNN: the helper cell comes first, the model that example_inputs() fits second
RNN_TUTORIAL = '''import torch


class MyCell(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.linear(x) + h)
        return new_h, new_h


class MyRNNLoop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = MyCell()

    def forward(self, xs):
        h, y = torch.zeros(3, 4), torch.zeros(3, 4)
        for i in range(xs.size(0)):
            y, h = self.cell(xs[i], h)
        return y, h


def example_inputs():
    return (torch.rand(10, 3, 4),)
'''

#: a class that needs constructor arguments, then two functions with a real `if x.sum() > 0` pitfall each
ONE_BAD_ENTRY = '''import torch


class NeedsArgs(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.width = width

    def forward(self, x):
        return x * self.width


def first(x):
    if x.sum() > 0:
        return x + 1
    return x - 1


def second(x):
    if x.sum() > 0:
        return x * 2
    return x
'''


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JIT_EXPLORER_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "jit_explorer", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)


# ------------------------------------------------------------------ 1. entry choice


def test_point1_the_entry_example_inputs_fits_is_chosen_and_the_reason_given() -> None:
    from jit_explorer.entry_choice import choose_entry

    choice = choose_entry(RNN_TUTORIAL)
    assert choice is not None and choice.entry.name == "MyRNNLoop"
    assert "example_inputs()" in choice.reason and "MyCell" in choice.reason


def test_point1_without_example_inputs_the_top_level_module_is_chosen() -> None:
    from jit_explorer.entry_choice import choose_entry

    source = RNN_TUTORIAL.rsplit("def example_inputs", 1)[0]
    choice = choose_entry(source)
    assert choice is not None and choice.entry.name == "MyRNNLoop"
    assert "top-level module" in choice.reason


def test_point1_the_paste_api_analyses_the_chosen_entry_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JX_ALLOW_PASTE", "1")
    from app import handlers

    report = handlers.analyze_code(RNN_TUTORIAL, entry="", inputs="", mode="trace")
    assert report["ok"], report["error"]
    assert report["entry"] == "MyRNNLoop"
    assert any("MyRNNLoop was chosen" in n for n in report["notes"])
    update = handlers.ui_entries(RNN_TUTORIAL, "clamp_sign")
    assert update["value"] == "MyRNNLoop" and "example_inputs()" in update["info"]


# ------------------------------------------------------------------ 2. one bad entry does not sink the file


def test_point2_cli_analyses_the_other_entries_and_reports_the_bad_one_as_skipped(tmp_path: Path) -> None:
    f = tmp_path / "mixed.py"
    f.write_text(ONE_BAD_ENTRY)
    p = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--mode", "trace")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("tensor-to-bool") == 2
    assert f"{f}:4: skipped NeedsArgs (constructor)" in p.stdout
    assert "2 entries analysed, 2 pitfalls, 1 skipped" in p.stderr
    strict = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--mode", "trace", "--strict")
    assert strict.returncode == 1  # the pitfalls found, not the skipped entry, decide


def test_point2_exit_2_stays_for_bad_usage_and_for_a_file_nothing_could_be_analysed_in(tmp_path: Path) -> None:
    f = tmp_path / "mixed.py"
    f.write_text(ONE_BAD_ENTRY)
    assert cli("analyze", str(tmp_path / "missing.py")).returncode == 2
    only_bad = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--entry", "NeedsArgs", "--mode", "trace")
    assert only_bad.returncode == 2 and "constructor arguments (width)" in only_bad.stderr
    js = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--mode", "trace", "--json")
    assert js.returncode == 0, js.stderr
    objs = json.loads(js.stdout)
    assert [o["entry"] for o in objs] == ["NeedsArgs", "first", "second"]
    assert [o["ok"] for o in objs] == [False, True, True]


# ------------------------------------------------------------------ 4-7: the cards, through the CLI's JSON


@pytest.fixture(scope="module")
def examples() -> dict[str, dict]:
    """The CLI's JSON for four gallery examples (one sandboxed run)."""
    names = ("item_to_python", "loop_over_rows", "python_random", "clean_mlp")
    p = cli("analyze", *(f"assets/examples/{n}.py" for n in names), "--mode", "trace,script", "--json")
    assert p.returncode == 0, p.stderr
    # strict=False: the CLI prints one object per entry found, not per file (one each for these examples)
    return dict(zip(names, json.loads(p.stdout), strict=False))


def test_point4_evidence_is_marked_on_the_trace_pane_and_the_card_jumps_there(examples: dict[str, dict]) -> None:
    from app import render

    d = examples["item_to_python"]
    graph = d["trace"]["views"]["graph"].splitlines()
    frozen = next(i for i, t in enumerate(graph, start=1) if "prim::Constant[value={" in t)
    trace_graph = render.ir_panes(d, "trace")[0]
    assert f'id="trace-graph-L{frozen}"' in trace_graph
    marked = trace_graph.split(f'id="trace-graph-L{frozen}"')[0].rsplit("<span", 1)[1]
    assert "jx-mark" in marked  # the frozen constant itself is marked
    assert all("jx-mark" not in pane for pane in render.ir_panes(d, "script"))  # not on the script's panes
    cards = render.pitfalls_html(d)
    assert f"href='#trace-graph-L{frozen}'" in cards
    loop = examples["loop_over_rows"]
    assert render.ir_panes(loop, "trace")[0].count("jx-mark") > 5  # the unrolled copies


def test_point4_the_card_shows_the_counter_example_with_both_outputs(examples: dict[str, dict]) -> None:
    msg = next(p["message"] for p in examples["loop_over_rows"]["pitfalls"] if p["evidence"].startswith("divergence"))
    assert "On the input of shape (6, 8): eager gives [" in msg and ", the trace [" in msg


def test_point5_cards_render_backticks_as_code(examples: dict[str, dict]) -> None:
    from app import render

    cards = render.pitfalls_html(examples["item_to_python"])
    assert "<code>.item()</code>" in cards and "`" not in cards


def test_point6_the_trace_failure_keeps_torchs_real_cause() -> None:
    import torch

    from jit_explorer.fix_words import torch_cause

    @torch.jit.script
    def pick(x: torch.Tensor, n: int) -> torch.Tensor:
        parts = x.split(1)
        a, b = parts[0], parts[n]
        return a + b

    with pytest.raises(Exception) as info:
        pick(torch.ones(2), 5)
    said = torch_cause(info.value)
    assert "operation failed in the TorchScript interpreter" not in said
    assert said.startswith(("IndexError", "RuntimeError")) and "out of range" in said
    assert "/" not in said  # no paths


def test_point6_no_spurious_failure_after_profiling_and_no_no_line_contradiction(examples: dict[str, dict]) -> None:
    from jit_explorer.fix_words import no_line_wording, script_said

    loop = examples["loop_over_rows"]
    text = json.dumps(loop["pitfalls"])
    assert "Inference tensors" not in text and "operation failed" not in text  # the trace runs other inputs cleanly
    assert [p["kind"] for p in loop["pitfalls"]] == ["shape-specialization"]
    canned = ("torch.jit.script cannot compile this Hugging Face transformers model: transformers code uses ...\n\n"
              "TorchScript said: torch.jit.script failed (OSError): Failed to get source for BertConfig.__init__\n"
              '  File "/usr/lib/python3/site-packages/transformers/x.py", line 3')
    assert script_said(canned) == "Failed to get source for BertConfig.__init__"
    assert "this line" not in no_line_wording("TorchScript cannot compile this line (…)", None)


def test_point7_fixes_fit_the_construct_and_a_clean_check_says_so(examples: dict[str, dict]) -> None:
    from app.learner import pitfall_count_text

    rnd = examples["python_random"]["pitfalls"]
    assert rnd and all(".eval()" not in p["fix"] for p in rnd if p["kind"] == "nondeterministic")
    assert any("torch.rand(())" in p["fix"] for p in rnd)
    loop = examples["loop_over_rows"]["pitfalls"][0]
    assert "flatten" not in loop["fix"] and "unrolls this loop" in loop["fix"]
    assert any(n.startswith("Checked on ") and "the trace matches" in n for n in examples["clean_mlp"]["notes"])
    infos = [{"severity": "info"}, {"severity": "info"}]
    assert pitfall_count_text(infos) == "2 notes"
    assert pitfall_count_text([{"severity": "error"}, *infos]) == "1 pitfall · 2 notes"


# ------------------------------------------------------------------ 9, 10, 12: benchmark verdicts, names


def test_point9_the_benchmark_carries_the_paste_tabs_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JX_ALLOW_PASTE", "1")
    from app import handlers

    source = (ROOT / "assets" / "examples" / "branch_on_value.py").read_text()
    analysis = handlers.analyze_code(source, "clamp_sign", "", "trace,script")
    assert any(p["mode"] == "trace" and p["severity"] == "error" for p in analysis["pitfalls"])
    summary, chart, table, _notes, report = handlers.ui_benchmark(
        handlers.PASTED_TARGET, "cpu", ["eager", "trace"], 1, 0.3, source, "clamp_sign", "", analysis)
    trace_row = table.split("<td>trace</td>", 1)[1].split("</tr>", 1)[0]
    assert "correct only for this input" in trace_row
    assert "correct only for this input" in chart
    assert "Fastest correct mode: <b>trace</b>" not in summary
    assert report["results"]  # the JSON stays the library's


def _bench(iqr: float) -> dict:
    rows = [{"mode": m, "ok": True, "error": None, "median_ms": med, "p90_ms": med * 1.2, "iqr_ms": iqr,
             "ci95_ms": [med * 0.9, med * 1.1], "runs": 40, "first_call_ms": 25770.4, "max_abs_diff": 0.0,
             "correct": True, "speedup_vs_eager": 52.9 / med, "speedup_ci95": [2.5, 3.5], "same_as_eager": False,
             "peak_mem_mb": 12.0, "gflops": 1.5, "pct_of_peak": 3.0} for m, med in (("eager", 52.9), ("trace", 17.46))]
    return {"model": "resnet18", "device": "cpu", "device_name": "cpu", "threads": 2, "torch_version": "2.14.1",
            "batch": 1, "input": "(1, 3, 224, 224)", "peak_gflops": 50.0, "peak_estimate_gflops": None,
            "notes": [], "fastest": "trace", "results": rows}


def test_point10_a_noisy_run_is_said_first_and_crowns_no_winner() -> None:
    from app import render
    from app.learner import bench_with_verdicts

    noisy = bench_with_verdicts(_bench(iqr=34.7), {})
    summary = render.bench_summary_html(noisy)
    assert summary.startswith("<div class='jx-bench-noisy'>") and "Noisy run" in summary
    assert "Fastest correct" not in summary and "jx-bar-best" not in render.bench_chart_html(noisy).split("legend")[0]
    quiet = bench_with_verdicts(_bench(iqr=0.5), {})
    assert "Fastest correct mode: <b>trace</b>" in render.bench_summary_html(quiet)
    table = render.bench_table_html(quiet)
    assert "e+0" not in table and "25,770" in table


def test_point12_mangle_numbers_are_stable_in_views_and_the_cli() -> None:
    from app import render

    graph = ("graph(%self : __torch__.___torch_mangle_2169.Net):\n"
             "  %1 : __torch__.torch.nn.modules.linear.___torch_mangle_2170.Linear = "
             "prim::GetAttr[name=\"fc\"](%self)\n")
    report = {"ok": True, "pitfalls": [], "trace": {"ok": True, "views": {"graph": graph}, "source_lines": {}}}
    pane = render.ir_panes(report, "trace")[0]
    assert "2169" not in pane and "___torch_mangle_0" in pane and "___torch_mangle_1" in pane
    assert "___torch_mangle_2169" in report["trace"]["views"]["graph"]  # the JSON keeps the real names
    p = cli("convert", "--model", "sign_branch", "--mode", "script", "--show", "code")
    assert p.returncode == 0, p.stderr
    import re

    assert all(int(n) < 10 for n in re.findall(r"___torch_mangle_(\d+)", p.stdout))


# ------------------------------------------------------------------ 13. your own code is first class in the CLI


def test_point13_cli_converts_your_own_file_with_an_entry(tmp_path: Path) -> None:
    f = tmp_path / "rnn.py"
    f.write_text(RNN_TUTORIAL)
    p = cli("convert", str(f), "--mode", "trace", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["entry"] == "MyRNNLoop" and d["trace"]["ok"] and "aten::" in d["trace"]["views"]["graph"]
    cell = cli("convert", str(f), "--entry", "MyCell", "--inputs", "(torch.rand(3, 4), torch.rand(3, 4))",
               "--mode", "script", "--show", "code")
    assert cell.returncode == 0, cell.stderr
    assert "MyCell" in cell.stdout and "torch.tanh" in cell.stdout
    assert cli("convert", str(f), "--model", "resnet18").returncode == 2  # one of the two


def test_point13_cli_saves_your_own_file_as_a_pt_that_torch_loads(tmp_path: Path) -> None:
    f = tmp_path / "rnn.py"
    f.write_text(RNN_TUTORIAL)
    out = tmp_path / "loop.pt"
    p = cli("convert", str(f), "--mode", "trace", "--save", str(out), "--save-mode", "script")
    assert p.returncode == 0, p.stderr
    assert "script module of MyRNNLoop" in p.stderr and "torch::jit::load" in p.stderr
    with pytest.warns(FutureWarning):
        loaded = torch.jit.load(str(out))
    y, h = loaded(torch.rand(10, 3, 4))
    assert y.shape == h.shape == (3, 4)
    bad = cli("convert", str(f), "--save", str(tmp_path / "loop.txt"))
    assert bad.returncode == 2 and "must end in .pt" in bad.stderr
    noisy = tmp_path / "noisy.py"
    noisy.write_text("import random\nimport torch\n\ndef f(x):\n    return x * random.random()\n")
    refused = cli("convert", str(noisy), "--inputs", "torch.ones(2)", "--save", str(tmp_path / "n.pt"),
                  "--save-mode", "script")
    assert refused.returncode == 2 and f"{noisy}:5: cannot save" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (tmp_path / "n.pt").exists()


def test_point13_the_paste_download_saves_the_chosen_entry_once_with_its_cpp_snippet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JX_ALLOW_PASTE", "1")
    from app import handlers
    from jit_explorer import artifacts, sandbox

    runs: list[str] = []
    real = sandbox.save_source

    def counting(*args: object, **kw: object) -> object:
        runs.append(str(kw.get("entry")))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(sandbox, "save_source", counting)
    source = RNN_TUTORIAL + f"# {uuid.uuid4()}\n"  # not built yet by another test (the download folder is shared)
    path, cpp = handlers.ui_download_code(source, "", "", "trace", progress=lambda *a, **k: None)
    assert Path(path).name == "MyRNNLoop_trace.pt" and Path(path).is_file()  # the entry the analysis chooses
    assert 'torch::jit::load("MyRNNLoop_trace.pt")' in cpp and "torch::rand({10, 3, 4})" in cpp
    again, _ = handlers.ui_download_code(source, "", "", "trace", progress=lambda *a, **k: None)
    assert again == path and runs == ["MyRNNLoop"]  # built once, in the size-capped download folder
    assert Path(path).is_relative_to(artifacts.default_store().root)
    cell, cell_cpp = handlers.ui_download_code(RNN_TUTORIAL, "MyCell", "(torch.rand(3, 4), torch.rand(3, 4))",
                                               "script", progress=lambda *a, **k: None)
    assert Path(cell).name == "MyCell_script.pt" and cell_cpp.count("torch::rand({3, 4})") == 2
    import gradio as gr

    with pytest.raises(gr.Error, match="line 5: nothing to save for f: torch.jit.script failed"):
        handlers.ui_download_code("import random\nimport torch\n\ndef f(x):\n    return x * random.random()\n",
                                  "f", "torch.ones(2)", "script", progress=lambda *a, **k: None)


# ---------------------------------------------------------- 14. warm start: the modes the page ticks, rendered once


def test_point14_start_up_warms_the_modes_the_model_tab_ticks_and_repeats_are_lookups() -> None:
    import app
    from app import fast, handlers

    picker = next(b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == "model-mode")
    assert ",".join(picker.value) == fast.DEFAULT_MODES  # what ir_cache.prewarm converts at start-up
    first = handlers.ui_convert("sign_branch", picker.value, "cpu", progress=lambda *a, **k: None)
    again = handlers.ui_convert("sign_branch", picker.value, "cpu", progress=lambda *a, **k: None)
    assert all(a is b for a, b in zip(first[1:-1], again[1:-1], strict=True))  # the rendered panes come from the cache
