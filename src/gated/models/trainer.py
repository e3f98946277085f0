"""Keras 3's trainer API for custom training steps, on gated's `Model`.

What a Keras user overriding `train_step` reaches for (as on Keras' torch backend):
`self.compute_loss(x, y, y_pred, sample_weight)`, `self.metrics` (the loss tracker named
`'loss'`, the compiled metrics gathered as `'compile_metrics'`, and metric objects set as
attributes), `self.optimizer.apply(gradients, trainable_weights)`, and the logs dict the
step returns. Also losses for several outputs (`compile(loss=[...] or {...},
loss_weights=...)`), logged per output as `<output name>_loss`, as Keras does.
"""

from __future__ import annotations

from typing import Any

import torch

from gated.models import data as data_utils


class CompileMetrics:
    """The compiled metrics as one object (Keras' `compile_metrics`): `update_state` updates
    each, `result()` is a dict `{metric name: value}`."""

    name = "compile_metrics"

    def __init__(self, metrics: list) -> None:
        self.metrics = metrics

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        mask = getattr(y_pred, "_keras_mask", None)
        y_pred = y_pred.detach() if isinstance(y_pred, torch.Tensor) else y_pred
        for metric in self.metrics:
            metric.update_state(y_true, y_pred, sample_weight=sample_weight, mask=mask)

    def result(self) -> dict[str, float]:
        return {m.name: float(m.result()) for m in self.metrics}

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()


def output_losses(losses_module: Any, loss: Any, output_names: list[str]) -> list | None:
    """One loss per output from Keras' list or dict form (None when `loss` is a single loss)."""
    if isinstance(loss, dict):
        unknown = sorted(set(loss) - set(output_names))
        if unknown:
            raise ValueError(
                f"Argument `loss` of compile() names outputs {unknown} that the model does "
                f"not have; its outputs are {output_names}."
            )
        return [losses_module.get(loss.get(n)) for n in output_names]
    if isinstance(loss, (list, tuple)):
        if len(loss) != len(output_names):
            raise ValueError(
                f"Argument `loss` of compile() must hold one loss per output: the model has "
                f"{len(output_names)} outputs {output_names}, received {len(loss)} losses."
            )
        return [losses_module.get(v) for v in loss]
    if len(output_names) > 1 and loss is not None:
        return [losses_module.get(loss) for _ in output_names]  # Keras: the same for each
    return None


def output_weights(loss_weights: Any, output_names: list[str]) -> list[float]:
    if loss_weights is None:
        return [1.0] * len(output_names)
    if isinstance(loss_weights, dict):
        return [float(loss_weights.get(n, 1.0)) for n in output_names]
    if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == len(output_names):
        return [float(w) for w in loss_weights]
    if len(output_names) == 1 and isinstance(loss_weights, (int, float)):
        return [float(loss_weights)]
    raise ValueError(
        f"Argument `loss_weights` of compile() must be a list of {len(output_names)} floats "
        f"or a dict keyed by output name ({output_names}), received {loss_weights!r}."
    )


def flatten_logs(logs: Any) -> dict[str, float]:
    """A train_step's returned logs as floats; nested dicts (compile_metrics) are merged."""
    out: dict[str, float] = {}
    for key, value in dict(logs or {}).items():
        if isinstance(value, dict):
            out.update(flatten_logs(value))
        elif isinstance(value, torch.Tensor):
            out[key] = float(value.detach())
        else:
            out[key] = float(value)
    return out


def unpack(data: Any) -> tuple[Any, Any, Any]:
    """Keras' `unpack_x_y_sample_weight`: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
    return data, None, None


def pack(x: Any, y: Any = None, sample_weight: Any = None) -> tuple:
    """Keras' `pack_x_y_sample_weight`: the shortest tuple that holds what is given."""
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


class TrainerMixin:
    """Keras 3's trainer methods of `Model` used by custom training steps."""

    @property
    def metrics(self) -> list:
        """Keras' `model.metrics`: the loss tracker (`'loss'`), the compiled metrics as one
        `'compile_metrics'` object, then metric objects set as attributes of the model."""
        from gated.metrics import Metric

        out: list = []
        if self.compiled:
            out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
        out += [v for k, v in vars(self).items()
                if isinstance(v, Metric) and k != "_loss_tracker" and v not in out]
        return out

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> torch.Tensor:
        """The total loss of a batch: the compiled loss(es) plus `self.losses` (Keras 3).

        Args:
            x: The inputs (unused by the default; for overrides).
            y: The targets.
            y_pred: The model's outputs on `x`.
            sample_weight: Optional per-sample weights.
            training: Whether this is a training step (for overrides).

        Returns:
            A scalar tensor, differentiable with respect to the weights.
        """
        return self._compute_loss(y, y_pred, sample_weight)

    def _custom_train_step(self) -> bool:
        return type(self).train_step is not TrainerMixin.train_step

    def train_step(self, data: Any) -> dict[str, Any]:
        """One optimizer step on `data` = `(x, y[, sample_weight])`; returns the logs.

        Override it to customize `fit` (as in Keras 3 on its torch backend): compute the loss
        with `self.compute_loss(y=y, y_pred=y_pred)`, call `loss.backward()`, then
        `self.optimizer.apply(gradients, trainable_weights)`, update `self.metrics` and
        return `{m.name: m.result() for m in self.metrics}`.
        """
        x, y, sample_weight = unpack(data)
        loss = self._train_batch(x, y, sample_weight)
        self._loss_tracker.update_state(loss, sample_weight=data_utils.num_samples(x))
        return self.get_metrics_result()

    def test_step(self, data: Any) -> dict[str, Any]:
        """One evaluation step on `data` = `(x, y[, sample_weight])`; returns the logs.
        Override it to customize `evaluate` and the validation of `fit` (Keras 3)."""
        x, y, sample_weight = unpack(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(loss.detach(), sample_weight=data_utils.num_samples(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any,
                        sample_weight: Any = None) -> dict[str, float]:
        """Update the compiled metrics with a batch and return every metric's result, as
        Keras 3's `compute_metrics` (for custom `train_step` / `test_step`).

        Args:
            x: The inputs (unused; for overrides).
            y: The targets.
            y_pred: The model's outputs.
            sample_weight: Optional per-sample weights.

        Returns:
            `{metric name: value}` for every metric in `self.metrics`.
        """
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict[str, float]:
        """The current result of every metric in `self.metrics` (Keras 3)."""
        return flatten_logs({m.name: m.result() for m in self.metrics})

    def _compute_loss(self, y: Any, y_pred: Any,
                      sample_weight: torch.Tensor | None) -> torch.Tensor:
        parts: dict[str, torch.Tensor] = {}
        total: Any = None
        if self._output_losses is not None:
            preds = list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]
            targets = list(y) if isinstance(y, (list, tuple)) else [y]
            if len(preds) != len(self._output_losses) or len(targets) != len(preds):
                raise ValueError(
                    f"The model has {len(self._output_losses)} outputs with a loss each; "
                    f"received {len(targets)} targets for {len(preds)} outputs."
                )
            for name, fn, weight, target, pred in zip(self.output_names, self._output_losses,
                                                      self._loss_weights, targets, preds,
                                                      strict=True):
                if fn is None:
                    continue
                value = fn(target, pred, sample_weight=sample_weight,
                           mask=getattr(pred, "_keras_mask", None))
                parts[f"{name}_loss"] = value.detach()
                total = weight * value if total is None else total + weight * value
        elif self.loss is not None:
            if isinstance(y_pred, (list, tuple)):
                raise ValueError(
                    "compile() received one loss but the model returns several outputs; pass "
                    "one loss per output: compile(loss=[...]) or a dict keyed by output name."
                )
            mask = getattr(y_pred, "_keras_mask", None)
            total = self.loss(y, y_pred, sample_weight=sample_weight, mask=mask)
            if self._loss_weights and self._loss_weights[0] != 1.0:
                total = total * self._loss_weights[0]
        for extra in self.losses:  # add_loss() losses and weight regularization penalties
            extra = extra.sum() if extra.dtype.is_floating_point else extra.float().sum()
            total = extra if total is None else total + extra
        if total is None:
            raise ValueError("No loss to compute: pass `loss` to compile(), or add losses "
                             "with `self.add_loss()` in `call()`.")
        self._last_loss_parts = parts
        return total

