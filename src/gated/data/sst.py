"""The Stanford Sentiment Treebank, binary (SST-2), as `label<TAB>text` files.

Example:
>>> splits = load_sst2("../shared/data/sst2")         # doctest: +SKIP
>>> texts, labels = splits["dev"]                      # doctest: +SKIP
>>> len(texts), labels[:3].tolist()                    # doctest: +SKIP
(872, [1, 0, 1])
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["load_sst2"]

SPLITS = ("train", "dev", "test")


def load_sst2(path: str | os.PathLike) -> dict[str, tuple[list[str], np.ndarray]]:
    """Reads `train.tsv`, `dev.tsv` and `test.tsv` (a `label<TAB>text` header line first).

    Args:
        path: the folder holding the three files.

    Returns:
        `{split: (texts, labels)}`, labels an int64 array of 0 (negative) and 1 (positive).

    Raises:
        FileNotFoundError: naming a missing file.
        ValueError: naming the file and line of a row that is not `0|1<TAB>text`.
    """
    folder = Path(path)
    out = {}
    for split in SPLITS:
        file = folder / f"{split}.tsv"
        if not file.is_file():
            raise FileNotFoundError(f"SST-2 file not found: '{file}'.")
        texts, labels = [], []
        lines = file.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            label, sep, text = line.partition("\t")
            if not sep or label not in ("0", "1"):
                raise ValueError(f"{file}:{number}: expected 'label<TAB>text' with label 0 or "
                                 f"1; received {line[:60]!r}.")
            texts.append(text)
            labels.append(int(label))
        out[split] = (texts, np.array(labels, dtype=np.int64))
    return out
