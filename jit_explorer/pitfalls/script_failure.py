"""Why ``torch.jit.script`` failed, in plain words, and on which line of the user's source.

Example::

    >>> explain_script_failure("Python builtin <built-in function callable> is currently not supported")[0]
    'this line calls a Python builtin or library function that TorchScript does not know'
"""

from __future__ import annotations

import ast
import re

from .index import SourceIndex
from .scope import reachable

__all__ = ["explain_script_failure", "locate_script_failure"]

#: the interpreter met an undefined tensor ("strides() called on an undefined Tensor", "undefined input tensor")
_UNDEFINED = re.compile(r"undefined (?:input )?[Tt]ensor")

_UNSUPPORTED_MODULES = ("numpy", "scipy", "pandas", "random", "time", "os", "sys", "PIL", "cv2", "sklearn",
                        "datetime", "json", "pickle", "copy", "itertools", "functools", "collections", "uuid",
                        "secrets")

#: (pattern in TorchScript's message, plain explanation, fix)
_SCRIPT_EXPLANATIONS: tuple[tuple[str, str, str], ...] = (
    (r"numpy|weak reference to 'numpy", "this line calls numpy; TorchScript compiles only torch operations and a small "
     "subset of Python, so it cannot call into numpy",
     "use the torch equivalent (e.g. `torch.exp` for `np.exp`, `t.clamp` for `np.clip`), or move the numpy code into "
     "a function decorated with @torch.jit.ignore (it then runs in Python and the model cannot be saved without "
     "Python); "
     "or use torch.jit.trace for this part"),
    (r"undefined (?:input )?[Tt]ensor",
     "a parameter that defaults to None has no type annotation, so TorchScript types it as "
     "Tensor: `x is not None` is then always true and the scripted code runs on an undefined tensor",
     "annotate the parameter: `mask: Optional[torch.Tensor] = None`"),
    (r"Lambda", "TorchScript cannot compile lambdas",
     "replace the lambda with a named function (a `def` at module level or a "
     "method), or with the operation itself"),
    (r"variable number of arguments|keyword-only arguments",
     "TorchScript cannot compile functions with *args / **kwargs "
     "(or keyword-only arguments with defaults)", "list the arguments explicitly, or take one `List[Tensor]` / "
     "`Dict[str, Tensor]` argument"),
    (r"try blocks", "TorchScript does not support try/except",
     "remove the try/except and check the condition explicitly, "
     "or move this code into a @torch.jit.ignore helper"),
    (r"with statements|With", "TorchScript supports `with` only for a few torch context managers",
     "remove the `with` block or move it into a @torch.jit.ignore helper"),
    (r"function definitions aren't supported", "TorchScript cannot compile a function defined inside another function "
     "(a closure)",
     "move the inner function to module level (or make it a method) and pass what it needs as arguments"),
    (r"type hint for result of tolist|Expected type hint", "TorchScript needs the static type of this value",
     "annotate it, e.g. `values: List[float] = x.tolist()` (better: keep the values as a tensor)"),
    (r"global variables aren't supported", "TorchScript does not support the `global` statement (functions cannot "
     "change module-level variables)", "return the new value instead, or keep it in a registered buffer of a module"),
    (r"cannot be used as a tuple", "TorchScript cannot unpack a tensor like a tuple (`a, b = x`)",
     "index explicitly (`a, b = x[0], x[1]`) or use `x.unbind(0)`"),
    (r"unsupported index type", "TorchScript indexes tensors only with ints, slices, tensors or None; this index is a "
     "Python number of another type",
     "convert it with `int(...)`, or keep it as a tensor and use `x.index_select`/`x[idx]`"),
    (r"'(\w+)(?: \(inferred\))?' object has no attribute or method '(\w+)'",
     "TorchScript's {0} type has no method or attribute `{1}`",
     "use the equivalent TorchScript op (e.g. `.to(torch.bool)` for `.bool()`, torch functions instead of numpy), or "
     "move the call into a @torch.jit.ignore helper"),
    (r"cannot be used as a value|closed over global|attribute lookup is not defined on python value",
     "this line reads a global (or attribute) holding a Python object "
     "that TorchScript cannot use as a value (a dict, list, module or object)",
     "pass it in as an argument, store it on the module as an attribute (mark constants with `Final` or "
     "`__constants__`), "
     "or make it a local constant"),
    (r"previously had type|previously defined with type|is being assigned to a value of type|was defined with type",
     "a variable changes its type here; TorchScript gives every variable one static type",
     "use a new variable name for the value of the other type (or annotate it with a common type such as "
     "Optional[Tensor])"),
    (r"Expected a value of type .* for argument|inferred|was not annotated",
     "an argument has no type annotation, so TorchScript assumed `Tensor`, but a different type is passed here",
     "annotate the parameter with its type (e.g. `k: int`, `scale: float`, `mask: Optional[Tensor]`)"),
    (r"Can't get source for", "this line calls a function or class TorchScript cannot read the source of (a C "
     "builtin or a library function outside torch)", "use a torch operation instead, or move the call into a function "
     "decorated with @torch.jit.ignore"),
    (r"Python builtin .* is currently not supported|is not supported in Torchscript|Unknown builtin op|Python type",
     "this line calls a Python builtin or library function that TorchScript does not know",
     "use a torch operation instead, or move the call into a function decorated with @torch.jit.ignore"),
    (r"has no attribute|nonexistent attribute|Module '.*' has no attribute",
     "this line uses an attribute that TorchScript "
     "could not compile or infer (a lambda, a Python object, or an attribute set only at run time)",
     "initialise the attribute in __init__ with a scriptable value (tensor, number, str, list/dict of those, "
     "submodule), "
     "turn lambdas into methods, or mark the method that needs it @torch.jit.unused"),
    (r"[Cc]omprehension", "TorchScript supports only simple list/dict comprehensions",
     "rewrite it as a plain for loop that appends to a typed list"),
    (r"generator|yield", "TorchScript cannot compile generators", "build a list instead of yielding"),
    (r"Tried to set nonexistent attribute|Expected integer literal", "TorchScript cannot create or index this value "
     "dynamically", "declare the attribute in __init__, or index with a constant / use a ModuleList loop"),
)


def explain_script_failure(message: str) -> tuple[str, str]:
    """``(plain explanation, fix)`` for TorchScript's ``message``."""
    for pattern, what, fix in _SCRIPT_EXPLANATIONS:
        m = re.search(pattern, message)
        if m:
            return what.format(*m.groups()), fix
    return ("TorchScript cannot compile this line (the code uses Python that is outside the TorchScript subset)",
            "rewrite it with torch operations and type annotations, decorate the Python-only helper with "
            "@torch.jit.ignore (or @torch.jit.unused), or use torch.jit.trace for this part")


def locate_script_failure(message: str, source: str, *, entry: str, entry_line: int | None = None,
                          classes: set[str] | None = None) -> int | None:
    """The user's line that makes ``torch.jit.script`` fail, found in the source when TorchScript names none.

    Looks, in the entry and the functions it calls (source order), for the construct the message is
    about (a call into numpy or another Python library, a lambda, ``try``, ``*args``...); if the message
    names nothing recognisable, for the first construct TorchScript cannot compile.
    """
    idx = SourceIndex(source)
    if idx.tree is None:
        return None
    funcs = sorted(reachable(idx, entry, entry_line, classes or set()), key=lambda f: f.node.lineno)
    if not funcs:
        return None
    mentioned = [m for m in _UNSUPPORTED_MODULES if re.search(rf"\b{re.escape(m)}\b", message)]
    m = re.search(r"(?:site|dist)-packages/([A-Za-z_][\w]*)", message)
    if m:
        mentioned.insert(0, m.group(1))
    candidates: list[tuple[int, int, str]] = []  # (priority, line, what)
    for f in funcs:
        args = f.node.args
        if _UNDEFINED.search(message):
            positional = args.posonlyargs + args.args
            tail = positional[len(positional) - len(args.defaults):]  # the parameters that have defaults
            for a, d in zip(tail, args.defaults, strict=True):
                if a.annotation is None and isinstance(d, ast.Constant) and d.value is None:
                    candidates.append((0, f.node.lineno, "untyped-none"))
        if args.vararg or args.kwarg:
            candidates.append((1 if re.search("variable number", message) else 5, f.node.lineno, "varargs"))
        for node in ast.walk(f.node):
            if (node is not f.node and idx.function_at(node) is not f
                    and not isinstance(node, (ast.FunctionDef, ast.Lambda))):
                continue
            line = getattr(node, "lineno", None)
            if line is None:
                continue
            if isinstance(node, ast.Call):
                name = idx.resolve(node.func)
                root = name.split(".")[0]
                if root in mentioned:
                    candidates.append((0, line, root))
                elif root in _UNSUPPORTED_MODULES and root not in ("torch", "math"):
                    candidates.append((3, line, root))
            elif isinstance(node, ast.Lambda):
                candidates.append((1 if "ambda" in message else 4, line, "lambda"))
            elif isinstance(node, ast.Try):
                candidates.append((1 if "try" in message else 4, line, "try"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not f.node:
                candidates.append((1 if "function definitions" in message else 4, line, "def"))
            elif isinstance(node, (ast.Yield, ast.YieldFrom)):
                candidates.append((4, line, "yield"))
            elif isinstance(node, ast.Global):
                candidates.append((4, line, "global"))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1]))
    return candidates[0][1]
