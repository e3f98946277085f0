"""gated.data.audio: librosa features laid out time-first, checked against the definitions."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("librosa")

from gated.data.audio import log_mel, mfcc, standardize  # noqa: E402

RATE = 8000


def test_log_mel_frames_and_the_band_of_a_pure_tone():
    tone = np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE).astype(np.float32)
    features = log_mel(tone, RATE, n_mels=40)
    # centred frames every 10 ms (80 samples): 1 + 8000 // 80 of them
    assert features.shape == (101, 40) and features.dtype == np.float32
    import librosa

    centres = librosa.mel_frequencies(n_mels=42, fmin=0.0, fmax=RATE / 2)[1:-1]
    loudest = int(np.median(features.argmax(1)))
    assert abs(centres[loudest] - 1000) < 100  # the 1 kHz tone lands in the 1 kHz mel band


def test_log_mel_is_the_log_of_the_mel_weighted_power_spectrum():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(2000).astype(np.float32)
    import librosa

    # frame 13 by hand: centred at sample 13 * 80 = 1040, a periodic Hann window of 200
    # samples (25 ms) in the middle of a 256-point FFT
    window = np.zeros(256)
    window[28:228] = np.hanning(201)[:-1]
    frame = noise[1040 - 128:1040 + 128] * window
    power = np.abs(np.fft.rfft(frame)) ** 2
    mel = librosa.filters.mel(sr=RATE, n_fft=256, n_mels=40) @ power
    expected = np.log(mel + 1e-6)
    np.testing.assert_allclose(log_mel(noise, RATE)[13], expected, rtol=1e-4, atol=1e-4)


def test_mfcc_with_deltas_and_short_inputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000).astype(np.float32)
    features = mfcc(x, RATE, n_mfcc=13)
    assert features.shape == (51, 39)
    import librosa

    plain = mfcc(x, RATE, n_mfcc=13, deltas=False)
    np.testing.assert_allclose(features[:, :13], plain)
    np.testing.assert_allclose(features[:, 13:26], librosa.feature.delta(plain.T, width=9).T,
                               rtol=1e-5, atol=1e-5)
    short = mfcc(x[:200], RATE, n_mfcc=13)
    assert short.shape[1] == 39 and np.isfinite(short).all()


def test_standardize_uses_training_statistics_only():
    train = [np.array([[0.0, 10.0], [2.0, 10.0]]), np.array([[4.0, 10.0]])]
    test = [np.array([[2.0, 11.0]])]
    scaled_train, scaled_test = standardize(train, test)
    frames = np.concatenate(scaled_train)
    np.testing.assert_allclose(frames.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(frames[:, 0].std(), 1, atol=1e-6)
    np.testing.assert_allclose(scaled_test[0][0, 0], 0.0, atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="waveform"):
        log_mel(np.zeros((2, 100)), RATE)
    with pytest.raises(ValueError, match="sample_rate"):
        mfcc(np.zeros(100), -1)
    with pytest.raises(ValueError, match="hop_ms"):
        log_mel(np.zeros(100), RATE, hop_ms=0)
