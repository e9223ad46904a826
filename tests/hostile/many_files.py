# expect: disk timeout
# inputs: torch.ones(2)
import torch


def f(x):
    i = 0
    while True:  # each file under the per-file limit, together far over the disk limit
        with open(f"part{i}.bin", "wb") as fh:
            fh.write(b"\1" * (8 * 1024 * 1024))
        i += 1
    return x
