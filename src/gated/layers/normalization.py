"""`BatchNormalization` (Keras 3), on torch's `batch_norm`.

Training (`training=True` and `layer.trainable`), with the statistics of the batch over every
axis but `axis` (biased variance):

    outputs = gamma * (x - mean(x)) / sqrt(var(x) + epsilon) + beta
    moving_mean     = moving_mean     * momentum + mean(x) * (1 - momentum)
    moving_variance = moving_variance * momentum + var(x)  * (1 - momentum)

Inference (`training=False`, or `layer.trainable = False`, which Keras defines as inference
mode whatever `training` says):

    outputs = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta

Note the Keras momentum convention (the weight of the old statistic, default 0.99), the opposite
of torch's (`torch momentum = 1 - keras momentum`), and that the moving variance is updated with
the biased batch variance, where torch uses the unbiased one.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated import initializers, regularizers
from gated.layer import Layer, format_shape
from gated.layers.conv_utils import get_constraint, serialize_constraint

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(), in Keras' masked moments


class BatchNormalization(Layer):
    """Normalizes each feature (channel) with batch statistics while training and moving
    statistics at inference.

    Args:
        axis: The feature axis (default -1; `1` for channels-first images).
        momentum: Weight of the old moving statistic in each update (default 0.99).
        epsilon: Added to the variance (default 1e-3).
        center: Learn the offset `beta` (default True).
        scale: Learn the scale `gamma` (default True).
        beta_initializer, gamma_initializer: Default `'zeros'` and `'ones'`.
        moving_mean_initializer, moving_variance_initializer: Default `'zeros'` and `'ones'`.
        beta_regularizer, gamma_regularizer: Penalties added to the loss by `fit`.
        beta_constraint, gamma_constraint: Callables `w -> w` applied after each optimizer step.
        renorm, renorm_clipping, renorm_momentum, synchronized: Keras' batch renormalization
            and cross-replica statistics are not implemented: only the defaults are accepted.

    Call arguments:
        inputs: A tensor of any rank >= 2.
        training: Batch statistics and moving-statistic updates when True (and the layer is
            trainable); moving statistics when False.
        mask: Optional, of the input's rank minus one (e.g. `(batch, time)` from `Masking`):
            in training, the batch statistics are taken over unmasked positions only.

    Weights, in `get_weights()` order: `gamma (C,)` (if `scale`), `beta (C,)` (if `center`),
    `moving_mean (C,)`, `moving_variance (C,)`; the last two are non-trainable.

    Returns:
        A tensor of the input's shape.

    Example:
        >>> bn = BatchNormalization()
        >>> y = bn(torch.randn(32, 10), training=True)  # also updates the moving statistics
    """

    supports_masking = True
    min_ndim = 2
    # Under TimeDistributed in training, Keras calls the layer once per time step (statistics
    # and moving-average updates per step): TimeDistributed reads this flag to do the same.
    per_step_in_training = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, synchronized: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Argument `axis` of BatchNormalization must be an integer, "
                            f"received axis={axis!r}.")
        for name, value, default in (("renorm", renorm, False), ("synchronized", synchronized,
                                                                  False),
                                     ("renorm_clipping", renorm_clipping, None)):
            if value != default:
                raise ValueError(
                    f"Argument `{name}` of BatchNormalization is not supported by gated "
                    f"(only {name}={default!r}), received {name}={value!r}."
                )
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if self.epsilon <= 0:
            raise ValueError(f"Argument `epsilon` of BatchNormalization must be > 0, received "
                             f"epsilon={epsilon!r}.")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = get_constraint(beta_constraint, "beta_constraint",
                                              "BatchNormalization")
        self.gamma_constraint = get_constraint(gamma_constraint, "gamma_constraint",
                                               "BatchNormalization")
        self.renorm_momentum = float(renorm_momentum)
        self._regularized = {"gamma_regularizer": ["gamma"], "beta_regularizer": ["beta"]}
        self._rank: int | None = None

    def _resolve_axis(self, ndim: int) -> int:
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"Argument `axis` of BatchNormalization is out of bounds for an input of rank "
                f"{ndim}: received axis={self.axis}."
            )
        return self.axis % ndim

    def build(self, input_shape: tuple) -> None:
        axis = self._resolve_axis(len(input_shape))
        size = input_shape[axis]
        if size is None:
            raise ValueError(
                f"Layer '{self.name}' (BatchNormalization) needs a known size on axis "
                f"{self.axis}, received input shape {format_shape(input_shape)}."
            )
        shape = (int(size),)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer).constraint = \
                self.gamma_constraint
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer).constraint = \
                self.beta_constraint
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer,
                        trainable=False)
        self._rank = len(input_shape)
        self.input_features = int(size)

    def _check_input(self, shape: tuple) -> None:
        self._check_rank(shape)
        if self._rank is None:
            return
        if len(shape) != self._rank:
            raise ValueError(
                f"Input to layer '{self.name}' (BatchNormalization) has the wrong rank: "
                f"expected ndim={self._rank} (built for input shape "
                f"{format_shape(self._build_input_shape)}), received shape {format_shape(shape)}."
            )
        axis = self.axis % self._rank
        if shape[axis] is not None and shape[axis] != self.input_features:
            raise ValueError(
                f"Input to layer '{self.name}' (BatchNormalization) has the wrong feature size: "
                f"expected axis {self.axis} to have size {self.input_features}, received shape "
                f"{format_shape(shape)}."
            )

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._resolve_axis(len(input_shape))
        return tuple(input_shape)

    def forward(self, inputs: torch.Tensor, training: bool = False,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None and mask.ndim != inputs.ndim - 1:
            raise ValueError(
                f"Argument `mask` of layer '{self.name}' (BatchNormalization) must have one "
                f"axis less than the inputs: received mask shape {tuple(mask.shape)} for inputs "
                f"of shape {tuple(inputs.shape)}."
            )
        axis = self.axis % inputs.ndim
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        x = inputs.movedim(axis, 1) if axis != 1 else inputs
        if not (training and self.trainable):
            y = F.batch_norm(x, self.moving_mean, self.moving_variance, gamma, beta,
                             False, 0.0, self.epsilon)
            return y.movedim(1, axis) if axis != 1 else y
        per_channel = x.numel() // max(x.shape[1], 1)
        if mask is None and per_channel > 1:
            # One pass: torch's training batch_norm normalizes with the biased batch variance
            # (as Keras) and, with momentum 1, leaves the batch mean and the unbiased variance
            # in the two scratch buffers.
            mean = torch.zeros_like(self.moving_mean)
            var = torch.ones_like(self.moving_variance)
            y = F.batch_norm(x, mean, var, gamma, beta, True, 1.0, self.epsilon)
            var = var * ((per_channel - 1) / per_channel)
        else:
            mean, var = self._moments(inputs, mask, axis)
            shape = [1] * x.ndim
            shape[1] = -1
            y = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.epsilon)
            if gamma is not None:
                y = y * gamma.reshape(shape)
            if beta is not None:
                y = y + beta.reshape(shape)
        with torch.no_grad():
            m = self.momentum
            self.moving_mean.mul_(m).add_(mean.detach().to(self.moving_mean.dtype), alpha=1 - m)
            self.moving_variance.mul_(m).add_(var.detach().to(self.moving_variance.dtype),
                                              alpha=1 - m)
        return y.movedim(1, axis) if axis != 1 else y

    def _moments(self, inputs: torch.Tensor, mask: torch.Tensor | None,
                 axis: int) -> tuple[torch.Tensor, torch.Tensor]:
        dims = [d for d in range(inputs.ndim) if d != axis]
        if mask is None:
            var, mean = torch.var_mean(inputs, dim=dims, correction=0)
            return mean, var
        # Keras' masked moments: the mask broadcast over the last axis, weights summed with
        # Keras' epsilon added to the count.
        keep = mask.to(torch.bool).unsqueeze(-1).expand_as(inputs)
        count = keep.to(inputs.dtype).sum(dim=dims, keepdim=True) + _KERAS_EPSILON
        mean = torch.where(keep, inputs, 0.0).sum(dim=dims, keepdim=True) / count
        sq = torch.where(keep, inputs - mean, 0.0).square()
        var = sq.sum(dim=dims, keepdim=True) / count
        return mean.reshape(-1), var.reshape(-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
            scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=initializers.serialize(self.moving_variance_initializer),
            beta_regularizer=regularizers.serialize(self.beta_regularizer),
            gamma_regularizer=regularizers.serialize(self.gamma_regularizer),
            beta_constraint=serialize_constraint(self.beta_constraint),
            gamma_constraint=serialize_constraint(self.gamma_constraint),
            synchronized=False, renorm=False, renorm_clipping=None,
            renorm_momentum=self.renorm_momentum,
        )
        return config
