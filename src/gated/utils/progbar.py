"""Keras' `keras.utils.Progbar` on gated's tqdm progress bar (`gated.utils.progress`).

Example:
>>> bar = Progbar(target=3, verbose=0)
>>> for step in range(1, 4):
...     bar.update(step, values=[("loss", 1.0 / step)])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gated.utils.progress import ProgressBar, _as_number, _items

__all__ = ["Progbar"]


class Progbar(ProgressBar):
    """Displays a progress bar, with Keras' `Progbar` arguments and averaging rules.

    Values of metrics not in `stateful_metrics` are averaged over the steps they cover (a
    value given at step `current` counts `current - previous` times); at the final update
    (`finalize`, by default `current >= target`) the last value is shown as it is.

    Args:
        target: Total number of steps, None if unknown.
        width: Accepted for Keras compatibility (the bar adapts to the terminal).
        verbose: 0 (silent), 1 (animated bar) or 2 (one line at the end).
        interval: Accepted for Keras compatibility (tqdm limits the refresh rate).
        stateful_metrics: Names shown as given instead of averaged.
        stateless_metrics: Keras' other form: the names averaged, every other shown as given
            (not both with `stateful_metrics`).
        unit_name: Unit of the time per step (`"step"`).

    Example:
    >>> Progbar(10, verbose=0).add(5, values=[("acc", 0.5)])
    """

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1,
                 interval: float = 0.05, stateful_metrics: Iterable[str] | None = None,
                 stateless_metrics: Iterable[str] | None = None, unit_name: str = "step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Pass only one of `stateful_metrics` and `stateless_metrics` to "
                             "Progbar.")
        super().__init__(target, verbose=verbose, stateful_metrics=stateful_metrics,
                         unit_name=unit_name)
        self.width = width
        self.interval = interval
        self.stateless_metrics = (set(stateless_metrics) if stateless_metrics is not None
                                  else None)

    def _is_stateful(self, name: str) -> bool:
        if self.stateless_metrics is not None:
            return name not in self.stateless_metrics
        return super()._is_stateful(name)

    def update(self, current: int, values: Any = None, finalize: bool | None = None) -> None:
        """Moves to step `current`, recording `values` (`[(name, value), ...]` or a dict).

        Args:
            current: Steps done.
            values: The metrics of the last step.
            finalize: Whether this is the last update; default `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if not finalize:
            super().update(current, values)
            return
        for k, v in _items(values):
            self._values[k] = [_as_number(v), 1]
        super().update(current, None)
        self.close()

    def add(self, n: int, values: Any = None) -> None:
        """`update(steps_done + n, values)`."""
        self.update(self._seen_so_far + n, values)
