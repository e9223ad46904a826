"""A Python side effect: the trace records the counter's value once and never updates it."""
import torch
from torch import nn


class CallCounter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * self.calls


def example_inputs():
    return (torch.ones(2, 2),)
