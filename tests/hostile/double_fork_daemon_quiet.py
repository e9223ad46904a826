# expect: ok
# inputs: torch.ones(2)
# The analysis succeeds, but the daemon it left behind must not survive the request.
import os
import sys
import time

import torch

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(1000)", "JX_HOSTILE_MARK"])
    os._exit(0)
time.sleep(0.5)


def f(x):
    return x * 2
