"""Inference outside training: streaming with carried state (`Stream`, `model.stream()`) and,
in `gated.runtime.numpy`, a torch-free runtime for saved models.

`gated.runtime.numpy` is not imported here, and this package imports nothing heavy itself, so
that `import gated.runtime.numpy` alone never pulls in torch.
"""

__all__ = ["NotStreamable", "Stream"]


def __getattr__(name: str):
    if name in ("Stream", "NotStreamable"):
        from gated.runtime import stages, stream

        return stream.Stream if name == "Stream" else stages.NotStreamable
    raise AttributeError(f"module 'gated.runtime' has no attribute {name!r}")
