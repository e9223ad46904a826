# expect: file-size
# inputs: torch.ones(2)
import torch


def f(x):
    with open("huge.bin", "wb") as fh:
        for _ in range(1024):
            fh.write(b"\0" * (1024 * 1024))  # 1 GB
    return x
