"""The app's MCP server, through a real MCP client (the ``mcp`` package) against the launched app."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

T = TypeVar("T")

SNIPPET = ("import torch\n"
           "\n"
           "\n"
           "def sign_branch(x):\n"
           "    if x.sum() > 0:\n"   # line 5: the trace freezes this branch
           "        return x + 1\n"
           "    return x - 1\n"
           "\n"
           "\n"
           "def example_inputs():\n"
           "    return (torch.ones(3),)\n")


def with_session(app_url: str, fn: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Open an MCP session on the app's streamable HTTP endpoint, run ``fn`` in it."""

    async def go() -> T:
        async with streamablehttp_client(f"{app_url}gradio_api/mcp/", timeout=60, sse_read_timeout=300) as (
                read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await fn(session)

    return asyncio.run(go())


def payload(result: Any) -> dict[str, Any]:
    """The dict an endpoint returned, from a tool call's result.

    Gradio 6.31 sends an endpoint's dict as one text item holding the dict's Python literal (``str(dict)``).
    """
    assert not result.isError, result.content
    texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    assert len(texts) == 1, texts
    value = ast.literal_eval(texts[0])
    assert isinstance(value, dict), texts[0][:200]
    return value


def test_tools_are_listed_with_descriptions(app_url: str) -> None:
    async def list_tools(session: ClientSession) -> Any:
        return (await session.list_tools()).tools

    tools = {t.name: t for t in with_session(app_url, list_tools)}
    assert {"convert_model", "analyze_code", "benchmark"} <= set(tools)
    assert not {n for n in tools if n.startswith("ui_")}, "UI events must stay private"
    analyze = tools["analyze_code"]
    assert "sandbox" in (analyze.description or "") and "Returns:" in (analyze.description or "")
    props = analyze.inputSchema["properties"]
    assert analyze.inputSchema.get("required") == ["source"]
    for arg in ("source", "entry", "inputs", "mode"):
        assert props[arg].get("description"), f"analyze_code's {arg} has no description"
    assert all(p.get("description") for p in tools["benchmark"].inputSchema["properties"].values())


def test_analyze_code_returns_the_pitfall_on_its_line(app_url: str) -> None:
    async def call(session: ClientSession) -> Any:
        return await session.call_tool("analyze_code", {"source": SNIPPET, "entry": "", "inputs": "", "mode": "both"})

    d = payload(with_session(app_url, call))
    assert d["ok"] is True and d["entry"] == "sign_branch"
    found = [(p["kind"], p["line"]) for p in d["pitfalls"]]
    assert ("tensor-to-bool", 5) in found, found
    assert all(p["fix"] for p in d["pitfalls"])


def test_pasted_code_through_mcp_is_gated(app_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JX_ALLOW_PASTE", "0")  # the server runs in this process: the same gating as the API

    async def call(session: ClientSession) -> Any:
        return await session.call_tool("analyze_code", {"source": SNIPPET})

    d = payload(with_session(app_url, call))
    assert d["ok"] is False and d["error"]["kind"] == "disabled" and not d["pitfalls"]
