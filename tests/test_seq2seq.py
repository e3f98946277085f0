"""Seq2Seq: teacher-forced training, greedy decoding, beam search against exhaustive search,
batched decoding, attention plots and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from gated.losses import SparseCategoricalCrossentropy
from gated.models import Seq2Seq
from gated.models.decoding import length_penalty
from gated.optimizers import Adam

PAD, START, END = 0, 1, 2


def _model(vocab=7, seed=0, scale=2.0, **kw):
    torch.manual_seed(seed)
    kw.setdefault("units", 6)
    model = Seq2Seq(source_vocab=9, target_vocab=vocab, embedding_dim=5, dtype="float64", **kw)
    model([np.array([[3, 4, 5]]), np.array([[START, 3]])])  # build
    with torch.no_grad():  # sharper distributions than the initial weights give
        for p in model.parameters():
            p.mul_(scale)
    return model


def _sources():
    return np.array([[3, 4, 5, 6], [7, 8, 0, 0], [5, 0, 0, 0]])


def _teacher_forced_score(model, source, target, alpha):
    """log P(target | source) from one teacher-forced call (the RNN layer's scan)."""
    dec_in = np.array([[START, *target[:-1]]])
    logits = model([source[None], dec_in])
    log_probs = torch.log_softmax(logits, -1)[0]
    total = float(sum(log_probs[i, t] for i, t in enumerate(target)).detach())
    return total / float(length_penalty(torch.tensor(len(target)), alpha))


@pytest.mark.parametrize("score", ["general", "bahdanau", None])
def test_beam_width_one_equals_greedy(score):
    model = _model(score=score, cell="gru" if score == "bahdanau" else "lstm")
    src = _sources()
    for alpha in (0.0, 0.8):
        g, gs = model.generate(src, max_length=6, length_penalty=alpha, return_scores=True)
        b, bs = model.generate(src, max_length=6, beam_width=1, length_penalty=alpha,
                               return_scores=True)
        np.testing.assert_array_equal(g, b)
        np.testing.assert_allclose(gs, bs, atol=1e-12)
    from gated.models import decoding
    tokens, _ = decoding.beam_search(model, src, 1, 6)  # the beam code path itself
    greedy_tokens, _, _ = decoding.greedy(model, src, 6)
    np.testing.assert_array_equal(tokens, greedy_tokens[:, :tokens.shape[1]])


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_beam_search_finds_the_best_sequence_of_an_exhaustive_search(alpha):
    vocab, max_length = 5, 3  # emitted tokens: END, 3, 4 (pad and start are never emitted)
    model = _model(vocab=vocab, seed=1, scale=3.0)
    for source in _sources():
        source = source[source != PAD]
        best, best_seq = -np.inf, None
        for length in range(1, max_length + 1):
            for body in itertools.product([3, 4], repeat=length - 1):
                for last in ([END, 3, 4] if length == max_length else [END]):
                    seq = [*body, last]
                    value = _teacher_forced_score(model, source, seq, alpha)
                    if value > best:
                        best, best_seq = value, seq
        tokens, scores = model.generate(source[None], max_length=max_length, beam_width=16,
                                        length_penalty=alpha, return_scores=True)
        found = [t for t in tokens[0] if t != PAD]
        want = [t for t in best_seq if t != END]
        assert found == want
        assert abs(scores[0] - best) < 1e-9
        greedy_scores = model.generate(source[None], max_length=max_length,
                                       length_penalty=alpha, return_scores=True)[1]
        assert scores[0] >= greedy_scores[0] - 1e-12


def test_a_batch_decodes_as_each_source_alone():
    model = _model(bidirectional=True, score="concat")
    src = _sources()
    batch = model.generate(src, max_length=5, beam_width=3, length_penalty=0.6)
    for row, source in zip(batch, src, strict=True):
        alone = model.generate(source[source != PAD][None], max_length=5, beam_width=3,
                               length_penalty=0.6)[0]
        np.testing.assert_array_equal(row[:len(alone)], alone)
        assert np.all(row[len(alone):] == PAD)


def test_fit_with_teacher_forcing_learns_a_copy_task():
    rng = np.random.default_rng(0)
    src = rng.integers(3, 8, size=(64, 4))
    dec_in = np.concatenate([np.full((64, 1), START), src], 1)
    dec_out = np.concatenate([src, np.full((64, 1), END)], 1)
    torch.manual_seed(0)
    model = Seq2Seq(source_vocab=8, target_vocab=8, units=32, embedding_dim=16)
    model.compile(optimizer=Adam(learning_rate=0.02),
                  loss=SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit([src, dec_in], dec_out, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    out = model.generate(src[:16], max_length=6)
    assert (out[:, :4] == src[:16]).mean() > 0.8
    logits = model.predict([src[:2], dec_in[:2]], verbose=0)
    assert logits.shape == (2, 5, 8)


def test_attention_weights_and_plot(tmp_path):
    model = _model()
    src = _sources()
    tokens, att = model.generate(src, max_length=4, return_attention=True)
    assert att.shape[0] == 3 and att.shape[2] == 4
    steps = (tokens != PAD).sum(1)
    for b in range(3):
        n_src = int((src[b] != PAD).sum())
        np.testing.assert_allclose(att[b, :steps[b], :n_src].sum(-1), 1.0, atol=1e-9)
        assert np.all(att[b, :, n_src:] == 0)
    pytest.importorskip("matplotlib")
    from gated.viz import plot_attention

    path = plot_attention(att[0], ["a", "b", "c", "d"], ["x", "y"], tmp_path / "att.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="weights"):
        plot_attention(att[0], ["a"] * 9, ["x"], tmp_path / "bad.png")


def test_bad_input_names_the_argument():
    model = _model()
    src = _sources()
    with pytest.raises(ValueError, match="beam_width"):
        model.generate(src, beam_width=0)
    with pytest.raises(ValueError, match="max_length"):
        model.generate(src, max_length=0)
    with pytest.raises(ValueError, match="score"):
        Seq2Seq(10, 10, score="luong")
    with pytest.raises(ValueError, match="cell"):
        Seq2Seq(10, 10, cell="transformer")
    with pytest.raises(ValueError, match="decoder_input"):
        model([src, np.array([[START, 3]])])
    with pytest.raises(ValueError, match="source"):
        model.generate(np.array([[0, 0, 0]]))


def test_save_and_load_round_trip(tmp_path):
    from gated.models import load_model

    model = _model(bidirectional=True, score="bahdanau")
    path = model.save(tmp_path / "s2s.keras") or tmp_path / "s2s.keras"
    loaded = load_model(path)
    src = _sources()
    np.testing.assert_array_equal(loaded.generate(src, max_length=5, beam_width=2),
                                  model.generate(src, max_length=5, beam_width=2))
