"""Weight regularizers by Keras name: `l1`, `l2`, `l1_l2`; the penalty is added to the loss."""

from __future__ import annotations

import torch

from gated._checks import did_you_mean


class Regularizer:
    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


class L1L2(Regularizer):
    """penalty = l1 * sum(|w|) + l2 * sum(w^2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
        out = weight.new_zeros(())
        if self.l1:
            out = out + self.l1 * weight.abs().sum()
        if self.l2:
            out = out + self.l2 * weight.square().sum()
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def L1(l1: float = 0.01) -> L1L2:  # noqa: N802 - Keras name
    return L1L2(l1=l1)


def L2(l2: float = 0.01) -> L1L2:  # noqa: N802 - Keras name
    return L1L2(l2=l2)


_BY_NAME = {"l1": lambda: L1L2(l1=0.01), "l2": lambda: L1L2(l2=0.01),
            "l1_l2": lambda: L1L2(l1=0.01, l2=0.01), "l1l2": lambda: L1L2(l1=0.01, l2=0.01)}


def get(identifier):
    """Resolve None, a Keras regularizer name, a `Regularizer` or a callable."""
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        raise ValueError(f"Unknown regularizer '{identifier}'.{did_you_mean(key, _BY_NAME)}")
    if isinstance(identifier, dict):
        return L1L2(**identifier.get("config", identifier))
    raise TypeError(f"A regularizer must be a name or callable, received {identifier!r}.")


def serialize(reg):
    if reg is None:
        return None
    if isinstance(reg, L1L2):
        return {"class_name": "L1L2", "config": reg.get_config()}
    raise ValueError(f"Cannot serialize regularizer {reg!r}.")
