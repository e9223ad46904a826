"""JIT Explorer: make PyTorch script mode (TorchScript) visible and honest."""

__version__ = "0.1.0"
