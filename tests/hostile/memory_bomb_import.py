# expect: memory
# inputs: torch.ones(2)
import torch

hog = bytearray(64 * 1024**3)  # 64 GB at import


def f(x):
    return x
