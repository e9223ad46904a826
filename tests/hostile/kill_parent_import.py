# expect: import
# inputs: torch.ones(2)
import os
import signal

import torch

os.kill(os.getppid(), signal.SIGKILL)  # the supervisor
os.kill(1, signal.SIGKILL)


def f(x):
    return x
