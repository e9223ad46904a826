# expect: run
# inputs: torch.ones(2)
import os
import signal

import torch


def f(x):
    for target in (-1, 0, -os.getpgrp()):
        os.kill(target, signal.SIGKILL)  # every process we may signal / our group
    return x
