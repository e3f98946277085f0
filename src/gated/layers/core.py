"""Core Keras layers: Dense, Dropout, Embedding, Masking, Flatten, RepeatVector, Activation,
LayerNormalization, Reshape, the merge layers, and `Input`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gated import activations, initializers, regularizers
from gated.layer import (
    KerasTensor,
    Layer,
    Node,
    check_positive_int,
    check_rate,
    resolve_dtype,
)


class Dense(Layer):
    """`activation(inputs @ kernel + bias)` on the last axis of an input of any rank.

    Args:
        units: Positive integer, output size.
        activation: Keras activation name or callable (default linear).
        use_bias: Whether to add a bias (default True).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as Keras.

    Weights: `kernel (input_dim, units)`, `bias (units,)`.
    """

    min_ndim = 2
    supports_masking = True
    casts_integer_inputs = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any) -> None:
        from gated.layers.conv_utils import get_constraint

        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units", "Dense")
        self.kernel_constraint = get_constraint(kernel_constraint, "kernel_constraint", "Dense")
        self.bias_constraint = get_constraint(bias_constraint, "bias_constraint", "Dense")
        self.activation_name = activation
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._regularized = {"kernel_regularizer": ["kernel"], "bias_regularizer": ["bias"]}

    def build(self, input_shape: tuple) -> None:
        if input_shape[-1] is None:
            raise ValueError(f"Layer '{self.name}' needs a known last axis, received "
                             f"input shape {input_shape}.")
        self.add_weight("kernel", (int(input_shape[-1]), self.units), self.kernel_initializer,
                        constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer,
                            constraint=self.bias_constraint)
        self.input_features = int(input_shape[-1])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        y = inputs @ self.kernel
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def get_config(self) -> dict:
        from gated.layers.conv_utils import serialize_constraint

        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation_name),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=serialize_constraint(self.kernel_constraint),
            bias_constraint=serialize_constraint(self.bias_constraint),
        )
        return config


class Activation(Layer):
    """Applies an activation function by Keras name."""

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation_name = activation
        self.activation = activations.get(activation)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict:
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation_name)
        return config


class Dropout(Layer):
    """Zeroes a fraction `rate` of the inputs while training and scales the rest by
    `1 / (1 - rate)`; identity at inference.

    Args:
        rate: Float in [0, 1).
        noise_shape: Optional shape of the mask, with 1 where the mask is shared (e.g.
            `(batch, 1, features)` for the same mask at every time step); `None` entries take
            the input's size.
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = check_rate(rate, "rate", "Dropout")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = None
        if seed is not None:
            self._generator = torch.Generator().manual_seed(int(seed))

    def forward(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.rate == 0.0:
            return inputs
        shape = tuple(inputs.shape) if self.noise_shape is None else tuple(
            d if n is None else n for n, d in zip(self.noise_shape, inputs.shape, strict=True)
        )
        probs = torch.full(shape, 1.0 - self.rate, dtype=inputs.dtype)
        keep = torch.bernoulli(probs, generator=self._generator).to(inputs.device)
        return inputs * keep / (1.0 - self.rate)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return config


class Embedding(Layer):
    """Maps integer ids `(batch, ...)` to vectors `(batch, ..., output_dim)`.

    Args:
        input_dim: Vocabulary size (largest id + 1).
        output_dim: Embedding size.
        embeddings_initializer: Default `'uniform'` (U(-0.05, 0.05)) as Keras.
        mask_zero: Treat id 0 as padding and emit a mask for the following layers; then
            `input_dim` must count the padding id too.

    Weights: `embeddings (input_dim, output_dim)`.
    """

    min_ndim = 1

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, mask_zero: bool = False,
                 input_length: int | None = None, **kwargs: Any) -> None:
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = check_positive_int(output_dim, "output_dim", "Embedding")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self._regularized = {"embeddings_regularizer": ["embeddings"]}

    def build(self, input_shape: tuple) -> None:
        self.add_weight("embeddings", (self.vocabulary_size, self.output_dim),
                        self.embeddings_initializer)

    def _to_tensor(self, x: Any) -> Any:
        if isinstance(x, (torch.Tensor, KerasTensor)):
            return x
        return torch.as_tensor(np.asarray(x))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape, self.output_dim)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return (inputs != 0) if self.mask_zero else None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dtype.is_floating_point:
            if not torch.equal(inputs, inputs.round()):
                raise ValueError(f"Layer '{self.name}' expects integer ids, received "
                                 f"non-integer values of dtype {inputs.dtype}.")
            inputs = inputs.long()
        if inputs.numel() and (int(inputs.min()) < 0 or
                               int(inputs.max()) >= self.vocabulary_size):
            raise ValueError(
                f"Layer '{self.name}' received ids in [{int(inputs.min())}, "
                f"{int(inputs.max())}], expected ids in [0, {self.vocabulary_size - 1}] "
                f"(input_dim={self.vocabulary_size})."
            )
        return F.embedding(inputs.long(), self.embeddings)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(input_dim=self.vocabulary_size, output_dim=self.output_dim,
                      embeddings_initializer=initializers.serialize(self.embeddings_initializer),
                      embeddings_regularizer=regularizers.serialize(self.embeddings_regularizer),
                      mask_zero=self.mask_zero)
        return config


class Masking(Layer):
    """Marks time steps whose features all equal `mask_value` as padding (mask False).

    Input `(batch, time, features)`; masked steps are also zeroed, as Keras does.
    """

    min_ndim = 3
    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return torch.any(inputs != self.mask_value, dim=-1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        keep = torch.any(inputs != self.mask_value, dim=-1, keepdim=True)
        return inputs * keep.to(inputs.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config


class Flatten(Layer):
    """Flattens every axis but the batch axis."""

    min_ndim = 2

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], -1)


class Reshape(Layer):
    """Reshapes every sample to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape: tuple, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if -1 in self.target_shape and all(d is not None for d in input_shape[1:]):
            known = math.prod(d for d in self.target_shape if d != -1)
            total = math.prod(input_shape[1:])
            return (input_shape[0],
                    *(total // known if d == -1 else d for d in self.target_shape))
        return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class RepeatVector(Layer):
    """Repeats a `(batch, features)` input `n` times: `(batch, n, features)`."""

    input_ndim = 2

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = check_positive_int(n, "n", "RepeatVector")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def get_config(self) -> dict:
        config = super().get_config()
        config["n"] = self.n
        return config


class LayerNormalization(Layer):
    """Normalises the last axis: `gamma * (x - mean) / sqrt(var + epsilon) + beta`.

    Args:
        axis: Only -1 (the last axis) is supported.
        epsilon: Default 1e-3 (Keras).
        center, scale: Whether to learn `beta` / `gamma`.

    Weights: `gamma (features,)`, `beta (features,)`.
    """

    min_ndim = 2
    supports_masking = True

    def __init__(self, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis not in (-1,):
            raise ValueError(f"LayerNormalization supports axis=-1 only, received axis={axis}.")
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape: tuple) -> None:
        dim = int(input_shape[-1])
        if self.scale:
            self.add_weight("gamma", (dim,), "ones")
        if self.center:
            self.add_weight("beta", (dim,), "zeros")
        self.input_features = dim

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(inputs, inputs.shape[-1:], getattr(self, "gamma", None),
                            getattr(self, "beta", None), self.epsilon)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(axis=self.axis, epsilon=self.epsilon, center=self.center,
                      scale=self.scale)
        return config


class _Merge(Layer):
    """Base of the layers that merge a list of same-shape tensors (no weights)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.built = True

    def _to_tensor(self, x: Any) -> Any:
        return x

    def _check_input(self, shape: tuple) -> None:
        pass

    def _maybe_build(self, input_shape: tuple) -> None:
        self.built = True

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects a list of at least 2 "
                f"inputs, received {type(inputs).__name__}."
            )
        if any(isinstance(t, KerasTensor) for t in inputs):
            shape = self.compute_output_shape([t.shape for t in inputs])
            node = Node(self, list(inputs), kwargs)
            out = KerasTensor(shape, inputs[0].dtype, node, name=self.name)
            node.outputs = [out]
            self._inbound_nodes.append(node)
            return out
        return torch.nn.Module.__call__(self, list(inputs))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[0])


class Add(_Merge):
    def forward(self, inputs: list) -> torch.Tensor:
        return torch.stack(inputs).sum(0)


class Multiply(_Merge):
    def forward(self, inputs: list) -> torch.Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = out * t
        return out


class Average(_Merge):
    def forward(self, inputs: list) -> torch.Tensor:
        return torch.stack(inputs).mean(0)


class Concatenate(_Merge):
    """Concatenates a list of tensors along `axis` (default -1)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = list(input_shape[0])
        dims = [s[self.axis] for s in input_shape]
        shape[self.axis] = None if any(d is None for d in dims) else sum(dims)
        return tuple(shape)

    def forward(self, inputs: list) -> torch.Tensor:
        return torch.cat(inputs, dim=self.axis)

    def get_config(self) -> dict:
        config = super().get_config()
        config["axis"] = self.axis
        return config


class InputLayer(Layer):
    """The graph node behind `Input`: holds the shape of one sample."""

    def __init__(self, shape: tuple | None = None, batch_size: int | None = None,
                 dtype: Any = None, name: str | None = None, sparse: bool | None = None,
                 batch_shape: tuple | None = None, **kwargs: Any) -> None:
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs `shape` (one sample, no batch axis), e.g. "
                                 "Input(shape=(100, 1)); received shape=None.")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size, *tuple(shape))
        super().__init__(name=name, dtype=dtype, batch_input_shape=batch_shape, **kwargs)
        self.built = True
        self._build_input_shape = tuple(batch_shape)
        node = Node(self, [])
        node.outputs = [KerasTensor(self._build_input_shape, self.dtype, node,
                                    name=self.name)]
        self._inbound_nodes.append(node)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs

    def get_config(self) -> dict:
        return {"name": self.name, "batch_shape": list(self._build_input_shape),
                "dtype": str(self.dtype).replace("torch.", "")}


def Input(shape: tuple | None = None, batch_size: int | None = None, dtype: Any = None,  # noqa: N802
          name: str | None = None, batch_shape: tuple | None = None) -> KerasTensor:
    """A symbolic input of `shape` (one sample, no batch axis) for `Sequential` or `Model`.

    Example:
        >>> inputs = Input(shape=(100, 1))
        >>> model = Model(inputs, Dense(1)(LSTM(50)(inputs)))
    """
    resolve_dtype(dtype)
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                      batch_shape=batch_shape).output
