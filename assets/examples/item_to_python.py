"""A tensor turned into a Python number: the trace stores the number as a constant."""
import torch


def normalize(x: torch.Tensor) -> torch.Tensor:
    peak = x.abs().max().item()
    return x / peak


def example_inputs():
    return (torch.randn(3, 4),)
