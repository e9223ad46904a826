"""The library's exception hierarchy: one base class, specific subclasses.

Only ``app/`` turns these into ``gr.Error``; the CLI turns them into a one-line
message on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = ["JitExplorerError", "UnknownModelError", "InputError", "SnippetError", "SandboxError"]


class JitExplorerError(Exception):
    """Base class of every error the library raises on purpose."""


class UnknownModelError(JitExplorerError):
    """A model name that the zoo does not know."""


class InputError(JitExplorerError):
    """Bad user input (an option, an inputs expression, a device) that the user can fix."""


class SnippetError(JitExplorerError):
    """Pasted source that cannot be used (syntax error, no entry, too large...)."""

    def __init__(self, message: str, *, line: int | None = None, kind: str = "source") -> None:
        super().__init__(message)
        self.line = line
        self.kind = kind


class SandboxError(JitExplorerError):
    """The worker process running pasted code failed (timeout, crash, limit)."""
