"""A round trip through Python lists: the values become constants of the trace."""
import torch


def double_values(x: torch.Tensor) -> torch.Tensor:
    values = x.tolist()
    doubled = [v * 2.0 for v in values]
    return torch.tensor(doubled)


def example_inputs():
    return (torch.tensor([1.0, 2.0, 3.0]),)
