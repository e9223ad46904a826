"""The app: handlers without launching, and the named API through gradio_client against a real server."""

from __future__ import annotations

import re

import pytest
from gradio_client import Client

from app import handlers, render

BRANCHY = "import torch\n\n\ndef f(x):\n    if x.sum() > 0:\n        return x + 1\n    return x - 1\n"


def test_handlers_convert_model_returns_the_cli_object() -> None:
    d = handlers.convert_model("sign_branch")
    assert d["model"] == "sign_branch" and d["weights"] in ("pretrained", "random")
    assert d["trace"]["ok"] and d["script"]["ok"]


def test_handlers_reject_bad_mode_with_a_message() -> None:
    import gradio as gr

    with pytest.raises(gr.Error, match="unknown mode"):
        handlers.convert_model("sign_branch", "bogus")
    with pytest.raises(gr.Error, match="unknown model"):
        handlers.convert_model("nope")


def test_analyze_code_static_errors_need_no_worker() -> None:
    d = handlers.analyze_code("def f(:\n")
    assert not d["ok"] and d["error"]["kind"] == "syntax" and d["error"]["line"] == 1
    # two entries and no inputs: an entry is chosen (and why), then the missing inputs stop it before any worker
    d = handlers.analyze_code("import torch\ndef f(x):\n    return x\ndef g(x):\n    return x\n")
    assert not d["ok"] and d["error"]["kind"] == "inputs" and "no inputs" in d["error"]["message"]


def test_render_marks_pitfall_lines_in_source_and_ir() -> None:
    d = handlers.analyze_code(BRANCHY, "", "torch.ones(2)")
    assert d["ok"]
    src = render.source_html(BRANCHY, d)
    assert 'id="src-L5"' in src and "jx-mark" in src
    # the script graph keeps the branch the trace froze (prim::If of line 5): marked there
    panes = render.ir_panes(d, "script")
    assert len(panes) == 4 and "jx-mark" in panes[0]
    assert "tensor-to-bool" in render.pitfalls_html(d)


def test_ui_analyze_shows_errors_as_messages() -> None:
    out = handlers.ui_analyze("def f(:\n", "", "", "both")
    assert "syntax error on line 1" in out[0] and "Traceback" not in out[0]


def test_api_endpoints_through_gradio_client(app_url: str) -> None:
    client = Client(app_url, verbose=False)
    d = client.predict("resnet18", api_name="/convert_model")
    assert d["model"] == "resnet18" and d["trace"]["ok"] and d["script"]["ok"]
    assert d["weights"] == "random"
    d = client.predict("sign_branch", "script", "cpu", api_name="/convert_model")
    assert d["trace"] is None and d["script"]["ok"]
    a = client.predict(BRANCHY, "", "torch.ones(2)", "both", api_name="/analyze_code")
    assert a["ok"] and a["entry"] == "f"
    assert any(p["kind"] == "tensor-to-bool" and p["line"] == 5 for p in a["pitfalls"])
    a = client.predict(source=BRANCHY + "\n\ndef example_inputs():\n    return (torch.ones(2),)\n",
                       api_name="/analyze_code")
    assert a["ok"]
    bad = client.predict("def f(:\n", api_name="/analyze_code")
    assert not bad["ok"] and bad["error"]["line"] == 1
    with pytest.raises(Exception, match="unknown model"):
        client.predict("nope", api_name="/convert_model")
    # the server is still fine
    assert client.predict("sign_branch", api_name="/convert_model")["ok"]


def test_summary_links_to_the_card_of_the_first_problem_not_an_info_card() -> None:
    pit = {"message": "m", "fix": "f", "evidence": "static"}
    report = {"trace": {"ok": True, "seconds": 0.1}, "pitfalls": [
        {**pit, "kind": "shape-specialization", "mode": "trace", "severity": "info", "line": 3},
        {**pit, "kind": "tensor-to-bool", "mode": "trace", "severity": "warning", "line": 5}]}
    target = re.search(r"href='#(pit-trace-\d)' class='jx-sum-link'>tensor-to-bool, line 5<",
                       render.summary_html(report))
    assert target is not None
    card = re.search(rf"id='{target.group(1)}'[^>]*>.*?<b>([\w-]+)</b>", render.pitfalls_html(report))
    assert card is not None and card.group(1) == "tensor-to-bool"


def test_the_model_and_paste_tabs_results_share_no_element_id() -> None:
    """Both tabs are in one page: a card's or summary's link must land in its own tab, not the other one's."""
    from app import handlers

    model = handlers.ui_convert("sign_branch", ["trace", "script"], "cpu")  # a teaching model: a frozen branch
    report = model[-1]
    assert report["pitfalls"]
    paste = [render.summary_html(report), *render.all_panes(report), render.pitfalls_html(report)]
    ids = lambda parts: set(re.findall(r"""\bid=["']([^"']+)["']""", "".join(p for p in parts if isinstance(p, str)))) # noqa: E731
    model_ids, paste_ids = ids(model[1:-2]), ids(paste)
    assert model_ids and paste_ids and not model_ids & paste_ids
    hrefs = set(re.findall(r"href='#([^']+)'", "".join(p for p in model[1:-2] if isinstance(p, str))))
    assert hrefs and hrefs <= model_ids  # every jump of the Model tab's cards and summary stays in the Model tab


def test_model_tab_shows_the_models_source_linked_to_its_ir() -> None:
    from app import handlers

    out = handlers.ui_convert("sign_branch", ["script"], "cpu")
    source, report = out[-2], out[-1]
    import re

    assert 'id="msrc-L1"' in source and "class SignBranch" in re.sub(r"<[^>]+>", "", source)
    lines = {n for n in report["script"]["source_lines"]["graph"] if n}
    assert lines and all(f'data-line="{n}"' in source for n in lines)
