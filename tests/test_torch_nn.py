"""`torch.nn.LSTM` / `nn.GRU` <-> gated (`gated.export.torch_nn`), against torch's own modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gated.export.torch_nn import from_torch, to_torch
from gated.layers import LSTM, Input
from gated.models import Sequential

D, TOL = 4, 1e-5


def _x(batch=3, steps=6, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, steps, D)).astype(np.float32)


def _randomize(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])


# ---------------------------------------------------------------------- torch.nn
@pytest.mark.parametrize("kwargs", [
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 2, "proj_size": 3},
    {"num_layers": 1, "bidirectional": True, "proj_size": 2, "bias": False},
], ids=["two_layers_bidirectional", "proj_size", "bidirectional_proj_no_bias"])
def test_nn_lstm_round_trip(kwargs):
    torch.manual_seed(0)
    module = torch.nn.LSTM(D, 5, batch_first=True, **kwargs)
    x = _x()
    with torch.no_grad():
        want = module(torch.from_numpy(x))[0].numpy()
    model = from_torch(module)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=TOL, atol=TOL)
    from_state = from_torch(module.state_dict())
    np.testing.assert_allclose(from_state.predict(x, verbose=0), want, rtol=TOL, atol=TOL)
    back = to_torch(model)
    for key, value in module.state_dict().items():
        if key.startswith("bias_hh"):  # torch's second bias is folded into the first
            continue
        got = back.state_dict()[key]
        want_value = value + module.state_dict()[key.replace("_ih", "_hh")] \
            if key.startswith("bias_ih") else value
        torch.testing.assert_close(got, want_value, rtol=TOL, atol=TOL)
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.from_numpy(x))[0].numpy(), want, rtol=TOL,
                                   atol=TOL)


@pytest.mark.parametrize("kwargs", [{"num_layers": 3}, {"bidirectional": True}])
def test_nn_gru_round_trip(kwargs):
    torch.manual_seed(1)
    module = torch.nn.GRU(D, 4, batch_first=True, **kwargs)
    x = _x(seed=2)
    with torch.no_grad():
        want = module(torch.from_numpy(x))[0].numpy()
    model = from_torch(module)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=TOL, atol=TOL)
    back = to_torch(model)
    for key, value in module.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value)


def test_to_torch_refuses_what_torch_cannot_run():
    peephole = Sequential([Input((None, D)), LSTM(3, variant="peephole", name="peep")])
    with pytest.raises(ValueError, match="'peep'.*standard cell"):
        to_torch(peephole)
    with pytest.raises(TypeError, match="`module` of from_torch"):
        from_torch(torch.nn.Linear(2, 2))
