"""The xLSTM science recipes at their reduced (`--quick`) budget: what the paper reports and
reproduces here. Slow (about 5 minutes on 2 shared cores); run with `pytest -m slow`. The
numbers of the full runs are in docs/xlstm.md."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gated.recipes import xlstm_mqar, xlstm_parity


def test_parity_batches_hold_the_running_parity():
    x, y = xlstm_parity.batch(np.random.default_rng(0), 4, 9)
    bits = x.argmax(-1)
    assert torch.equal(y, bits.cumsum(1) % 2)


def test_mqar_batches_ask_every_key_once_with_its_value():
    pairs, keys = 5, 16
    x, y = xlstm_mqar.batch(np.random.default_rng(0), 3, pairs, keys)
    assert x.shape == y.shape == (3, 3 * pairs)
    for row, target in zip(x.tolist(), y.tolist(), strict=True):
        shown = dict(zip(row[0:2 * pairs:2], row[1:2 * pairs:2], strict=True))
        assert sorted(row[2 * pairs:]) == sorted(shown)
        assert target[:2 * pairs] == [-100] * 2 * pairs
        assert target[2 * pairs:] == [shown[k] for k in row[2 * pairs:]]
        assert all(k < keys <= v for k, v in shown.items())


@pytest.mark.slow
def test_parity_lstm_and_slstm_extrapolate_mlstm_does_not():
    results = {kind: xlstm_parity.train(kind, steps=500, verbose=False)
               for kind in ("lstm", "slstm", "mlstm", "xlstm[1:0]")}
    assert results["lstm"]["extrapolation"] >= 0.95, results
    assert results["slstm"]["extrapolation"] >= 0.95, results
    assert results["mlstm"]["extrapolation"] <= 0.6, results
    assert results["xlstm[1:0]"]["extrapolation"] <= 0.6, results


@pytest.mark.slow
def test_mqar_mlstm_blocks_recall_lstm_does_not():
    mlstm = xlstm_mqar.train("xlstm[1:0]", steps=400, verbose=False)
    lstm = xlstm_mqar.train("lstm", steps=400, verbose=False)
    assert mlstm["accuracy"] >= 0.95, mlstm
    assert lstm["accuracy"] <= 0.2, lstm
