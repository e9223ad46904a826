"""Branch on a tensor's value: the trace freezes the branch taken for the example input."""
import torch


def clamp_sign(x: torch.Tensor) -> torch.Tensor:
    if x.sum() > 0:
        return x * 2
    return x - 1


def example_inputs():
    return (torch.ones(4),)
