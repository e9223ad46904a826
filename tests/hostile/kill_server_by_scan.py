# expect: crash import run
# inputs: torch.ones(2)
# Tries to signal every process on the machine, then reports what it managed.
import os
import signal

import torch

hits = []
for name in os.listdir("/proc"):
    if name.isdigit() and int(name) != os.getpid():
        try:
            os.kill(int(name), signal.SIGTERM)
            hits.append(name)
        except OSError:
            pass
raise RuntimeError(f"signalled {len(hits)} processes")


def f(x):
    return x
