"""gated: the LSTM family for Python, behind the Keras API, on PyTorch."""

__version__ = "0.1.0"
