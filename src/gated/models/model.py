"""`Model`: Keras' training API (`compile`, `fit`, `evaluate`, `predict`, ...) on a torch module.

Three ways to get one, as in Keras:
- `Sequential([...])` (see `sequential.py`);
- the functional API, `Model(inputs, outputs)` with `inputs = Input(shape=...)`;
- subclassing: define `call(self, inputs, training=False)` (or `forward`) on a `Model` subclass.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
from typing import Any

import numpy as np
import torch

from gated import distribute
from gated._checks import to_snake_case
from gated.layer import KerasTensor, Layer, unique_name
from gated.models import data as data_utils
from gated.models import trainer, validate
from gated.models.progress import FitProgress


class Model(trainer.TrainerMixin, Layer):
    """A layer with training and inference routines.

    Args:
        inputs: For the functional API, a `KerasTensor` from `Input` (or a list of them).
        outputs: For the functional API, the `KerasTensor`(s) computed from `inputs`.
        name: Model name (default `'functional'`, `'sequential'`, or the class name).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        model = super().__new__(cls)
        # Keras' automatic config of subclassed models: the constructor's keyword arguments.
        model.__dict__["_init_kwargs"] = None if args else dict(kwargs)
        return model

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 **kwargs: Any) -> None:
        if name is None:
            name = unique_name("functional" if inputs is not None else
                               to_snake_case(type(self).__name__))
        super().__init__(name=name, **kwargs)
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._metrics: list = []
        self._output_losses: list | None = None
        self._loss_weights: list[float] | None = None
        self._loss_tracker = None
        self._compile_metrics = None
        self._last_loss_parts: dict[str, torch.Tensor] = {}
        self._compile_config: dict | None = None
        self._graph = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("The functional API needs both `inputs` and `outputs`: "
                                 "Model(inputs, outputs).")
            from gated.models.functional import Graph

            self._graph = Graph(inputs, outputs)
            for i, layer in enumerate(self._graph.layers):
                self.add_module(f"layer_{i}_{layer.name}", layer)
            self.built = True
            self._build_input_shape = self._graph.input_shapes[0]

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        """The model's layers; a functional model lists its `InputLayer`s first, as Keras."""
        if self._graph is not None:
            return list(self._graph.all_layers)
        return _tracked_layers(self)

    @property
    def inputs(self) -> list[KerasTensor] | None:
        """The symbolic inputs of a functional model (a list), as Keras' `model.inputs`."""
        return list(self._graph.inputs) if self._graph is not None else None

    @property
    def outputs(self) -> list[KerasTensor] | None:
        """The symbolic outputs of a functional model (a list), as Keras' `model.outputs`."""
        return list(self._graph.outputs) if self._graph is not None else None

    @property
    def input(self) -> Any:
        """The symbolic input (a list when the model has several), as Keras' `model.input`."""
        if self._graph is None:
            return super().input
        inputs = self._graph.inputs
        return inputs[0] if len(inputs) == 1 else list(inputs)

    @property
    def output(self) -> Any:
        """The symbolic output (a list when the model has several), as Keras' `model.output`."""
        if self._graph is None:
            return super().output
        return self._graph.outputs[0] if self._graph.single_output \
            else list(self._graph.outputs)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """Find a layer by name or by index in `layers`."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No layer named '{name}' in model '{self.name}'. Layers: "
            f"{[layer.name for layer in self.layers]}."
        )

    @property
    def num_inputs(self) -> int:
        return len(self._graph.inputs) if self._graph is not None else 1

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def _check_input(self, shape: tuple) -> None:
        if self._graph is not None:
            self._graph.check_input_shape(0, shape)

    def build(self, input_shape: Any = None) -> None:
        """Create the weights of a subclassed model by calling it once on zeros of
        `input_shape` (batch axis included, `None` for unknown sizes), as Keras does."""
        if self._graph is not None:
            return
        if input_shape is None:
            raise ValueError(f"Model '{self.name}'.build() needs `input_shape`, e.g. "
                             "(None, 10, 3), or a list of shapes for several inputs.")
        many = isinstance(input_shape, list) and input_shape and \
            isinstance(input_shape[0], (list, tuple))
        shapes = [tuple(s) for s in input_shape] if many else [tuple(input_shape)]
        zeros = [torch.zeros([1 if d is None else int(d) for d in s], dtype=self.dtype)
                 for s in shapes]
        self.built = True  # so that the trial call below does not build again
        was_training = self.training
        self.train(False)
        try:
            with torch.no_grad():
                self(zeros if many else zeros[0])
        finally:
            self.train(was_training)
            self._clear_losses()

    def _maybe_build(self, input_shape: Any) -> None:
        if self.built:
            return
        if self._graph is None and type(self).build is Model.build:
            # A subclassed model without its own build(): the weights are created by the
            # layers it calls, on this first call.
            self.built = True
            self._build_input_shape = input_shape
            return
        super()._maybe_build(input_shape)

    def compute_output_shape(self, input_shape: tuple) -> Any:
        if self._graph is not None:
            shapes = [t.shape for t in self._graph.outputs]
            return shapes[0] if len(shapes) == 1 else shapes
        return super().compute_output_shape(input_shape)

    def forward(self, inputs: Any, training: bool = False, mask: Any = None) -> Any:
        if self._graph is not None:
            return self._graph.run(inputs, training=training)
        call = getattr(self, "call", None)
        if call is None:
            raise NotImplementedError(
                f"Model '{self.name}' has no computation: use Sequential, the functional API "
                "Model(inputs, outputs), or define `call(self, inputs, training=False)`."
            )
        return call(inputs, training=training)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if self._graph is not None and isinstance(inputs, (list, tuple)) \
                and not any(isinstance(t, KerasTensor) for t in inputs):
            inputs = [self._to_tensor(t) for t in inputs]
            kwargs.setdefault("training", self.training)
            kwargs.pop("mask", None)
            return torch.nn.Module.__call__(self, inputs, *args, **kwargs)
        return super().__call__(inputs, *args, **kwargs)

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, weighted_metrics: Any = None,
                run_eagerly: bool | None = None, jit_compile: Any = None,
                steps_per_execution: int = 1) -> None:
        """Configure the model for training (Keras' `compile`).

        Args:
            optimizer: Name (`'adam'`, `'sgd'`, `'rmsprop'`, `'adamw'`, `'adagrad'`, ...), a
                `gated.optimizers` instance, or a `torch.optim.Optimizer`.
            loss: Name (`'mse'`, `'mae'`, `'huber'`, `'binary_crossentropy'`,
                `'categorical_crossentropy'`, `'sparse_categorical_crossentropy'`, ...), a
                `gated.losses.Loss`, or a callable `f(y_true, y_pred)`.
            metrics: List of metric names (`'accuracy'`, `'mae'`, `'mse'`, ...) or objects.
            loss_weights, weighted_metrics, run_eagerly, jit_compile, steps_per_execution:
                accepted for Keras compatibility (the model always runs eagerly).
        """
        from gated import losses, optimizers
        from gated import metrics as metrics_module

        self.optimizer = optimizers.get(optimizer)
        names = self.output_names
        self._output_losses = trainer.output_losses(losses, loss, names)
        if self._output_losses is not None and len(self._output_losses) == 1:
            loss, self._output_losses = self._output_losses[0], None
        if self._output_losses is not None:
            self.loss = self._output_losses
            self._loss_weights = trainer.output_weights(loss_weights, names)
        else:
            self.loss = losses.get(loss) if loss is not None else None
            self._loss_weights = trainer.output_weights(loss_weights, ["output"])
        metrics = [] if metrics is None else metrics
        if isinstance(metrics, (str, dict)) or not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        if metrics and self._output_losses is not None:
            raise ValueError(
                "compile(metrics=...) is not supported yet for models with several outputs "
                f"({names}); per-output losses are logged as '<output>_loss'."
            )
        self._metrics = [metrics_module.get(m, loss=self.loss) for m in metrics]
        self._metric_identifiers = list(metrics)
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._compile_metrics = trainer.CompileMetrics(self._metrics) if self._metrics \
            else None
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizer if isinstance(optimizer, str) else None,
            "loss": loss if isinstance(loss, str) else None,
            "metrics": [m for m in metrics if isinstance(m, str)],
        }

    @property
    def output_names(self) -> list[str]:
        """The names of the layers producing the outputs (Keras' `model.output_names`)."""
        if self._graph is not None:
            return [t.node.layer.name for t in self._graph.outputs]
        return ["output"]

    def _assert_compiled(self, method: str, need_loss: bool = True) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"You must call compile() before {method}(): e.g. "
                "model.compile(optimizer='adam', loss='mse')."
            )
        if need_loss and self.loss is None:
            raise ValueError(
                f"{method}() needs a loss: call compile(..., loss=...), received loss=None."
            )

    # ------------------------------------------------------------------ data
    def _prepare(self, x: Any, y: Any, sample_weight: Any, method: str,
                 check_finite: bool, arg_names: tuple = ("x", "y", "sample_weight")) -> tuple:
        validate.check_has_layers(self, method)
        names = self._graph.input_names if self._graph is not None else None
        n_in = self.num_inputs
        if self._graph is None and not hasattr(self, "_layers") and isinstance(x, (list, tuple)) \
                and x and all(isinstance(v, (np.ndarray, torch.Tensor)) for v in x):
            n_in = len(x)  # a subclassed model called on a list of arrays (Keras' structure)
        x = data_utils.to_arrays(x, arg_names[0], self.dtype, method, n_in, names,
                                 check_finite=check_finite)
        validate.check_sample_shapes(x, arg_names[0], method, sequence=True)
        if y is not None:
            n_out = len(self._graph.outputs) if self._graph is not None else 1
            y = data_utils.to_arrays(y, arg_names[1], self.dtype, method, n_out,
                                     self.output_names if n_out > 1 else None,
                                     check_finite=check_finite)
        if sample_weight is not None:
            sample_weight = data_utils.to_arrays(sample_weight, arg_names[2], self.dtype,
                                                 method)
            validate.check_sample_weight(sample_weight, method)
        data_utils.check_same_length(method, **dict(zip(arg_names, (x, y, sample_weight),
                                                        strict=True)))
        self._ensure_built(x)
        return x, y, sample_weight

    def _array_batches(self, x: Any, y: Any, sample_weight: Any, batch_size: int,
                       shuffle: bool = False, steps: int | None = None) -> Any:
        """`(x, y, sample_weight)` batches of checked arrays, on the model's device."""
        device = self.device
        index_batches = data_utils.batches(data_utils.num_samples(x), batch_size, shuffle)
        parallel = distribute.active()
        for index in itertools.islice(index_batches, steps):
            if parallel is not None:  # this process's part of the global batch
                index = parallel.shard(index)
                if parallel.is_empty(index):  # a last batch smaller than the process count
                    continue
            yield tuple(data_utils.to_device(data_utils.take(a, index), device)
                        for a in (x, y, sample_weight))

    def _stream_batches(self, data: Any, method: str, check_finite: bool,
                        steps: int | None = None, class_weight: dict | None = None,
                        shuffle: bool = False) -> Any:
        """`(x, y, sample_weight)` batches from a DataLoader, generator or PyDataset, checked
        as they come. `iter()` restarts a DataLoader each epoch and continues a generator; a
        PyDataset is read by index (in shuffled order with `shuffle`); `islice` never draws a
        batch beyond `steps`."""
        device = self.device
        for item in itertools.islice(data_utils.stream_items(data, shuffle), steps):
            xb, yb, wb = self._prepare(*data_utils.unpack_batch(item), method, check_finite)
            parallel = distribute.active()
            if parallel is not None:  # this process's part of the global batch
                part = parallel.shard(slice(0, data_utils.num_samples(xb)))
                xb, yb, wb = (data_utils.take(a, part) for a in (xb, yb, wb))
            if class_weight is not None and yb is not None:
                wb = _apply_class_weight(yb, wb, class_weight, self.dtype)
            yield tuple(data_utils.to_device(a, device) for a in (xb, yb, wb))
        data_utils.end_stream_pass(data)

    def _ensure_built(self, x: Any) -> None:
        if self.built and all(getattr(layer, "built", True) for layer in self.layers):
            return
        with torch.no_grad():
            self([t[:1] for t in x] if isinstance(x, list) else x[:1])

    # ------------------------------------------------------------------ steps
    def _update_metrics(self, y: torch.Tensor, y_pred: torch.Tensor,
                        sample_weight: torch.Tensor | None) -> None:
        mask = getattr(y_pred, "_keras_mask", None)
        for metric in self._metrics:
            metric.update_state(y, y_pred.detach(), sample_weight=sample_weight, mask=mask)

    def _train_batch(self, x: Any, y: torch.Tensor, sample_weight: Any) -> float:
        self.train()
        y_pred = self(x, training=True)
        loss = self._compute_loss(y, y_pred, sample_weight)
        self.optimizer.zero_grad()
        loss.backward()
        parallel = distribute.active()
        if parallel is not None:  # the mean gradient over the global batch
            parallel.reduce_gradients(self, data_utils.num_samples(x))
        self.optimizer.step()
        if self._metrics:
            self._update_metrics(y, y_pred, sample_weight)
        return float(loss.detach())

    def _build_optimizer(self) -> None:
        if getattr(self.optimizer, "built", False):
            return
        self.optimizer.build([p for p in self.parameters() if p.requires_grad])

    def _reset_metrics(self) -> None:
        for metric in self._metrics:
            metric.reset_state()
        if self._custom_train_step():
            for metric in self.metrics:
                metric.reset_state()

    def _metric_logs(self) -> dict[str, float]:
        return {m.name: float(m.result()) for m in self._metrics}

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: int | None = None, validation_steps: int | None = None,
            validation_batch_size: int | None = None, validation_freq: int = 1) -> Any:
        """Train for `epochs` passes over `(x, y)` (Keras' `fit`).

        Args:
            x, y: Inputs and targets (NumPy, torch, lists); same number of samples. Or `x`
                a DataLoader or generator of `(x, y[, sample_weight])` batches, `y` unset.
            batch_size: Samples per gradient step (default 32).
            epochs: Number of passes over the data.
            verbose: 0 silent, 1 progress bar, 2 one line per epoch (`'auto'` = 1).
            callbacks: List of `gated.callbacks.Callback`.
            validation_split: Fraction of the data, taken from the end before shuffling,
                held out for validation.
            validation_data: `(x_val, y_val)`, `(x_val, y_val, sample_weight_val)`, or a
                DataLoader/generator of such batches (`validation_steps` limits it).
            shuffle: Shuffle the training samples every epoch.
            class_weight: `{class: weight}`, multiplies the sample weights by the class of y.
            sample_weight: Per-sample (or per-time-step) loss weights.
            initial_epoch: Epoch at which to start (to resume a run).
            steps_per_epoch: Number of batches per epoch (default: all).

        Returns:
            A `History` whose `.history` maps `loss`, metrics and `val_*` to per-epoch lists.
        """
        from gated import callbacks as callbacks_module

        self._assert_compiled("fit", need_loss=not self._custom_train_step())
        epochs = _check_int(epochs, "epochs", "fit", minimum=0)
        validate.check_fit_counters(epochs, initial_epoch, validation_freq)
        validate.check_callbacks(callbacks, "fit")
        batch_size = data_utils.check_batch_size(batch_size, "fit")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(
                "Argument `validation_split` of fit() must be in [0, 1), received "
                f"validation_split={validation_split!r}."
            )
        verbose = validate.check_verbose(verbose, "fit")
        # epoch_batches() / val_batches() start one pass of (x, y, sample_weight) batches.
        streaming = data_utils.is_batch_stream(x)
        if streaming:
            data_utils.check_stream_only("fit", y=(y, None), sample_weight=(sample_weight, None),
                                         validation_split=(validation_split, 0.0))
            steps = data_utils.stream_steps(x, steps_per_epoch, "x", "steps_per_epoch", "fit")
            epoch_batches = functools.partial(self._stream_batches, x, "fit", True, steps,
                                              class_weight, shuffle=bool(shuffle))
        else:
            x, y, sample_weight = self._prepare(x, y, sample_weight, "fit", check_finite=True)
            if y is None:
                raise ValueError("Argument `y` of fit() is required (the targets), received "
                                 "None.")
            if class_weight is not None:
                last = self.layers[-1] if self.layers else None
                validate.check_class_weight(class_weight, y, getattr(last, "units", None))
                sample_weight = _apply_class_weight(y, sample_weight, class_weight, self.dtype)

        val_batches = None
        val_size = validation_batch_size or batch_size
        if data_utils.is_batch_stream(validation_data):
            v_steps = data_utils.stream_steps(validation_data, validation_steps,
                                              "validation_data", "validation_steps", "fit")
            val_batches = functools.partial(self._stream_batches, validation_data, "fit", True,
                                            v_steps)
        elif validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "Argument `validation_data` of fit() must be a tuple (x_val, y_val) or "
                    f"(x_val, y_val, sample_weight_val), or a DataLoader, received "
                    f"{type(validation_data).__name__}"
                    + (f" of length {len(validation_data)}"
                       if isinstance(validation_data, (list, tuple)) else "") + "."
                )
            vx, vy, *rest = validation_data
            val = self._prepare(vx, vy, rest[0] if rest else None, "fit", check_finite=True,
                                arg_names=tuple(f"validation_data[{i}]" for i in range(3)))
            val_batches = functools.partial(self._array_batches, *val, val_size)
        elif validation_split:
            n = data_utils.num_samples(x)
            split = int(math.floor(n * (1.0 - float(validation_split))))
            if split == 0 or split == n:
                raise ValueError(
                    f"validation_split={validation_split} of {n} samples leaves "
                    f"{split} for training and {n - split} for validation; both must be > 0."
                )
            val = [data_utils.take(a, slice(split, n)) for a in (x, y, sample_weight)]
            val_batches = functools.partial(self._array_batches, *val, val_size)
            x, y, sample_weight = (data_utils.take(a, slice(0, split))
                                   for a in (x, y, sample_weight))

        if not streaming:
            steps = math.ceil(data_utils.num_samples(x) / batch_size)
            if steps_per_epoch is not None:
                steps = min(steps, _check_int(steps_per_epoch, "steps_per_epoch", "fit", 1))
            epoch_batches = functools.partial(self._array_batches, x, y, sample_weight,
                                              batch_size, shuffle, steps)
        self._build_optimizer()
        parallel = distribute.active()
        if parallel is not None:  # data-parallel: see gated/distribute/data_parallel.py
            parallel.begin_fit(self, self._custom_train_step(), batch_size,
                               None if streaming else data_utils.num_samples(x))
            verbose = verbose if parallel.is_primary else 0
        # Keras order: the user's callbacks first (they may add e.g. `learning_rate` to the
        # logs), then History and the progress bar, which read the logs.
        cb = callbacks_module.CallbackList(callbacks, add_history=True, add_progbar=verbose > 0,
                                           model=self, epochs=epochs, steps=steps,
                                           verbose=verbose)
        history = cb.history
        self.stop_training = False
        cb.on_train_begin()
        # a callback (BackupAndRestore) may resume at a later epoch, as in Keras
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        # The data position; a BackupAndRestore resume moves the start (see progress.py).
        progress = FitProgress(self, initial_epoch)
        try:
            custom = self._custom_train_step()
            for epoch in range(progress.initial_epoch, epochs):
                self._reset_metrics()
                cb.on_epoch_begin(epoch)
                loss_sum, seen = 0.0, 0
                part_sums: dict[str, float] = {}
                logs: dict[str, float] = {}
                first_step, batches = progress.epoch_batches(epoch, epoch_batches)
                for step, (xb, yb, wb) in enumerate(batches, start=first_step):
                    if yb is None and not custom:
                        raise ValueError(
                            "fit() needs targets: each batch of `x` must be (x, y) or "
                            "(x, y, sample_weight), received a batch without y."
                        )
                    cb.on_train_batch_begin(step)
                    if custom:  # the user's train_step (Keras 3): its logs are the logs
                        self.train()
                        logs = trainer.flatten_logs(self.train_step(trainer.pack(xb, yb, wb)))
                        cb.on_train_batch_end(step, logs)
                        if self.stop_training:
                            break
                        continue
                    batch_loss = self._train_batch(xb, yb, wb)
                    size = data_utils.num_samples(xb)
                    loss_sum += batch_loss * size
                    seen += size
                    for key, value in self._last_loss_parts.items():
                        part_sums[key] = part_sums.get(key, 0.0) + float(value) * size
                    logs = {"loss": loss_sum / seen, **self._metric_logs(),
                            **{k: v / seen for k, v in part_sums.items()}}
                    cb.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                if parallel is not None and not custom:
                    loss_sum, seen, part_sums = parallel.sum_logs(loss_sum, seen, part_sums,
                                                                  self._metrics)
                epoch_logs = dict(logs) if custom else {
                    "loss": loss_sum / max(seen, 1), **self._metric_logs(),
                    **{k: v / max(seen, 1) for k, v in part_sums.items()}}
                if val_batches is not None and (epoch + 1) % validation_freq == 0:
                    try:
                        val_logs = self._evaluate_batches(val_batches(), "validation_data")
                    except ValueError as err:  # name the argument the bad data came from
                        raise ValueError(f"Argument `validation_data` of fit(): {err}") from None
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                cb.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        finally:
            self.eval()
            self.__dict__.pop("_fit_progress", None)
        cb.on_train_end()
        self.history = history
        return history

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_batches(self, batches: Any, name: str) -> dict[str, float]:
        self.eval()
        self._reset_metrics()
        if type(self).test_step is not trainer.TrainerMixin.test_step:  # the user's (Keras 3)
            for metric in self.metrics:
                metric.reset_state()
            logs: dict[str, float] = {}
            with torch.no_grad():
                for xb, yb, wb in batches:
                    logs = trainer.flatten_logs(self.test_step(trainer.pack(xb, yb, wb)))
            return logs
        total, count = 0.0, 0
        parts: dict[str, float] = {}
        with torch.no_grad():
            for xb, yb, wb in batches:
                if yb is None:
                    raise ValueError(
                        f"Evaluating needs targets: each batch of `{name}` must be (x, y) or "
                        "(x, y, sample_weight), received a batch without y."
                    )
                y_pred = self(xb, training=False)
                size = data_utils.num_samples(xb)
                total += float(self._compute_loss(yb, y_pred, wb)) * size
                count += size
                for key, value in self._last_loss_parts.items():
                    parts[key] = parts.get(key, 0.0) + float(value) * size
                if self._metrics:
                    self._update_metrics(yb, y_pred, wb)
        parallel = distribute.active()
        if parallel is not None:
            total, count, parts = parallel.sum_logs(total, count, parts, self._metrics)
        if count == 0:
            raise ValueError(f"Argument `{name}` yielded no batch to evaluate on.")
        return {"loss": total / count, **self._metric_logs(),
                **{k: v / count for k, v in parts.items()}}

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 callbacks: list | None = None, return_dict: bool = False) -> Any:
        """Loss (and metrics) on `(x, y)`: a float, a list `[loss, *metrics]`, or a dict.

        `x` may be a DataLoader or generator of `(x, y[, sample_weight])` batches (then `y`
        and `sample_weight` stay unset); `steps` limits the number of batches drawn.
        """
        self._assert_compiled("evaluate")
        batch_size = data_utils.check_batch_size(batch_size, "evaluate")
        if data_utils.is_batch_stream(x):
            data_utils.check_stream_only("evaluate", y=(y, None),
                                         sample_weight=(sample_weight, None))
            n_steps = data_utils.stream_steps(x, steps, "x", "steps", "evaluate")
            batches = self._stream_batches(x, "evaluate", False, n_steps)
        else:
            x, y, sample_weight = self._prepare(x, y, sample_weight, "evaluate",
                                                check_finite=False)
            if y is None:
                raise ValueError("Argument `y` of evaluate() is required, received None.")
            n_steps = None if steps is None else _check_int(steps, "steps", "evaluate", 1)
            batches = self._array_batches(x, y, sample_weight, batch_size, steps=n_steps)
        logs = self._evaluate_batches(batches, "x")
        verbose = validate.check_verbose(verbose, "evaluate")
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None, callbacks: list | None = None) -> Any:
        """Outputs for `x`, computed in batches at inference; returns NumPy array(s).

        `x` may be a DataLoader or generator: its batches are `x` or tuples whose first element
        is `x` (targets are ignored); `steps` limits the number of batches drawn.
        """
        batch_size = data_utils.check_batch_size(batch_size, "predict")
        validate.check_verbose(verbose, "predict")
        validate.check_callbacks(callbacks, "predict")
        if data_utils.is_batch_stream(x):
            n_steps = data_utils.stream_steps(x, steps, "x", "steps", "predict")
            batches = self._stream_batches(x, "predict", False, n_steps)
        else:
            x, _, _ = self._prepare(x, None, None, "predict", check_finite=False)
            n_steps = None if steps is None else _check_int(steps, "steps", "predict", 1)
            batches = self._array_batches(x, None, None, batch_size, steps=n_steps)
        self.eval()
        outputs: list = []
        with torch.no_grad():
            for xb, _, _ in batches:
                outputs.append(self(xb, training=False))
        parallel = distribute.active()
        if parallel is not None:
            outputs = parallel.gather(outputs)
        if not outputs:
            raise ValueError("Argument `x` of predict() holds 0 samples.")
        if isinstance(outputs[0], (list, tuple)):
            return [torch.cat([o[k] for o in outputs]).cpu().numpy()
                    for k in range(len(outputs[0]))]
        return torch.cat(outputs).cpu().numpy()

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False) -> Any:
        """One gradient step on one batch; returns its loss (and metrics)."""
        self._assert_compiled("train_on_batch")
        x, y, sample_weight = self._prepare(x, y, sample_weight, "train_on_batch",
                                            check_finite=True)
        if class_weight is not None:
            sample_weight = _apply_class_weight(y, sample_weight, class_weight, self.dtype)
        self._build_optimizer()
        self._reset_metrics()
        device = self.device
        try:
            loss = self._train_batch(data_utils.to_device(x, device),
                                     data_utils.to_device(y, device),
                                     data_utils.to_device(sample_weight, device))
        finally:
            self.eval()
        logs = {"loss": loss, **self._metric_logs()}
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        """Loss (and metrics) of one batch, without updating the weights."""
        self._assert_compiled("test_on_batch")
        x, y, sample_weight = self._prepare(x, y, sample_weight, "test_on_batch", False)
        if y is None:
            raise ValueError("Argument `y` of test_on_batch() is required, received None.")
        batch = self._array_batches(x, y, sample_weight, data_utils.num_samples(x))
        logs = self._evaluate_batches(batch, "x")
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict_on_batch(self, x: Any) -> Any:
        return self.predict(x, batch_size=max(1, data_utils.num_samples(
            data_utils.to_arrays(x, "x", self.dtype, "predict_on_batch", self.num_inputs))))

    def reset_states(self) -> None:
        """Reset the carried states of every stateful recurrent layer."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_states") \
                    and getattr(module, "stateful", False):
                module.reset_states()

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list[np.ndarray]:
        return [p.detach().cpu().numpy().copy() for p in self._keras_weights()]

    def summary(self, line_length: int | None = None, positions: Any = None,
                print_fn: Any = None, expand_nested: bool = False,
                show_trainable: bool = False) -> None:
        """Print Keras' summary table: layers, output shapes, parameter counts."""
        from gated.models.summary import summary_text

        text = summary_text(self, line_length=line_length, show_trainable=show_trainable)
        (print_fn or print)(text)

    def save(self, filepath: Any, overwrite: bool = True) -> None:
        """Save config, weights and optimizer state to one zip file (no pickle), atomically.

        A path ending in `.keras` gets a real Keras 3 file (config + `model.weights.h5`, no
        optimizer state) that `keras.saving.load_model` reads, when the model (Sequential
        or functional) and its every layer have a Keras form; otherwise gated's own format is
        written under that name with a warning naming the reason (`load_model` reads both).
        See `gated.export.keras_format`.
        """
        if str(filepath).endswith(".keras"):
            from gated.export.errors import NotExportable
            from gated.export.keras_format import save_keras

            try:
                save_keras(self, filepath, overwrite=overwrite)
                return
            except NotExportable as err:
                import warnings

                warnings.warn(f"{err} Wrote gated's own format to '{filepath}' instead: "
                              "gated.models.load_model reads it, Keras cannot.", stacklevel=2)
        from gated.models.saving import save_model

        save_model(self, filepath, overwrite=overwrite)

    def stream(self, batch_size: int = 1) -> Any:
        """Streaming inference: `batch_size` independent streams fed one step (or chunk) at
        a time with carried state; see `gated.runtime.stream.Stream`.

        Example:
            >>> stream = model.stream()
            >>> y_t = stream.step(x_t)
        """
        from gated.runtime.stream import Stream

        return Stream(self, batch_size=batch_size)

    def export(self, filepath: Any, format: str = "onnx", verbose: Any = None,
               input_signature: Any = None, step: bool = False, **kwargs: Any) -> Any:
        """Export for inference (Keras 3's `export`): `format="onnx"` writes an ONNX model
        (dynamic batch and time axes; `step=True`: the streaming step graph); see
        `gated.export.onnx`.

        Example:
            >>> model.export("model.onnx", format="onnx")
        """
        if format != "onnx":
            raise ValueError(f"Argument `format` of export() must be 'onnx', received "
                             f"format={format!r} (a Keras file: model.save('x.keras')).")
        try:
            from gated.export.onnx import export_onnx
        except ImportError as err:
            raise ImportError(f"ONNX export needs the onnx package: pip install 'gated[onnx]' "
                              f"({err}).") from err
        path = export_onnx(self, filepath, step=step)
        if verbose:
            print(f"Saved artifact at '{path}'.")
        return path

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save the weights alone as a `.safetensors` file, atomically."""
        from gated.models.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any) -> None:
        from gated.models.saving import load_weights

        load_weights(self, filepath)

    def get_config(self) -> dict:
        if self._graph is None:
            return self._subclassed_config()
        return {"name": self.name, **self._graph.get_config()}

    def _subclassed_config(self) -> dict:
        """Keras 3's automatic config of a subclassed model: its constructor's keyword
        arguments (JSON values only), its name, and the input shape it was built for."""
        import inspect
        import json

        kwargs = self.__dict__.get("_init_kwargs")
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError):
            kwargs = None
        if kwargs is None:
            raise NotImplementedError(
                f"Model '{self.name}' is a subclassed model whose constructor arguments are not "
                "plain JSON values (or are positional): override get_config() and "
                "from_config() to save it."
            )
        config = dict(kwargs)
        params = inspect.signature(type(self).__init__).parameters
        if "name" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            config["name"] = self.name
        shape = self._build_input_shape
        if shape is not None:
            config["build_input_shape"] = [list(s) for s in shape] \
                if isinstance(shape, list) else list(shape)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Model:
        from gated.models.functional import Graph

        config = dict(config)
        if "layers" not in config:  # a subclassed model: its constructor arguments
            shape = config.pop("build_input_shape", None)
            model = cls(**config)
            if shape is not None:
                model.build([tuple(s) for s in shape]
                            if shape and isinstance(shape[0], list) else tuple(shape))
            return model
        inputs, outputs = Graph.from_config(config, custom_objects)
        return cls(inputs, outputs, name=config.get("name"))

    def __deepcopy__(self, memo: dict) -> Model:
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for k, v in self.__dict__.items():
            setattr(clone, k, copy.deepcopy(v, memo))
        return clone


def _tracked_layers(module: torch.nn.Module) -> list[Layer]:
    """The layers a subclassed model holds, in attribute order; those in lists and dicts
    (torch containers) count as the model's own, as Keras tracks them."""
    out: list[Layer] = []
    for child in module.children():
        if isinstance(child, Layer):
            out.append(child)
        elif isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict)):
            out.extend(_tracked_layers(child))
    return out


def _check_int(value: Any, name: str, method: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"Argument `{name}` of {method}() must be an integer >= {minimum}, received "
            f"{name}={value!r}."
        )
    return int(value)


def _apply_class_weight(y: torch.Tensor, sample_weight: Any, class_weight: dict,
                        dtype: torch.dtype) -> torch.Tensor:
    if y.ndim >= 2 and y.shape[-1] > 1:
        classes = y.argmax(-1)
    else:
        classes = y.reshape(y.shape[0], -1)[:, 0].round().long() if y.dtype.is_floating_point \
            else y.reshape(y.shape[0], -1)[:, 0]
    weights = torch.ones(classes.shape, dtype=dtype)
    for cls_id, w in class_weight.items():
        weights[classes == int(cls_id)] = float(w)
    return weights if sample_weight is None else sample_weight * weights
