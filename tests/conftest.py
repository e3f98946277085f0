"""Settings shared by every test module."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Run each test module on one intra-op thread, then restore the previous count.

    The tests use tiny tensors, on which intra-op threads only add synchronisation; that is
    very costly on a loaded 2-core machine (F.layer_norm on a (2, 8) tensor takes ~3 ms with
    2 busy threads, 30 us with one). Tests that need another count set it themselves.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
