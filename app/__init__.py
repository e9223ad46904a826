"""JIT Explorer's Gradio app. Importing it builds ``demo`` without launching; ``python -m app`` serves it."""

from __future__ import annotations

import os
from typing import Any

from .ui import build_demo, launch_kwargs

__all__ = ["demo", "launch"]

demo = build_demo()


def launch(**kwargs: Any) -> Any:
    """Launch ``demo`` with the app's styles; ``PORT`` and ``GRADIO_SERVER_NAME`` are honoured."""
    opts: dict[str, Any] = {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "server_port": int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
        **launch_kwargs(),
    }
    opts.update(kwargs)
    return demo.launch(**opts)
