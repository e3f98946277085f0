"""Reading Keras 3 `.keras` files into equal gated models (see `gated.export.keras_format`
for the file layout). Separate from the writer so that `gated.models.saving` can read `.keras`
files without an import cycle: this module imports no `gated.models` module (the model classes
come from the serialization registry).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED = ("LSTM", "GRU", "SimpleRNN", "Dense", "Dropout", "Activation",
             "LayerNormalization", "Embedding", "Masking", "TimeDistributed", "Bidirectional",
             "Flatten", "RepeatVector", "Add", "Multiply", "Average", "Concatenate",
             "InputLayer")
_DROP = ("initializer", "regularizer", "constraint")


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as err:
        raise ImportError("Keras .keras files need h5py: pip install 'gated[keras]' "
                          "(or h5py).") from err
    return h5py


def model_class(name: str) -> Any:
    """gated's `Sequential` or `Model` class, from the serialization registry."""
    from gated.serialization import get_registered_object

    cls = get_registered_object(name)
    if cls is None:  # the model classes register themselves when gated.models is imported
        importlib.import_module("gated.models")
        cls = get_registered_object(name)
    return cls


def _fail(path: Any, why: str) -> ValueError:
    return ValueError(f"Cannot load the Keras file '{path}': {why}.")


def _accepted(cls: str) -> set[str]:
    from gated import layers
    from gated.layers.recurrent import _LAYER_ARGS, _RNN_ARGS, _accepted_args

    klass = getattr(layers, cls)
    names = _accepted_args(klass) | set(_LAYER_ARGS)
    cell_class = getattr(klass, "cell_class", None)
    if cell_class is not None:
        names |= _accepted_args(cell_class) | set(_RNN_ARGS) | {"use_cudnn"}
    return names


def _gated_config(cls: str, cfg: dict, where: str) -> dict:
    """A Keras layer config as gated's layer arguments (a Keras-only argument at a value
    other than off raises naming it)."""
    out, accepted = {}, _accepted(cls)
    for key, value in cfg.items():
        if key not in accepted and not any(part in key for part in _DROP):
            if value not in (None, False, 0, 0.0, {}, []):
                raise ValueError(f"{where}: argument {key}={value!r} has no gated equivalent.")
            continue
        if any(part in key for part in _DROP) or key in ("quantization_config", "sparse",
                                                          "ragged", "optional", "lora_rank",
                                                          "lora_alpha"):
            continue
        if key == "axis" and isinstance(value, list) and len(value) == 1:
            value = value[0]
        if key == "dtype" and isinstance(value, dict):
            value = value.get("config", {}).get("name", "float32")
        if key in ("layer", "backward_layer") and isinstance(value, dict):
            value = _build_layer(value, where)
        if isinstance(value, dict) and key not in ("layer", "backward_layer"):
            kind = value.get("class_name")
            raise ValueError(f"{where}: argument '{key}' is a Keras object ({kind}) that "
                             "gated cannot read.")
        out[key] = value
    return out


def _build_layer(spec: dict, where_file: Any) -> Any:
    from gated import layers

    cls = spec.get("class_name")
    name = spec.get("config", {}).get("name", cls)
    if cls not in SUPPORTED or cls == "InputLayer":
        raise ValueError(f"Cannot load the Keras file '{where_file}': layer '{name}' ({cls}) "
                         f"has no gated equivalent here (supported: {', '.join(SUPPORTED)}).")
    where = f"Cannot load the Keras file '{where_file}': layer '{name}' ({cls})"
    return getattr(layers, cls)(**_gated_config(cls, spec["config"], where))


def _read_members(path: Path) -> dict[str, bytes]:
    if not path.exists():
        raise FileNotFoundError(f"No Keras file at '{path}'.")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise ValueError(f"member '{bad}' is corrupted (CRC mismatch)")
            return {name: zf.read(name) for name in zf.namelist()}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise _fail(path, f"it is truncated or corrupted, or not a .keras file ({err})") \
            from None


def _vars(group: Any) -> list[np.ndarray]:
    if group is None or "vars" not in group:
        return []
    v = group["vars"]
    return [np.asarray(v[str(k)]) for k in range(len(v))]


def _layer_weights(group: Any) -> list[np.ndarray]:
    """A layer's weights in Keras (= gated) order from its h5 group."""
    out = _vars(group)
    children = [c for c in ("forward_layer", "backward_layer") if c in group] or \
        sorted(k for k in group if k != "vars")
    for child in children:
        out += _layer_weights(group[child])
    return out


def load_keras(filepath: str | os.PathLike, compile: bool = True) -> Any:
    """Load a Keras 3 `.keras` file into an equal gated model (weights included), compiled
    with the file's `compile_config` (optimizer, loss, metrics) when it has one and `compile`.

    Raises:
        ValueError: the file is truncated, corrupted or not a `.keras` file, or a layer has
            no gated equivalent (the file and the layer are named).
    """
    from gated.layers import Input

    h5py = _h5py()
    Sequential, Model = model_class("Sequential"), model_class("Model")
    path = Path(filepath)
    members = _read_members(path)
    for required in ("config.json", "model.weights.h5"):
        if required not in members:
            raise _fail(path, f"'{required}' is missing")
    try:
        config = json.loads(members["config.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _fail(path, f"invalid JSON ({err})") from None
    try:
        model, built = _build_model(config, path, Input, Sequential, Model)
    except (KeyError, IndexError, TypeError) as err:
        raise _fail(path, f"invalid model config ({type(err).__name__}: {err})") from None
    _load_weights(members, built, path, h5py)
    compile_config = config.get("compile_config")
    if compile and isinstance(compile_config, dict) and compile_config.get("loss") is not None:
        _compile(model, compile_config, path)
    return model


def _compile(model: Any, config: dict, path: Path) -> None:
    """Compile `model` as the file's Keras `compile_config` says (names the file on failure)."""
    from gated.serialization import deserialize_keras_object

    def resolve(value: Any) -> Any:
        return deserialize_keras_object(value) if isinstance(value, dict) else value

    try:
        model.compile(optimizer=resolve(config.get("optimizer")) or "rmsprop",
                      loss=resolve(config["loss"]), metrics=config.get("metrics"),
                      loss_weights=config.get("loss_weights"))
    except (ValueError, TypeError, KeyError) as err:
        raise _fail(path, f"its compile_config cannot be restored ({err}); load it with "
                          "compile=False") from None


def _build_model(config: dict, path: Path, Input: Any, Sequential: Any,
                 Model: Any) -> tuple[Any, list]:
    cls, cfg = config.get("class_name"), config.get("config", {})
    specs = cfg.get("layers", [])
    if cls == "Sequential":
        inputs = [s for s in specs if s["class_name"] == "InputLayer"]
        shape = inputs[0]["config"]["batch_shape"] if inputs else cfg.get("build_input_shape")
        if shape is None:
            raise _fail(path, "the model has no input shape")
        dtype = inputs[0]["config"].get("dtype", "float32") if inputs else "float32"
        built = [_build_layer(s, path) for s in specs if s["class_name"] != "InputLayer"]
        model = Sequential([Input(tuple(shape[1:]), dtype=dtype if dtype != "float32" else None),
                            *built], name=cfg.get("name"))
    elif cls in ("Functional", "Model"):
        model = _functional(cfg, path, Input, Model)
        built = model.layers
    else:
        raise _fail(path, f"model class {cls!r} is not supported (Sequential or functional)")
    return model, built


def _load_weights(members: dict, built: list, path: Path, h5py: Any) -> None:
    try:
        weights = h5py.File(io.BytesIO(members["model.weights.h5"]), "r")
    except OSError as err:
        raise _fail(path, f"the weights are corrupted ({err})") from None
    with weights:
        groups = {}
        for key in weights.get("layers", {}):
            group = weights["layers"][key]
            name = group["vars"].attrs.get("name") if "vars" in group else None
            groups[name] = group
        for layer in built:
            own = [p for p in layer.get_weights()]
            if not own:
                continue
            if layer.name not in groups:
                raise _fail(path, f"no weights for layer '{layer.name}'")
            values = _layer_weights(groups[layer.name])
            if [v.shape for v in values] != [w.shape for w in own]:
                raise _fail(path, f"layer '{layer.name}' expects weights of shapes "
                                  f"{[w.shape for w in own]}, the file holds "
                                  f"{[v.shape for v in values]}")
            layer.set_weights(values)


def _functional(cfg: dict, path: Path, Input: Any, Model: Any) -> Any:
    tensors: dict[str, Any] = {}

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return tensors[value["config"]["keras_history"][0]]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    for spec in cfg["layers"]:
        if spec["class_name"] == "InputLayer":
            c = spec["config"]
            dtype = c.get("dtype", "float32")
            tensors[spec["name"]] = Input(tuple(c["batch_shape"][1:]),
                                          dtype=None if dtype == "float32" else dtype)
            continue
        layer = _build_layer(spec, path)
        nodes = spec.get("inbound_nodes", [])
        if len(nodes) != 1:
            raise _fail(path, f"layer '{spec['name']}' is called {len(nodes)} times; gated "
                              "reads layers called once")
        args = resolve(nodes[0]["args"])
        tensors[spec["name"]] = layer(args[0] if len(args) == 1 else args)

    def ends(refs: Any) -> list:
        refs = [refs] if refs and isinstance(refs[0], str) else refs
        return [tensors[r[0]] for r in refs]

    ins, outs = ends(cfg["input_layers"]), ends(cfg["output_layers"])
    return Model(ins[0] if len(ins) == 1 else ins, outs[0] if len(outs) == 1 else outs,
                 name=cfg.get("name"))
