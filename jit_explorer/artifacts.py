"""Downloadable files (a zoo model's TorchScript ``.pt``…) built once per key in a managed, size-capped folder.

A server that wrote a fresh ``.pt`` per download request (BERT: ~440 MB) into a new temp dir filled
the disk: nothing was ever deleted. An :class:`ArtifactStore` builds each key's file once, hands the
same path to every later request, evicts the least recently used files when the folder would exceed
its cap, and deletes its folder when the process exits; folders left by processes that died are
removed when the next store starts. The app serves the folder directly (Gradio static path), so no
second copy lands in Gradio's cache.

The API is general: :meth:`ArtifactStore.artifact_for` takes any key and a ``build(path)`` that
writes the file. :func:`torchscript_artifact` is the zoo's TorchScript download, :func:`pasted_artifact`
the one of pasted code (saved in the sandbox).

Example::

    >>> from pathlib import Path
    >>> store = ArtifactStore(max_bytes=1 << 20)
    >>> p = store.artifact_for("hello", lambda path: path.write_text("hi"), name="hello.txt")
    >>> p.read_text(), p.name
    ('hi', 'hello.txt')
    >>> store.close()
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import JitExplorerError

__all__ = ["ArtifactStore", "ArtifactError", "default_store", "torchscript_artifact", "pasted_artifact", "sweep_stale",
           "DEFAULT_MAX_MB", "PREFIX"]

DEFAULT_MAX_MB = 2048
"""The default cap of the managed folder (``JX_ARTIFACT_MAX_MB``): room for BERT's two ``.pt`` files and more."""
PREFIX = "jx-artifacts-"
"""Managed folders are ``<temp>/jx-artifacts-<pid>-<random>``: the pid says whose they are."""
_NAME_RE = re.compile(r"[^A-Za-z0-9._+-]+")
_log = logging.getLogger("jit_explorer.artifacts")


class ArtifactError(JitExplorerError):
    """A download could not be built (the conversion failed, or the build wrote no file)."""


@dataclass
class _Entry:
    path: Path
    size: int
    meta: dict[str, Any] = field(default_factory=dict)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_stale(base: str | Path | None = None) -> int:
    """Remove managed folders under ``base`` (the temp dir) whose process is gone; returns how many."""
    base = Path(base or tempfile.gettempdir())
    removed = 0
    try:
        entries = list(base.iterdir())
    except OSError:
        return 0
    for p in entries:
        head = p.name[len(PREFIX):].split("-", 1)[0] if p.name.startswith(PREFIX) else ""
        if not head.isdigit() or int(head) == os.getpid():
            continue
        try:
            if p.is_symlink() or not p.is_dir() or p.lstat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if not _pid_alive(int(head)):
            shutil.rmtree(p, ignore_errors=True)
            removed += not p.exists()
    return removed


class ArtifactStore:
    """Files built once per key in one folder, least recently used evicted above ``max_bytes``.

    Args:
        root: the folder (created; removed by :meth:`close`); default a fresh ``<temp>/jx-artifacts-<pid>-*``.
        max_bytes: the cap on the folder's files. The file just built or asked for is never evicted,
            so one file larger than the cap is still served (alone).
    """

    def __init__(self, root: str | Path | None = None, *, max_bytes: int = DEFAULT_MAX_MB << 20) -> None:
        if root is None:
            root = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def _dir_of(self, key: str) -> Path:
        return self.root / hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]

    def artifact_for(self, key: str, build: Callable[[Path], object], *, name: str = "artifact.bin") -> Path:
        """The file of ``key``: built by ``build(path)`` the first time, the same path afterwards.

        ``build`` writes the file at the path it is given (a temporary name in the store's folder,
        renamed into place when ``build`` returns), so a failed or concurrent build never leaves a
        partial file; two requests for one key build once. ``name`` is the file's name (what a person
        downloads).
        """
        return self.artifact_with_meta(key, build, name=name)[0]

    def artifact_with_meta(self, key: str, build: Callable[[Path], object], *,
                           name: str = "artifact.bin") -> tuple[Path, dict[str, Any]]:
        """:meth:`artifact_for`, with what ``build`` returned about the file when that was a dict
        (e.g. the input shapes a download's C++ snippet needs), kept as long as the file; else ``{}``."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None and hit.path.exists():
                    self._entries.move_to_end(key)
                    return hit.path, dict(hit.meta)
            final, meta = self._build(key, build, _NAME_RE.sub("_", name).strip("._") or "artifact.bin")
            with self._lock:
                self._entries[key] = _Entry(final, final.stat().st_size, meta)
                self._entries.move_to_end(key)
                self._evict(keep=key)
            return final, dict(meta)

    def _build(self, key: str, build: Callable[[Path], object], name: str) -> tuple[Path, dict[str, Any]]:
        folder = self._dir_of(key)
        shutil.rmtree(folder, ignore_errors=True)  # a leftover of a failed build or an evicted entry
        folder.mkdir(parents=True)
        partial = folder / f".partial-{name}"
        try:
            returned = build(partial)
            if not partial.is_file():
                raise ArtifactError(f"building {name} wrote no file")
            final = folder / name
            os.replace(partial, final)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return final, dict(returned) if isinstance(returned, dict) else {}

    def _evict(self, *, keep: str) -> None:
        """Drop least recently used entries (never ``keep``) until the folder fits ``max_bytes``."""
        total = sum(e.size for e in self._entries.values())
        for key in list(self._entries):
            if total <= self.max_bytes:
                break
            if key == keep:
                continue
            entry = self._entries.pop(key)
            shutil.rmtree(entry.path.parent, ignore_errors=True)
            total -= entry.size
            _log.info("evicted %s (%d MB) from the download folder", entry.path.name, entry.size >> 20)

    def total_bytes(self) -> int:
        """The size of the files the store holds now."""
        with self._lock:
            return sum(e.size for e in self._entries.values())

    def keys(self) -> list[str]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._entries)

    def close(self) -> None:
        """Delete the folder and everything in it."""
        with self._lock:
            self._entries.clear()
        shutil.rmtree(self.root, ignore_errors=True)


_DEFAULT: ArtifactStore | None = None
_DEFAULT_LOCK = threading.Lock()


def _max_bytes_from_env() -> int:
    try:
        mb = float(os.environ.get("JX_ARTIFACT_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int((mb if mb > 0 else DEFAULT_MAX_MB) * (1 << 20))


def default_store() -> ArtifactStore:
    """The process's store (a shared resource, like a lock; not per-user data), made on first use.

    Making it removes the folders of dead processes; the folder is deleted when the process exits.
    The cap is ``JX_ARTIFACT_MAX_MB`` (default :data:`DEFAULT_MAX_MB`).
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            removed = sweep_stale()
            if removed:
                _log.info("removed %d download folder(s) left by stopped servers", removed)
            _DEFAULT = ArtifactStore(max_bytes=_max_bytes_from_env())
            atexit.register(_DEFAULT.close)
        return _DEFAULT


def torchscript_artifact(model: str, mode: str = "trace", *, store: ArtifactStore | None = None) -> Path:
    """A zoo model's ``torch.jit.trace`` or ``torch.jit.script`` module saved with ``torch.jit.save`` (CPU).

    Built once per (model, mode, torch version) in ``store`` (default :func:`default_store`).

    Raises:
        InputError: ``mode`` is neither ``trace`` nor ``script``.
        UnknownModelError: no such zoo model.
        ArtifactError: the conversion failed, so there is nothing to save (its reason in the message).
    """
    import torch

    from . import zoo
    from .errors import InputError

    if mode not in ("trace", "script"):
        raise InputError(f"unknown mode {mode!r}: save 'trace' or 'script'")
    zoo.spec(model)  # an unknown name fails here, before anything is built

    def build(path: Path) -> None:
        from .convert import convert

        loaded = zoo.load(model)
        conv = convert(loaded.module, loaded.inputs("cpu"), mode=mode, device="cpu")
        compiled = conv.compiled.get(mode)
        if compiled is None:
            result = conv.results.get(mode)
            reason = result.error.message if result is not None and result.error else "no module was produced"
            raise ArtifactError(f"torch.jit.{mode} failed for {model}, so there is nothing to save: {reason[:400]}")
        with warnings.catch_warnings():  # the deprecation is shown once, in the page, not per save
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(compiled, str(path))

    key = f"torchscript\0{model}\0{mode}\0{torch.__version__}"
    return (store or default_store()).artifact_for(key, build, name=f"{model}_{mode}.pt")


def pasted_artifact(source: str, *, entry: str, inputs: str = "", mode: str = "trace",
                    store: ArtifactStore | None = None) -> tuple[Path, list[tuple[list[int], str]]]:
    """Pasted code's entry traced or scripted and saved with ``torch.jit.save`` in the sandbox.

    Built once per (source, entry, inputs, mode, torch version) in ``store`` (default
    :func:`default_store`); the file's name is ``<entry>_<mode>.pt`` and nothing of it is loaded in
    this process. Returns the path and the example inputs' ``(shape, dtype)`` for the C++ snippet.

    Raises:
        SnippetError: the code could not be loaded or run, or the conversion failed (torch's reason in it).
        InputError: ``mode`` is not ``trace`` or ``script``.
        SandboxError: the sandbox failed.
    """
    import torch

    from . import sandbox

    def build(path: Path) -> dict[str, Any]:
        saved = sandbox.save_source(source, entry=entry, inputs=inputs, mode=mode)
        path.write_bytes(saved.data)
        return {"inputs": [[list(shape), dtype] for shape, dtype in saved.inputs]}

    digest = hashlib.sha256("\0".join((source, entry, inputs, mode, torch.__version__)).encode(
        "utf-8", "surrogatepass")).hexdigest()
    path, meta = (store or default_store()).artifact_with_meta(f"pasted\0{digest}", build,
                                                               name=f"{entry or 'entry'}_{mode}.pt")
    return path, [(list(shape), str(dtype)) for shape, dtype in meta.get("inputs", [])]
