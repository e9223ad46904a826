"""The Benchmark tab and /benchmark endpoint, the .pt download and shareable links: handlers without
launching, then the named API through gradio_client against the real server."""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
import torch
from gradio_client import Client

from app import handlers, share

FAST = ["eager", "trace"]


@pytest.fixture
def quick_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's per-mode timing budget, shortened (the server reads it per call)."""
    monkeypatch.setenv("JX_BENCH_BUDGET_S", "0.3")


def test_ui_benchmark_renders_table_chart_and_report() -> None:
    summary, chart, table, notes, report = handlers.ui_benchmark("sign_branch", "cpu", FAST, 1, 0.3)
    assert [r["mode"] for r in report["results"]] == FAST
    assert all(r["ok"] and r["runs"] > 0 and r["median_ms"] > 0 for r in report["results"])
    assert report["threads"] == 1 and report["device"] == "cpu"
    assert "sign_branch" in summary and "<svg" in chart and table.count("<tr") == 3
    assert "method:" in notes


def test_api_handler_returns_the_design_object(quick_api: None) -> None:
    d = handlers.benchmark("sign_branch", "cpu", FAST, 1)
    assert set(d) >= {"model", "device", "device_name", "threads", "torch_version", "batch", "input",
                      "peak_gflops", "notes", "results"}
    row = d["results"][1]
    assert set(row) == {"mode", "ok", "error", "median_ms", "p90_ms", "iqr_ms", "ci95_ms", "runs", "first_call_ms",
                        "max_abs_diff", "correct", "speedup_vs_eager", "speedup_ci95", "same_as_eager",
                        "peak_mem_mb", "gflops", "pct_of_peak"}
    assert row["max_abs_diff"] == 0.0


def test_bench_errors_are_messages() -> None:
    with pytest.raises(gr.Error, match="unknown model"):
        handlers.benchmark("nope")
    with pytest.raises(gr.Error, match="threads"):
        handlers.benchmark("sign_branch", "cpu", FAST, -1)
    with pytest.raises(gr.Error, match="unknown mode"):
        handlers.benchmark("sign_branch", "cpu", ["eager", "warp-speed"], 1)
    with pytest.raises(gr.Error, match="at least one mode"):
        handlers.ui_benchmark("sign_branch", "cpu", [], 0, 0.3)
    with pytest.raises(gr.Error, match="unknown device"):
        handlers.benchmark("sign_branch", "tpu")
    if not handlers.cuda_available():
        assert handlers.bench_devices() == ["cpu"]
        with pytest.raises(gr.Error, match="CUDA is not available"):
            handlers.benchmark("sign_branch", "cuda")


def test_one_benchmark_per_device_at_a_time(quick_api: None) -> None:
    lock = handlers._DEVICE_LOCKS["cpu"]
    done: list[dict] = []
    lock.acquire()
    try:
        t = threading.Thread(target=lambda: done.append(handlers.benchmark("sign_branch", "cpu", ["eager"], 1)))
        t.start()
        time.sleep(0.5)
        assert not done, "a second CPU benchmark started while one was running"
    finally:
        lock.release()
    t.join(timeout=60)
    assert done and done[0]["results"][0]["ok"]


def test_bench_mode_choices_follow_the_device() -> None:
    upd = handlers.ui_bench_modes("cpu")
    assert "compile+freeze" in upd["choices"]
    assert upd["value"] == [m for m in upd["choices"] if m not in handlers.UI_UNTICKED_BENCH_MODES]
    upd = handlers.ui_bench_modes("cuda")
    assert "compile+cudagraphs" in upd["choices"]


def test_saved_artifact_loads_and_matches_eager(tmp_path: Path) -> None:
    from jit_explorer import zoo

    (x,) = zoo.example_inputs("sign_branch")
    eager = zoo.load("sign_branch").module(x)
    for mode in ("trace", "script"):
        path = handlers.save_artifact("sign_branch", mode)
        assert path.endswith(f"sign_branch_{mode}.pt") and Path(path).stat().st_size > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated: we know
            loaded = torch.jit.load(path)
        assert torch.allclose(loaded(x), eager)
    file, cpp = handlers.ui_download("sign_branch", "trace")
    assert Path(file).exists() and 'torch::jit::load("sign_branch_trace.pt")' in cpp and "torch::rand({8})" in cpp
    with pytest.raises(gr.Error, match="unknown mode"):
        handlers.save_artifact("sign_branch", "both")


def test_share_token_restores_the_view() -> None:
    code = "import torch\n\n\ndef g(x):\n    return x * 2\n\n\ndef f(x):\n    return x + 1\n"
    token = handlers.ui_share_token("paste", "resnet18", "both", "cpu", code, "f", "torch.ones(2)", "trace",
                                    "gru", "cpu", ["eager", "trace"], 1)
    request = SimpleNamespace(query_params={share.PARAM: token})
    out = handlers.ui_restore(request)  # type: ignore[arg-type]
    assert len(out) == 15
    assert out[0]["selected"] == "paste" and out[1] == "paste"
    assert out[5] == code and out[6]["value"] == "f" and out[6]["choices"] == ["g", "f"] and out[7] == "torch.ones(2)"
    assert out[8] == ["trace"] and out[9] == "gru" and out[11]["value"] == ["eager", "trace"] and out[12] == 1
    assert isinstance(out[14], str) and out[14]  # the paste tab re-runs its analysis
    # the model tab: no code travels with it
    token = handlers.ui_share_token("model", "gru", "script", "cpu", code, "f", "", "both", "resnet18", "cpu",
                                    list(handlers.bench.default_modes("cpu")), 0)
    assert share.decode(token) is not None and share.decode(token)["code"] == ""  # type: ignore[index]
    out = handlers.ui_restore(SimpleNamespace(query_params={share.PARAM: token}))  # type: ignore[arg-type]
    assert out[2] == "gru" and out[3] == ["script"] and out[13]
    # code too long for a URL: the link keeps the rest
    import random

    rng = random.Random(0)
    huge = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 \n") for _ in range(20_000))
    token = handlers.ui_share_token("paste", "gru", "both", "cpu", huge, "f", "torch.ones(2)", "both", "resnet18",
                                    "cpu", [], 0)
    view = share.decode(token)
    assert len(token) <= share.MAX_TOKEN_CHARS and view is not None
    assert view["tab"] == "paste" and view["code"] == "" and view["inputs"] == "torch.ones(2)"
    # no link or a broken one changes nothing
    for params in ({}, {share.PARAM: "garbage!"}):
        assert all(isinstance(u, dict) and u.get("__type__") == "update" and len(u) == 1
                   for u in handlers.ui_restore(SimpleNamespace(query_params=params)))  # type: ignore[arg-type]


def test_event_concurrency_groups() -> None:
    import app

    groups = {(getattr(f.fn, "__name__", None), f.concurrency_id, f.concurrency_limit) for f in app.demo.fns.values()}
    assert ("ui_benchmark", "bench-cpu", 1) in groups and ("ui_benchmark", "bench-cuda", 1) in groups
    assert ("benchmark", "bench-api", 2) in groups
    assert ("ui_convert", "convert", 1) in groups and ("convert_model", "convert", 1) in groups
    public = sorted(f.api_name for f in app.demo.fns.values() if f.api_visibility == "public")
    assert public == ["analyze_code", "benchmark", "convert_model", "inspect_archive"]


def test_benchmark_through_gradio_client(app_url: str, quick_api: None) -> None:
    client = Client(app_url, verbose=False)
    d = client.predict("sign_branch", "cpu", FAST, 1, api_name="/benchmark")
    assert d["model"] == "sign_branch" and [r["mode"] for r in d["results"]] == FAST
    assert all(r["ok"] for r in d["results"]) and d["threads"] == 1
    d = client.predict(model="sign_branch", modes=["trace"], threads=1, api_name="/benchmark")
    assert [r["mode"] for r in d["results"]] == FAST  # eager is always the baseline
    with pytest.raises(Exception, match="unknown model"):
        client.predict("nope", api_name="/benchmark")


def test_running_benchmark_does_not_block_ir_requests(app_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JX_BENCH_BUDGET_S", "2.5")
    client = Client(app_url, verbose=False)
    job = client.submit("sign_branch", "cpu", FAST, 1, api_name="/benchmark")
    deadline = time.time() + 30
    while handlers._DEVICE_LOCKS["cpu"].acquire(blocking=False):  # wait until the benchmark holds its device
        handlers._DEVICE_LOCKS["cpu"].release()
        assert time.time() < deadline, "the benchmark never started"
        time.sleep(0.05)
    assert client.predict("sign_branch", "trace", api_name="/convert_model")["trace"]["ok"]
    assert not job.done(), "the IR request waited for the benchmark"
    assert job.result(timeout=120)["results"][0]["ok"]


def test_the_page_offers_aot_inductor_but_does_not_tick_it() -> None:
    update = handlers.ui_bench_modes("cpu")
    assert "aot-inductor" in update["choices"] and "export" in update["choices"]
    assert "aot-inductor" not in update["value"] and "export" in update["value"] and "eager" in update["value"]
    # a link made with the page's defaults carries no mode list, and restores the same ticks
    token = handlers.ui_share_token("bench", "resnet18", "both", "cpu", "", "", "", "both", "resnet18", "cpu",
                                    handlers.ui_default_bench_modes("cpu"), 0)
    assert share.decode(token)["bmodes"] is None  # type: ignore[index]
    out = handlers.ui_restore(SimpleNamespace(query_params={share.PARAM: token}))  # type: ignore[arg-type]
    assert out[11]["value"] == handlers.ui_default_bench_modes("cpu")
