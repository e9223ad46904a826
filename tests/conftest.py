"""Shared fixtures: offline mode, a launched app server, small helpers."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

os.environ.setdefault("JIT_EXPLORER_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# no background pre-conversion in the test server: it would compile beside the tests' own TorchScript work
# (tests/test_ir_cache.py tests pre-conversion itself)
os.environ.setdefault("JX_PREWARM", "0")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The real app, launched once per test session on a free loopback port."""
    import app

    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()
