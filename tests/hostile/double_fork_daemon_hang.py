# expect: timeout
# inputs: torch.ones(2)
# A classic daemon: fork, setsid, fork again, exec. It leaves the process group and the session.
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
while True:
    time.sleep(0.1)


def f(x):
    return x
