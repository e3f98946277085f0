"""The char-lm-compare recipe: its models, sizing and baseline, and (slow) its quick run.

Independent truths: the unigram cross-entropy computed by hand; parameter counts of the
neighbouring widths; causality checked by changing future characters; and the unigram baseline
that every trained model must beat by a clear margin.
"""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gated.recipes import char_lm_compare as recipe
from gated.recipes import run_recipe

DATA = Path(__file__).parents[1].parent / "shared" / "data"


def test_unigram_baseline_by_hand():
    train = np.array([2, 2, 3, 2])
    valid = np.array([3, 2])
    # add-one counts over a vocabulary of 4: [1, 1, 4, 2] / 8
    expected = -(math.log(2 / 8) + math.log(4 / 8)) / 2
    assert recipe.unigram_nats(train, valid, 4) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(recipe.MODELS))
def test_models_are_causal_and_sized_to_the_target(name):
    builder = recipe.MODELS[name]
    width, params = recipe.size_to(builder, 20, 16, 12_000)
    assert width % 4 == 0
    assert params == builder(20, 16, width).count_params()
    for other in (width - 4, width + 4):
        if other > 0:
            assert abs(builder(20, 16, other).count_params() - 12_000) >= abs(params - 12_000)
    torch.manual_seed(0)
    model = builder(20, 16, 8)
    ids = torch.randint(2, 20, (2, 16))
    changed = ids.clone()
    changed[:, 10:] = torch.randint(2, 20, (2, 6))
    a, b = model(ids), model(changed)
    assert a.shape == (2, 16, 20)
    scale = float(a.abs().max())  # an untrained mLSTM's logits are ~1e-5: compare relatively
    assert scale > 0
    torch.testing.assert_close(a[:, :10], b[:, :10], rtol=0, atol=1e-4 * scale)
    assert (a[:, 10:] - b[:, 10:]).abs().max() > 1e-2 * scale


def test_unknown_model_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--models"):
        run_recipe("char-lm-compare", ["--models", "lstm,gpt9", "--data", str(tmp_path),
                                       "--output", str(tmp_path)])


@pytest.mark.slow
def test_quick_run_beats_the_unigram_baseline(tmp_path):
    if not (DATA / "tinyshakespeare" / "input.txt").exists():
        pytest.skip(f"tiny Shakespeare not found under {DATA}")
    numbers = run_recipe("char-lm-compare", ["--quick", "--data", str(DATA), "--output",
                                             str(tmp_path), "--quiet"])
    assert set(numbers["models"]) == set(recipe.MODELS)
    unigram = numbers["unigram_nats"]
    assert 3.0 < unigram < 3.6  # about 4.8 bits/char for English characters
    for name, m in numbers["models"].items():
        assert m["valid_nats"] < unigram - 0.5, (name, m["valid_nats"], unigram)
        assert abs(m["params"] - numbers["target_params"]) < 0.15 * numbers["target_params"]
        assert m["sample"].startswith("ROMEO:") and len(m["sample"]) > 150
