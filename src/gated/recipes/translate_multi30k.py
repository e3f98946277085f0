"""German-to-English on Multi30k: an attention LSTM encoder-decoder, BLEU of greedy vs beam.

Data: Multi30k task 1 (Elliott et al. 2016), `multi30k/{train,test_2016_flickr}.{de,en}.gz`
(29,000 training pairs; BLEU on the 1,000 pairs of test_2016_flickr). Tokens: a word-level
vocabulary per language trained offline on the training text with HF `tokenizers` (NFKC,
lower case, `Whitespace` pre-tokenizer, words seen twice (--quick: 4 times); `<pad>`=0, `<s>`=1,
`</s>`=2, `<unk>`=3). Model: `gated.models.Seq2Seq` with a bidirectional LSTM encoder and an
`AttentionCell(LSTMCell)` decoder (Bahdanau score, input feeding), trained with teacher
forcing (Adam, global gradient clipping 1.0, length-bucketed batches). BLEU: `sacrebleu`
corpus BLEU (13a tokenization, lower-cased, as the hypotheses are) of greedy decoding and of
beam search (width 5, GNMT length penalty alpha 0.6) against the raw references, beside a
copy-the-source baseline (the German sentence as the "translation").

Numbers reached (seed 0, torch 2.13 CPU, one thread, on a 2-core VM shared with ~8 other jobs:
wall times inflated, CPU times the process' own), BLEU on test_2016_flickr:

    gated example translate-multi30k --quick --threads 1 --data ../shared/data
    --quick: units 128, embeddings 96, words seen >= 4 times, targets <= 16 tokens (23,738
    pairs), 1.60M parameters, 6 epochs: 368 s wall / 194 s CPU of training, 387 s / 203 s
    in all
        copy the source  BLEU  0.7
        greedy           BLEU 25.6
        beam 5, a=0.6    BLEU 28.3
    the same with --score general (Luong): greedy 12.3, beam 13.7 (attention still nearly
    one-hot on the first word after 6 epochs)

The reference PyTorch tutorials (bentrevett/pytorch-seq2seq, GPU) reach test BLEU 28.3 with a
bi-GRU + Bahdanau attention (20.5M parameters, 10 epochs) and 13.8 without attention. The full
run (no --quick: 10 epochs, units 512, embeddings 256, all pairs, about 11.3M parameters) takes
about 3 s per batch on one thread of this loaded machine, 453 batches an epoch: ~4 CPU hours
in all, or minutes per epoch on a GPU; it was not run on this shared machine.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gated.recipes import data_dir

FILES = ("train.de.gz", "train.en.gz", "test_2016_flickr.de.gz", "test_2016_flickr.en.gz")
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
PAD, START, END = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=None, help="training epochs "
                        "(default 10, --quick 6)")
    parser.add_argument("--units", type=int, default=None, help="decoder state size "
                        "(default 512, --quick 128)")
    parser.add_argument("--embedding-dim", type=int, default=None,
                        help="embedding size (default 256, --quick 96)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pairs per batch (default 64)")
    parser.add_argument("--min-frequency", type=int, default=None,
                        help="keep words seen this often (default 2, --quick 4)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Adam's rate (default 2e-3, --quick 3e-3)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="dropout on embeddings and decoder outputs (default 0.2, --quick 0.1)")
    parser.add_argument("--score", default="bahdanau",
                        help="attention score: general, dot, concat, bahdanau, or none")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's; 1 is faster on a loaded machine)")
    parser.add_argument("--beam-width", type=int, default=5)
    parser.add_argument("--length-penalty", type=float, default=0.6)
    parser.add_argument("--max-train-length", type=int, default=None,
                        help="drop training pairs with longer targets (default: none, "
                        "--quick 16)")


def read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def train_tokenizer(sentences: list[str], min_frequency: int = 2) -> Any:
    """A word-level HF `tokenizers` tokenizer (NFKC, lower case, words and punctuation)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(min_frequency=min_frequency, special_tokens=SPECIALS)
    tokenizer.train_from_iterator(sentences, trainer=trainer)
    return tokenizer


def encode(tokenizer: Any, sentences: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch(sentences)]


def pad(rows: list[list[int]]) -> np.ndarray:
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


class Batches:
    """Length-bucketed teacher-forcing batches `([source, decoder_input], decoder_target)`,
    reshuffled at every pass (a re-iterable stream for `Model.fit`)."""

    def __init__(self, sources: list, targets: list, batch_size: int, seed: int) -> None:
        self.sources, self.targets, self.batch_size = sources, targets, batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.sources) // self.batch_size)

    def __iter__(self):
        n, size = len(self.sources), self.batch_size
        order = self.rng.permutation(n)
        # sort within chunks of 50 batches by target length: little padding, random mixes
        chunk = 50 * size
        order = np.concatenate([sorted(order[i:i + chunk], key=lambda k: len(self.targets[k]))
                                for i in range(0, n, chunk)])
        starts = self.rng.permutation(range(0, n, size))
        for s in starts:
            index = order[s:s + size]
            src = pad([self.sources[k] for k in index])
            tgt = [self.targets[k] for k in index]
            yield [src, pad([[START, *t] for t in tgt])], pad([[*t, END] for t in tgt])


def bleu(hypotheses: list[str], references: list[str]) -> float:
    import sacrebleu

    # the hypotheses are space-separated tokens; 13a splits the references' punctuation alike
    return float(sacrebleu.corpus_bleu(hypotheses, [references], lowercase=True,
                                       force=True).score)


def detokenize(tokenizer: Any, ids: np.ndarray) -> list[str]:
    vocab = {i: w for w, i in tokenizer.get_vocab().items()}
    return [" ".join(vocab[int(t)] for t in row if t != PAD) for row in ids]


def run(args: argparse.Namespace) -> dict:
    from gated.losses import SparseCategoricalCrossentropy
    from gated.models import Seq2Seq
    from gated.optimizers import Adam

    quick = args.quick
    epochs = args.epochs or (6 if quick else 10)
    units = args.units or (128 if quick else 512)
    embedding_dim = args.embedding_dim or (96 if quick else 256)
    max_len = args.max_train_length or (16 if quick else None)
    batch_size = args.batch_size or 64
    min_frequency = args.min_frequency or (4 if quick else 2)
    learning_rate = args.learning_rate or (3e-3 if quick else 2e-3)
    dropout = args.dropout if args.dropout is not None else (0.1 if quick else 0.2)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = data_dir(args, "multi30k", *FILES)
    torch.manual_seed(args.seed)
    t0, cpu0 = time.perf_counter(), time.process_time()
    train_de, train_en = read_lines(folder / FILES[0]), read_lines(folder / FILES[1])
    test_de, test_en = read_lines(folder / FILES[2]), read_lines(folder / FILES[3])
    tok_de = train_tokenizer(train_de, min_frequency)
    tok_en = train_tokenizer(train_en, min_frequency)
    src = [ids + [END] for ids in encode(tok_de, train_de)]
    tgt = encode(tok_en, train_en)
    keep = [k for k in range(len(src)) if max_len is None or len(tgt[k]) <= max_len]
    src, tgt = [src[k] for k in keep], [tgt[k] for k in keep]
    model = Seq2Seq(tok_de.get_vocab_size(), tok_en.get_vocab_size(), units=units,
                    embedding_dim=embedding_dim, cell="lstm",
                    score=None if args.score == "none" else args.score,
                    bidirectional=True, dropout=dropout)
    model.compile(optimizer=Adam(learning_rate=learning_rate, global_clipnorm=1.0),
                  loss=SparseCategoricalCrossentropy(from_logits=True))
    batches = Batches(src, tgt, batch_size, args.seed)
    t_train, cpu_train = time.perf_counter(), time.process_time()
    history = model.fit(batches, epochs=epochs, verbose=args.verbose)
    train_seconds = time.perf_counter() - t_train
    train_cpu_seconds = time.process_time() - cpu_train
    test_src = pad([ids + [END] for ids in encode(tok_de, test_de)])
    limit = max(len(r) for r in encode(tok_en, test_en)) + 10
    results: dict[str, Any] = {}
    t_dec = time.perf_counter()
    greedy_ids, attention = model.generate(test_src, max_length=limit, return_attention=True)
    results["greedy_seconds"] = time.perf_counter() - t_dec
    t_dec = time.perf_counter()
    beam_ids = model.generate(test_src, max_length=limit, beam_width=args.beam_width,
                              length_penalty=args.length_penalty)
    results["beam_seconds"] = time.perf_counter() - t_dec
    greedy_text, beam_text = detokenize(tok_en, greedy_ids), detokenize(tok_en, beam_ids)
    results.update(
        bleu_copy_source=bleu(test_de, test_en), bleu_greedy=bleu(greedy_text, test_en),
        bleu_beam=bleu(beam_text, test_en), beam_width=args.beam_width,
        length_penalty=args.length_penalty, epochs=epochs, units=units,
        embedding_dim=embedding_dim, train_pairs=len(src), batch_size=batch_size,
        min_frequency=min_frequency, threads=torch.get_num_threads(),
        learning_rate=learning_rate, dropout=dropout, max_train_length=max_len,
        score=args.score,
        parameters=model.count_params(),
        final_loss=float(history.history["loss"][-1]), train_seconds=train_seconds,
        train_cpu_seconds=train_cpu_seconds,
        total_seconds=time.perf_counter() - t0, total_cpu_seconds=time.process_time() - cpu0,
        quick=bool(quick),
        reference_bleu={"bi-GRU + Bahdanau (tutorial, GPU)": 28.3, "no attention": 13.8})
    if args.verbose:
        print(f"Multi30k de->en test_2016_flickr, {len(src)} training pairs, "
              f"{results['parameters']:,} parameters, {epochs} epoch(s) in "
              f"{train_seconds:.0f} s ({train_cpu_seconds:.0f} s of CPU)")
        print(f"  {'copy the source':<28} BLEU {results['bleu_copy_source']:5.1f}")
        print(f"  {'greedy':<28} BLEU {results['bleu_greedy']:5.1f}   "
              f"({results['greedy_seconds']:.0f} s)")
        print(f"  {f'beam {args.beam_width}, alpha {args.length_penalty}':<28} BLEU "
              f"{results['bleu_beam']:5.1f}   ({results['beam_seconds']:.0f} s)")
        print("  reference (PyTorch tutorials, GPU): 28.3 with attention, 13.8 without")
        for k in range(2):
            print(f"  de: {test_de[k]}\n  en: {test_en[k]}\n  greedy: {greedy_text[k]}\n"
                  f"  beam:   {beam_text[k]}")
    if args.output:
        _plot(args.output, tok_de, test_src[0], greedy_ids[0], attention[0], tok_en)
    return results


def _plot(output: str, tok_de: Any, source: np.ndarray, ids: np.ndarray,
          weights: np.ndarray, tok_en: Any) -> None:
    try:
        from gated.viz import plot_attention

        de = {i: w for w, i in tok_de.get_vocab().items()}
        en = {i: w for w, i in tok_en.get_vocab().items()}
        src_tokens = [de[int(t)] for t in source if t != PAD]
        out_tokens = [en[int(t)] for t in ids if t != PAD] + ["</s>"]
        plot_attention(weights, src_tokens, out_tokens[:weights.shape[0]],
                       Path(output) / "attention.png", title="test sentence 1")
    except ImportError:  # matplotlib is optional
        pass
