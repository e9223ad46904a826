# expect: inputs
# inputs: __import__("os").kill(__import__("os").getppid(), 9) or torch.ones(2)
import torch


def f(x):
    return x
