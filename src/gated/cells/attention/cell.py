r"""The attention decoder cell: any gated recurrent cell, attending over an encoder memory.

One step (Luong et al. 2015, with input feeding; the convention of TF's `AttentionWrapper`):

    z_t     = [x_t ; ã_{t-1}]                     (just x_t when input_feeding=False)
    h_t, S_t = cell(z_t, S_{t-1})                 the wrapped cell: LSTM, GRU, SimpleRNN, ...
    e_tj    = score(h_t, m_j)                     j over the memory m (batch, S, M)
    α_t     = softmax_j(e_tj), masked keys j get e_tj = -1e9 (weight 0)
    c_t     = Σ_j α_tj m_j                        the context (batch, M)
    ã_t     = tanh([c_t ; h_t] W_c [+ b_c])       the attentional vector (batch, attention_units)
    y_t     = ã_t    ([ã_t ; α_t] with return_attention=True)

Scores (`score=`), with keys computed from the memory once per sequence by the fast engine:

    "dot"       e = h · m_j                                   (M equal to the cell's output size)
    "general"   e = h · (m_j W_g)                             W_g = score_kernel (M, units)
    "concat"    e = v · tanh(h W_q + m_j W_k)                 Luong's concat
    "bahdanau"  e = v · tanh(h W_q + m_j W_k + b)             Bahdanau's additive score

(`W_q = query_kernel (units, score_units)`, `W_k = memory_kernel (M, score_units)`,
`v = score_vector (score_units,)`, `b = score_bias`.) As in TF's `AttentionWrapper`, the
Bahdanau score is queried with the new output h_t; Bahdanau et al.'s own timing (query
h_{t-1}, context into the cell) is not modelled.

The state is `(y_{t-1}, *S_{t-1})`: the step output first (the fed vector ã_{t-1} is its first
`attention_units` entries), then the wrapped cell's states. The memory and its mask are bound
to the cell before the scan (`cell.bind_memory(memory, mask)`): engines keep their signature
`scan(cell, x, states, mask, ...)`, and a bound memory is part of the cell's step contract (its
`StepSpec` holds it as a weight, so the fused engine returns its gradient to the encoder).
"""

from __future__ import annotations

from typing import Any

import torch

from gated import initializers
from gated._checks import check_positive_int, did_you_mean
from gated.cells.attention import fused
from gated.cells.base import RNNCell, State
from gated.engine.spec import Config, Formulas, StepSpec, features_of, spec_of

SCORES = ("dot", "general", "concat", "bahdanau")

#: Every option of the step (`name -> (default, non-default example)`): the fused formulas
#: list each one they compute (all of them), as the families' tables.
OPTIONS: dict[str, tuple[Any, Any]] = {
    "score": ("general", "bahdanau"),
    "input_feeding": (True, False),
    "use_bias": (False, True),
    "return_attention": (False, True),
}

#: Features of a wrapped cell that make its input projection other than `x @ kernel + bias`
#: (input feeding adds `ã W_a` to it): only the reference engine runs them.
NOT_AFFINE = frozenset({"layer_norm"})

#: What a masked key's score becomes (its weight is exactly zero in float32 and float64).
MASKED = -1.0e9


def check_memory(memory: Any, memory_mask: Any, owner: str = "AttentionCell") -> tuple:
    """`(memory, mask)` checked: memory `(batch, S, M)`, mask boolean `(batch, S)` or None."""
    if not isinstance(memory, torch.Tensor):
        raise TypeError(f"{owner}: `memory` must be a torch.Tensor (batch, time, features), "
                        f"received {type(memory).__name__}.")
    if memory.ndim != 3:
        raise ValueError(f"{owner}: `memory` must have rank 3 (batch, time, features), "
                         f"received shape {tuple(memory.shape)}.")
    if memory_mask is not None:
        memory_mask = torch.as_tensor(memory_mask, device=memory.device)
        if tuple(memory_mask.shape) != tuple(memory.shape[:2]):
            raise ValueError(f"{owner}: `memory_mask` must have shape (batch, time) = "
                             f"{tuple(memory.shape[:2])}, received {tuple(memory_mask.shape)}.")
        memory_mask = memory_mask.to(torch.bool)
        if not bool(memory_mask.any(1).all()):
            raise ValueError(f"{owner}: every row of `memory_mask` needs at least one True "
                             "entry (a sequence with no memory to attend to).")
    return memory, memory_mask


class AttentionCell(RNNCell):
    """A decoder step: a wrapped recurrent cell plus attention over a bound memory.

    Args:
        cell: The wrapped cell (`LSTMCell`, `GRUCell`, `SimpleRNNCell`, any `RNNCell`).
        score: `"dot"`, `"general"` (default), `"concat"` or `"bahdanau"`.
        attention_units: Size of the attentional vector ã (default: the cell's output size).
        score_units: Hidden size of the concat / Bahdanau scores (default: the cell's units).
        input_feeding: Feed ã_{t-1} into the cell with x_t (Luong's input feeding).
        use_bias: Whether the attention layer `W_c` has a bias.
        return_attention: Output `[ã_t ; α_t]`: the weights over the memory ride along.
        kernel_initializer: Initializer of the attention weights.

    Example:
    >>> import torch
    >>> from gated.cells import LSTMCell
    >>> from gated.layers import RNN
    >>> cell = AttentionCell(LSTMCell(8)).bind_memory(torch.randn(2, 5, 8))
    >>> RNN(cell, return_sequences=True)(torch.randn(2, 3, 4)).shape
    torch.Size([2, 3, 8])
    """

    family = "attention"
    OPTIONS = OPTIONS

    def __init__(self, cell: Any, score: str = "general", attention_units: int | None = None,
                 score_units: int | None = None, input_feeding: bool = True,
                 use_bias: bool = False, return_attention: bool = False,
                 kernel_initializer: Any = "glorot_uniform", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"AttentionCell: unknown `score`={score!r}."
                             f"{did_you_mean(score, SCORES)} Expected one of {list(SCORES)}.")
        if not isinstance(cell, RNNCell):
            raise TypeError(f"AttentionCell: `cell` must be an RNNCell (LSTMCell, GRUCell, ...), "
                            f"received {type(cell).__name__}.")
        # not `self.cell`: `explain()` and layers read `.cell` as "the cell a layer runs"
        self.wrapped = cell
        self.score = score
        out = int(cell.output_size)
        self.attention_units = out if attention_units is None else check_positive_int(
            attention_units, "attention_units", "AttentionCell")
        units = getattr(cell, "units", out)
        self.score_units = units if score_units is None else check_positive_int(
            score_units, "score_units", "AttentionCell")
        self.input_feeding = bool(input_feeding)
        self.use_bias = bool(use_bias)
        self.return_attention = bool(return_attention)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.memory: torch.Tensor | None = None
        self.memory_mask: torch.Tensor | None = None
        self._spec_key: Any = None
        self._spec: StepSpec | None = None

    # ------------------------------------------------------------------ memory
    def bind_memory(self, memory: torch.Tensor, memory_mask: Any = None) -> AttentionCell:
        """Attend over `memory (batch, S, M)` (keys where `memory_mask (batch, S)` is True)
        in every following step and scan; returns the cell."""
        self.memory, self.memory_mask = check_memory(memory, memory_mask)
        if self.built and memory.shape[-1] != self.memory_dim:
            raise ValueError(f"AttentionCell was built for memory features {self.memory_dim}, "
                             f"received `memory` of shape {tuple(memory.shape)}.")
        if not self.built and self.score == "dot" and memory.shape[-1] != self.wrapped.output_size:
            raise ValueError("AttentionCell(score='dot') needs memory features equal to the "
                             f"cell's output size {self.wrapped.output_size}, received `memory` "
                             f"of shape {tuple(memory.shape)}.")
        return self

    def _bound(self, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.memory is None:
            raise ValueError("AttentionCell has no memory: call `cell.bind_memory(memory, "
                             "memory_mask)` before running it.")
        fused.check_batch(self.memory, batch)
        return self.memory, self.memory_mask

    # ------------------------------------------------------------------ layout
    @property
    def units(self) -> int:
        return self.attention_units

    @property
    def n_alpha(self) -> int:
        return int(self.memory.shape[1]) if self.return_attention and self.memory is not None \
            else 0

    @property
    def state_size(self) -> tuple:
        return (self.output_size, *self.wrapped.state_size)

    @property
    def output_size(self) -> int:
        return self.attention_units + self.n_alpha

    @property
    def features(self) -> frozenset[str]:
        return features_of(self, OPTIONS)

    def build(self, input_shape: tuple) -> None:
        if self.memory is None:
            raise ValueError("AttentionCell needs its memory before it is built (its weights "
                             "depend on the memory's features): call `bind_memory` first.")
        m, units = int(self.memory.shape[-1]), int(self.wrapped.output_size)
        self.memory_dim = m
        x_dim = int(input_shape[-1])
        self.input_features = x_dim
        feed = self.attention_units if self.input_feeding else 0
        self.wrapped._maybe_build((input_shape[0], x_dim + feed))
        init = self.kernel_initializer
        if self.score == "general":
            self.add_weight("score_kernel", (m, units), init)
        elif self.score in ("concat", "bahdanau"):
            self.add_weight("query_kernel", (units, self.score_units), init)
            self.add_weight("memory_kernel", (m, self.score_units), init)
            self.add_weight("score_vector", (self.score_units,), init)
            if self.score == "bahdanau":
                self.add_weight("score_bias", (self.score_units,), "zeros")
        self.add_weight("attention_kernel", (m + units, self.attention_units), init)
        if self.use_bias:
            self.add_weight("attention_bias", (self.attention_units,), "zeros")

    def initial_state(self, cell_states: Any = None, batch_size: int | None = None,
                      like: torch.Tensor | None = None) -> State:
        """`(zeros output, *cell_states)`: the decoder's start from the encoder's states."""
        ref = like if like is not None else self.memory
        if cell_states is None:
            return self.get_initial_state(batch_size or ref.shape[0], ref.dtype, ref.device)
        cell_states = (cell_states,) if isinstance(cell_states, torch.Tensor) \
            else tuple(cell_states)
        first = cell_states[0]
        return (first.new_zeros(first.shape[0], self.output_size), *cell_states)

    # ------------------------------------------------------------------ the reference step
    def keys(self, memory: torch.Tensor) -> torch.Tensor | None:
        """The memory's side of the score, computed once per sequence by fast paths."""
        if self.score == "dot":
            return memory
        if self.score == "general":
            return memory @ self.score_kernel
        return memory @ self.memory_kernel

    def attend(self, h: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor,
               memory_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """`(ã, α)` of one step from the cell output `h (batch, units)`."""
        if self.score in ("dot", "general"):
            e = (keys @ h.unsqueeze(-1)).squeeze(-1)
        else:
            q = h @ self.query_kernel
            if self.score == "bahdanau":
                q = q + self.score_bias
            e = torch.tanh(keys + q.unsqueeze(1)) @ self.score_vector
        if memory_mask is not None:
            e = torch.where(memory_mask, e, torch.full_like(e, MASKED))
        alpha = torch.softmax(e, dim=-1)
        context = (alpha.unsqueeze(1) @ memory).squeeze(1)
        pre = torch.cat([context, h], dim=-1) @ self.attention_kernel
        if self.use_bias:
            pre = pre + self.attention_bias
        return torch.tanh(pre), alpha

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        y, new_states, _ = self.decode_step(xw, states, None, recurrent_mask, training)
        return y, new_states

    def decode_step(self, x: torch.Tensor, states: State, keys: torch.Tensor | None = None,
                    recurrent_mask: torch.Tensor | None = None,
                    training: bool = False) -> tuple[torch.Tensor, State, torch.Tensor]:
        """One step `(y_t, new_states, α_t)`; pass `keys=cell.keys(memory)` computed once to
        decode step by step without recomputing them (greedy and beam search do)."""
        memory, memory_mask = self._bound(x.shape[0])
        feed, inner = states[0], tuple(states[1:])
        z = torch.cat([x, feed[:, :self.attention_units]], -1) if self.input_feeding else x
        h, new_inner = self.wrapped.step(z, inner, recurrent_mask, training)
        keys = self.keys(memory) if keys is None else keys
        att, alpha = self.attend(h, keys, memory, memory_mask)
        y = torch.cat([att, alpha], dim=-1) if self.return_attention else att
        return y, (y, *new_inner), alpha

    def dropout_masks(self, batch_size: int, input_dim: int, like: torch.Tensor,
                      training: bool) -> tuple[Any, Any]:
        """The wrapped cell's masks (its input mask on x only, not on the fed vector)."""
        feed = self.attention_units if self.input_feeding else 0
        in_mask, rec_mask = self.wrapped.dropout_masks(batch_size, input_dim + feed, like, training)
        return (None if in_mask is None else in_mask[:, :input_dim]), rec_mask

    # ------------------------------------------------------------------ the step contract
    def step_spec(self) -> StepSpec | None:
        """The contract for the fused engine: the wrapped cell's spec inside, the bound memory
        and its mask (rebuilt when either is rebound); None when the wrapped cell has no
        spec (then only the reference engine runs this cell)."""
        klass = type(self)
        if not self.built or self.memory is None or any(
                getattr(klass, name) is not getattr(AttentionCell, name) for name in (
                    "recurrent_step", "decode_step", "attend", "keys", "step", "build")):
            return None
        inner, _ = spec_of(self.wrapped)
        if inner is None:
            return None
        key = (id(self.memory), id(self.memory_mask), inner, self.features,
               tuple(id(p) for p in self.parameters()))
        if self._spec_key == key:
            return self._spec
        self._spec = self._build_spec(inner)
        self._spec_key = key
        return self._spec

    def _build_spec(self, inner: StepSpec) -> StepSpec:
        weights = {f"cell.{n}": w for n, w in inner.weights.items()}
        weights.update({n: p for n, p in self._parameters.items() if p is not None})
        weights["memory"] = self.memory
        config = {name: getattr(self, name) for name in OPTIONS}
        config.update(inner=inner, memory_mask=self.memory_mask,
                      attention_units=self.attention_units, x_dim=self.input_features)
        formulas = {}
        inner_fused = inner.formulas.get("fused")
        if inner_fused is not None and hasattr(inner_fused.impl.Stepper, "dxw"):
            allowed = inner_fused.features - (NOT_AFFINE if self.input_feeding else frozenset())
            formulas["fused"] = Formulas(
                "fused", frozenset(OPTIONS) | {f"cell.{f}" for f in allowed}, fused.AttentionFused,
                {f"cell.{r}": names for r, names in inner_fused.activations.items()})
        return StepSpec(
            family=self.family, cell_type=f"AttentionCell({inner.cell_type})",
            features=self.features | {f"cell.{f}" for f in inner.features},
            activations={f"cell.{r}": a for r, a in inner.activations.items()},
            state_sizes=tuple(self.state_size), output_size=self.output_size,
            recurrent_size=inner.recurrent_size, step_macs=inner.step_macs,
            weights=weights, config=Config(config), formulas=formulas)

    def get_config(self) -> dict:
        from gated.serialization import serialize

        config = super().get_config()
        config.update(cell=serialize(self.wrapped), score=self.score,
                      attention_units=self.attention_units, score_units=self.score_units,
                      input_feeding=self.input_feeding, use_bias=self.use_bias,
                      return_attention=self.return_attention,
                      kernel_initializer=initializers.serialize(self.kernel_initializer))
        return config

    @classmethod
    def from_config(cls, config: dict) -> AttentionCell:
        from gated.serialization import deserialize

        config = dict(config)
        config["cell"] = deserialize(config["cell"])
        return cls(**config)


__all__ = ["AttentionCell", "MASKED", "OPTIONS", "SCORES", "check_memory"]
