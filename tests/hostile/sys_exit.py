# expect: exit
# inputs: torch.ones(2)
import sys

import torch


def f(x):
    sys.exit("bye")
