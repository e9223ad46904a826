# expect: output
# inputs: torch.ones(2)
import torch


def f(x):
    while True:
        print("flood " * 1000)
    return x
