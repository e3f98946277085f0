"""Dispatch: the backend registry, `engine='auto'`, `explain`, and the streaming `step`.

Backends are modules registered here (`register_backend`), each with
`supports(cell, x, mask, reverse, recurrent_mask, training) -> (bool, reason)` and
`scan(cell, x, states, mask, reverse, recurrent_mask, training)`:

- `platform`:  PyTorch's own fused kernels (oneDNN / cuDNN) for the standard cells;
- `compiled`:  Numba-compiled CPU kernels (the `gated[compiled]` extra; imported lazily);
- `fused`:     hand-written BPTT as a `torch.autograd.Function` in torch ops;
- `reference`: the autograd loop over `cell.step`, the oracle; runs everything.

A fast backend decides from the cell's step contract (`gated.engine.spec`) alone: it runs a
cell only if the family has formulas for it that list every feature the cell uses.

`engine="auto"` (the default of every recurrent layer) picks platform when it applies, else
compiled on CPU (when available, and faster than fused for the size: `COMPILED_MAX_STEP_WORK`),
else fused, else the reference engine with a warning naming the reason (once per cell type and
reason). Two measured exceptions: a float32 CPU sequence shorter than its torch formulas'
`min_steps` skips oneDNN (its per-call setup outweighs the steps), and a single step runs the
reference step (nothing to fuse). A composite cell (`StackedRNNCells`) runs cell by cell, each
with its own pick. `explain(layer_or_cell, x)` says which backend `auto` picks and why;
`step(cell, x_t, states)` is the fastest exact single step for streaming inference.
"""

from __future__ import annotations

import importlib
import warnings
import weakref
from typing import Any

import torch

from gated._checks import did_you_mean
from gated.engine import fused, platform, reference
from gated.engine.spec import spec_of

ENGINES = ("auto", "platform", "compiled", "fused", "reference")
BACKENDS = ("platform", "compiled", "fused", "reference")

State = tuple[torch.Tensor, ...]

_compiled: dict[str, Any] = {}
_warned: set[tuple[str, str]] = set()

#: Up to this many multiply-adds per recurrent step (batch x recurrent weight size) `auto`
#: prefers the compiled backend to the fused one: there per-op overhead dominates the step.
#: Measured (2-core VM, torch 2.13, one thread): compiled 2-4x faster than fused at batch 8 x
#: 32 units and batch 1 x 256 units, equal at S (32 x 50), slower from batch 16 x 128 units up.
COMPILED_MAX_STEP_WORK = 512 * 1024


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"Unknown engine={engine!r}.{did_you_mean(engine, ENGINES)}"
                         f" Known engines: {list(ENGINES)}.")
    return engine


#: The backend registry: name -> module (`supports`, `scan`); `compiled` loads on first use.
_REGISTRY: dict[str, Any] = {"platform": platform, "fused": fused, "reference": reference}


def register_backend(name: str, module: Any) -> None:
    """Add (or replace) a backend: a module or object with `supports(cell, x, mask, reverse,
    recurrent_mask, training) -> (bool, reason)` and `scan(...)` with the same arguments plus
    `states`. `auto` considers it after the built-in ones."""
    global BACKENDS, ENGINES
    _REGISTRY[name] = module
    if name not in BACKENDS:
        BACKENDS = (*BACKENDS[:-1], name, BACKENDS[-1])
        ENGINES = ("auto", *BACKENDS)


def backend(name: str) -> Any:
    """The registered backend module `name` (None for `compiled` without numba)."""
    if name == "compiled":
        return compiled_backend()[0]
    return _REGISTRY[name]


def compiled_backend() -> tuple[Any, str]:
    """The compiled backend module, or `None` and why it is not available (cached)."""
    if "module" not in _compiled:
        try:
            module = importlib.import_module("gated.engine.compiled")
            _compiled.update(module=module, reason="")
        except ImportError as exc:
            _compiled.update(module=None, reason=f"not available ({exc})")
        except Exception as exc:  # a broken optional backend must not break the package
            _compiled.update(module=None,
                             reason=f"failed to import ({type(exc).__name__}: {exc})")
    return _compiled["module"], _compiled["reason"]


def _supports(name: str, cell: Any, x: torch.Tensor, mask: Any, reverse: bool,
              recurrent_mask: Any, training: bool) -> tuple[bool, str]:
    if name == "reference":
        return True, "runs every cell (the slow autograd loop over cell.step)"
    if name == "compiled":
        module, why = compiled_backend()
        if module is None:
            return False, why
        if x.device.type != "cpu":
            return False, f"CPU only, inputs on {x.device.type}"
        try:
            ok, reason = module.supports(cell, x, mask, reverse, recurrent_mask, training)
        except Exception as exc:
            return False, f"supports() failed ({type(exc).__name__}: {exc})"
        return bool(ok), str(reason)
    return _REGISTRY[name].supports(cell, x, mask, reverse, recurrent_mask, training)


def _step_work(cell: Any, x: torch.Tensor) -> int:
    spec, _ = spec_of(cell)
    return int(x.shape[0]) * (spec.step_macs if spec is not None else 0)


def _onednn_short(cell: Any, x: torch.Tensor) -> bool:
    """A short float32 sequence on CPU whose torch kernel (oneDNN) has a per-call setup that
    outweighs its per-step speed (the family's torch formulas say below how many steps)."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.bfloat16):
        return False
    spec, impl, _ = platform.formulas_for(cell)
    if impl is None or not impl.min_steps or spec.config.get("proj_size"):
        return False
    return x.shape[1] < impl.min_steps


def _choose(cell: Any, x: torch.Tensor, mask: Any, reverse: bool, recurrent_mask: Any,
            training: bool, full: bool = False,
            exclude: tuple[str, ...] = ()) -> tuple[str, list[tuple[str, bool, str]], str]:
    """(picked backend, [(backend, supported, reason)], why it was picked).

    The table holds the backends looked at: all of them with `full=True` (for `explain`),
    else only those needed to decide. Backends in `exclude` are never picked.
    """
    table: list[tuple[str, bool, str]] = []
    ok: dict[str, bool] = {}

    def check(name: str) -> bool:
        if name not in ok:
            if name in exclude:
                flag, reason = False, "excluded by the caller"
            else:
                flag, reason = _supports(name, cell, x, mask, reverse, recurrent_mask, training)
            ok[name] = flag
            table.append((name, flag, reason))
        return ok[name]

    if full:
        for name in BACKENDS:
            check(name)
    single = x.shape[1] == 1 and mask is None
    if check("platform") and not single and not _onednn_short(cell, x):
        return "platform", table, "torch's fused kernel runs this cell exactly"
    if single and check("fused"):
        return "reference", table, ("a single step: nothing to fuse, the reference step has "
                                    "the least overhead")
    small = _step_work(cell, x) <= COMPILED_MAX_STEP_WORK
    if check("compiled") and (small or not check("fused")):
        return "compiled", table, "compiled kernels are the fastest on CPU at this size"
    if check("fused"):
        why = "hand-written BPTT in torch ops"
        if ok.get("compiled"):
            why += " (the recurrent GEMM dominates at this size)"
        if ok.get("platform"):
            why = f"{why}; torch's oneDNN LSTM costs more per call than a short sequence saves"
        return "fused", table, why
    if ok.get("platform"):
        return "platform", table, "torch's fused kernel runs this cell exactly"
    if single:
        return "reference", table, "a single step: the reference step"
    return "reference", table, "no faster engine runs this configuration"


def supported(engine: str, cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None,
              reverse: bool = False, recurrent_mask: Any = None,
              training: bool = False) -> tuple[bool, str]:
    """Whether backend `engine` runs this cell and configuration exactly, and why (not)."""
    if check_engine(engine) == "auto":
        return True, "'auto' runs every configuration"
    return _supports(engine, cell, x, mask, reverse, recurrent_mask, training)


def select(cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None, reverse: bool = False,
           recurrent_mask: Any = None, training: bool = False) -> str:
    """The backend name `engine='auto'` runs for this cell and configuration."""
    return _choose(cell, x, mask, reverse, recurrent_mask, training)[0]


def _fallback_warning(cell: Any, table: list[tuple[str, bool, str]]) -> None:
    reasons = {name: reason for name, _, reason in table}
    key = (type(cell).__name__, reasons.get("fused", ""))
    if key in _warned:
        return
    _warned.add(key)
    by_reason: dict[str, list[str]] = {}
    for name in BACKENDS:
        if name != "reference" and name in reasons:
            by_reason.setdefault(reasons[name], []).append(name)
    detail = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in by_reason.items())
    warnings.warn(
        f"gated: engine='auto' runs this {type(cell).__name__} with the slow reference engine "
        f"(an autograd loop over cell.step), because no faster engine supports it ({detail}). "
        "This warning is shown once per cell type and reason.",
        UserWarning, stacklevel=3,
    )


def _stack_parts(cell: Any, training: bool) -> list | None:
    """The cells a composite cell runs one after the other over the whole sequence (its
    `sequence_parts(training)`, e.g. `StackedRNNCells`), or None."""
    parts = getattr(cell, "sequence_parts", None)
    return parts(training) if callable(parts) else None


def _split_states(cells: list, states: State) -> list[State]:
    out, k = [], 0
    for sub in cells:
        n = len(sub.state_size)
        out.append(tuple(states[k:k + n]))
        k += n
    return out


def _scan_stacked(cell: Any, cells: list, x: torch.Tensor, states: State, mask: Any,
                  reverse: bool, recurrent_mask: Any, training: bool,
                  engine: str, exclude: tuple[str, ...] = ()) -> tuple[torch.Tensor, State]:
    parts = _split_states(cells, tuple(states))
    masks = recurrent_mask or [(None, None)] * len(cells)
    inputs, finals = x, []
    for k, (sub, sub_states) in enumerate(zip(cells, parts, strict=True)):
        in_mask, rec_mask = masks[k]
        if k > 0 and in_mask is not None:
            inputs = inputs * in_mask.unsqueeze(1)
        inputs, final = scan(sub, inputs, sub_states, mask, reverse, rec_mask, training, engine,
                             exclude)
        finals.extend(final)
    return inputs, tuple(finals)


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None, training: bool = False,
         engine: str = "auto", exclude: tuple[str, ...] = ()) -> tuple[torch.Tensor, State]:
    """Run `cell` over the sequence `x (batch, time, features)`; see `engine.reference.scan`.

    Args:
        engine: `'auto'` (pick the fastest backend that runs the configuration exactly),
            or one of `'platform'`, `'compiled'`, `'fused'`, `'reference'` to force it (a
            `ValueError` names the reason when the forced backend cannot run it).
        exclude: Backends `'auto'` must not pick (Keras' `use_cudnn=False` excludes
            `'platform'` for CUDA inputs).
    """
    check_engine(engine)
    if engine in exclude:
        raise ValueError(f"engine={engine!r} is forced and excluded at once (exclude={exclude}).")
    if engine != "reference":
        cells = _stack_parts(cell, training)
        if cells is not None:
            return _scan_stacked(cell, cells, x, states, mask, reverse, recurrent_mask,
                                 training, engine, exclude)
    if engine == "auto":
        engine, table, _ = _choose(cell, x, mask, reverse, recurrent_mask, training,
                                   exclude=exclude)
        if engine == "reference" and x.shape[1] > 1:
            _fallback_warning(cell, table)
    elif engine != "reference":
        ok, reason = _supports(engine, cell, x, mask, reverse, recurrent_mask, training)
        if not ok:
            raise ValueError(
                f"engine={engine!r} cannot run this {type(cell).__name__} configuration: "
                f"{reason}. Use engine='auto' to pick a backend that can."
            )
    return backend(engine).scan(cell, x, states, mask, reverse, recurrent_mask, training)


def step(cell: Any, x_t: torch.Tensor, states: State,
         training: bool = False) -> tuple[torch.Tensor, State]:
    """One time step `(x_t, states) -> (y_t, new_states)` by the fastest exact path.

    For streaming inference (one step per call, small batches): call it under `torch.no_grad()`
    or `torch.inference_mode()`. Without autograd it runs the compiled streaming kernel when
    available, else torch's fused cell kernel for a standard cell (`torch._VF.lstm_cell` /
    `gru_cell` / `rnn_*_cell`); training, autograd and every other cell run `cell.step` (the
    reference semantics, zoneout and dropout included). The choice is cached per cell.

    Args:
        cell: A built cell.
        x_t: `(batch, features)` inputs of this step.
        states: The cell's states, each `(batch, n)`.
        training: Training-mode step (zoneout draws); always `cell.step`.

    Returns:
        `(y_t, new_states)` as `cell.step`.
    """
    states = tuple(states)
    if training or x_t.ndim != 2 or (torch.is_grad_enabled() and (
            x_t.requires_grad or any(s.requires_grad for s in states)
            or any(p.requires_grad for p in cell.parameters()))):
        return cell.step(x_t, states, training=training)
    return _step_path(cell, x_t)(cell, x_t, states)


_step_paths: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _step_path(cell: Any, x_t: torch.Tensor) -> Any:
    key = (x_t.dtype, x_t.device, x_t.shape[-1],
           tuple((p.dtype, p.device) for p in cell.parameters()))
    cached = _step_paths.get(cell)
    if cached is not None and cached[0] == key:
        return cached[1]
    path = _reference_step
    x_seq = x_t.unsqueeze(1)
    module, _ = compiled_backend()
    streaming = getattr(module, "streaming_step", None)
    if x_t.device.type == "cpu" and streaming is not None and _supports(
            "compiled", cell, x_seq, None, False, None, False)[0]:
        path = streaming
    elif platform.supports(cell, x_seq)[0]:
        spec, impl, _ = platform.formulas_for(cell)
        if impl.step(spec, x_t, cell.get_initial_state(x_t.shape[0], x_t.dtype,
                                                       x_t.device)) is not None:
            path = _platform_step
    _step_paths[cell] = (key, path)
    return path


def _reference_step(cell: Any, x_t: torch.Tensor, states: State):
    return cell.step(x_t, states)


def _platform_step(cell: Any, x_t: torch.Tensor, states: State):
    """torch's fused cell kernel, with the Keras-layout weights as views where possible."""
    spec, impl, _ = platform.formulas_for(cell)
    return impl.step(spec, x_t, states)


def explain(layer_or_cell: Any, x: Any, mask: Any = None, training: bool = False) -> str:
    """Say which backend `engine='auto'` picks for this layer (or cell) and input, and why.

    Args:
        layer_or_cell: A recurrent layer (`LSTM`, `GRU`, `RNN(...)`, ...) or a cell.
        x: An input batch `(batch, timesteps, features)` (array, list or tensor); the cell is
            built from it if it is not built yet.
        mask: Optional boolean `(batch, timesteps)` mask.
        training: Whether the call would be a training call (recurrent dropout applies).

    Returns:
        A multi-line string: the pick, then one line per candidate backend with its reason
        (for a stack of cells, one such block per cell).

    Example:
        >>> print(gated.engine.explain(LSTM(8, peephole=True), np.zeros((4, 10, 3))))
    """
    cell = getattr(layer_or_cell, "cell", layer_or_cell)
    reverse = bool(getattr(layer_or_cell, "go_backwards", False))
    forced = getattr(layer_or_cell, "engine", "auto")
    dtype = getattr(cell, "dtype", None)
    if isinstance(x, torch.Tensor):
        x = x.to(dtype) if dtype is not None and x.is_floating_point() else x
    else:
        x = torch.as_tensor(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(
            f"explain() expects `x` of shape (batch, timesteps, features), received shape "
            f"{tuple(x.shape)}."
        )
    if hasattr(cell, "_maybe_build") and not getattr(cell, "built", False):
        cell._maybe_build((x.shape[0], x.shape[-1]))
    if mask is not None:
        mask = torch.as_tensor(mask, device=x.device).bool()
    lines = []
    if forced != "auto":
        lines.append(f"This layer forces engine={forced!r}; engine='auto' would pick:")
    parts = _stack_parts(cell, training)
    if parts is None:
        lines += _explain_cell(cell, x, mask, reverse, training)
        return "\n".join(lines)
    lines.append(f"{type(cell).__name__} runs its {len(parts)} cells one after the other:")
    for k, sub in enumerate(parts):
        sub_lines = _explain_cell(sub, x, mask, reverse, training)
        lines += [f"cell {k}: {sub_lines[0]}", *sub_lines[1:]]
        x = x.new_zeros(x.shape[0], x.shape[1], sub.output_size)
    return "\n".join(lines)


def _explain_cell(cell: Any, x: torch.Tensor, mask: Any, reverse: bool,
                  training: bool) -> list[str]:
    recurrent_mask = None
    if training and getattr(cell, "recurrent_dropout", 0.0) > 0:
        recurrent_mask = torch.ones(x.shape[0], cell.recurrent_size, dtype=x.dtype,
                                    device=x.device)
    picked, table, why = _choose(cell, x, mask, reverse, recurrent_mask, training, full=True)
    lines = [f"engine='auto' picks {picked!r} for {type(cell).__name__} on "
             f"{x.device.type} {str(x.dtype).replace('torch.', '')}, batch {x.shape[0]}, "
             f"{x.shape[1]} steps: {why}."]
    for name, ok, reason in table:
        mark = "  <- auto" if name == picked else ""
        lines.append(f"  {name + ':':<11}{'yes' if ok else 'no ':<4} {reason}{mark}")
    return lines


__all__ = ["ENGINES", "BACKENDS", "backend", "check_engine", "compiled_backend", "explain",
           "register_backend", "scan", "select", "step", "supported"]
