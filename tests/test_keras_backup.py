"""`gated.callbacks.BackupAndRestore`: a fit interrupted and restarted ends with the same
weights as one uninterrupted fit (weights, Adam state and the epoch counter restored)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gated

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 5, 3)).astype("float32")
Y = RNG.normal(size=(24, 1)).astype("float32")


def _model(seed):
    gated.utils.set_random_seed(seed)
    model = gated.Sequential([gated.Input((5, 3)), gated.layers.LSTM(4), gated.layers.Dense(1)])
    model.compile(gated.optimizers.Adam(0.01), "mse")
    return model


class Crash(gated.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated crash")


def test_interrupted_fit_resumes_to_the_uninterrupted_weights(tmp_path):
    reference = _model(0)
    reference.fit(X, Y, batch_size=8, epochs=4, shuffle=False, verbose=0)

    backup = tmp_path / "backup"
    first = _model(0)
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, Y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                  callbacks=[gated.callbacks.BackupAndRestore(backup), Crash(1)])
    assert (backup / "training_metadata.json").exists()

    resumed = _model(123)  # a fresh process: other initial weights, no optimizer state
    history = resumed.fit(X, Y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                          callbacks=[gated.callbacks.BackupAndRestore(backup)])
    assert len(history.history["loss"]) == 2  # epochs 2 and 3 only
    for a, b in zip(resumed.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert not backup.exists()  # deleted after a normal end


def test_batch_frequency_and_arguments(tmp_path):
    model = _model(0)
    cb = gated.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2, delete_checkpoint=False,
                                          double_checkpoint=True)
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])  # 6 batches: 3 saves
    assert (tmp_path / "b" / "latest.gated").exists()
    assert (tmp_path / "b" / "latest.gated.bkp").exists()
    with pytest.raises(ValueError, match="save_freq"):
        gated.callbacks.BackupAndRestore(tmp_path, save_freq="hourly")
    with pytest.raises(ValueError, match="backup_dir"):
        gated.callbacks.BackupAndRestore("")
