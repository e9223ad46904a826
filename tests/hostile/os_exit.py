# expect: exit
# inputs: torch.ones(2)
import os

import torch

os._exit(3)


def f(x):
    return x
