"""`SpatialDropout1D/2D/3D` (Keras 3): dropout of whole feature maps (channels).

While training, each (sample, channel) pair is kept with probability `1 - rate` and scaled by
`1 / (1 - rate)`, the same decision for every step or pixel of that channel (Tompson et al.,
2014); at inference the layer is the identity.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.layers.conv_utils import normalize_data_format
from gated.layers.convolutional import ChannelsInputMixin
from gated.layers.core import Dropout


class _SpatialDropout(ChannelsInputMixin, Dropout):
    rank = 1
    data_format = "channels_last"

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(rate, seed=seed, **kwargs)
        self.input_ndim = self.rank + 2
        self.data_format = normalize_data_format(data_format, type(self).__name__)

    def forward(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        # The mask varies over batch and channels only: size 1 on the spatial axes.
        ones = (1,) * self.rank
        self.noise_shape = (None, *ones, None) if self.data_format == "channels_last" \
            else (None, None, *ones)
        return super().forward(inputs, training=training)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("noise_shape", None)
        config["data_format"] = self.data_format
        return config


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of `(batch, steps, channels)` while training.

    Args:
        rate: Float in [0, 1), the fraction of channels dropped.
        seed: Optional int for reproducible masks.

    Example:
        >>> y = SpatialDropout1D(0.5)(torch.ones(2, 10, 8), training=True)
    """

    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(rate, data_format="channels_last", seed=seed, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("data_format")
        return config


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images while training.

    Args:
        rate: Float in [0, 1).
        data_format: `'channels_last'` (default, `(batch, h, w, channels)`) or
            `'channels_first'`.
        seed: Optional int for reproducible masks.
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature maps of volumes while training (as `SpatialDropout2D`)."""

    rank = 3
