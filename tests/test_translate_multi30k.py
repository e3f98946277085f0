"""The Multi30k translation recipe: a fast check of its parts, and the --quick run (slow)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from gated.recipes import translate_multi30k as recipe

DATA = Path(__file__).parents[1].parent / "shared" / "data"
HAS_DATA = (DATA / "multi30k" / "train.de.gz").exists()


def test_tokenizer_batches_and_bleu_on_known_text():
    pytest.importorskip("tokenizers")
    pytest.importorskip("sacrebleu")
    text = ["Ein Hund läuft.", "Ein Mann läuft.", "Ein Hund schläft."]
    tok = recipe.train_tokenizer(text, min_frequency=2)
    vocab = tok.get_vocab()
    assert [vocab[s] for s in recipe.SPECIALS] == [0, 1, 2, 3]
    ids = recipe.encode(tok, ["ein hund läuft ."])[0]
    assert ids == [vocab["ein"], vocab["hund"], vocab["läuft"], vocab["."]]
    assert recipe.encode(tok, ["Ein Mann"])[0][1] == 3  # "mann" seen once: <unk>
    batches = list(recipe.Batches([[5, 6], [7], [8, 9, 10]], [[4], [5, 6], [7]], 2, seed=0))
    assert sum(len(b[1]) for b in batches) == 3
    (src, dec_in), dec_out = batches[0]
    assert np.all(dec_in[:, 0] == recipe.START)
    assert all(recipe.END in row for row in dec_out)
    assert recipe.bleu(["a dog runs ."], ["A dog runs."]) == pytest.approx(100.0)
    assert recipe.bleu(["cat"], ["A dog runs."]) < 1.0


@pytest.mark.slow
@pytest.mark.skipif(not HAS_DATA, reason=f"Multi30k not found under {DATA}/multi30k")
def test_quick_run_translates_far_above_copying_the_source(tmp_path):
    parser = argparse.ArgumentParser()
    recipe.add_arguments(parser)
    args = parser.parse_args(["--threads", "1"])
    args.quick, args.data, args.output, args.seed, args.verbose = True, str(DATA), \
        str(tmp_path), 0, 0
    result = recipe.run(args)
    assert result["bleu_copy_source"] < 3.0
    # measured: copy 0.7, greedy 25.6, beam 28.3 (docs/attention.md)
    assert result["bleu_greedy"] > result["bleu_copy_source"] + 15.0
    assert result["bleu_beam"] > result["bleu_copy_source"] + 15.0
    # under 5 minutes of one core's time (wall time on a shared machine is longer)
    assert result["total_cpu_seconds"] < 300
