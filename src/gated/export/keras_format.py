"""Keras 3 `.keras` files: load one into an equal gated model, and write a gated model as one.

A `.keras` file is a zip of `metadata.json`, `config.json` (the model's Keras config) and
`model.weights.h5`, whose groups follow the model's object tree: `layers/<name>/vars/<i>` for a
layer's own weights, `layers/<name>/cell/vars/<i>` for a recurrent cell's, `forward_layer`/
`backward_layer` under a `Bidirectional`, `layer` under a `TimeDistributed`; `<name>` is the
layer's class in snake case, numbered `_1`, `_2`, ... from its second occurrence. gated keeps
Keras' weight shapes and order, so weights map one to one.

Supported layers: LSTM, GRU, SimpleRNN, Dense, Dropout, Activation, LayerNormalization,
Embedding, Masking, TimeDistributed, Bidirectional, Flatten, RepeatVector and the merges, in a
`Sequential` or a functional model. Initializers, regularizers and
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
from pathlib import Path
from typing import Any

from gated._checks import to_snake_case
from gated.export.errors import NotExportable
from gated.export.keras_read import SUPPORTED, _h5py, load_keras, model_class

__all__ = ["SUPPORTED", "keras_layer_config", "load_keras", "save_keras"]

_RNN_KEYS = ("name", "trainable", "dtype", "return_sequences", "return_state", "go_backwards",
             "stateful", "unroll", "zero_output_for_mask", "units", "activation",
             "recurrent_activation", "use_bias", "unit_forget_bias", "dropout",
             "recurrent_dropout", "seed", "reset_after")
#: gated LSTM options and the value Keras' LSTM has (anything else has no Keras form).
_KERAS_LSTM = {"input_gate": True, "forget_gate": True, "output_gate": True, "peephole": False,
               "coupled_gates": False, "full_gate_recurrence": False, "proj_size": 0,
               "layer_norm": False, "zoneout_cell": 0.0, "zoneout_hidden": 0.0}


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
    "Add": (), "Multiply": (), "Average": (), "Concatenate": ("axis",),
}
_RNN_CLASSES = ("LSTM", "GRU", "SimpleRNN")


def keras_layer_config(layer: Any) -> dict:
    """gated layer -> Keras 3's `{"module", "class_name", "config"}` (ValueError naming the
    layer and option when Keras has no such layer or option)."""

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


def _functional_config(model: Any) -> tuple[dict, list]:
    """Keras 3's Functional config of a gated functional model, and its layers in Keras'
    order (InputLayer first). Raises when Keras' weight-file names could not be matched: two
    weighted layers of one class on parallel branches."""
    graph = model._graph
    if len(graph.inputs) != 1:
        raise NotExportable(f"Model '{model.name}': the .keras writer takes one input.")
    ancestors: dict[int, set[int]] = {}
    entries, ordered, seen = [], [], set()
    for node in graph.nodes:
        layer = node.layer
        if id(layer) in seen:
            raise NotExportable(f"Layer '{layer.name}' is called more than once; the .keras "
                                "writer takes layers called once.")
        seen.add(id(layer))
        tensors = node.inputs if isinstance(node.inputs, (list, tuple)) else [node.inputs]
        ancestors[id(node)] = set().union(*[{id(t.node)} | ancestors[id(t.node)]
                                            for t in tensors]) if tensors else set()
        ordered.append((node, layer))
        if type(layer).__name__ == "InputLayer":
            shape = [None if d is None else int(d) for d in graph.inputs[0].shape]
            entries.append({"module": "keras.layers", "class_name": "InputLayer",
                            "registered_name": None, "name": layer.name, "inbound_nodes": [],
                            "config": {"batch_shape": shape, "name": layer.name,
                                       "dtype": "float32", "sparse": False,
                                       "ragged": False}})
            continue
        if set(node.call_kwargs) - {"training", "mask"}:
            raise NotExportable(f"Layer '{layer.name}' is called with arguments the .keras "
                                "writer does not carry.")

        def ref(t: Any) -> dict:
            return {"class_name": "__keras_tensor__", "config": {
                "shape": [None if d is None else int(d) for d in t.shape], "dtype": "float32",
                "keras_history": [t.node.layer.name, 0, 0]}}

        args = [[ref(t) for t in tensors]] if isinstance(node.inputs, (list, tuple)) \
            else [ref(tensors[0])]
        entry = keras_layer_config(layer)
        entry.update(name=layer.name, inbound_nodes=[{"args": args, "kwargs": {}}])
        entries.append(entry)
    by_class: dict[str, list] = {}
    for node, layer in ordered:
        if layer.get_weights():
            by_class.setdefault(type(layer).__name__, []).append((node, layer))
    for group in by_class.values():
        for (node_a, a), (node_b, b) in zip(group, group[1:], strict=False):
            if id(node_a) not in ancestors[id(node_b)]:
                raise NotExportable(f"Layers '{a.name}' and '{b.name}' ({type(a).__name__}) "
                                    "run on parallel branches: Keras' weight file names them "
                                    "by an order the .keras writer does not reproduce.")
    refs = lambda ts: [[t.node.layer.name, 0, 0] for t in ts]  # noqa: E731
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "registered_name": "Functional", "build_config": {"input_shape": None},
              "config": {"name": model.name, "trainable": True, "layers": entries,
                         "input_layers": refs(graph.inputs)[0],
                         "output_layers": refs(graph.outputs)[0] if graph.single_output
                         else refs(graph.outputs)}}
    return config, [layer for _, layer in ordered]


def _keras_object(obj: Any) -> Any:
    """Keras' serialization of a loss or optimizer, naming Keras' module for gated's built-in
    classes so that Keras 3 can compile the model it loads (a user class keeps its own)."""
    from gated.losses import LossFunctionWrapper
    from gated.serialization import serialize_keras_object

    if isinstance(obj, LossFunctionWrapper) and not obj._fn_kwargs:
        obj = obj.fn  # a function loss: saved as the function, as Keras does
    config = serialize_keras_object(obj)
    if isinstance(config, dict) and str(config.get("module", "")).startswith("gated."):
        for kind in ("optimizers", "losses"):
            if config["module"].startswith(f"gated.{kind}"):
                config["module"] = f"keras.{kind}"
    return config


def keras_compile_config(model: Any) -> dict | None:
    """Keras 3's `compile_config` of a compiled model (optimizer, loss, loss weights, metric
    names), or None when the model is not compiled or its optimizer is a raw torch one."""
    from gated.optimizers import TorchOptimizer

    if not getattr(model, "compiled", False) or isinstance(model.optimizer, TorchOptimizer):
        return None
    metrics = [m for m in getattr(model, "_metric_identifiers", []) if isinstance(m, str)]
    return {"optimizer": _keras_object(model.optimizer),
            "loss": None if model.loss is None else _keras_object(model.loss),
            "loss_weights": None, "metrics": metrics or None, "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def save_keras(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write a built gated `Sequential` or functional model as a Keras 3 `.keras` file,
    atomically.

    Raises:
        NotExportable (a ValueError): a layer or option Keras 3 does not have (named), a
            subclassed model, or a functional model whose weights Keras would name ambiguously
            (two weighted layers of one class on parallel branches).
    """
    from gated.layers import Embedding
    from gated.models.saving import atomic_write

    h5py = _h5py()
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: call it once before saving.")
    if getattr(model, "_graph", None) is not None:
        config, weighted = _functional_config(model)
    elif isinstance(model, model_class("Sequential")):
        shape = [None if d is None else int(d) for d in model._build_input_shape]
        first = model.layers[0] if model.layers else None
        input_layer = {"module": "keras.layers", "class_name": "InputLayer",
                       "registered_name": None,
                       "config": {"batch_shape": shape, "name": f"{model.name}_input",
                                  "dtype": "int32" if isinstance(first, Embedding)
                                  else "float32", "sparse": False, "ragged": False}}
        layers = [input_layer] + [keras_layer_config(layer) for layer in model.layers]
        config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
                  "config": {"name": model.name, "trainable": True, "dtype": "float32",
                             "layers": layers, "build_input_shape": shape},
                  "build_config": {"input_shape": shape}}
        weighted = list(model.layers)
    else:
        raise NotExportable(f"Model '{model.name}' ({type(model).__name__}): the .keras writer "
                            "takes Sequential and functional models; save it as '.gated'.")
    compile_config = keras_compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        group, used = f.create_group("layers"), {}
        for layer in weighted:
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
