"""`torch.nn.LSTM` / `torch.nn.GRU` <-> gated layers, weights included.

`from_torch(module_or_state_dict)` returns a `Sequential` of gated layers (one `LSTM`/`GRU`, or
`Bidirectional` of one, per torch layer, all returning sequences) that computes the torch
module's output `y` for a batch-first input. `to_torch(model_or_layers)` builds the torch module
back (`batch_first=True`). All layers, `bidirectional=True` and the LSTM's `proj_size` are
carried. torch's two biases become Keras' one (LSTM: their sum; GRU: the `(2, 3h)` bias of
`reset_after=True`, which is torch's GRU).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gated.export import layouts


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _infer(state: dict) -> tuple[str, int, int, int, int, bool, bool]:
    """(mode, input_size, hidden_size, proj_size, num_layers, bidirectional, bias) of a state
    dict of `nn.LSTM` / `nn.GRU`."""
    if "weight_ih_l0" not in state or "weight_hh_l0" not in state:
        raise ValueError(f"Argument `module` of from_torch(): a state dict of nn.LSTM or nn.GRU "
                         f"needs 'weight_ih_l0' and 'weight_hh_l0', received keys "
                         f"{sorted(state)[:6]}.")
    proj = int(state["weight_hr_l0"].shape[0]) if "weight_hr_l0" in state else 0
    hidden = int(state["weight_hr_l0"].shape[1]) if proj else int(state["weight_hh_l0"].shape[1])
    ratio = state["weight_ih_l0"].shape[0] // hidden
    if ratio not in (3, 4):
        raise ValueError(f"Argument `module` of from_torch(): weight_ih_l0 has "
                         f"{state['weight_ih_l0'].shape[0]} rows for hidden size {hidden}; "
                         "expected 4x (LSTM) or 3x (GRU).")
    layers = 1 + max(int(k.split("_l")[1].split("_")[0]) for k in state if "_l" in k)
    return ("LSTM" if ratio == 4 else "GRU", int(state["weight_ih_l0"].shape[1]), hidden, proj,
            layers, any(k.endswith("_reverse") for k in state), "bias_ih_l0" in state)


def _weights(state: dict, mode: str, suffix: str) -> list[np.ndarray]:
    get = lambda name: _np(state[f"{name}{suffix}"]) if f"{name}{suffix}" in state \
        else None  # noqa: E731
    args = (get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"))
    if mode == "LSTM":
        kernel, recurrent, bias = layouts.lstm_from_torch(*args)
        out = [kernel, recurrent] + ([bias] if args[2] is not None else [])
        if get("weight_hr") is not None:
            out.append(np.ascontiguousarray(get("weight_hr").T))
        return out
    kernel, recurrent, bias = layouts.gru_from_torch(*args)
    return [kernel, recurrent] + ([bias] if args[2] is not None else [])


def from_torch(module: Any) -> Any:
    """A gated `Sequential` equal to an `nn.LSTM` / `nn.GRU` (module or state dict).

    Args:
        module: `torch.nn.LSTM`, `torch.nn.GRU`, or one's `state_dict()`.

    Returns:
        `Sequential([Input((None, input_size)), layer_0, ..., layer_{n-1}])`, each layer
        returning sequences; `model(x)` equals the torch module's `y` (batch-first).

    Example:
        >>> model = from_torch(torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True))
    """
    from gated.layers import GRU, LSTM, Bidirectional, Input
    from gated.models import Sequential

    if isinstance(module, torch.nn.Module):
        if not isinstance(module, (torch.nn.LSTM, torch.nn.GRU)):
            raise TypeError(f"Argument `module` of from_torch() must be nn.LSTM, nn.GRU or a "
                            f"state dict, received {type(module).__name__}.")
        state = module.state_dict()
    elif isinstance(module, dict):
        state = module
    else:
        raise TypeError(f"Argument `module` of from_torch() must be nn.LSTM, nn.GRU or a state "
                        f"dict, received {type(module).__name__}.")
    mode, input_size, hidden, proj, num_layers, bidirectional, bias = _infer(state)
    layers, weights = [], []
    for k in range(num_layers):
        if mode == "LSTM":
            make = lambda: LSTM(hidden, proj_size=proj, use_bias=bias,  # noqa: E731
                                return_sequences=True)
        else:
            make = lambda: GRU(hidden, use_bias=bias, reset_after=True,  # noqa: E731
                               return_sequences=True)
        layers.append(Bidirectional(make()) if bidirectional else make())
        weights += _weights(state, mode, f"_l{k}")
        if bidirectional:
            weights += _weights(state, mode, f"_l{k}_reverse")
    model = Sequential([Input((None, input_size)), *layers])
    model.set_weights(weights)
    return model


def _layers_of(model: Any) -> list:
    from gated.layers import InputLayer

    if isinstance(model, (list, tuple)):
        return list(model)
    if hasattr(model, "layers"):
        return [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    return [model]


def to_torch(model: Any) -> torch.nn.Module:
    """The `nn.LSTM` / `nn.GRU` (`batch_first=True`) equal to a stack of gated layers.

    Args:
        model: A gated `LSTM`/`GRU` layer, a `Bidirectional` of one, or a model or list of
            such layers, all of the same kind, size and direction, all standard cells (the
            torch kernels' math: `cell.is_standard`; GRU with `reset_after=True`).

    Raises:
        ValueError: a layer torch cannot express (named, with the reason).
    """
    from gated.layers import GRU, LSTM, Bidirectional

    layers = _layers_of(model)
    if not layers:
        raise ValueError("Argument `model` of to_torch() holds no layers.")
    specs = []
    for layer in layers:
        inner = layer.forward_layer if isinstance(layer, Bidirectional) else layer
        if not isinstance(inner, (LSTM, GRU)) or not inner.built:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) cannot become a "
                             "torch.nn.LSTM/GRU layer: built LSTM or GRU layers only.")
        cell = inner.cell
        why = "" if cell.is_standard else "it is not the standard cell torch runs"
        if isinstance(inner, GRU) and not cell.reset_after:
            why = "torch's GRU is reset_after=True"
        if isinstance(layer, Bidirectional) and layer.merge_mode != "concat":
            why = f"torch concatenates the directions, merge_mode={layer.merge_mode!r}"
        if why:
            raise ValueError(f"Layer '{layer.name}' cannot become a torch.nn layer: {why}.")
        specs.append((type(inner), cell.units, getattr(cell, "proj_size", 0), cell.use_bias,
                      isinstance(layer, Bidirectional), inner.cell.input_features))
    first = specs[0]
    for layer, spec in zip(layers, specs, strict=True):
        if spec[:5] != first[:5]:
            raise ValueError(f"Layer '{layer.name}' differs from the first layer in kind, size "
                             "or direction; a torch.nn.LSTM/GRU stack has one of each.")
    kind, units, proj, bias, bidirectional, input_size = first
    cls = torch.nn.LSTM if kind is LSTM else torch.nn.GRU
    kwargs = {"proj_size": proj} if cls is torch.nn.LSTM else {}
    module = cls(input_size, units, num_layers=len(layers), bias=bias, batch_first=True,
                 bidirectional=bidirectional, **kwargs)
    state = {}
    for k, layer in enumerate(layers):
        directions = [(layer.forward_layer, ""), (layer.backward_layer, "_reverse")] \
            if bidirectional else [(layer, "")]
        for sub, suffix in directions:
            w = [_np(p) for p in (sub.cell.kernel, sub.cell.recurrent_kernel)]
            b = _np(sub.cell.bias) if bias else None
            conv = layouts.lstm_to_torch if cls is torch.nn.LSTM else layouts.gru_to_torch
            ih, hh, b_ih, b_hh = conv(w[0], w[1], b)
            state[f"weight_ih_l{k}{suffix}"], state[f"weight_hh_l{k}{suffix}"] = ih, hh
            if bias:
                state[f"bias_ih_l{k}{suffix}"], state[f"bias_hh_l{k}{suffix}"] = b_ih, b_hh
            if proj:
                state[f"weight_hr_l{k}{suffix}"] = _np(sub.cell.projection_kernel).T
    module.load_state_dict({k: torch.as_tensor(np.ascontiguousarray(v)) for k, v in
                            state.items()})
    return module


__all__ = ["from_torch", "to_torch"]
