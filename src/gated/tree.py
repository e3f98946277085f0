"""Keras' `keras.tree`: work on nested structures of lists, tuples, namedtuples and dicts.

Leaves are everything else (tensors, arrays, numbers, strings, `None`). Dictionaries are
walked in sorted key order (an `OrderedDict` in its own order), as in Keras.

Example:
>>> flatten({"b": [1, 2], "a": 3})
[3, 1, 2]
>>> map_structure(lambda v: v * 10, (1, [2]))
(10, [20])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "MAP_TO_NONE", "assert_same_paths", "map_shape_structure",
    "assert_same_structure", "flatten", "flatten_with_path", "is_nested", "lists_to_tuples",
    "map_structure", "map_structure_up_to", "pack_sequence_as", "traverse",
]


def is_nested(structure: Any) -> bool:
    """Whether `structure` is a list, tuple (namedtuple included) or dict.

    Returns:
        True for a container, False for a leaf.
    """
    return isinstance(structure, (list, tuple, Mapping))


def _keys(mapping: Mapping) -> list:
    if isinstance(mapping, OrderedDict):
        return list(mapping)
    try:
        return sorted(mapping)
    except TypeError as err:
        raise TypeError(f"Dictionary keys must be sortable to flatten a structure; received "
                        f"keys {list(mapping)!r}.") from err


def _children(structure: Any) -> list:
    if isinstance(structure, Mapping):
        return [structure[k] for k in _keys(structure)]
    return list(structure)


def _rebuild(structure: Any, children: list) -> Any:
    if isinstance(structure, Mapping):
        values = dict(zip(_keys(structure), children, strict=True))
        if isinstance(structure, OrderedDict):
            return type(structure)((k, values[k]) for k in structure)
        try:
            return type(structure)((k, values[k]) for k in structure)
        except TypeError:  # e.g. defaultdict needs its factory
            out = structure.copy()
            out.update(values)
            return out
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*children)
    return type(structure)(children)


def flatten(structure: Any) -> list:
    """All leaves of `structure`, depth first, as a flat list.

    Args:
        structure: a nested structure (or a single leaf).

    Returns:
        The list of leaves.
    """
    if not is_nested(structure):
        return [structure]
    out: list = []
    for child in _children(structure):
        out.extend(flatten(child))
    return out


def flatten_with_path(structure: Any) -> list[tuple[tuple, Any]]:
    """Leaves with their paths: `[((key_or_index, ...), leaf), ...]`."""
    if not is_nested(structure):
        return [((), structure)]
    keys = _keys(structure) if isinstance(structure, Mapping) else range(len(structure))
    out: list = []
    for key, child in zip(keys, _children(structure), strict=True):
        out.extend(((key, *path), leaf) for path, leaf in flatten_with_path(child))
    return out


def _structure_error(a: Any, b: Any, why: str) -> ValueError:
    return ValueError(f"The two structures don't have the same nested structure ({why}). "
                      f"First structure: {a!r:.200}; second structure: {b!r:.200}.")


def assert_same_structure(a: Any, b: Any, check_types: bool | None = None) -> None:
    """Raises `ValueError` unless `a` and `b` have the same nesting (types of containers,
    lengths and dict keys); leaves may differ.

    Args:
        a: first structure.
        b: second structure.
        check_types: accepted for Keras compatibility (containers are always compared by
            kind: list, tuple, namedtuple type, dict keys).
    """
    del check_types
    if is_nested(a) != is_nested(b):
        raise _structure_error(a, b, "a leaf against a container")
    if not is_nested(a):
        return
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise _structure_error(a, b, "a dict against a sequence")
    if isinstance(a, Mapping):
        if set(a) != set(b):
            raise _structure_error(a, b, f"dict keys {sorted(map(str, a))} vs "
                                         f"{sorted(map(str, b))}")
    else:
        if isinstance(a, list) != isinstance(b, list):
            raise _structure_error(a, b, f"{type(a).__name__} vs {type(b).__name__}")
        a_named, b_named = hasattr(a, "_fields"), hasattr(b, "_fields")
        if (a_named or b_named) and type(a) is not type(b):
            raise _structure_error(a, b, f"{type(a).__name__} vs {type(b).__name__}")
        if len(a) != len(b):
            raise _structure_error(a, b, f"lengths {len(a)} vs {len(b)}")
    for x, y in zip(_children(a), _children(b), strict=True):
        assert_same_structure(x, y)


def map_structure(func: Callable, *structures: Any) -> Any:
    """Applies `func` to the leaves of `structures` (all of the same nesting) and returns the
    results in that nesting.

    Args:
        func: called with one leaf from each structure.
        *structures: one or more structures.

    Returns:
        A structure like the first one, holding `func`'s results.
    """
    if not structures:
        raise ValueError("map_structure() needs at least one structure; received none.")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*leaves) for leaves in zip(*flats, strict=True)])


def map_structure_up_to(shallow_structure: Any, func: Callable, *structures: Any) -> Any:
    """Like `map_structure`, but only down to the nesting of `shallow_structure`: what lies
    below its leaves is passed to `func` whole."""
    if not is_nested(shallow_structure):
        return func(*structures)
    parts = [_children(s) for s in structures]
    for s in structures:
        if not is_nested(s) or len(_children(s)) != len(_children(shallow_structure)):
            raise _structure_error(shallow_structure, s, "not as deep as the shallow one")
    results = [map_structure_up_to(child, func, *args)
               for child, *args in zip(_children(shallow_structure), *parts, strict=True)]
    return _rebuild(shallow_structure, results)


def pack_sequence_as(structure: Any, flat_sequence: Any) -> Any:
    """Puts the leaves of `flat_sequence` back into the nesting of `structure`.

    Args:
        structure: the nesting to reproduce.
        flat_sequence: as many leaves as `flatten(structure)` has.

    Returns:
        The packed structure.
    """
    flat = list(flat_sequence)
    expected = len(flatten(structure))
    if len(flat) != expected:
        raise ValueError(f"Argument `flat_sequence` must have {expected} elements to fill the "
                         f"structure; received {len(flat)}.")
    it = iter(flat)

    def build(s: Any) -> Any:
        if not is_nested(s):
            return next(it)
        return _rebuild(s, [build(c) for c in _children(s)])

    return build(structure)


def lists_to_tuples(structure: Any) -> Any:
    """`structure` with every list turned into a tuple."""
    if not is_nested(structure):
        return structure
    children = [lists_to_tuples(c) for c in _children(structure)]
    return tuple(children) if isinstance(structure, list) else _rebuild(structure, children)


class MAP_TO_NONE:  # noqa: N801 - Keras' name
    """Return this from `traverse`'s `func` to replace a node by None."""


def traverse(func: Callable, structure: Any, top_down: bool = True) -> Any:
    """Calls `func` on every node (containers too). Top down, a non-None result replaces the
    node and its children are not visited; bottom up, `func` sees the rebuilt children and
    its non-None result replaces the node. A `MAP_TO_NONE` result (the class) replaces the
    node by None."""
    def visit(node: Any) -> Any:
        if top_down:
            result = func(node)
            if result is not None:
                return None if result is MAP_TO_NONE else result
            if not is_nested(node):
                return node
            return _rebuild(node, [visit(c) for c in _children(node)])
        rebuilt = _rebuild(node, [visit(c) for c in _children(node)]) if is_nested(node) \
            else node
        result = func(rebuilt)
        if result is MAP_TO_NONE:
            return None
        return rebuilt if result is None else result

    return visit(structure)


def assert_same_paths(a: Any, b: Any) -> None:
    """Raises `ValueError` unless `a` and `b` have the same leaf paths (container types may
    differ: a list and a tuple, two namedtuple types).

    Args:
        a: first structure.
        b: second structure.
    """
    paths_a = {path for path, _ in flatten_with_path(a)}
    paths_b = {path for path, _ in flatten_with_path(b)}
    if paths_a != paths_b:
        raise ValueError(
            "The two structures don't have the same paths. Only in the first: "
            f"{sorted(map(str, paths_a - paths_b))}; only in the second: "
            f"{sorted(map(str, paths_b - paths_a))}."
        )


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and not hasattr(value, "_fields") and all(
        v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value)


def map_shape_structure(func: Callable, structure: Any) -> Any:
    """Like `map_structure`, but tuples/lists of ints and Nones are shapes: leaves passed to
    `func` whole.

    Example:
    >>> map_shape_structure(len, {"a": (2, 3), "b": [(4,), (None, 1, 2)]})
    {'a': 2, 'b': [1, 3]}
    """
    if _is_shape(structure) or not is_nested(structure):
        return func(structure)
    return _rebuild(structure, [map_shape_structure(func, c) for c in _children(structure)])
