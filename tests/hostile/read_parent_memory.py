# expect: import
# inputs: torch.ones(2)
# Tries ptrace, process_vm_readv and /proc/<pid>/mem on its parents.
import ctypes
import os

import torch

libc = ctypes.CDLL(None, use_errno=True)
out = []
for pid in (os.getppid(), 1):
    out.append(f"ptrace={libc.ptrace(16, pid, 0, 0)}")  # PTRACE_ATTACH
    try:
        with open(f"/proc/{pid}/mem", "rb") as f:
            out.append(f"mem={f.read(16)!r}")
    except OSError as e:
        out.append(f"mem: {e}")
raise RuntimeError("; ".join(out))


def f(x):
    return x
