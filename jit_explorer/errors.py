"""The library's exception hierarchy: one base class, specific subclasses.

Only ``app/`` turns these into ``gr.Error``; the CLI turns them into a one-line
message on stderr and exit code 2.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorKind", "ERROR_KINDS", "USER_CODE_KINDS", "JitExplorerError", "UnknownModelError", "InputError",
           "SnippetError", "SandboxError"]


class ErrorKind(StrEnum):
    """Why an analysis failed: the ``error.kind`` of the JSON (DESIGN.md), declared once.

    A member *is* its string (``ErrorKind.SYNTAX == "syntax"``), so the JSON and code that compares
    with the plain strings are unchanged.
    """

    # the source, read at the door (jit_explorer.snippet, sandbox.precheck)
    SOURCE = "source"            # empty, binary or too large
    SYNTAX = "syntax"
    NO_ENTRY = "no-entry"        # no function/nn.Module to analyse, or the one asked for is missing
    CONSTRUCTOR = "constructor"  # an nn.Module entry that needs constructor arguments
    INPUTS = "inputs"            # the inputs expression / example_inputs()
    MODE = "mode"                # an unknown capture mode
    # the code, run in the worker (jit_explorer.analysis)
    IMPORT = "import"            # running the module's top level failed
    BUILD = "build"              # building the entry failed
    RUN = "run"                  # the entry fails in eager mode on the inputs
    EXIT = "exit"                # sys.exit(), KeyboardInterrupt, os._exit()
    CRASH = "crash"              # any other exception, a fatal signal, a corrupt answer
    # the sandbox's limits (jit_explorer.sandbox.worker)
    TIMEOUT = "timeout"
    CPU = "cpu"
    MEMORY = "memory"
    KILLED = "killed"            # SIGKILL, most likely the memory limit
    RECURSION = "recursion"
    DISK = "disk"
    FILE_SIZE = "file-size"
    OPEN_FILES = "open-files"
    PROCESSES = "processes"
    OUTPUT = "output"            # printed too much
    RESULT = "result"            # the answer is too large
    # the server (jit_explorer.sandbox, app/)
    INTERNAL = "internal"        # a request the worker does not know
    SANDBOX = "sandbox"          # the sandbox itself failed
    DISABLED = "disabled"        # pasting code is off on this server


#: every error kind, in declaration order
ERROR_KINDS: tuple[str, ...] = tuple(k.value for k in ErrorKind)

#: kinds that mean "the user's code or inputs are wrong" (the CLI's exit status 2, the benchmark's SnippetError)
USER_CODE_KINDS: frozenset[str] = frozenset({
    ErrorKind.SYNTAX, ErrorKind.NO_ENTRY, ErrorKind.INPUTS, ErrorKind.CONSTRUCTOR, ErrorKind.SOURCE,
    ErrorKind.IMPORT, ErrorKind.BUILD, ErrorKind.RUN,
})


class JitExplorerError(Exception):
    """Base class of every error the library raises on purpose."""


class UnknownModelError(JitExplorerError):
    """A model name that the zoo does not know."""


class InputError(JitExplorerError):
    """Bad user input (an option, an inputs expression, a device) that the user can fix."""


class SnippetError(JitExplorerError):
    """Pasted source that cannot be used (syntax error, no entry, too large...)."""

    def __init__(self, message: str, *, line: int | None = None, kind: str = ErrorKind.SOURCE) -> None:
        super().__init__(message)
        self.line = line
        self.kind = kind

    def headline(self) -> str:
        """The message's first line without a trailing colon (torch's compiler errors go on with the code)."""
        return (str(self).splitlines() or [""])[0].rstrip(" :")


class SandboxError(JitExplorerError):
    """The worker process running pasted code failed (timeout, crash, limit)."""
