"""Pure pieces of the app: HTML renderers of benchmark results, share tokens, the ZeroGPU shim."""

from __future__ import annotations

import base64
import re
import zlib

import pytest

from app import render, share, spaces_shim


def _row(mode: str, median: float, *, ok: bool = True, error: str | None = None, diff: float = 0.0,
         speedup: float = 1.0) -> dict:
    return {"mode": mode, "ok": ok, "error": error, "median_ms": median, "p90_ms": median * 1.2, "iqr_ms": 0.1,
            "runs": 100, "first_call_ms": 12.5, "max_abs_diff": diff, "speedup_vs_eager": speedup,
            "gflops": 3.5, "pct_of_peak": 2.0, "correct": diff == 0.0, "ci95_ms": [median * 0.9, median * 1.1],
            "speedup_ci95": [speedup * 0.9, speedup * 1.1], "same_as_eager": mode != "eager" and speedup < 1.1,
            "peak_mem_mb": 4.0}


REPORT = {
    "model": "resnet18", "device": "cpu", "device_name": "Test CPU", "threads": 2, "torch_version": "2.14.1",
    "batch": 1, "input": "image batch 1x3x224x224 float32", "peak_gflops": 150.0, "peak_estimate_gflops": 120.0,
    "fastest": "trace",
    "notes": ["threads: 2",
              "compile is fast but WRONG: max_abs_diff=0.5 > tolerance 0.001; its 2.00x must not be read as a win",
              "<script>alert(1)</script>"],
    "results": [
        _row("eager", 10.0),
        _row("trace", 8.0, speedup=1.25),
        _row("compile", 5.0, diff=0.5, speedup=2.0),
        _row("script", 0.0, ok=False, error="torch.jit.script failed: <lambda>"),
    ],
}


def test_table_has_every_column_and_flags_wrong_and_failed_rows() -> None:
    out = render.bench_table_html(REPORT)
    for col in ("mode", "median ms", "p90 ms", "IQR ms", "runs", "first call ms", "speedup vs eager",
                "GFLOP/s", "% of peak", "max abs diff", "error"):
        assert f"<th>{col}</th>" in out
    assert out.count("<tr") == 5  # header + 4 modes
    assert "jx-row-wrong" in out and "WRONG" in out
    assert "jx-row-failed" in out and "&lt;lambda&gt;" in out  # escaped
    assert "1.25x" in out and "12.5" in out


def test_chart_bars_scale_with_median_and_wrong_mode_is_red() -> None:
    out = render.bench_chart_html(REPORT)
    assert out.startswith("<div class='jx-chart-box'><svg")
    widths = {mode: float(w) for w, mode in re.findall(r"<rect [^>]*width='([\d.]+)'[^>]*><title>([\w+]+):", out)}
    assert widths["eager"] > widths["trace"] > widths["compile"] > 0
    assert "class='jx-bar-wrong'><title>compile" in out
    assert "class='jx-bar-best'><title>trace" in out  # fastest *correct* mode, not the wrong one
    assert "failed" in out  # the script row
    assert render.bench_chart_html({**REPORT, "results": []}) == ""


def test_summary_names_the_fastest_correct_mode_and_notes_are_escaped() -> None:
    summary = render.bench_summary_html(REPORT)
    assert "Fastest correct mode: <b>trace</b>" in summary and "estimate" in summary
    notes = render.bench_notes_html(REPORT)
    assert "&lt;script&gt;" in notes and "<script>" not in notes
    assert render.bench_wrong_modes(REPORT) == {"compile"}


def test_deprecation_notice_is_one_line_with_the_modern_alternatives() -> None:
    line = render.deprecation_line("torch.jit.trace is deprecated. Please use torch.export")
    assert "\n" not in line and line.count("<div") == 1
    for alt in ("torch.compile", "torch.export", "ONNX"):
        assert alt in line
    assert "title='torch.jit.trace is deprecated" in line
    assert render.notice_html({"file": "x.py", "entry": "f", "deprecation": "old"}).count("jx-deprecation") == 1


def test_libtorch_snippet_loads_the_file_with_matching_inputs() -> None:
    cpp = render.libtorch_snippet("bert_trace.pt", [([1, 14], "int64"), ([1, 14], "int64")])
    assert 'torch::jit::load("bert_trace.pt")' in cpp and "#include <torch/script.h>" in cpp
    assert cpp.count("torch::zeros({1, 14}, torch::kLong)") == 2
    assert "torch::rand({1, 3, 224, 224})" in render.libtorch_snippet("r.pt", [([1, 3, 224, 224], "float32")])


# --------------------------------------------------------------------------- share tokens


def test_share_token_round_trips_and_is_compact() -> None:
    code = "import torch\n\n\ndef f(x):\n    if x.sum() > 0:\n        return x\n    return -x\n" * 3
    view = {"tab": "paste", "code": code, "entry": "f", "inputs": "torch.ones(3)", "pmode": "trace"}
    token = share.encode(view)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert len(token) < len(code)  # compressed
    back = share.decode(token)
    assert back is not None
    assert {k: back[k] for k in view} == view
    assert back["model"] == "resnet18" and back["bmodes"] is None  # defaults filled in
    assert len(share.encode({"tab": "model", "model": "resnet18"})) < 40  # defaults are left out


@pytest.mark.parametrize("token", ["", "not base64 !!", "AAAA",
                                   base64.urlsafe_b64encode(zlib.compress(b"[1,2]")).decode(),
                                   "x" * (share.MAX_TOKEN_CHARS + 1)])
def test_share_decode_rejects_garbage(token: str) -> None:
    assert share.decode(token) is None


def test_share_decode_caps_a_zip_bomb_and_cleans_values() -> None:
    bomb = base64.urlsafe_b64encode(zlib.compress(b'{"code":"' + b"a" * (share.MAX_JSON_BYTES * 4) + b'"}', 9)).decode()
    assert len(bomb) < share.MAX_TOKEN_CHARS
    assert share.decode(bomb) is None
    raw = b'{"tab":"evil","model":"nope","mode":"x","device":"tpu","bthreads":-3,"bmodes":["eager","rm -rf"],"extra":1}'
    view = share.decode(base64.urlsafe_b64encode(zlib.compress(raw)).decode(), models=["resnet18", "gru"],
                        modes=["eager", "trace"])
    assert view is not None
    assert view["tab"] == "start" and view["model"] == "resnet18" and view["mode"] == "trace,script"
    assert view["device"] == "cpu" and view["bthreads"] == 0 and view["bmodes"] == ["eager"] and "extra" not in view


def test_spaces_shim_is_a_no_op_without_the_spaces_package() -> None:
    def f(x: int) -> int:
        return x + 1

    if spaces_shim.HAS_SPACES:  # pragma: no cover - only on a Space
        pytest.skip("the spaces package is installed")
    assert spaces_shim.gpu(f) is f
    assert spaces_shim.gpu(duration=30)(f) is f
    assert not spaces_shim.ZERO_GPU


def test_share_keeps_a_mode_selection_and_drops_unknown_ones() -> None:
    token = share.encode({"tab": "paste", "pmode": share.modes_text(["compile", "export"]), "mode": "all"})
    view = share.decode(token)
    assert view is not None and view["pmode"] == "export,compile" and view["mode"] == "trace,script,export,compile"
    assert share.modes_text(["export", "bogus"]) == "trace,script" and share.modes_text(7) == "trace,script"


def test_summary_says_which_capture_fits() -> None:
    from jit_explorer.modes import REGISTRY

    report = {
        "trace": {"ok": True, "seconds": 0.1, "views": {}, "source_lines": {}},
        "script": {"ok": False, "seconds": 0.0, "error": {"message": "no", "line": 7}},
        "export": None,
        "compile": {"ok": True, "seconds": 0.2, "graph_count": 3, "graph_break_count": 2, "views": {}},
        "pitfalls": [{"kind": "graph-break", "mode": "compile", "severity": "warning", "line": 4, "message": "m",
                      "fix": "f", "evidence": "dynamo"},
                     {"kind": "script-error", "mode": "script", "severity": "error", "line": 7, "message": "m",
                      "fix": "f", "evidence": "static"}],
    }
    html_ = render.summary_html(report)
    assert "Which capture fits this code?" in html_
    assert "fails at line 7" in html_ and "works with 2 graph breaks (3 graphs)" in html_
    assert "href='#pit-compile-0'" in html_ and "href='#pit-script-0'" in html_
    assert REGISTRY["export"].title not in html_  # not requested: no row
    cards = render.pitfalls_html({**report, "ok": True})
    assert "id='pit-compile-0'" in cards and "data-src-line='4'" in cards
    assert len(render.all_panes(report)) == len(render.PANES) == len(render.empty_panes())


def test_optimized_pane_shows_what_the_optimizer_did() -> None:
    from jit_explorer.analysis import analyze_model

    report = analyze_model("sign_branch", mode="script").to_dict()
    optimized = render.ir_panes(report, "script")[[v.name for v in render.pane_views("script")].index("optimized")]
    assert "jx-optdiff" in optimized and "jx-irdiff" in optimized and "data-src-line=" in optimized
    graph = render.ir_panes(report, "script")[0]
    assert "jx-optdiff" not in graph


def test_trace_graph_pane_shows_the_trace_vs_script_diff() -> None:
    from jit_explorer.analysis import analyze_model

    report = analyze_model("sign_branch", mode="both").to_dict()
    trace_graph = render.ir_panes(report, "trace")[0]
    assert "jx-tsdiff" in trace_graph and "jx-irdiff" in trace_graph and "prim::If" in trace_graph
    only_trace = analyze_model("sign_branch", mode="trace").to_dict()
    assert "jx-tsdiff" not in render.ir_panes(only_trace, "trace")[0]  # nothing to compare with
