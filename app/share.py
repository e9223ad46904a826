"""Shareable links: the page's view (tab, model, mode, pasted code...) packed into one URL parameter.

The view is a small JSON object, zlib-compressed and base64url-encoded without
padding, carried as ``?s=<token>``. Decoding is defensive: the token comes from
anyone's URL, so its size and the decompressed size are capped, unknown keys are
dropped and every value is checked against what the page can show. Pure
functions: no gradio, no torch.

Example::

    >>> token = encode({"tab": "model", "model": "resnet18"})
    >>> decode(token)["model"]
    'resnet18'
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["PARAM", "TABS", "MAX_TOKEN_CHARS", "MAX_JSON_BYTES", "encode", "decode", "clean", "defaults"]

PARAM = "s"
"""The query parameter that carries the token."""
TABS: tuple[str, ...] = ("start", "model", "paste", "bench")
MAX_TOKEN_CHARS = 8_000
"""Longer tokens are neither made nor read: the server refuses request lines much above 8-16 KB."""
MAX_JSON_BYTES = 256_000
"""Decompressed size cap (a zip bomb stops here)."""
_MAX_CODE_CHARS = 100_000
_MAX_TEXT_CHARS = 2_000
_VERSION = 1

#: key -> (type, default). Defaults are left out of the token to keep links short.
_FIELDS: dict[str, tuple[type, Any]] = {
    "tab": (str, "start"),
    "model": (str, "resnet18"),
    "mode": (str, "trace,script"),
    "device": (str, "cpu"),
    "code": (str, ""),
    "entry": (str, ""),
    "inputs": (str, ""),
    "pmode": (str, "trace,script"),
    "bmodel": (str, "resnet18"),
    "bdevice": (str, "cpu"),
    "bmodes": (list, None),
    "bthreads": (int, 0),
    "views": (str, ""),  # the IR sub-tab of each mode column: "trace:optimized,script:code" (app.subtabs)
}


def defaults() -> dict[str, Any]:
    """The view of a page opened without a link."""
    return {k: (list(v) if isinstance(v, list) else v) for k, (_, v) in _FIELDS.items()}


def clean(view: Mapping[str, Any], *, models: Collection[str] = (), modes: Collection[str] = ()) -> dict[str, Any]:
    """Keep only known keys with values of the right type and size; fill in defaults.

    Args:
        view: a decoded (untrusted) view.
        models: the known model names (empty: do not check).
        modes: the known benchmark modes (empty: do not check).

    Returns:
        A complete view: every key of :func:`defaults`.
    """
    out = defaults()
    for key, (typ, _) in _FIELDS.items():
        value = view.get(key)
        if value is None:
            continue
        if typ is int:
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1024:
                out[key] = value
        elif typ is list:
            if isinstance(value, list) and all(isinstance(m, str) and _is_text(m) for m in value) and len(value) <= 16:
                out[key] = [m for m in value if not modes or m in modes]
        elif isinstance(value, str) and _is_text(value):
            limit = _MAX_CODE_CHARS if key == "code" else _MAX_TEXT_CHARS
            out[key] = value[:limit]
    if out["tab"] not in TABS:
        out["tab"] = "start"
    for key in ("mode", "pmode"):
        out[key] = modes_text(out[key])
    for key in ("device", "bdevice"):
        if out[key] not in ("cpu", "cuda"):
            out[key] = "cpu"
    if models:
        for key in ("model", "bmodel"):
            if out[key] not in models:
                out[key] = _FIELDS[key][1]
    return out


def modes_text(value: Any) -> str:
    """A capture-mode selection as its canonical comma list (``trace,script``); anything unknown is the default."""
    from jit_explorer.errors import InputError
    from jit_explorer.modes import DEFAULT, parse_modes

    try:
        return ",".join(parse_modes(value if isinstance(value, (str, list)) else DEFAULT))
    except InputError:
        return ",".join(parse_modes(DEFAULT))


def _is_text(value: str) -> bool:
    """Whether ``value`` can be shown and sent on (no lone surrogates, which JSON escapes can carry)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encode(view: Mapping[str, Any]) -> str:
    """Pack a view into a URL-safe token (only the values that differ from the defaults).

    Args:
        view: keys of :func:`defaults`; others are ignored.

    Returns:
        base64url (no padding) of zlib-compressed compact JSON.
    """
    base = defaults()
    small: dict[str, Any] = {"v": _VERSION}
    for key in _FIELDS:
        if key in view and view[key] != base[key] and view[key] not in (None, ""):
            small[key] = view[key]
    raw = json.dumps(small, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def decode(token: str, *, models: Collection[str] = (), modes: Collection[str] = ()) -> dict[str, Any] | None:
    """Unpack a token made by :func:`encode`; ``None`` when it is not a valid token.

    Args:
        token: the ``s`` query parameter.
        models: the known model names (unknown ones fall back to the default).
        modes: the known benchmark modes.

    Returns:
        A complete, checked view (see :func:`clean`) or ``None``.
    """
    if not isinstance(token, str):
        return None
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_JSON_BYTES)
        if inflater.unconsumed_tail:
            return None
        view = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError, RecursionError, MemoryError):
        return None  # not a token, or JSON nested too deeply to read
    if not isinstance(view, dict):
        return None
    return clean(view, models=models, modes=modes)
