"""Shared helpers of the science recipes: the (embedded) Reber grammar, seeding, verdicts."""

from __future__ import annotations

import random
import time

import numpy as np
import torch

import gated.layers  # noqa: F401,E402  (import order: gated.layers before gated.cells)

# --------------------------------------------------------------------------- Reber grammar
#: The seven symbols of the Reber grammar, in one-hot order.
SYMBOLS = "BTPSXVE"
SYMBOL_INDEX = {s: k for k, s in enumerate(SYMBOLS)}
NUM_SYMBOLS = len(SYMBOLS)

#: Reber's finite-state grammar (Reber 1967, as drawn in Hochreiter & Schmidhuber 1997, fig. 3):
#: state -> list of (symbol, next state). State 0 is before "B", state 6 before the final "E".
REBER_GRAPH: dict[int, list[tuple[str, int]]] = {
    0: [("B", 1)],
    1: [("T", 2), ("P", 3)],
    2: [("S", 2), ("X", 4)],
    3: [("T", 3), ("V", 5)],
    4: [("X", 3), ("S", 6)],
    5: [("P", 4), ("V", 6)],
    6: [("E", 7)],
}


def reber_string(rng: random.Random) -> str:
    """One string of the (plain) Reber grammar; each branch is taken with probability 1/2."""
    state, out = 0, []
    while state != 7:
        symbol, state = rng.choice(REBER_GRAPH[state])
        out.append(symbol)
    return "".join(out)


def embedded_reber_string(rng: random.Random) -> str:
    """One string of the embedded Reber grammar: `B T <reber> T E` or `B P <reber> P E`.

    The second symbol (T or P) must be remembered across the whole embedded string to predict
    the second-to-last one: the long time lag of Hochreiter & Schmidhuber 1997, experiment 1.
    """
    branch = rng.choice("TP")
    return "B" + branch + reber_string(rng) + branch + "E"


def is_reber(string: str) -> bool:
    """Whether `string` is a sentence of the plain Reber grammar."""
    state = 0
    for symbol in string:
        moves = dict(REBER_GRAPH.get(state, []))
        if symbol not in moves:
            return False
        state = moves[symbol]
    return state == 7


def is_embedded_reber(string: str) -> bool:
    """Whether `string` is a sentence of the embedded Reber grammar."""
    return (len(string) >= 4 and string[0] == "B" and string[-1] == "E"
            and string[1] in "TP" and string[-2] == string[1] and is_reber(string[2:-2]))


def legal_successors(string: str) -> list[str]:
    """For each prefix `string[:t+1]` of an embedded Reber string, the set of legal next
    symbols, as a string (`len(string) - 1` entries: nothing follows the final "E")."""
    out = []
    for t in range(len(string) - 1):
        if t == 0:
            out.append("TP")                              # after B
        elif t == 1:
            out.append("B")                               # after the branch symbol
        elif t < len(string) - 3:
            state = 0                                     # inside the embedded string
            for symbol in string[2:t + 1]:
                state = dict(REBER_GRAPH[state])[symbol]
            out.append("".join(s for s, _ in REBER_GRAPH[state]))
        elif t == len(string) - 3:
            out.append(string[1])                         # the long-range dependency
        else:
            out.append("E")
    return out


def one_hot(string: str) -> np.ndarray:
    """`(len(string), 7)` one-hot float32 encoding."""
    x = np.zeros((len(string), NUM_SYMBOLS), dtype=np.float32)
    x[np.arange(len(string)), [SYMBOL_INDEX[s] for s in string]] = 1.0
    return x


def legal_mask(string: str) -> np.ndarray:
    """`(len(string) - 1, 7)` float32: 1 where a symbol is a legal successor of the prefix."""
    m = np.zeros((len(string) - 1, NUM_SYMBOLS), dtype=np.float32)
    for t, legal in enumerate(legal_successors(string)):
        m[t, [SYMBOL_INDEX[s] for s in legal]] = 1.0
    return m


def step_correct(probs: np.ndarray, legal: np.ndarray, threshold: float) -> np.ndarray:
    """Per step: True when the symbols with probability above `threshold` are exactly the
    legal successors. `probs`, `legal`: `(..., 7)`; returns `(...)`."""
    return np.all((probs > threshold) == (legal > 0.5), axis=-1)


def step_correct_topk(probs: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """Per step, the paper's criterion: the k largest outputs are the k legal successors."""
    is_legal = legal > 0.5
    lowest_legal = np.where(is_legal, probs, np.inf).min(-1)
    highest_illegal = np.where(is_legal, -np.inf, probs).max(-1)
    return lowest_legal > highest_illegal


# --------------------------------------------------------------------------- run helpers
def setup(seed: int, threads: int = 1) -> None:
    """Seed Python, NumPy and torch; use `threads` CPU threads (small nets: 1 is fastest)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


class Timer:
    """`with Timer() as t: ...; t.seconds`."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def verdict(passed: bool, criterion: str) -> str:
    """The final line every example prints."""
    line = f"CRITERION: {criterion} -> {'PASS' if passed else 'FAIL'}"
    print(line, flush=True)
    return line
