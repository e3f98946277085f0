"""Property tests (hypothesis) over recurrent layer options and shapes: every built layer
runs, its output matches `compute_output_shape`, its config and weights round-trip to an
equal layer, and bad options raise a clear ValueError/TypeError, never a crash deep inside."""

from __future__ import annotations

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gated.layers import GRU, LSTM, SimpleRNN  # noqa: E402

LAYERS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}

options = st.fixed_dictionaries({
    "units": st.integers(1, 5),
    "return_sequences": st.booleans(),
    "return_state": st.booleans(),
    "go_backwards": st.booleans(),
    "use_bias": st.booleans(),
    "activation": st.sampled_from(["tanh", "relu", "sigmoid"]),
})
shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3))


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), opts=options, shape=shapes,
       masked=st.booleans())
def test_layer_runs_matches_its_shape_and_round_trips(kind, opts, shape, masked):
    torch.manual_seed(0)
    layer = LAYERS[kind](**opts)
    x = torch.randn(*shape)
    mask = None
    if masked:  # keep at least the first step of each sequence
        mask = torch.ones(shape[:2], dtype=torch.bool)
        mask[:, 1:] = torch.rand(shape[0], shape[1] - 1) > 0.5
    out = layer(x, mask=mask) if mask is not None else layer(x)
    outs = out if isinstance(out, (list, tuple)) else [out]
    expected = layer.compute_output_shape((None, *shape[1:]))
    expected = expected if isinstance(expected, list) else [expected]
    assert len(outs) == len(expected)
    for tensor, want in zip(outs, expected, strict=True):
        assert tuple(tensor.shape[1:]) == tuple(want[1:])
        assert bool(torch.isfinite(tensor).all())
    clone = type(layer).from_config(layer.get_config())
    clone(x)  # build
    clone.set_weights(layer.get_weights())
    again = clone(x, mask=mask) if mask is not None else clone(x)
    agains = again if isinstance(again, (list, tuple)) else [again]
    for a, b in zip(outs, agains, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


bad_options = st.one_of(
    st.fixed_dictionaries({"units": st.one_of(st.integers(-5, 0), st.just(2.5),
                                                st.just("8"), st.none())}),
    st.fixed_dictionaries({"units": st.just(3),
                           "dropout": st.one_of(st.floats(-2, -0.01), st.floats(1.0, 3.0))}),
    st.fixed_dictionaries({"units": st.just(3),
                           "activation": st.sampled_from(["tanhh", "no_such_fn"])}),
)


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), opts=bad_options)
def test_bad_options_raise_a_clear_error(kind, opts):
    with pytest.raises((ValueError, TypeError)) as info:
        layer = LAYERS[kind](**opts)
        layer(torch.randn(2, 3, 2))
    named = [k for k in opts if k != "units" or len(opts) == 1]
    assert any(name in str(info.value) for name in named), str(info.value)


@settings(max_examples=10, deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), features=st.integers(1, 3),
       wrong=st.integers(4, 6))
def test_wrong_feature_size_names_the_shapes(kind, features, wrong):
    layer = LAYERS[kind](2)
    layer(torch.randn(1, 2, features))
    with pytest.raises(ValueError) as info:
        layer(torch.randn(1, 2, wrong))
    assert str(wrong) in str(info.value) and str(features) in str(info.value)
    assert np.isfinite(layer(torch.randn(1, 2, features)).detach().numpy()).all()
