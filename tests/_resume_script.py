"""The training script that tests/test_backup_restore.py kills and runs again (not a test).

Usage: python _resume_script.py BACKUP_DIR OUT_FILE [SAVE_FREQ]
Prints `SAVED <n>` after the n-th backup is on disk; writes the final weights to OUT_FILE.
"""

import random
import sys

import numpy as np
import torch
from safetensors.torch import save_file

from gated.callbacks import BackupAndRestore, Callback
from gated.layers import LSTM, Dense, Dropout
from gated.models import Sequential

torch.manual_seed(0)
np.random.seed(0)
random.seed(0)
backup_dir, out_file = sys.argv[1], sys.argv[2]
save_freq = sys.argv[3] if len(sys.argv) > 3 else "2"
save_freq = save_freq if save_freq == "epoch" else int(save_freq)
data = np.random.default_rng(0)
x = data.normal(size=(24, 5, 3)).astype("float32")
y = data.normal(size=(24, 1)).astype("float32")
model = Sequential([LSTM(8, dropout=0.2, recurrent_dropout=0.1), Dropout(0.3), Dense(1)])
model.compile(optimizer="adam", loss="mse")


class Announce(Callback):
    """Runs after BackupAndRestore: each save it made is on disk when this prints."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def _tick(self) -> None:
        self.count += 1
        print(f"SAVED {self.count}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        if save_freq != "epoch" and self.count_batches():
            self._tick()

    def count_batches(self) -> bool:
        self.batches = getattr(self, "batches", 0) + 1
        return self.batches % save_freq == 0

    def on_epoch_end(self, epoch, logs=None):
        if save_freq == "epoch":
            self._tick()


model.fit(x, y, batch_size=8, epochs=3, shuffle=True, verbose=0,
          callbacks=[BackupAndRestore(backup_dir, save_freq=save_freq), Announce()])
save_file({f"{i}": p.detach().contiguous() for i, p in enumerate(model.parameters())}, out_file)
print("DONE", flush=True)
