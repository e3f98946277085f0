"""The training script that tests/test_distribute.py runs under torchrun and alone (not a
test). Nothing in it is about distribution: under torchrun, gated finds WORLD_SIZE/RANK.

Usage: python _ddp_script.py OUT_PREFIX   (or torchrun --standalone --nproc_per_node=2 ...)
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
model.save_weights(out + ".weights.safetensors")  # written by process 0 only
record = {"history": history.history, "evaluate": evaluation,
          "predict": prediction.tolist()}
atomic_write(out + ".json", lambda f: f.write(json.dumps(record).encode()))
