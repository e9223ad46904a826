# expect: memory killed timeout
# inputs: torch.ones(2)
import torch

def f(x):
    chunks = []
    while True:  # grows until the address-space limit stops it
        chunks.append(bytearray(16 * 1024 * 1024))
    return x
