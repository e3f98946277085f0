"""int8 dynamic quantization for inference: weights stored as int8, activations quantized on
the fly per batch.

Two paths:

- torch: `quantize_dynamic(model)` turns the standard LSTM/GRU layers (their cells are exactly
  torch's: `cell.is_standard`) into `torch.nn.LSTM`/`GRU` and the `Dense` layers (also inside
  `TimeDistributed`) into `torch.nn.Linear`, then applies torch's
  `torch.ao.quantization.quantize_dynamic` (fbgemm/x86 int8 GEMMs). Every other layer runs
  unchanged in float32 (`Int8Model.float_layers` lists them). torch marks `torch.ao.quantization`
  deprecated; the call is kept here while torch ships it.
- ONNX: `quantize_onnx(src, dst)` runs onnxruntime's `quantize_dynamic` on an exported graph
  (int8 `LSTM` as `DynamicQuantizeLSTM`, `MatMul` as `MatMulInteger`), Scan bodies included.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch


class _Recurrent(torch.nn.Module):
    def __init__(self, module: torch.nn.Module, return_sequences: bool) -> None:
        super().__init__()
        self.rnn, self.return_sequences = module, return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.rnn(x)[0]
        return y if self.return_sequences else y[:, -1]


class _Dense(torch.nn.Module):
    def __init__(self, layer: Any) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(layer.kernel.shape[0], layer.units, bias=layer.use_bias)
        with torch.no_grad():
            self.linear.weight.copy_(layer.kernel.detach().T)
            if layer.use_bias:
                self.linear.bias.copy_(layer.bias.detach())
        self.activation = layer.activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


class _Float(torch.nn.Module):
    def __init__(self, layer: Any) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x, training=False) if getattr(self.layer, "_call_takes_training",
                                                        False) else self.layer(x)


class Int8Model(torch.nn.Module):
    """A gated `Sequential` with int8 weights where torch has int8 kernels (see the module).

    Attributes:
        int8_layers: Names of the layers running int8.
        float_layers: Names of the layers left in float32.
    """

    def __init__(self, parts: list, int8_layers: list[str], float_layers: list[str]) -> None:
        super().__init__()
        self.parts = torch.nn.ModuleList(parts)
        self.int8_layers, self.float_layers = int8_layers, float_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for part in self.parts:
            x = part(x)
        return x

    def predict(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """NumPy outputs for `x (batch, time, features)`."""
        x = torch.as_tensor(np.asarray(x))
        x = x.float() if x.is_floating_point() else x
        with torch.no_grad():
            return torch.cat([self(x[k:k + batch_size])
                              for k in range(0, len(x), batch_size)]).numpy()


def quantize_dynamic(model: Any) -> Int8Model:
    """int8 dynamic quantization of a built gated `Sequential` (torch path).

    Returns:
        An `Int8Model` (`predict`, `forward`) computing the same function with int8 weights in
        its standard recurrent and dense layers.

    Example:
        >>> q = quantize_dynamic(model)
        >>> y = q.predict(x)
    """
    from gated.export.torch_nn import to_torch
    from gated.layers import GRU, LSTM, Bidirectional, Dense, Dropout, InputLayer, TimeDistributed
    from gated.models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"Argument `model` of quantize_dynamic() must be a gated Sequential, "
                        f"received {type(model).__name__}.")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: call it once first.")
    parts, int8, floats = [], [], []
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        inner = layer.forward_layer if isinstance(layer, Bidirectional) else layer
        dense = layer.layer if isinstance(layer, TimeDistributed) else layer
        if isinstance(inner, (LSTM, GRU)) and not inner.return_state:
            try:
                module = to_torch([layer])
            except ValueError:
                module = None
            if module is not None:
                parts.append(_Recurrent(module, layer.return_sequences))
                int8.append(layer.name)
                continue
        if isinstance(dense, Dense):
            parts.append(_Dense(dense))
            int8.append(layer.name)
            continue
        if isinstance(layer, Dropout):
            continue
        parts.append(_Float(layer))
        floats.append(layer.name)
    float_model = Int8Model(parts, int8, floats).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        from torch.ao.quantization import quantize_dynamic as torch_quantize

        quantized = torch_quantize(float_model, {torch.nn.LSTM, torch.nn.GRU, torch.nn.Linear},
                                   dtype=torch.qint8)
    quantized.int8_layers, quantized.float_layers = int8, floats
    return quantized


def quantize_onnx(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """int8 dynamic quantization of an exported ONNX model with onnxruntime's
    `quantize_dynamic` (weights int8, activations quantized per call).

    Raises:
        ValueError: `source` is truncated or corrupted (named).
    """
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize

    from gated.export.onnx import load_onnx

    load_onnx(source)  # a clear error for a bad file
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        ort_quantize(str(source), str(tmp), weight_type=QuantType.QInt8,
                     extra_options={"EnableSubgraph": True})
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


__all__ = ["Int8Model", "quantize_dynamic", "quantize_onnx"]
