"""Python's random module: the trace freezes one random number into the graph."""
import random

import torch


def jitter(x: torch.Tensor) -> torch.Tensor:
    scale = 1.0 + random.random()
    return x * scale


def example_inputs():
    return (torch.ones(4),)
