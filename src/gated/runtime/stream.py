"""Streaming inference: run a model one time step (or one chunk of steps) at a time, carrying
the state of every recurrent layer between calls.

`stream = model.stream(batch_size=B)` holds B independent streams. `stream.step(x_t)` with
`x_t (B, features)` returns the model's output for that step; `stream.step(x_chunk)` with
`(B, time, features)` returns one output per step. The outputs equal a full-sequence run:
for a model returning sequences, the concatenated outputs equal `model.predict(x)`; for a model
whose last recurrent layer returns only its last output, each step's output is what
`model.predict` would return for the sequence seen so far.

Masks follow Keras: a `Masking` or `Embedding(mask_zero=True)` layer (or the `mask=` argument)
marks padding steps, which carry the state and repeat the previous output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gated.runtime.stages import NotStreamable, Stage, make_stage


class Stream:
    """A batch of independent streams through a model, with carried state.

    Args:
        model: A built `Sequential` or functional `Model` of streamable layers.
        batch_size: Number of independent streams (default 1).

    Raises:
        NotStreamable (a `ValueError`): a layer cannot run step by step (named).

    Example:
        >>> stream = model.stream(batch_size=1)
        >>> for frame in frames:                  # frame: (1, features)
        ...     y = stream.step(frame)
    """

    def __init__(self, model: Any, batch_size: int = 1) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"Argument `batch_size` of stream() must be a positive integer, "
                             f"received batch_size={batch_size!r}.")
        if not getattr(model, "built", False):
            raise ValueError(f"Model '{model.name}' is not built: call it once or build() it "
                             "(its input shape is needed) before stream().")
        self.model = model
        self.batch_size = int(batch_size)
        self.dtype = model.dtype
        self.device = model.device
        graph = getattr(model, "_graph", None)
        if graph is not None:
            self._input_shape = tuple(graph.inputs[0].shape)
            if len(graph.inputs) != 1:
                raise NotStreamable(f"Model '{model.name}' has {len(graph.inputs)} inputs; "
                                    "a stream takes one.")
            self._plan = self._graph_plan(graph)
        else:
            shape = getattr(model, "_build_input_shape", None) or getattr(
                model, "_input_shape", None)
            if shape is None:
                raise ValueError(f"Model '{model.name}' has no known input shape.")
            self._input_shape = tuple(shape)
            self._plan = self._chain_plan(model.layers)
        self._step_shape = (self.batch_size, *self._input_shape[2:])
        self.reset()

    # ------------------------------------------------------------------ plan
    def _chain_plan(self, layers: list) -> list:
        from gated.layers import InputLayer

        plan, collapsed_by = [], None
        for k, layer in enumerate(layers):
            if isinstance(layer, InputLayer):
                continue
            stage = make_stage(layer)
            self._check_order(stage, collapsed_by)
            if stage.collapses:
                collapsed_by = stage.name
            plan.append((f"{k}", stage, [plan[-1][3]] if plan else [None], k))
        return plan

    def _graph_plan(self, graph: Any) -> list:
        from gated.layers import InputLayer

        plan, collapsed, index = [], {}, {}
        for k, node in enumerate(graph.nodes):
            index[id(node)] = k
            if isinstance(node.layer, InputLayer):
                collapsed[k] = None
                self._input_node = k
                continue
            extra = {a for a in node.call_kwargs if a not in ("training", "mask")}
            if extra:
                raise NotStreamable(f"Layer '{node.layer.name}' is called with {sorted(extra)}"
                                    "; a stream supports plain calls only.")
            tensors = node.inputs if isinstance(node.inputs, (list, tuple)) else [node.inputs]
            sources = [index[id(t.node)] for t in tensors]
            stage = make_stage(node.layer)
            if any(other.name == stage.name for _, other, _, _ in plan):
                stage.name = f"{stage.name}@{k}"  # a layer called twice: one state per call
            by = next((collapsed[s] for s in sources if collapsed[s]), None)
            self._check_order(stage, by)
            collapsed[k] = stage.name if stage.collapses else by
            plan.append((f"{k}", stage, sources, k))
        self._outputs = [index[id(t.node)] for t in graph.outputs]
        self._single = graph.single_output
        return plan

    @staticmethod
    def _check_order(stage: Stage, collapsed_by: str | None) -> None:
        if collapsed_by is not None and stage.state_shapes(1):
            raise NotStreamable(
                f"Layer '{stage.name}' ({type(stage.layer).__name__}) cannot stream: it needs "
                f"the whole sequence, but layer '{collapsed_by}' before it returns only its "
                "last output (return_sequences=False).")

    # ------------------------------------------------------------------ state
    def _keys(self) -> dict[str, tuple[int, ...]]:
        """`'<layer>.<state>' -> shape` of every carried tensor (names stay unique)."""
        shapes: dict[str, tuple[int, ...]] = {}
        for _, stage, _, _ in self._plan:
            for key, shape in stage.state_shapes(self.batch_size).items():
                shapes[f"{stage.name}.{key}"] = shape
        return shapes

    def reset(self, i: int | None = None) -> None:
        """Restart stream `i` (all streams when None) from the zero state."""
        if i is None:
            self._states = {
                stage.name: stage.initial_state(self.batch_size, self.dtype, self.device)
                for _, stage, _, _ in self._plan}
            return
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) \
                or not -self.batch_size <= i < self.batch_size:
            raise ValueError(f"Argument `i` of reset() must be a stream index in "
                             f"[0, {self.batch_size}), received i={i!r}.")
        for states in self._states.values():
            for s in states:
                s[i] = 0

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every carried tensor of every stream, `'<layer>.<state>' -> (batch, ...)` (copies)."""
        out = {}
        for _, stage, _, _ in self._plan:
            keys = stage.state_shapes(self.batch_size)
            for key, tensor in zip(keys, self._states[stage.name], strict=True):
                out[f"{stage.name}.{key}"] = tensor.detach().clone()
        return out

    def load_state_dict(self, state: dict) -> None:
        """Continue from a `state_dict()` (of a stream of the same model and batch size).

        Raises:
            ValueError: a key is missing or unexpected, or a tensor has the wrong shape.
        """
        if not isinstance(state, dict):
            raise TypeError(f"Argument `state` of load_state_dict() must be a dict, received "
                            f"{type(state).__name__}.")
        shapes = self._keys()
        missing, unexpected = set(shapes) - set(state), set(state) - set(shapes)
        if missing or unexpected:
            raise ValueError(f"Argument `state` of load_state_dict() does not fit this stream: "
                             f"missing {sorted(missing)}, unexpected {sorted(unexpected)}.")
        new: dict[str, list[torch.Tensor]] = {}
        for _, stage, _, _ in self._plan:
            tensors = []
            for key in stage.state_shapes(self.batch_size):
                full = f"{stage.name}.{key}"
                value = torch.as_tensor(np.asarray(state[full]) if not isinstance(
                    state[full], torch.Tensor) else state[full])
                if tuple(value.shape) != shapes[full]:
                    raise ValueError(
                        f"Argument `state` of load_state_dict(): '{full}' must have shape "
                        f"{shapes[full]} (batch_size={self.batch_size}), received "
                        f"{tuple(value.shape)}.")
                tensors.append(value.to(dtype=self.dtype, device=self.device).clone())
            new[stage.name] = tensors
        self._states = new

    def save_state(self, path: str | Path) -> Path:
        """Write `state_dict()` to a safetensors file, atomically (no pickle)."""
        from safetensors.torch import save

        from gated.models.saving import atomic_write

        blob = save({k: v.contiguous().cpu() for k, v in self.state_dict().items()},
                    metadata={"format": "gated.stream_state"})
        return atomic_write(path, lambda f: f.write(blob))

    def load_state(self, path: str | Path) -> None:
        """Continue from a file written by `save_state`."""
        from safetensors.torch import load

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"No stream state file at '{path}'.")
        try:
            state = load(path.read_bytes())
        except Exception as err:
            raise ValueError(f"Cannot load the stream state '{path}': it is truncated or "
                             f"corrupted ({err}).") from None
        self.load_state_dict(state)

    # ------------------------------------------------------------------ step
    def _check_x(self, x: Any) -> tuple[torch.Tensor, bool]:
        if isinstance(x, torch.Tensor) and x.dtype == self.dtype and x.device == self.device \
                and tuple(x.shape) == self._step_shape:
            return x, False  # the common real-time case, checked in one comparison
        expected = self._input_shape
        if isinstance(x, torch.Tensor):
            t = x
        else:
            arr = np.asarray(x)
            t = torch.as_tensor(arr)
        if t.is_floating_point():
            t = t.to(self.dtype)
        feature = tuple(expected[2:])
        if t.ndim == len(expected) - 1:
            seq, got = False, tuple(t.shape[1:])
        elif t.ndim == len(expected):
            seq, got = True, tuple(t.shape[2:])
        else:
            got = None
        want_step = f"({self.batch_size}, {', '.join(str(d) for d in feature)})".replace(
            ", )", ")")
        if got is None or t.shape[0] != self.batch_size or any(
                e is not None and e != g for e, g in zip(feature, got, strict=True)):
            raise ValueError(
                f"Argument `x` of step() must be one step {want_step} or a chunk "
                f"({self.batch_size}, time{''.join(f', {d}' for d in feature)}), received "
                f"shape {tuple(t.shape)}.")
        return t.to(self.device), seq

    def step(self, x: Any, mask: Any = None) -> Any:
        """Feed one step `(batch, ...)` or a chunk `(batch, time, ...)` to every stream.

        Args:
            x: The inputs (NumPy array, list or tensor).
            mask: Optional boolean `(batch,)` (one step) or `(batch, time)` (chunk); False
                marks padding (the state is carried, the previous output repeated).

        Returns:
            The output(s) for the step(s), NumPy arrays unless `x` is a tensor.
        """
        t, seq = self._check_x(x)
        keep = None
        if mask is not None:
            keep = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor)
                                   else mask, device=self.device).bool()
            want = tuple(t.shape[:2]) if seq else (self.batch_size,)
            if tuple(keep.shape) != want:
                raise ValueError(f"Argument `mask` of step() must have shape {want}, received "
                                 f"{tuple(keep.shape)}.")
        with torch.no_grad():
            values: dict[Any, tuple[Any, Any]] = {None: (t, keep)}
            if getattr(self.model, "_graph", None) is not None:
                values = {self._input_node: (t, keep)}
            for _, stage, sources, k in self._plan:
                inputs = [values[s] for s in sources]
                if len(inputs) == 1:
                    xin, kin = inputs[0]
                else:
                    xin = [v for v, _ in inputs]
                    masks = [m for _, m in inputs if m is not None]
                    kin = None
                    for m in masks:
                        kin = m if kin is None else kin & m
                y, kout, self._states[stage.name] = stage(xin, kin, self._states[stage.name],
                                                          seq)
                values[k] = (y, kout)
            if getattr(self.model, "_graph", None) is not None:
                outs = [values[k][0] for k in self._outputs]
                result: Any = outs[0] if self._single else outs
            else:
                result = values[self._plan[-1][3]][0] if self._plan else t
        if isinstance(x, torch.Tensor):
            return result
        if isinstance(result, list):
            return [r.cpu().numpy() for r in result]
        return result.cpu().numpy()

    def __repr__(self) -> str:
        return (f"Stream(model='{self.model.name}', batch_size={self.batch_size}, "
                f"layers={[stage.name for _, stage, _, _ in self._plan]})")


def stream(model: Any, batch_size: int = 1) -> Stream:
    """`Stream(model, batch_size)`: see `Stream`."""
    return Stream(model, batch_size)
