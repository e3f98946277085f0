"""Optimizer state for resumable training: named tensors plus JSON metadata (no pickle).

`state_tensors()` gives `{"param_{i}.{slot}": tensor}` (i = position in the list given to
`build`, slot = Keras' name: `momentum`, `velocity`, ...) and a metadata dict with
`iterations`, the learning rate and the parameter groups; `load_state_tensors` restores it.
State saved by gated before its optimizers followed Keras' update rules
(`gated.optimizer.v1`, torch.optim slot names) is translated on load.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["STATE_FORMAT", "StateMixin"]

STATE_FORMAT = "gated.optimizer.v2"
_V1_FORMAT = "gated.optimizer.v1"


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def _to_param(slot: str, value: Any, p: torch.Tensor, opt: torch.optim.Optimizer) -> Any:
    """Casts a saved state value like `torch.optim.Optimizer.load_state_dict` does."""
    if not isinstance(value, torch.Tensor):
        return value
    if slot == "step":
        group = next((g for g in opt.param_groups if any(q is p for q in g["params"])), {})
        if group.get("capturable") or group.get("fused"):
            return value.to(dtype=torch.float32, device=p.device)
        return value.clone()
    if p.is_floating_point():
        return value.to(dtype=p.dtype, device=p.device, copy=True)
    return value.to(device=p.device, copy=True)


class StateMixin:
    """`state_dict` / `state_tensors` and their loaders, over `self.torch_optimizer`."""

    #: torch.optim slot name -> Keras slot name, for state saved in the v1 format.
    _v1_slots: dict[str, str] = {}

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"`{what}()` needs a built optimizer: call `build(parameters)`.")

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (copied tensors) of the slots, parameter groups, `iterations` and the
        learning rate."""
        self._require_built("state_dict")
        return {"format": STATE_FORMAT, "class_name": type(self).__name__,
                "torch": copy.deepcopy(self.torch_optimizer.state_dict()),
                "iterations": self._iterations, "learning_rate": self.learning_rate}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()` output (deferred until `build` if not built yet)."""
        if not self.built:
            self._pending_state = ("dict", state, None)
            return
        self._check_class(state.get("class_name"))
        if state.get("format", STATE_FORMAT) != STATE_FORMAT:
            raise ValueError(f"Optimizer state dict of format {state.get('format')!r} cannot be "
                             f"loaded (expected {STATE_FORMAT!r}); use `load_state_tensors`.")
        self.torch_optimizer.load_state_dict(copy.deepcopy(state["torch"]))
        self._restore_counters(state)

    def _restore_counters(self, state: dict[str, Any]) -> None:
        self._iterations = int(state["iterations"])
        if not callable(self._learning_rate):
            self.learning_rate = float(state["learning_rate"])

    def _check_class(self, class_name: str | None) -> None:
        if class_name is not None and class_name != type(self).__name__:
            raise ValueError(f"The optimizer state was saved from {class_name} and cannot be "
                             f"loaded into {type(self).__name__}.")

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The state as named tensors plus JSON-able metadata (for safetensors, no pickle).

        Returns:
            `(tensors, metadata)`. `tensors` maps `"param_{i}.{slot}"` (e.g.
            `"param_0.momentum"`, `i` = position in the list given to `build`) to detached
            copies. `metadata` holds `iterations`, `learning_rate`, the param-group scalars
            and any non-tensor state.
        """
        self._require_built("state_tensors")
        tensors: dict[str, torch.Tensor] = {}
        non_tensor: dict[str, Any] = {}
        for i, p in enumerate(self._parameters):
            for slot, value in self.torch_optimizer.state.get(p, {}).items():
                key = f"param_{i}.{slot}"
                if isinstance(value, torch.Tensor):
                    tensors[key] = value.detach().clone().contiguous()
                else:
                    non_tensor[key] = _jsonable(value)
        position = {id(p): i for i, p in enumerate(self._parameters)}
        groups = []
        for group in self.torch_optimizer.param_groups:
            entry = {k: _jsonable(v) for k, v in group.items() if k != "params"}
            entry["params"] = [position.get(id(p), -1) for p in group["params"]]
            groups.append(entry)
        metadata = {"format": STATE_FORMAT, "class_name": type(self).__name__,
                    "iterations": self._iterations, "learning_rate": self.learning_rate,
                    "num_parameters": len(self._parameters), "param_groups": groups,
                    "non_tensor_state": non_tensor}
        return tensors, metadata

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], metadata: dict[str, Any],
                           parameters: Iterable[Any] | None = None) -> None:
        """Restores `state_tensors()` output.

        Args:
            tensors: the named state tensors.
            metadata: the metadata dict.
            parameters: the parameters to build on if the optimizer is not built yet (same
                order as at save time). If omitted and not built, loading waits for `build`.
        """
        if not self.built:
            if parameters is None:
                self._pending_state = ("tensors", tensors, metadata)
                return
            self.build(parameters)
        self._check_class(metadata.get("class_name"))
        fmt = metadata.get("format", STATE_FORMAT)
        if fmt not in (STATE_FORMAT, _V1_FORMAT):
            raise ValueError(f"Unknown optimizer state format {fmt!r}; expected "
                             f"{STATE_FORMAT!r}.")
        if metadata.get("num_parameters") != len(self._parameters):
            raise ValueError(
                f"The optimizer state has {metadata.get('num_parameters')} parameters but this "
                f"optimizer is built on {len(self._parameters)}."
            )
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            match = re.fullmatch(r"param_(\d+)\.(.+)", key)
            if match is None:
                raise ValueError(f"Unexpected optimizer state key {key!r}.")
            per_param.setdefault(int(match.group(1)), {})[match.group(2)] = value
        for key, value in metadata.get("non_tensor_state", {}).items():
            index, slot = key.split(".", 1)
            per_param.setdefault(int(index[len("param_"):]), {})[slot] = value
        groups = metadata.get("param_groups", [])
        if fmt == _V1_FORMAT:
            per_param, groups = self._from_v1(per_param, metadata)
        state = self.torch_optimizer.state
        for i, p in enumerate(self._parameters):
            state.pop(p, None)
            if i in per_param:
                state[p] = {slot: _to_param(slot, v, p, self.torch_optimizer)
                            for slot, v in per_param[i].items()}
        if len(groups) == len(self.torch_optimizer.param_groups):
            for group, saved in zip(self.torch_optimizer.param_groups, groups, strict=True):
                for k, v in saved.items():
                    if k != "params" and k in group:
                        group[k] = tuple(v) if isinstance(group[k], tuple) else v
        self._restore_counters(metadata)

    def _from_v1(self, per_param: dict[int, dict[str, Any]], metadata: dict[str, Any]
                 ) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
        """Renames torch.optim slots (v1) to this optimizer's; drops torch's step counts."""
        lr = float(metadata.get("learning_rate", 0.0))
        out = {}
        for i, slots in per_param.items():
            out[i] = {self._v1_slots[k]: self._v1_value(self._v1_slots[k], v, lr)
                      for k, v in slots.items()
                      if k in self._v1_slots and isinstance(v, torch.Tensor)}
        return out, self._v1_groups(metadata)

    def _v1_value(self, slot: str, value: torch.Tensor, lr: float) -> torch.Tensor:
        return value

    def _v1_groups(self, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def _apply_pending_state(self) -> None:
        if self._pending_state is None:
            return
        kind, first, second = self._pending_state
        self._pending_state = None
        if kind == "dict":
            self.load_state_dict(first)
        else:
            self.load_state_tensors(first, second)
