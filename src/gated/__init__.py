"""gated: the LSTM family for Python, behind the Keras API, on PyTorch.

    from gated.models import Sequential
    from gated.layers import LSTM, Dense
"""

__version__ = "0.1.0"

from gated import layers, models  # noqa: E402,F401  (Keras-style `gated.layers.LSTM`)
