# expect: memory
# inputs: torch.ones(2)
import torch


def f(x):
    big = torch.empty(10**11)  # 400 GB
    return x + big.sum()
