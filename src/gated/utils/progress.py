"""Keras-style progress bar on top of `tqdm`.

verbose=1 draws one bar per epoch, updated in place::

    Epoch 3/10 20/32 ━━━━━━━━━━━━━━━━━━━━          00:01<00:00 12ms/step - loss: 0.1234

verbose=2 prints one line when the epoch ends::

    Epoch 3/10 - 1s - 12ms/step - loss: 0.1234 - val_loss: 0.2000

verbose=0 prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["ProgressBar", "format_logs"]


class _KerasTqdm(tqdm):
    """`tqdm` with an extra `{keras}` field (time per step and metrics) for `bar_format`."""

    keras_text = ""

    @property
    def format_dict(self) -> dict[str, Any]:
        d = super().format_dict
        d["keras"] = self.keras_text
        return d


def _format_number(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def format_logs(values: Mapping[str, Any]) -> str:
    """Formats metrics the Keras way: `" - loss: 0.1234 - mae: 2.3450e-04"`.

    Args:
        values: metric name -> value.

    Returns:
        The text, starting with `" - "` (empty for no values).
    """
    return "".join(f" - {k}: {_format_number(v)}" for k, v in values.items())


def _format_time_per_unit(seconds: float, unit_name: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


class ProgressBar:
    """Progress display for one epoch (or one `evaluate` / `predict` pass).

    Args:
        target: total number of steps, or `None` if unknown.
        verbose: 0 silent, 1 animated bar (tqdm), 2 one line at `close`.
        stateful_metrics: names whose value is shown as given (the last value) instead of
            averaged over the steps seen so far; `True` means every metric (use it when the
            values passed to `update` are already running means, as `fit` logs are).
        unit_name: the unit in the time-per-step display (`"step"`).
        description: text shown before the bar, e.g. `"Epoch 3/10"`.
        file: stream to write to; defaults to `sys.stdout` at creation time.

    Example:
    >>> bar = ProgressBar(target=3, verbose=2, description="Epoch 1/1")
    >>> for step in range(1, 4):
    ...     bar.update(step, {"loss": 1.0 / step})
    >>> bar.close({"val_loss": 0.5})  # doctest: +SKIP
    Epoch 1/1 - 0s - 1ms/step - loss: 0.6111 - val_loss: 0.5000
    """

    def __init__(
        self,
        target: int | None,
        verbose: int = 1,
        stateful_metrics: Iterable[str] | bool | None = None,
        unit_name: str = "step",
        description: str | None = None,
        file: TextIO | None = None,
    ):
        if verbose not in (0, 1, 2):
            raise ValueError(f"Argument `verbose` must be 0, 1 or 2; received {verbose!r}.")
        from gated.config import is_interactive_logging_enabled

        if verbose == 1 and not is_interactive_logging_enabled():
            verbose = 2  # Keras: no animated bar when interactive logging is off
        self.target = target
        self.verbose = verbose
        if stateful_metrics is True:
            self._all_stateful = True
            self.stateful_metrics: set[str] = set()
        else:
            self._all_stateful = False
            self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self.description = description or ""
        self.file = file if file is not None else sys.stdout
        self._values: dict[str, list[float]] = {}
        self._seen_so_far = 0
        self._start = time.time()
        self._time_after_first_step: float | None = None
        self._bar: _KerasTqdm | None = None
        self._closed = False

    # -- public API
    def set_description(self, description: str) -> None:
        """Sets the text shown before the bar (e.g. `"Epoch 3/10"`)."""
        self.description = description
        if self._bar is not None:
            self._bar.set_description_str(self._bar_desc(), refresh=False)

    def update(self, current: int, values: Mapping[str, Any] | Iterable | None = None) -> None:
        """Moves the bar to step `current` (1-based) and records `values`.

        Args:
            current: number of steps done.
            values: metric name -> value for this step (dict or `(name, value)` pairs).
                Non-stateful metrics are averaged over steps, weighted by the steps elapsed.
        """
        if self._closed:
            return
        for k, v in _items(values):
            if self._is_stateful(k):
                self._values[k] = [_as_number(v), 1]
            else:
                base = max(current - self._seen_so_far, 1)
                total = self._values.setdefault(k, [0.0, 0])
                total[0] += _as_number(v) * base
                total[1] += base
        if current >= 1 and self._time_after_first_step is None and self._seen_so_far == 0:
            self._time_after_first_step = time.time()
        self._seen_so_far = current
        if self.verbose == 1:
            bar = self._ensure_bar()
            bar.keras_text = self._suffix(current)
            bar.update(max(current - bar.n, 0))

    def add(self, n: int, values: Mapping[str, Any] | Iterable | None = None) -> None:
        """`update(steps_seen + n, values)`."""
        self.update(self._seen_so_far + n, values)

    def close(self, final_values: Mapping[str, Any] | Iterable | None = None) -> None:
        """Finishes the display; `final_values` are shown exactly as given (e.g. epoch logs
        including `val_` metrics)."""
        if self._closed:
            return
        for k, v in _items(final_values):
            self._values[k] = [_as_number(v), 1]
        current = self._seen_so_far
        if self.target is None:
            self.target = current
        if self.verbose == 1:
            bar = self._ensure_bar()
            if bar.total is None:
                bar.total = current
            bar.keras_text = self._suffix(current)
            bar.update(max(current - bar.n, 0))
            bar.close()
        elif self.verbose == 2:
            prefix = self._prefix() or f"{current}/{self.target}"
            elapsed = time.time() - self._start
            line = (f"{prefix} - {elapsed:.0f}s - "
                    f"{_format_time_per_unit(self._time_per_unit(current), self.unit_name)}"
                    f"{format_logs(self.current_values())}")
            print(line, file=self.file, flush=True)
        self._closed = True

    def current_values(self) -> dict[str, float]:
        """The values as displayed: running means (non-stateful) or last values (stateful)."""
        return {k: (s / n if n else 0.0) for k, (s, n) in self._values.items()}

    # -- internals
    def _is_stateful(self, name: str) -> bool:
        return self._all_stateful or name in self.stateful_metrics

    def _prefix(self) -> str:
        return self.description

    def _time_per_unit(self, current: int) -> float:
        now = time.time()
        if current > 1 and self._time_after_first_step is not None:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current if current else 0.0

    def _suffix(self, current: int) -> str:
        tpu = _format_time_per_unit(self._time_per_unit(current), self.unit_name)
        return f" {tpu}{format_logs(self.current_values())}"

    def _ensure_bar(self) -> _KerasTqdm:
        if self._bar is None:
            if self.target is None:
                fmt = "{desc}{n_fmt} {elapsed}{keras}"
            else:
                fmt = "{desc}{n_fmt}/{total_fmt} {bar:30} {elapsed}<{remaining}{keras}"
            self._bar = _KerasTqdm(total=self.target, file=self.file, dynamic_ncols=True,
                                   bar_format=fmt, leave=True, unit=self.unit_name,
                                   desc=self._bar_desc())
        return self._bar

    def _bar_desc(self) -> str:
        return f"{self.description} " if self.description else ""


def _items(values: Mapping[str, Any] | Iterable | None) -> list[tuple[str, Any]]:
    if values is None:
        return []
    if isinstance(values, Mapping):
        return list(values.items())
    return list(values)


def _as_number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
