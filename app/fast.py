"""Fast first impressions: the Model tab's rendered HTML cached beside the IR cache, and start-up warming.

A cached conversion (:mod:`jit_explorer.ir_cache`) still cost ~0.5 s per request to highlight every view of
every mode (ResNet-18 in four modes is ~3 MB of HTML). :func:`convert_outputs` keeps the rendered panes of the
last few reports, keyed by a digest of the report, so a repeat is a lookup. :func:`warm` converts and renders
the blog's models in the background at start-up, in the modes the Model tab ticks by default.
Shared, not per-user: the same report renders to the same HTML for everyone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from jit_explorer.modes import REGISTRY

from . import render

__all__ = ["convert_outputs", "warm", "DEFAULT_MODES", "MAX_ENTRIES", "MODEL_SCOPE"]

log = logging.getLogger("jit_explorer.app")
MAX_ENTRIES = 6
#: the Model tab's element ids start with "m-" (render.id_prefix): its cards and IR lines are not the Paste tab's
MODEL_SCOPE = "m"
#: the Model tab's default selection (every registered mode is ticked)
DEFAULT_MODES = ",".join(REGISTRY)
_lock = threading.Lock()
_rendered: OrderedDict[str, list[str]] = OrderedDict()


def _digest(report: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(report, sort_keys=True, default=str).encode()).hexdigest()


def convert_outputs(report: dict[str, Any], source_html: str) -> list[Any]:
    """The Model tab's outputs for ``report``: notice, summary, every pane, pitfalls, warnings, source, report."""
    # the notice (notes such as "answered from the cache", timings) is rendered each time; the rest is keyed
    # by the report without it
    key = _digest({k: v for k, v in report.items() if k != "notes"}) + hashlib.sha1(source_html.encode()).hexdigest()
    with _lock:
        hit = _rendered.get(key)
        if hit is not None:
            _rendered.move_to_end(key)
    if hit is None:
        hit = [render.summary_html(report, scope=MODEL_SCOPE), *render.all_panes(report, scope=MODEL_SCOPE),
               render.pitfalls_html(report, scope=MODEL_SCOPE),
               render.warnings_html(report), source_html]
        with _lock:
            _rendered[key] = hit
            while len(_rendered) > MAX_ENTRIES:
                _rendered.popitem(last=False)
    return [render.notice_html(report), *hit, report]


def warm(models: Sequence[str], ui_convert: Callable[..., list[Any]], *, after: threading.Thread | None = None,
         mode: str = DEFAULT_MODES) -> threading.Thread:
    """In a background thread: wait for ``after`` (the IR cache's prewarm), then render ``models`` once each."""

    def work() -> None:
        if after is not None:
            after.join()
        for name in models:
            try:
                ui_convert(name, mode.split(","), "cpu", progress=lambda *a, **k: None)
                log.info("pre-rendered %s (%s)", name, mode)
            except Exception as e:  # noqa: BLE001 - warming is best effort
                log.warning("pre-rendering %s failed: %s", name, e)

    t = threading.Thread(target=work, name="jx-prerender", daemon=True)
    t.start()
    return t
