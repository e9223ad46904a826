# expect: import
# inputs: torch.ones(2)
import socket

import torch

s = socket.create_connection(("127.0.0.1", 80), timeout=2)


def f(x):
    return x
