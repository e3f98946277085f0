"""The application recipes at their `--quick` budget (slow: `pytest -m slow`).

Each asserts that the quick number is far better than chance or the naive baseline; the full
runs' numbers are in docs/applications.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gated.recipes import run_recipe

DATA = Path(__file__).parents[1].parent / "shared" / "data"


def _quick(name: str, subfolder: str, tmp_path: Path, *extra: str) -> dict:
    if not (DATA / subfolder).is_dir():
        pytest.skip(f"{subfolder} not found under {DATA} (see shared/data/README.md)")
    return run_recipe(name, ["--quick", "--quiet", "--data", str(DATA), "--output",
                             str(tmp_path), *extra])


@pytest.mark.slow
def test_sensor_activity_beats_nearest_neighbour(tmp_path):
    numbers = _quick("sensor-activity", "basicmotions", tmp_path)
    assert numbers["test_accuracy"] >= 0.85 > numbers["nn_euclidean_series_znorm"], numbers


@pytest.mark.slow
def test_handwriting_pendigits_far_above_chance(tmp_path):
    numbers = _quick("handwriting-pendigits", "pendigits", tmp_path)
    assert numbers["test_accuracy"] >= 0.8, numbers  # chance: 0.1
    assert numbers["nn_resampled"] > 0.97, numbers   # the published k-NN figure, rebuilt


@pytest.mark.slow
def test_text_sst2_far_above_majority(tmp_path):
    numbers = _quick("text-sst2", "sst2", tmp_path)
    assert numbers["test_accuracy"] >= 0.75 > numbers["majority"] + 0.2, numbers


@pytest.mark.slow
def test_speech_fsdd_reaches_its_target(tmp_path):
    pytest.importorskip("librosa")
    numbers = _quick("speech-fsdd", "fsdd", tmp_path)
    assert numbers["test_accuracy"] >= 0.9, numbers  # chance 0.1; the full run targets 0.97


@pytest.mark.slow
def test_music_jsb_beats_the_memoryless_baseline(tmp_path):
    pytest.importorskip("mido")
    numbers = _quick("music-jsb", "jsb_chorales", tmp_path)
    assert numbers["test_nll"] < numbers["baseline_nll"] - 1.0, numbers
    assert all(Path(f).stat().st_size > 0 for f in numbers["midi_files"])


def test_midi_writer_ties_held_keys_and_times_quarter_notes(tmp_path):
    mido = pytest.importorskip("mido")
    from gated.recipes.music_jsb import LOWEST_PITCH, TICKS_PER_BEAT, write_midi

    roll = np.zeros((3, 88), np.float32)
    roll[0:2, 39] = 1  # middle C held over two quarter notes
    roll[1, 43] = 1    # E on the second beat
    path = write_midi(roll, tmp_path / "x.mid", bpm=120)
    events, clock = [], 0
    for message in mido.MidiFile(path).tracks[0]:
        clock += message.time
        if message.type in ("note_on", "note_off"):
            events.append((clock // TICKS_PER_BEAT, message.type, message.note - LOWEST_PITCH))
    assert events == [(0, "note_on", 39), (1, "note_on", 43), (2, "note_off", 39),
                      (2, "note_off", 43)]
    # 2 sounding beats at 120 bpm (the silent last frame adds no event)
    assert mido.MidiFile(path).length == pytest.approx(1.0)


def test_sampled_chorale_keeps_its_prompt_and_is_binary():
    import torch

    from gated.recipes.greff_variants import build_model
    from gated.recipes.music_jsb import sample_chorale

    torch.manual_seed(0)
    model = build_model("keras", 8)
    prompt = (np.random.default_rng(0).random((4, 88)) < 0.05).astype(np.float32)
    roll = sample_chorale(model, prompt, 10, 1.0, np.random.default_rng(1))
    assert roll.shape == (10, 88) and np.array_equal(roll[:4], prompt)
    assert set(np.unique(roll)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="temperature"):
        sample_chorale(model, prompt, 10, 0.0, np.random.default_rng(1))


def test_char_lm_shards_continue_each_stream_from_batch_to_batch():
    from gated.recipes.char_lm import shards

    ids = np.arange(1000)
    x, y = shards(ids, streams=4, bptt=10)
    assert x.shape == y.shape == (24, 4, 10)  # 999 // 4 // 10 * 10 = 240 steps per stream
    np.testing.assert_array_equal(y, x + 1)
    for k in range(len(x) - 1):  # the next segment of a stream starts where this one ended
        np.testing.assert_array_equal(x[k + 1, :, 0], x[k, :, -1] + 1)
    np.testing.assert_array_equal(x[0, :, 0], [0, 240, 480, 720])
    with pytest.raises(ValueError, match="too short"):
        shards(np.arange(20), streams=4, bptt=10)


def test_char_lm_greedy_sample_equals_argmax_of_the_full_sequence_model():
    """top_k=1 sampling through the stream picks, at each step, the argmax that the same
    (non-stateful) model gives on the whole text so far."""
    import torch

    from gated.data import CharVocabulary
    from gated.layers import LSTM, Dense, Embedding
    from gated.models import Sequential
    from gated.recipes.char_lm import sample

    torch.manual_seed(0)
    vocabulary = CharVocabulary().adapt("abcdefgh ")
    model = Sequential([Embedding(vocabulary.vocabulary_size(), 8), LSTM(16,
                        return_sequences=True), Dense(vocabulary.vocabulary_size())])
    model(np.zeros((1, 3), "int64"))
    text = sample(model, vocabulary, "abc", 6, 1.0, 1, np.random.default_rng(0))
    assert text.startswith("abc") and len(text) == 9
    for n in range(3, 9):
        logits = model.predict(np.array([vocabulary.encode(text[:n])]), verbose=0)[0, -1]
        assert vocabulary.decode([int(np.argmax(logits))]) == text[n]
    with pytest.raises(ValueError, match="top_k"):
        sample(model, vocabulary, "abc", 2, 1.0, 0, np.random.default_rng(0))


@pytest.mark.slow
def test_char_lm_learns_far_below_the_unigram_entropy(tmp_path):
    numbers = _quick("char-lm", "tinyshakespeare", tmp_path)
    assert numbers["validation_nats_per_char"] < numbers["unigram_nats_per_char"] - 0.5, numbers


@pytest.mark.slow
def test_handwriting_uji_on_unseen_writers_far_above_chance(tmp_path):
    numbers = _quick("handwriting-uji", "ujipenchars", tmp_path)
    assert numbers["test_accuracy"] >= 0.3, numbers  # chance: 1/35
