"""Programs that make TorchScript print each construct of its IR (tests/test_highlight.py lexes it).

Imported from a temp copy named ``lexer_corpus.py``; ``from __future__ import annotations`` is left out on
purpose: TorchScript reads these annotations as objects.
"""

import functools
import warnings
from enum import Enum
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor, nn


class Point(NamedTuple):
    x: Tensor
    y: Tensor


def named_tuple(x: Tensor) -> Point:
    p = Point(x, x * 2)
    return Point(p.y, p[0])


class Color(Enum):
    RED = 1
    GREEN = 2


def enums(x: Tensor, c: Color) -> Tensor:
    if c == Color.RED:
        return x * c.value
    return x + len(c.name)


def dicts(d: Dict[str, Tensor], k: str) -> Dict[str, List[Tensor]]:
    out: Dict[str, List[Tensor]] = {}
    for key, v in d.items():
        out[key + k] = [v, v.t()]
    if "a" in d:
        del out["a" + k]
    return out


def optionals(x: Tensor, mask: Optional[Tensor] = None, scale: Optional[float] = None) -> Tensor:
    if mask is not None:
        x = x.masked_fill(mask, 0.0)
    if scale is None:
        scale = 1.5
    return x * scale


def unions(x: Union[Tensor, int], y: Any) -> Tensor:
    if isinstance(x, int):
        return torch.full([2], float(x))
    return x


def _branch(x: Tensor) -> Tensor:
    return torch.relu(x) + 1


def fork_wait(x: Tensor) -> Tensor:
    fut = torch.jit.fork(_branch, x)
    y = torch.neg(x)
    return torch.jit.wait(fut) + y


@torch.jit.interface
class Scorer(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        pass


class Double(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * 2


class UsesInterface(nn.Module):
    impl: Scorer

    def __init__(self) -> None:
        super().__init__()
        self.impl = Double()

    def forward(self, x: Tensor) -> Tensor:
        return self.impl.forward(x)


@torch.jit.ignore
def python_only(x: Tensor) -> Tensor:
    return x + 1


def _scaled(factor: float, x: Tensor) -> Tensor:
    return x * factor


triple = torch.jit.ignore(functools.partial(_scaled, 3.0))


class Ignored(nn.Module):

    @torch.jit.unused
    def debug(self, x: Tensor) -> Tensor:
        return x - 1

    def forward(self, x: Tensor) -> Tensor:
        y = python_only(x)
        if self.training:
            y = self.debug(y)
        return triple(y)


def raises(x: Tensor, n: int) -> Tensor:
    if n < 0:
        raise ValueError("n must be >= 0, got a \"negative\" value")
    assert x.dim() == 2, "a 2-d input"
    torch._assert(n < 100, "n too big")
    return x.repeat(n, 1)


class Scope:
    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.entered = 0

    def __enter__(self) -> float:
        self.entered += 1
        return self.factor

    def __exit__(self, type: Any, value: Any, tb: Any) -> None:
        self.entered -= 1


def withs(x: Tensor) -> Tensor:
    with Scope(2.0) as f:
        x = x * f
    with torch.no_grad():
        x = x + 1
    return x


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)
        self.register_buffer("offset", torch.arange(2.0))
        self.names: List[str] = ["a", "b"]
        self.scale = 0.5

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.bn(self.conv(x)))
        h = h.mean([2, 3])
        return self.fc(h) * self.scale + self.offset


def misc(x: Tensor, xs: List[Tensor], t: Tuple[int, str]) -> Tuple[Tensor, int, str, complex]:
    print("len", len(xs), t[1])
    n, s = t
    dev = x.device
    dt = x.dtype
    y = torch.zeros(3, dtype=dt, device=dev).to(torch.float64)
    for i, v in enumerate(xs):
        if i > 2:
            break
        if i == 1:
            continue
        y = y + v.sum()
    z = 1.0 + 2.0j
    k = 0
    while k < n:
        k += 1
    return y, k, s + "!\n\t", z


def fused(x: Tensor, y: Tensor) -> Tensor:
    return torch.tanh(x * y + 1.0).sigmoid() * 2.0


def fused_dynamic(x: Tensor, y: Tensor) -> Tensor:
    return (x + y).relu() * (x - y).exp()


class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, k: float, tag: str) -> Tensor:
        return x * k

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return g, None, None


def autograd_function(x: Tensor) -> Tensor:
    return Scale.apply(x, 2.5, "it's")


def warns(x: Tensor, flag: bool) -> Tensor:
    if flag:
        warnings.warn("careful: \"flag\" set")
    if isinstance(x, Tensor):
        x = x + 1
    return x


class QuantBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 2)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu(self.conv(self.quant(x)))
        h = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1)
        return self.dequant(self.fc(h))


def fused_static(x: Tensor, y: Tensor) -> Tensor:
    return torch.tanh(x * y + 1.0).sigmoid() * 2.0
