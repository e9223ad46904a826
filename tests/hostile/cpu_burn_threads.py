# expect: cpu timeout
# inputs: torch.ones(2)
import torch


def f(x):
    torch.set_num_threads(4)
    a = torch.randn(512, 512)
    while True:  # several threads burning CPU at once
        a = torch.tanh(a @ a)
    return x
