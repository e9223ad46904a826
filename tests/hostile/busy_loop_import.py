# expect: timeout
# inputs: torch.ones(2)
import torch

n = 0
while True:  # at import time, before any entry is built
    n += 1


def f(x):
    return x
