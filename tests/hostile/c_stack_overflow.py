# expect: crash recursion memory timeout
# entry: f
# inputs: torch.ones(2)
import sys

import torch

sys.setrecursionlimit(10**8)


def down(n):
    return down(n + 1) + 1


def f(x):
    return x + down(0)
