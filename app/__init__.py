"""JIT Explorer's Gradio app. Importing it builds ``demo`` without launching; ``python -m app`` serves it."""

from __future__ import annotations

import os
from typing import Any

from .ui import build_demo, launch_kwargs

__all__ = ["demo", "launch"]

demo = build_demo()


def launch(**kwargs: Any) -> Any:
    """Launch ``demo`` with the app's styles and its MCP server; ``PORT`` and ``GRADIO_SERVER_NAME`` are honoured.

    The MCP server (streamable HTTP at ``/gradio_api/mcp/``) exposes the named API endpoints as tools
    for AI assistants, through the same handlers, sandbox and paste gating as the API;
    ``GRADIO_MCP_SERVER=false`` (or ``launch(mcp_server=False)``) turns it off.

    Before serving, the server hardens itself for pasted code: it becomes non-dumpable (no
    same-user process can read its environment or memory), logs each sandbox protection that
    this machine lacks, and starts the warm sandbox workers. With a public share link
    (``share=True`` or ``GRADIO_SHARE=true``) pasting code is off unless ``JX_ALLOW_PASTE=1``.
    """
    import logging

    from jit_explorer import sandbox

    opts: dict[str, Any] = {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "server_port": int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
        # the named API endpoints are also MCP tools (/gradio_api/mcp/); GRADIO_MCP_SERVER=false turns that off
        "mcp_server": os.environ.get("GRADIO_MCP_SERVER", "true").strip().lower() not in ("0", "false", "no", "off"),
        **launch_kwargs(),
    }
    opts.update(kwargs)
    log = logging.getLogger("jit_explorer.app")
    library_log = logging.getLogger("jit_explorer")
    if not library_log.handlers and not logging.getLogger().handlers:  # nobody configured logging: say it on stderr
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        library_log.addHandler(handler)
        library_log.setLevel(logging.INFO)
    public = bool(opts.get("share")) or os.environ.get("GRADIO_SHARE", "").lower() == "true"
    sandbox.mark_public_share(public)
    for name, (active, detail) in sandbox.harden_server().items():  # logs the unavailable ones itself
        if active:
            log.info("sandbox protection %s: %s", name, detail)
    refusal = sandbox.paste_refusal()
    if refusal:
        log.warning("%s", refusal)
    else:
        sandbox.default_pool()  # the warm sandbox zygote starts importing torch now
    from jit_explorer import ir_cache

    from . import fast, handlers

    # the blog's two models convert in the background, in the modes the Model tab ticks by default, then render
    # once (JX_PREWARM=0: off); repeats are cached
    thread = ir_cache.prewarm(mode=fast.DEFAULT_MODES)
    if thread is not None:
        fast.warm(ir_cache.PREWARM_MODELS[:1], handlers.ui_convert)  # ResNet-18 renders as soon as it is converted
    return demo.launch(**opts)
