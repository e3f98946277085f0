r"""The LSTM cell: the whole family as flags on one step, plus named presets.

One step, with every optional part written in (σ = `recurrent_activation`, g = input
activation, h = output activation, ⊙ elementwise, [.] present only when its flag is on):

    z   = x_t W + h_{t-1} U + b  [+ a_{t-1} R]            gate blocks i, f, c, o (those present)
    i_t = σ(z_i [+ p_i ⊙ c_{t-1}])                       1 when input_gate=False
    f_t = σ(z_f [+ p_f ⊙ c_{t-1}])                       1 when forget_gate=False; 1 - i_t (CIFG)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g(z_c)
    o_t = σ(z_o [+ p_o ⊙ c_t])                           1 when output_gate=False
    y_t = o_t ⊙ h(c_t)          [ y_t = (o_t ⊙ h(c_t)) P  with proj_size ]
    h_t = y_t

- Peepholes (`peephole=True`, Gers & Schmidhuber 2000): diagonal weights `p` from the cell
  state into the gates; i and f see c_{t-1}, o sees c_t.
- Full gate recurrence (`full_gate_recurrence=True`, Greff's FGR): `a_{t-1}` are the gate
  activations of the previous step (the gates with own weights, in order i, f, o), mapped by
  `R = gate_recurrent_kernel (k*units, k*units)` into the gate pre-activations.
- Projection (`proj_size=p`, LSTMP, Sak et al. 2014): `P (units, p)`; the state h has size p.
- Layer norm (`layer_norm=True`, Ba et al. 2016): `z = LN(x W) γ_x + LN(h U) γ_h + b` and
  `y_t = o_t ⊙ h(LN(c_t) γ_c + β_c)`; c_t itself is carried un-normalised, as in the paper.
- Zoneout (Krueger et al. 2017): while training each unit of c (h) keeps its previous value
  with probability `zoneout_cell` (`zoneout_hidden`); at inference the expectation
  `z * previous + (1 - z) * new` is used.

Weight layout (Keras style): `kernel (input_dim, n*units)`, `recurrent_kernel (h_size, n*units)`,
`bias (n*units,)` with the n present blocks in the order i, f, c, o (CIFG, "1997" and NFG keep
i, c, o; NIG keeps f, c, o; NOG keeps i, f, c); `peephole_kernel (k, units)` with rows i, f, o
for the gates that exist and own weights; `gate_recurrent_kernel (k*units, k*units)`;
`projection_kernel (units, proj_size)`; layer-norm gains `input_norm_gamma`,
`recurrent_norm_gamma (n*units,)`, `cell_norm_gamma`, `cell_norm_beta (units,)`.
`get_weights()` returns them in that order (each only where present).

Named presets (`variant=`; explicit flags override a preset):

==========  =================================================================================
"keras"     Keras/PyTorch LSTM: forget gate, no peepholes (the default; Greff's NP).
"greff"     Greff et al. 2017, "LSTM: A Search Space Odyssey", vanilla: with peepholes.
"peephole"  Gers & Schmidhuber 2000, forget gate and peepholes (the same cell as "greff").
"np"        no peepholes (= "keras").
"nig"       no input gate: i = 1.                 "nfg"   no forget gate: f = 1.
"nog"       no output gate: o = 1.                "niaf"  no input activation: g = identity.
"noaf"      no output activation: h = identity.   "cifg"  coupled input-forget gate: f = 1 - i.
"fgr"       full gate recurrence.
"1997"      Hochreiter & Schmidhuber 1997: no forget gate, c_t = c_{t-1} + i ⊙ g(z_c),
            g(x) = 2 tanh(x/2) ∈ [-2, 2], h(x) = tanh(x/2) ∈ [-1, 1].
==========  =================================================================================
All Greff variants keep the vanilla peepholes except "np".
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated import activations
from gated._checks import check_positive_int, check_rate, did_you_mean
from gated.cells.base import DenseRNNCell, State, is_standard, project
from gated.cells.lstm import compiled, fused
from gated.cells.lstm import torch as torch_formulas

VARIANTS: dict[str, dict[str, Any]] = {
    "keras": {},
    "np": {},
    "greff": {"peephole": True},
    "vanilla": {"peephole": True},
    "peephole": {"peephole": True},
    "nig": {"peephole": True, "input_gate": False},
    "nfg": {"peephole": True, "forget_gate": False},
    "nog": {"peephole": True, "output_gate": False},
    "niaf": {"peephole": True, "input_activation": "linear"},
    "noaf": {"peephole": True, "output_activation": "linear"},
    "cifg": {"peephole": True, "coupled_gates": True},
    "fgr": {"peephole": True, "full_gate_recurrence": True},
    "1997": {
        "forget_gate": False,
        "input_activation": "tanh2",
        "output_activation": "half_tanh",
        "unit_forget_bias": False,
    },
}

#: Every option of the step: `name -> (default, a non-default example)`. A cell's features are
#: the options not at their default; a fast backend runs the cell only if its formulas list
#: every feature (the conformance test turns each option on against every backend).
OPTIONS: dict[str, tuple[Any, Any]] = {
    "input_gate": (True, False),
    "forget_gate": (True, False),
    "output_gate": (True, False),
    "peephole": (False, True),
    "coupled_gates": (False, True),
    "full_gate_recurrence": (False, True),
    "proj_size": (0, 3),
    "use_bias": (True, False),
    "layer_norm": (False, True),
    "layer_norm_epsilon": (1e-3, 1e-5),
    "zoneout_cell": (0.0, 0.25),
    "zoneout_hidden": (0.0, 0.25),
}

_FLAG_DEFAULTS: dict[str, Any] = {
    "input_gate": True,
    "forget_gate": True,
    "output_gate": True,
    "peephole": False,
    "coupled_gates": False,
    "full_gate_recurrence": False,
    "input_activation": None,
    "output_activation": None,
    "unit_forget_bias": True,
}


class LSTMCell(DenseRNNCell):
    """One step of an LSTM of any variant (see the module docstring for the equations).

    Args:
        units: Positive integer, size of the cell state.
        activation: Keras' `activation`: both the block input g and the output squashing h
            (default `'tanh'`).
        recurrent_activation: Gate activation (default `'sigmoid'`).
        variant: A preset name from `VARIANTS` (default `'keras'`).
        input_gate, forget_gate, output_gate: Whether each gate exists (default True).
        peephole: Diagonal cell-to-gate connections.
        coupled_gates: CIFG, f = 1 - i.
        full_gate_recurrence: FGR, gates see all gate activations of the previous step.
        input_activation, output_activation: Override `activation` for g or h.
        unit_forget_bias: Initialise the forget-gate bias to `forget_bias` (Keras: 1).
        forget_bias: The forget-gate bias initial value when `unit_forget_bias` (default 1.0).
        proj_size: Size of the projected hidden state (LSTMP); 0 for none.
        layer_norm: Layer-normalised LSTM (Ba et al. 2016).
        layer_norm_epsilon: Epsilon of the three normalisations (default 1e-3 as Keras).
        zoneout_cell, zoneout_hidden: Zoneout probabilities for c and h.
        **kwargs: `dropout`, `recurrent_dropout`, initializers, regularizers, `name`, `dtype`.

    Example:
        >>> cell = LSTMCell(8, variant="cifg")
        >>> y, (h, c) = cell(torch.randn(4, 3))
    """

    family = "lstm"
    OPTIONS = OPTIONS
    ACTIVATION_ROLES = {"recurrent_activation": "recurrent_activation_name",
                        "input_activation": "input_activation_name",
                        "output_activation": "output_activation_name"}
    FORMULAS = (fused.FORMULAS, compiled.FORMULAS, torch_formulas.FORMULAS)
    # `variant` and `activation` resolve to the options and roles; the rest set initial values.
    NOT_STEP_OPTIONS = DenseRNNCell.NOT_STEP_OPTIONS | {
        "variant", "activation", "unit_forget_bias", "forget_bias"}

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 variant: str = "keras", input_gate: bool | None = None,
                 forget_gate: bool | None = None, output_gate: bool | None = None,
                 peephole: bool | None = None, coupled_gates: bool | None = None,
                 full_gate_recurrence: bool | None = None, input_activation: Any = None,
                 output_activation: Any = None, unit_forget_bias: bool | None = None,
                 forget_bias: float = 1.0, proj_size: int = 0, layer_norm: bool = False,
                 layer_norm_epsilon: float = 1e-3, zoneout_cell: float = 0.0,
                 zoneout_hidden: float = 0.0, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        if variant not in VARIANTS:
            raise ValueError(
                f"Unknown LSTM variant={variant!r}.{did_you_mean(variant, VARIANTS)}"
                f" Known variants: {list(VARIANTS)}."
            )
        preset = VARIANTS[variant]
        given = {
            "input_gate": input_gate, "forget_gate": forget_gate, "output_gate": output_gate,
            "peephole": peephole, "coupled_gates": coupled_gates,
            "full_gate_recurrence": full_gate_recurrence, "input_activation": input_activation,
            "output_activation": output_activation, "unit_forget_bias": unit_forget_bias,
        }
        flags = {k: (v if v is not None else preset.get(k, _FLAG_DEFAULTS[k]))
                 for k, v in given.items()}
        self.variant = variant
        self.input_gate = bool(flags["input_gate"])
        self.forget_gate = bool(flags["forget_gate"])
        self.output_gate = bool(flags["output_gate"])
        self.peephole = bool(flags["peephole"])
        self.coupled_gates = bool(flags["coupled_gates"])
        self.full_gate_recurrence = bool(flags["full_gate_recurrence"])
        self.unit_forget_bias = bool(flags["unit_forget_bias"])
        if self.coupled_gates and not self.input_gate:
            raise ValueError(
                "coupled_gates=True (CIFG, f = 1 - i) needs the input gate, received "
                "input_gate=False."
            )
        self.activation_name = activation
        self.activation = activations.get(activation)
        self.recurrent_activation_name = recurrent_activation
        self.recurrent_activation = activations.get(recurrent_activation)
        self.input_activation_name = flags["input_activation"] or activation
        self.output_activation_name = flags["output_activation"] or activation
        self.input_activation = activations.get(self.input_activation_name)
        self.output_activation = activations.get(self.output_activation_name)
        self.forget_bias = float(forget_bias)
        self.proj_size = 0 if not proj_size else check_positive_int(proj_size, "proj_size",
                                                                    "LSTMCell")
        self.layer_norm = bool(layer_norm)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.zoneout_cell = check_rate(zoneout_cell, "zoneout_cell", "LSTMCell")
        self.zoneout_hidden = check_rate(zoneout_hidden, "zoneout_hidden", "LSTMCell")

        # Which blocks exist in the kernels, which gates own weights (for peepholes/FGR).
        has_forget_block = self.forget_gate and not self.coupled_gates
        self.blocks = tuple(
            name for name, present in (
                ("i", self.input_gate), ("f", has_forget_block), ("c", True),
                ("o", self.output_gate),
            ) if present
        )
        self.gates = tuple(b for b in self.blocks if b != "c")
        self.num_blocks = len(self.blocks)

    # ------------------------------------------------------------------ layout
    @property
    def state_size(self) -> tuple[int, ...]:
        h = self.proj_size or self.units
        if self.full_gate_recurrence:
            return (h, self.units, len(self.gates) * self.units)
        return (h, self.units)

    @property
    def output_size(self) -> int:
        return self.proj_size or self.units

    @property
    def is_standard(self) -> bool:
        """True when this is exactly the cell of `torch.nn.LSTM` (its fused kernels apply)."""
        return is_standard(self, torch_formulas.FORMULAS)

    def spec_config(self) -> dict:
        return {"blocks": self.blocks, "gates": self.gates,
                "peephole_gates": self.peephole_gates}

    def build(self, input_shape: tuple) -> None:
        input_dim = int(input_shape[-1])
        n = self.num_blocks * self.units
        self._add_standard_weights(input_dim, self.num_blocks, self.proj_size or self.units)
        if self.use_bias and self.unit_forget_bias and "f" in self.blocks:
            k = self.blocks.index("f")
            with torch.no_grad():
                self.bias[k * self.units:(k + 1) * self.units] = self.forget_bias
        peephole_gates = tuple(g for g in self.gates if self.peephole)
        self.peephole_gates = peephole_gates
        if peephole_gates:
            # Glorot-uniform as the kernels, with fans (units, 1) per diagonal.
            self.add_weight("peephole_kernel", (len(peephole_gates), self.units),
                            "glorot_uniform")
        if self.full_gate_recurrence:
            k = len(self.gates) * self.units
            self.add_weight("gate_recurrent_kernel", (k, k), self.recurrent_initializer)
        if self.proj_size:
            self.add_weight("projection_kernel", (self.units, self.proj_size),
                            self.kernel_initializer)
        if self.layer_norm:
            self.add_weight("input_norm_gamma", (n,), "ones")
            self.add_weight("recurrent_norm_gamma", (n,), "ones")
            self.add_weight("cell_norm_gamma", (self.units,), "ones")
            self.add_weight("cell_norm_beta", (self.units,), "zeros")
        self.input_features = input_dim

    # ------------------------------------------------------------------ the step
    def _norm(self, z: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor | None = None):
        return F.layer_norm(z, z.shape[-1:], gamma, beta, self.layer_norm_epsilon)

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        if not self.layer_norm:
            return project(x, self.kernel, self.bias if self.use_bias else None)
        xw = self._norm(x @ self.kernel, self.input_norm_gamma)
        return xw + self.bias if self.use_bias else xw

    def recurrent_step(self, xw: torch.Tensor, states: State,
                       recurrent_mask: torch.Tensor | None = None,
                       training: bool = False) -> tuple[torch.Tensor, State]:
        h_prev, c_prev = states[0], states[1]
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        hu = h_in @ self.recurrent_kernel
        if self.layer_norm:
            hu = self._norm(hu, self.recurrent_norm_gamma)
        z = dict(zip(self.blocks, (xw + hu).split(self.units, dim=-1), strict=True))
        if self.full_gate_recurrence:
            fg = states[2] @ self.gate_recurrent_kernel
            for name, part in zip(self.gates, fg.split(self.units, dim=-1), strict=True):
                z[name] = z[name] + part
        peep = (dict(zip(self.peephole_gates, self.peephole_kernel.unbind(0), strict=True))
                if self.peephole else {})
        sigma = self.recurrent_activation

        i = sigma(z["i"] + peep["i"] * c_prev if "i" in peep else z["i"]) if "i" in z else None
        if self.coupled_gates:
            f = 1.0 - i
        elif "f" in z:
            f = sigma(z["f"] + peep["f"] * c_prev if "f" in peep else z["f"])
        else:
            f = None
        g = self.input_activation(z["c"])
        c = (c_prev if f is None else f * c_prev) + (g if i is None else i * g)
        cell_out = self._norm(c, self.cell_norm_gamma, self.cell_norm_beta) if self.layer_norm \
            else c
        y = self.output_activation(cell_out)
        if "o" in z:
            o = sigma(z["o"] + peep["o"] * c if "o" in peep else z["o"])
            y = o * y
        else:
            o = None
        if self.proj_size:
            y = y @ self.projection_kernel
        if self.zoneout_cell:
            c = self._zoneout(c_prev, c, self.zoneout_cell, training)
        if self.zoneout_hidden:
            y = self._zoneout(h_prev, y, self.zoneout_hidden, training)
        new_states: tuple = (y, c)
        if self.full_gate_recurrence:
            acts = {"i": i, "f": f, "o": o}
            new_states = (y, c, torch.cat([acts[g] for g in self.gates], dim=-1))
        return y, new_states

    @staticmethod
    def _zoneout(prev: torch.Tensor, new: torch.Tensor, rate: float, training: bool):
        if training:
            keep_prev = torch.bernoulli(torch.full_like(new, rate))
            return keep_prev * prev + (1.0 - keep_prev) * new
        return rate * prev + (1.0 - rate) * new

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            activation=activations.serialize(self.activation_name),
            recurrent_activation=activations.serialize(self.recurrent_activation_name),
            variant=self.variant,
            input_gate=self.input_gate,
            forget_gate=self.forget_gate,
            output_gate=self.output_gate,
            peephole=self.peephole,
            coupled_gates=self.coupled_gates,
            full_gate_recurrence=self.full_gate_recurrence,
            input_activation=activations.serialize(self.input_activation_name),
            output_activation=activations.serialize(self.output_activation_name),
            unit_forget_bias=self.unit_forget_bias,
            forget_bias=self.forget_bias,
            proj_size=self.proj_size,
            layer_norm=self.layer_norm,
            layer_norm_epsilon=self.layer_norm_epsilon,
            zoneout_cell=self.zoneout_cell,
            zoneout_hidden=self.zoneout_hidden,
        )
        return config
