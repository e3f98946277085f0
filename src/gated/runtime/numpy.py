"""A torch-free runtime: load a saved `.gated` model with NumPy and safetensors only, and run
`predict` or stream it step by step (for devices without PyTorch).

    import gated.runtime.numpy as rt
    model = rt.load("model.gated")
    y = model.predict(x)                      # (batch, time, features) -> outputs
    stream = model.stream(batch_size=1)
    y_t = stream.step(x_t)                    # one step (batch, features), state carried

Runs the LSTM family (every option), GRU, SimpleRNN and `RNN` of their cells (stacked too),
`Bidirectional` (predict only), and `Dense`, `Embedding`, `TimeDistributed`, `Dropout`,
`LayerNormalization`, `Activation`, `Masking`, `Add`, `Multiply`, `Average`, `Concatenate`,
in a `Sequential` or a functional model (one input, each layer called once).
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


def _refs(args: Any) -> tuple[list[str], bool]:
    """The producer names in a saved node's `args`, and whether they form a list (a merge)."""
    if isinstance(args, dict) and "__keras_tensor__" in args:
        return [args["__keras_tensor__"][0]], False
    if isinstance(args, list) and all(isinstance(a, dict) and "__keras_tensor__" in a
                                      for a in args):
        return [a["__keras_tensor__"][0] for a in args], True
    raise ValueError(f"unexpected node arguments {args!r}")


def _graph(config: dict, path: Path) -> tuple[list[dict], list, tuple, list[str]]:
    """(layer configs in run order, their sources, input shape, output names) of a saved
    Sequential or functional model; sources are `(names, is_list)`, None for the input."""
    cls, cfg = config.get("class_name"), config.get("config", {})
    if cls == "Sequential":
        shape = cfg.get("build_input_shape")
        if shape is None:
            raise ValueError(f"Cannot load the model file '{path}': no input shape saved.")
        specs = [s for s in cfg["layers"] if s["class_name"] != "InputLayer"]
        sources = [([specs[k - 1]["config"]["name"]], False) if k else None
                   for k in range(len(specs))]
        return specs, sources, tuple(shape), [specs[-1]["config"]["name"]] if specs else []
    if cls not in ("Model", "Functional"):
        raise Unsupported(f"Model class {cls!r} of '{path}' is not supported by the NumPy "
                          "runtime.")
    inputs = [s for s in cfg["layers"] if s["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise Unsupported(f"Model '{path}' has {len(inputs)} inputs; the NumPy runtime takes "
                          "one.")
    specs, sources = [], []
    for spec in cfg["layers"]:
        if spec["class_name"] == "InputLayer":
            continue
        nodes = spec.get("inbound_nodes", [])
        if len(nodes) != 1 or nodes[0].get("kwargs"):
            raise Unsupported(f"Layer '{spec['name']}' of '{path}': the NumPy runtime runs "
                              "layers called once, without call arguments.")
        names, is_list = _refs(nodes[0]["args"])
        names = [None if n == inputs[0]["name"] else n for n in names]
        specs.append(spec)
        sources.append((names, is_list))
    outs = cfg["output_layers"]
    outs = [outs] if outs and isinstance(outs[0], str) else outs
    return specs, sources, tuple(inputs[0]["config"]["batch_shape"]), [o[0] for o in outs]


class NumpyModel:
    """A saved model running on NumPy: `predict(x)` and `stream(batch_size)`."""

    def __init__(self, layers: list, input_shape: tuple, name: str = "model",
                 sources: list | None = None, outputs: list[str] | None = None) -> None:
        self.layers, self.input_shape, self.name = layers, tuple(input_shape), name
        self.ids = input_shape is not None and len(input_shape) == 2
        self.sources = sources or [([layers[k - 1].name], False) if k else None
                                   for k in range(len(layers))]
        self.outputs = outputs or [layers[-1].name]

    def run(self, x: np.ndarray, keep: Any, apply: Any) -> Any:
        """Feed `x` through the graph, `apply(layer, x, keep) -> (y, keep)` per layer."""
        values: dict[Any, tuple] = {None: (x, keep)}
        for layer, source in zip(self.layers, self.sources, strict=True):
            if source is None:
                xin, kin = x, keep
            else:
                names, is_list = source
                got = [values[n] for n in names]
                if is_list:
                    xin = [v for v, _ in got]
                    masks = [m for _, m in got if m is not None]
                    kin = np.logical_and.reduce(masks) if masks else None
                else:
                    xin, kin = got[0]
            values[layer.name] = apply(layer, xin, kin)
        outs = [values[n][0] for n in self.outputs]
        return outs[0] if len(outs) == 1 else outs

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
        return self.run(x, None, _predict_layer)

    def stream(self, batch_size: int = 1) -> NumpyStream:
        """`batch_size` independent streams with carried state (see `NumpyStream`)."""
        return NumpyStream(self, batch_size)


def _predict_layer(layer: Any, x: Any, keep: Any) -> tuple[Any, Any]:
    """One layer over whole sequences (zero initial states)."""
    if isinstance(layer, _Bidirectional):
        return layer.predict(x, keep)
    batch = len(x[0]) if isinstance(x, list) else len(x)
    states = [np.zeros(s, np.float32) for s in layer.state_shapes(batch).values()]
    if getattr(layer, "go_backwards", False):
        # outputs in processing order and the mask passed on unchanged, as in gated and Keras
        x, out_keep, _ = layer.scan(x[:, ::-1], None if keep is None else keep[:, ::-1],
                                    states)
        keep = None if out_keep is None else keep
    else:
        x, keep, _ = layer.run(x, keep, states)
    return (x[:, -1] if layer.collapses else x), keep


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
        def apply(layer: Any, x: Any, k: Any) -> tuple[Any, Any]:
            y, k, self._states[layer.name] = layer.run(x, k, self._states[layer.name])
            return y, k

        out = self.model.run(arr, keep, apply)
        if isinstance(out, list):
            return out if seq else [o[:, 0] for o in out]
        return out if seq else out[:, 0]


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
    try:
        specs, sources, shape, outputs = _graph(config, path)
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, Unsupported):
            raise
        raise ValueError(f"Cannot load the model file '{path}': invalid model config "
                         f"({err}).") from None
    layers = []
    for spec in specs:
        name = spec.get("config", {}).get("name", spec.get("class_name"))
        try:
            layers.append(build_layer(spec, _weights_of(weights, name)))
        except Unsupported:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise ValueError(f"Cannot load the model file '{path}': layer '{name}' has missing "
                             f"or malformed weights or config ({type(err).__name__}: {err})."
                             ) from None
    return NumpyModel(layers, shape, name=config.get("config", {}).get("name", "model"),
                      sources=sources, outputs=outputs)
