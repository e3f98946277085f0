"""The training script that tests/test_distribute.py runs under torchrun and alone (not a
test). Nothing in it is about distribution: under torchrun, gated finds WORLD_SIZE/RANK.

Usage: python _ddp_script.py OUT_PREFIX [stateful]   (or under torchrun --standalone
--nproc_per_node=2)
"""

import json
import sys

import numpy as np
import torch

from gated.layers import LSTM, Dense
from gated.models import Sequential
from gated.models.saving import atomic_write

torch.manual_seed(0)
data = np.random.default_rng(0)
x = data.normal(size=(57, 4, 3)).astype("float32")
y = data.normal(size=(57, 2)).astype("float32")
model = Sequential([LSTM(6), Dense(2)])
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
history = model.fit(x, y, batch_size=10, epochs=3, shuffle=True, validation_split=0.2,
                    verbose=0)
evaluation = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
prediction = model.predict(x[:13], batch_size=4, verbose=0)
out = sys.argv[1]
if len(sys.argv) > 2 and sys.argv[2] == "stateful":
    # Truncated BPTT: row k of batch j continues row k of batch j-1 (8 streams, 6 chunks of 4
    # steps each). Each process owns a contiguous block of streams and carries their states.
    torch.manual_seed(0)
    streams = data.normal(size=(6 * 8, 4, 3)).astype("float32")
    targets = data.normal(size=(6 * 8, 2)).astype("float32")
    model = Sequential([LSTM(5, stateful=True, input_shape=(4, 3)), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    for _ in range(3):
        model.fit(streams, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
        model.reset_states()
    prediction = model.predict(streams[:16], batch_size=8, verbose=0)
    evaluation = {}
model.save_weights(out + ".weights.safetensors")  # written by process 0 only
record = {"history": history.history, "evaluate": evaluation,
          "predict": prediction.tolist()}
atomic_write(out + ".json", lambda f: f.write(json.dumps(record).encode()))
