"""Audio features for recurrent models, computed by librosa (`pip install "gated[audio]"`).

`log_mel` and `mfcc` turn a waveform into a `(frames, features)` float32 sequence — time
first, as a recurrent layer reads it — with analysis windows given in milliseconds so that
the same call suits any sample rate. `standardize` z-scores a list of such sequences with
statistics of the training set.

Example:
>>> import numpy as np
>>> tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000).astype(np.float32)
>>> log_mel(tone, 8000).shape                                          # doctest: +SKIP
(101, 40)
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_mel", "mfcc", "standardize"]


def _librosa():
    try:
        import librosa
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError('Audio features need librosa: pip install "gated[audio]".') from error
    return librosa


def _frames(sample_rate: int, window_ms: float, hop_ms: float) -> tuple[int, int, int]:
    if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise ValueError(f"`sample_rate` must be a positive int; received {sample_rate!r}.")
    if window_ms <= 0 or hop_ms <= 0:
        raise ValueError(f"`window_ms` and `hop_ms` must be > 0; received {window_ms!r}, "
                         f"{hop_ms!r}.")
    window = max(int(round(sample_rate * window_ms / 1000)), 1)
    hop = max(int(round(sample_rate * hop_ms / 1000)), 1)
    return window, hop, 1 << (window - 1).bit_length()


def log_mel(waveform: np.ndarray, sample_rate: int, n_mels: int = 40, window_ms: float = 25.0,
            hop_ms: float = 10.0, floor: float = 1e-6) -> np.ndarray:
    """Log mel-band energies: `log(mel power + floor)`, one row per hop.

    Args:
        waveform: mono samples, shape `(samples,)`.
        sample_rate: samples per second.
        n_mels: mel bands.
        window_ms: analysis window (Hann) in milliseconds; the FFT size is the next power of 2.
        hop_ms: hop between frames in milliseconds.
        floor: added before the logarithm.

    Returns:
        float32 array `(frames, n_mels)`.
    """
    librosa = _librosa()
    y = np.asarray(waveform, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"`waveform` must be a non-empty 1-D array; received shape {y.shape}.")
    window, hop, n_fft = _frames(sample_rate, window_ms, hop_ms)
    power = librosa.feature.melspectrogram(y=y, sr=int(sample_rate), n_fft=n_fft, hop_length=hop,
                                           win_length=window, n_mels=n_mels, power=2.0)
    return np.log(power + floor).T.astype(np.float32)


def mfcc(waveform: np.ndarray, sample_rate: int, n_mfcc: int = 20, n_mels: int = 40,
         window_ms: float = 25.0, hop_ms: float = 10.0, deltas: bool = True) -> np.ndarray:
    """Mel-frequency cepstral coefficients, optionally with their first and second deltas.

    Args:
        waveform: mono samples, shape `(samples,)`.
        sample_rate: samples per second.
        n_mfcc: coefficients per frame.
        n_mels: mel bands under the cepstrum.
        window_ms: analysis window in milliseconds.
        hop_ms: hop between frames in milliseconds.
        deltas: append the deltas and delta-deltas (3 * n_mfcc features).

    Returns:
        float32 array `(frames, n_mfcc * (3 if deltas else 1))`.
    """
    librosa = _librosa()
    y = np.asarray(waveform, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"`waveform` must be a non-empty 1-D array; received shape {y.shape}.")
    window, hop, n_fft = _frames(sample_rate, window_ms, hop_ms)
    coefficients = librosa.feature.mfcc(y=y, sr=int(sample_rate), n_mfcc=n_mfcc, n_fft=n_fft,
                                        hop_length=hop, win_length=window, n_mels=n_mels)
    parts = [coefficients]
    if deltas:
        width = min(9, coefficients.shape[1] - (1 - coefficients.shape[1] % 2))
        if width >= 3:
            parts += [librosa.feature.delta(coefficients, width=width, order=k) for k in (1, 2)]
        else:  # too short for a delta window: zeros, as a constant signal would give
            parts += [np.zeros_like(coefficients)] * 2
    return np.concatenate(parts).T.astype(np.float32)


def standardize(train: list[np.ndarray], *others: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Z-scores every feature with the mean and std of all training frames.

    Args:
        train: the training sequences, each `(frames, features)`.
        *others: further lists (validation, test) scaled with the same statistics.

    Returns:
        `[train, *others]`, scaled.
    """
    frames = np.concatenate(train)
    mean, std = frames.mean(0), frames.std(0) + 1e-8
    return [[((s - mean) / std).astype(np.float32) for s in group] for group in (train, *others)]
