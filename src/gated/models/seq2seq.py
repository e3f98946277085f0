"""`Seq2Seq`: an attention encoder-decoder in the Keras-style API.

    source ids (batch, S) -> Embedding -> encoder RNN (LSTM / GRU / SimpleRNN, optionally
    bidirectional) -> memory (batch, S, units) and final states
    target ids (batch, T) -> Embedding -> RNN(AttentionCell(cell)) from the encoder's states,
    attending over the memory (source padding masked) -> Dense(target_vocab) logits

`fit` trains with teacher forcing: `x = [source, decoder_input]` (the target shifted right,
starting with `start_token`), `y = decoder_target` (ending with `end_token`), both padded with
`pad_token = 0`; the model's logits carry the target's padding mask, so padded steps count
nothing in the loss. `generate` decodes greedily (`beam_width=1`) or with beam search
(`gated.models.decoding`). Token 0 is padding, 1 the start and 2 the end token by default.

Example:
>>> import numpy as np
>>> model = Seq2Seq(source_vocab=20, target_vocab=20, units=16, embedding_dim=8)
>>> model.compile(optimizer="adam",
...               loss=SparseCategoricalCrossentropy(from_logits=True))
>>> src = np.array([[5, 6, 7], [8, 9, 0]])
>>> dec_in, dec_out = np.array([[1, 7, 6], [1, 9, 8]]), np.array([[7, 6, 2], [9, 8, 2]])
>>> _ = model.fit([src, dec_in], dec_out, epochs=1, verbose=0)
>>> model.generate(src, max_length=4, beam_width=2).shape[0]
2
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gated._checks import check_positive_int, check_rate, did_you_mean
from gated.cells import AttentionCell, GRUCell, LSTMCell, SimpleRNNCell
from gated.layer import Layer
from gated.layers import GRU, LSTM, RNN, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from gated.losses import SparseCategoricalCrossentropy  # noqa: F401  (the docstring's loss)
from gated.models import decoding
from gated.models.model import Model

CELLS = {"lstm": (LSTM, LSTMCell), "gru": (GRU, GRUCell), "simple_rnn": (SimpleRNN, SimpleRNNCell)}


class Seq2Seq(Model):
    """An encoder-decoder with attention, trained by teacher forcing, decoded greedily or by beam.

    Args:
        source_vocab: Size of the source vocabulary (ids `0..source_vocab-1`, 0 = padding).
        target_vocab: Size of the target vocabulary.
        units: Size of the decoder's state (and of the encoder's, both directions together).
        embedding_dim: Size of both embeddings.
        cell: `"lstm"` (default), `"gru"` or `"simple_rnn"`, for encoder and decoder.
        score: Attention score of the decoder (`"general"`, `"dot"`, `"concat"`,
            `"bahdanau"`), or None for a plain encoder-decoder without attention.
        input_feeding: Feed the attentional vector into the next decoder step (Luong).
        bidirectional: Bidirectional encoder (`units // 2` per direction; states concatenated).
        dropout: Dropout on the embeddings and the decoder outputs while training.
        pad_token, start_token, end_token: Special target ids (`generate` never emits the
            pad or start token).
        engine: Engine of the recurrent layers (`'auto'`).

    Call arguments:
        inputs: `[source (batch, S), decoder_input (batch, T)]` integer ids.

    Returns:
        Logits `(batch, T, target_vocab)` carrying the decoder input's padding mask.
    """

    def __init__(self, source_vocab: int, target_vocab: int, units: int = 128,
                 embedding_dim: int = 64, cell: str = "lstm", score: str | None = "general",
                 input_feeding: bool = True, bidirectional: bool = False, dropout: float = 0.0,
                 pad_token: int = 0, start_token: int = 1, end_token: int = 2,
                 engine: str = "auto", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = "Seq2Seq"
        if cell not in CELLS:
            raise ValueError(f"Seq2Seq: unknown `cell`={cell!r}.{did_you_mean(cell, CELLS)} "
                             f"Expected one of {list(CELLS)}.")
        self.source_vocab = check_positive_int(source_vocab, "source_vocab", owner)
        self.target_vocab = check_positive_int(target_vocab, "target_vocab", owner)
        if self.source_vocab < 2:
            raise ValueError(f"Seq2Seq: `source_vocab` must hold padding (0) and at least one "
                             f"token, received source_vocab={source_vocab}.")
        self.units = check_positive_int(units, "units", owner)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim", owner)
        if bidirectional and units % 2:
            raise ValueError(f"Seq2Seq(bidirectional=True) needs an even `units` (units // 2 "
                             f"per direction), received units={units}.")
        for name, token in (("pad_token", pad_token), ("start_token", start_token),
                            ("end_token", end_token)):
            if not 0 <= int(token) < self.target_vocab:
                raise ValueError(f"Seq2Seq: `{name}`={token} is not an id of the target "
                                 f"vocabulary [0, {self.target_vocab}).")
        self.cell_name, self.score, self.input_feeding = cell, score, bool(input_feeding)
        self.bidirectional = bool(bidirectional)
        self.dropout_rate = check_rate(dropout, "dropout", owner)
        self.pad_token, self.start_token, self.end_token = int(pad_token), int(start_token), \
            int(end_token)
        self.engine = engine
        layer_cls, cell_cls = CELLS[cell]
        dt = self.dtype
        self.source_embedding = Embedding(self.source_vocab, embedding_dim, mask_zero=True,
                                          dtype=dt)
        self.target_embedding = Embedding(self.target_vocab, embedding_dim, mask_zero=True,
                                          dtype=dt)
        encoder_units = units // 2 if self.bidirectional else units
        encoder = layer_cls(encoder_units, return_sequences=True, return_state=True,
                            engine=engine, dtype=dt)
        self.encoder = Bidirectional(encoder, dtype=dt) if self.bidirectional else encoder
        inner = cell_cls(units, dtype=dt)
        self.decoder_cell = inner if score is None else AttentionCell(
            inner, score=score, input_feeding=input_feeding, dtype=dt)
        self.decoder = RNN(self.decoder_cell, return_sequences=True, engine=engine,
                           dtype=dt)
        self.dropout = Dropout(self.dropout_rate, dtype=dt)
        self.output_layer = Dense(self.target_vocab, dtype=dt)
        with torch.no_grad():  # every size is known: build now (optimizers see the weights)
            self([torch.ones(1, 1, dtype=torch.long),
                  torch.full((1, 1), self.start_token, dtype=torch.long)])

    @property
    def num_inputs(self) -> int:
        return 2

    # ------------------------------------------------------------------ the parts
    def encode(self, source: Any, training: bool = False) -> tuple:
        """`(memory (batch, S, units), memory_mask (batch, S), encoder final states)`."""
        source = torch.as_tensor(source, device=self.device).long()
        if source.ndim != 2:
            raise ValueError(f"Seq2Seq: `source` must be (batch, time) integer ids, received "
                             f"shape {tuple(source.shape)}.")
        memory_mask = source != self.pad_token
        if not bool(memory_mask.any(1).all()):
            raise ValueError("Seq2Seq: a `source` row holds only padding (id "
                             f"{self.pad_token}); every source needs at least one token.")
        emb = self.dropout(self.source_embedding(source), training=training)
        out = self.encoder(emb, mask=memory_mask, training=training)
        memory, states = out[0], list(out[1:])
        if self.bidirectional:
            half = len(states) // 2
            states = [torch.cat([f, b], dim=-1) for f, b in zip(states[:half], states[half:],
                                                                 strict=True)]
        return memory, memory_mask, tuple(states)

    def decoder_start(self, memory: torch.Tensor, memory_mask: torch.Tensor,
                      states: tuple) -> tuple:
        """Bind the memory to the decoder cell; `(initial decoder states, keys or None)`."""
        cell = self.decoder_cell
        if isinstance(cell, AttentionCell):
            cell.bind_memory(memory, memory_mask)
            if not cell.built:
                cell._maybe_build((None, self.embedding_dim))
            return cell.initial_state(states), cell.keys(memory)
        return states, None

    def decoder_step(self, tokens: torch.Tensor, states: tuple,
                     keys: torch.Tensor | None) -> tuple:
        """`(log-probabilities (batch, vocab), new states, attention weights or None)`."""
        x = self.target_embedding(tokens)
        cell = self.decoder_cell
        if isinstance(cell, AttentionCell):
            y, states, alpha = cell.decode_step(x, states, keys)
        else:
            y, states = cell.step(x, states)
            alpha = None
        return torch.log_softmax(self.output_layer(y), dim=-1), states, alpha

    # ------------------------------------------------------------------ call
    def _to_tensor(self, x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return [torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v
                    for v in x]
        return super()._to_tensor(x)

    def _shape_of(self, inputs: Any) -> tuple:
        return tuple(inputs[0].shape) if isinstance(inputs, (list, tuple)) else (0,)

    def call(self, inputs: Any, training: bool = False) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("Seq2Seq takes `[source, decoder_input]` (two integer arrays), "
                             f"received {type(inputs).__name__}.")
        source, target_in = inputs
        memory, memory_mask, states = self.encode(source, training)
        target_in = torch.as_tensor(target_in, device=self.device).long()
        if target_in.ndim != 2 or target_in.shape[0] != memory.shape[0]:
            raise ValueError(f"Seq2Seq: `decoder_input` must be (batch, time) ids with the "
                             f"source's batch size {memory.shape[0]}, received shape "
                             f"{tuple(target_in.shape)}.")
        initial, _ = self.decoder_start(memory, memory_mask, states)
        target_mask = target_in != self.pad_token
        emb = self.dropout(self.target_embedding(target_in), training=training)
        ys = self.decoder(emb, mask=target_mask, training=training, initial_state=list(initial))
        logits = self.output_layer(self.dropout(ys, training=training))
        logits._keras_mask = target_mask
        return logits

    # ------------------------------------------------------------------ decoding
    def generate(self, source: Any, max_length: int = 50, beam_width: int = 1,
                 length_penalty: float = 0.0, batch_size: int = 64,
                 return_scores: bool = False, return_attention: bool = False) -> Any:
        """Translate a batch of sources: greedy (`beam_width=1`) or beam search.

        Args:
            source: `(batch, S)` integer ids, padded with `pad_token`.
            max_length: Most tokens generated per sequence (the end token included).
            beam_width: Hypotheses kept per source (1: greedy decoding).
            length_penalty: GNMT's alpha: hypotheses are ranked by
                `log P / ((5 + length) / 6) ** alpha` (0: plain log-probability).
            batch_size: Sources decoded together.
            return_scores: Also return each output's (length-normalised) log-probability.
            return_attention: Also return the attention weights `(batch, steps, S)`
                (greedy decoding only).

        Returns:
            Integer array `(batch, L)`: the generated ids up to (not including) the end
            token, padded with `pad_token`; and the scores / weights on request.
        """
        max_length = check_positive_int(max_length, "max_length", "Seq2Seq.generate")
        beam_width = check_positive_int(beam_width, "beam_width", "Seq2Seq.generate")
        batch_size = check_positive_int(batch_size, "batch_size", "Seq2Seq.generate")
        if return_attention and (beam_width != 1 or self.score is None):
            raise ValueError("Seq2Seq.generate: `return_attention=True` needs greedy decoding "
                             "(beam_width=1) and an attention decoder (score not None).")
        source = np.asarray(source)
        if source.ndim != 2:
            raise ValueError(f"Seq2Seq.generate: `source` must be (batch, time) integer ids, "
                             f"received shape {source.shape}.")
        self.eval()
        parts, scores, weights = [], [], []
        with torch.no_grad():
            for start in range(0, len(source), batch_size):
                chunk = source[start:start + batch_size]
                if beam_width == 1:
                    tokens, score, alpha = decoding.greedy(self, chunk, max_length,
                                                           length_penalty)
                    weights.append(alpha)
                else:
                    tokens, score = decoding.beam_search(self, chunk, beam_width, max_length,
                                                         length_penalty)
                parts.append(decoding.strip(tokens, self.end_token, self.pad_token))
                scores.append(score)
        width = max(p.shape[1] for p in parts)
        out = np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1])),
                                     constant_values=self.pad_token) for p in parts])
        result = [out]
        if return_scores:
            result.append(np.concatenate(scores))
        if return_attention:
            steps = max(w.shape[1] for w in weights)
            result.append(np.concatenate([np.pad(w, ((0, 0), (0, steps - w.shape[1]), (0, 0)))
                                          for w in weights]))
        return result[0] if len(result) == 1 else tuple(result)

    def get_config(self) -> dict:
        config = Layer.get_config(self)  # Model's own get_config is for functional graphs
        config.update(source_vocab=self.source_vocab, target_vocab=self.target_vocab,
                      units=self.units, embedding_dim=self.embedding_dim, cell=self.cell_name,
                      score=self.score, input_feeding=self.input_feeding,
                      bidirectional=self.bidirectional, dropout=self.dropout_rate,
                      pad_token=self.pad_token, start_token=self.start_token,
                      end_token=self.end_token, engine=self.engine)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Seq2Seq:
        config = {k: v for k, v in config.items() if k != "trainable"}
        return cls(**config)


__all__ = ["Seq2Seq"]
