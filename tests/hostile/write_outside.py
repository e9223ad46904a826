# expect: import
# inputs: torch.ones(2)
# Tries to plant files outside its temp dir (the project, /tmp, shared memory).
import os

import torch

errors = []
for path in ("/tmp/jx_hostile_planted", "/dev/shm/jx_hostile_planted", os.path.join(os.path.dirname(torch.__file__), "jx_planted.py")):
    try:
        with open(path, "w") as f:
            f.write("planted")
        errors.append(f"WROTE {path}")
    except OSError as e:
        errors.append(f"{path}: {e.strerror}")
raise PermissionError("; ".join(errors))


def f(x):
    return x
