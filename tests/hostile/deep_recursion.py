# expect: recursion
# entry: f
# inputs: torch.ones(2)
import torch


def down(n):
    return down(n + 1) + 1


def f(x):
    return x + down(0)
