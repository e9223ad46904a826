"""Whether pasted code may run here, and the server-side protections it relies on.

The paste policy lives in one object, :data:`POLICY` (:class:`PastePolicy`): the app marks a public
share link on it (:func:`mark_public_share`) and :func:`paste_refusal` asks it. ``JX_ALLOW_PASTE``
and ``JX_SANDBOX_ALLOW_WEAK`` are read at every call, so an operator's change applies at once.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

__all__ = [
    "PastePolicy",
    "POLICY",
    "mark_public_share",
    "paste_refusal",
    "missing_protections",
    "protections",
    "harden_server",
    "REQUIRED_LANDLOCK_ABI",
    "WEAK_OVERRIDE_ENV",
]

log = logging.getLogger("jit_explorer.sandbox")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

#: Landlock ABI needed when the server is not root (no private uid): 3 is the first to handle ``truncate``;
#: what later ABIs add (TCP, signals, ioctls) the seccomp filter denies on its own.
REQUIRED_LANDLOCK_ABI = 3
#: an operator who accepts a weaker sandbox sets this to 1 (pasting then runs with what is there)
WEAK_OVERRIDE_ENV = "JX_SANDBOX_ALLOW_WEAK"


def missing_protections() -> list[str]:
    """The protections pasted code needs that this machine lacks, each as one sentence (empty: none).

    Needed everywhere: seccomp. Needed when the server is not root (pasted code then runs as the
    server's own user): Landlock ABI :data:`REQUIRED_LANDLOCK_ABI` or later.
    """
    from . import confinement

    missing = []
    ok, detail = confinement.seccomp_available()
    if not ok:
        missing.append(f"seccomp ({detail})")
    if os.geteuid() != 0:
        abi = confinement.landlock_abi()
        if abi < REQUIRED_LANDLOCK_ABI:
            have = f"ABI {abi}" if abi else "not available"
            missing.append(f"Landlock ABI {REQUIRED_LANDLOCK_ABI}+ (this kernel: {have}; the server is not root, so "
                           "pasted code would run as its user and could read and change its files)")
    return missing


def _weak_allowed() -> bool:
    return os.environ.get(WEAK_OVERRIDE_ENV, "").strip().lower() in _TRUE


@dataclass
class PastePolicy:
    """The paste policy of this server: the one piece of mutable state behind :func:`paste_refusal`.

    Attributes:
        public_share: the app is served through a public share link (pasting is then off by default).
    """

    public_share: bool = False

    def refusal(self, *, public_share: bool = False) -> str | None:
        """Why pasting code is not allowed here, or ``None`` when it is (see :func:`paste_refusal`)."""
        value = os.environ.get("JX_ALLOW_PASTE", "").strip().lower()
        if value in _FALSE:
            return ("Pasting code is turned off on this server (JX_ALLOW_PASTE=0). Run JIT Explorer locally "
                    "(`make demo`) to analyse your own code.")
        missing = missing_protections()
        if missing and not _weak_allowed():
            return ("Pasting code is off: this server lacks sandbox protection (" + "; ".join(missing) + "). "
                    f"Run JIT Explorer locally (`make demo`), or, as the operator, set {WEAK_OVERRIDE_ENV}=1 to "
                    "accept a weaker sandbox.")
        if value in _TRUE:
            return None
        if public_share or self.public_share:
            return ("Pasting code is off because this app is served through a public share link. Whoever started "
                    "it can allow it with JX_ALLOW_PASTE=1; or run JIT Explorer locally (`make demo`).")
        return None


#: the process-wide paste policy
POLICY = PastePolicy()


def mark_public_share(public: bool = True) -> None:
    """Record that the app was launched with a public share link (pasting is then off by default)."""
    POLICY.public_share = public


def paste_refusal(*, public_share: bool = False) -> str | None:
    """Why pasting code is not allowed here, or ``None`` when it is.

    ``JX_ALLOW_PASTE=1`` allows it, ``JX_ALLOW_PASTE=0`` forbids it; unset, it is allowed except when the
    app runs behind a public share link (``public_share`` or :func:`mark_public_share`). Whatever
    ``JX_ALLOW_PASTE`` says, it is refused when a needed protection is missing
    (:func:`missing_protections`) unless the operator sets ``JX_SANDBOX_ALLOW_WEAK=1``.
    """
    return POLICY.refusal(public_share=public_share)


def _dumpable() -> bool | None:
    try:
        from . import confinement

        return confinement._libc.prctl(3, 0, 0, 0, 0) == 1  # PR_GET_DUMPABLE
    except (OSError, AttributeError):
        return None


def protections() -> dict[str, tuple[bool, str]]:
    """What protects the server from pasted code on this machine: name -> (active, detail)."""
    from . import confinement

    out: dict[str, tuple[bool, str]] = {}
    ok, detail = confinement.seccomp_available()
    out["seccomp"] = (ok, detail if ok else f"unavailable: {detail}; pasted code could signal or ptrace "
                                             "processes of the same user and open network sockets")
    abi = confinement.landlock_abi()
    out["landlock"] = (abi > 0, f"ABI {abi}: read-only system, writes only in the temp dir, no TCP"
                       + (", no signals out" if abi >= 6 else "") if abi > 0 else
                       "unavailable: pasted code can read and write every file the server's user can")
    root = os.geteuid() == 0
    out["private_user"] = (root, "the server runs as root: user code runs as a private unprivileged uid" if root
                           else "the server is not root: user code runs as the server's user (seccomp and "
                                "Landlock separate them)")
    out["subreaper"] = (sys.platform.startswith("linux"), "spawned processes cannot escape the supervisor")
    dumpable = _dumpable()
    out["non_dumpable"] = (dumpable is False, "the server is non-dumpable: its /proc/<pid>/environ and memory are "
                           "closed to same-user processes" if dumpable is False else
                           "the server is dumpable: call harden_server()")
    return out


def harden_server() -> dict[str, tuple[bool, str]]:
    """Make this (server) process non-dumpable and log every protection that is unavailable.

    Idempotent; called by ``app.launch`` and when the first pool starts.
    """
    from . import confinement

    if not confinement.set_non_dumpable():
        log.warning("prctl(PR_SET_DUMPABLE, 0) failed: same-user processes may read this server's environment")
    status = protections()
    for name, (active, detail) in status.items():
        if not active:
            log.warning("sandbox protection %s: %s", name, detail)
    missing = missing_protections()
    if missing:
        if _weak_allowed():
            log.warning("sandbox: missing %s; pasted code runs anyway (%s=1)", "; ".join(missing), WEAK_OVERRIDE_ENV)
        else:
            log.error("sandbox: missing %s; pasted code is refused (set %s=1 to accept a weaker sandbox)",
                      "; ".join(missing), WEAK_OVERRIDE_ENV)
    return status
