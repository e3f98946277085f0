"""Keras-style `gated.utils`: helpers a training script reaches for.

Example:
>>> from gated.utils import ProgressBar
"""

from gated.utils.progress import ProgressBar, format_logs

__all__ = ["ProgressBar", "format_logs"]
