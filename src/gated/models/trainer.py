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


def apply_constraints(parameters: Any) -> None:
    """Project every weight that has a `constraint` (from `add_weight`) after a step."""
    with torch.no_grad():
        for p in parameters:
            constraint = getattr(p, "constraint", None)
            if constraint is not None:
                p.copy_(constraint(p.detach()))
