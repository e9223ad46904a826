"""A clean module: trace and script agree, no pitfalls."""
import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, use_bias: bool = True) -> None:
        super().__init__()
        self.use_bias = use_bias
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x.view(x.size(0), -1)))
        out = self.fc2(h)
        if self.use_bias:
            out = out + 1.0
        return torch.where(out > 0, out, out * 0.1)


def example_inputs():
    return (torch.randn(2, 16),)
