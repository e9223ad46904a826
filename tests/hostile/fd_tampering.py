# expect: crash import
# inputs: torch.ones(2)
# Writes a fake "success" into every file descriptor it has, then exits.
import os

import torch

fake = b'{"ok": true, "analyses": [{"file": "x", "entry": "f", "ok": true, "torch_version": "0"}]}'
for fd in range(3, 64):
    try:
        os.write(fd, b"garbage" + fake)
    except OSError:
        pass
os._exit(0)


def f(x):
    return x
