# expect: timeout
# inputs: torch.ones(2)
# Spawns ordinary children, then hangs: all of them must be gone after the request.
import subprocess
import sys
import time

import torch

procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", "JX_HOSTILE_MARK"]) for _ in range(3)]
while True:
    time.sleep(0.1)


def f(x):
    return x
