"""A torch-free runtime: load a saved `.gated` model with NumPy and safetensors only, and run
`predict` or stream it step by step (for devices without PyTorch).

    import gated.runtime.numpy as rt
    model = rt.load("model.gated")
    y = model.predict(x)                      # (batch, time, features) -> outputs
    stream = model.stream(batch_size=1)
    y_t = stream.step(x_t)                    # one step (batch, features), state carried

Runs the LSTM family (every option), GRU, SimpleRNN and `RNN` of their cells (stacked too),
`Bidirectional` (predict only), and `Dense`, `Embedding`, `TimeDistributed`, `Dropout`,
`LayerNormalization`, `Activation`, `Masking`, in a `Sequential` model or a functional chain.
Other layers raise `Unsupported` naming them. The stream's `state_dict()` uses the names of
`gated.runtime.Stream`, so a state moves between the two runtimes.

Nothing here imports torch (a test checks it in a fresh process).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from gated.runtime.numpy_cells import Unsupported
from gated.runtime.numpy_layers import _Bidirectional, _weights_of, build_layer

__all__ = ["NumpyModel", "NumpyStream", "Unsupported", "load"]


def _read(path: Path) -> tuple[dict, dict]:
    """(config, weights by module path) of a `.gated` zip; ValueError naming the file."""
    from safetensors.numpy import load as st_load

    def fail(why: str) -> ValueError:
        return ValueError(f"Cannot load the model file '{path}': {why}.")

    if not path.exists():
        raise FileNotFoundError(f"No model file at '{path}'.")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise ValueError(f"member '{bad}' is corrupted (CRC mismatch)")
            members = {name: zf.read(name) for name in zf.namelist()}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise fail(f"it is truncated or corrupted, or not a gated model file ({err})") from None
    for required in ("metadata.json", "config.json", "model.weights.safetensors"):
        if required not in members:
            raise fail(f"'{required}' is missing")
    try:
        metadata = json.loads(members["metadata.json"])
        config = json.loads(members["config.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise fail(f"invalid JSON ({err})") from None
    if metadata.get("format") != "gated.model":
        raise fail(f"format is {metadata.get('format')!r}, expected 'gated.model'")
    try:
        raw = st_load(members["model.weights.safetensors"])
    except Exception as err:  # safetensors raises its own error types
        raise fail(f"the weights are corrupted ({err})") from None
    weights = {key.partition(":")[2] or key: value for key, value in sorted(raw.items())}
    return config, weights


def _chain(config: dict, path: Path) -> tuple[list[dict], tuple]:
    """The layer configs in order and the input shape, for Sequential or a functional chain."""
    cls, cfg = config.get("class_name"), config.get("config", {})
    if cls == "Sequential":
        shape = cfg.get("build_input_shape")
        if shape is None:
            raise ValueError(f"Cannot load the model file '{path}': no input shape saved.")
        return list(cfg["layers"]), tuple(shape)
    if cls in ("Model", "Functional"):
        layers, previous, shape = [], None, None
        for spec in cfg["layers"]:
            if spec["class_name"] == "InputLayer":
                shape = tuple(spec["config"]["batch_shape"])
                previous = spec["name"]
                continue
            nodes = spec.get("inbound_nodes", [])
            sources = json.dumps(nodes)
            if len(nodes) != 1 or sources.count("__keras_tensor__") != 1 \
                    or f'"{previous}"' not in sources:
                raise Unsupported(f"Layer '{spec['name']}' of '{path}': the NumPy runtime "
                                  "runs functional models that are a chain of single-input "
                                  "layers only.")
            layers.append(spec)
            previous = spec["name"]
        return layers, shape
    raise Unsupported(f"Model class {cls!r} of '{path}' is not supported by the NumPy runtime.")


class NumpyModel:
    """A saved model running on NumPy: `predict(x)` and `stream(batch_size)`."""

    def __init__(self, layers: list, input_shape: tuple, name: str = "model") -> None:
        self.layers, self.input_shape, self.name = layers, tuple(input_shape), name
        self.ids = input_shape is not None and len(input_shape) == 2

    def _check(self, x: Any, seq: bool, batch: int | None = None) -> np.ndarray:
        arr = np.asarray(x)
        if not self.ids:
            arr = arr.astype(np.float32, copy=False)
        want = len(self.input_shape) - (0 if seq else 1)
        feature = tuple(self.input_shape[2:])
        got = tuple(arr.shape[(2 if seq else 1):])
        if arr.ndim != want or any(e is not None and e != g for e, g in
                                   zip(feature, got, strict=False)) \
                or (batch is not None and arr.shape[0] != batch):
            lead = "(batch, time" if seq else f"({batch if batch else 'batch'}"
            raise ValueError(f"Argument `x` must have shape {lead}"
                             f"{''.join(f', {d}' for d in feature)}), received {arr.shape}.")
        return arr

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Outputs for a whole batch of sequences `x (batch, time, ...)`."""
        x = self._check(x, seq=True)
        if batch_size is not None and batch_size < len(x):
            return np.concatenate([self.predict(x[k:k + batch_size])
                                   for k in range(0, len(x), batch_size)])
        keep = None
        for layer in self.layers:
            if isinstance(layer, _Bidirectional):
                x, keep = layer.predict(x, keep)
                continue
            states = [np.zeros(s, np.float32) for s in layer.state_shapes(len(x)).values()]
            if getattr(layer, "go_backwards", False):
                # outputs in processing order and the mask passed on unchanged, as in gated
                # and Keras
                x, out_keep, _ = layer.scan(x[:, ::-1], None if keep is None
                                            else keep[:, ::-1], states)
                keep = None if out_keep is None else keep
            else:
                x, keep, _ = layer.run(x, keep, states)
            if layer.collapses:
                x = x[:, -1]
        return x

    def stream(self, batch_size: int = 1) -> NumpyStream:
        """`batch_size` independent streams with carried state (see `NumpyStream`)."""
        return NumpyStream(self, batch_size)


class NumpyStream:
    """Step-by-step inference on NumPy with the API of `gated.runtime.Stream`."""

    def __init__(self, model: NumpyModel, batch_size: int = 1) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"Argument `batch_size` of stream() must be a positive integer, "
                             f"received batch_size={batch_size!r}.")
        collapsed = None
        for layer in model.layers:
            if isinstance(layer, _Bidirectional):
                layer.run(None, None, [])  # raises: cannot stream
            if collapsed and layer.stateful:
                raise Unsupported(f"Layer '{layer.name}' cannot stream: layer '{collapsed}' "
                                  "before it returns only its last output.")
            collapsed = collapsed or (layer.name if layer.collapses else None)
        self.model, self.batch_size = model, int(batch_size)
        self.reset()

    def _shapes(self) -> dict[str, tuple]:
        return {f"{layer.name}.{k}": s for layer in self.model.layers
                for k, s in layer.state_shapes(self.batch_size).items()}

    def reset(self, i: int | None = None) -> None:
        """Restart stream `i` (all when None) from the zero state."""
        if i is None:
            self._states = {layer.name: [np.zeros(s, np.float32) for s in
                                         layer.state_shapes(self.batch_size).values()]
                            for layer in self.model.layers}
            return
        if not isinstance(i, (int, np.integer)) or not -self.batch_size <= i < self.batch_size:
            raise ValueError(f"Argument `i` of reset() must be a stream index in "
                             f"[0, {self.batch_size}), received i={i!r}.")
        for states in self._states.values():
            for s in states:
                s[i] = 0

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every carried array, `'<layer>.<state>' -> (batch, n)` (copies)."""
        out = {}
        for layer in self.model.layers:
            for key, value in zip(layer.state_shapes(self.batch_size),
                                  self._states[layer.name], strict=True):
                out[f"{layer.name}.{key}"] = value.copy()
        return out

    def load_state_dict(self, state: dict) -> None:
        """Continue from a `state_dict()` (of either runtime); ValueError on a misfit."""
        shapes = self._shapes()
        missing, unexpected = set(shapes) - set(state), set(state) - set(shapes)
        if missing or unexpected:
            raise ValueError(f"Argument `state` of load_state_dict() does not fit this stream: "
                             f"missing {sorted(missing)}, unexpected {sorted(unexpected)}.")
        new = {}
        for layer in self.model.layers:
            arrays = []
            for key in layer.state_shapes(self.batch_size):
                full = f"{layer.name}.{key}"
                value = np.array(state[full], dtype=np.float32)
                if value.shape != shapes[full]:
                    raise ValueError(f"Argument `state` of load_state_dict(): '{full}' must "
                                     f"have shape {shapes[full]}, received {value.shape}.")
                arrays.append(value)
            new[layer.name] = arrays
        self._states = new

    def step(self, x: Any, mask: Any = None) -> np.ndarray:
        """One step `(batch, ...)` or a chunk `(batch, time, ...)`; returns its output(s)."""
        arr = np.asarray(x)
        seq = arr.ndim == len(self.model.input_shape)
        arr = self.model._check(arr, seq=seq, batch=self.batch_size)
        if not seq:
            arr = arr[:, None]
        keep = None
        if mask is not None:
            keep = np.asarray(mask, bool)
            want = arr.shape[:2] if seq else (self.batch_size,)
            if keep.shape != tuple(want):
                raise ValueError(f"Argument `mask` of step() must have shape {tuple(want)}, "
                                 f"received {keep.shape}.")
            keep = keep if seq else keep[:, None]
        for layer in self.model.layers:
            arr, keep, self._states[layer.name] = layer.run(arr, keep, self._states[layer.name])
        return arr if seq else arr[:, 0]


def load(path: str | Path) -> NumpyModel:
    """Load a model saved by `model.save(path)` for NumPy inference.

    Raises:
        ValueError: the file is truncated, corrupted or not a gated model (names the file).
        Unsupported: a layer the runtime does not run (names the layer).

    Example:
        >>> model = gated.runtime.numpy.load("model.gated")
        >>> y = model.predict(x)
    """
    path = Path(path)
    config, weights = _read(path)
    specs, shape = _chain(config, path)
    layers = [build_layer(spec, _weights_of(weights, spec["config"]["name"]))
              for spec in specs if spec["class_name"] != "InputLayer"]
    return NumpyModel(layers, shape, name=config.get("config", {}).get("name", "model"))
