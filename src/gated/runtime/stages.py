"""The per-layer pieces of a stream: how each layer runs on a step (or a chunk of steps) with
its carried state.

A stage turns `(x, keep, states)` into `(y, keep, states)`: `x` is one step `(batch, ...)` or
a chunk `(batch, time, ...)` (`seq=True`), `keep` the boolean step mask (`(batch,)` or
`(batch, time)`, None when there is none, False marks padding) and `states` the layer's
carried tensors. Recurrent layers carry their cell states and their last output (a masked step
repeats it, as a full-sequence run does); the other stages carry nothing.
"""

from __future__ import annotations

from typing import Any

import torch

from gated import engine as engines

State = list[torch.Tensor]


class NotStreamable(ValueError):
    """A layer that cannot run one step at a time (the message names the layer and why)."""


def _fail(layer: Any, why: str) -> NotStreamable:
    return NotStreamable(f"Layer '{getattr(layer, 'name', type(layer).__name__)}' "
                         f"({type(layer).__name__}) cannot stream: {why}.")


class Stage:
    """A stateless layer applied to each step (Dense, Activation, normalization, ...)."""

    collapses = False

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.name = getattr(layer, "name", type(layer).__name__)
        self.keeps_mask = bool(getattr(layer, "supports_masking", False))

    def state_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        return {}

    def initial_state(self, batch: int, dtype: torch.dtype, device: Any) -> State:
        return []

    def apply(self, x: Any) -> Any:
        layer = self.layer
        if getattr(layer, "_call_takes_training", False):
            return layer.forward(x, training=False)
        return layer.forward(x)

    def __call__(self, x: Any, keep: Any, states: State, seq: bool) -> tuple[Any, Any, State]:
        return self.apply(x), (keep if self.keeps_mask else None), states


class TimeDistributedStage(Stage):
    """`TimeDistributed(layer)`: the inner layer on each step."""

    def __init__(self, layer: Any) -> None:
        super().__init__(layer)
        self.inner = make_stage(layer.layer)
        if self.inner.state_shapes(1) or type(self.inner) is not Stage:
            raise _fail(layer, f"its inner layer '{self.inner.name}' is not a per-step layer")

    def apply(self, x: Any) -> Any:
        return self.layer.forward(x, training=False) if x.ndim > 2 else self.inner.apply(x)


class MaskingStage(Stage):
    def __call__(self, x: Any, keep: Any, states: State, seq: bool) -> tuple[Any, Any, State]:
        value = self.layer.mask_value
        mine = torch.any(x != value, dim=-1)
        return x * mine.unsqueeze(-1).to(x.dtype), mine, states


class EmbeddingStage(Stage):
    def __call__(self, x: Any, keep: Any, states: State, seq: bool) -> tuple[Any, Any, State]:
        y = self.layer.forward(x)
        return y, ((x != 0) if self.layer.mask_zero else None), states


class RecurrentStage(Stage):
    """An `RNN` layer (LSTM, GRU, SimpleRNN, `RNN(cell or cells)`): each cell of a stack steps
    by `gated.engine.step` (the compiled streaming kernel or torch's fused cell where they
    apply); a chunk without a mask runs `gated.engine.scan` from the carried state."""

    def __init__(self, layer: Any) -> None:
        super().__init__(layer)
        if layer.go_backwards:
            raise _fail(layer, "go_backwards=True reads the sequence from its end")
        if layer.return_state:
            raise _fail(layer, "return_state=True returns states, not a per-step output; "
                               "use the stream's state_dict() for the states")
        parts = getattr(layer.cell, "sequence_parts", lambda training: None)(False)
        self.cells = list(parts) if parts is not None else [layer.cell]
        self.collapses = not layer.return_sequences
        self.zero_output = bool(layer.zero_output_for_mask)

    def state_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for k, cell in enumerate(self.cells):
            for j, size in enumerate(cell.state_size):
                dims = (size,) if isinstance(size, int) else tuple(size)
                shapes[f"cell{k}.state{j}"] = (batch, *dims)
        out = self.cells[-1].output_size
        shapes["output"] = (batch, *((out,) if isinstance(out, int) else tuple(out)))
        return shapes

    def initial_state(self, batch: int, dtype: torch.dtype, device: Any) -> State:
        return [torch.zeros(shape, dtype=dtype, device=device)
                for shape in self.state_shapes(batch).values()]

    def _split(self, states: State) -> list[tuple[torch.Tensor, ...]]:
        out, k = [], 0
        for cell in self.cells:
            n = len(cell.state_size)
            out.append(tuple(states[k:k + n]))
            k += n
        return out

    def _paths(self, x: torch.Tensor) -> list:
        """Each cell's exact single-step path for inputs like `x` (`gated.engine.step`'s
        choice, resolved once per dtype: the per-call dispatch costs as much as a small step)."""
        key = (x.dtype, x.device)
        if getattr(self, "_path_key", None) != key:
            from gated.engine import dispatch

            paths, dim = [], x
            for cell in self.cells:
                paths.append(dispatch._step_path(cell, dim))
                dim = x.new_zeros(x.shape[0], int(cell.output_size))
            self._path_cache, self._path_key = paths, key
        return self._path_cache

    def _step(self, x: torch.Tensor, keep: Any, states: State) -> tuple[torch.Tensor, State]:
        y_prev = states[-1]
        new: State = []
        fast = not torch.is_grad_enabled()
        paths = self._paths(x) if fast else [None] * len(self.cells)
        for cell, path, cell_states in zip(self.cells, paths, self._split(states), strict=True):
            x, s = path(cell, x, cell_states) if fast else engines.step(cell, x, cell_states)
            if keep is not None:
                s = tuple(torch.where(_rows(keep, n), n, o)
                          for n, o in zip(s, cell_states, strict=True))
            new.extend(s)
        if keep is not None:
            x = torch.where(_rows(keep, x), x, y_prev)
        new.append(x)
        return x, new

    def __call__(self, x: Any, keep: Any, states: State, seq: bool) -> tuple[Any, Any, State]:
        if not seq:
            y, states = self._step(x, keep, states)
        elif keep is None:
            new: State = []
            for cell, cell_states in zip(self.cells, self._split(states), strict=True):
                x, final = engines.scan(cell, x, cell_states, engine=self.layer.engine)
                new.extend(final)
            y = x
            states = [*new, y[:, -1]]
        else:
            outs = []
            for t in range(x.shape[1]):
                y_t, states = self._step(x[:, t], keep[:, t], states)
                outs.append(y_t)
            y = torch.stack(outs, dim=1)
        if self.zero_output and keep is not None:
            y = y * keep.unsqueeze(-1).to(y.dtype)
        return y, (None if self.collapses else keep), states


def _rows(keep: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return keep.view(-1, *([1] * (like.ndim - 1)))


_PER_STEP = ("Dense", "Activation", "Dropout", "LayerNormalization", "Add", "Multiply",
             "Average", "Concatenate")
_NEEDS_SEQUENCE = {
    "Bidirectional": "its backward direction needs the future of the sequence",
    "Flatten": "it mixes the time steps of a sequence",
    "Reshape": "it may mix the time steps of a sequence",
    "RepeatVector": "it repeats a whole-sequence summary over time",
}


def make_stage(layer: Any) -> Stage:
    """The stage that streams `layer`, or `NotStreamable` naming the layer and the reason."""
    from gated.layers import RNN, Embedding, Masking, TimeDistributed

    name = type(layer).__name__
    if isinstance(layer, RNN):
        return RecurrentStage(layer)
    if isinstance(layer, TimeDistributed):
        return TimeDistributedStage(layer)
    if isinstance(layer, Masking):
        return MaskingStage(layer)
    if isinstance(layer, Embedding):
        return EmbeddingStage(layer)
    if name in _NEEDS_SEQUENCE:
        raise _fail(layer, _NEEDS_SEQUENCE[name])
    if any(klass.__name__ in _PER_STEP and klass.__module__.startswith("gated.")
           for klass in type(layer).__mro__):
        return Stage(layer)
    raise _fail(layer, "it is not one of the streamable layers (recurrent layers, "
                       f"TimeDistributed, Embedding, Masking, {', '.join(_PER_STEP)}); a "
                       "convolution or attention over time needs the whole sequence")
