# expect: processes memory
# inputs: torch.ones(2)
import threading
import time

import torch


def f(x):
    threads = []
    for _ in range(5000):
        t = threading.Thread(target=time.sleep, args=(1000,), daemon=True)
        t.start()
        threads.append(t)
    return x
