# expect: timeout result memory
# inputs: torch.ones(2)
# Tracing unrolls the Python loop: millions of nodes.
import torch


def f(x):
    for _ in range(3_000_000):
        x = x + 1
    return x
