"""`StackedRNNCells`: several cells run as one, each feeding the next within a time step.

The state is the concatenation of the cells' states (cell 0's first). Only the first cell's
input projection can be batched over time; the others run their whole step inside the loop.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.cells.base import RNNCell, State


class StackedRNNCells(RNNCell):
    """Wrap a list of cells so that they act as a single deeper cell.

    Args:
        cells: List of cells (`LSTMCell`, `GRUCell`, ... or user cells adapted by `RNN`).

    Example:
        >>> layer = RNN(StackedRNNCells([LSTMCell(32), LSTMCell(32)]))
    """

    def __init__(self, cells: list, **kwargs: Any) -> None:
        if not cells:
            raise ValueError("StackedRNNCells needs at least one cell, received cells=[].")
        super().__init__(**kwargs)
        self.cells = torch.nn.ModuleList(cells)

    @property
    def units(self) -> int:
        return self.cells[-1].output_size

    @property
    def state_size(self) -> tuple[int, ...]:
        return tuple(n for cell in self.cells for n in cell.state_size)

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def _split(self, states: State) -> list[State]:
        out, k = [], 0
        for cell in self.cells:
            n = len(cell.state_size)
            out.append(tuple(states[k:k + n]))
            k += n
        return out

    def build(self, input_shape: tuple) -> None:
        dim = int(input_shape[-1])
        for cell in self.cells:
            cell._maybe_build((input_shape[0], dim))
            dim = cell.output_size
        self.input_features = int(input_shape[-1])

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        return self.cells[0].input_projection(x)

    def sequence_parts(self, training: bool) -> list | None:
        """The cells, to run one after the other over the whole sequence (each by its own
        fastest engine), or None when that would not give this stack's numbers.

        Running cell k over the whole sequence of cell k-1's outputs computes the same numbers
        as the per-step stack (a masked step's outputs are discarded by every cell alike);
        only the order of random draws changes, so stacks with zoneout run per step while
        training. A subclass that changes the step keeps the per-step loop.
        """
        step = type(self).recurrent_step
        if step is not _STACKED_STEP or not getattr(step, "__module__", "").startswith("gated."):
            return None
        if training and any(getattr(c, "zoneout_cell", 0) or getattr(c, "zoneout_hidden", 0)
                            for c in self.cells):
            return None
        return list(self.cells)

    def dropout_masks(self, batch_size, input_dim, like, training):
        if not training:
            return None, None
        per_cell, dim, first_input = [], input_dim, None
        for k, cell in enumerate(self.cells):
            in_mask, rec_mask = cell.dropout_masks(batch_size, dim, like, training)
            if k == 0:
                first_input, in_mask = in_mask, None
            per_cell.append((in_mask, rec_mask))
            dim = cell.output_size
        if first_input is None and all(a is None and b is None for a, b in per_cell):
            return None, None
        return first_input, per_cell

    def recurrent_step(self, xw, states, recurrent_mask=None, training=False):
        masks = recurrent_mask or [(None, None)] * len(self.cells)
        new_states: list[torch.Tensor] = []
        y = None
        for k, (cell, cell_states) in enumerate(zip(self.cells, self._split(states), strict=True)):
            in_mask, rec_mask = masks[k]
            if k == 0:
                y, s = cell.recurrent_step(xw, cell_states, rec_mask, training)
            else:
                x = y if in_mask is None else y * in_mask
                y, s = cell.step(x, cell_states, rec_mask, training)
            new_states.extend(s)
        return y, tuple(new_states)

    def get_config(self) -> dict:
        from gated.serialization import serialize

        config = super().get_config()
        config["cells"] = [serialize(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config: dict):
        from gated.serialization import deserialize

        config = dict(config)
        cells = [deserialize(c) for c in config.pop("cells")]
        return cls(cells, **config)


_STACKED_STEP = StackedRNNCells.recurrent_step
