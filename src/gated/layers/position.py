"""Position information for attention layers, as keras-hub: `PositionEmbedding` (learned),
`SinePositionEncoding` (Vaswani et al. 2017) and `TokenAndPositionEmbedding` (their sum with a
token embedding, the usual first layer of a Transformer language model).

`PositionEmbedding` and `SinePositionEncoding` return the encoding broadcast to the input's
shape (to be added to it, e.g. with `Add`), as keras-hub's layers do. The sine encoding of
position `p` on feature `i` of `d` is

    PE[p, 2k]     = sin(p / max_wavelength ** (2k / d))
    PE[p, 2k + 1] = cos(p / max_wavelength ** (2k / d))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gated import initializers
from gated._checks import check_positive_int
from gated.layer import KerasTensor, Layer
from gated.layers.core import Embedding


def _check_start(start_index: Any, length: int, capacity: int | None, owner: str) -> int:
    if isinstance(start_index, bool) or not isinstance(start_index, (int, np.integer)) \
            or start_index < 0:
        raise ValueError(f"{owner}: `start_index` must be an int >= 0, received "
                         f"{start_index!r}.")
    if capacity is not None and start_index + length > capacity:
        raise ValueError(f"{owner}: positions {start_index}..{start_index + length - 1} exceed "
                         f"sequence_length={capacity}; received a sequence of length {length} "
                         f"from start_index={start_index}.")
    return int(start_index)


class PositionEmbedding(Layer):
    """A learned embedding of each position `0 .. sequence_length - 1` (BERT, GPT-2).

    Args:
        sequence_length: The longest sequence the layer accepts.
        initializer: Of the `embeddings (sequence_length, features)` weight (default
            `"glorot_uniform"`, keras-hub's).

    Call arguments:
        inputs: `(batch, T, features)`, `T <= sequence_length`; only its shape is used.
        start_index: The position of the first step (for decoding one step at a time).

    Returns:
        The rows `start_index .. start_index + T - 1` of the table, broadcast to the input's
        shape.

    Example:
    >>> import torch
    >>> PositionEmbedding(sequence_length=10)(torch.zeros(2, 4, 8)).shape
    torch.Size([2, 4, 8])
    """

    min_ndim = 2

    def __init__(self, sequence_length: int, initializer: Any = "glorot_uniform",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sequence_length = check_positive_int(sequence_length, "sequence_length",
                                                  "PositionEmbedding")
        self.initializer = initializers.get(initializer)

    def build(self, input_shape: tuple) -> None:
        if input_shape[-1] is None:
            raise ValueError(f"PositionEmbedding needs a known last axis, received input "
                             f"shape {input_shape}.")
        self.add_weight("embeddings", (self.sequence_length, int(input_shape[-1])),
                        self.initializer)
        self.input_features = int(input_shape[-1])

    def forward(self, inputs: torch.Tensor, start_index: int = 0) -> torch.Tensor:
        length = inputs.shape[-2]
        start = _check_start(start_index, length, self.sequence_length, "PositionEmbedding")
        table = self.embeddings[start:start + length]
        return table.to(inputs.dtype).expand(inputs.shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(sequence_length=self.sequence_length,
                      initializer=initializers.serialize(self.initializer))
        return config


class SinePositionEncoding(Layer):
    """The fixed sinusoidal position encoding of Vaswani et al. (2017); no weights.

    Args:
        max_wavelength: The longest wavelength of the sines (default 10000).

    Call arguments:
        inputs: `(batch, T, features)`; only its shape and dtype are used.
        start_index: The position of the first step.

    Returns:
        The encoding of positions `start_index .. start_index + T - 1`, broadcast to the
        input's shape.

    Example:
    >>> import torch
    >>> SinePositionEncoding()(torch.zeros(1, 3, 4))[0, 0]
    tensor([0., 1., 0., 1.])
    """

    min_ndim = 2

    def __init__(self, max_wavelength: float = 10000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(max_wavelength, bool) or not isinstance(max_wavelength, (int, float)) \
                or max_wavelength <= 0:
            raise ValueError(f"SinePositionEncoding: `max_wavelength` must be a number > 0, "
                             f"received {max_wavelength!r}.")
        self.max_wavelength = max_wavelength
        self.built = True

    def forward(self, inputs: torch.Tensor, start_index: int = 0) -> torch.Tensor:
        length, dim = inputs.shape[-2], inputs.shape[-1]
        start = _check_start(start_index, length, None, "SinePositionEncoding")
        dtype = inputs.dtype if inputs.dtype.is_floating_point else self.dtype
        positions = torch.arange(start, start + length, dtype=torch.float64)
        pairs = torch.arange(dim) // 2 * 2
        rates = float(self.max_wavelength) ** (-pairs.to(torch.float64) / dim)
        angles = positions[:, None] * rates[None, :]
        odd = (torch.arange(dim) % 2 == 1)[None, :]
        table = torch.where(odd, torch.cos(angles), torch.sin(angles))
        return table.to(dtype=dtype, device=inputs.device).expand(inputs.shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config["max_wavelength"] = self.max_wavelength
        return config


class TokenAndPositionEmbedding(Layer):
    """The sum of a token `Embedding` and a learned `PositionEmbedding` (keras-hub's layer).

    Args:
        vocabulary_size: Number of token ids (largest id + 1).
        sequence_length: The longest sequence the layer accepts.
        embedding_dim: Size of both embeddings.
        embeddings_initializer: Of both tables (default `"uniform"`, keras-hub's).
        mask_zero: Treat id 0 as padding and pass a mask on (as `Embedding`).

    Weights: `token_embedding.embeddings (vocabulary_size, embedding_dim)`, then
    `position_embedding.embeddings (sequence_length, embedding_dim)`.

    Call arguments:
        inputs: Integer ids `(batch, T)`.
        start_index: The position of the first step.

    Returns:
        `(batch, T, embedding_dim)`.

    Example:
    >>> import torch
    >>> layer = TokenAndPositionEmbedding(100, sequence_length=16, embedding_dim=8)
    >>> layer(torch.ones(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 8])
    """

    min_ndim = 2

    def __init__(self, vocabulary_size: int, sequence_length: int, embedding_dim: int,
                 embeddings_initializer: Any = "uniform", mask_zero: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = "TokenAndPositionEmbedding"
        self.vocabulary_size = check_positive_int(vocabulary_size, "vocabulary_size", owner)
        self.sequence_length = check_positive_int(sequence_length, "sequence_length", owner)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim", owner)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.token_embedding = Embedding(self.vocabulary_size, self.embedding_dim,
                                         embeddings_initializer=self.embeddings_initializer,
                                         mask_zero=self.mask_zero, name="token_embedding",
                                         dtype=self.dtype)
        self.position_embedding = PositionEmbedding(
            self.sequence_length, initializer=self.embeddings_initializer,
            name="position_embedding", dtype=self.dtype)

    def _to_tensor(self, x: Any) -> Any:
        if isinstance(x, (torch.Tensor, KerasTensor)):
            return x
        return torch.as_tensor(np.asarray(x))

    def build(self, input_shape: tuple) -> None:
        self.token_embedding.build(tuple(input_shape))
        self.position_embedding.build((*input_shape, self.embedding_dim))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape, self.embedding_dim)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return (inputs != 0) if self.mask_zero else None

    def forward(self, inputs: torch.Tensor, start_index: int = 0) -> torch.Tensor:
        tokens = self.token_embedding(inputs)
        length = tokens.shape[-2]
        start = _check_start(start_index, length, self.sequence_length, self.name)
        positions = self.position_embedding.embeddings[start:start + length]
        return tokens + positions

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size,
                      sequence_length=self.sequence_length, embedding_dim=self.embedding_dim,
                      embeddings_initializer=initializers.serialize(self.embeddings_initializer),
                      mask_zero=self.mask_zero)
        return config


__all__ = ["PositionEmbedding", "SinePositionEncoding", "TokenAndPositionEmbedding"]
