"""``python -m app``: serve JIT Explorer on http://127.0.0.1:7860 (``PORT`` / ``GRADIO_SERVER_NAME`` honoured)."""

from . import launch

if __name__ == "__main__":
    launch()
