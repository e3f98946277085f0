"""The checks every module shares: friendly "unknown name" errors, names, argument values.

Every registry (losses, metrics, optimizers) resolves Keras string
identifiers. When a name is unknown we say so and suggest the closest known names, the way a
spell checker would: `Unknown loss 'mse2'. Did you mean 'mse'? Known losses: ...`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["close_matches", "did_you_mean", "unknown_name_error", "check_kwargs", "type_name",
           "to_snake_case", "check_positive_int", "check_rate"]


def close_matches(name: str, known: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Returns up to `n` known names that look like `name`, best first.

    Case-insensitive equality wins first (`'Adam'` -> `'adam'`), then `difflib` similarity
    on the lower-cased names. Names differing only by case are suggested once (first spelling).

    Args:
        name: the unknown name.
        known: the valid names.
        n: maximum number of suggestions.
        cutoff: `difflib.get_close_matches` similarity threshold in [0, 1].

    Returns:
        A list of known names (original spelling), possibly empty.

    Example:
    >>> close_matches("adm", ["adam", "sgd", "rmsprop"])
    ['adam']
    """
    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(k.lower(), k)
    lowered = name.lower()
    ranked = difflib.get_close_matches(lowered, list(by_lower), n=n + 1, cutoff=cutoff)
    if lowered in by_lower:
        ranked = [lowered] + [r for r in ranked if r != lowered]
    return [by_lower[r] for r in ranked if by_lower[r] != name][:n]


def unknown_name_error(
    kind: str,
    name: str,
    known: Iterable[str],
    plural: str | None = None,
    listed: Iterable[str] | None = None,
) -> ValueError:
    """Builds the `ValueError` for an unknown registry name.

    Args:
        kind: what was looked up, singular (`'loss'`, `'metric'`, `'optimizer'`).
        name: the name the user gave.
        known: every valid name (used for the suggestion).
        plural: plural of `kind`; defaults to `kind + 's'` (`'loss'` -> `'losses'`).
        listed: the names to list in the message; defaults to `known` without names that
            differ only by case.

    Returns:
        A `ValueError` to raise. Its message reads
        `Unknown loss 'mse2'. Did you mean 'mse'? Known losses: 'mse', 'mae', ...`.
    """
    known = list(dict.fromkeys(known))
    if plural is None:
        plural = kind + ("es" if kind.endswith("s") else "s")
    if listed is None:
        listed = {k.lower(): k for k in reversed(known)}.values()
        listed = sorted(listed, key=known.index)
    message = f"Unknown {kind} {name!r}."
    suggestions = close_matches(name, known, n=1)
    if suggestions:
        message += f" Did you mean {suggestions[0]!r}?"
    message += f" Known {plural}: " + ", ".join(repr(k) for k in listed) + "."
    return ValueError(message)


def check_kwargs(owner: str, kwargs: Mapping[str, Any], allowed: Iterable[str] = ()) -> None:
    """Raises `TypeError` for keyword arguments that `owner` does not accept.

    Args:
        owner: the class or function name used in the message.
        kwargs: the keyword arguments received.
        allowed: names that are accepted in `kwargs`.

    Raises:
        TypeError: naming every unexpected argument with a close-match suggestion.
    """
    allowed = list(allowed)
    bad = [k for k in kwargs if k not in allowed]
    if not bad:
        return
    parts = []
    for k in bad:
        hint = close_matches(k, allowed, n=1)
        parts.append(f"{k!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    raise TypeError(f"{owner} got unexpected keyword argument(s): {', '.join(parts)}.")


def type_name(obj: Any) -> str:
    """The qualified type name of `obj`, for error messages (`'numpy.ndarray'`)."""
    t = type(obj)
    module = t.__module__
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


def did_you_mean(name: Any, known: Iterable[str]) -> str:
    """`" Did you mean 'x'?"` for the closest known name, or `""` (for error messages).

    Example:
    >>> did_you_mean("peepole", ["peephole", "cifg"])
    " Did you mean 'peephole'?"
    """
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def to_snake_case(name: str) -> str:
    """Keras' default names: `MeanSquaredError` -> `mean_squared_error`, `LSTM` -> `lstm`,
    `Conv2D` -> `conv2d` (a digit does not start a word, as in Keras)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def check_positive_int(value: Any, name: str, owner: str) -> int:
    """`value` as an int, or a `ValueError` naming the argument, the owner and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"Received an invalid value for argument `{name}` of {owner}: expected a positive "
            f"integer, received {name}={value!r}."
        )
    return int(value)


def check_rate(value: Any, name: str, owner: str) -> float:
    """A rate in [0, 1) as a float, or a `ValueError` naming the argument and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"Received an invalid value for argument `{name}` of {owner}: expected a float in "
            f"[0, 1), received {name}={value!r}."
        )
    return float(value)
