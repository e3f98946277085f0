"""Engines: how a whole sequence is run, knowing no family. `scan` picks a backend; all
compute the same numbers.

- `spec.py`: the step contract a cell hands the engines (`StepSpec`, `Formulas`);
- `dispatch.py`: the backend registry, `engine='auto'`, `explain`, the streaming `step`;
- `reference.py`: the autograd loop over `cell.step`, the oracle; runs everything;
- `fused.py`: hand-written BPTT as a `torch.autograd.Function`, driving each family's steppers;
- `compiled/`: Numba CPU kernels (the `gated[compiled]` extra), driving each family's kernels;
- `platform.py`: PyTorch's own fused kernels (oneDNN / cuDNN) for the standard cells.
"""

from gated.engine.dispatch import (
    BACKENDS,
    ENGINES,
    backend,
    check_engine,
    compiled_backend,
    explain,
    register_backend,
    scan,
    select,
    step,
    supported,
)

__all__ = ["ENGINES", "BACKENDS", "backend", "check_engine", "compiled_backend", "explain",
           "register_backend", "scan", "select", "step", "supported"]
