"""Bad input on every endpoint answers one specific line: no traceback, no temp path, no echo of a huge value.

The handlers are called directly (no server); the page load with odd ``?s=`` values goes through the
real app (``app_url``).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
import zlib
from typing import Any

import gradio as gr
import pytest

from app import handlers, share
from jit_explorer import sandbox, snippet

OK_SRC = "import torch\n\ndef f(x):\n    return x + 1\n"


def _one_line(message: str, *, limit: int = 400) -> None:
    assert message.strip(), "an empty message"
    assert "\n" not in message.strip() and len(message) <= limit, message[:600]
    assert "Traceback" not in message and "/tmp/" not in message and "site-packages" not in message


def _error_of(fn: Any, *args: Any) -> str:
    """The one line a handler answers with: a gr.Error's message, or the error of an ok=false analysis."""
    try:
        out = fn(*args)
    except gr.Error as e:
        return str(e.message)
    assert isinstance(out, dict) and out.get("ok") is False, f"accepted: {str(out)[:300]}"
    return str(out["error"]["message"])


@pytest.fixture(autouse=True)
def _no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may reach the sandbox or a conversion: bad input stops at the door."""
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("bad input reached the sandbox or a conversion")

    monkeypatch.setattr(sandbox, "run_request", refuse)  # what jit_explorer.archive calls
    monkeypatch.setattr(sandbox.api, "run_request", refuse)  # what analyze_source / benchmark_source call
    monkeypatch.setattr(handlers, "analyze_model", refuse)
    monkeypatch.setattr(handlers, "_run_benchmark", refuse)
    monkeypatch.setenv("JX_ALLOW_PASTE", "1")


CASES: list[tuple[str, Any, tuple[Any, ...], str]] = [
    ("analyze entry=123", handlers.analyze_code, (OK_SRC, 123, "torch.ones(2)", "both"), "entry must be text"),
    ("analyze source=None-ish list", handlers.analyze_code, (["x"], "", "", "both"), "source must be text"),
    ("analyze mode=5", handlers.analyze_code, (OK_SRC, "", "torch.ones(2)", 5), "mode must be text"),
    ("analyze surrogate source", handlers.analyze_code,
     ("import torch\ndef f(x):\n    return '\udc80'\n", "", "1", "both"), "surrogates"),
    ("analyze surrogate inputs", handlers.analyze_code, (OK_SRC, "", "torch.ones(2) # \udc80", "both"), "surrogates"),
    ("analyze 1+1+... inputs", handlers.analyze_code, (OK_SRC, "", "1" + "+1" * 8000, "both"), "nested too deeply"),
    ("analyze 90k unary minus", handlers.analyze_code, ("-" * 90_000 + "1\n", "", "1", "both"), "nested too deeply"),
    ("analyze 10,000 entries", handlers.analyze_code,
     ("".join(f"def f{i}(x): return x\n" for i in range(10_000)), "", "1", "both"), "and 9988 more"),
    ("analyze 1 MB entry", handlers.analyze_code, (OK_SRC, "e" * 1_000_000, "1", "both"), "characters long"),
    ("convert model=['x']", handlers.convert_model, (["x"], "both", "cpu"), "model must be text"),
    ("convert 1 MB model name", handlers.convert_model, ("m" * 1_000_000, "both", "cpu"), "characters long"),
    ("convert device=7", handlers.convert_model, ("resnet18", "both", 7), "device must be text"),
    ("convert device=tpu", handlers.convert_model, ("resnet18", "both", "tpu"), "unknown device"),
    ("convert mode=None list", handlers.convert_model, ("resnet18", [None], "cpu"), "mode must be text"),
    ("bench threads=2**70", handlers.benchmark, ("resnet18", "cpu", None, 2**70), "threads must be"),
    ("bench threads=100000", handlers.benchmark, ("resnet18", "cpu", None, 100_000), "threads must be"),
    ("bench threads=-1", handlers.benchmark, ("resnet18", "cpu", None, -1), "threads must be"),
    ("bench threads=1.5", handlers.benchmark, ("resnet18", "cpu", None, 1.5), "threads must be"),
    ("bench threads='4'", handlers.benchmark, ("resnet18", "cpu", None, "4"), "threads must be"),
    ("bench threads=inf", handlers.benchmark, ("resnet18", "cpu", None, float("inf")), "threads must be"),
    ("bench modes=[None]", handlers.benchmark, ("resnet18", "cpu", [None], 0), "modes must be"),
    ("bench modes='eager'", handlers.benchmark, ("resnet18", "cpu", "eager", 0), "modes must be"),
    ("bench model=['x']", handlers.benchmark, (["x"], "cpu", None, 0), "model must be text"),
    ("bench 1 MB model", handlers.benchmark, ("m" * 1_000_000, "cpu", None, 0), "characters long"),
    ("bench device=7", handlers.benchmark, ("resnet18", 7, None, 0), "device must be text"),
    ("save model=None list", handlers.save_artifact, ([1], "trace"), "model must be text"),
]


@pytest.mark.parametrize(("fn", "args", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_argument_answers_one_specific_line(fn: Any, args: tuple[Any, ...], words: str) -> None:
    message = _error_of(fn, *args)
    _one_line(message)
    assert words in message, message


def test_threads_within_the_usable_cores_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr(handlers, "_run_benchmark", lambda m, d, modes, n, **_: seen.append(n) or {})
    handlers.benchmark("resnet18", "cpu", None, sandbox.usable_cores())
    handlers.benchmark("resnet18", "cpu", None, 0)
    handlers.benchmark("resnet18", "cpu", [], None)
    assert seen == [sandbox.usable_cores(), 0, 0]


def test_sandbox_bench_threads_are_bounded() -> None:
    from jit_explorer.errors import InputError

    for bad in (0, sandbox.usable_cores() + 1, 2**70, True, 1.0):
        with pytest.raises(InputError, match="threads must be"):
            sandbox.benchmark_source(OK_SRC, inputs="torch.ones(2)", threads=bad)  # type: ignore[arg-type]


def test_names_text_is_short() -> None:
    assert snippet.names_text(["a", "b"]) == "a, b"
    assert snippet.names_text([f"n{i}" for i in range(100)], limit=3) == "n0, n1, n2 … and 97 more"


# --------------------------------------------------------------------------- share links


def _token(raw: str) -> str:
    return base64.urlsafe_b64encode(zlib.compress(raw.encode("utf-8", "surrogatepass"), 9)).decode().rstrip("=")


WEIRD_TOKENS = {
    "nested json": _token("[" * 50_000 + "]" * 50_000),
    "nested code": _token(json.dumps({"tab": "paste", "code": "x = " + "(" * 3000 + ")" * 3000 + "\n"})),
    "unary minus code": _token(json.dumps({"tab": "paste", "code": "-" * 20_000 + "1\n"})),
    "surrogate code": _token(json.dumps({"tab": "paste", "code": "x = '\udc80'\n", "entry": "\ud800"})),
    "surrogate raw": _token('{"tab": "paste", "code": "\udc80"}'),
    "not base64": "%%%***",
    "non-ascii": "ééé",
    "huge": "A" * 20_000,
    "wrong types": _token(json.dumps({"tab": 5, "model": [], "bthreads": 2**70, "bmodes": [None], "code": {}})),
    "not a dict": _token("[1, 2]"),
    "empty": "",
}


@pytest.mark.parametrize("token", list(WEIRD_TOKENS.values()), ids=list(WEIRD_TOKENS))
def test_share_decode_never_raises(token: str) -> None:
    view = share.decode(token, models=["resnet18"], modes=["eager"])
    assert view is None or set(view) == set(share.defaults())
    if view is not None:
        for value in view.values():
            if isinstance(value, str):
                value.encode("utf-8")


@pytest.mark.parametrize("token", list(WEIRD_TOKENS.values()), ids=list(WEIRD_TOKENS))
def test_restore_never_raises(token: str) -> None:
    class Request:
        query_params = {"s": token}

    out = handlers.ui_restore(Request())  # type: ignore[arg-type]
    assert len(out) == 15


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nested code", "surrogate code", "unary minus code", "huge", "non-ascii"])
def test_page_loads_for_any_share_value(app_url: str, name: str) -> None:
    url = app_url + "?s=" + urllib.parse.quote(WEIRD_TOKENS[name][:12_000], safe="")
    with urllib.request.urlopen(url, timeout=60) as r:
        assert r.status == 200
