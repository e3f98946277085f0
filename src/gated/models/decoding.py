"""Greedy decoding and beam search for encoder-decoder models (`Seq2Seq`).

A model offers `encode(source)`, `decoder_start(memory, mask, states) -> (states, keys)` and
`decoder_step(tokens, states, keys) -> (log_probs, states, attention)`; these functions run
the loop for a batch of sources at once. The decoder never emits the pad or start token.

Beam search keeps `beam_width` hypotheses per source. Each step extends every live hypothesis
by every token; a finished one (it emitted the end token) is carried on unchanged. The
candidates are ranked by the GNMT score (Wu et al. 2016)

    s(Y) = log P(Y | X) / lp(Y),   lp(Y) = ((5 + |Y|) / 6) ** alpha

(|Y| counts the end token; alpha = 0 ranks by log-probability), the best `beam_width` stay,
and the best finished-or-final hypothesis is returned. With `beam_width = 1` every candidate
of the single beam has the same length, so the ranking is the greedy argmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT's `((5 + length) / 6) ** alpha`."""
    return ((5.0 + length.to(torch.float64)) / 6.0) ** alpha


def _start(model: Any, source: np.ndarray, repeat: int = 1) -> tuple:
    memory, memory_mask, states = model.encode(source)
    if repeat > 1:
        memory = memory.repeat_interleave(repeat, 0)
        memory_mask = memory_mask.repeat_interleave(repeat, 0)
        states = tuple(s.repeat_interleave(repeat, 0) for s in states)
    states, keys = model.decoder_start(memory, memory_mask, states)
    return states, keys, memory.shape[0]


def _forbid(log_probs: torch.Tensor, model: Any) -> torch.Tensor:
    log_probs = log_probs.clone()
    log_probs[:, [model.pad_token, model.start_token]] = -float("inf")
    return log_probs


@torch.no_grad()
def greedy(model: Any, source: np.ndarray, max_length: int,
           alpha: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(tokens (batch, steps), normalised scores (batch,), attention (batch, steps, S))`.

    `tokens` include the end token where one was emitted (then padding)."""
    states, keys, batch = _start(model, source)
    device = model.device
    tokens = torch.full((batch,), model.start_token, dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    score = torch.zeros(batch, dtype=torch.float64, device=device)
    length = torch.zeros(batch, dtype=torch.long, device=device)
    out, weights = [], []
    for _ in range(max_length):
        log_probs, states, att = model.decoder_step(tokens, states, keys)
        log_probs = _forbid(log_probs, model)
        best, token = log_probs.max(-1)
        token = torch.where(finished, model.pad_token, token)
        score = score + torch.where(finished, 0.0, best.to(torch.float64))
        length = length + (~finished).long()
        out.append(token)
        weights.append(att if att is not None else torch.zeros(batch, 0, device=device))
        finished = finished | (token == model.end_token)
        tokens = token
        if bool(finished.all()):
            break
    normalised = score / length_penalty(length, alpha)
    return (torch.stack(out, 1).cpu().numpy(), normalised.cpu().numpy(),
            torch.stack(weights, 1).cpu().numpy())


@torch.no_grad()
def beam_search(model: Any, source: np.ndarray, beam_width: int, max_length: int,
                alpha: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`(best tokens (batch, steps), their normalised scores (batch,))` by beam search."""
    k = beam_width
    states, keys, rows = _start(model, source, repeat=k)
    batch, device = rows // k, model.device
    neg_inf = -float("inf")
    scores = torch.full((batch, k), neg_inf, dtype=torch.float64, device=device)
    scores[:, 0] = 0.0  # one live hypothesis per source to start with
    lengths = torch.zeros(batch, k, dtype=torch.long, device=device)
    finished = torch.zeros(batch, k, dtype=torch.bool, device=device)
    history = torch.zeros(batch, k, 0, dtype=torch.long, device=device)
    tokens = torch.full((rows,), model.start_token, dtype=torch.long, device=device)
    offsets = (torch.arange(batch, device=device) * k).unsqueeze(1)
    for step in range(max_length):
        log_probs, states, _ = model.decoder_step(tokens, states, keys)
        log_probs = _forbid(log_probs, model).to(torch.float64)
        vocab = log_probs.shape[-1]
        log_probs = log_probs.view(batch, k, vocab)
        carry = torch.full((vocab,), neg_inf, dtype=torch.float64, device=device)
        carry[model.pad_token] = 0.0  # a finished hypothesis goes on unchanged
        log_probs = torch.where(finished.unsqueeze(-1), carry, log_probs)
        candidates = scores.unsqueeze(-1) + log_probs  # (batch, k, vocab)
        new_lengths = lengths + (~finished).long()
        ranked = candidates / length_penalty(new_lengths, alpha).unsqueeze(-1)
        _, index = ranked.view(batch, k * vocab).topk(k, dim=1)
        parent, token = index // vocab, index % vocab
        scores = candidates.view(batch, k * vocab).gather(1, index)
        lengths = new_lengths.gather(1, parent)
        finished = finished.gather(1, parent) | (token == model.end_token)
        history = torch.cat([history.gather(1, parent.unsqueeze(-1).expand(-1, -1, step)),
                             token.unsqueeze(-1)], dim=2)
        rows_index = (parent + offsets).view(-1)
        states = tuple(s[rows_index] for s in states)
        tokens = token.view(-1)
        if bool(finished.all()):
            break
    final = scores / length_penalty(lengths, alpha)
    best = final.argmax(1)
    pick = torch.arange(batch, device=device)
    return history[pick, best].cpu().numpy(), final[pick, best].cpu().numpy()


def strip(tokens: np.ndarray, end_token: int, pad_token: int) -> np.ndarray:
    """Replace the end token and everything after it by padding."""
    tokens = np.array(tokens, copy=True)
    ended = np.cumsum(tokens == end_token, axis=1) > 0
    tokens[ended] = pad_token
    return tokens


__all__ = ["beam_search", "greedy", "length_penalty", "strip"]
