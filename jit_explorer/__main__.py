"""``python -m jit_explorer``: the command line (see :mod:`jit_explorer.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
