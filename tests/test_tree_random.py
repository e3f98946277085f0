"""`gated.tree` and `gated.random` against Keras 3's `keras.tree` / `keras.random` semantics.

tree: the same structures give the same flat orders, paths, packing and structure errors as
Keras. random: shapes, dtypes, seed semantics (an int seed repeats, a SeedGenerator
advances and is reproducible), moments and bounds of the distributions.
"""

from __future__ import annotations

import collections
import os

import numpy as np
import pytest
import torch

import gated

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras (Keras 3) is not installed")

tree = gated.tree
Point = collections.namedtuple("Point", ["y", "x"])

STRUCTURES = [
    1, None, "leaf", [1, 2, 3], (1, (2, 3)), {"b": 1, "a": 2, "c": [3, 4]},
    collections.OrderedDict([("z", 1), ("a", 2)]), Point(y=1, x=[2, 3]),
    [{"k": (1, 2)}, Point(3, 4), [], ()], {"x": None, "y": {"q": [5, None]}},
    {1: "a", 0: "b"}, [np.zeros(2), torch.ones(3)],
]


def _eq(a, b):
    if isinstance(a, (np.ndarray, torch.Tensor)):
        return a is b
    return a == b


@pytest.mark.parametrize("structure", STRUCTURES, ids=repr)
def test_flatten_and_paths_equal_keras(structure):
    ours, theirs = tree.flatten(structure), keras.tree.flatten(structure)
    assert len(ours) == len(theirs) and all(map(_eq, ours, theirs))
    ours_p = tree.flatten_with_path(structure)
    for path, leaf in ours_p:  # every path leads to its leaf
        node = structure
        for key in path:
            node = node[key]
        assert _eq(node, leaf)
    if "Point" not in repr(structure):
        # Keras 3.15 numbers a namedtuple's fields in sorted-name order in paths (Point(y, x):
        # y gets path (1,), which indexes x), so namedtuple paths are checked by indexing.
        theirs_p = keras.tree.flatten_with_path(structure)
        assert [p for p, _ in ours_p] == [tuple(p) for p, _ in theirs_p]
    assert tree.is_nested(structure) == keras.tree.is_nested(structure)


@pytest.mark.parametrize("structure", STRUCTURES, ids=repr)
def test_pack_and_map_equal_keras(structure):
    n = len(keras.tree.flatten(structure))
    values = list(range(100, 100 + n))
    assert tree.pack_sequence_as(structure, values) == \
        keras.tree.pack_sequence_as(structure, values)
    ours = tree.map_structure(lambda v: str(type(v).__name__), structure)
    theirs = keras.tree.map_structure(lambda v: str(type(v).__name__), structure)
    assert ours == theirs and type(ours) is type(theirs)
    assert tree.lists_to_tuples(structure) == keras.tree.lists_to_tuples(structure)


def test_map_structure_of_several_and_up_to_equal_keras():
    a, b = {"p": [1, 2], "q": (3,)}, {"p": [10, 20], "q": (30,)}
    assert tree.map_structure(lambda x, y: x + y, a, b) == \
        keras.tree.map_structure(lambda x, y: x + y, a, b)
    shallow, deep = [1, 1], [[1, 2], {"a": 3}]
    assert tree.map_structure_up_to(shallow, len, deep) == \
        keras.tree.map_structure_up_to(shallow, len, deep)


@pytest.mark.parametrize("a,b", [
    ([1, 2], [1]), ([1, 2], (1, 2)), ({"a": 1}, {"b": 1}), ([1, [2]], [1, 2]),
    (Point(1, 2), (1, 2)), ({"a": 1}, [1]), (1, [1]),
])
def test_assert_same_structure_fails_where_keras_fails(a, b):
    with pytest.raises((ValueError, TypeError)):
        keras.tree.assert_same_structure(a, b)
    with pytest.raises(ValueError, match="structure"):
        tree.assert_same_structure(a, b)


@pytest.mark.parametrize("a,b", [
    ([1, 2], ["x", None]), ({"a": (1, 2)}, {"a": (3, 4)}), (1, "leaf"), (Point(1, 2), Point(
        3, 4)), ([], []),
])
def test_assert_same_structure_passes_where_keras_passes(a, b):
    keras.tree.assert_same_structure(a, b)
    tree.assert_same_structure(a, b)


def test_pack_sequence_as_wrong_count_is_named():
    with pytest.raises(ValueError, match="flat_sequence"):
        tree.pack_sequence_as([1, [2]], [1])


def test_traverse_equals_keras():
    structure = [1, (2, {"a": 3})]

    def top_down(x):
        return None if tree.is_nested(x) else x * 2

    assert tree.traverse(top_down, structure) == keras.tree.traverse(top_down, structure)
    assert tree.traverse(top_down, structure, top_down=False) == \
        keras.tree.traverse(top_down, structure, top_down=False)


# ----------------------------------------------------------------------------- random
rnd = gated.random


@pytest.mark.parametrize("fn,kwargs", [
    (rnd.normal, {}), (rnd.uniform, {}), (rnd.truncated_normal, {}),
    (rnd.randint, {"minval": 0, "maxval": 5}),
])
def test_int_seed_repeats_and_generator_advances(fn, kwargs):
    a = fn((4, 3), seed=7, **kwargs)
    assert torch.equal(a, fn((4, 3), seed=7, **kwargs))  # an int seed: the same draws
    assert not torch.equal(a, fn((4, 3), seed=8, **kwargs))
    gen = rnd.SeedGenerator(3)
    first, second = fn((4, 3), seed=gen, **kwargs), fn((4, 3), seed=gen, **kwargs)
    assert not torch.equal(first, second)  # a SeedGenerator advances
    again = rnd.SeedGenerator(3)
    assert torch.equal(first, fn((4, 3), seed=again, **kwargs))  # ... reproducibly
    assert torch.equal(second, fn((4, 3), seed=again, **kwargs))


def test_int_seed_semantics_match_keras():
    # Keras: the same int seed gives the same draws each call; a SeedGenerator does not.
    assert np.array_equal(np.asarray(keras.random.normal((3,), seed=5).cpu()),
                          np.asarray(keras.random.normal((3,), seed=5).cpu()))
    gen = keras.random.SeedGenerator(1)
    assert not np.array_equal(np.asarray(keras.random.normal((3,), seed=gen).cpu()),
                              np.asarray(keras.random.normal((3,), seed=gen).cpu()))


def test_dtypes_and_shapes_equal_keras():
    for fn, kwargs in ((rnd.normal, {}), (rnd.uniform, {}), (rnd.truncated_normal, {}),
                       (rnd.randint, {"minval": 0, "maxval": 3})):
        name = fn.__name__
        ours = fn((2, 5), seed=1, **kwargs)
        theirs = getattr(keras.random, name)((2, 5), seed=1, **kwargs)
        assert tuple(ours.shape) == tuple(theirs.shape) == (2, 5)
        assert ours.dtype == theirs.dtype, name
        ours64 = fn((2,), seed=1, dtype="float64" if name != "randint" else "int64", **kwargs)
        assert ours64.dtype == (torch.float64 if name != "randint" else torch.int64)


def test_moments_and_bounds():
    n = (200_000,)
    x = rnd.normal(n, mean=2.0, stddev=3.0, seed=0)
    assert abs(x.mean().item() - 2.0) < 0.03 and abs(x.std().item() - 3.0) < 0.03
    u = rnd.uniform(n, minval=-1.0, maxval=3.0, seed=0)
    assert u.min().item() >= -1.0 and u.max().item() < 3.0
    assert abs(u.mean().item() - 1.0) < 0.02 and abs(u.var().item() - 16 / 12) < 0.02
    t = rnd.truncated_normal(n, mean=1.0, stddev=2.0, seed=0)
    assert t.min().item() >= 1.0 - 4.0 and t.max().item() <= 1.0 + 4.0
    # a standard normal cut at +-2: variance 1 - 2*2*phi(2)/(Phi(2)-Phi(-2)) = 0.7737
    assert abs(t.mean().item() - 1.0) < 0.02 and abs(t.var().item() / 4 - 0.7737) < 0.01
    r = rnd.randint(n, minval=3, maxval=7, seed=0)
    assert set(r.unique().tolist()) == {3, 4, 5, 6}


def test_shuffle_dropout_categorical():
    x = torch.arange(10)
    s = rnd.shuffle(x, seed=1)
    assert sorted(s.tolist()) == list(range(10)) and torch.equal(s, rnd.shuffle(x, seed=1))
    ones = torch.ones(100_000)
    d = rnd.dropout(ones, rate=0.25, seed=0)
    kept = d[d != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.75))  # Keras scales by 1/(1-rate)
    assert abs((d == 0).float().mean().item() - 0.25) < 0.01
    logits = torch.log(torch.tensor([[0.1, 0.9]]))
    draws = rnd.categorical(logits, 20_000, seed=0)
    assert draws.shape == (1, 20_000) and abs(draws.float().mean().item() - 0.9) < 0.01
    assert draws.dtype == keras.random.categorical(logits, 4, seed=0).dtype


def test_bad_seed_is_named():
    with pytest.raises(TypeError, match="seed"):
        rnd.normal((2,), seed=1.5)
    with pytest.raises(TypeError, match="seed"):
        rnd.SeedGenerator("x")


def test_map_to_none_assert_same_paths_map_shape_structure_equal_keras():
    def to_none(x):
        return tree.MAP_TO_NONE if x == 2 else None

    def to_none_keras(x):
        return keras.tree.MAP_TO_NONE if x == 2 else None

    structure = [1, (2, {"a": 3})]
    for top_down in (True, False):
        assert tree.traverse(to_none, structure, top_down=top_down) == \
            keras.tree.traverse(to_none_keras, structure, top_down=top_down)
    for a, b in (([0, 1], (2, 3)), (Point(1, 2), collections.namedtuple("Q", "a b")(3, 4)),
                 ({"a": [1]}, {"a": (2,)})):
        keras.tree.assert_same_paths(a, b)
        tree.assert_same_paths(a, b)
    for a, b in (([0, 1], [0]), ({"a": 1}, {"b": 1})):
        with pytest.raises(ValueError):
            keras.tree.assert_same_paths(a, b)
        with pytest.raises(ValueError, match="paths"):
            tree.assert_same_paths(a, b)
    shapes = {"a": (2, 3), "b": [(4,), (None, 1, 2)], "c": 5}
    assert tree.map_shape_structure(lambda s: s if isinstance(s, int) else len(s), shapes) == \
        keras.tree.map_shape_structure(lambda s: s if isinstance(s, int) else len(s), shapes)


def test_gamma_beta_binomial_moments_seeds_and_dtypes():
    n = (100_000,)
    g = rnd.gamma(n, alpha=3.0, seed=0)
    assert abs(g.mean().item() - 3.0) < 0.03 and abs(g.var().item() - 3.0) < 0.08
    b = rnd.beta(n, alpha=2.0, beta=5.0, seed=0)
    assert b.min().item() >= 0 and b.max().item() <= 1
    assert abs(b.mean().item() - 2 / 7) < 0.005  # a / (a + b); var ab/((a+b)^2 (a+b+1))
    assert abs(b.var().item() - 10 / (49 * 8)) < 0.001
    k = rnd.binomial(n, counts=10, probabilities=0.3, seed=0)
    assert set(k.unique().tolist()) <= set(map(float, range(11)))
    assert abs(k.mean().item() - 3.0) < 0.03 and abs(k.var().item() - 2.1) < 0.05
    for fn, kwargs in ((rnd.gamma, {"alpha": 2.0}), (rnd.beta, {"alpha": 1.0, "beta": 2.0}),
                       (rnd.binomial, {"counts": 5, "probabilities": 0.5})):
        assert torch.equal(fn((3,), seed=4, **kwargs), fn((3,), seed=4, **kwargs))
        ours = fn((2, 3), seed=1, **kwargs)
        assert ours.dtype == getattr(keras.random, fn.__name__)((2, 3), seed=1, **kwargs).dtype
    per_row = rnd.gamma((2, 3), alpha=[[1.0], [50.0]], seed=0)
    assert per_row[1].mean() > per_row[0].mean()
    with pytest.raises(ValueError, match="alpha"):
        rnd.gamma((2, 3), alpha=[1.0, 2.0])
