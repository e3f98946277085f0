"""Wrappers: `Bidirectional` (any recurrent layer, both directions) and `TimeDistributed`."""

from __future__ import annotations

import copy
from typing import Any

import torch

from gated.layer import Layer

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards, and merges their outputs.

    Args:
        layer: An `RNN` instance (`LSTM`, `GRU`, `SimpleRNN`, `RNN(cell)`), the forward layer.
        merge_mode: `'concat'` (default), `'sum'`, `'mul'`, `'ave'` or `None` (a list
            `[forward, backward]`).
        backward_layer: Optional explicit backward layer (must have `go_backwards=True`).

    With `return_state=True` the call returns `[merged, *forward_states, *backward_states]`.
    """

    input_ndim = 3
    supports_masking = True
    casts_integer_inputs = True

    def __init__(self, layer: Layer, merge_mode: str | None = "concat",
                 backward_layer: Layer | None = None, **kwargs: Any) -> None:
        from gated.layers.recurrent import RNN, _UserCell
        from gated.serialization import deserialize, serialize

        if not isinstance(layer, RNN):
            raise TypeError(
                "Argument `layer` of Bidirectional must be a recurrent layer (LSTM, GRU, "
                f"SimpleRNN, RNN), received {type(layer).__name__}."
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Invalid merge_mode={merge_mode!r}: expected one of {list(_MERGE_MODES)}."
            )
        if layer._batch_input_shape is not None:
            kwargs.setdefault("batch_input_shape", layer._batch_input_shape)
        super().__init__(**kwargs)
        if backward_layer is None and any(isinstance(m, _UserCell) for m in layer.modules()):
            # A user cell has no config to rebuild it from: copy the layer (weights too).
            backward_layer = copy.deepcopy(layer)
            backward_layer.go_backwards = not layer.go_backwards
            backward_layer.name = f"backward_{layer.name}"
        elif backward_layer is None:
            config = serialize(layer)
            config["config"]["go_backwards"] = not layer.go_backwards
            config["config"]["name"] = f"backward_{layer.name}"
            config["config"].pop("batch_input_shape", None)
            backward_layer = deserialize(config)
        elif backward_layer.go_backwards == layer.go_backwards:
            raise ValueError(
                "Argument `backward_layer` of Bidirectional must process the opposite "
                f"direction: received go_backwards={backward_layer.go_backwards} for both."
            )
        self.forward_layer = layer
        self.backward_layer = backward_layer
        # Keras 3: when returning sequences, masked steps output zeros in both directions,
        # whatever the wrapped layers' own zero_output_for_mask.
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful

    def _expected_layout(self) -> str:
        return " (batch, timesteps, features)"

    def build(self, input_shape: tuple) -> None:
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        self.input_features = int(input_shape[-1])

    def compute_output_shape(self, input_shape: tuple) -> Any:
        fw = self.forward_layer.compute_output_shape(input_shape)
        bw = self.backward_layer.compute_output_shape(input_shape)
        out_fw = fw[0] if self.return_state else fw
        if self.merge_mode == "concat":
            output = (*out_fw[:-1], out_fw[-1] * 2)
        elif self.merge_mode is None:
            output = [out_fw, bw[0] if self.return_state else bw]
        else:
            output = out_fw
        if self.return_state:
            states = list(fw[1:]) + list(bw[1:])
            return ([*output] if self.merge_mode is None else [output]) + states
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask if self.return_sequences else None

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor | None = None,
                training: bool = False, initial_state: Any = None) -> Any:
        fw_init = bw_init = None
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            fw_init, bw_init = states[:half], states[half:]
        fw = self.forward_layer(inputs, mask=mask, training=training, initial_state=fw_init)
        bw = self.backward_layer(inputs, mask=mask, training=training, initial_state=bw_init)
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
        if self.return_sequences:
            bw = bw.flip(1)  # back into input time order
        if self.merge_mode == "concat":
            out: Any = torch.cat([fw, bw], dim=-1)
        elif self.merge_mode == "sum":
            out = fw + bw
        elif self.merge_mode == "mul":
            out = fw * bw
        elif self.merge_mode == "ave":
            out = (fw + bw) / 2
        else:
            out = [fw, bw]
        if self.return_state:
            head = out if isinstance(out, list) else [out]
            return head + list(fw_states) + list(bw_states)
        return out

    def reset_states(self, states: Any = None) -> None:
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def get_config(self) -> dict:
        from gated.serialization import serialize

        config = super().get_config()
        config["layer"] = serialize(self.forward_layer)
        config["backward_layer"] = serialize(self.backward_layer)
        config["merge_mode"] = self.merge_mode
        return config

    @classmethod
    def from_config(cls, config: dict) -> Bidirectional:
        from gated.serialization import deserialize

        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize(config["backward_layer"])
        return cls(**config)


class TimeDistributed(Layer):
    """Applies a layer to every time step: `(batch, time, ...) -> (batch, time, ...)`.

    Args:
        layer: The layer applied to each `(batch, ...)` slice (shared weights).
    """

    min_ndim = 3
    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(
                "Argument `layer` of TimeDistributed must be a layer, received "
                f"{type(layer).__name__}."
            )
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape: tuple) -> None:
        if isinstance(self.layer, Layer):
            self.layer._maybe_build((input_shape[0], *input_shape[2:]))

    def _check_input(self, shape: tuple) -> None:
        self._check_rank(shape)
        if isinstance(self.layer, Layer):
            self.layer._check_input((shape[0], *shape[2:]))

    def compute_output_shape(self, input_shape: tuple) -> Any:
        inner = self.layer.compute_output_shape((input_shape[0], *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def forward(self, inputs: torch.Tensor, training: bool = False,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t = inputs.shape[:2]
        if mask is not None and tuple(mask.shape[:2]) != (b, t):
            raise ValueError(
                f"Argument `mask` of TimeDistributed must start with (batch, timesteps) = "
                f"{(b, t)}, received mask shape {tuple(mask.shape)}."
            )
        kwargs: dict = {}
        is_layer = isinstance(self.layer, Layer)
        if is_layer and self.layer._call_takes_training:
            kwargs["training"] = training
        # As Keras: the inner layer gets its slice of the mask if its call takes one.
        inner_mask = mask if is_layer and self.layer._call_takes_mask else None
        if training and getattr(self.layer, "per_step_in_training", False):
            # Batch statistics (BatchNormalization): Keras calls the layer once per step.
            steps = []
            for i in range(t):
                if inner_mask is not None:
                    kwargs["mask"] = inner_mask[:, i]
                steps.append(self.layer(inputs[:, i], **kwargs))
            return torch.stack(steps, dim=1)
        flat = inputs.reshape(b * t, *inputs.shape[2:])
        if inner_mask is not None:
            kwargs["mask"] = inner_mask.reshape(b * t, *inner_mask.shape[2:])
        y = self.layer(flat, **kwargs)
        return y.reshape(b, t, *y.shape[1:])

    def get_config(self) -> dict:
        from gated.serialization import serialize

        config = super().get_config()
        config["layer"] = serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config: dict) -> TimeDistributed:
        from gated.serialization import deserialize

        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)
