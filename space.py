"""Hugging Face Spaces entry point (the README's front matter says ``app_file: space.py``).

Spaces runs ``python space.py`` with ``GRADIO_SERVER_NAME=0.0.0.0`` and ``GRADIO_SERVER_PORT=7860``
set; :func:`app.launch` honours both. The app lives in the ``app/`` package (a top-level ``app.py``
would shadow it), so this file only imports and launches it.
"""

from __future__ import annotations

try:  # ZeroGPU: `spaces` must be imported before anything initialises CUDA
    import spaces  # type: ignore[import-not-found]  # noqa: F401
except ImportError:
    pass

import app

if __name__ == "__main__":
    app.launch()
