"""Instant IR for the zoo: conversions of catalogue models cached by (model, mode, device, torch version).

A zoo model's conversion report never changes for a given model, mode selection,
device and torch version (the models are fixed, the weights too), so the server
converts each once per process and answers repeats from memory. A cached answer
says so in its notes. :func:`prewarm` converts the founding blog's two models in
a background thread at start-up, so the first visitor gets them instantly too.

Only zoo models go through here (trusted library code, run in the server);
pasted code never does.

Example::

    >>> from jit_explorer import ir_cache
    >>> a = ir_cache.get_or_convert("sign_branch", mode="trace", device="cpu", convert=lambda: None)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .report import Analysis

__all__ = ["CacheKey", "key_for", "lookup", "store", "get_or_convert", "prewarm", "clear", "PREWARM_MODELS",
           "CACHED_NOTE"]

PREWARM_MODELS: tuple[str, ...] = ("resnet18", "bert-base-uncased")
"""The founding blog's two models, converted at app start-up."""
CACHED_NOTE = ("Cached: this conversion was made earlier in this server process (same model, modes, device and torch "
               "{version}); it never changes for those.")
_MAX_ENTRIES = 64
_log = logging.getLogger("jit_explorer.ir_cache")


@dataclass(frozen=True)
class CacheKey:
    """What a zoo conversion depends on."""

    model: str
    mode: str
    device: str
    inductor: bool
    torch_version: str

    def to_dict(self) -> dict[str, object]:
        """Return the key's fields."""
        return {"model": self.model, "mode": self.mode, "device": self.device, "inductor": self.inductor,
                "torch_version": self.torch_version}


def key_for(model: str, *, mode: str, device: str, inductor: bool = False) -> CacheKey:
    """The cache key of a conversion request (``mode`` normalised: case, spaces, order of a comma list).

    Example::

        >>> a = key_for("resnet18", mode="script, trace", device="cpu")
        >>> a == key_for("resnet18", mode="trace,script", device="cpu")
        True
    """
    parts = sorted({p.strip().lower() for p in str(mode).split(",") if p.strip()})
    norm = ",".join(parts)
    if norm == "script,trace":
        norm = "both"
    return CacheKey(model, norm, str(device or "cpu"), bool(inductor), torch.__version__)


class _Cache:
    """A small LRU of analyses with one lock per key (two requests for one key convert once)."""

    def __init__(self) -> None:
        self.entries: OrderedDict[CacheKey, Analysis] = OrderedDict()
        self.lock = threading.Lock()
        self.key_locks: dict[CacheKey, threading.Lock] = {}

    def key_lock(self, key: CacheKey) -> threading.Lock:
        with self.lock:
            return self.key_locks.setdefault(key, threading.Lock())


_CACHE = _Cache()  # zoo conversions only: the same for every user, never per-user data


def _mark(analysis: Analysis) -> Analysis:
    note = CACHED_NOTE.format(version=torch.__version__)
    return analysis.with_changes(notes=tuple(analysis.notes) + (note,))


def lookup(key: CacheKey) -> Analysis | None:
    """The cached analysis of ``key``, its notes saying it is cached; None when not cached."""
    with _CACHE.lock:
        hit = _CACHE.entries.get(key)
        if hit is None:
            return None
        _CACHE.entries.move_to_end(key)
    return _mark(hit)


def store(key: CacheKey, analysis: Analysis) -> Analysis:
    """Cache a successful analysis (failed ones are not cached); returns it unchanged."""
    if analysis.ok:
        with _CACHE.lock:
            _CACHE.entries[key] = analysis
            _CACHE.entries.move_to_end(key)
            while len(_CACHE.entries) > _MAX_ENTRIES:
                _CACHE.entries.popitem(last=False)
    return analysis


def get_or_convert(model: str, *, mode: str, device: str, inductor: bool = False,
                   convert: Callable[[], Analysis]) -> Analysis:
    """The cached analysis, or ``convert()`` once (concurrent callers of one key wait for it).

    Args:
        model: the zoo name.
        mode: the mode selection as requested.
        device: ``"cpu"`` or ``"cuda"``.
        inductor: whether Inductor's generated code was asked for.
        convert: makes the analysis when it is not cached.

    Returns:
        The analysis; a cached one carries a note that says so.
    """
    key = key_for(model, mode=mode, device=device, inductor=inductor)
    hit = lookup(key)
    if hit is not None:
        return hit
    with _CACHE.key_lock(key):
        hit = lookup(key)  # converted while we waited
        if hit is not None:
            return hit
        return store(key, convert())


def clear() -> None:
    """Forget every cached conversion."""
    with _CACHE.lock:
        _CACHE.entries.clear()


def prewarm(models: Sequence[str] = PREWARM_MODELS, *, mode: str = "both", device: str = "cpu",
            convert: Callable[[str, str, str], Analysis] | None = None) -> threading.Thread | None:
    """Convert ``models`` in a background (daemon) thread so their first request is a cache hit.

    ``JX_PREWARM=0`` turns it off (returns None). Failures are logged, never raised.

    Args:
        models: zoo names.
        mode: the mode selection to convert (the app's default).
        device: the device.
        convert: ``convert(model, mode, device) -> Analysis``; default ``analysis.analyze_model``
            (which fills this cache).

    Returns:
        The started thread, or None when pre-warming is off.
    """
    if os.environ.get("JX_PREWARM", "1").strip().lower() in ("0", "false", "no", "off"):
        return None

    def default_convert(model: str, mode_: str, device_: str) -> Analysis:
        from .analysis import analyze_model

        return analyze_model(model, mode=mode_, device=device_)

    run = convert or default_convert

    def work() -> None:
        try:  # Linux: a thread is a task; nice it so that visitors' requests come first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        for m in models:
            try:
                run(m, mode, device)
                _log.info("pre-converted %s (%s, %s)", m, mode, device)
            except Exception as e:  # a missing model or a broken conversion must not stop the server
                _log.warning("pre-converting %s failed: %s", m, e)

    t = threading.Thread(target=work, name="jx-ir-prewarm", daemon=True)
    t.start()
    return t
