"""Keras 3 `.keras` files: load one into an equal gated model, and write a gated model as one.

A `.keras` file is a zip of `metadata.json`, `config.json` (the model's Keras config) and
`model.weights.h5`, whose groups follow the model's object tree: `layers/<name>/vars/<i>` for a
layer's own weights, `layers/<name>/cell/vars/<i>` for a recurrent cell's, `forward_layer`/
`backward_layer` under a `Bidirectional`, `layer` under a `TimeDistributed`; `<name>` is the
layer's class in snake case, numbered `_1`, `_2`, ... from its second occurrence. gated keeps
Keras' weight shapes and order, so weights map one to one.

Supported layers: LSTM, GRU, SimpleRNN, Dense, Dropout, Activation, LayerNormalization,
Embedding, Masking, TimeDistributed, Bidirectional, Flatten, RepeatVector (in a `Sequential` or
a functional model when loading; a `Sequential` when writing). Initializers, regularizers and
constraints are not carried (they do not change inference). A gated-only option (peepholes,
variants, layer norm in a cell, ...) has no Keras form: writing it raises naming the layer.
Needs `h5py` (installed with Keras).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from gated._checks import to_snake_case

SUPPORTED = ("LSTM", "GRU", "SimpleRNN", "Dense", "Dropout", "Activation",
             "LayerNormalization", "Embedding", "Masking", "TimeDistributed", "Bidirectional",
             "Flatten", "RepeatVector", "InputLayer")
_RNN_KEYS = ("name", "trainable", "dtype", "return_sequences", "return_state", "go_backwards",
             "stateful", "unroll", "zero_output_for_mask", "units", "activation",
             "recurrent_activation", "use_bias", "unit_forget_bias", "dropout",
             "recurrent_dropout", "seed", "reset_after")
#: gated LSTM options and the value Keras' LSTM has (anything else has no Keras form).
_KERAS_LSTM = {"input_gate": True, "forget_gate": True, "output_gate": True, "peephole": False,
               "coupled_gates": False, "full_gate_recurrence": False, "proj_size": 0,
               "layer_norm": False, "zoneout_cell": 0.0, "zoneout_hidden": 0.0}
_DROP = ("initializer", "regularizer", "constraint")


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as err:
        raise ImportError("Keras .keras files need h5py: pip install 'gated[keras]' "
                          "(or h5py).") from err
    return h5py


def _fail(path: Any, why: str) -> ValueError:
    return ValueError(f"Cannot load the Keras file '{path}': {why}.")


# ---------------------------------------------------------------------- loading
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


def load_keras(filepath: str | os.PathLike) -> Any:
    """Load a Keras 3 `.keras` file into an equal gated model (weights included).

    Raises:
        ValueError: the file is truncated, corrupted or not a `.keras` file, or a layer has
            no gated equivalent (the file and the layer are named).
    """
    from gated.layers import Input
    from gated.models import Model, Sequential

    h5py = _h5py()
    path = Path(filepath)
    members = _read_members(path)
    for required in ("config.json", "model.weights.h5"):
        if required not in members:
            raise _fail(path, f"'{required}' is missing")
    try:
        config = json.loads(members["config.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _fail(path, f"invalid JSON ({err})") from None
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
    return model


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


# ---------------------------------------------------------------------- writing
_KEYS = {
    "Dense": ("units", "activation", "use_bias"),
    "Dropout": ("rate", "noise_shape", "seed"),
    "Activation": ("activation",),
    "LayerNormalization": ("axis", "epsilon", "center", "scale"),
    "Embedding": ("input_dim", "output_dim", "mask_zero"),
    "Masking": ("mask_value",),
    "Flatten": (),
    "RepeatVector": ("n",),
    "TimeDistributed": ("layer",),
    "Bidirectional": ("layer", "backward_layer", "merge_mode"),
}
_RNN_CLASSES = ("LSTM", "GRU", "SimpleRNN")


def keras_layer_config(layer: Any) -> dict:
    """gated layer -> Keras 3's `{"module", "class_name", "config"}` (ValueError naming the
    layer and option when Keras has no such layer or option)."""
    from gated.export.onnx_graph import NotExportable

    cls = type(layer).__name__
    where = f"Layer '{layer.name}' ({cls})"
    if cls not in SUPPORTED or cls == "InputLayer":
        raise NotExportable(f"{where} has no Keras 3 form (supported: {', '.join(SUPPORTED)}).")
    cfg = layer.get_config()
    if cls == "LSTM":
        for key, keras_value in _KERAS_LSTM.items():
            if cfg.get(key, keras_value) != keras_value:
                raise NotExportable(f"{where}: {key}={cfg[key]!r} has no Keras 3 form (Keras' "
                                    f"LSTM has {key}={keras_value!r}); save as '.gated'.")
        for key in ("input_activation", "output_activation"):
            if cfg.get(key, cfg["activation"]) != cfg["activation"]:
                raise NotExportable(f"{where}: {key}={cfg[key]!r} differs from activation="
                                    f"{cfg['activation']!r}, which Keras 3 cannot express.")
    if cls in _RNN_CLASSES:
        keys = _RNN_KEYS
    else:
        keys = ("name", "trainable", "dtype", *_KEYS[cls])
    out = {k: cfg[k] for k in keys if k in cfg}
    if cls in ("TimeDistributed", "Bidirectional"):
        out["layer"] = keras_layer_config(layer.forward_layer if cls == "Bidirectional"
                                          else layer.layer)
    if cls == "Bidirectional":
        out["backward_layer"] = keras_layer_config(layer.backward_layer)
    return {"module": "keras.layers", "class_name": cls, "config": out,
            "registered_name": None}


def _write_layer(group: Any, layer: Any) -> None:
    cls = type(layer).__name__
    own = group.create_group("vars")
    own.attrs["name"] = layer.name
    if cls in _RNN_CLASSES:
        cell = group.create_group("cell").create_group("vars")
        cell.attrs["name"] = layer.cell.name
        for k, w in enumerate(layer.cell.get_weights()):
            cell.create_dataset(str(k), data=w)
    elif cls == "Bidirectional":
        _write_layer(group.create_group("forward_layer"), layer.forward_layer)
        _write_layer(group.create_group("backward_layer"), layer.backward_layer)
    elif cls == "TimeDistributed":
        _write_layer(group.create_group("layer"), layer.layer)
    else:
        for k, w in enumerate(layer.get_weights()):
            own.create_dataset(str(k), data=w)


def save_keras(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write a built gated `Sequential` as a Keras 3 `.keras` file, atomically.

    Raises:
        NotExportable (a ValueError): a layer or option Keras 3 does not have (named), or a
            model that is not a `Sequential`.
    """
    from gated.export.onnx_graph import NotExportable
    from gated.layers import Embedding
    from gated.models import Sequential
    from gated.models.saving import atomic_write

    h5py = _h5py()
    if not isinstance(model, Sequential):
        raise NotExportable(f"Model '{model.name}': the .keras writer takes a Sequential model; "
                            "save other models as '.gated'.")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: call it once before saving.")
    shape = [None if d is None else int(d) for d in model._build_input_shape]
    first = model.layers[0] if model.layers else None
    input_layer = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                   "config": {"batch_shape": shape, "name": f"{model.name}_input",
                              "dtype": "int32" if isinstance(first, Embedding) else "float32",
                              "sparse": False, "ragged": False}}
    layers = [input_layer] + [keras_layer_config(layer) for layer in model.layers]
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": model.name, "trainable": True, "dtype": "float32",
                         "layers": layers, "build_input_shape": shape},
              "build_config": {"input_shape": shape}}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        group, used = f.create_group("layers"), {}
        for layer in model.layers:
            base = to_snake_case(type(layer).__name__)
            used[base] = used.get(base, -1) + 1
            _write_layer(group.create_group(base if not used[base] else
                                            f"{base}_{used[base]}"), layer)
    metadata = {"keras_version": "3.0.0", "producer": "gated",
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", json.dumps(metadata))
            zf.writestr("config.json", json.dumps(config))
            zf.writestr("model.weights.h5", buffer.getvalue())

    return atomic_write(filepath, write, overwrite)
