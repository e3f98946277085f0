"""The generic recurrent layer: `RNN(cell)` owns every sequence concern; `LSTM`, `GRU` and
`SimpleRNN` (in `lstm.py`, `gru.py`, `simple_rnn.py`) are `RNN` over their cell with Keras'
arguments.

Sequence concerns handled here once for every cell: `return_sequences`, `return_state`,
`go_backwards`, `stateful` + `reset_states()`, `initial_state`, masks, and dropout masks drawn
once per sequence. The time loop itself is the engine's (`gated.engine.scan`).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch

from gated import engine as engines
from gated.cells import RNNCell, StackedRNNCells
from gated.layer import Layer, format_shape

_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask", "engine")
_LAYER_ARGS = ("name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_size",
               "input_dim")


def _accepted_args(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is torch.nn.Module or klass is object:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self":
                names.add(p.name)
    return names


def _size(size: Any) -> Any:
    """A cell's state or output size: an int, or a shape (tuple) for more axes (Keras' nested
    `state_size = [units, (rows, cols)]`)."""
    if isinstance(size, (int, np.integer)):
        return int(size)
    try:
        if isinstance(size, str):
            raise TypeError
        shape = tuple(int(d) for d in size)
    except (TypeError, ValueError):
        raise TypeError(f"A cell's state_size entries must be ints or shapes (lists of ints), "
                        f"received {size!r}.") from None
    return shape[0] if len(shape) == 1 else shape


def _dims(size: Any) -> tuple[int, ...]:
    return (size,) if isinstance(size, int) else tuple(size)


class _UserCell(RNNCell):
    """Adapts a user cell: any object with `state_size` and a `step(x, states)`, a Keras-style
    `call(x, states)` or `__call__` (a Keras `Layer` subclass written for `keras.layers.RNN`).
    `state_size` may list ints or shapes (states with more axes than `(batch, n)`)."""

    def __init__(self, cell: Any) -> None:
        super().__init__(name=getattr(cell, "name", None) or None)
        sizes = cell.state_size
        sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
        self._sizes = tuple(_size(n) for n in sizes)
        out = getattr(cell, "output_size", None)
        self._out = _size(out) if out is not None else self._sizes[0]
        self.inner = cell

    @property
    def state_size(self) -> tuple:
        return self._sizes

    @property
    def output_size(self) -> Any:
        return self._out

    @property
    def units(self) -> int:
        return _dims(self._out)[-1]

    def get_initial_state(self, batch_size: int, dtype: torch.dtype | None = None,
                          device: Any = None) -> tuple[torch.Tensor, ...]:
        own = getattr(self.inner, "get_initial_state", None)
        if callable(own):  # Keras 3: cell.get_initial_state(batch_size)
            states = own(batch_size)
            states = [states] if isinstance(states, torch.Tensor) else list(states)
            return tuple(torch.as_tensor(t, dtype=dtype or self.dtype, device=device)
                         for t in states)
        return super().get_initial_state(batch_size, dtype, device)

    def build(self, input_shape: tuple) -> None:
        build = getattr(self.inner, "build", None)
        if callable(build) and not getattr(self.inner, "built", False):
            build(input_shape)
            if hasattr(self.inner, "built"):
                self.inner.built = True

    def recurrent_step(self, xw, states, recurrent_mask=None, training=False):
        fn = getattr(self.inner, "step", None) or getattr(self.inner, "call", None) \
            or self.inner
        takes_training = self.__dict__.get("_takes_training")
        if takes_training is None:  # Keras passes `training` to a cell whose call takes it
            try:
                takes_training = "training" in inspect.signature(fn).parameters
            except (TypeError, ValueError):
                takes_training = False
            self.__dict__["_takes_training"] = takes_training
        if takes_training:
            y, new = fn(xw, tuple(states), training=training)
        else:
            y, new = fn(xw, tuple(states))
        if isinstance(new, torch.Tensor):
            new = (new,)
        return y, tuple(new)

    def get_weights(self):
        return [p.detach().cpu().numpy().copy() for p in self.inner.parameters()]


def as_cell(cell: Any) -> RNNCell:
    if isinstance(cell, (list, tuple)):
        return StackedRNNCells([as_cell(c) for c in cell])
    if isinstance(cell, RNNCell):
        return cell
    if hasattr(cell, "state_size"):
        return _UserCell(cell)
    raise TypeError(
        "Argument `cell` of RNN must be an RNNCell, a list of cells, or an object with "
        f"`state_size` and a `step(x, states)` method, received {type(cell).__name__}."
    )


class RNN(Layer):
    """Runs a cell over the time axis: the base of every recurrent layer.

    Args:
        cell: A cell (`LSTMCell(...)`, `GRUCell(...)`, a user cell) or a list of cells
            (stacked into a `StackedRNNCells`).
        return_sequences: Return the whole output sequence `(batch, time, units)` instead of
            the last output `(batch, units)`.
        return_state: Also return the final states: `[output, *states]`.
        go_backwards: Process the sequence backwards and return the reversed sequence.
        stateful: Carry the final states of a batch into the next call as its initial state
            (sample i of a batch continues sample i of the previous one); `reset_states()`.
        unroll: Accepted for Keras compatibility; the engine decides how the loop runs.
        zero_output_for_mask: Output zeros (instead of the previous output) at masked steps.
        engine: Which engine runs the recurrence (`'auto'` picks; see `gated.engine`).

    Call arguments:
        inputs: `(batch, timesteps, features)`.
        mask: Boolean `(batch, timesteps)`; False marks padding (from `Masking`/`Embedding`).
        training: Enables dropout.
        initial_state: A tensor or list of tensors, one per state (LSTM: `[h, c]`).
    """

    input_ndim = 3
    supports_masking = True
    casts_integer_inputs = True

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, engine: str = "auto",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cell = as_cell(cell)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.engine = engines.check_engine(engine)
        self.states: tuple[torch.Tensor, ...] | None = None

    def _expected_layout(self) -> str:
        return " (batch, timesteps, features)"

    def build(self, input_shape: tuple) -> None:
        self.cell._maybe_build((input_shape[0], input_shape[-1]))
        self.input_features = int(input_shape[-1])

    @property
    def units(self) -> int:
        return self.cell.units

    def compute_output_shape(self, input_shape: tuple) -> Any:
        batch, steps = input_shape[0], input_shape[1]
        out = _dims(_size(self.cell.output_size))
        output = (batch, steps, *out) if self.return_sequences else (batch, *out)
        if self.return_state:
            return [output] + [(batch, *_dims(_size(n))) for n in self.cell.state_size]
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask if self.return_sequences else None

    # ------------------------------------------------------------------ states
    def _initial_state(self, x: torch.Tensor, initial_state: Any) -> tuple[torch.Tensor, ...]:
        batch = x.shape[0]
        sizes = [(batch, *_dims(_size(n))) for n in self.cell.state_size]
        if initial_state is not None:
            states = [initial_state] if isinstance(initial_state, torch.Tensor) \
                else list(initial_state)
            if len(states) != len(sizes):
                raise ValueError(
                    f"Layer '{self.name}' expects `initial_state` to hold {len(sizes)} tensors "
                    f"of shapes {sizes}, received {len(states)}."
                )
            out = []
            for k, (s, shape) in enumerate(zip(states, sizes, strict=True)):
                s = torch.as_tensor(s, dtype=x.dtype, device=x.device)
                if tuple(s.shape) != shape:
                    raise ValueError(
                        f"Layer '{self.name}': initial_state[{k}] must have shape "
                        f"{format_shape(shape)}, received {format_shape(tuple(s.shape))}."
                    )
                out.append(s)
            return tuple(out)
        if self.stateful and self.states is not None:
            if self.states[0].shape[0] != batch:
                raise ValueError(
                    f"Stateful layer '{self.name}' carries states for batch size "
                    f"{self.states[0].shape[0]}, received a batch of {batch}. Keep the batch "
                    "size fixed, or call `reset_states()` first."
                )
            return tuple(s.to(dtype=x.dtype, device=x.device) for s in self.states)
        return self.cell.get_initial_state(batch, x.dtype, x.device)

    def reset_states(self, states: Any = None) -> None:
        """Clear the carried states of a stateful layer (or set them to `states`)."""
        if states is None:
            self.states = None
        else:
            states = [states] if isinstance(states, torch.Tensor) else list(states)
            self.states = tuple(torch.as_tensor(s, dtype=self.dtype) for s in states)

    # ------------------------------------------------------------------ call
    def forward(self, inputs: torch.Tensor, mask: torch.Tensor | None = None,
                training: bool = False, initial_state: Any = None) -> Any:
        x = inputs
        states = self._initial_state(x, initial_state)
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device).bool()
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(
                    f"Layer '{self.name}': `mask` must have shape (batch, timesteps) = "
                    f"{format_shape(tuple(x.shape[:2]))}, received "
                    f"{format_shape(tuple(mask.shape))}."
                )
        in_mask, rec_mask = self.cell.dropout_masks(x.shape[0], x.shape[-1], x, training)
        if in_mask is not None:
            x = x * in_mask.unsqueeze(1)
        engine, exclude = self._engine_for(x, mask, rec_mask, training)
        ys, final = engines.scan(self.cell, x, states, mask=mask, reverse=self.go_backwards,
                                 recurrent_mask=rec_mask, training=training,
                                 engine=engine, exclude=exclude)
        if self.zero_output_for_mask and mask is not None:
            ys = ys * mask.unsqueeze(-1).to(ys.dtype)
        if self.go_backwards:
            ys = ys.flip(1)  # Keras: the returned sequence is in processing order
        if self.stateful:
            self.states = tuple(s.detach() for s in final)
        output = ys if self.return_sequences else ys[:, -1]
        if self.return_state:
            return [output, *final]
        return output

    def _engine_for(self, x: torch.Tensor, mask: Any, rec_mask: Any,
                    training: bool) -> tuple[str, tuple[str, ...]]:
        """The engine to run and the backends to avoid, honouring Keras' `use_cudnn`."""
        use_cudnn = getattr(self, "use_cudnn", "auto")
        if use_cudnn is True:
            if x.device.type != "cuda":
                raise ValueError(
                    f"Layer '{self.name}': use_cudnn=True was specified, but cuDNN needs inputs "
                    f"on a CUDA device; received inputs on '{x.device.type}'. Pass "
                    f"use_cudnn='auto' to fall back to a non-cuDNN implementation."
                )
            ok, reason = engines.supported("platform", self.cell, x, mask, self.go_backwards,
                                           rec_mask, training)
            if not ok:
                raise ValueError(
                    f"Layer '{self.name}': use_cudnn=True was specified, but cuDNN does not "
                    f"support this layer configuration: {reason}. Pass use_cudnn='auto' to "
                    f"fall back to a non-cuDNN implementation."
                )
            return "platform", ()
        if use_cudnn is False and x.device.type == "cuda":
            return self.engine, ("platform",)
        return self.engine, ()

    # ------------------------------------------------------------------ weights & config
    def get_config(self) -> dict:
        from gated.serialization import serialize

        config = super().get_config()
        config.update(
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            engine=self.engine,
        )
        if type(self) is RNN:
            config["cell"] = serialize(self.cell)
        return config

    @classmethod
    def from_config(cls, config: dict) -> RNN:
        from gated.serialization import deserialize

        config = dict(config)
        if cls is RNN:
            config["cell"] = deserialize(config["cell"])
        return cls(**config)


#: Arguments whose None means "the cell's own default" (a preset decides): not passed on.
_UNSET_DEFAULTS = frozenset({"input_gate", "forget_gate", "output_gate", "peephole",
                             "coupled_gates", "full_gate_recurrence", "unit_forget_bias"})


def layer_arguments(values: dict) -> dict:
    """A subclass' explicit `__init__` arguments (its `locals()`), minus self and kwargs."""
    return {k: v for k, v in values.items() if k not in ("self", "units", "kwargs", "__class__")}


class _CellLayer(RNN):
    """An `RNN` whose cell is built from the layer's own keyword arguments (LSTM, GRU, ...)."""

    cell_class: type[RNNCell] = RNNCell
    #: Whether the layer takes Keras' `use_cudnn` (LSTM and GRU do, SimpleRNN does not).
    takes_use_cudnn = False

    def __init__(self, units: int, **kwargs: Any) -> None:
        kwargs = {k: v for k, v in kwargs.items() if not (k in _UNSET_DEFAULTS and v is None)}
        use_cudnn = kwargs.pop("use_cudnn", "auto") if self.takes_use_cudnn else "auto"
        if use_cudnn not in ("auto", True, False) or not isinstance(use_cudnn, (str, bool)):
            raise ValueError(
                f"Invalid value for argument `use_cudnn`: expected one of 'auto', True, False; "
                f"received use_cudnn={use_cudnn!r}."
            )
        engine = kwargs.get("engine", "auto")
        if (use_cudnn is True and engine not in ("auto", "platform")) or (
                use_cudnn is False and engine == "platform"):
            raise ValueError(
                f"use_cudnn={use_cudnn!r} contradicts engine={engine!r}: cuDNN is the "
                f"'platform' engine on CUDA. Pass only one of them."
            )
        accepted = _accepted_args(self.cell_class) | set(_RNN_ARGS) | set(_LAYER_ARGS)
        unknown = {k: v for k, v in kwargs.items() if k not in accepted}
        if unknown:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {unknown}"
            )
        layer_kwargs = {k: kwargs.pop(k) for k in list(kwargs)
                        if k in _RNN_ARGS or k in _LAYER_ARGS}
        cell = self.cell_class(units, dtype=layer_kwargs.get("dtype"), **kwargs)
        super().__init__(cell, **layer_kwargs)
        self.use_cudnn = use_cudnn

    def get_config(self) -> dict:
        config = super().get_config()
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config.update(cell_config)
        if self.takes_use_cudnn:
            config["use_cudnn"] = self.use_cudnn
        return config

    def __getattr__(self, name: str) -> Any:
        # Keras exposes the cell's hyper-parameters on the layer (layer.units, ...).
        try:
            return super().__getattr__(name)
        except AttributeError:
            cell = self._modules.get("cell")
            if cell is not None and not name.startswith("_") and hasattr(cell, name):
                return getattr(cell, name)
            raise
